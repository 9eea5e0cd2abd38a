"""Indexes on (key, value) of run params and tags, so search filters use them — on SQLite
only: a PostgreSQL B-tree entry is limited to about 2.7 kB, and a long param value would then
fail to insert.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_run_params_key_value", "run_params", ["key", "value"])
    op.create_index("ix_run_tags_key_value", "run_tags", ["key", "value"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_run_tags_key_value", "run_tags")
    op.drop_index("ix_run_params_key_value", "run_params")
