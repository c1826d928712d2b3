"""notebook runs: every workflow notebook executed, now or on a schedule

One row per run: the notebook and its parameters, running/succeeded/failed, when, its
output notebook and HTML, and for a failure the error and the cell that raised it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notebook_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("notebook", sa.Text(), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=16), server_default="running", nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("output_notebook", sa.Text(), nullable=True),
        sa.Column("output_html", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failing_cell", sa.Integer(), nullable=True),
        sa.Column("failing_source", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("schedule_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')",
            name=op.f("ck_notebook_runs_status"),
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_notebook_runs")),
    )
    with op.batch_alter_table("notebook_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notebook_runs_schedule", ["schedule_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notebook_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_notebook_runs_schedule")
    op.drop_table("notebook_runs")
