"""Fraud triage in a real browser, against a real server, store and case store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

import nexus_lab as nx
from tests.dashboards._browser import (
    audit_rows,
    bokeh_click,
    login,
    rows_sent,
    shot,
    store_query,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.slow


def _score_once(workbench, score_id: int, state: str):
    """The fraud score's review columns once it is in ``state``, else None."""
    row = store_query(workbench, "select review_state, case_id, reviewed_by, review_note from "
                            "fraud_scores where id = :i", {"i": score_id}).iloc[0].to_dict()
    return row if row["review_state"] == state else None


def _riskiest_open(workbench):
    return store_query(workbench, "select id, transaction_id from fraud_scores where run_id = :r "
                             "and review_state = 'open' order by risk_score desc, id desc "
                             "limit 1", {"r": workbench["fraud_run"]}).iloc[0]


def _has_title(page, start: str) -> bool:
    return page.evaluate("""(start) => [...Bokeh.documents[0].all_models].some(
        m => typeof m.text === 'string' && m.text.startsWith(start))""", start)


def test_the_examiner_escalates_the_riskiest_open_flag_into_a_case(page, dashboards,
                                                                   workbench):
    top = _riskiest_open(workbench)
    login(page, dashboards, "ana", "fraud")
    # the queue comes a page at a time, the riskiest first, and shows it
    assert rows_sent(page, "queue") == 25
    assert page.get_by_role("heading", name=f"{top['transaction_id']} · risk").count() == 1
    assert _has_title(page, "Risk points each flag added")  # the run kept why
    assert _has_title(page, "Scored payments of the same account or vendor")
    history = page.locator(".nx-table-history .tabulator-row")
    assert history.count() > 1 and top["transaction_id"] in history.first.inner_text()
    shot(page, "fraud-examiner")
    page.locator(".nx-table-history").scroll_into_view_if_needed()
    shot(page, "fraud-examiner-detail")

    page.locator(".bk-tab", has_text="Escalate").click()
    page.get_by_placeholder("what the case should look into").fill(
        "payments just under the approval limit, several in a day")
    page.get_by_role("button", name="Escalate into a case").click()
    row = until(lambda: _score_once(workbench, int(top["id"]), "escalated"))
    assert row is not None, "the flag was not escalated"
    case_id = row["case_id"]
    assert case_id == f"FR-{top['transaction_id']}" and row["reviewed_by"] == "ana"
    kept = store_query(workbench, "select case_id, status, path, created_by from cases")
    assert kept.to_dict("records") == [{"case_id": case_id, "status": "open",
                                        "path": workbench["env"]["NEXUS_LAB_CASES"],
                                        "created_by": "ana"}]
    report = nx.cases.verify(Path(workbench["env"]["NEXUS_LAB_CASES"]), cases=[case_id])
    assert report.ok and len(report.items) == 2  # the flagged row and its history, sealed
    escalated = audit_rows(workbench["store"], "fraud.flag_escalated")
    assert [(r["user_id"], r["resource_id"], r["outcome"]) for r in escalated] == [
        ("ana", f"fraud_scores/{int(top['id'])}", "done")]
    assert [r["user_id"] for r in audit_rows(workbench["store"], "case.opened")] == ["ana"]
    # the escalated row left the open queue: the next riskiest is shown now
    expect(page.get_by_role("heading", name=f"{top['transaction_id']} · risk")).to_have_count(
        0, timeout=15_000)
    wait_rendered(page)
    shot(page, "fraud-escalated")


def test_the_examiner_clears_a_flag_with_a_justification(page, dashboards, workbench):
    top = _riskiest_open(workbench)
    login(page, dashboards, "ana", "fraud")
    page.get_by_placeholder("why the flag is cleared").fill("invoice and receipt on file")
    page.get_by_role("button", name="Clear the flag").click()
    row = until(lambda: _score_once(workbench, int(top["id"]), "cleared"))
    assert row is not None, "the flag was not cleared"
    assert (row["reviewed_by"], row["review_note"], row["case_id"]) == (
        "ana", "invoice and receipt on file", None)
    cleared = audit_rows(workbench["store"], "fraud.flag_cleared")
    assert [(r["user_id"], r["resource_id"]) for r in cleared] == [
        ("ana", f"fraud_scores/{int(top['id'])}")]


def test_the_queue_filters_on_the_server(page, dashboards, workbench):
    login(page, dashboards, "ana", "fraud")
    want = int(store_query(workbench, "select count(*) as n from fraud_scores where run_id = :r "
                                 "and review_state = 'open' and flags like '%\"duplicate\"%'",
                      {"r": workbench["fraud_run"]})["n"].iloc[0])
    page.locator("select").filter(has_text="statistical outlier").select_option("duplicate")
    expect(page.get_by_text(re.compile(rf"of {want:,} · page"))).to_have_count(
        1, timeout=15_000)
    wait_rendered(page)
    assert 0 < want and rows_sent(page, "queue") == min(25, want)
    flags = page.locator(".nx-table-queue .tabulator-row .tabulator-cell[tabulator-field="
                         "'Flags']").all_inner_texts()
    assert flags and all("duplicate" in f for f in flags)
    page.locator(".bk-btn", has_text="Escalated").click()
    expect(page.get_by_text(re.compile(r"of [01] · page"))).to_have_count(1, timeout=15_000)
    wait_rendered(page)
    assert rows_sent(page, "queue") <= 1
    shot(page, "fraud-filtered")


def test_the_judge_sees_no_actions_and_a_forged_clear_is_refused(page, dashboards,
                                                                  workbench):
    login(page, dashboards, "jo", "fraud")
    assert page.get_by_role("button", name="Clear the flag").count() == 0
    assert page.get_by_role("button", name="Escalate into a case").count() == 0
    assert rows_sent(page, "queue") == 25  # the queue itself is there to read
    shot(page, "fraud-judge")
    before = len(audit_rows(workbench["store"], "permission.denied"))
    top = _riskiest_open(workbench)
    bokeh_click(page, "nx-clear")  # the clicks the page never offered
    bokeh_click(page, "nx-escalate")
    refused = until(lambda: (lambda rows: rows if len(rows) >= before + 2 else None)(
        audit_rows(workbench["store"], "permission.denied")))
    assert refused is not None, "the forged clicks were not refused"
    assert [(r["user_id"], r["resource_id"], r["outcome"]) for r in refused[before:]] == [
        ("jo", f"fraud_scores/{int(top['id'])}", "refused")] * 2
    still = store_query(workbench, "select review_state, reviewed_by from fraud_scores where "
                              "id = :i", {"i": int(top["id"])}).iloc[0]
    assert (still["review_state"], still["reviewed_by"]) == ("open", None)
