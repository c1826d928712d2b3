"""Fraud scores of a table too large for one machine, equal to the detector's own.

How the rows are cut: by account. Every signal of a row reads either the fitted
history (kept in the detector), or the scored rows of its own account (velocity and
sums around it, gaps to its neighbours, exact and near duplicates, its earlier
payments, its first payment to a vendor, its share of payments to that vendor,
Benford's law over the account), or the scored rows of every account: the accounts
new to its vendor, Benford's law over its vendor, and whether the dates carry a time
of day. So the rows are partitioned by a hash of the account (as text, as the detector
reads it): every account's rows lie in one partition, in their input order. The
signals that read every account come from a first pass: each partition's
:meth:`~nexus_lab.fraud.FraudDetector.batch_totals`, combined on the client, then
given to every partition's :meth:`~nexus_lab.fraud.FraudDetector.score` as ``batch=``.
No time window crosses accounts, so no halo is needed.

The detector travels once to every worker, as its state
(:meth:`~nexus_lab.fraud.FraudDetector.to_state`), and is rebuilt there once per
worker. The scores are put back in the order of the input rows.

Saving the scores: a run's record (``fraud_runs`` with its ``fraud_scores``, rows open
for review) is kept by :func:`nexus_lab.workflows.save_fraud_scores`, a service above
this one; give it the scores this returns.

Amounts written as text need the detector's ``decimal=`` (``"."`` or ``","``): with
``"auto"`` the mark is decided from all of a column's values, which no partition sees
(``1,234`` is a thousand in one partition and 1.234 beside ``12,50``), so such a column
is refused. Numeric dates written as text (``03/04/2025``) are settled per partition by a
day above 12 or refused; give ``dayfirst=`` to the detector to say it once.

The result's ``attrs["dask"]`` says on how many workers and partitions it was scored,
with the Dask dashboard's link; its notebook view shows them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.frames import find_column
from nexus_lab.scale._cluster import (
    cluster,
    dashboard_link,
    frame_bytes,
    gather,
    n_partitions,
    numbers_dtype,
    workers_of,
)
from nexus_lab.scale._shipped import keep, rebuilt, ship

_ROW = "__nexus_row"
_KEY = "__nexus_part"


def score_fraud(transactions: Any, detector: Any, client: Any = None, *,
                scheduler: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Score transactions for fraud on a Dask cluster, as ``detector.score`` would.

    Parameters
    ----------
    transactions : DataFrame, dask DataFrame, str or path
        The rows to score: a pandas or dask DataFrame, or the path (a glob allowed) of
        Parquet (``.parquet``, ``.pq`` or a folder of them) or CSV (``.csv``) files.
    detector : FraudDetector
        A fitted :class:`nexus_lab.fraud.FraudDetector`.
    client : distributed.Client, optional
        The cluster to run on; by default a LocalCluster for this call.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, instead of ``client``.
    progress : bool, optional
        Show Dask's progress bar (by default in a terminal or a notebook).

    Returns
    -------
    ScoredTransactions
        Equal to ``detector.score(transactions)``: the same rows in the same order,
        the same columns and values.

    Raises
    ------
    SchemaError
        When ``detector`` is not a FraudDetector, when the path is neither Parquet nor
        CSV, or when a transaction id is repeated.
    NotFittedError
        When the detector is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> from nexus_lab import scale
    >>> tx = nx.datasets.synth_transactions(2_000, seed=1)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> with scale.cluster(workers=2) as client:  # doctest: +SKIP
    ...     scored = scale.score_fraud(tx, det, client)
    >>> scored.equals(det.score(tx))  # doctest: +SKIP
    True
    """
    from nexus_lab.fraud import FraudDetector

    if not isinstance(detector, FraudDetector):
        raise SchemaError(f"detector is a {type(detector).__name__}; give a fitted "
                          "nexus_lab.fraud.FraudDetector (FraudDetector().fit(history))")
    state = detector.to_state()  # refuses a detector that is not fitted
    frame = _dask_frame(transactions)
    columns = dict(detector.columns or {})
    have = [str(c) for c in frame.columns]
    account = columns.get("account") or find_column(have, "account")
    ids = columns.get("transaction_id") or find_column(have, "transaction_id")
    amount = columns.get("amount") or find_column(have, "amount")
    if amount in have and detector.decimal == "auto" and not numbers_dtype(frame[amount].dtype):
        raise SchemaError(
            f"{amount}: the amounts are written as text; on Dask give the detector their "
            "decimal mark, e.g. detector.set_params(decimal=\",\") for 1.234,56 or \".\" for "
            "1,234.56 (a text column's mark is otherwise decided from all its values at "
            "once, which no partition sees), or convert the column to numbers",
            column=amount)
    with cluster(client, scheduler=scheduler) as c:
        # partitions sized from the data: a frame in memory by its size, files by their
        # own pieces (a Parquet file or row group, a block of CSV), at least one per worker
        n = (n_partitions(frame_bytes(transactions), c)
             if isinstance(transactions, pd.DataFrame)
             else max(frame.npartitions, workers_of(c)))
        parts = _by_account(frame, account if account in have else None, n)
        parts = c.persist(parts)
        from distributed import futures_of

        pieces = futures_of(parts)
        shipped, digest = ship(c, state)
        found = gather(c, c.map(_totals, pieces, state=shipped, digest=digest,
                                ids=ids if ids in have else None, pure=False),
                       progress=progress, label="fraud: batch totals")
        found = [t for t in found if t is not None]
        if ids in have and len(found):
            hashes = np.concatenate([h for _, h in found])
            if len(np.unique(hashes)) < len(hashes):  # a repeated id (or, rarely, a hash
                _check_unique(c, parts, ids)  # shared by two ids: then it finds none)
        totals = [t for t, _ in found]
        whole = type(totals[0]).combine(totals) if totals else None
        batch = keep(c, [whole])[0]
        scored = gather(c, c.map(_score, pieces, state=shipped, digest=digest, batch=batch,
                                 pure=False), progress=progress, label="fraud: scores")
        info = {"workers": workers_of(c), "partitions": len(pieces),
                "dashboard": dashboard_link(c)}
    scored = [s for s in scored if s is not None]
    if not scored:
        raise SchemaError("transactions has no rows: give at least one transaction to score")
    rows = np.concatenate([r for r, _ in scored])
    out = pd.concat([s for _, s in scored], ignore_index=True)
    out = type(scored[0][1])(out.iloc[np.argsort(rows, kind="stable")].reset_index(drop=True))
    out.attrs["dask"] = info
    return out


def _dask_frame(transactions: Any) -> Any:
    """The input as a dask DataFrame."""
    import dask.dataframe as dd

    if isinstance(transactions, dd.DataFrame):
        return transactions
    if isinstance(transactions, pd.DataFrame):
        return dd.from_pandas(transactions.reset_index(drop=True), npartitions=1, sort=False)
    if isinstance(transactions, str | os.PathLike):
        path = os.fspath(transactions)
        low = path.lower()
        if low.endswith(".csv"):
            return dd.read_csv(path)
        if low.endswith((".parquet", ".pq")) or os.path.isdir(path):
            return dd.read_parquet(path)
        raise SchemaError(f"transactions={path!r}: give Parquet files (.parquet, .pq, or a "
                          "folder of them) or CSV files (.csv), or a DataFrame")
    raise SchemaError(f"transactions is a {type(transactions).__name__}; give a pandas or "
                      "dask DataFrame, or the path of Parquet or CSV files")


def _by_account(frame: Any, account: str | None, n: int) -> Any:
    """``n`` partitions, each holding all the rows of its accounts in input order, with the
    input row number."""
    frame = frame.assign(**{_ROW: 1})
    frame[_ROW] = frame[_ROW].cumsum() - 1
    if account is None or n == 1:  # one account for everybody, or one worker: one part
        return frame.repartition(npartitions=1)
    frame[_KEY] = frame[account].map_partitions(_account_hash, n, meta=(_KEY, "int64"))
    return frame.shuffle(_KEY, npartitions=n)


def _account_hash(values: pd.Series, n: int) -> pd.Series:
    text = values.astype("string").fillna("").to_numpy(dtype=object)
    return pd.Series((pd.util.hash_array(text) % np.uint64(n)).astype(np.int64),
                     index=values.index)


def _check_unique(client: Any, parts: Any, ids: str) -> None:
    counts = parts[ids].value_counts()
    twice = client.compute(counts[counts > 1]).result()
    if len(twice):
        raise SchemaError(
            f"transactions repeat the transaction_id {twice.index[:5].tolist()}; give each "
            "row its own id (drop the repeated rows or number them)", column="transaction_id")


def _rows(part: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    part = part.sort_values(_ROW, kind="stable")
    return part[_ROW].to_numpy(), part.drop(columns=[_ROW, _KEY], errors="ignore")


def _detector(state: dict, digest: str) -> Any:
    from nexus_lab.fraud import FraudDetector

    return rebuilt(digest, state, lambda s: FraudDetector.from_state(s, device="cpu"))


def _totals(part: pd.DataFrame, *, state: dict, digest: str,
            ids: str | None) -> tuple[Any, np.ndarray] | None:
    """The partition's batch totals, and a 64-bit hash of each of its ids (repeated ids
    are looked for among the hashes of every partition)."""
    if not len(part):
        return None
    frame = _rows(part)[1]
    hashes = (pd.util.hash_array(frame[ids].astype("string").fillna("").to_numpy(object))
              if ids is not None else np.zeros(0, np.uint64))
    return _detector(state, digest).batch_totals(frame), hashes


def _score(part: pd.DataFrame, *, state: dict, digest: str, batch: Any) -> Any:
    if not len(part):
        return None
    rows, frame = _rows(part)
    return rows, _detector(state, digest).score(frame, keep_for_explain=False, batch=batch)
