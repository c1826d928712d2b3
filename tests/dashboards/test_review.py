"""The reconciliation review in a real browser, against a real server and store."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import nexus_lab as nx
from tests.dashboards._browser import (
    audit_rows,
    bokeh_click,
    login,
    rows_sent,
    shot,
    wait_rendered,
)

pytestmark = pytest.mark.slow


def _store(workbench):
    return nx.store.connect(workbench["store"])


def test_nothing_is_served_without_a_login(dashboards):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for path in ("/", "/review", "/fraud", "/cases"):
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(dashboards + path)
        assert err.value.code == 302 and "/login" in err.value.headers["Location"]


def test_the_websocket_refuses_a_visitor_without_a_login(dashboards):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from tornado.httpclient import HTTPClientError
    from tornado.websocket import websocket_connect

    async def connect():
        return await websocket_connect(dashboards.replace("http", "ws") + "/review/ws")

    # a thread of its own: after a browser test, Playwright's loop runs in this one
    with pytest.raises(HTTPClientError) as err, ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, connect()).result()
    assert err.value.code in (401, 403)


def test_a_wrong_password_is_refused_and_recorded(page, dashboards, workbench):
    page.goto(dashboards + "/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", "not her password")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" in page.url
    assert "Invalid username or password" in page.inner_text("#error-message")
    failed = audit_rows(workbench["store"], "login.failed")
    assert failed and failed[-1]["user_id"] == "ana" and failed[-1]["outcome"] == "refused"


def test_the_examiner_resolves_an_item_and_approves_the_period(page, dashboards, workbench):
    login(page, dashboards, "ana")
    assert page.url.endswith("/review")  # the examiner lands on the review
    shot(page, "review-examiner")
    assert page.get_by_text("Open items by reason").count() >= 0
    assert page.locator(".nx-figure").count() >= 4

    # resolve the first open item as a timing difference
    page.locator(".nx-table-open-items .tabulator-row").first.click()
    page.wait_for_timeout(300)
    wait_rendered(page)
    page.get_by_role("combobox").filter(has_text="Accept the suggested link").select_option(
        "Timing difference")
    page.get_by_placeholder("why").fill("clears on the 2nd")
    page.get_by_role("button", name="Resolve item").click()
    page.wait_for_timeout(1000)
    wait_rendered(page)
    s = _store(workbench)
    done = s.query("select resolution, resolved_by, note from open_items where status = "
                   "'resolved'")
    assert done.to_dict("records")[:1] == [{"resolution": "timing", "resolved_by": "ana",
                                            "note": "clears on the 2nd"}]

    page.get_by_placeholder("e.g. November close").fill("closed in review")
    page.get_by_role("button", name="Approve period").click()
    page.wait_for_timeout(1500)
    wait_rendered(page)
    run = s.query("select status, approved_by, approval_note from reconciliation_runs where "
                  "run_id = :r", {"r": workbench["run_id"]}).iloc[0]
    assert (run["status"], run["approved_by"], run["approval_note"]) == (
        "approved", "ana", "closed in review")
    approved = audit_rows(workbench["store"], "reconciliation.approved")
    assert [(r["user_id"], r["outcome"]) for r in approved] == [("ana", "done")]
    shot(page, "review-approved")
    s.close()


def test_the_judge_sees_no_approval_and_a_forged_one_is_refused(page, dashboards, workbench):
    login(page, dashboards, "jo", "review")
    assert page.get_by_role("button", name="Approve period").count() == 0
    assert page.get_by_role("button", name="Resolve item").count() == 0
    shot(page, "review-judge")
    before = len(audit_rows(workbench["store"], "permission.denied"))
    bokeh_click(page, "nx-approve")  # the click the page never offered
    page.wait_for_timeout(1500)
    refused = audit_rows(workbench["store"], "permission.denied")
    assert len(refused) == before + 1
    assert refused[-1]["user_id"] == "jo" and refused[-1]["outcome"] == "refused"
    assert refused[-1]["resource_id"].startswith("reconciliation_runs/")
    s = _store(workbench)
    runs = s.query("select approved_by from reconciliation_runs")
    assert "jo" not in set(runs["approved_by"].dropna())
    s.close()


def test_the_matches_page_on_the_server_and_explain_their_evidence(page, dashboards,
                                                                   workbench):
    login(page, dashboards, "ana", "review")
    page.locator(".bk-tab", has_text="Matches").click()
    page.wait_for_timeout(300)
    status = page.get_by_text("rows 1–50 of").nth(1)
    total = int(status.inner_text().split(" of ")[1].split(" ")[0].replace(",", ""))
    assert total > 1000 and rows_sent(page, "matches") == 50  # one page, not the run
    page.get_by_placeholder("B0001234 or its start").fill("B000001")
    page.keyboard.press("Enter")
    page.wait_for_timeout(800)
    wait_rendered(page)
    assert 0 < rows_sent(page, "matches") <= 10
    rows = page.locator(".nx-table-matches .tabulator-row")
    rows.first.click()
    page.wait_for_timeout(800)
    assert page.get_by_text("Evidence by field (bits)").count() >= 0
    shot(page, "review-matches")
