"""Data quality per source: each ingested file scored on the rows it wrote, a page of
sources at a time, and its standardization report with every value escaped."""

from __future__ import annotations

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth, workflows
from nexus_lab.errors import NexusError, PermissionDenied


@pytest.fixture
def sources(tmp_path, store_url):
    s = nx.store.connect(store_url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        for user, role in (("ana", "examiner"), ("cora", "compliance_officer"),
                           ("eve", "executive")):
            auth.add_user(user, role=role, store=s)
    bank, ledger, _ = nx.datasets.synth_reconciliation(80, seed=2)
    clean = bank.assign(account="CHK-1")
    messy = bank.assign(account="CHK-2", transaction_id=[f"X{i:04d}" for i in range(len(bank))])
    messy = pd.concat([messy, messy.head(4).assign(transaction_id=["D1", "D2", "D3", "D4"])],
                      ignore_index=True)
    messy.loc[5:6, "amount"] = 0
    messy.loc[10, "description"] = "  <script>alert('x')</script>  "  # standardized away
    clean.to_csv(tmp_path / "clean.csv", index=False)
    messy.to_csv(tmp_path / "messy.csv", index=False)
    ledger.to_csv(tmp_path / "books.csv", index=False)
    with auth.acting_as("ana"):
        for name, table in (("clean.csv", "bank_statements"), ("books.csv", "expenses"),
                            ("messy.csv", "bank_statements")):
            workflows.ingest_file(tmp_path / name, table, store=s, check_balance=False)
        workflows.ingest_file(tmp_path / "clean.csv", store=s, check_balance=False)  # again
    yield s, len(bank) + 4
    s.close()


def test_each_source_is_scored_on_the_rows_it_wrote(sources):
    sources, rows = sources
    with auth.acting_as("cora"):
        scores = workflows.source_quality(sources)
    assert scores.attrs["total"] == 4
    assert scores["source"].tolist() == ["clean.csv", "messy.csv", "books.csv", "clean.csv"]
    again = scores.iloc[0]  # the file ingested again wrote nothing: nothing to score
    assert (again["rows_written"], again["rows_checked"]) == (0, 0) and pd.isna(again["score"])
    messy = scores.iloc[1]
    assert messy["rows_checked"] == rows and messy["score"] < 100
    failing = messy["checks"].set_index("rule")["failing_rows"]
    assert failing["amount: not_equal_to(0)"] == 2 and failing["duplicate rows"] == 4
    assert messy["failing_rules"] == 2
    assert scores.iloc[2]["kind"] == "ledger" and scores.iloc[3]["score"] == 100.0


def test_sources_come_a_page_at_a_time(sources):
    sources, rows = sources
    with auth.acting_as("cora"):
        first = workflows.source_quality(sources, limit=3)
        rest = workflows.source_quality(sources, offset=3, limit=3)
        few = workflows.source_quality(sources, offset=1, limit=1, max_rows=10)
        with pytest.raises(NexusError, match="1 to 200"):
            workflows.source_quality(sources, limit=0)
        with pytest.raises(NexusError, match="from an offset of 0 to 9,007,199,254,740,991"):
            workflows.source_quality(sources, offset=10**20)
    assert len(first) == 3 and len(rest) == 1 and rest.attrs["total"] == 4
    assert set(first["batch_id"]).isdisjoint(rest["batch_id"])
    assert few["rows_checked"].tolist() == [10] and few["rows_written"].tolist() == [rows]


def test_the_report_names_the_source_and_escapes_its_values(sources):
    sources, _ = sources
    with auth.acting_as("cora"):
        messy = workflows.source_quality(sources, offset=1, limit=1).iloc[0]
        page = workflows.source_report(int(messy["batch_id"]), store=sources, device="cpu")
    assert page.startswith("<!doctype html>") and "Standardization report: messy.csv" in page
    assert "Changes by rule" in page and "duplicate rows: 4 failing" in page
    assert "&lt;script&gt;alert(" in page and "<script" not in page  # shown, never run


def test_reading_the_quality_needs_financial_read_and_a_known_source(sources):
    sources, _ = sources
    with auth.acting_as("eve"):
        with pytest.raises(PermissionDenied, match=r"financial\.read"):
            workflows.source_quality(sources)
        with pytest.raises(PermissionDenied):
            workflows.source_report(1, store=sources)
    with auth.acting_as("cora"):
        with pytest.raises(NexusError, match="no source 99"):
            workflows.source_report(99, store=sources)
    projects, _, _ = nx.datasets.synth_projects(2, seed=1)
    batch = sources.ingest("projects", projects)
    assert batch
    last = int(sources.query("select max(id) as i from ingest_batches")["i"].iloc[0])
    with auth.acting_as("cora"), pytest.raises(NexusError, match="only bank_statements"):
        workflows.source_report(last, store=sources)
