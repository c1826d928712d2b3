"""The store's schema, written once in SQLAlchemy Core: the seeds' financial tables and
what the kernels produce and the surfaces need.

Money is ``BIGINT`` cents in columns named ``*_cents`` (exact on both engines; SQL
reads ``sum(amount_cents) / 100.0``); dates are ``DATE``, times ``TIMESTAMP`` in UTC;
structured details are JSON (``JSONB`` on PostgreSQL). Every table the bulk ingest
writes has a natural key (``NATURAL_KEYS``), its primary key: re-ingesting a file
changes nothing, and a bulk load maintains no index of a surrogate id.

The migrations in ``migrations/versions`` create exactly this schema; a test checks
that Alembic's autogenerate finds no difference between the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                     primary_key=True, autoincrement=True)


def _batch() -> sa.Column:
    # the ingest_batches row that wrote it (no foreign key: a bulk load would check each
    # row against it, which halves PostgreSQL's COPY; the store writes both together)
    return sa.Column("batch_id", sa.BigInteger)


def _when(name: str = "created_at", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else NOW)


# ---- the seeds' financial schema ------------------------------------------------------

ingest_batches = sa.Table(
    "ingest_batches", metadata,
    _id(),
    sa.Column("table_name", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),       # the file (or "frame")
    sa.Column("sha256", sa.String(64)),                  # of the file's bytes, when a file
    sa.Column("rows_read", sa.BigInteger, nullable=False),
    sa.Column("rows_written", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
)

bank_statements = sa.Table(
    "bank_statements", metadata,
    sa.Column("account", sa.String(128), nullable=False, server_default=""),
    sa.Column("transaction_id", sa.String(256), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8)),
    sa.Column("description", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("reconciliation_status", sa.String(32), nullable=False,
              server_default="unmatched"),
    _batch(),
    sa.PrimaryKeyConstraint("account", "transaction_id"),  # the natural key, no surrogate
    sa.Index("ix_bank_statements_date", "account", "date"),
)

expenses = sa.Table(
    "expenses", metadata,
    sa.Column("account", sa.String(128), nullable=False, server_default=""),
    sa.Column("transaction_id", sa.String(256), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(8)),
    sa.Column("description", sa.Text),
    sa.Column("category", sa.String(128)),
    sa.Column("vendor", sa.Text),
    sa.Column("reference", sa.Text),
    sa.Column("reconciliation_status", sa.String(32), nullable=False,
              server_default="unmatched"),
    sa.Column("pov_analysis", JSON),
    _batch(),
    sa.PrimaryKeyConstraint("account", "transaction_id"),  # the natural key, no surrogate
    sa.Index("ix_expenses_date", "account", "date"),
)

pov_analysis = sa.Table(
    "pov_analysis", metadata,
    _id(),
    sa.Column("transaction_id", sa.String(256), nullable=False),
    sa.Column("pov_role", sa.String(32), nullable=False),
    sa.Column("analysis_results", JSON),
    sa.Column("risk_score", sa.Float),
    sa.Column("recommendations", JSON),
    sa.Column("created_by", sa.String(128)),
    _when(),
)

system_config = sa.Table(
    "system_config", metadata,
    sa.Column("config_key", sa.String(128), primary_key=True),
    sa.Column("config_value", JSON),
    _when("updated_at"),
)

audit_logs = sa.Table(
    "audit_logs", metadata,
    _id(),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32)),
    sa.Column("action", sa.String(128), nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.Text, nullable=False),
    sa.Column("details", JSON),
    sa.Column("ip_address", sa.String(64)),
    sa.Column("outcome", sa.String(16), nullable=False, server_default="done"),
    # the entry of the signed, hash-chained audit log (nexus_lab.crypto.AuditLog) that
    # records the same action, when one is in use: its sequence number and hash
    sa.Column("chain_seq", sa.BigInteger),
    sa.Column("chain_hash", sa.String(64)),
    _when(),
    sa.Index("ix_audit_logs_resource", "resource_type", "resource_id"),
)

projects = sa.Table(
    "projects", metadata,
    sa.Column("project_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("budget_cents", sa.BigInteger, nullable=False),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("status", sa.String(32), nullable=False, server_default="active"),
    _batch(),
)

project_milestones = sa.Table(
    "project_milestones", metadata,
    sa.Column("milestone_id", sa.String(128), primary_key=True),
    sa.Column("project_id", sa.String(128), sa.ForeignKey("projects.project_id"),
              nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("due_date", sa.Date),
    sa.Column("planned_amount_cents", sa.BigInteger, nullable=False),
    sa.Column("completed_date", sa.Date),
    sa.Column("status", sa.String(32), nullable=False, server_default="open"),
    _batch(),
)

trading_operations = sa.Table(
    "trading_operations", metadata,
    sa.Column("operation_id", sa.String(128), primary_key=True),
    sa.Column("project_id", sa.String(128), sa.ForeignKey("projects.project_id"),
              nullable=False),
    sa.Column("milestone_id", sa.String(128), sa.ForeignKey("project_milestones.milestone_id")),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("amount_cents", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("description", sa.Text),
    _batch(),
    sa.CheckConstraint("kind IN ('income', 'expense')", name="kind"),
)

# ---- what the kernels produce ---------------------------------------------------------

reconciliation_runs = sa.Table(
    "reconciliation_runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("account", sa.String(128), nullable=False, server_default=""),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("rate", sa.Float),
    sa.Column("bank_rows", sa.BigInteger),
    sa.Column("ledger_rows", sa.BigInteger),
    sa.Column("matched_pairs", sa.BigInteger),
    sa.Column("open_items", sa.BigInteger),
    sa.Column("summary", JSON),
    sa.Column("params", JSON),
    sa.Column("matches_sha256", sa.String(64)),
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
    sa.Column("approved_by", sa.String(128)),
    _when("approved_at", nullable=True),
    sa.Column("approval_note", sa.Text),
    sa.CheckConstraint("status IN ('open', 'approved')", name="status"),
)

reconciliation_matches = sa.Table(
    "reconciliation_matches", metadata,
    _id(),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("reconciliation_runs.run_id"),
              nullable=False),
    sa.Column("expense_id", sa.String(256)),          # the ledger side's transaction_id
    sa.Column("bank_statement_id", sa.String(256)),   # the bank side's transaction_id
    sa.Column("group_id", sa.BigInteger),             # rows of one split share it
    sa.Column("confidence_score", sa.Float),
    sa.Column("matching_algorithm", sa.String(64)),
    sa.Column("amount_cents", sa.BigInteger),
    sa.Column("evidence", JSON),
    sa.Index("ix_reconciliation_matches_run", "run_id"),
    # the review pages a run's matches in these orders and finds rows by either side's id
    sa.Index("ix_reconciliation_matches_confidence", "run_id", "confidence_score"),
    sa.Index("ix_reconciliation_matches_bank", "run_id", "bank_statement_id"),
    sa.Index("ix_reconciliation_matches_ledger", "run_id", "expense_id"),
)

open_items = sa.Table(
    "open_items", metadata,
    _id(),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("reconciliation_runs.run_id"),
              nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("transaction_id", sa.String(256), nullable=False),
    sa.Column("date", sa.Date),
    sa.Column("amount_cents", sa.BigInteger),
    sa.Column("description", sa.Text),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("suggested", sa.String(256)),   # the other side's id the engine suggests
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),
    sa.Column("resolution", sa.String(32)),
    sa.Column("linked_to", sa.String(256)),
    sa.Column("resolved_by", sa.String(128)),
    _when("resolved_at", nullable=True),
    sa.Column("note", sa.Text),
    sa.CheckConstraint("side IN ('bank', 'ledger')", name="side"),
    sa.CheckConstraint("status IN ('open', 'resolved')", name="status"),
    sa.UniqueConstraint("run_id", "side", "transaction_id", name="uq_open_items_key"),
    sa.Index("ix_open_items_review", "run_id", "status", "reason"),
    sa.Index("ix_open_items_dates", "run_id", "status", "date"),
)

fraud_runs = sa.Table(
    "fraud_runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("model", sa.Text),
    sa.Column("rows", sa.BigInteger),
    sa.Column("flagged", sa.BigInteger),
    sa.Column("params", JSON),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
)

fraud_scores = sa.Table(
    "fraud_scores", metadata,
    _id(),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("fraud_runs.run_id"), nullable=False),
    sa.Column("transaction_id", sa.String(256), nullable=False),
    sa.Column("account", sa.String(128)),
    sa.Column("vendor", sa.Text),
    sa.Column("date", sa.DateTime(timezone=True)),
    sa.Column("amount_cents", sa.BigInteger),
    sa.Column("risk_score", sa.Float, nullable=False),
    sa.Column("flags", JSON),
    sa.Column("reasons", sa.Text),
    sa.Column("review_state", sa.String(16), nullable=False, server_default="open"),
    sa.Column("reviewed_by", sa.String(128)),
    _when("reviewed_at", nullable=True),
    sa.Column("review_note", sa.Text),
    sa.Column("case_id", sa.String(128)),
    sa.CheckConstraint("review_state IN ('open', 'cleared', 'escalated', 'none')",
                       name="review_state"),
    sa.UniqueConstraint("run_id", "transaction_id", name="uq_fraud_scores_key"),
    sa.Index("ix_fraud_scores_queue", "review_state", "risk_score"),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", sa.String(128), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, server_default="open"),
    sa.Column("path", sa.Text),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
    _when("updated_at", nullable=True),
)

# ---- people, reports, schedules, notebook runs ----------------------------------------

users = sa.Table(
    "users", metadata,
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("display_name", sa.Text),
    sa.Column("password_hash", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    _when(),
)

roles = sa.Table(
    "roles", metadata,
    sa.Column("role", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("theme", sa.String(64)),
    sa.Column("description", sa.Text),
)

role_permissions = sa.Table(
    "role_permissions", metadata,
    sa.Column("role", sa.String(32), sa.ForeignKey("roles.role"), primary_key=True),
    sa.Column("permission", sa.String(64), primary_key=True),
)

role_assignments = sa.Table(
    "role_assignments", metadata,
    sa.Column("user_id", sa.String(128), sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("role", sa.String(32), sa.ForeignKey("roles.role"), primary_key=True),
    sa.Column("granted_by", sa.String(128), nullable=False),
    _when("granted_at"),
)

reports = sa.Table(
    "reports", metadata,
    sa.Column("report_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("path", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("signature", sa.Text),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
)

schedules = sa.Table(
    "schedules", metadata,
    sa.Column("schedule_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("notebook", sa.Text, nullable=False),
    sa.Column("parameters", JSON),
    sa.Column("cron", sa.String(128)),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    _when("next_run", nullable=True),
    _when("last_run", nullable=True),
    sa.Column("last_status", sa.String(16)),
    sa.Column("last_output", sa.Text),
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
)

notebook_runs = sa.Table(
    "notebook_runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("notebook", sa.Text, nullable=False),
    sa.Column("parameters", JSON),
    sa.Column("status", sa.String(16), nullable=False, server_default="running"),
    _when("started_at"),
    _when("finished_at", nullable=True),
    sa.Column("duration_s", sa.Float),
    sa.Column("output_notebook", sa.Text),
    sa.Column("output_html", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("failing_cell", sa.Integer),      # its index in the notebook as written
    sa.Column("failing_source", sa.Text),       # the first lines of that cell
    sa.Column("created_by", sa.String(128), nullable=False),
    # the schedule (a job definition of jupyter-scheduler) it ran for; no foreign key: a
    # definition made in JupyterLab's own dialog runs without a row in ``schedules``
    sa.Column("schedule_id", sa.String(64)),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
    sa.Index("ix_notebook_runs_schedule", "schedule_id", "started_at"),
)

# ---- audit analytics -----------------------------------------------------------------

examinations = sa.Table(
    "examinations", metadata,
    sa.Column("examination_id", sa.String(64), primary_key=True),
    sa.Column("battery_id", sa.String(64), nullable=False),  # the tests run together
    sa.Column("name", sa.String(64), nullable=False),         # its name in the battery
    sa.Column("position", sa.Integer, nullable=False),        # and its place there
    sa.Column("test", sa.String(64), nullable=False),         # the nexus_lab.examine function
    sa.Column("params", JSON),                                # its arguments, to replay it
    # what it ran on: the ledger ("gl"), its entries ("entries") or the events ("events")
    sa.Column("data", sa.String(16), nullable=False, server_default="gl"),
    sa.Column("data_sha256", sa.String(64), nullable=False),  # of the frame's canonical bytes
    sa.Column("data_source", sa.Text),                        # the file, when one was read
    sa.Column("data_rows", sa.BigInteger, nullable=False),
    sa.Column("period_end", sa.Date),
    sa.Column("verdict", sa.String(32)),
    sa.Column("findings", sa.BigInteger),
    sa.Column("summary", JSON),                               # Examination.summary()
    sa.Column("tables", JSON),                                # {name: {rows, sha256}}
    sa.Column("workpaper", sa.Text),                          # the signed workpaper, if any
    sa.Column("created_by", sa.String(128), nullable=False),
    _when(),
    sa.CheckConstraint("data IN ('gl', 'entries', 'events')", name="data"),
    sa.Index("ix_examinations_battery", "battery_id", "name"),
    sa.Index("ix_examinations_created", "created_at"),
)

# What the bulk ingest may write, and the key that makes a re-ingest change nothing.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "bank_statements": ("account", "transaction_id"),
    "expenses": ("account", "transaction_id"),
    "projects": ("project_id",),
    "project_milestones": ("milestone_id",),
    "trading_operations": ("operation_id",),
}
