"""Vectors coded and searched in shards on a Dask cluster, equal to the codec's own.

A vector's code reads the fitted codec and that vector only: the rows are cut into
consecutive ranges, each coded on a worker, and the codes put back in row order. A
search scores every code against the queries, with nothing shared between codes: the
codes are cut into row ranges, each range returns its best ``k`` per query (scores,
and rows counted from the start of the database), and the client keeps the best ``k``
of those. The search kernel's rule for equal scores (the lower row first, also at the
k-th place) is a total order, so the best of the ranges merged by the same rule are
the best of the whole, ties included. The codec travels once to every worker as its
state (:meth:`~nexus_lab.compress.Codec.to_state`), rebuilt there once per worker.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from nexus_lab.errors import SchemaError
from nexus_lab.scale._cluster import cluster, gather, n_partitions
from nexus_lab.scale._shipped import keep, rebuilt, ship


def encode(codec: Any, vectors: Any, client: Any = None, *, scheduler: str | None = None,
           progress: bool | None = None) -> np.ndarray:
    """The codes of ``vectors``, as ``codec.encode(vectors)``, coded in shards on Dask.

    Parameters
    ----------
    codec : Codec
        A fitted :class:`nexus_lab.compress.Codec` (from :func:`nexus_lab.compress.fit`).
    vectors : array-like of shape (n, dim)
        The vectors to code.
    client : distributed.Client, optional
        The cluster to run on; by default a LocalCluster for this call.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, instead of ``client``.
    progress : bool, optional
        Show Dask's progress bar (by default in a terminal or a notebook).

    Returns
    -------
    ndarray of shape (n, codec.code_size_)
        Equal, byte for byte, to ``codec.encode(vectors)``.

    Raises
    ------
    SchemaError
        When the codec is not a Codec, or the vectors are not a float matrix of the
        codec's width.
    NotFittedError
        When the codec is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> from nexus_lab import scale
    >>> X = nx.datasets.synth_vectors(2_000, 32, seed=0)
    >>> codec = nx.compress.PQ(m=8, device="cpu", random_state=0).fit(X)
    >>> with scale.cluster(workers=2) as client:  # doctest: +SKIP
    ...     codes = scale.encode(codec, X, client)
    >>> bool((codes == codec.encode(X)).all())  # doctest: +SKIP
    True
    """
    state, X = _checked(codec, vectors, "vectors")
    with cluster(client, scheduler=scheduler) as c:
        edges = _ranges(len(X), X.nbytes, c)
        shipped, digest = ship(c, state)
        shards = keep(c, [X[lo:hi] for lo, hi in edges])
        parts = gather(c, c.map(_encode, shards, state=shipped, digest=digest, pure=False),
                       progress=progress, label="encode")
    if not parts:
        return codec.encode(X)
    return np.concatenate(parts)


def search(codec: Any, codes: Any, queries: Any, k: int = 10, client: Any = None, *,
           scheduler: str | None = None, progress: bool | None = None,
           metric: str = "ip") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best codes for every query, as :func:`nexus_lab.compress.search`, on Dask.

    Parameters
    ----------
    codec : Codec
        The fitted codec the codes came from.
    codes : ndarray of shape (n, codec.code_size_)
        The database, as returned by ``encode``.
    queries : array-like of shape (n_queries, dim)
        Uncompressed query vectors.
    k : int, default 10
        Neighbours per query (at most ``n``).
    client : distributed.Client, optional
        The cluster to run on; by default a LocalCluster for this call.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, instead of ``client``.
    progress : bool, optional
        Show Dask's progress bar (by default in a terminal or a notebook).
    metric : {"ip", "l2"}
        ``"ip"``: largest inner product first; ``"l2"``: smallest squared distance first.

    Returns
    -------
    ids : ndarray of shape (n_queries, k), int64
        Database rows, best first; among equal scores the lower row first.
    scores : ndarray of shape (n_queries, k), float32
        Equal to those of ``nexus_lab.compress.search(codec, codes, queries, k)``.

    Raises
    ------
    SchemaError
        When ``k`` is not a positive whole number, ``metric`` is neither, or the codes
        or queries do not fit the codec.
    NotFittedError
        When the codec is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> from nexus_lab import scale
    >>> X = nx.datasets.synth_vectors(2_000, 32, seed=0)
    >>> codec = nx.compress.PQ(m=8, device="cpu", random_state=0).fit(X)
    >>> codes = codec.encode(X)
    >>> with scale.cluster(workers=2) as client:  # doctest: +SKIP
    ...     ids, scores = scale.search(codec, codes, X[:5], k=3, client=client)
    >>> bool((ids == nx.compress.search(codec, codes, X[:5], k=3)[0]).all())  # doctest: +SKIP
    True
    """
    from nexus_lab.compress import search as kernel_search

    state, Q = _checked(codec, queries, "queries")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise SchemaError(f"k must be a positive whole number, got {k!r}")
    if metric not in ("ip", "l2"):
        raise SchemaError(f"metric must be 'ip' (inner product) or 'l2', got {metric!r}")
    db = np.asarray(codes)
    if db.ndim != 2 or db.shape[1] != codec.code_size_ or db.dtype != codec.code_dtype:
        kernel_search(codec, db, Q[:1], 1)  # the kernel's message names what is wrong
    k = min(int(k), len(db))
    with cluster(client, scheduler=scheduler) as c:
        edges = _ranges(len(db), db.nbytes, c)
        shipped, digest = ship(c, state)
        asked = keep(c, [Q])[0]
        shards = keep(c, [db[lo:hi] for lo, hi in edges])
        parts = gather(c, c.map(_search, shards, [lo for lo, _ in edges], queries=asked,
                                k=k, metric=metric, state=shipped, digest=digest,
                                pure=False), progress=progress, label="search")
    ids = np.concatenate([i for i, _ in parts], axis=1)
    scores = np.concatenate([s for _, s in parts], axis=1)
    # the kernel's order: the best score first, among equal scores the lower row
    key = -scores if metric == "ip" else scores
    order = np.lexsort((ids, key), axis=1)[:, :k]
    return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)


def _checked(codec: Any, vectors: Any, name: str) -> tuple[dict, np.ndarray]:
    """The codec's state and the vectors as a float32 matrix of its width."""
    from nexus_lab.compress import Codec, check_vectors

    if not isinstance(codec, Codec):
        raise SchemaError(f"codec is a {type(codec).__name__}; give a fitted "
                          "nexus_lab.compress codec (nexus_lab.compress.fit(X), PQ().fit(X))")
    state = codec.to_state()  # refuses a codec that is not fitted
    return state, check_vectors(vectors, name, dim=codec.dim_)


def _ranges(n: int, nbytes: int, client: Any) -> list[tuple[int, int]]:
    """Consecutive row ranges, one or more per worker, none empty."""
    parts = min(n_partitions(nbytes, client), max(n, 1))
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [(int(lo), int(hi)) for lo, hi in pairwise(edges) if hi > lo]


def _codec(state: dict, digest: str) -> Any:
    from nexus_lab.compress import Codec

    return rebuilt(digest, state, lambda s: Codec.from_state(s, device="cpu"))


def _encode(shard: np.ndarray, *, state: dict, digest: str) -> np.ndarray:
    return _codec(state, digest).encode(shard)


def _search(shard: np.ndarray, start: int, *, queries: np.ndarray, k: int, metric: str,
            state: dict, digest: str) -> tuple[np.ndarray, np.ndarray]:
    from nexus_lab.compress import search as kernel_search

    ids, scores = kernel_search(_codec(state, digest), shard, queries, min(k, len(shard)),
                                metric=metric)
    return ids + start, scores
