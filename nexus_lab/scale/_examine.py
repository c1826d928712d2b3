"""The audit tests that shard, on Dask: each result equals the single-machine
:mod:`nexus_lab.examine` call's on the same rows.

Every test is a map over the partitions and a reduce that hands the kernel's own
"tally -> result" step the tally of the whole table, so the statistics, tables, facts,
warnings and verdict come from the same code as on one machine:

* ``benford`` (every test of :data:`~nexus_lab.examine.BENFORD_TESTS` but
  ``second_order``, whose differences need the amounts sorted across partitions): each
  partition counts its digits (exact cents, integer arithmetic); the counts add. A
  second pass lists, per partition, its largest rows carrying a driving digit; the
  largest of those are the table ``"rows"``.
* ``duplicates`` with exact duplicates on ``same`` (no ``different``, ``near`` or
  ``similar``): the rows are hash-partitioned on their key (money as cents), each bucket
  keeps its rows in table order and runs the kernel; the buckets' groups are renumbered
  by their first rows.
* ``stratify`` and ``summarize``: counts, exact cent totals, minima and maxima add up;
  the extremes are the extremes of every partition's extremes.

Rows are numbered across the whole table (partitions in order), as on one machine.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import os
import warnings
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.examine import Examination, ExamineWarning, duplicates
from nexus_lab.examine import parts as ep
from nexus_lab.frames import read_money
from nexus_lab.scale._cluster import (
    cluster,
    dashboard_link,
    frame_bytes,
    gather,
    n_partitions,
    numbers_dtype,
    workers_of,
)
from nexus_lab.scale._shipped import keep

__all__ = ["SHARDABLE", "examine"]

#: The tests :func:`examine` runs on Dask (the others run on one machine only).
SHARDABLE = ("benford", "duplicates", "stratify", "summarize")


def examine(data: Any, test: str, /, client: Any = None, *, scheduler: str | None = None,
            progress: bool | None = None, **params: Any) -> Examination:
    """Run an audit test of :mod:`nexus_lab.examine` on Dask, partition by partition.

    The result equals ``getattr(nexus_lab.examine, test)(frame, **params)`` on the whole
    table (same test, parameters, tables, facts, warnings and verdict), so it replays on
    one machine.

    Parameters
    ----------
    data : pandas.DataFrame, dask.dataframe.DataFrame or str
        The table; a path, directory or glob of Parquet files (``.csv`` ones for CSV).
    test : str
        One of :data:`SHARDABLE`: ``"benford"``, ``"duplicates"`` (exact duplicates),
        ``"stratify"`` or ``"summarize"``.
    client : distributed.Client, optional
        The cluster to run on; by default a LocalCluster for this call (see
        :func:`nexus_lab.scale.cluster`).
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, instead of ``client``.
    progress : bool, optional
        Dask's progress bar while the partitions run (by default in a terminal or a
        notebook).
    **params
        The test's own arguments, as :mod:`nexus_lab.examine` takes them
        (``test="first_two"``, ``by="account"`` for Benford's law...).

    Returns
    -------
    Examination

    Raises
    ------
    SchemaError
        For a test that does not shard (the message names the one-machine function),
        an argument the test does not take, or the test's own refusals.

    Examples
    --------
    >>> import dask.dataframe as dd  # doctest: +SKIP
    >>> from nexus_lab import scale
    >>> from nexus_lab.datasets import synth_general_ledger
    >>> gl = synth_general_ledger(20_000, seed=0)[0]
    >>> with scale.cluster(workers=2) as client:  # doctest: +SKIP
    ...     r = scale.examine(dd.from_pandas(gl, npartitions=4), "benford",
    ...                       client=client, test="first_two")
    >>> r.verdict  # doctest: +SKIP
    'close'
    """
    if test not in SHARDABLE:
        raise SchemaError(
            f"test={test!r} does not shard on Dask (it reads the rows of the whole table "
            f"together); the tests that do are {', '.join(map(repr, SHARDABLE))}. Run it on "
            f"one machine with nx.examine.{test}(frame, ...)" if _is_examine_test(test) else
            f"test={test!r} is not an audit test; the tests that shard on Dask are "
            f"{', '.join(map(repr, SHARDABLE))}")
    runner = _RUNNERS[test]
    bound = _bound(test, params)
    with cluster(client, scheduler=scheduler) as c:
        parts = _parts(data, c)
        result = runner(_Job(c, parts, progress), bound)
        where = {"workers": workers_of(c), "partitions": len(parts),
                 "dashboard": dashboard_link(c)}
    return dataclasses.replace(result, cluster=where)


def _is_examine_test(test: str) -> bool:
    from nexus_lab import examine as ex

    return test in ex.__all__ and callable(getattr(ex, test)) and test[0].islower()


def _bound(test: str, params: dict[str, Any]) -> dict[str, Any]:
    """The test's arguments, defaults included, as the kernel records them."""
    from nexus_lab import examine as ex

    sig = inspect.signature(getattr(ex, test))
    first = next(iter(sig.parameters))
    try:
        bound = sig.bind(None, **params)
    except TypeError as exc:
        takes = ", ".join(list(sig.parameters)[1:])
        raise SchemaError(f"{test}: {exc}; nx.examine.{test} takes {takes}") from None
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k != first}


# ----------------------------------------------------------------------------- partitions

class _Job:
    """A client, the table's partitions (futures of pandas frames, in order) and the
    progress setting."""

    def __init__(self, client: Any, parts: list[Any], progress: bool | None) -> None:
        self.client, self.parts, self.progress = client, parts, progress

    def map(self, fn: Callable, *args: Any, label: str, parts: list[Any] | None = None,
            each: Sequence[Sequence[Any]] = (), **kwargs: Any) -> list[Any]:
        """``fn(part, *each[i], *args, **kwargs)`` for every partition, in order."""
        parts = self.parts if parts is None else parts
        futures = [self.client.submit(fn, part, *(e[i] for e in each), *args, pure=False,
                                      **kwargs) for i, part in enumerate(parts)]
        return gather(self.client, futures, progress=self.progress, label=label)


def _parts(data: Any, client: Any) -> list[Any]:
    """The table as futures of pandas partitions on the cluster, in order."""
    import dask

    if isinstance(data, pd.DataFrame):
        n = min(n_partitions(frame_bytes(data), client),
                max(len(data), 1))
        cuts = np.linspace(0, len(data), n + 1).astype(np.int64)
        return keep(client, [data.iloc[a:b] for a, b in pairwise(cuts)])
    if isinstance(data, (str, os.PathLike)):
        import dask.dataframe as dd

        path = os.fspath(data)
        with dask.config.set({"dataframe.convert-string": False}):
            try:
                data = dd.read_csv(path) if ".csv" in path.lower() else dd.read_parquet(path)
            except (OSError, ValueError) as exc:
                raise SchemaError(f"data={path!r}: cannot read it as "
                                  f"{'CSV' if '.csv' in path.lower() else 'Parquet'} "
                                  f"({exc}); give a path, directory or glob of Parquet "
                                  "(or .csv) files, or a frame") from None
    if hasattr(data, "to_delayed") and hasattr(data, "npartitions"):
        return client.compute(data.to_delayed())
    raise SchemaError(f"data is a {type(data).__name__}: give a pandas or dask DataFrame, or "
                      "a path or glob of Parquet or CSV files")


def _numbers(values: pd.Series, column: str) -> pd.Series:
    """``values`` when they are numbers. Amounts written as text are refused: their
    decimal mark is decided from the whole column's values (``12,50`` anywhere makes
    ``1,234`` a decimal comma), which no partition sees."""
    if len(values) and not numbers_dtype(values.dtype):
        raise SchemaError(
            f"{column}: the amounts are written as text ({values.dtype}, e.g. "
            f"{values.dropna().iloc[0]!r} if values.notna().any() else 'empty'); on Dask they "
            "must be numbers, since a text column's decimal mark is decided from all its "
            "values at once. Convert the column to numbers first (nx.read_table or "
            "nx.standardize read it), or run the test on one machine with nx.examine",
            column=column)
    return values


def _offsets(lengths: Sequence[int]) -> list[int]:
    """Each partition's first row number in the whole table."""
    return np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64).tolist()


def _top_rows(frames: list[pd.DataFrame], key: np.ndarray, limit: int) -> pd.DataFrame:
    """The ``limit`` rows of the partitions' lists with the largest ``key``, ties by row."""
    kept = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(kept, ignore_index=True)
    order = np.lexsort((out["row"].to_numpy(), -key))[:limit]
    return out.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------------- benford

def _benford_tally(part: pd.DataFrame, p: dict[str, Any], spec: Any) -> ep.BenfordTally:
    data = ep.table(part, [p["column"], p["by"] or ""], ["transaction_id"], p["columns"])
    _numbers(data[p["column"]], p["column"])
    return ep.benford_tally(data, p["column"], spec, p["by"], p["sign"])[0]


def _benford_rows(part: pd.DataFrame, offset: int, p: dict[str, Any], spec: Any,
                  hit: np.ndarray, limit: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The partition's ``limit`` largest rows carrying a hit, numbered in the table, and
    their sizes in cents."""
    data = ep.table(part, [p["column"], p["by"] or ""], ["transaction_id"], p["columns"])
    _, read = ep.benford_tally(data, p["column"], spec, p["by"], p["sign"])
    at = ep.benford_top(read.values, read.codes, hit, limit)
    rows = ep.benford_rows(at, read.keep, read.cents, read.codes, spec.low, None, data, p["by"],
                    negative=p["sign"] == "negative")
    size = np.abs(read.cents[rows["row"].to_numpy()])
    rows["row"] += offset
    return rows, size


def _benford(job: _Job, p: dict[str, Any]) -> Examination:
    spec = ep.benford_spec(p["test"], p["sign"], p["confidence"], p["limit"], p["min_rows"])
    if spec.name == "second_order":
        raise SchemaError(
            "benford test='second_order' does not shard on Dask: it reads the differences "
            "between the amounts sorted across the whole table; run it on one machine with "
            "nx.examine.benford(frame, test='second_order')")
    tallies = job.map(_benford_tally, p, spec, label="benford: counting digits")
    offsets = _offsets([t.facts["rows"] for t in tallies])

    def rows_of(hit: np.ndarray, limit: int) -> pd.DataFrame:
        # no rows wanted: the first partition gives the empty table its columns
        parts = job.parts if limit else job.parts[:1]
        found = job.map(_benford_rows, p, spec, hit, limit, parts=parts,
                        each=[offsets], label="benford: the rows of the drivers")
        return _top_rows([f for f, _ in found], np.concatenate([k for _, k in found]), limit)

    return ep.benford_result(ep.BenfordTally.add(tallies), spec, column=p["column"], by=p["by"],
                        sign=p["sign"], confidence=p["confidence"], min_rows=p["min_rows"],
                        limit=p["limit"], params=p, rows_of=rows_of)


# ------------------------------------------------------------------------------ duplicates

def _split(part: pd.DataFrame, offset: int, buckets: int, p: dict[str, Any]) -> list[Any]:
    """The partition's rows in ``buckets`` parts by a hash of their key (equal keys, in
    the kernel's sense, share a bucket), each with the rows' numbers in the table."""
    part = part.rename(columns=str)
    same, money, _ = ep.duplicate_keys(list(part.columns), p["same"], p["columns"])
    keys = {}
    for c in same:
        values = part[c]
        if c in money:  # money compares as cents: 0.1 + 0.2 equals 0.30
            values = _numbers(values, c)
            missing = values.isna().to_numpy()
            cents = np.zeros(len(values), np.int64)
            cents[~missing] = read_money(values[~missing], table="table", column=c)[0]
            values = pd.Series(cents)  # a blank as 0: a shared bucket, told apart there
        keys[c] = values.reset_index(drop=True)
    frame = pd.DataFrame(keys)
    code = (pd.util.hash_pandas_object(frame, index=False).to_numpy() % np.uint64(buckets)
            if same else np.zeros(len(part), np.uint64)).astype(np.int64)
    order = np.argsort(code, kind="stable")
    cuts = np.r_[0, np.cumsum(np.bincount(code, minlength=buckets))]
    rows = np.arange(offset, offset + len(part), dtype=np.int64)
    return [(part.iloc[order[a:b]], rows[order[a:b]]) for a, b in pairwise(cuts)]


def _bucket(*pieces: tuple[pd.DataFrame, np.ndarray], p: dict[str, Any]) -> dict[str, Any]:
    """The kernel's exact duplicates of one bucket, rows numbered in the table."""
    frame = pd.concat([f for f, _ in pieces], ignore_index=True)
    rows = np.concatenate([r for _, r in pieces])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExamineWarning)  # the note is made for the table
        res = duplicates(frame, **p)
    groups, found = res["groups"].copy(), res["rows"].copy()
    groups["first_row"] = rows[groups["first_row"].to_numpy()]
    for c in ("row", "matched_to"):
        found[c] = rows[found[c].to_numpy()]
    _, _, amount = ep.duplicate_keys(list(frame.columns), p["same"], p["columns"])
    blank = frame[amount].isna().to_numpy() if amount is not None else np.zeros(0, bool)
    return {"groups": groups, "rows": found, "at_risk": groups.attrs["at_risk_cents"],
            "n": len(frame), "amount": amount, "blank": int(blank.sum()),
            "first_blank": int(rows[np.argmax(blank)]) if blank.any() else None}


def _duplicates(job: _Job, p: dict[str, Any]) -> Examination:
    fuzzy = [k for k in ("different", "near", "similar") if p[k]]
    if fuzzy:
        raise SchemaError(
            f"duplicates with {', '.join(f'{k}=' for k in fuzzy)} does not shard on Dask: "
            "its near and similar pairs cross any partition of the rows; shard exact "
            "duplicates (same= only) here, or run it on one machine with "
            "nx.examine.duplicates(frame, ...)")
    lengths = job.map(len, label="duplicates: sizing partitions")
    offsets = _offsets(lengths)
    n = len(job.parts)
    c = job.client
    splits = [c.submit(_split, part, off, n, p, pure=False)
              for part, off in zip(job.parts, offsets, strict=True)]
    futures = [c.submit(_bucket, *(c.submit(operator.getitem, s, j) for s in splits), p=p,
                        pure=False) for j in range(n)]
    buckets = gather(c, futures, progress=job.progress, label="duplicates: buckets")
    groups = _concat([b["groups"] for b in buckets])
    rows = _concat([b["rows"] for b in buckets])
    # the buckets' groups, numbered apart, then renumbered by their first rows
    base = np.r_[0, np.cumsum([len(b["groups"]) for b in buckets])[:-1]]
    local = np.concatenate([b["groups"]["group"].to_numpy() + o - 1
                            for b, o in zip(buckets, base, strict=True)])
    rank = np.empty(len(groups), np.int64)
    rank[np.argsort(groups["first_row"].to_numpy(), kind="stable")] = np.arange(len(groups))
    number = np.empty(len(groups), np.int64)
    number[local] = rank + 1
    groups["group"] = number[local]
    groups = groups.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    old = np.concatenate([b["rows"]["group"].to_numpy() + o - 1
                          for b, o in zip(buckets, base, strict=True)])
    rows["group"] = number[old]
    rows = rows.iloc[np.lexsort((rows["row"].to_numpy(), rows["group"].to_numpy()))]
    rows = rows.reset_index(drop=True)
    groups.attrs["at_risk_cents"] = sum(b["at_risk"] for b in buckets)
    blank = sum(b["blank"] for b in buckets)
    first = min((b["first_blank"] for b in buckets if b["first_blank"] is not None),
                default=None)
    return ep.duplicates_result(p, groups, rows, sum(lengths), buckets[0]["amount"], blank,
                                first)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one after another (empty ones only give the columns)."""
    kept = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(kept, ignore_index=True)


# ------------------------------------------------------------------------------- profiles

def _cents(part: pd.DataFrame, column: str, others: list[str],
           p: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray]:
    data = ep.table(part, [*others, column], ["transaction_id"], p["columns"])
    ids = data["transaction_id"].to_numpy() if "transaction_id" in data else None
    return data, read_money(_numbers(data[column], column), table=ep.NAME, column=column,
                            ids=ids)[0]


def _span(part: pd.DataFrame, p: dict[str, Any]) -> tuple[int, int | None, int | None] | None:
    cents = _cents(part, p["column"], [], p)[1]
    return ep.amount_span(cents) if len(cents) else None


def _candidates(data: pd.DataFrame, cents: np.ndarray, offset: int, picked: pd.DataFrame,
                **extra: np.ndarray) -> pd.DataFrame:
    """The rows a partition's own extremes list: those the table's can hold."""
    at = np.unique(picked["row"].to_numpy())
    out = {"_row": at + offset, "_cents": cents[at]}
    if "transaction_id" in data:
        out["transaction_id"] = data["transaction_id"].to_numpy()[at]
    out.update({k: v[at] for k, v in extra.items()})
    return pd.DataFrame(out)


def _strata_part(part: pd.DataFrame, offset: int, p: dict[str, Any],
                 strata: ep.Strata) -> tuple[pd.DataFrame, pd.DataFrame]:
    data, cents = _cents(part, p["column"], [], p)
    codes = strata.codes(cents)
    band = strata.band_of(codes)
    picked = ep.extremes(cents, band, "band", data, p["top"])
    return ep.amount_tally(codes, cents), _candidates(data, cents, offset, picked, _band=band)


def _add_tallies(tallies: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(tallies).groupby(level=0).agg(
        {"count": "sum", "sum": "sum", "min": "min", "max": "max"})


def _extremes_of(cand: pd.DataFrame, top: int, **kw: Any) -> pd.DataFrame:
    """The table's extremes from the partitions' candidates (in table order)."""
    data = cand[["transaction_id"]] if "transaction_id" in cand else cand.iloc[:, :0]
    out = ep.extremes(cand["_cents"].to_numpy(), kw.pop("label", None), kw.pop("name", None),
                       data, top, **kw)
    out["row"] = cand["_row"].to_numpy()[out["row"].to_numpy()]
    return out


def _stratify(job: _Job, p: dict[str, Any]) -> Examination:
    bands = p["bands"]
    span: tuple[int, int | None, int | None] = (0, None, None)
    if bands is None or isinstance(bands, (int, np.integer)):
        spans = [s for s in job.map(_span, p, label="stratify: the range") if s is not None]
        lows = [s[1] for s in spans if s[1] is not None]
        span = (max(s[0] for s in spans), min(lows) if lows else None,
                max(s[2] for s in spans if s[2] is not None) if lows else None)
    strata = ep.Strata(ep.band_edges(span, bands))
    lengths = job.map(len, label="stratify: sizing partitions")
    out = job.map(_strata_part, p, strata, each=[_offsets(lengths)], label="stratify: bands")
    cand = pd.concat([c for _, c in out], ignore_index=True).sort_values(
        "_row", kind="stable").reset_index(drop=True)
    extremes = _extremes_of(cand, p["top"], label=cand["_band"].to_numpy(), name="band")
    return ep.stratified(p, strata, _add_tallies([t for t, _ in out]), extremes)


def _summary_part(part: pd.DataFrame, offset: int, p: dict[str, Any],
                  keys: list[str]) -> dict[str, Any]:
    data, cents = _cents(part, p["values"], keys, p)
    codes, names = ep.group_codes(data, keys)
    picked = ep.extremes(cents, None, None, data, p["top"], groups=codes, keys=keys,
                          group_of=names.to_numpy(), place=np.arange(len(names)))
    units = pd.Series(cents / 100.0).groupby(codes)
    moments = pd.DataFrame({"n": units.count(), "mean": units.mean(),
                            "m2": units.var(ddof=0) * units.count()})
    return {"names": names, "tally": ep.amount_tally(codes, cents), "moments": moments,
            "cand": _candidates(data, cents, offset, picked, _group=codes)}


def _summarize(job: _Job, p: dict[str, Any]) -> Examination:
    keys = [p["by"]] if isinstance(p["by"], str) else list(p["by"])
    if not keys:
        raise SchemaError("by=[]: name at least one column to group by")
    lengths = job.map(len, label="summarize: sizing partitions")
    out = job.map(_summary_part, p, keys, each=[_offsets(lengths)], label="summarize: groups")
    code, names = ep.group_codes(_concat([o["names"] for o in out]), keys)
    base = np.r_[0, np.cumsum([len(o["names"]) for o in out])[:-1]]
    tallies, moments, cands = [], [], []
    for o, b in zip(out, base, strict=True):  # local group codes to the table's
        glob = code[b:b + len(o["names"])]
        tallies.append(o["tally"].set_axis(glob[o["tally"].index.to_numpy()]))
        moments.append(o["moments"].set_axis(glob[o["moments"].index.to_numpy()]))
        cands.append(o["cand"].assign(_group=glob[o["cand"]["_group"].to_numpy()]))
    std = _pooled_std(pd.concat(moments))
    cand = pd.concat(cands, ignore_index=True).sort_values("_row", kind="stable")
    cand = cand.reset_index(drop=True)

    def extremes_of(place: np.ndarray) -> pd.DataFrame:
        return _extremes_of(cand, p["top"], groups=cand["_group"].to_numpy(), keys=keys,
                            group_of=names.to_numpy(), place=place)

    return ep.summarized(p, names, _add_tallies(tallies), std, extremes_of)


def _pooled_std(moments: pd.DataFrame) -> pd.Series:
    """The standard deviation per group (index) from the parts' counts, means and sums of
    squared deviations (Chan et al.'s pairwise update)."""
    n = moments["n"].groupby(level=0).sum()
    mean = (moments["n"] * moments["mean"]).groupby(level=0).sum() / n
    spread = moments["n"] * (moments["mean"] - mean.reindex(moments.index).to_numpy()) ** 2
    m2 = (moments["m2"] + spread).groupby(level=0).sum()
    return (m2 / (n - 1)).where(n > 1) ** 0.5


_RUNNERS: dict[str, Callable[[_Job, dict[str, Any]], Examination]] = {
    "benford": _benford, "duplicates": _duplicates, "stratify": _stratify,
    "summarize": _summarize}
