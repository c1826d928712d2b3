"""``/nexus/metrics``: the workbench and its API in Prometheus' text format.

Read from the store (the figures are the store's, whoever wrote them):

=======================================  ==================================================
metric                                   what it counts
=======================================  ==================================================
``nexus_workflow_runs_total``            runs saved per ``workflow`` (``reconciliation``,
                                         ``fraud``, ``notebook``)
``nexus_workflow_failures_total``        of them, failed (notebook runs; a reconciliation
                                         or fraud run that fails saves nothing)
``nexus_workflow_duration_seconds``      their run time (a summary: ``_count``, ``_sum``;
                                         reconciliations and notebook runs record theirs)
``nexus_store_rows``                     rows per ``table`` of the store
``nexus_open_exceptions``                open items of the saved reconciliations still open
``nexus_open_fraud_flags``               scored transactions still open for fraud review
``nexus_cases``                          cases per ``status``
``nexus_store_up``                       1 when the store answered its last reading, else 0
=======================================  ==================================================

and counted by the server itself: ``nexus_api_requests_total`` (per ``route``,
``method``, ``status``) and ``nexus_api_request_duration_seconds`` (a histogram per
``route`` and ``method``).

The store is read at most once every 10 seconds, however often and however many at once
scrape: a scrape sooner than that answers the figures of the last reading (counting the
rows of every table of a large store is no work to repeat on every request).

Each server has a registry of its own (not prometheus_client's global one), so two
servers in one process count apart. The route is authenticated like the API: Prometheus
sends the server's token (``authorization: {credentials: TOKEN, type: token}`` in its
scrape configuration, i.e. the header ``Authorization: token TOKEN``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import generate_latest
from tornado import web

from nexus_lab.jupyter._handlers import NexusHandler

__all__ = ["HANDLERS", "Metrics", "MetricsHandler"]

log = logging.getLogger("nexus_lab.jupyter")

# the run time a reconciliation records in its summary, as each engine reads JSON
_SECONDS = {"sqlite": "json_extract(summary, '$.seconds')",
            "postgresql": "cast(summary ->> 'seconds' as double precision)"}


class _StoreCollector:
    """The store's figures, read at a scrape when the last reading is ``min_interval``
    seconds old or more (one reading at a time)."""

    def __init__(self, store: Any, min_interval: float) -> None:
        self.store = store
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at >= self.min_interval:
                self._families = self._read()
                self._read_at = time.monotonic()
            families = self._families
        yield GaugeMetricFamily("nexus_store_up", "1 when the store answered its last "
                                "reading", value=1 if families else 0)
        yield from families

    def _read(self) -> list[Metric]:
        try:
            return self._families_now()
        except Exception:  # the scrape still answers: the store is down
            log.warning("metrics: the store %s did not answer", self.store.where, exc_info=True)
            return []

    def _families_now(self) -> list[Metric]:
        s = self.store
        recon = s.query(f"select count(*) as n, count({_SECONDS[s.dialect]}) as timed, "
                        f"coalesce(sum({_SECONDS[s.dialect]}), 0) as seconds "
                        "from reconciliation_runs").iloc[0]
        fraud = s.query("select count(*) as n from fraud_runs").iloc[0]
        notebooks = s.query(
            "select count(*) as n, coalesce(sum(case when status = 'failed' then 1 else 0 "
            "end), 0) as failed, count(duration_s) as timed, coalesce(sum(duration_s), 0) "
            "as seconds from notebook_runs").iloc[0]
        runs = CounterMetricFamily("nexus_workflow_runs", "Runs saved in the store, per "
                                   "workflow", labels=["workflow"])
        failures = CounterMetricFamily("nexus_workflow_failures", "Runs saved as failed, "
                                       "per workflow", labels=["workflow"])
        durations = SummaryMetricFamily("nexus_workflow_duration_seconds", "Run time of the "
                                        "runs that record one, per workflow",
                                        labels=["workflow"])
        for workflow, row, failed in (("reconciliation", recon, 0), ("fraud", fraud, 0),
                                      ("notebook", notebooks, notebooks["failed"])):
            runs.add_metric([workflow], int(row["n"]))
            failures.add_metric([workflow], int(failed))
        for workflow, row in (("reconciliation", recon), ("notebook", notebooks)):
            durations.add_metric([workflow], count_value=int(row["timed"]),
                                 sum_value=float(row["seconds"]))
        rows = GaugeMetricFamily("nexus_store_rows", "Rows per table of the store",
                                 labels=["table"])
        for table, n in s.tables().itertuples(index=False, name=None):
            rows.add_metric([table], int(n))
        open_items = s.query("select count(*) as n from open_items where status = 'open'")
        flags = s.query("select count(*) as n from fraud_scores where review_state = 'open'")
        by_status = GaugeMetricFamily("nexus_cases", "Cases per status", labels=["status"])
        for status, n in s.query("select status, count(*) as n from cases group by status "
                                 "order by status").itertuples(index=False, name=None):
            by_status.add_metric([status], int(n))
        return [runs, failures, durations, rows,
                GaugeMetricFamily("nexus_open_exceptions", "Open items of the saved "
                                  "reconciliations still open",
                                  value=int(open_items["n"].iloc[0])),
                GaugeMetricFamily("nexus_open_fraud_flags", "Scored transactions still open "
                                  "for fraud review", value=int(flags["n"].iloc[0])),
                by_status]


class Metrics:
    """One server's metrics: its own registry, the API's requests and the store's figures.

    Parameters
    ----------
    store : Store
        The store whose figures the scrapes read.
    min_interval : float, default 10
        Seconds a reading of the store serves the scrapes that follow it.
    """

    def __init__(self, store: Any, min_interval: float = 10.0) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("nexus_api_requests", "Requests to the NEXUS API",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("nexus_api_request_duration_seconds", "Time to answer a "
                                 "request to the NEXUS API", ["route", "method"],
                                 registry=self.registry)
        self.registry.register(_StoreCollector(store, min_interval))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def exposition(self) -> bytes:
        """Everything, in Prometheus' text format (reads the store)."""
        return generate_latest(self.registry)


class MetricsHandler(NexusHandler):
    """``GET /nexus/metrics``."""

    @web.authenticated
    async def get(self) -> None:
        metrics = self.workbench.metrics
        if metrics is None:
            raise web.HTTPError(404, "the server's metrics are not set up")
        text = await asyncio.to_thread(metrics.exposition)
        self.finish(text, set_content_type=CONTENT_TYPE_LATEST)


HANDLERS: list[tuple[str, type]] = [("/nexus/metrics", MetricsHandler)]
