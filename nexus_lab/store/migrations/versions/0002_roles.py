"""the points of view and their permissions, as data

The seeds' six points of view plus an administrator, and what each may do. A change
to the matrix is a new revision, so the store records when permissions changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READS = ("financial.read", "evidence.read", "case.read", "strategic.read", "audit.read",
         "models.read", "reports.read")

ROLES = [  # role, title, theme, description
    ("examiner", "Financial examiner", "financial professional",
     "reads all financial data, runs reconciliations and fraud reviews, approves them"),
    ("prosecutor", "Prosecutor", "modern financial",
     "reads legal evidence, writes case documents, collects evidence, approves legal actions"),
    ("judge", "Judge", "modern financial",
     "reads all data, writes judicial decisions, reviews cases, approves final judgments"),
    ("executive", "Executive", "executive dashboard",
     "reads strategic data, writes strategic plans, assesses risk, approves major decisions"),
    ("compliance_officer", "Compliance officer", "compliance & audit",
     "reads financial data and audit trails, verifies compliance, writes compliance reports"),
    ("auditor", "Auditor", "compliance & audit",
     "reads everything and verifies the audit trail; changes nothing"),
    ("admin", "Administrator", "financial professional",
     "manages users, roles, schedules and model promotion; approves no finding"),
]

PERMISSIONS = {
    "examiner": ("financial.read", "financial.ingest", "reconciliation.run",
                 "reconciliation.resolve", "reconciliation.approve", "analysis.write",
                 "fraud.run", "fraud.review", "case.read", "models.read", "reports.read",
                 "schedules.run"),
    "prosecutor": ("evidence.read", "case.read", "case.write", "evidence.collect",
                   "legal.approve", "reports.read"),
    "judge": (*READS, "judgment.write", "case.review", "judgment.approve"),
    "executive": ("strategic.read", "strategic.write", "risk.assess", "decision.approve",
                  "reports.read"),
    "compliance_officer": ("financial.read", "case.read", "audit.read", "audit.verify",
                           "models.read", "reports.read", "compliance.report"),
    "auditor": (*READS, "audit.verify"),
    "admin": (*READS, "users.manage", "schedules.manage", "schedules.run", "models.promote"),
}


def upgrade() -> None:
    roles = sa.table("roles", sa.column("role"), sa.column("title"), sa.column("theme"),
                     sa.column("description"))
    grants = sa.table("role_permissions", sa.column("role"), sa.column("permission"))
    op.bulk_insert(roles, [dict(zip(("role", "title", "theme", "description"), r,
                                    strict=True)) for r in ROLES])
    op.bulk_insert(grants, [{"role": role, "permission": p}
                            for role, perms in PERMISSIONS.items() for p in perms])


def downgrade() -> None:
    op.execute("DELETE FROM role_permissions")
    op.execute("DELETE FROM roles")
