"""The system of record from the command line, as a new user meets it, on both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nexus_lab as nx

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def _cli(*args, actor: str | None = None, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    env = {**os.environ}
    if actor:
        env["NEXUS_LAB_ACTOR"] = actor
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def test_ingest_reconcile_approve_as_examiner_refused_as_judge(store_url, tmp_path):
    bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=11)
    bank.to_csv(tmp_path / "bank.csv", index=False)
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    store = ("--store", store_url)
    for name, role in (("boss", "admin"), ("ana", "examiner"), ("jo", "judge")):
        done = _cli("users", "add", name, "--role", role, "--no-password", *store, actor="boss",
                    cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    done = _cli("ingest", "bank.csv", "--to", store_url, actor="ana", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{len(bank):,} of {len(bank):,} rows written to bank_statements" in done.stdout
    again = _cli("ingest", "bank.csv", "--to", store_url, actor="ana", cwd=tmp_path)
    assert f"0 of {len(bank):,} rows written" in again.stdout
    done = _cli("ingest", "ledger.csv", "--table", "expenses", "--to", store_url, actor="jo",
                cwd=tmp_path)
    assert done.returncode == 77 and done.stderr.startswith("refused: jo (judge) may not "
                                                            "financial.ingest")
    done = _cli("ingest", "ledger.csv", "--table", "expenses", "--to", store_url, actor="ana",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    done = _cli("reconcile", "--out", "res", "--no-track", *store, actor="ana", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "against expenses of" in done.stdout
    run_id = done.stdout.split("as run ")[1].split(";")[0]
    assert (tmp_path / "res" / "report.html").exists()

    refused = _cli("review", "approve", run_id, *store, actor="jo", cwd=tmp_path)
    assert refused.returncode == 77, refused.stderr
    assert "jo (judge) may not reconciliation.approve" in refused.stderr
    items = _cli("review", "items", run_id, *store, actor="ana", cwd=tmp_path)
    first = items.stdout.splitlines()[1].split()[0]
    done = _cli("review", "resolve", first, "timing", "--note", "posts next month", *store,
                actor="ana", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = _cli("review", "approve", run_id, "--note", "March closed", *store, actor="ana",
                cwd=tmp_path)
    assert done.returncode == 0 and "approved by ana" in done.stdout, done.stderr

    s = nx.store.connect(store_url)
    run = s.read("reconciliation_runs").iloc[0]
    assert (run["status"], run["approved_by"], run["created_by"]) == ("approved", "ana", "ana")
    trail = s.read("audit_logs", order_by="id")
    assert trail.loc[trail["outcome"] == "refused", "user_id"].tolist() == ["jo", "jo"]
    done_actions = trail.loc[trail["outcome"] == "done", ["user_id", "action"]].values.tolist()
    assert ["ana", "reconciliation.approved"] in done_actions
    assert ["ana", "open_item.resolved"] in done_actions
    assert ["ana", "data.ingested"] in done_actions


def test_a_refused_connection_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _cli("store", "tables", "--store", f"postgresql://u:secret@127.0.0.1:{port}/db",
                cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: the store at postgresql://u:***@127.0.0.1")
    assert "secret" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["reconcile", "bank.csv", "--out", "r"]])
def test_one_file_without_the_other_is_refused(args, tmp_path):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and "give both files" in done.stderr


def test_a_reader_that_goes_away_stops_the_command_quietly(tmp_path):
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    proc = subprocess.Popen([*cmd, "users", "roles", "--store", str(tmp_path / "x.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # as `| head` does once it has what it wants
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "internal error" not in err


def test_a_store_with_several_accounts_asks_for_one(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    bank, ledger, _ = nx.datasets.synth_reconciliation(60, seed=2)
    s.ingest("bank_statements", bank.assign(account="A-1"))
    s.ingest("bank_statements", bank.assign(account="B-2"))
    s.ingest("expenses", ledger.assign(account="GL-1000"))
    done = _cli("reconcile", "--store", tmp_path / "x.db", "--out", "r", "--no-track",
                cwd=tmp_path)
    assert done.returncode == 2
    assert "holds 2 bank accounts ('A-1', 'B-2')" in done.stderr and "--account" in done.stderr
    done = _cli("reconcile", "--store", tmp_path / "x.db", "--account", "B-2", "--out", "r",
                "--no-track", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"bank_statements of {tmp_path / 'x.db'} (account B-2) ({len(bank)} rows)" in (
        done.stdout)


def test_a_run_with_no_match_is_kept_and_bad_periods_are_named(tmp_path):
    (tmp_path / "q.csv").write_text("transaction_id,date,amount\nQ1,2025-01-01,10.00\n")
    (tmp_path / "l.csv").write_text("transaction_id,date,amount\nL1,2025-03-01,99.00\n")
    store = ("--store", tmp_path / "s.db")
    assert _cli("ingest", "q.csv", "--account", "X", "--to", tmp_path / "s.db",
                cwd=tmp_path).returncode == 0
    assert _cli("ingest", "l.csv", "--table", "expenses", "--to", tmp_path / "s.db",
                cwd=tmp_path).returncode == 0
    done = _cli("reconcile", *store, "--account", "X", "--out", "r", "--no-track", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 matched pairs" in done.stdout and "as run" in done.stdout
    for flags, says in ((["--from", "2025-13-45"], "'2025-13-45' is not a date"),
                        (["--from", "2025-12-01", "--to", "2025-01-01"], "ends (2025-01-01) "
                         "before it starts")):
        done = _cli("reconcile", *store, "--account", "X", *flags, "--out", "r2",
                    "--no-track", cwd=tmp_path)
        assert done.returncode == 2 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_ingest_of_several_files_is_all_or_nothing(tmp_path):
    bank, _, _ = nx.datasets.synth_reconciliation(50, seed=1)
    bank.to_csv(tmp_path / "a.csv", index=False)
    done = _cli("ingest", "a.csv", "missing.csv", "--to", tmp_path / "s.db", cwd=tmp_path)
    assert done.returncode == 2 and "missing.csv" in done.stderr
    assert nx.store.connect(tmp_path / "s.db").read("bank_statements").empty
    renamed = bank.rename(columns={"amount": "Amt", "date": "Posted"})
    renamed.to_csv(tmp_path / "b.csv", index=False)
    done = _cli("ingest", "b.csv", "--columns", "amount=Amt,date=Posted", "--to",
                tmp_path / "s.db", cwd=tmp_path)
    assert done.returncode == 0 and f"{len(bank)} of {len(bank)} rows" in done.stdout, (
        done.stderr)


def test_stores_in_memory_or_in_missing_folders_are_refused(tmp_path):
    for url, says in (("sqlite://", "store in memory"),
                      (f"sqlite:///{tmp_path}/no/such/folder/x.db", "does not exist")):
        done = _cli("store", "tables", "--store", url, cwd=tmp_path)
        assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "no").exists()


def test_reading_needs_a_role_and_unknown_runs_are_named(tmp_path):
    store = ("--store", tmp_path / "s.db")
    assert _cli("users", "add", "boss", "--role", "admin", "--no-password", *store,
                cwd=tmp_path).returncode == 0
    for args in (["review", "runs"], ["users", "list"]):
        done = _cli(*args, *store, actor="stranger", cwd=tmp_path)
        assert done.returncode == 77, (args, done.stderr)
    done = _cli("review", "items", "nope", *store, actor="boss", cwd=tmp_path)
    assert done.returncode == 2 and "no reconciliation run 'nope'" in done.stderr


def test_a_bank_statement_file_is_not_taken_as_the_books(tmp_path):
    ofx = Path(__file__).resolve().parents[2] / "data" / "bankfiles" / "statement.ofx"
    done = _cli("ingest", ofx, "--table", "expenses", "--to", tmp_path / "s.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "statement.ofx is a bank statement (ofx): ingest it into bank_statements" in (
        done.stderr)
    done = _cli("ingest", ofx, "--to", tmp_path / "s.db", cwd=tmp_path)
    assert done.returncode == 0 and "48 of 48 rows written to bank_statements" in done.stdout
