"""The executive overview in a real browser: the executive lands on it and sees charts of
the store's own figures, and nothing that names an account or a person."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import nexus_lab as nx
from tests.dashboards._browser import (
    PEOPLE,
    fill_workbench,
    login,
    page_text,
    plot_data,
    shot,
    wait_rendered,
)

pytestmark = pytest.mark.slow

PLOTS = {"nx-plot-rate", "nx-plot-age", "nx-plot-exposure", "nx-plot-cases", "nx-plot-flagged",
         "nx-plot-monthly-rate"}
CASES = {"open": 2, "under_investigation": 1, "closed": 1}


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """A year of books reconciled month by month, fraud scores, and a few cases."""
    bench = fill_workbench(tmp_path_factory.mktemp("workbench"), monthly=True)
    s = nx.store.connect(bench["store"])
    n = 0
    for status, count in CASES.items():
        for _ in range(count):
            n += 1
            s.execute("insert into cases (case_id, title, status, created_by) values "
                      "(:c, :t, :s, 'pat')", {"c": f"2025-FR-{n:03d}", "t": f"case {n}",
                                               "s": status})
    s.close()
    return bench


def _plots(page) -> set[str]:
    return set(page.evaluate("""() => [...Bokeh.documents[0].all_models]
        .filter(m => m.name && m.name.startsWith('nx-plot-')).map(m => m.name)"""))


def _expected(store_url: str) -> dict:
    """The figures read straight from the store's rows (one run per month here)."""
    s = nx.store.connect(store_url)
    try:
        runs = s.query("select run_id, period_end, rate from reconciliation_runs "
                       "order by period_end")
        items = s.query("select o.date, o.amount_cents from open_items o where "
                        "o.status = 'open'")
        scores = s.read("fraud_scores", where={"review_state": "open"},
                        columns=["flags", "amount_cents"])
    finally:
        s.close()
    as_of = pd.to_datetime(runs["period_end"]).max()
    age = (as_of - pd.to_datetime(items["date"])).dt.days
    bands = pd.cut(age, [-10**6, 30, 60, 90, 10**6], labels=False)
    scores["flags"] = [list(f) or ["high risk score"] for f in scores["flags"]]
    exposure = (scores.explode("flags")
                .assign(cents=lambda t: t["amount_cents"].abs())
                .groupby("flags")["cents"].sum())
    return {"rates": runs["rate"].tolist(),
            "bands": [int((bands == i).sum()) for i in range(4)],
            "exposure": exposure.to_dict(), "at_risk": int(scores["amount_cents"].abs().sum())}


def test_the_executive_lands_on_the_overview_and_sees_the_stores_figures(page, dashboards,
                                                                         workbench):
    login(page, dashboards, "eve")
    assert page.url.endswith("/overview")  # the executive lands on the overview
    assert _plots(page) == PLOTS  # every chart is drawn, none left empty
    shot(page, "overview-executive")
    want = _expected(workbench["store"])

    rate = plot_data(page, "nx-plot-rate")
    assert rate["label"][0] == "Jan 2025" and rate["label"][-1] == "Dec 2025"
    assert rate["value"] == pytest.approx(want["rates"])
    assert plot_data(page, "nx-plot-age")["value"] == want["bands"]
    exposure = plot_data(page, "nx-plot-exposure")
    assert dict(zip(exposure["label"], exposure["value"], strict=True)) == pytest.approx(
        {flag: cents / 100 for flag, cents in want["exposure"].items()})
    cases = plot_data(page, "nx-plot-cases")
    assert dict(zip(cases["label"], cases["value"], strict=True)) == {
        status.replace("_", " "): n for status, n in CASES.items()}
    assert len(plot_data(page, "nx-plot-flagged")["label"]) == 12

    text = page_text(page)
    assert f"{want['at_risk'] // 100:,}.{want['at_risk'] % 100:02d}" in text  # headline
    assert f"{100 * want['rates'][-1]:.1f}%" in text
    # aggregates only: no account, no one else's name
    assert not re.search(r"CHK-\d|ACCT-\d|1000-Cash|B\d{7}|L\d{7}", text)
    others = [u for u in PEOPLE if u != "eve"]
    assert not re.search(r"\b(" + "|".join(others) + r")\b", text, flags=re.IGNORECASE)


def test_fewer_periods_redraw_the_charts(page, dashboards, workbench):
    login(page, dashboards, "aud", "overview")
    assert len(plot_data(page, "nx-plot-rate")["label"]) == 12
    page.get_by_role("button", name="last 6").click()
    for plot in ("nx-plot-rate", "nx-plot-monthly-rate"):  # redrawn by the server's threads
        page.wait_for_function(
            "(name) => [...Bokeh.documents[0].all_models].filter(m => m.name === name).pop()"
            ".renderers[0].data_source.data.label.length === 6", arg=plot)
    wait_rendered(page)
    assert plot_data(page, "nx-plot-rate")["label"][0] == "Jul 2025"
    assert len(plot_data(page, "nx-plot-monthly-rate")["label"]) == 6
    assert "Open exceptions" in page_text(page)
    shot(page, "overview-auditor-six-months")


def test_a_point_of_view_without_the_permission_is_refused(page, dashboards, workbench):
    login(page, dashboards, "pat", "overview")
    assert "may not open Executive overview" in page_text(page)
    assert _plots(page) == set()
