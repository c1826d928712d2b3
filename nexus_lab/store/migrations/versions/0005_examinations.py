"""examinations: every audit test run on a general ledger, and who may run them

One row per test of a battery (``nexus_lab.examine.battery``): which test and its place
in the battery, its exact
parameters (JSON, to replay it), the data it ran on (the SHA-256 of the frame's canonical
bytes, its source and row count), its verdict and summary, who ran it and when. The
``examine.run`` permission is the examiner's, the compliance officer's, the auditor's
and the administrator's.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Who may run the audit tests (and record them).
EXAMINERS = ("examiner", "compliance_officer", "auditor", "admin")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "examinations",
        sa.Column("examination_id", sa.String(length=64), nullable=False),
        sa.Column("battery_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("test", sa.String(length=64), nullable=False),
        sa.Column("params", _json(), nullable=True),
        sa.Column("data", sa.String(length=16), server_default="gl", nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=False),
        sa.Column("data_source", sa.Text(), nullable=True),
        sa.Column("data_rows", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("findings", sa.BigInteger(), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.Column("tables", _json(), nullable=True),
        sa.Column("workpaper", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "data IN ('gl', 'entries', 'events')", name=op.f("ck_examinations_data")
        ),
        sa.PrimaryKeyConstraint("examination_id", name=op.f("pk_examinations")),
    )
    with op.batch_alter_table("examinations", schema=None) as batch_op:
        batch_op.create_index("ix_examinations_battery", ["battery_id", "name"], unique=False)
        batch_op.create_index("ix_examinations_created", ["created_at"], unique=False)
    grants = sa.table("role_permissions", sa.column("role"), sa.column("permission"))
    op.bulk_insert(grants, [{"role": role, "permission": "examine.run"} for role in EXAMINERS])


def downgrade() -> None:
    op.execute("DELETE FROM role_permissions WHERE permission = 'examine.run'")
    with op.batch_alter_table("examinations", schema=None) as batch_op:
        batch_op.drop_index("ix_examinations_created")
        batch_op.drop_index("ix_examinations_battery")
    op.drop_table("examinations")
