"""The store on both engines: the same tests on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError
from nexus_lab.store import StoreError


@pytest.fixture
def store(store_url):
    s = nx.store.connect(store_url)
    s.migrate()
    yield s
    s.close()


def _bank(n: int = 3, start: int = 1) -> pd.DataFrame:
    return pd.DataFrame({
        "transaction_id": [f"B{i}" for i in range(start, start + n)],
        "date": pd.date_range("2025-01-02", periods=n).strftime("%Y-%m-%d"),
        "amount": [f"{-12.5 * i:.2f}" for i in range(start, start + n)],
        "description": [f"payment {i}" for i in range(start, start + n)],
    })


def _latest_revision() -> str:
    versions = Path(nx.store.__file__).parent / "migrations" / "versions"
    return max(p.name.split("_")[0] for p in versions.glob("[0-9]*_*.py"))


def test_migrate_is_idempotent_and_makes_every_table(store):
    assert store.migrate() == store.revision() == _latest_revision()
    names = set(store.tables()["table"])
    for table in ("bank_statements", "expenses", "reconciliation_matches", "pov_analysis",
                  "audit_logs", "system_config", "projects", "project_milestones",
                  "trading_operations", "reconciliation_runs", "open_items", "fraud_scores",
                  "cases", "users", "role_assignments", "reports", "schedules",
                  "notebook_runs", "examinations"):
        assert table in names


def test_schema_and_migrations_agree(store):
    """Alembic's autogenerate finds nothing to change: the migrations make _schema's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), nx.store.metadata)
    assert diff == []


def test_examinations_migration_adds_the_table_and_the_permission_and_goes_back(store):
    """0005 makes ``examinations`` and grants ``examine.run``; downgraded to 0004 both are
    gone, and upgraded again they are back (on both engines)."""
    from alembic import command
    from alembic.config import Config

    grants = store.read("role_permissions", where={"permission": "examine.run"})
    assert sorted(grants["role"]) == ["admin", "auditor", "compliance_officer", "examiner"]
    row = {"examination_id": "e1", "battery_id": "b1", "name": "benford_first", "position": 1,
           "test": "benford", "params": {"column": "amount", "test": "first"},
           "data_sha256": "0" * 64,
           "data_rows": 10, "period_end": "2025-12-31", "verdict": "close",
           "summary": {"rows": 10}, "created_by": "ana"}
    store.append("examinations", pd.DataFrame([row]))
    got = store.read("examinations").iloc[0]
    assert got["params"] == {"column": "amount", "test": "first"} and got["data"] == "gl"
    assert str(got["period_end"])[:10] == "2025-12-31"
    with pytest.raises(Exception, match="ck_examinations_data"):  # the ledger or the events
        store.append("examinations", pd.DataFrame([{**row, "examination_id": "e2",
                                                    "data": "bank"}]))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(nx.store.__file__).parent / "migrations"))
    with store.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert store.revision() == "0004"
    assert "examinations" not in set(store.tables()["table"])
    assert store.read("role_permissions", where={"permission": "examine.run"}).empty
    assert store.migrate() == "0005"
    assert len(store.read("role_permissions", where={"permission": "examine.run"})) == 4


def test_ingest_round_trip_and_reingest_changes_nothing(store):
    bank = _bank(5)
    assert store.ingest("bank_statements", bank, source="bank.csv") == 5
    assert store.ingest("bank_statements", bank, source="bank.csv") == 0
    assert store.ingest("bank_statements", _bank(3, start=4)) == 1  # B4, B5 there already
    got = store.read("bank_statements", order_by="transaction_id")
    assert got["transaction_id"].tolist() == ["B1", "B2", "B3", "B4", "B5", "B6"]
    assert got["amount_cents"].tolist() == [-1250, -2500, -3750, -5000, -6250, -7500]
    assert str(got["date"].dtype).startswith("datetime64")
    assert got["date"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["2025-01-02", "2025-01-03"]
    assert (got["reconciliation_status"] == "unmatched").all()
    batches = store.read("ingest_batches")
    assert batches["rows_written"].tolist() == [5, 0, 1]


def test_hostile_strings_are_bound_not_spliced(store):
    hostile = ["O'Brien \"quoted\"", "x'); DROP TABLE bank_statements; --", "tab\there",
               "new\nline \\N back\\slash", "emoji 💸🏦", "ü" * 1_000_000,
               "end of data?\n\\.\nno", '"', '""', "a,b;c\r\nd", "\\N", "NULL"]
    bank = pd.DataFrame({"transaction_id": [f"H{i:02d}" for i in range(len(hostile))],
                         "date": "2025-02-01", "amount": 1.0, "description": hostile})
    assert store.ingest("bank_statements", bank) == len(hostile)
    got = store.read("bank_statements", order_by="transaction_id")
    assert got["description"].tolist() == hostile
    found = store.query("select transaction_id from bank_statements where description = :d",
                        {"d": hostile[1]})
    assert found["transaction_id"].tolist() == ["H01"]
    assert store.read("bank_statements", where={"description": hostile[1]})[
        "transaction_id"].tolist() == ["H01"]
    assert len(store.read("bank_statements")) == len(hostile)  # the table is still there


def test_nul_bytes_and_bad_values_are_refused_and_nothing_is_written(store):
    bad = _bank(3)
    bad.loc[1, "description"] = "nul\x00byte"
    with pytest.raises(SchemaError, match=r"NUL characters .* rows \[1\]"):
        store.ingest("bank_statements", bad)
    money = _bank(3)
    money.loc[2, "amount"] = "twelve"
    with pytest.raises(SchemaError, match="amount"):
        store.ingest("bank_statements", money)
    twice = pd.concat([_bank(2), _bank(1)], ignore_index=True)
    with pytest.raises(SchemaError, match=r"rows \[0, 2\] repeat a key \(transaction_id .B1.\)"):
        store.ingest("bank_statements", twice)
    with pytest.raises(SchemaError, match="needs the column"):
        store.ingest("bank_statements", _bank(2).drop(columns=["date"]))
    assert len(store.read("bank_statements")) == 0


def test_transaction_is_all_or_nothing(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.ingest("bank_statements", _bank(2))
        store.ingest("expenses", _bank(2))
        raise RuntimeError("fails after both writes")
    assert len(store.read("bank_statements")) == len(store.read("expenses")) == 0
    with store.transaction():
        store.ingest("bank_statements", _bank(2))
        with pytest.raises(RuntimeError), store.transaction():  # a savepoint
            store.ingest("expenses", _bank(2))
            raise RuntimeError("the inner block alone")
    assert len(store.read("bank_statements")) == 2
    assert len(store.read("expenses")) == 0


def test_debit_credit_columns_and_accounts(store):
    df = pd.DataFrame({"Transaction ID": ["X1", "X1"], "Date": ["03/04/2025", "13/04/2025"],
                       "Paid out": ["12,50", ""], "Paid in": ["", "1.000,00"],
                       "Account": ["A", "B"]})
    assert store.ingest("bank_statements", df) == 2  # same id, two accounts
    got = store.read("bank_statements", order_by="account")
    assert got["amount_cents"].tolist() == [-1250, 100000]
    assert got["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-04-03", "2025-04-13"]


def test_missing_table_and_newer_schema_are_clear_errors(store_url):
    s = nx.store.connect(store_url)
    with pytest.raises(StoreError, match=r"no table 'bank_statements'.*migrate"):
        s.ingest("bank_statements", _bank(1))
    s.migrate()
    s.execute("update alembic_version set version_num = '9999'")
    with pytest.raises(StoreError, match=r"revision '9999', newer than this version"):
        nx.store.connect(store_url)
    with pytest.raises(StoreError, match="newer"):
        s.migrate()


def test_unknown_table_and_column(store):
    with pytest.raises(StoreError, match="no table 'bank'"):
        store.read("bank")
    with pytest.raises(SchemaError, match="no column 'amount'"):
        store.read("bank_statements", where={"amount": 1})
    with pytest.raises(StoreError, match="cannot ingest into 'users'"):
        store.ingest("users", pd.DataFrame({"user_id": ["x"]}))


_KILLED_MID_INGEST = textwrap.dedent("""
    import os, signal, sys
    import pandas as pd
    import nexus_lab as nx
    from nexus_lab.store import _ingest

    s = nx.store.connect(sys.argv[1])
    real = _ingest.bulk_insert
    def die_after_writing(conn, t, frame, key):
        real(conn, t, frame, key)   # the rows are in, not committed
        print("written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    _ingest.bulk_insert = die_after_writing
    n = 20_000
    s.ingest("bank_statements", pd.DataFrame({
        "transaction_id": [f"K{i}" for i in range(n)], "date": "2025-03-01",
        "amount": 1.0, "description": "k"}))
""")


def test_a_process_killed_mid_ingest_leaves_the_table_as_before(store, store_url):
    store.ingest("bank_statements", _bank(2))
    proc = subprocess.run([sys.executable, "-c", _KILLED_MID_INGEST, store_url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert "written" in proc.stdout
    assert store.read("bank_statements")["transaction_id"].tolist() == ["B1", "B2"]
    assert len(store.read("ingest_batches")) == 1
    assert store.ingest("bank_statements", _bank(3)) == 1  # the store still works


_INGEST = textwrap.dedent("""
    import sys
    import pandas as pd
    import nexus_lab as nx

    s = nx.store.connect(sys.argv[1])
    n = 30_000
    print(s.ingest("bank_statements", pd.DataFrame({
        "transaction_id": [f"C{i}" for i in range(n)], "date": "2025-03-01",
        "amount": [i / 100 for i in range(n)], "description": "concurrent"})))
""")


def test_two_processes_ingesting_the_same_rows_leave_one_copy(store, store_url):
    procs = [subprocess.Popen([sys.executable, "-c", _INGEST, store_url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    written = sorted(int(out.strip()) for out, _ in outs)
    assert sum(written) == 30_000
    assert store.query("select count(*) as n from bank_statements")["n"].iloc[0] == 30_000


def test_append_keeps_every_kind_of_value(store):
    """Times, floats, JSON, NULLs and text through the bulk path, read back unchanged."""
    with store.transaction():
        store.execute("insert into fraud_runs (run_id, created_by) values ('R1', 'ana')")
    rows = pd.DataFrame({
        "run_id": ["R1"] * 3, "transaction_id": ["T1", "T2", "T3"],
        "account": ["A", None, ""],
        "date": pd.to_datetime(["2025-01-02 03:04:05.123456", None, "2025-12-31 23:59:59"],
                               format="ISO8601"),
        "amount_cents": [-1, 0, 2**53 - 1], "risk_score": [0.1, 1 / 3, 1e-12],
        "flags": [{"a": [1, "x"]}, None, ["q\"uote", "\\", "é"]],
        "reasons": ['line\nbreak, "quoted"', None, "\\."],
    })
    assert store.append("fraud_scores", rows) == 3
    got = store.read("fraud_scores", order_by="transaction_id")
    assert got["account"].tolist() == ["A", None, None]  # blank text is NULL
    assert got["date"].tolist()[::2] == [pd.Timestamp("2025-01-02 03:04:05.123456"),
                                         pd.Timestamp("2025-12-31 23:59:59")]
    assert got["date"].isna().tolist() == [False, True, False]
    assert got["amount_cents"].tolist() == [-1, 0, 2**53 - 1]
    assert got["risk_score"].tolist() == [0.1, 1 / 3, 1e-12]
    assert got["flags"].tolist() == [{"a": [1, "x"]}, None, ["q\"uote", "\\", "é"]]
    assert got["reasons"].tolist() == ['line\nbreak, "quoted"', None, "\\."]
    assert (got["review_state"] == "open").all()
