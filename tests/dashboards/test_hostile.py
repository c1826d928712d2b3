"""The dashboards as an adversary uses them: markup kept in the store's text, values the
page never offers sent through Bokeh, and dashboards opened without the permission."""

from __future__ import annotations

import pytest

from tests.dashboards._browser import (
    HOSTILE,
    audit_rows,
    bokeh_click,
    fill_workbench,
    login,
    page_text,
    shot,
    store_query,
    until,
    wait_rendered,
)

pytestmark = pytest.mark.slow

# markup that ran: an element made of the store's text (in the page or a shadow root)
_INJECTED = """() => {
    const found = [];
    const walk = (node) => {
        if (node.shadowRoot) walk(node.shadowRoot);
        for (const el of node.children || []) {
            if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') found.push('img');
            if (el.tagName === 'SCRIPT' && el.textContent.includes('alert(')) found.push('script');
            walk(el);
        }
    };
    walk(document);
    return found;
}"""

# a model's property set as the browser would send it (a forged value)
_SET = """([cls, prop, value]) => {
    const m = [...Bokeh.documents[0].all_models].find(
        m => (m.css_classes || []).includes(cls));
    if (!m) throw new Error('no model with class ' + cls);
    m[prop] = value;
}"""


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    return fill_workbench(tmp_path_factory.mktemp("hostile"), hostile=True)


@pytest.fixture
def dialogs(page):
    """The dialogs a page opened (an ``alert`` is markup that ran)."""
    opened: list[str] = []
    page.on("dialog", lambda d: (opened.append(d.message), d.dismiss()))
    return opened


def _open(page, base: str, path: str) -> None:
    page.goto(f"{base}/{path}")
    page.wait_for_load_state("networkidle")
    wait_rendered(page)
    page.wait_for_timeout(800)


def _visit(page, base: str, path: str) -> str:
    """Open ``path``, its tabs and the first rows of its tables; the text it shows."""
    _open(page, base, path)
    for tab in page.locator(".bk-tab").all():
        tab.click()
        page.wait_for_timeout(500)
    for row in page.locator(".tabulator-row").all()[:2]:
        row.click()
        page.wait_for_timeout(400)
    report = page.get_by_role("button", name="Show the standardization report")
    if report.count():
        report.click()
        page.wait_for_timeout(1500)
    wait_rendered(page)
    return page_text(page)


def test_every_dashboard_shows_markup_from_the_store_as_text(page, dashboards, dialogs):
    page.goto(dashboards + "/login")
    page.fill("input[name=username]", HOSTILE)  # an examiner whose very name is markup
    page.fill("input[name=password]", "hostile-passphrase")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    wait_rendered(page)
    seen = {path: _visit(page, dashboards, path) for path in
            ("", "review", "fraud", "cases", "overview", "quality", "examine")}
    assert page.evaluate(_INJECTED) == [] and dialogs == []
    assert f"{HOSTILE} (examiner)" in seen["review"]  # the header names the user
    assert HOSTILE in seen["fraud"] and f"{HOSTILE}.csv" in seen["quality"]
    assert f"{HOSTILE}<script>alert(2)</script> title" in seen["cases"]
    shot(page, "hostile-cases")
    for user, path in (("pat", "cases"), ("eve", "overview"), ("lead", "models")):
        page.context.clear_cookies()
        login(page, dashboards, user)
        _visit(page, dashboards, path)
        assert page.evaluate(_INJECTED) == [] and dialogs == [], (user, path)


def test_a_message_shows_markup_as_text(page, dashboards, workbench, dialogs):
    login(page, dashboards, "ana")
    ours = f"{HOSTILE}1"  # a bank transaction id that is markup, left open
    page.locator(".nx-filter-search input").fill(ours)
    page.keyboard.press("Enter")
    page.wait_for_timeout(1000)
    wait_rendered(page)
    page.locator(".nx-table-open-items .tabulator-row").first.click()
    page.wait_for_timeout(500)
    page.get_by_role("combobox").filter(has_text="Accept the suggested link").select_option(
        "Timing difference")
    page.get_by_role("button", name="Resolve item").click()
    assert until(lambda: True if f"Resolved {ours} (timing)" in page_text(page) else None)
    assert store_query(workbench, "select status from open_items where transaction_id = :t",
                       {"t": ours})["status"].tolist() == ["resolved"]

    page.get_by_role("button", name="Signed report").click()  # a message of a refusal
    page.get_by_placeholder("all, or 2025-11, 2025-Q4, 2025").fill(HOSTILE)
    page.keyboard.press("Enter")
    page.get_by_text("Make and download the signed report").click()
    assert until(lambda: True if f"the period '{HOSTILE}'" in page_text(page) else None)
    shot(page, "hostile-message")
    assert page.evaluate(_INJECTED) == [] and dialogs == []


def test_a_page_number_out_of_range_is_refused_with_a_message(page, dashboards):
    login(page, dashboards, "ana")
    page.evaluate(_SET, ["nx-page", "value", 10**20])  # no page has this number
    assert until(lambda: True if "offset" in page_text(page) else None)
    page.evaluate(_SET, ["nx-page", "value", -5])
    page.wait_for_timeout(1000)
    assert "rows 1–50 of" in page_text(page)  # the first page


def test_an_auditors_forged_resolution_is_refused_recorded_and_changes_nothing(
        page, dashboards, workbench):
    login(page, dashboards, "aud", "review")
    assert page.get_by_role("button", name="Resolve item").count() == 0
    page.locator(".nx-table-open-items .tabulator-row").first.click()
    page.wait_for_timeout(500)
    before = store_query(workbench, "select count(*) as n from open_items where status = "
                         "'resolved'")["n"].iloc[0]
    bokeh_click(page, "nx-resolve")  # the click the page never offered
    refused = until(lambda: [r for r in audit_rows(workbench["store"], "permission.denied")
                             if r["user_id"] == "aud"] or None)
    assert refused and refused[-1]["resource_id"].startswith("open_items/")
    assert "Refused: aud (auditor) may not reconciliation.resolve" in page_text(page)
    assert store_query(workbench, "select count(*) as n from open_items where status = "
                       "'resolved'")["n"].iloc[0] == before


def test_opening_a_dashboard_without_the_permission_is_refused_and_recorded(
        page, dashboards, workbench):
    login(page, dashboards, "eve")
    _open(page, dashboards, "review")
    assert "may not open Reconciliation review" in page_text(page)
    refused = [r for r in audit_rows(workbench["store"], "permission.denied")
               if r["user_id"] == "eve"]
    assert refused and refused[-1]["resource_id"] == "dashboards/review"
