"""``/nexus/metrics`` in Prometheus' text format holds the workbench's real figures and
the API's own requests, and each API request writes one JSON log line."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families


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
