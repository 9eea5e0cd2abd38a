"""The metadata tables (SQLAlchemy Core). Alembic migrations create and evolve them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

__all__ = ["UTCDateTime", "audit_log", "current_definitions", "definitions", "high_water_marks",
           "metadata"]


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone: store UTC, re-attach it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:  # astimezone() would silently take it as the machine's zone
            raise ValueError(f"naive datetime {value.isoformat()}: metadata times must be "
                             "timezone-aware, e.g. datetime(..., tzinfo=UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

definitions = sa.Table(
    "definitions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("definition_hash", sa.String(64), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("project", "kind", "name", "definition_hash", name="uq_definition_version"),
)

current_definitions = sa.Table(
    "current_definitions", metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("definition_hash", sa.String(64), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    sa.Column("applied_by", sa.String(200), nullable=False),
)

high_water_marks = sa.Table(
    "high_water_marks", metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("view", sa.String(200), primary_key=True),
    sa.Column("materialized_until", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)
