"""The reconciliation review in a real browser, against a real server and store."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

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

    from tornado.httpclient import HTTPClientError
    from tornado.websocket import websocket_connect

    async def connect():
        return await websocket_connect(dashboards.replace("http", "ws") + "/review/ws")

    # a thread of its own: Playwright's sync API keeps an event loop running in this one
    # once a browser test of the session has run
    with ThreadPoolExecutor(1) as pool, pytest.raises(HTTPClientError) as err:
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
    done = until(lambda: store_query(
        workbench, "select resolution, resolved_by, note from open_items where status = "
        "'resolved'").to_dict("records")[:1] or None)  # the server acts in a thread
    assert done == [{"resolution": "timing", "resolved_by": "ana",
                     "note": "clears on the 2nd"}]
    wait_rendered(page)

    page.get_by_placeholder("e.g. November close").fill("closed in review")
    page.get_by_role("button", name="Approve period").click()
    run = until(lambda: next(iter(store_query(
        workbench, "select status, approved_by, approval_note from reconciliation_runs where "
        "run_id = :r and status = 'approved'", {"r": workbench["run_id"]}).to_dict("records")),
        None))
    assert run == {"status": "approved", "approved_by": "ana",
                   "approval_note": "closed in review"}
    wait_rendered(page)
    approved = audit_rows(workbench["store"], "reconciliation.approved")
    assert [(r["user_id"], r["outcome"]) for r in approved] == [("ana", "done")]
    shot(page, "review-approved")


def test_the_judge_sees_no_approval_and_a_forged_one_is_refused(page, dashboards, workbench):
    login(page, dashboards, "jo", "review")
    assert page.get_by_role("button", name="Approve period").count() == 0
    assert page.get_by_role("button", name="Resolve item").count() == 0
    shot(page, "review-judge")
    before = len(audit_rows(workbench["store"], "permission.denied"))
    bokeh_click(page, "nx-approve")  # the click the page never offered
    refused = until(lambda: audit_rows(workbench["store"], "permission.denied")[before:]
                    or None)
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
    status = page.locator(".nx-table-matches-status").get_by_text("rows 1–50 of")
    status.wait_for()
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


def test_a_signed_report_downloads_and_verifies(page, dashboards, workbench, tmp_path):
    login(page, dashboards, "ana", "review")
    page.get_by_role("button", name="Signed report").click()  # open the card
    page.wait_for_timeout(300)
    with page.expect_download(timeout=60_000) as got:
        page.get_by_text("Make and download the signed report").click()
    report = tmp_path / got.value.suggested_filename
    got.value.save_as(report)
    assert report.suffix == ".pdf" and report.read_bytes().startswith(b"%PDF")
    page.wait_for_timeout(500)
    with page.expect_download() as got_sig:
        page.get_by_text("Signature (.sig)").click()
    sig = tmp_path / got_sig.value.suggested_filename
    got_sig.value.save_as(sig)
    with page.expect_download() as got_pub:
        page.get_by_text("Signer's public key").click()
    pub = tmp_path / got_pub.value.suggested_filename
    got_pub.value.save_as(pub)
    checked = subprocess.run([sys.executable, "-m", "nexus_lab.cli", "verify", str(report),
                              "--sig", str(sig), "--pub", str(pub)], capture_output=True,
                             text=True)
    assert checked.returncode == 0, checked.stderr
    signed = audit_rows(workbench["store"], "report.signed")
    assert signed and signed[-1]["user_id"] == "ana"
    shot(page, "review-report")
