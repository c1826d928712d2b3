"""Fraud triage's services on a real store (SQLite and PostgreSQL) and a real case store:
the queue, one flag and its history, escalation into a case, and the cases' reads,
verification and status changes, each as the role that may (or may not) do it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit, auth, cases, review, workflows
from nexus_lab.errors import NexusError, PermissionDenied

PEOPLE = {"lead": "admin", "ana": "examiner", "jo": "judge", "pat": "prosecutor"}


@pytest.fixture(scope="module")
def scored():
    """Real fraud scores of synthetic transactions, and the detector that gave them."""
    tx = nx.datasets.synth_transactions(900, seed=4, days=60).drop(
        columns=["pattern", "is_fraud"])
    det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(tx)
    return tx, det, det.score(tx)


@pytest.fixture
def bench(store_url, scored, tmp_path, monkeypatch):
    """A store with a user per point of view and a fraud run kept with its explanations;
    the workbench's case store and evidence-room key in tmp_path."""
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "evidence room password")
    monkeypatch.setenv("NEXUS_LAB_CASES", str(tmp_path / "cases"))
    monkeypatch.setenv("NEXUS_LAB_CASES_KEY", str(tmp_path / "keys" / "room.nxkey"))
    tx, det, frame = scored
    s = nx.store.connect(store_url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        for user, role in PEOPLE.items():
            if user != "lead":
                auth.add_user(user, role=role, store=s)
    with auth.acting_as("ana"):
        run = workflows.save_fraud_scores(frame, tx, store=s, model="test", detector=det)
    yield s, run, tmp_path
    s.close()


def _open(s, run, n=1, **filters):
    return review.fraud_queue_page(run, limit=n, store=s, **filters)[0]


def _open_ids(s, run, n):
    with auth.acting_as("ana"):
        return [int(i) for i in _open(s, run, n)["id"]]


# ---- the queue and one flag -----------------------------------------------------------------

def test_a_page_past_what_an_integer_holds_is_refused_by_name(bench):
    s, run, _ = bench
    with auth.acting_as("ana"):
        for offset, limit in ((10**20, 10), (-1, 10), (0, 10**9)):
            with pytest.raises(NexusError, match="a page is 1 to 1000 rows from an offset of "
                               "0 to 9,007,199,254,740,991"):
                review.fraud_queue_page(run, offset=offset, limit=limit, store=s)
            with pytest.raises(NexusError, match="a page is 1 to 1000 rows"):
                review.open_items_page("no-run", offset=offset, limit=limit, store=s)


def test_the_queue_is_paged_by_risk_and_filtered_on_the_server(bench):
    s, run, _ = bench
    with auth.acting_as("ana"):
        page, total = review.fraud_queue_page(run, limit=10, store=s)
        every = s.read("fraud_scores", where={"run_id": run, "review_state": "open"})
        assert total == len(every) and len(page) == 10
        assert page["risk_score"].tolist() == sorted(every["risk_score"], reverse=True)[:10]
        second, _ = review.fraud_queue_page(run, offset=10, limit=10, store=s)
        assert not set(page["id"]) & set(second["id"])
        flag = every["flags"].explode().value_counts().index[0]
        hits, n = review.fraud_queue_page(run, flag=flag, limit=1000, store=s)
        assert n == sum(flag in f for f in every["flags"]) and all(flag in f for f in
                                                                     hits["flags"])
        acct = every["account"].iloc[0]
        hits, n = review.fraud_queue_page(run, account=acct, min_risk=20, limit=1000,
                                          store=s)
        assert n == int(((every["account"] == acct) & (every["risk_score"] >= 20)).sum())
        assert set(hits["account"]) <= {acct} and (hits["risk_score"] >= 20).all()
        by_date, _ = review.fraud_queue_page(run, sort="date", descending=False, store=s)
        assert by_date["date"].is_monotonic_increasing
        with pytest.raises(NexusError, match="cannot sort the queue by 'colour'"):
            review.fraud_queue_page(run, sort="colour", store=s)
        with pytest.raises(NexusError, match="review state 'shut'"):
            review.fraud_queue_page(run, states=["shut"], store=s)
        overview = review.fraud_run_overview(run, store=s)
        assert overview["states"]["open"] == total and overview["run"]["threshold"] == 50
        assert overview["by_flag"]["open"].sum() == every["flags"].map(len).sum()
    with auth.acting_as("pat"), pytest.raises(PermissionDenied):  # no financial.read
        review.fraud_queue_page(run, store=s)


def test_a_flag_shows_what_each_flag_and_feature_added_and_its_neighbours(bench, scored):
    s, run, _ = bench
    _, det, _ = scored
    with auth.acting_as("ana"):
        top = _open(s, run).iloc[0]
        row = review.fraud_score(int(top["id"]), store=s)
        history = review.fraud_history(int(top["id"]), store=s)
    want = det.explain(top["transaction_id"])
    want = want[(want["kind"] == "rule") & (want["contribution"].abs() >= 0.05)]
    got = row["explanation"]
    assert got[got["kind"] == "flag"]["name"].tolist() == want["name"].tolist()
    assert got[got["kind"] == "flag"]["points"].tolist() == want["contribution"].round(
        1).tolist()
    assert row["reasons"] and all(isinstance(r, str) for r in row["reasons"])
    assert history["this"].sum() == 1 and history.loc[history["this"], "id"].iloc[0] == \
        top["id"]
    near = (history["date"] - pd.Timestamp(row["date"])).abs() <= pd.Timedelta(days=30)
    same = (history["account"] == row["account"]) | (history["vendor"] == row["vendor"])
    assert near.all() and same.all() and history["date"].is_monotonic_increasing
    every = s.read("fraud_scores", where={"run_id": run})
    window = every[((every["account"] == row["account"]) | (every["vendor"] == row["vendor"]))
                   & ((every["date"] - pd.Timestamp(row["date"])).abs()
                      <= pd.Timedelta(days=30))]
    assert len(history) == len(window)


def test_a_run_kept_without_the_detector_has_no_explanation(bench, scored):
    s, _, _ = bench
    tx, _, frame = scored
    with auth.acting_as("ana"):
        plain = workflows.save_fraud_scores(frame, tx, store=s)
        assert review.fraud_score(int(_open(s, plain)["id"].iloc[0]),
                                  store=s)["explanation"] is None
        with pytest.raises(NexusError, match="must be the FraudDetector"):
            workflows.save_fraud_scores(frame, tx, store=s, detector="a model")


# ---- escalation into a case -----------------------------------------------------------------

def test_the_examiner_escalates_a_flag_into_a_new_case(bench):
    s, run, folder = bench
    sid = _open_ids(s, run, 1)[0]
    with auth.acting_as("ana"):
        done = workflows.escalate_to_case(sid, "structuring under the limit", store=s)
        tid = review.fraud_score(sid, store=s)["transaction_id"]
    assert done["case_id"] == f"FR-{tid}" and done["created"] and not done["repeated"]
    assert done["evidence"] == ["E-0001", "E-0002"]
    flag = s.read("fraud_scores", where={"id": sid}).iloc[0]
    assert (flag["review_state"], flag["case_id"], flag["reviewed_by"]) == (
        "escalated", done["case_id"], "ana")
    row = s.read("cases").iloc[0]
    assert (row["case_id"], row["status"], row["path"], row["created_by"]) == (
        done["case_id"], "open", str(folder / "cases"), "ana")
    key = audit.workbench_keypair(folder / "keys" / "room.nxkey", "evidence-room")
    report = nx.cases.verify(folder / "cases", public=key.public, keypair=key)
    assert report.ok and (report.items["plaintext"] == "ok").all()
    with nx.cases.CaseStore(folder / "cases", key) as room:
        case = room.case(done["case_id"])
        assert case.opened_by == "ana" and case.description == "structuring under the limit"
        flagged = pd.read_csv(io.BytesIO(case.open_evidence("E-0001", key, actor="test",
                                                            purpose="check")))
        around = pd.read_csv(io.BytesIO(case.open_evidence("E-0002", key, actor="test",
                                                           purpose="check")))
    assert flagged["transaction_id"].tolist() == [tid] and flagged["contributions"].notna()[0]
    assert around["flagged_row"].sum() == 1 and tid in set(around["transaction_id"])
    logged = s.read("audit_logs", order_by="id")
    assert logged[logged["user_id"] == "ana"]["action"].tolist()[-2:] == [
        "case.opened", "fraud.flag_escalated"]


def test_escalating_again_or_into_a_known_case_makes_no_second_case(bench):
    s, run, _ = bench
    first, second, third = _open_ids(s, run, 3)
    with auth.acting_as("ana"):
        done = workflows.escalate_to_case(first, "pattern", store=s)
        again = workflows.escalate_to_case(first, "pattern, once more", store=s)
        assert again["repeated"] and again["case_id"] == done["case_id"] and \
            again["evidence"] == []
        more = workflows.escalate_to_case(second, "the same vendor", case_id=done["case_id"],
                                          store=s)
        assert not more["created"] and more["evidence"] == ["E-0003", "E-0004"]
        with pytest.raises(NexusError, match="escalated already, into case"):
            workflows.escalate_to_case(first, "elsewhere", case_id="C-OTHER", store=s)
        with pytest.raises(NexusError, match=r"no case .C-404.*leave case_id out"):
            workflows.escalate_to_case(third, "x", case_id="C-404", store=s)
        review.clear_flag(third, "receipt on file", store=s)
        with pytest.raises(NexusError, match="was cleared by ana"):
            workflows.escalate_to_case(third, "x", store=s)
        with pytest.raises(NexusError, match="say why"):
            workflows.escalate_to_case(_open_ids(s, run, 1)[0], "  ", store=s)
    assert s.read("cases")["case_id"].tolist() == [done["case_id"]]
    with auth.acting_as("pat"):
        assert nx.cases.store_cases(store=s)["evidence"].tolist() == [4]


def test_the_judge_and_the_prosecutor_may_not_escalate(bench):
    s, run, _ = bench
    sid = _open_ids(s, run, 1)[0]
    for who in ("jo", "pat"):
        with auth.acting_as(who), pytest.raises(PermissionDenied, match=r"fraud\.review"):
            workflows.escalate_to_case(sid, "", store=s)  # refused before the note is read
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused[["user_id", "resource_id"]].values.tolist() == [
        ["jo", f"fraud_scores/{sid}"], ["pat", f"fraud_scores/{sid}"]]
    assert s.read("cases").empty
    assert s.read("fraud_scores", where={"id": sid})["review_state"].iloc[0] == "open"


def test_a_failed_escalation_leaves_no_half_made_case_and_a_retry_finishes_it(
        bench, monkeypatch):
    s, run, folder = bench
    sid = _open_ids(s, run, 1)[0]
    # the case store cannot be opened: nothing at all is written
    monkeypatch.delenv("NEXUS_LAB_KEY_PASSWORD")
    with auth.acting_as("ana"), pytest.raises(NexusError, match="NEXUS_LAB_KEY_PASSWORD"):
        workflows.escalate_to_case(sid, "pattern", store=s)
    assert s.read("cases").empty and not (folder / "cases").exists()
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "evidence room password")
    # the store refuses the flag's update after the case store took the evidence in
    s.execute("create table blocked (id integer primary key)")
    s.execute("insert into blocked values (1)")
    blocker = ("create trigger no_escalation before update on fraud_scores begin select "
               "raise(abort, 'escalations are blocked') where exists (select 1 from blocked);"
               " end") if s.dialect == "sqlite" else None
    if blocker is None:
        s.execute("create function no_escalation() returns trigger language plpgsql as $$ "
                  "begin if exists (select 1 from blocked) then raise exception "
                  "'escalations are blocked'; end if; return new; end $$")
        s.execute("create trigger no_escalation before update on fraud_scores for each row "
                  "execute function no_escalation()")
    else:
        s.execute(blocker)
    with auth.acting_as("ana"), pytest.raises(NexusError, match="escalations are blocked"):
        workflows.escalate_to_case(sid, "pattern", store=s)
    assert s.read("cases").empty  # no case row without its escalated flag...
    assert s.read("fraud_scores", where={"id": sid})["review_state"].iloc[0] == "open"
    assert s.read("audit_logs", where={"action": "case.opened"}).empty
    with nx.cases.CaseStore(folder / "cases") as room:  # ...while the case store has it
        assert len(room.cases()) == 1 and room.cases()["evidence"].iloc[0] == 2
    s.execute("delete from blocked")
    with auth.acting_as("ana"):
        done = workflows.escalate_to_case(sid, "pattern", store=s)
    assert done["evidence"] == []  # taken in already: not again
    assert s.read("cases")["case_id"].tolist() == [done["case_id"]]
    assert s.read("fraud_scores", where={"id": sid})["case_id"].iloc[0] == done["case_id"]
    with nx.cases.CaseStore(folder / "cases") as room:
        assert room.cases()["evidence"].tolist() == [2]
    assert nx.cases.verify(folder / "cases").ok


# ---- the cases --------------------------------------------------------------------------------

@pytest.fixture
def a_case(bench):
    s, run, folder = bench
    with auth.acting_as("ana"):
        done = workflows.escalate_to_case(_open_ids(s, run, 1)[0], "duplicates", store=s)
    return s, done["case_id"], folder


def test_the_cases_are_read_with_their_case_store(a_case):
    s, case_id, folder = a_case
    with auth.acting_as("jo"):
        listed = cases.store_cases(store=s)
        detail = cases.case_detail(case_id, store=s)
    assert listed[["case_id", "status", "evidence", "custody_events", "found"]].values.tolist(
    ) == [[case_id, "open", 2, 2, True]]
    assert detail["case"]["created_by"] == "ana" and detail["case"]["path"] == str(
        folder / "cases")
    assert detail["timeline"]["event"].tolist() == ["case opened", "intake", "intake"]
    assert detail["evidence"]["evidence_id"].tolist() == ["E-0001", "E-0002"]
    assert detail["custody"]["actor"].tolist() == ["ana", "ana"]
    assert detail["next_statuses"] == ("under_investigation", "closed")
    with auth.acting_as("eve-nobody"), pytest.raises(PermissionDenied):
        cases.store_cases(store=s)
    with auth.acting_as("jo"), pytest.raises(NexusError, match="no case 'C-404'"):
        cases.case_detail("C-404", store=s)


def test_verification_passes_then_names_the_first_broken_link(a_case):
    s, case_id, folder = a_case
    with auth.acting_as("jo"):
        good = cases.verify_case(case_id, store=s)
    assert (good["verdict"], good["first_problem"], good["pinned"]) == ("PASS", None, True)
    sealed = folder / "cases" / "evidence" / case_id / "E-0002.nxs"
    blob = bytearray(sealed.read_bytes())
    blob[7] ^= 0x20
    sealed.write_bytes(bytes(blob))
    with auth.acting_as("jo"):
        bad = cases.verify_case(case_id, store=s)
    assert bad["verdict"] == "FAIL" and not bad["ok"]
    assert bad["first_problem"].startswith(f"case {case_id}, evidence E-0002")
    assert "the sealed file was altered or replaced" in bad["first_problem"]
    logged = s.read("audit_logs", where={"action": "case.verified"}, order_by="id")
    assert logged["user_id"].tolist() == ["jo", "jo"]
    assert [(d if isinstance(d, dict) else json.loads(d))["ok"]
            for d in logged["details"]] == [True, False]


def test_only_the_prosecutor_moves_a_case_and_only_where_it_may_go(a_case):
    s, case_id, folder = a_case
    for who in ("ana", "jo"):
        with auth.acting_as(who), pytest.raises(PermissionDenied, match=r"case\.write"):
            workflows.change_case_status(case_id, "under_investigation", "", store=s)
    with auth.acting_as("pat"):
        with pytest.raises(NexusError, match="give the reason"):
            workflows.change_case_status(case_id, "under_investigation", " ", store=s)
        with pytest.raises(NexusError, match="can go to 'under_investigation' or 'closed'"):
            workflows.change_case_status(case_id, "archived", "done", store=s)
        done = workflows.change_case_status(case_id, "under_investigation", "subpoena sent",
                                        store=s)
    assert done == {"case_id": case_id, "from": "open", "to": "under_investigation",
                    "changed_by": "pat"}
    assert s.read("cases")["status"].tolist() == ["under_investigation"]
    with nx.cases.CaseStore(folder / "cases") as room:
        assert room.case(case_id).status == "under_investigation"
    assert cases.verify(folder / "cases").ok
    changed = s.read("audit_logs", where={"action": "case.status_changed"})
    assert changed[["user_id", "resource_id"]].values.tolist() == [["pat", f"cases/{case_id}"]]


def test_evidence_csvs_of_an_escalation_hold_no_formula(store_url, tmp_path, monkeypatch):
    """Vendors and accounts a spreadsheet would run (``=HYPERLINK``, ``@SUM``) reach the
    case's evidence CSVs neutralized, as every other CSV output."""
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "evidence room password")
    monkeypatch.setenv("NEXUS_LAB_CASES", str(tmp_path / "cases"))
    monkeypatch.setenv("NEXUS_LAB_CASES_KEY", str(tmp_path / "keys" / "room.nxkey"))
    tx = nx.datasets.synth_transactions(400, seed=5, days=30).drop(
        columns=["pattern", "is_fraud"])
    tx = tx.assign(vendor='=HYPERLINK("http://x.test","' + tx["vendor"] + '")',
                   account="@SUM(" + tx["account"] + ")")
    det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(tx)
    s = nx.store.connect(store_url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        auth.add_user("ana", role="examiner", store=s)
    with auth.acting_as("ana"):
        run = workflows.save_fraud_scores(det.score(tx), tx, store=s, model="t", detector=det)
        done = workflows.escalate_to_case(_open_ids(s, run, 1)[0], "check", store=s)
    s.close()
    key = audit.workbench_keypair(tmp_path / "keys" / "room.nxkey", "evidence-room")
    with nx.cases.CaseStore(tmp_path / "cases", key) as room:
        case = room.case(done["case_id"])
        for eid in done["evidence"]:
            text = case.open_evidence(eid, key, actor="test", purpose="check").decode()
            cells = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
            for column in ("vendor", "account"):
                assert cells[column].str.startswith("'").all(), (eid, cells[column].tolist())
