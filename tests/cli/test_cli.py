"""``nexus-lab`` as a user runs it: a real process on real files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.cli import main
from nexus_lab.files import read_table
from nexus_lab.reports import OUTPUT_FILES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script (or ``python -m nexus_lab.cli`` without one)."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def assert_outputs_match(out: Path, res) -> None:
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        OUTPUT_FILES
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out / "matches.parquet"), res.matches)
    for stem, frame in (("unmatched_bank", res.unmatched_bank),
                        ("unmatched_ledger", res.unmatched_ledger)):
        back = pd.read_parquet(out / f"{stem}.parquet")
        assert back["transaction_id"].tolist() == frame["transaction_id"].tolist()
        assert back["reason"].tolist() == frame["reason"].tolist()
        assert len(pd.read_csv(out / f"{stem}.csv")) == len(frame)
    csv = pd.read_csv(out / "matches.csv")
    assert csv["bank_id"].astype(str).tolist() == res.matches["bank_id"].astype(str).tolist()
    summary = json.loads((out / "summary.json").read_text())
    want = {k: v for k, v in res.summary().items() if k != "seconds"}
    got = {k: v for k, v in summary["summary"].items() if k != "seconds"}
    assert got == want
    assert "<script" not in (out / "report.html").read_text()


def test_reconcile_csv_with_tracking(tables, tmp_path, write_tables, tracking_uri):
    from mlflow import MlflowClient

    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    proc = cli("reconcile", bank_path, ledger_path, "--out", tmp_path / "out", "--device", "cpu",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "of the bank amount reconciled" in proc.stdout
    res = nx.reconcile(read_table(bank_path, name="bank"), read_table(ledger_path, name="ledger"),
                       device="cpu")
    assert_outputs_match(tmp_path / "out", res)
    assert f"{res.rate:.1%}" in proc.stdout

    run_id = re.search(r"MLflow run ([0-9a-f]{32})", proc.stdout).group(1)
    run = MlflowClient(tracking_uri=tracking_uri).get_run(run_id)
    assert run.data.tags["nexus_lab.source"] == "cli"
    assert run.data.params["bank_file"] == "bank.csv"
    assert run.data.params["device_requested"] == "cpu"
    assert run.data.metrics["matched_pairs"] == len(res.matches)
    assert not (tmp_path / "experiments").exists()  # MLFLOW_TRACKING_URI was used


@pytest.mark.parametrize("ext", ["parquet", "xlsx"])
def test_reconcile_parquet_and_excel(tables, tmp_path, write_tables, ext):
    bank, ledger, _ = tables
    bank_path, ledger_path = write_tables(bank, ledger, tmp_path / "in", ext)
    proc = cli("reconcile", bank_path, ledger_path, "--out", tmp_path / "out", "--device", "cpu",
               "--no-track", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "MLflow" not in proc.stdout
    assert not (tmp_path / "experiments").exists()
    res = nx.reconcile(read_table(bank_path, name="bank"), read_table(ledger_path, name="ledger"),
                       device="cpu")
    assert_outputs_match(tmp_path / "out", res)
    # the same links as the kernel finds on the frames in memory
    direct = nx.reconcile(bank, ledger, device="cpu").matches
    assert set(zip(res.matches.bank_id, res.matches.ledger_id)) == set(
        zip(direct.bank_id, direct.ledger_id)
    )


def test_column_mappings_and_settings(tables, tmp_path, write_tables):
    bank, ledger, _ = tables
    bank = bank.rename(columns={"amount": "Amt", "date": "Posted", "transaction_id": "Id"})
    ledger = ledger.rename(columns={"description": "Memo"})
    bank_path, ledger_path = write_tables(bank, ledger, tmp_path / "in", "csv")
    proc = cli("reconcile", bank_path, ledger_path, "--out", tmp_path / "out", "--device", "cpu",
               "--bank-columns", "amount=Amt,date=Posted,transaction_id=Id",
               "--ledger-columns", "description=Memo", "--amount-tolerance", "2.5",
               "--date-window", "5", "--no-track", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["params"]["amount_tolerance"] == 2.5
    assert summary["params"]["date_window"] == 5
    assert summary["settings"]["bank_columns"] == {
        "amount": "Amt", "date": "Posted", "transaction_id": "Id"
    }
    res = nx.reconcile(*tables[:2], amount_tolerance=2.5, date_window=5, device="cpu")
    assert summary["summary"]["matched_pairs"] == len(res.matches)


def _bad(tmp_path: Path, *args) -> subprocess.CompletedProcess:
    out = tmp_path / "nested" / "out"
    proc = cli("reconcile", *args, "--out", out, "--device", "cpu", "--no-track", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "nested").exists()  # no output folder, not even its parent
    assert proc.stdout == ""
    return proc


def test_bad_inputs_exit_2_and_write_nothing(tables, tmp_path, write_tables):
    bank, ledger, _ = tables
    bank_path, ledger_path = write_tables(bank, ledger, tmp_path / "in", "csv")
    err = _bad(tmp_path, tmp_path / "in" / "nope.csv", ledger_path).stderr
    assert "bank: no such file" in err and "bank.csv" in err  # it lists the tables there
    (tmp_path / "in" / "bank.json").write_text("{}")
    assert "unknown file type '.json'" in _bad(tmp_path, tmp_path / "in" / "bank.json",
                                               ledger_path).stderr
    wrong = tmp_path / "in" / "wrong.csv"
    bank.rename(columns={"amount": "Amt"}).to_csv(wrong, index=False)
    err = _bad(tmp_path, wrong, ledger_path).stderr
    assert "bank has no column 'amount'" in err and "'Amt'" in err
    dates = tmp_path / "in" / "dates.csv"
    bad_dates = bank.assign(date=bank["date"].dt.strftime("%Y-%m-%d"))
    bad_dates.loc[42, "date"] = "31/02/2025?"
    bad_dates.to_csv(dates, index=False)
    err = _bad(tmp_path, bank_path, dates).stderr  # as the ledger
    assert "ledger.date: text that is not a date" in err and "row 42" in err
    assert "line 44" in err
    err = _bad(tmp_path, bank_path, ledger_path, "--bank-columns", "amount").stderr
    assert "--bank-columns" in err and "amount=Amt" in err
    assert "must be a finite number" in _bad(tmp_path, bank_path, ledger_path,
                                      "--amount-tolerance", "nan").stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "in"]
    # an output folder holding someone's files is refused before any work, and left alone
    before = sorted(p.name for p in (tmp_path / "in").iterdir())
    proc = cli("reconcile", bank_path, ledger_path, "--out", tmp_path / "in", "--no-track",
               cwd=tmp_path)
    assert proc.returncode == 2 and "already holds files that nexus-lab did not write" in (
        proc.stderr
    )
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == before


def test_failed_tracking_writes_nothing(tables, tmp_path, write_tables):
    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    (tmp_path / "blocker").write_text("")
    proc = cli("reconcile", bank_path, ledger_path, "--out", tmp_path / "out", "--device", "cpu",
               cwd=tmp_path, env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/blocker/m.db"})
    assert proc.returncode == 2 and "could not log the run to MLflow" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_one_bad_amount_deep_in_a_big_csv(tmp_path, tables, write_tables):
    n, bad = 200_000, 150_001
    rng = np.random.default_rng(0)
    big = pd.DataFrame({
        "transaction_id": [f"B{i:07d}" for i in range(n)],
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        "amount": np.round(rng.uniform(1, 500, n), 2),
        "description": "POS DEBIT ACME",
    })
    big["amount"] = big["amount"].map("{:.2f}".format)
    big.loc[bad, "amount"] = "12.3O"  # a letter O keyed for a zero
    bank_path = tmp_path / "big.csv"
    big.to_csv(bank_path, index=False)
    _, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    err = _bad(tmp_path, bank_path, ledger_path).stderr
    assert "bank.amount: text that is not an amount (['12.3O'])" in err
    assert f"row {bad} (id 'B{bad:07d}')" in err
    assert f"big.csv: line {bad + 2:,}" in err


def test_version_and_usage(tmp_path):
    proc = cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"nexus-lab {nx.__version__}"
    proc = cli(cwd=tmp_path)
    assert proc.returncode == 2 and "usage: nexus-lab" in proc.stderr


def test_data_sample_is_deterministic_and_matches_the_bundle(tmp_path, capsys):
    proc = cli("data", "sample", "--n", "300", "--seed", "7", "--out", tmp_path / "a",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert main(["data", "sample", "--n", "300", "--seed", "7", "--out",
                 str(tmp_path / "b")]) == 0
    for name in ("bank.csv", "ledger.csv", "truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    bank, _, _ = nx.data.synth_reconciliation(300, seed=7)
    back = read_table(tmp_path / "a" / "bank.csv", name="bank")
    assert back["transaction_id"].tolist() == bank["transaction_id"].tolist()
    # the bundled sample data is what `nexus-lab data sample` makes with its defaults
    assert main(["data", "sample", "--out", str(tmp_path / "c")]) == 0
    for name in ("bank.csv", "ledger.csv", "truth.csv", "transactions.csv", "interactions.csv",
                 "gl.csv", "erp_events.csv"):
        assert (tmp_path / "c" / name).read_bytes() == (ROOT / "data" / name).read_bytes(), (
            f"data/{name} is stale: regenerate it with `nexus-lab data sample`"
        )
    assert "wrote" in capsys.readouterr().out


def test_demo_runs_on_the_bundled_data(tmp_path, tracking_uri):
    import nexus_lab as nx

    proc = cli("demo", "--out", tmp_path / "demo", "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout and str(tmp_path / "demo" / "report.html") in proc.stdout
    assert "against the planted truth: one-to-one F1" in proc.stdout
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["inputs"]["bank"]["name"] == "bank.csv"
    assert summary["summary"]["rate"] > 0.9
    assert "MLflow run" in proc.stdout
    # the system of record: ingested twice (once written), reconciled from the store, the
    # judge refused, the examiner's approval kept
    assert "ingested again: 0 rows written" in proc.stdout
    assert "jo (judge) tried to approve it: refused (jo (judge) may not" in proc.stdout
    books = nx.store.connect(tmp_path / "demo" / "store" / "books.db")
    run = books.read("reconciliation_runs").iloc[0]
    assert (run["status"], run["approved_by"], run["created_by"]) == ("approved", "ana", "ana")
    assert books.read("audit_logs", where={"outcome": "refused"})["user_id"].tolist() == ["jo"]
    books.close()
    # the audit tests on the sample general ledger, recorded by the examiner, the workpaper
    # signed
    examined = json.loads((tmp_path / "demo" / "examine" / "summary.json").read_text())
    assert examined["created_by"] == "ana" and examined["data"]["gl"]["rows"] == len(
        pd.read_csv(ROOT / "data" / "gl.csv"))
    assert "sod" in examined["records"] and examined["with_findings"]
    assert (f"audit analytics: ana (examiner) ran {examined['tests']} audit tests on gl.csv"
            in proc.stdout)
    books = nx.store.connect(tmp_path / "demo" / "store" / "books.db")
    rows = books.read("examinations")
    assert sorted(rows["examination_id"]) == sorted(examined["records"].values())
    assert set(rows["created_by"]) == {"ana"}
    books.close()
    paper = tmp_path / "demo" / "examine" / "workpaper.html"
    check = cli("verify", paper, "--sig", f"{paper}.sig", "--pub",
                next(paper.parent.glob("*.nxpub")), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    # the fraud step: trained, measured on held-out weeks, registered, scored
    assert "Trained a fraud detector with labels" in proc.stdout
    assert "held out: AUPRC" in proc.stdout and "nexus-fraud version 1" in proc.stdout
    fraud = json.loads((tmp_path / "demo" / "fraud" / "summary.json").read_text())
    assert fraud["metrics"]["holdout_auprc"] > 0.5
    assert (tmp_path / "demo" / "fraud" / "report.html").exists()
    books = nx.store.connect(tmp_path / "demo" / "store" / "books.db")
    kept = books.read("fraud_scores")
    assert set(kept["review_state"]) == {"open", "none", "escalated"}
    assert len(kept) == 1000 and (kept["review_state"] == "escalated").sum() == 1
    assert kept["amount_cents"].notna().all()
    # ... and its riskiest flag escalated into a case the workbench can verify
    case = kept.loc[kept["review_state"] == "escalated", "case_id"].iloc[0]
    assert f"escalated its riskiest flag into case {case}" in proc.stdout
    with nx.auth.acting_as("lead"):
        assert nx.cases.verify_case(case, store=books)["verdict"] == "PASS"
    books.close()
    # the recommender step: the self-tuning hybrid, measured, registered, every user's list
    assert "Trained a hybrid recommender" in proc.stdout
    assert "nexus-recommender version 1 is now the champion" in proc.stdout
    metrics = json.loads((tmp_path / "demo" / "recommend" / "metrics.json").read_text())
    assert metrics["test_ndcg"] > 0.1 and metrics["blend"]
    recs = pd.read_csv(tmp_path / "demo" / "recommend" / "recommendations.csv")
    assert recs.groupby("user_id").size().eq(10).all()
    # the compression step: a lossless container of the transactions, searchable item codes
    from nexus_lab.compress import decompress_frame

    assert "lossless" in proc.stdout and "16-byte" in proc.stdout
    packed = decompress_frame((tmp_path / "demo" / "compress" / "transactions.nxcf").read_bytes())
    assert len(packed) == len(pd.read_csv(ROOT / "data" / "transactions.csv"))
    facts = json.loads((tmp_path / "demo" / "compress" / "summary.json").read_text())
    assert facts["transactions"]["container_bytes"] < facts["transactions"]["parquet_zstd_bytes"]
    assert facts["item_embeddings"]["similar_items_recall_at_11"] > 0.8
    # the provenance step: every state change in one signed, anchored audit log; the case
    # store verifies from its files alone; the report's signature checks with FIPS 204
    prov = tmp_path / "demo" / "provenance"
    examiner = nx.crypto.PublicKey.load(prov / "keys" / "examiner.nxpub")
    trail = nx.crypto.AuditLog(prov / "audit.db")
    assert trail.verify(examiner).anchored == 1
    # the witness named is the one kept with the log, not the live log's (removed)
    witness = str(prov / "audit.db.witness")
    assert f"witnessed by {witness}" in proc.stdout and "nexus-demo-audit-" not in proc.stdout
    assert json.loads((prov / "summary.json").read_text())["audit"]["witnesses"] == [witness]
    tests = len(examined["records"])
    assert list(trail.entries()["action"]) == [
        *["user.added"] * 3, *["data.ingested"] * 4, "reconciliation.saved",
        "permission.denied", "reconciliation.approved", "report.signed",  # the store's step
        "report.signed", "report.signed", *["examine.ran"] * tests,  # the audit tests
        "model.registered", "model.promoted", "fraud.scored",
        "case.opened", "fraud.flag_escalated", "model.registered",  # the demo's case
        "model.promoted", "reconciliation.approved", "fraud.flag_cleared"]
    trail.close()
    assert "case store intact: 1 cases, 2 evidence items" in proc.stdout
    assert nx.cases.verify(prov / "cases", public=examiner).ok
    sig = nx.crypto.Signature.from_bytes((prov / "report.html.sig").read_bytes())
    assert nx.crypto.verify(tmp_path / "demo" / "report.html", sig, examiner)
    kp = nx.crypto.load_keypair(prov / "keys" / "judge.nxkey", password="nexus-demo")
    store = nx.cases.CaseStore(prov / "cases")
    flagged = store.case("DEMO-1").evidence()
    assert flagged["name"].tolist() == ["flagged-transactions.parquet",
                                        "reconciliation-report.html"]
    sealed = next((prov / "cases" / "evidence").rglob("E-0001.nxs"))
    assert len(nx.crypto.open_sealed(sealed, kp)) == 50
    store.close()
    shutil.rmtree(tmp_path / "demo")


def test_rerun_keeps_the_files_a_person_added(tables, tmp_path, write_tables):
    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    out = tmp_path / "out"
    args = ("reconcile", bank_path, ledger_path, "--out", out, "--device", "cpu", "--no-track")
    assert cli(*args, cwd=tmp_path).returncode == 0
    (out / "notes.txt").write_text("reviewed with the controller")
    (out / "report.html.sig").write_bytes(b"signature")
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "notes.txt").read_text() == "reviewed with the controller"
    assert (out / "report.html.sig").read_bytes() == b"signature"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [*OUTPUT_FILES, "notes.txt", "report.html.sig"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_output_folder_that_cannot_be_renamed_exits_2(tables, tmp_path, write_tables):
    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "none", str(out)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        proc = cli("reconcile", bank_path, ledger_path, "--out", out, "--device", "cpu",
                   "--no-track", cwd=tmp_path)
    finally:
        subprocess.run(["umount", str(out)], check=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: '{out}' is a mount point")
    assert "choose another output folder" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def _start(*args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.Popen([*cmd, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def _wait_for(proc: subprocess.Popen, ready, what: str) -> None:
    """Poll until ``ready()`` holds while ``proc`` still runs."""
    import time

    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended before {what}: {proc.returncode} {out} {err}")
        time.sleep(0.002)


def _run_statuses(db: Path) -> list[str]:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as con:
            return [row[0] for row in con.execute("select status from runs")]
    except sqlite3.OperationalError:  # locked by the writer for a moment
        return []


def test_sigterm_mid_run_cleans_up_and_marks_the_run(tables, tmp_path, write_tables,
                                                      tracking_uri):
    import signal

    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    uri, db = tracking_uri, tmp_path / "store" / "mlflow.db"
    out = tmp_path / "out"
    proc = _start("reconcile", bank_path, ledger_path, "--out", out, "--device", "cpu",
                  cwd=tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    _wait_for(proc, lambda: "RUNNING" in _run_statuses(db), "its MLflow run started")
    assert list(tmp_path.glob(".out.partial-*"))  # the run is under way
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert stderr.strip() == "terminated: nothing was written", stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert _run_statuses(db) and set(_run_statuses(db)) <= {"KILLED", "FAILED"}


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_stop_after_outputs_were_written_says_what_was_written(tmp_path, signame):
    import signal

    out = tmp_path / "demo"
    proc = _start("demo", "--out", out, "--device", "cpu", "--no-track", cwd=tmp_path)
    _wait_for(proc, lambda: (out / "summary.json").exists(), "the reconciliation was written")
    proc.send_signal(getattr(signal, signame))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143}[signame], stderr
    last = stderr.strip().splitlines()[-1]
    assert "nothing was written" not in last
    # the files written, by name: the demo's later steps were not
    shown = ", ".join(sorted(OUTPUT_FILES)[:6]) + f" and {len(OUTPUT_FILES) - 6} more"
    assert last == (f"{'interrupted' if signame == 'SIGINT' else 'terminated'}: written in "
                    f"full before it stopped: {out}{os.sep} ({shown}); what was under way "
                    "was not written")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        OUTPUT_FILES)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".nexus-lab"]


def test_reading_options_and_advice_in_the_commands_words(tables, tmp_path, write_tables):
    """--decimal/--dayfirst/--sheet reach the reader; errors name flags, not Python."""
    bank, ledger, _ = tables
    folder = tmp_path / "in"
    folder.mkdir()
    day = pd.to_datetime(bank["date"])
    early = bank.assign(date=day.dt.strftime("%d/%m/%Y"),
                        amount=bank["amount"].map(lambda x: f"{x:.2f}".replace(".", ",")))
    early = early[day.dt.day <= 12]
    bank_csv = folder / "early.csv"
    early.to_csv(bank_csv, sep=";", index=False)
    _, ledger_path = write_tables(bank, ledger, folder, "csv")
    err = _bad(tmp_path, bank_csv, ledger_path).stderr
    assert "read two ways" in err and "--dayfirst" in err and "dayfirst=" not in err
    proc = cli("reconcile", bank_csv, ledger_path, "--out", tmp_path / "out", "--device", "cpu",
               "--no-track", "--dayfirst", "bank", "--monthfirst", "ledger", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((tmp_path / "out" / "summary.json").read_text())["params"]["written"]
    assert written["bank"] == {"decimal": ",", "currency": None, "dates": "day/month/year"}
    # a workbook whose table is on its second sheet; one sheet per file
    book = folder / "bank.xlsx"
    with pd.ExcelWriter(book) as xl:
        cover = pd.DataFrame({"Statement": ["exported 2025-12-31"]})
        cover.to_excel(xl, sheet_name="Cover", index=False)
        bank.to_excel(xl, sheet_name="Data", index=False)
    err = _bad(tmp_path, book, ledger_path).stderr
    assert "worksheet 'Cover'" in err and "--sheet 'Data'" in err
    proc = cli("reconcile", book, ledger_path, "--out", tmp_path / "out2", "--device", "cpu",
               "--no-track", "--sheet", "bank=Data", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # a missing column: the advice is the flag of that table
    wrong = folder / "wrong.csv"
    bank.rename(columns={"amount": "Amt"}).to_csv(wrong, index=False)
    err = _bad(tmp_path, wrong, ledger_path).stderr
    assert "--bank-columns amount=Amt" in err and "columns={" not in err
