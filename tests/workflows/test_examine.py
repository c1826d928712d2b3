"""Audit analytics recorded: each test of the battery kept in the store and the audit trail
with who ran it, the data's fingerprint, its parameters and its result; the workpaper
signed; every table written; a recorded test replayed; the roles enforced; nothing
half-written. On SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit, auth, workflows
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.files import read_table
from nexus_lab.frames import frame_bytes

TESTS = ["benford", "summarize"]


def ledger(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """``n`` balanced two-line entries over a year (amounts spread over five decades)."""
    rng = np.random.default_rng(seed)
    amounts = np.round(10 ** rng.uniform(0, 5, n), 2)
    days = pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D")
    return pd.DataFrame({
        "entry_id": np.repeat([f"JE-{i:05d}" for i in range(n)], 2),
        "line": np.tile([1, 2], n),
        "date": np.repeat(days.strftime("%Y-%m-%d"), 2),
        "account": np.column_stack([rng.choice(["6100", "6200", "4000"], n),
                                    np.full(n, "1000")]).ravel(),
        "amount": np.column_stack([amounts, -amounts]).ravel(),
        "posted_by": np.repeat(rng.choice(["ana", "raj"], n), 2),
    })


def recorded(s, battery_id: str | None = None) -> pd.DataFrame:
    """The store's examinations as the auditor reads them."""
    with auth.acting_as("aud"):
        return workflows.examinations(s, battery_id=battery_id)


@pytest.fixture
def books(store_url, tmp_path):
    s = nx.store.connect(store_url)
    s.migrate()
    with auth.acting_as("lead"):
        auth.add_user("lead", role="admin", store=s)
        auth.add_user("aud", role="auditor", store=s)
        auth.add_user("jo", role="judge", store=s)
    path = tmp_path / "gl.csv"
    ledger().to_csv(path, index=False)
    yield s, path
    s.close()


def test_each_test_is_recorded_with_its_data_parameters_and_result(books, tmp_path):
    s, path = books
    log = nx.crypto.AuditLog(tmp_path / "audit.db")
    key = nx.crypto.generate_keypair("workbench")
    with audit.using(log), auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=TESTS, store=s, out=tmp_path / "out",
                                       key=key)
    frame = read_table(path, name="general ledger", text_columns=["entry_id", "account"])
    digest = hashlib.sha256(frame_bytes(frame)).hexdigest()
    rows = recorded(s, run.battery_id)
    assert rows["name"].tolist() == list(run.battery) and len(rows) >= 8
    assert rows["position"].tolist() == list(range(1, len(rows) + 1))
    assert set(rows["examination_id"]) == set(run.records.values())
    assert (rows["data_sha256"] == digest).all() and (rows["data_rows"] == len(frame)).all()
    assert set(rows["data_source"]) == {str(path)} and set(rows["created_by"]) == {"aud"}
    assert str(rows["period_end"].iloc[0])[:10] == frame["date"].max()  # the latest date
    for row in rows.itertuples():
        result = run.battery[row.name]
        assert row.params == result.params and row.test == result.test
        assert row.verdict == result.verdict
        assert row.summary == json.loads(json.dumps(result.summary()))
        assert set(row.tables) == set(result.tables)
    assert "benford_first_two" in run.battery and "summarize" in run.battery
    assert rows.set_index("name").loc["benford_first", "params"]["test"] == "first"
    # the audit trail: one examine.ran per test in the store, and in the signed log
    trail = s.read("audit_logs", where={"action": "examine.ran"}, order_by="id")
    assert trail["resource_id"].tolist() == [f"examinations/{i}" for i in run.records.values()]
    assert set(trail["user_id"]) == {"aud"} and trail["chain_seq"].notna().all()
    assert audit.check_store(log, s)["checked"] == len(trail) + 2  # and the two workpapers
    entries = log.entries()
    assert entries["action"].tolist().count("examine.ran") == len(rows)
    ran = entries[entries["action"] == "examine.ran"]
    assert {d["data_sha256"] for d in ran["details"]} == {digest}
    assert [d["name"] for d in ran["details"]] == list(run.battery)
    log.close()


def test_the_outputs_are_the_signed_workpaper_every_table_and_the_summary(books, tmp_path):
    s, path = books
    out = tmp_path / "out"
    with auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=TESTS, store=s, out=out,
                                       key=nx.crypto.generate_keypair("workbench"))
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert set(workflows.EXAMINE_FILES) <= names
    assert [n.rsplit(".", 1)[1] for n in names - set(workflows.EXAMINE_FILES)] == ["nxpub"]
    html, xlsx = run.workpapers
    assert html.path == out / "workpaper.html" and xlsx.path == out / "workpaper.xlsx"
    assert html.verify() and xlsx.verify()
    filed = s.read("reports", order_by="created_at")
    assert sorted(filed["path"]) == [str(out / "workpaper.html"), str(out / "workpaper.xlsx")]
    assert set(filed["kind"]) == {"examination"}
    page = html.path.read_text()
    assert all(f"{name}</h2>" in page for name in run.battery)
    for name, result in run.battery.items():
        for table, frame in result.tables.items():
            back = pd.read_parquet(out / "tables" / name / f"{table}.parquet")
            assert len(back) == len(frame) and list(back.columns) == [str(c) for c in
                                                                       frame.columns]
            assert len(pd.read_csv(out / "tables" / name / f"{table}.csv")) == len(frame)
        assert (out / "tables" / name / "plot.svg").is_file() == (result.plotter is not None)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == run.records and summary["battery_id"] == run.battery_id
    assert summary["data"]["gl"]["sha256"] == run.data["gl"]["sha256"]
    assert summary["workpapers"] == [str(out / "workpaper.html"), str(out / "workpaper.xlsx")]
    rows = recorded(s, run.battery_id)
    assert set(rows["workpaper"]) == {str(out / "workpaper.html")}
    # the batteries, newest first, one row each
    with auth.acting_as("aud"):
        again = workflows.examine_ledger(path, tests=["summarize"], store=s, sign=False)
    with auth.acting_as("aud"):
        batteries = workflows.examination_runs(s)
    assert batteries["battery_id"].tolist() == [again.battery_id, run.battery_id]
    assert batteries.attrs["total"] == 2 and batteries["tests"].tolist() == [1, len(rows)]


def test_a_recorded_test_replays_to_its_recorded_result(books, tmp_path):
    s, path = books
    with auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=TESTS, store=s, sign=False)
        first = run.records["benford_first_two"]
        same = workflows.replay_examination(first, path, store=s)
        assert (same.data_matches, same.matches, same.tables_match) == (True, True, True)
        assert same.verdict.startswith("reproduced: benford_first_two")
        # the same frame given in memory is the same data
        frame = read_table(path, name="general ledger", text_columns=["entry_id", "account"])
        assert workflows.replay_examination(first, frame, store=s).data_matches
        # a changed amount: other data, another result, and the facts that differ
        changed = frame.copy()
        changed.loc[changed["amount"] > 0, "amount"] = changed["amount"] * 1.5
        other = workflows.replay_examination(first, changed, store=s)
        assert not other.data_matches and not other.matches
        assert "mad" in other.differences and other.verdict.startswith("differs")
        with pytest.raises(NexusError, match="no examination 'nope'"):
            workflows.replay_examination("nope", path, store=s)
    replays = s.read("audit_logs", where={"action": "examine.replayed"}, order_by="id")
    assert replays["resource_id"].tolist() == [f"examinations/{first}"] * 3
    assert [d["matches"] for d in replays["details"]] == [True, True, False]


def test_a_judge_may_not_examine_and_nothing_is_written(books, tmp_path):
    s, path = books
    with auth.acting_as("jo"), pytest.raises(PermissionDenied, match=r"examine\.run"):
        workflows.examine_ledger(path, tests=TESTS, store=s, out=tmp_path / "out")
    assert not (tmp_path / "out").exists() and s.read("examinations").empty
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused["user_id"].tolist() == ["jo"]
    with auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=["summarize"], store=s, sign=False)
    with auth.acting_as("jo"):  # the judge reads the records (financial.read), replays none
        assert len(workflows.examinations(s)) == 1
        with pytest.raises(PermissionDenied):
            workflows.replay_examination(run.records["summarize"], path, store=s)


def test_a_failure_leaves_no_record_no_folder_and_no_report(books, tmp_path):
    s, path = books
    out = tmp_path / "out"
    with auth.acting_as("aud"), pytest.raises(NexusError, match="signing a workpaper needs"):
        workflows.examine_ledger(path, tests=TESTS, store=s, out=out, key="not a key")
    assert not out.exists()
    assert s.read("examinations").empty and s.read("reports").empty
    assert s.read("audit_logs", where={"action": "examine.ran"}).empty
    # an output folder that holds someone's files is refused before any work
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with auth.acting_as("aud"), pytest.raises(NexusError, match="did not write"):
        workflows.examine_ledger(path, tests=TESTS, store=s, out=mine, sign=False)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_unsigned_workpapers_and_clear_errors(books, tmp_path):
    s, path = books
    out = tmp_path / "out"
    with auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=["summarize"], store=s, out=out,
                                       sign=False, period_end="2025-06-30")
        assert [p.name for p in run.workpapers] == ["workpaper.html", "workpaper.xlsx"]
        assert "This copy is not signed" in (out / "workpaper.html").read_text()
        assert s.read("reports").empty and not list(out.glob("*.sig"))
        assert run.battery.info["period_end"] == "2025-06-30"
        with pytest.raises(NexusError, match="period_end '30/06/2025' is not a date"):
            workflows.examine_ledger(path, period_end="30/06/2025", store=s)
        bad = ledger().rename(columns={"amount": "Amt"})
        with pytest.raises(NexusError, match=r"general ledger has no column 'amount'.*'Amt'"):
            workflows.examine_ledger(bad, tests=["summarize"], store=s)
        renamed = workflows.examine_ledger(bad, tests=["summarize"], store=s,
                                           columns={"amount": "Amt"}, source="renamed")
        assert renamed.battery["summarize"].params["columns"]["amount"] == "Amt"
        assert recorded(s, renamed.battery_id)["data_source"].tolist() == ["renamed"]


def test_a_journal_entry_record_from_before_multiple_replays_as_it_ran(books):
    # a record of journal_entry_tests made before it took multiple= (the z alone) holds
    # no such parameter: it replays as it ran
    s, path = books
    with auth.acting_as("aud"):
        run = workflows.examine_ledger(path, tests=["journal_entries"], store=s, sign=False,
                                       options={"journal_entries": {"multiple": None}})
        record = run.records["journal_entries"]
        params = workflows.load_examination(record, s)["params"]
        assert params["multiple"] is None
        del params["multiple"]
        s.execute("update examinations set params = :p where examination_id = :i",
                  {"p": json.dumps(params), "i": record})
        again = workflows.replay_examination(record, path, store=s)
        assert (again.matches, again.tables_match) == (True, True), again.differences
        # the default now also finds lines many times their account's median
        now = workflows.examine_ledger(path, tests=["journal_entries"], store=s, sign=False)
        assert workflows.load_examination(now.records["journal_entries"], s)["params"][
            "multiple"] == 50.0
