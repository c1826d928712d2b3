"""The system of record: SQLite by default, PostgreSQL for teams.

A service, the lowest: every other service may keep its records here.

One interface over two engines and one schema (SQLAlchemy Core 2; the schema versioned
by Alembic migrations shipped in the package): the seeds' financial tables
(``bank_statements``, ``expenses``, ``reconciliation_matches``, ``pov_analysis``,
``audit_logs``, ``system_config``, ``projects``, ``project_milestones``,
``trading_operations``), what the kernels produce (``reconciliation_runs`` with their
``reconciliation_matches`` and ``open_items``; ``fraud_runs`` and ``fraud_scores``
with their review state; ``cases``), and what the surfaces need (``users``, ``roles``,
``role_permissions``, ``role_assignments``, ``reports``, ``schedules``,
``notebook_runs``, ``ingest_batches``), and the audit tests run on general ledgers
(``examinations``).

The store at ``NEXUS_LAB_STORE`` is used when no URL is given, else ``nexus.db`` in
the user's data folder (:func:`nexus_lab.config.store_url`). Money is kept as integer
cents (``amount_cents``), dates as dates.

Examples
--------
>>> import tempfile, pathlib
>>> import nexus_lab as nx
>>> store = nx.store.connect(f"sqlite:///{tempfile.mkdtemp()}/books.db")
>>> store.migrate()
'0005'
>>> store.read("roles", columns=["role"])["role"].tolist()[:3]
['admin', 'auditor', 'compliance_officer']
>>> with store.transaction():
...     n = store.execute("insert into system_config (config_key, config_value) "
...                       "values (:k, :v)", {"k": "fiscal_year_start", "v": '"04-01"'})
>>> store.query("select config_key from system_config")["config_key"].tolist()
['fiscal_year_start']
"""

from nexus_lab.store._schema import NATURAL_KEYS, metadata
from nexus_lab.store._store import Store, StoreError, connect

__all__ = ["NATURAL_KEYS", "Store", "StoreError", "connect", "metadata"]
