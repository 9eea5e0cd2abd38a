"""The metadata tables (SQLAlchemy Core). Alembic migrations create and evolve them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

__all__ = ["UTCDateTime", "alias_history", "audit_log", "current_definitions", "definitions",
           "experiments", "high_water_marks", "metadata", "model_aliases", "model_versions",
           "registered_models", "run_artifacts", "run_latest_metrics", "run_metrics",
           "run_params", "run_tags", "runs"]


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

# -- experiment tracking (revision 0002) ---------------------------------------------------------

experiments = sa.Table(
    "experiments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("project", "name", name="uq_experiment_name"),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_time", UTCDateTime, nullable=False),
    sa.Column("end_time", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Index("ix_runs_experiment", "experiment_id", "start_time"),
)


def _run_values(name: str, value: sa.types.TypeEngine[object]) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", value, nullable=False),
    )


run_params = _run_values("run_params", sa.Text())
run_tags = _run_values("run_tags", sa.Text())

run_metrics = sa.Table(
    "run_metrics", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Index("ix_run_metrics_run_key", "run_id", "key", "step"),
)

run_latest_metrics = sa.Table(
    "run_latest_metrics", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Index("ix_run_latest_metrics_key", "key", "value"),
)

run_artifacts = sa.Table(
    "run_artifacts", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

# -- model registry (revision 0002) ---------------------------------------------------------------

registered_models = sa.Table(
    "registered_models", metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

model_versions = sa.Table(
    "model_versions", metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("model_name", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("run_id", sa.String(32)),
    sa.Column("artifact_root", sa.String(1000), nullable=False),
    sa.Column("files", sa.JSON, nullable=False),
    sa.Column("flavor", sa.String(50), nullable=False),
    sa.Column("flavor_spec", sa.JSON, nullable=False),
    sa.Column("signature", sa.JSON),
    sa.Column("input_example", sa.JSON),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Column("python_version", sa.String(50), nullable=False),
    sa.Column("packages", sa.JSON, nullable=False),
    sa.Column("feature_service", sa.String(200)),
    sa.Column("feature_hashes", sa.JSON),
    sa.Column("training_fingerprint", sa.String(64)),
    sa.Column("reference_profile", sa.JSON),
    sa.Column("training", sa.JSON),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("deleted_at", UTCDateTime),
)

model_aliases = sa.Table(
    "model_aliases", metadata,
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("model_name", sa.String(200), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

alias_history = sa.Table(
    "alias_history", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Index("ix_alias_history_alias", "project", "model_name", "alias", "id"),
)
