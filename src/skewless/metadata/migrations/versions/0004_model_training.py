"""What the training workflow binds to a model version: feature vector, request fields,
label, time range, baseline comparison and ONNX export (one JSON column, null for models
registered without a training frame).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("training", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("training")
