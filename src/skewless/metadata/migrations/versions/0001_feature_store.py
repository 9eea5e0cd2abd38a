"""Feature store: definitions with their history, high-water marks, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from skewless.metadata._tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "definitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("project", "kind", "name", "definition_hash",
                            name="uq_definition_version"),
    )
    op.create_table(
        "current_definitions",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("applied_at", UTCDateTime, nullable=False),
        sa.Column("applied_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "high_water_marks",
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("view", sa.String(200), primary_key=True),
        sa.Column("materialized_until", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_project", "audit_log", ["project"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_project", "audit_log")
    op.drop_table("audit_log")
    op.drop_table("high_water_marks")
    op.drop_table("current_definitions")
    op.drop_table("definitions")
