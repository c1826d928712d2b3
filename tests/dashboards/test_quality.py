"""The data quality dashboard in a real browser: the compliance officer lands on a score
per source and opens a source's standardization report."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth, workflows
from tests.dashboards._browser import (
    fill_workbench,
    login,
    page_text,
    plot_data,
    shot,
    wait_rendered,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The filled workbench, and two files of March ingested by the examiner: a bank
    statement with zero amounts, blank descriptions and repeated rows, and books where a
    vendor changes category."""
    bench = fill_workbench(tmp_path_factory.mktemp("workbench"))
    folder = bench["folder"]
    bank, ledger, _ = nx.datasets.synth_reconciliation(120, seed=7)
    bank = bank.assign(account="CHK-0002",
                       transaction_id=[f"M{i:05d}" for i in range(len(bank))])
    again = bank.head(6).assign(transaction_id=[f"MD{i:03d}" for i in range(6)])
    bank = pd.concat([bank, again], ignore_index=True)
    bank.loc[10:13, "amount"] = 0
    bank.loc[20:22, "description"] = ""
    bank.to_csv(folder / "bank-march.csv", index=False)
    ledger = ledger.assign(account="2000-Cash",
                           transaction_id=[f"N{i:05d}" for i in range(len(ledger))])
    vendor = ledger["vendor"] == ledger["vendor"].mode()[0]
    ledger.loc[vendor, "category"] = ["travel", "office"] * (int(vendor.sum()) // 2) + \
        ["travel"] * (int(vendor.sum()) % 2)
    ledger.to_csv(folder / "books-march.csv", index=False)
    s = nx.store.connect(bench["store"])
    try:
        with auth.acting_as("ana"):
            workflows.ingest_file(folder / "bank-march.csv", store=s, check_balance=False)
            workflows.ingest_file(folder / "books-march.csv", "expenses", store=s)
        with auth.acting_as("cora"):
            bench["scores"] = workflows.source_quality(s)
    finally:
        s.close()
    return bench


def test_the_compliance_officer_sees_a_score_per_source(page, dashboards, workbench):
    scores = workbench["scores"]
    assert len(scores) == 4 and scores["score"].notna().all()
    login(page, dashboards, "cora")
    assert page.url.endswith("/quality")  # the compliance officer lands on data quality
    chart = plot_data(page, "nx-plot-quality")
    shown = dict(zip(chart["label"], chart["value"], strict=True))
    assert len(shown) == 4
    for _, row in scores.iterrows():
        label = next(k for k in shown if k.startswith(f"{row['source']} (") and
                     k.endswith(f"#{row['batch_id']})"))
        assert shown[label] == pytest.approx(row["score"])
    march = scores.set_index("source").loc["bank-march.csv"]
    assert march["score"] < 100 and march["failing_rules"] == 3
    text = page_text(page)
    assert "bank-march.csv" in text and f"{march['score']:.1f}" in text
    assert "Sources failing a check" in text
    shot(page, "quality-compliance")


def test_a_sources_checks_and_its_standardization_report(page, dashboards, workbench):
    login(page, dashboards, "cora", "quality")
    page.locator(".nx-table-sources .tabulator-row", has_text="bank-march.csv").click()
    page.wait_for_timeout(500)
    wait_rendered(page)
    text = page_text(page)
    assert "amount: not_equal_to(0)" in text and "to fix" in text  # the per-check results
    page.get_by_role("button", name="Show the standardization report").click()
    frame = page.locator("iframe.nx-report-frame")
    frame.wait_for(timeout=60_000)
    assert frame.get_attribute("sandbox") == ""  # no script runs in the report
    report = page.frame_locator("iframe.nx-report-frame")
    assert "Standardization report: bank-march.csv" in report.locator("h1").first.inner_text()
    body = report.locator("body").inner_text()
    assert "Data quality:" in body and "Changes by rule" in body
    assert "duplicate rows: 6 failing" in body
    shot(page, "quality-report")


def test_the_executive_may_not_open_the_quality(page, dashboards, workbench):
    login(page, dashboards, "eve", "quality")
    assert "may not open Data quality" in page_text(page)
    assert os.path.basename(page.url) == "quality"
