"""indexes the review pages by

A run's matches are paged by confidence and found by either side's transaction id, and
its open items are counted by status and reason, on runs of a million rows: these
indexes keep each page a range scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_reconciliation_matches_confidence": ("reconciliation_matches",
                                             ["run_id", "confidence_score"]),
    "ix_reconciliation_matches_bank": ("reconciliation_matches", ["run_id", "bank_statement_id"]),
    "ix_reconciliation_matches_ledger": ("reconciliation_matches", ["run_id", "expense_id"]),
    "ix_open_items_review": ("open_items", ["run_id", "status", "reason"]),
    "ix_open_items_dates": ("open_items", ["run_id", "status", "date"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
