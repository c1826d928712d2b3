"""Audit analytics in a real browser: the auditor lands on the batteries recorded in the
store, opens a test's findings (its plot, its tables), replays it, and runs the battery on
an uploaded ledger, recorded under their name; a judge may not open the page."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from nexus_lab import auth, workflows
from tests.dashboards._browser import (
    HOSTILE,
    fill_workbench,
    login,
    page_text,
    shot,
    store_query,
    until,
    wait_rendered,
)
from tests.workflows.test_examine import ledger

pytestmark = pytest.mark.slow

TESTS = ["benford", "gaps", "stratify", "summarize"]


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The filled workbench and one battery run by the auditor on a ledger whose file name
    and an account are markup, its outputs in the reports folder."""
    bench = fill_workbench(tmp_path_factory.mktemp("workbench"))
    folder = bench["folder"]
    gl = ledger(1200, seed=4)
    gl.loc[gl["account"] == "6200", "account"] = HOSTILE
    path = folder / f"gl {HOSTILE}.csv"
    gl.to_csv(path, index=False)
    bench["gl"], bench["upload"] = path, folder / "march-gl.csv"
    ledger(700, seed=9).to_csv(bench["upload"], index=False)
    with pytest.MonkeyPatch.context() as mp, auth.acting_as("aud"):
        for name, value in bench["env"].items():  # the workbench's keys and folders
            mp.setenv(name, value)
        bench["run"] = workflows.examine_ledger(
            path, tests=TESTS, store=bench["store"],
            out=folder / "reports" / "examinations" / "first")
    return bench


def test_the_auditor_sees_the_recorded_batteries_and_a_tests_findings(page, dashboards,
                                                                        workbench):
    run = workbench["run"]
    login(page, dashboards, "aud")
    assert page.url.endswith("/examine")  # the auditor lands on audit analytics
    text = page_text(page)
    assert "Batteries run" in text and run.battery_id[:12] in text
    assert f"gl {HOSTILE}.csv" in text  # the file's name shown as text
    assert page.locator("img[src=x]").count() == 0  # never as markup
    rows = page.locator(".nx-table-tests .tabulator-row")
    expect(rows).to_have_count(len(run.battery))
    for name, result in run.battery.items():
        row = page.locator(".nx-table-tests .tabulator-row", has_text=name).first
        expect(row).to_contain_text(result.verdict or "–")
    # a test: its record, its plot (in a sandboxed frame) and its tables
    page.locator(".nx-table-tests .tabulator-row", has_text="summarize").click()
    page.wait_for_timeout(500)
    wait_rendered(page)
    record = run.records["summarize"]
    assert record in page_text(page)
    frame = page.locator("iframe.nx-plot-frame")
    frame.wait_for(timeout=20_000)
    assert frame.get_attribute("sandbox") == ""
    assert page.frame_locator("iframe.nx-plot-frame").locator("svg").count() == 1
    groups = run.battery["summarize"]["groups"]
    table = page.locator(".nx-table-summarize-groups .tabulator-row")
    expect(table).to_have_count(len(groups))
    shot(page, "examine-auditor")

    # replayed on its file: the recorded result, recorded as a replay by the auditor
    page.get_by_role("button", name="Replay this test").click()
    expect(page.locator(".nx-replayed")).to_contain_text("reproduced: summarize",
                                                         timeout=30_000)
    replays = until(lambda: (lambda f: f if len(f) else None)(store_query(
        workbench, "select user_id, resource_id from audit_logs where action = "
        "'examine.replayed'")))
    assert replays.values.tolist() == [["aud", f"examinations/{record}"]]


def test_the_auditor_runs_the_battery_on_an_uploaded_ledger(page, dashboards, workbench):
    login(page, dashboards, "aud", "examine")

    def batteries():
        return set(store_query(workbench, "select distinct battery_id from examinations")[
            "battery_id"])

    before = batteries()
    picker = page.get_by_label("General ledger (data folder)")
    picker.select_option(index=1)  # a ledger of the data folder first, then an upload
    page.locator("input[type=file]").set_input_files(str(workbench["upload"]))
    # the upload has reached the server once the picker shows it is the ledger examined
    assert until(lambda: picker.evaluate("el => el.options[el.selectedIndex].text")
                 == "(upload one below)" or None, 60)
    wait_rendered(page)
    tests = page.get_by_label("Tests (all, or names separated by commas)")
    tests.fill(",".join(TESTS))  # a shorter battery
    tests.press("Enter")
    page.get_by_role("button", name="Run the battery").click()
    new = until(lambda: (batteries() - before) or None, 120)
    assert new is not None and len(new) == 1
    rows = store_query(workbench, "select created_by, data_source, data_rows, workpaper "
                       "from examinations where battery_id = :b", {"b": new.pop()})
    newest = rows.iloc[0]
    assert set(rows["created_by"]) == {"aud"} and set(rows["data_rows"]) == {1400}
    assert newest["data_source"].endswith("-march-gl.csv")  # kept, to be replayed later
    assert os.path.isfile(newest["data_source"]) and os.path.isfile(newest["workpaper"])
    # the page says the run is done, and the batteries list it
    expect(page.locator(".nx-muted", has_text="tests,")).to_contain_text(
        "with findings", timeout=90_000)
    page.reload()
    wait_rendered(page)
    expect(page.locator(".nx-table-batteries .tabulator-row", has_text="march-gl.csv")
           ).to_have_count(1, timeout=90_000)
    shot(page, "examine-run")


def test_a_judge_may_not_open_audit_analytics(page, dashboards, workbench):
    login(page, dashboards, "jo", "examine")
    assert "may not open Audit analytics" in page_text(page)
