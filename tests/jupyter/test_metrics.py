"""``/nexus/metrics`` in Prometheus' text format holds the workbench's real figures and
the API's own requests, and each API request writes one JSON log line."""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

import nexus_lab as nx
from nexus_lab.jupyter._metrics import Metrics


async def _scrape(jp_fetch) -> dict:
    """``{(sample name, frozenset of labels): value}`` of one scrape."""
    response = await jp_fetch("nexus", "metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.body.decode())
            for s in family.samples}


def _one(store, sql: str) -> int:
    return int(store.query(sql).iloc[0, 0])


async def test_metrics_count_what_the_store_holds(jp_fetch, store):
    got = await _scrape(jp_fetch)
    assert got[("nexus_store_up", frozenset())] == 1

    def runs(workflow: str, name: str = "nexus_workflow_runs_total") -> float:
        return got[(name, frozenset({("workflow", workflow)}))]

    assert runs("reconciliation") == _one(store, "select count(*) from reconciliation_runs") > 0
    assert runs("fraud") == _one(store, "select count(*) from fraud_runs") > 0
    assert runs("notebook") == _one(store, "select count(*) from notebook_runs")
    assert runs("notebook", "nexus_workflow_failures_total") == _one(
        store, "select count(*) from notebook_runs where status = 'failed'")
    assert runs("reconciliation", "nexus_workflow_duration_seconds_count") == runs(
        "reconciliation")  # each one records its run time
    seconds = sum(s["seconds"] for s in store.read("reconciliation_runs")["summary"])
    assert runs("reconciliation", "nexus_workflow_duration_seconds_sum") == seconds
    for table, rows in store.tables().itertuples(index=False, name=None):
        assert got[("nexus_store_rows", frozenset({("table", table)}))] == rows
    assert got[("nexus_open_exceptions", frozenset())] == _one(
        store, "select count(*) from open_items where status = 'open'") > 0
    assert got[("nexus_open_fraud_flags", frozenset())] == _one(
        store, "select count(*) from fraud_scores where review_state = 'open'") > 0
    assert got[("nexus_cases", frozenset({("status", "open")}))] == 1


async def test_metrics_count_the_apis_requests_by_route_and_status(jp_fetch, workbench):
    for _ in range(2):
        await jp_fetch("nexus", "api", "whoami")
    await jp_fetch("nexus", "api", "cases", "NO-SUCH-CASE", "timeline", raise_error=False)
    await jp_fetch("nexus", "api", "whoami", headers={"Authorization": ""}, raise_error=False)
    got = await _scrape(jp_fetch)  # this server's own counts: each test has a server

    def requests(route: str, status: str) -> float:
        return got.get(("nexus_api_requests_total", frozenset(
            {("route", route), ("method", "GET"), ("status", status)})), 0)

    assert requests("/nexus/api/whoami", "200") == 2
    assert requests("/nexus/api/whoami", "403") == 1
    assert requests("/nexus/api/cases/{case_id}/timeline", "404") == 1
    assert got[("nexus_api_request_duration_seconds_count", frozenset(
        {("route", "/nexus/api/whoami"), ("method", "GET")}))] == 3


async def test_each_request_writes_one_json_log_line(jp_fetch, workbench):
    logger = logging.getLogger("nexus_lab.jupyter")
    (handler,) = [h for h in logger.handlers if type(h.formatter).__name__ == "JsonFormatter"]
    buffer = io.StringIO()
    before = handler.setStream(buffer)
    try:
        await jp_fetch("nexus", "api", "whoami")
        await jp_fetch("nexus", "api", "cases", workbench["case_id"], "timeline")
        await jp_fetch("nexus", "api", "models", "nexus-fraud", "promote", method="POST",
                       body=b"[]", raise_error=False)
    finally:
        handler.setStream(before)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(line["method"], line["route"], line["status"], line["user"]) for line in lines] == [
        ("GET", "/nexus/api/whoami", 200, "lead"),
        ("GET", "/nexus/api/cases/{case_id}/timeline", 200, "lead"),
        ("POST", "/nexus/api/models/{name}/promote", 400, "lead")]
    assert all(line["time"].endswith("Z") and line["ms"] >= 0 and line["logger"] ==
               "nexus_lab.jupyter" for line in lines)
    assert not logger.propagate  # the root logger's handlers do not repeat the lines


def _rows(metrics: Metrics, table: str) -> float:
    text = metrics.exposition().decode()
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "nexus_store_rows" and s.labels == {"table": table})


@pytest.fixture
def small_store(store_url):
    """A new store, on SQLite and on PostgreSQL."""
    with nx.store.connect(store_url) as s:
        s.migrate()
        yield s


def test_the_store_is_read_at_most_once_a_while_however_often_it_is_scraped(small_store,
                                                                              tables):
    statements = []
    sa.event.listen(small_store.engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))
    metrics = Metrics(small_store, min_interval=3600)
    with ThreadPoolExecutor(8) as pool:  # scrapes at once: one reading of the store
        list(pool.map(lambda _: metrics.exposition(), range(8)))
    selects = [st for st in statements if st.lower().startswith("select")]
    assert selects and len(selects) == len(set(selects))  # each query once
    assert _rows(metrics, "bank_statements") == 0
    small_store.ingest("bank_statements", tables[0])
    before = len(statements)
    assert _rows(metrics, "bank_statements") == 0  # the figures of the last reading
    assert len(statements) == before
    assert _rows(Metrics(small_store, min_interval=0), "bank_statements") == len(tables[0])


def test_each_engine_reads_the_figures(small_store):
    small_store.execute(
        "insert into reconciliation_runs (run_id, status, created_by, created_at, summary) "
        "values ('R1', 'open', 'ana', :at, :summary)",
        {"at": "2025-03-01 12:00:00", "summary": json.dumps({"seconds": 2.5})})
    small_store.execute(
        "insert into open_items (run_id, side, transaction_id, reason, status) values "
        "('R1', 'bank', :t, 'no match', :status)",
        [{"t": f"T{i}", "status": "open" if i % 3 else "resolved"} for i in range(9)])
    text = Metrics(small_store).exposition().decode()
    got = {(s.name, frozenset(s.labels.items())): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    assert got[("nexus_store_up", frozenset())] == 1
    assert got[("nexus_open_exceptions", frozenset())] == 6
    assert got[("nexus_store_rows", frozenset({("table", "open_items")}))] == 9
    reconciliation = frozenset({("workflow", "reconciliation")})
    assert got[("nexus_workflow_duration_seconds_sum", reconciliation)] == 2.5
    assert got[("nexus_workflow_duration_seconds_count", reconciliation)] == 1
