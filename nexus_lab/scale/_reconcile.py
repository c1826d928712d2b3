"""A reconciliation on a Dask cluster, equal to the single-machine one.

What runs where. The engine's first tier, the pairs of one amount on both sides within
the date window (most of a statement's links), is cut by amount: every candidate pair of
that tier has one amount on both sides, so the rows are sharded by a hash of their amount
and no pair crosses a shard (no halo is needed: a shard holds every row its pairs can
reach, whatever their dates). Each shard, on a worker, finds its candidate pairs, their
comparison levels and name similarities; the match weights are then learned from all of
them on the client, in the order one machine makes them, and each shard's connected
groups are assigned one-to-one on the workers with the whole problem's costs.

The later tiers (settlement runs, batch payments and installments, plans, amounts
within tolerance) link rows across amounts and across months (a counterparty's payments
reach 60 days back, a lender's plan a year), so they are not cut by amount or date:
each open row's search is its own, among all the other side's open rows. The open rows
of the searching side are cut into two parts per worker; every part runs on a worker with
the tables' columns (shipped once per job, not per task) and returns its claims. What
couples the rows runs on the client, on all the claims in the order one machine makes
them: claims on one row settled by confidence, the odds of a split read from every
search, the recurring fees and the amount model learned from every pair within
tolerance, the one-to-one assignment. Lines naming their parts, the model's fit and the
output (explanations, reasons) run on the client too.

So the result equals :func:`nexus_lab.reconcile`'s exactly: the same links, confidences,
reasons and explanations (tested on the generator's profiles), and the client holds both
tables, as it would alone.

Inputs are read where they are: a pandas (polars, Arrow) frame as it is; a dask
DataFrame computed on the cluster (a store's table or query too, read in partitions by
the workers: ``dask.dataframe.read_sql_table`` or ``read_sql_query`` on the store's
URL); a file in any format :func:`nexus_lab.files.read_table`
reads; a folder or glob of Parquet or CSV files read piece by piece on the workers (each
with ``read_table``, so that CSV text reaches the engine as written) and put together in
the files' order.

The result's ``params["dask"]`` says on how many workers and shards it ran, with the
Dask dashboard's link, shown in its notebook view, its report and its MLflow run.
"""

from __future__ import annotations

import glob
import inspect
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.scale._cluster import (
    cluster,
    dashboard_link,
    frame_bytes,
    gather,
    n_partitions,
    workers_of,
)

_PIECES = (".parquet", ".pq", ".csv")


def reconcile(bank: Any, ledger: Any, client: Any = None, *, scheduler: str | None = None,
              workers: int | None = None, progress: bool | None = None,
              **reconcile_kwargs: Any) -> Any:
    """Reconcile a bank statement against a ledger on a Dask cluster, as
    :func:`nexus_lab.reconcile` would on one machine.

    Parameters
    ----------
    bank, ledger : DataFrame, dask DataFrame, str or path
        The tables: pandas, polars or Arrow frames, dask DataFrames (a store's table
        read by the workers: ``dd.read_sql_table("bank_statements", url,
        index_col=...)``), a file (CSV, Excel, Parquet, OFX, CAMT.053, MT940: what
        ``nexus-lab reconcile`` reads), or a folder or glob of Parquet or CSV files.
    client : distributed.Client, optional
        An existing cluster's client (left open). By default a LocalCluster of one
        worker per core is started for the call and closed after it.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler instead of ``client``.
    workers : int, optional
        Worker processes of the LocalCluster started when neither is given.
    progress : bool, optional
        Dask's progress bar (a widget in a notebook, text in a terminal); by default
        when the session is interactive.
    **reconcile_kwargs
        What :func:`nexus_lab.reconcile` takes: ``amount_tolerance``, ``date_window``,
        ``device``, ``columns``, ``sign``, ``decimal``, ``dayfirst``.

    Returns
    -------
    ReconcileResult
        Equal to ``nexus_lab.reconcile(bank, ledger, **reconcile_kwargs)``; its
        ``params["dask"]`` holds ``scheduler``, ``workers``, ``partitions`` (the shards)
        and ``dashboard``.

    Raises
    ------
    SchemaError
        Bad input, as :func:`nexus_lab.reconcile` names it; an argument it does not take.
    ClusterError
        When the scheduler cannot be reached (the message names the address).

    Examples
    --------
    >>> import nexus_lab as nx
    >>> from nexus_lab import scale
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=0)
    >>> res = scale.reconcile(bank, ledger, workers=2, device="cpu")  # doctest: +SKIP
    >>> res.params["dask"]["workers"]  # doctest: +SKIP
    2
    """
    from nexus_lab.reconcile import reconcile as one_machine

    # what the engine takes, less the tables and the shards this call gives it
    allowed = set(inspect.signature(one_machine).parameters) - {"bank", "ledger", "shards"}
    unknown = sorted(set(reconcile_kwargs) - allowed)
    if unknown:
        raise SchemaError(f"scale.reconcile takes no {', '.join(unknown)}; give what "
                          f"nexus_lab.reconcile takes: {', '.join(sorted(allowed))}")
    with cluster(client, scheduler=scheduler, workers=workers) as c:
        columns = reconcile_kwargs.get("columns")
        frames = [_frame(c, data, name, progress, _columns_of(columns, name))
                  for data, name in ((bank, "bank"), (ledger, "ledger"))]
        nbytes = sum(frame_bytes(f) for f in frames
                     if isinstance(f, pd.DataFrame))
        count = n_partitions(nbytes, c, at_least=2 * workers_of(c))
        shards = _DaskShards(c, count, workers_of(c), progress)
        res = one_machine(*frames, shards=shards, **reconcile_kwargs)
        res.params["dask"] = {"scheduler": str(c.scheduler.address), "workers": workers_of(c),
                              "partitions": count, "dashboard": dashboard_link(c)}
    return res


# what the progress bar says each kind of shard does
_LABELS = {
    "_exact_shard": "reconcile: exact amounts",
    "solve_rest": "reconcile: one-to-one groups",
    "_run_claims": "reconcile: settlement runs",
    "_split_claims": "reconcile: batch payments and installments",
    "_plan_claims": "reconcile: installment plans",
    "_tolerance_candidates": "reconcile: amounts within tolerance",
    "_levels_part": "reconcile: comparing pairs within tolerance",
}


class _DaskShards:
    """The engine's shards (``nexus_lab.reconcile``'s ``shards=``) as Dask tasks.

    Shared values are scattered to the workers (a worker fetches from another what its
    tasks need): about five times faster than carrying them in a task's graph
    (RESULTS.md), for the sides of a reconciliation (hundreds of MB). Scattered data
    has no task to run again: a value lost with the only worker holding it is
    scattered once more when it is shared next, and a map whose tasks were cancelled
    because it was lost while they ran scatters it again and runs again (its tasks are
    functions of their arguments).
    """

    _TRIES = 3  # runs of one map, each after workers holding shared values were lost

    def __init__(self, client: Any, count: int, workers: int, progress: bool | None) -> None:
        self.client, self.count, self.workers, self.progress = client, count, workers, progress
        # what was shared, by identity (held, so that no other value takes its id)
        self._shared: dict[int, tuple[Any, Any]] = {}

    def share(self, value: Any) -> Any:
        held = self._shared.get(id(value))
        if held is None or held[1].status != "finished":  # new, or lost with a worker
            held = self._shared[id(value)] = (value, self._scatter(value))
        return held[1]

    def _scatter(self, value: Any) -> Any:
        # a list of one: scatter() would cut a list, tuple or dict into pieces; a new key
        # each time (hash=False): two jobs sharing equal values must not share a key.
        # Dask's route (direct or through the scheduler) reaches a cluster whose workers
        # this process cannot connect to
        return self.client.scatter([value], hash=False)[0]

    def map(self, fn: Callable[..., Any], items: list[tuple], **shared: Any) -> list:
        if not items:
            return []
        from distributed.client import FutureCancelledError

        for _ in range(self._TRIES - 1):
            try:
                return self._run(fn, items, shared)
            except FutureCancelledError:
                # run again only when a value this map shares was lost
                held = {h.key: vid for vid, (_, h) in self._shared.items()}
                lost = {k: held[v.key] for k, v in shared.items()
                        if getattr(v, "key", None) in held and v.status != "finished"}
                if not lost:
                    raise
                shared = {**shared, **{k: self.share(self._shared[vid][0])
                                       for k, vid in lost.items()}}
        return self._run(fn, items, shared)

    def _run(self, fn: Callable[..., Any], items: list[tuple], shared: dict) -> list:
        # the shared columns sit on the worker that took them: left to itself, Dask would
        # run every part there, next to its data. The parts are dealt round the workers
        # instead (each fetches the columns once); a part whose worker is lost runs on
        # another
        workers = sorted(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        with warnings.catch_warnings():  # the shards' row numbers travel with their tasks
            warnings.filterwarnings("ignore", message="Sending large graph")
            futures = [self.client.submit(
                fn, *item, pure=False, **shared,
                **({"workers": [workers[k % len(workers)]], "allow_other_workers": True}
                   if workers else {}))
                for k, item in enumerate(items)]
        label = _LABELS.get(fn.__name__, "")
        return gather(self.client, futures, progress=self.progress, label=label)


def _columns_of(columns: Any, name: str) -> dict[str, str]:
    """The column names ``columns=`` gives for table ``name`` (one mapping for both, or
    ``{"bank": {...}, "ledger": {...}}``): files are read with them, as the CLI reads
    them (ids and money columns kept as written)."""
    if not isinstance(columns, Mapping):
        return {}
    if set(columns) <= {"bank", "ledger"} and all(isinstance(v, Mapping)
                                                  for v in columns.values()):
        return {str(k): str(v) for k, v in (columns.get(name) or {}).items()}
    return {str(k): str(v) for k, v in columns.items() if isinstance(v, str)}


def _frame(client: Any, data: Any, name: str, progress: bool | None,
           columns: dict[str, str]) -> Any:
    """A table as the engine takes it: frames as they are, the rest read on the cluster."""
    import dask.dataframe as dd

    if isinstance(data, dd.DataFrame):
        return client.compute(data).result().reset_index(drop=True)
    if not isinstance(data, str | os.PathLike):
        return data
    from nexus_lab.files import read_table

    path = os.fspath(data)
    pieces = _pieces(path, name)
    if pieces is None:
        return read_table(path, name=name, columns=columns)
    parts = gather(client, client.map(read_table, pieces, name=name, columns=columns,
                                      pure=False),
                   progress=progress, label=f"reconcile: reading {name}")
    return pd.concat(parts, ignore_index=True)


def _pieces(path: str, name: str) -> list[str] | None:
    """The Parquet or CSV files of a folder or glob, in order; None for a single file."""
    if os.path.isdir(path):
        found = sorted(p for p in glob.glob(os.path.join(path, "*"))
                       if p.lower().endswith(_PIECES))
        where = f"the folder {path}"
    elif glob.has_magic(path):
        found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
        where = f"the pattern {path}"
    else:
        if not os.path.exists(path):
            raise SchemaError(f"{name}={path!r}: no such file; give a file, a folder of "
                              "Parquet or CSV files, or a glob such as 'parts/*.parquet'",
                              table=name)
        return None
    if not found:
        raise SchemaError(f"{name}: {where} holds no Parquet or CSV file", table=name)
    odd = [p for p in found if not p.lower().endswith(_PIECES)]
    if odd:
        raise SchemaError(f"{name}: {where} holds {os.path.basename(odd[0])}, neither "
                          "Parquet nor CSV; give the pieces of one table only", table=name)
    kinds = {os.path.splitext(p)[1].lower().replace(".pq", ".parquet") for p in found}
    if len(kinds) > 1:
        raise SchemaError(f"{name}: {where} mixes Parquet and CSV files; give one kind",
                          table=name)
    return found
