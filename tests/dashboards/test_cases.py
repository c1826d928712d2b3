"""The cases in a real browser: a flag escalated by the examiner reaches the prosecutor and
the judge, verifies, moves on, and a tampered evidence file fails verification."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

import nexus_lab as nx
from tests.dashboards._browser import (
    audit_rows,
    bokeh_click,
    login,
    shot,
    store_query,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.slow


def _the_case(workbench) -> str | None:
    found = store_query(workbench, "select case_id from cases order by created_at")
    return found["case_id"].iloc[0] if len(found) else None


@pytest.fixture
def case_id(workbench):
    """The workbench's case; escalated as the examiner, through the service, when the
    browser test that escalates one did not run first."""
    have = _the_case(workbench)
    if have is not None:
        return have
    from nexus_lab import audit, review, workflows

    old = {k: os.environ.get(k) for k in workbench["env"]}
    os.environ.update(workbench["env"])
    s = nx.store.connect(workbench["store"])
    try:
        with audit.acting_as("ana"):
            top = review.fraud_queue_page(workbench["fraud_run"], limit=1, store=s)[0]
            return workflows.escalate_to_case(int(top["id"].iloc[0]), "duplicate payments",
                                              store=s)["case_id"]
    finally:
        s.close()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _verify(page):
    page.get_by_role("button", name="Verify now").click()
    verdict = page.locator("[data-nx=verdict]")
    expect(verdict).to_have_count(1, timeout=20_000)
    wait_rendered(page)
    return verdict.inner_text()


def test_an_escalated_flag_reaches_the_prosecutor_as_a_case_that_verifies(page, dashboards,
                                                                          workbench):
    login(page, dashboards, "ana", "fraud")
    page.locator(".bk-tab", has_text="Escalate").click()
    page.get_by_placeholder("what the case should look into").fill("duplicate invoices")
    page.get_by_role("button", name="Escalate into a case").click()
    case_id = until(lambda: _the_case(workbench))
    assert case_id is not None and case_id.startswith("FR-")
    assert [r["user_id"] for r in audit_rows(workbench["store"], "fraud.flag_escalated")] \
        == ["ana"]

    page.context.clear_cookies()
    login(page, dashboards, "pat")
    assert page.url.endswith("/cases")  # the prosecutor lands on the cases
    expect(page.locator(".nx-table-cases .tabulator-row", has_text=case_id)).to_have_count(1)
    page.locator(".bk-tab", has_text="Evidence and custody").click()
    evidence = page.locator(".nx-table-evidence .tabulator-row")
    expect(evidence).to_have_count(2)
    assert "flagged.csv" in evidence.first.inner_text()
    custody = page.locator(".nx-table-custody .tabulator-row")
    expect(custody).to_have_count(2)
    assert "intake" in custody.first.inner_text() and "ana" in custody.first.inner_text()
    assert _verify(page) == "PASS"
    shot(page, "cases-prosecutor")

    # the prosecutor moves the case on, with a reason
    page.get_by_placeholder("why it moves on").fill("subpoena sent to the bank")
    page.get_by_role("button", name="Change status").click()
    moved = until(lambda: (lambda r: r if r == "under_investigation" else None)(
        store_query(workbench, "select status from cases where case_id = :c",
               {"c": case_id})["status"].iloc[0]))
    assert moved == "under_investigation"
    with nx.cases.CaseStore(workbench["env"]["NEXUS_LAB_CASES"]) as room:
        assert room.case(case_id).status == "under_investigation"
    changed = audit_rows(workbench["store"], "case.status_changed")
    assert [(r["user_id"], r["resource_id"]) for r in changed] == [("pat", f"cases/{case_id}")]


def test_the_judge_reads_the_case_and_a_forged_status_change_is_refused(page, dashboards,
                                                                        workbench, case_id):
    login(page, dashboards, "jo")
    assert page.url.endswith("/cases")
    expect(page.locator(".nx-table-cases .tabulator-row", has_text=case_id)).to_have_count(1)
    assert page.get_by_role("button", name="Change status").count() == 0
    assert _verify(page) == "PASS"  # verifying is for anyone who reads cases
    shot(page, "cases-judge")
    status = store_query(workbench, "select status from cases where case_id = :c",
                    {"c": case_id})["status"].iloc[0]
    before = len(audit_rows(workbench["store"], "permission.denied"))
    bokeh_click(page, "nx-status")  # the click the page never offered
    refused = until(lambda: (lambda rows: rows if len(rows) > before else None)(
        audit_rows(workbench["store"], "permission.denied")))
    assert refused is not None, "the forged status change was not refused"
    assert (refused[-1]["user_id"], refused[-1]["resource_id"], refused[-1]["outcome"]) == (
        "jo", f"cases/{case_id}", "refused")
    assert store_query(workbench, "select status from cases where case_id = :c",
                  {"c": case_id})["status"].iloc[0] == status


def test_a_tampered_evidence_file_fails_verification_naming_the_broken_link(page, dashboards,
                                                                             workbench,
                                                                             case_id):
    sealed = Path(workbench["env"]["NEXUS_LAB_CASES"]) / "evidence" / case_id / "E-0001.nxs"
    blob = bytearray(sealed.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one byte
    sealed.write_bytes(bytes(blob))
    login(page, dashboards, "jo")
    assert _verify(page) == "FAIL"
    broken = page.get_by_text("First broken link:").locator("..").inner_text()
    assert f"case {case_id}, evidence E-0001" in broken and "sealed file" in broken
    shot(page, "cases-tampered")
    verified = audit_rows(workbench["store"], "case.verified")
    assert verified[-1]["user_id"] == "jo"


def test_the_judge_downloads_the_signed_case_report(page, dashboards, workbench, tmp_path):
    from tests.dashboards._browser import login

    login(page, dashboards, "jo")
    assert page.url.endswith("/cases")
    page.get_by_role("button", name="Signed report").click()
    with page.expect_download(timeout=60_000) as got:
        page.get_by_text("Make and download the signed report").click()
    report = tmp_path / got.value.suggested_filename
    got.value.save_as(report)
    assert report.name.startswith("case-judge-") and report.read_bytes().startswith(b"%PDF")
