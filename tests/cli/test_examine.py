"""``nexus-lab examine`` as a user runs it: a real process on a general ledger's file, the
tests recorded in a store, the signed workpaper checked by ``nexus-lab verify``, a
recorded test replayed, and every mistake a clear error with its exit status."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth
from tests.cli.test_cli import cli
from tests.workflows.test_examine import ledger

PASSWORD = "workbench key password"
TESTS = "benford,summarize"


@pytest.fixture
def bench(tmp_path):
    """A ledger whose columns are named otherwise, a store with an auditor and a judge, and
    the settings the commands run with."""
    gl = ledger(800, seed=3).rename(columns={"entry_id": "JE Number", "amount": "Amount"})
    gl.to_csv(tmp_path / "gl.csv", index=False)
    store = tmp_path / "books.db"
    s = nx.store.connect(store)
    s.migrate()
    with auth.acting_as("lead"):
        auth.add_user("lead", role="admin", store=s)
        auth.add_user("aud", role="auditor", store=s)
        auth.add_user("jo", role="judge", store=s)
    s.close()
    env = {"NEXUS_LAB_ACTOR": "aud", "NEXUS_LAB_KEY_PASSWORD": PASSWORD,
           "NEXUS_LAB_SIGNING_KEY": str(tmp_path / "keys" / "workbench.nxkey"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    return {"folder": tmp_path, "gl": tmp_path / "gl.csv", "store": store, "env": env}


def _examine(bench, *args, env=None):
    return cli("examine", bench["gl"], "--store", bench["store"], *args, cwd=bench["folder"],
               env={**bench["env"], **(env or {})})


def test_examine_writes_the_signed_workpaper_and_records_every_test(bench):
    out = bench["folder"] / "out"
    done = _examine(bench, "--out", out, "--tests", TESTS, "--period-end", "2025-12-31",
                    "--columns", "entry_id=JE Number", "amount=Amount")
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["period_end"] == "2025-12-31" and summary["created_by"] == "aud"
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Examined gl.csv (1,600 lines, sha256 "
                               f"{summary['data']['gl']['sha256'][:12]}...) for the period "
                               f"ending 2025-12-31: {summary['tests']} tests")
    for name, verdict in summary["verdicts"].items():
        assert any(ln.split()[:2] == [name, verdict or "–"] for ln in lines), name
    assert len(lines) < 40  # one screen
    s = nx.store.connect(bench["store"])
    rows = s.read("examinations")
    assert sorted(rows["examination_id"]) == sorted(summary["records"].values())
    assert set(rows["created_by"]) == {"aud"} and set(rows["data_source"]) == {
        str(bench["gl"])}
    assert rows.set_index("name").loc["summarize", "params"]["columns"]["amount"] == "Amount"
    s.close()
    # the workpaper, checked as its reader would
    for name in ("workpaper.html", "workpaper.xlsx"):
        pub = next(out.glob("*.nxpub"))
        check = cli("verify", out / name, "--sig", out / f"{name}.sig", "--pub", pub,
                    cwd=bench["folder"])
        assert check.returncode == 0, check.stderr
    assert f"nexus-lab verify {out / 'workpaper.html'}" in done.stdout
    for row in rows.itertuples():  # every table of every test, as Parquet and CSV
        for table, kept in row.tables.items():
            back = pd.read_parquet(out / "tables" / row.name / f"{table}.parquet")
            assert len(back) == kept["rows"]
            assert (out / "tables" / row.name / f"{table}.csv").is_file()

    # a recorded test replays on the same file, and not on a changed one
    record = summary["records"]["benford_first_two"]
    again = _examine(bench, "--replay", record, "--columns", "entry_id=JE Number",
                     "amount=Amount")
    assert again.returncode == 0, again.stderr
    assert f"benford_first_two (benford), record {record}: reproduced" in again.stdout
    gl = pd.read_csv(bench["gl"])
    gl.loc[gl["Amount"] > 0, "Amount"] = (gl["Amount"] * 3).round(2)
    gl.to_csv(bench["gl"], index=False)
    changed = _examine(bench, "--replay", record, "--columns", "entry_id=JE Number",
                       "amount=Amount")
    assert changed.returncode == 1, changed.stderr
    assert "NOT the recorded data" in changed.stdout
    assert changed.stderr.startswith("FAILED: examination") and "not the data" in changed.stderr


@pytest.mark.parametrize(("args", "env", "status", "message"), [
    (["--tests", "benford,nope"], {}, 2, "error: --tests 'benford,nope': name all, or some of"),
    (["--columns", "amount"], {}, 2, "error: --columns 'amount': write the mapping as"),
    ([], {}, 2, "error: --out DIR is needed"),
    (["--tests", "summarize"], {}, 2, "error: general ledger has no column 'entry_id' (it has "
     "['JE Number', 'line', 'date', 'account', 'Amount', 'posted_by']); pass --columns "
     "entry_id=<your column>"),
    (["--period-end", "31/12/2025"], {}, 2, "period_end '31/12/2025' is not a date"),
    (["--tests", "summarize"], {"NEXUS_LAB_ACTOR": "jo"}, 77,
     "refused: jo (judge) may not examine.run"),
    (["--tests", "summarize", "--columns", "entry_id=JE Number"],
     {"NEXUS_LAB_KEY_PASSWORD": ""}, 2, "needs a password: set NEXUS_LAB_KEY_PASSWORD"),
])
def test_mistakes_are_clear_errors_and_nothing_is_written(bench, args, env, status, message):
    out = [] if args == [] else ["--out", bench["folder"] / "out"]
    done = _examine(bench, *out, *args, env=env)
    assert done.returncode == status, done.stderr
    assert message in done.stderr
    assert not (bench["folder"] / "out").exists()
    s = nx.store.connect(bench["store"])
    assert s.read("examinations").empty and s.read("reports").empty
    s.close()


def test_unsigned_without_a_key_and_a_missing_file(bench):
    out = bench["folder"] / "out"
    done = _examine(bench, "--out", out, "--tests", "summarize", "--no-sign", "--columns",
                    "entry_id=JE Number", env={"NEXUS_LAB_KEY_PASSWORD": ""})
    assert done.returncode == 0, done.stderr
    assert f"workpaper: {out / 'workpaper.html'} (not signed)" in done.stdout
    assert not list(out.glob("*.sig"))
    missing = cli("examine", bench["folder"] / "nope.csv", "--out", bench["folder"] / "o2",
                  "--store", bench["store"], cwd=bench["folder"], env=bench["env"])
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert "nope.csv" in missing.stderr and not (bench["folder"] / "o2").exists()
