"""The top-k of every user on a Dask cluster, equal to the model's own, streamed to Parquet.

A user's recommendations read the fitted model and that user's interactions only, so
the users are cut into batches, in order, and every batch is recommended on a worker.
The fitted model travels once to every worker as its state
(:meth:`~nexus_lab.recommend.Recommender.to_state`) and is rebuilt there once per
worker. With ``out=``, every worker writes its batch as a Parquet part of one dataset
folder (``part-00000.parquet``, ... in user order) and the client only counts rows;
the folder is written under a temporary name and renamed when every part is there.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.scale._cluster import cluster, dashboard_link, gather, n_partitions, workers_of
from nexus_lab.scale._shipped import rebuilt, ship

_BYTES_PER_ROW = 48  # a recommendation in memory: user, item, score, rank


def recommend(model: Any, users: Any = None, k: int = 10, client: Any = None, *,
              out: str | os.PathLike | None = None, scheduler: str | None = None,
              progress: bool | None = None, batch: int | None = None) -> Any:
    """The top ``k`` items of every user, as ``model.recommend(users, k)``, on Dask.

    Parameters
    ----------
    model : Recommender
        A fitted :class:`nexus_lab.recommend.Recommender` (EASE, ItemKNN, ALS, ...).
    users : sequence, optional
        The users, in the order of the result; by default every user seen in fit.
    k : int, default 10
        Items per user.
    client : distributed.Client, optional
        The cluster to run on; by default a LocalCluster for this call.
    out : str or path, optional
        A folder (or a ``.parquet`` name for it) to write the recommendations to, one
        Parquet part per batch of users; it must not exist yet.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, instead of ``client``.
    progress : bool, optional
        Show Dask's progress bar (by default in a terminal or a notebook).
    batch : int, optional
        Users per batch; by default the users are shared out so that a batch's results
        fit a worker's share of memory, at least one batch per worker.

    Returns
    -------
    Recommendations or Path
        Without ``out``: ``user_id, item_id, score, rank``, equal to
        ``model.recommend(users, k)``. With ``out``: the dataset folder (read it with
        ``pandas.read_parquet``).

    Raises
    ------
    SchemaError
        When ``k`` or ``batch`` is not a positive whole number, the model is not a
        recommender, there are no users, or ``out`` exists.
    NotFittedError
        When the model is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> from nexus_lab import scale
    >>> data = nx.datasets.synth_interactions(200, 60, seed=0)
    >>> model = nx.recommend.EASE(regularization=50.0, device="cpu").fit(data)
    >>> with scale.cluster(workers=2) as client:  # doctest: +SKIP
    ...     top = scale.recommend(model, k=5, client=client)
    >>> top.equals(model.recommend(k=5))  # doctest: +SKIP
    True
    """
    from nexus_lab.recommend import Recommendations, Recommender

    if not isinstance(model, Recommender):
        raise SchemaError(f"model is a {type(model).__name__}; give a fitted "
                          "nexus_lab.recommend recommender (EASE().fit(interactions), ...)")
    _check_count("k", k)
    if batch is not None:
        _check_count("batch", batch)
    state = model.to_state()  # refuses a model that is not fitted
    ids = np.asarray(model.users_ if users is None else _ids(users))
    if not len(ids):
        raise SchemaError("users is empty; give the users to recommend to, or leave users "
                          "out for every user seen in fit")
    final = _target(out) if out is not None else None
    with cluster(client, scheduler=scheduler) as c:
        if batch is None:
            nbytes = len(ids) * (min(int(k), len(model.items_)) * _BYTES_PER_ROW
                                 + 4 * len(model.items_))
            parts = min(n_partitions(nbytes, c), len(ids))
        else:
            parts = -(-len(ids) // int(batch))
        chunks = np.array_split(ids, parts)
        shipped, digest = ship(c, state)
        if final is None:
            tops = gather(c, c.map(_top, chunks, k=int(k), state=shipped, digest=digest,
                                   pure=False), progress=progress, label="recommend")
            top = Recommendations(pd.concat(tops, ignore_index=True), copy=False)
            top.attrs["dask"] = {"workers": workers_of(c), "partitions": len(chunks),
                                 "dashboard": dashboard_link(c)}
            return top
        folder = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.partial")
        folder.mkdir(parents=True)
        try:
            names = [str(folder / f"part-{n:05d}.parquet") for n in range(len(chunks))]
            gather(c, c.map(_write, chunks, names, k=int(k), state=shipped,
                            digest=digest, pure=False), progress=progress,
                   label="recommend")
            folder.rename(final)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return final


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise SchemaError(f"{name} must be a positive whole number, got {value!r}")


def _ids(users: Any) -> np.ndarray:
    if isinstance(users, pd.Series | pd.Index):
        return users.to_numpy()
    return np.atleast_1d(np.asarray(users))


def _target(out: str | os.PathLike) -> Path:
    path = Path(out).expanduser().absolute()
    if path.exists():
        raise SchemaError(f"out={str(out)!r} exists; name a folder that does not exist yet "
                          "(the recommendations are written as a new Parquet dataset)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _model(state: dict, digest: str) -> Any:
    from nexus_lab.recommend import Recommender

    return rebuilt(digest, state, lambda s: Recommender.from_state(s, device="cpu"))


def _top(users: np.ndarray, *, k: int, state: dict, digest: str) -> pd.DataFrame:
    return pd.DataFrame(_model(state, digest).recommend(users, k))


def _write(users: np.ndarray, name: str, *, k: int, state: dict, digest: str) -> int:
    top = _top(users, k=k, state=state, digest=digest)
    top.to_parquet(name, index=False)
    return len(top)
