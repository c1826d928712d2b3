"""Nearest-neighbour search over compressed codes, without decompressing the database."""

from __future__ import annotations

import numpy as np
import torch

from nexus_lab._estimator import check_is_fitted
from nexus_lab.compress._base import FITTED, Codec, check_codes, check_vectors
from nexus_lab.compress._quantizers import _Additive
from nexus_lab.errors import SchemaError

__all__ = ["search"]

_ENTRIES = 1 << 23  # floats one block of scores may take
# From this many queries on, decoding a block once and scoring it with one matrix product
# beats M table lookups per query and code (measured on 2 cores: 384-d, 32-byte codes),
# when decoding is a gather (PQ, OPQ); RQ sums M full vectors per code, and stays on lookups.
_LUT_QUERIES = 256
_BAG_QUERIES = 8  # below this, gathering table entries beats an embedding bag of narrow rows


def search(codec: Codec, codes: object, queries: object, k: int = 10, *, metric: str = "ip",
           rerank: object = None, candidates: int | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best database vectors for every query, scored on their codes.

    Distances are *asymmetric*: the query stays uncompressed and meets the database's
    reconstructions. For additive codecs (:class:`PQ`, :class:`OPQ`, :class:`RQ`), the
    inner product, codes are scored by table lookups: one table of ``q · codeword`` per
    query, then ``M`` lookups per code, and no vector is decoded. From 256 queries on,
    PQ and OPQ (whose decoding is a cheap gather) decode each block of codes once and
    score it with one matrix product, which the many queries share; so do the other
    codecs, and the squared distance.
    Everything runs on the codec's device, in blocks, so memory stays bounded for any
    database size.

    Parameters
    ----------
    codec : Codec
        The fitted codec the codes came from.
    codes : ndarray of shape (n, codec.code_size_)
        The database, as returned by ``codec.encode``.
    queries : array-like of shape (n_queries, dim)
        Uncompressed query vectors.
    k : int
        Neighbours per query (at most ``n``).
    metric : {"ip", "l2"}
        ``"ip"``: largest inner product first; ``"l2"``: smallest squared distance first.
    rerank : array-like of shape (n, dim), optional
        The database's original vectors: the best ``candidates`` by code are rescored
        exactly and the top ``k`` of those returned.
    candidates : int, optional
        How many to rerank (default ``max(4 * k, 64)``).

    Returns
    -------
    ids : ndarray of shape (n_queries, k), int64
        Database rows, best first; among equal scores the lower row first (and kept
        first at the k-th place), so that the best of row ranges of the database, merged
        by the same rule, are the best of the whole.
    scores : ndarray of shape (n_queries, k), float32
        Inner products (``"ip"``) or squared distances (``"l2"``).

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(1000, 16)).astype("float32")
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> codec = nx.compress.PQ(m=4, nbits=8, device="cpu", random_state=0).fit(X)
    >>> ids, scores = nx.compress.search(codec, codec.encode(X), X[:3], k=5, rerank=X)
    >>> ids[:, 0].tolist()
    [0, 1, 2]
    """
    check_is_fitted(codec, FITTED, fit_call="fit(X)")
    if metric not in ("ip", "l2"):
        raise SchemaError(f"metric must be 'ip' (inner product) or 'l2', got {metric!r}")
    codes = check_codes(codes, codec.code_size_, codec.code_dtype)
    Q = check_vectors(queries, "queries", dim=codec.dim_)
    n = len(codes)
    if not isinstance(k, int | np.integer) or k < 1:
        raise SchemaError(f"k must be a positive integer, got {k!r}")
    k = min(int(k), n)
    if rerank is not None:
        base = check_vectors(rerank, "rerank", dim=codec.dim_)
        if len(base) != n:
            raise SchemaError(f"rerank has {len(base)} vectors but codes has {n}; pass the "
                              "database the codes were made from, row for row", column="rerank")
        n_cand = min(n, max(k, candidates if candidates is not None else max(4 * k, 64)))
        cand, _ = _scan(codec, codes, Q, n_cand, metric)
        return _exact(Q, base, cand, k, metric)
    return _scan(codec, codes, Q, k, metric)


def _scan(codec: Codec, codes: np.ndarray, Q: np.ndarray, k: int, metric: str
          ) -> tuple[np.ndarray, np.ndarray]:
    dev = codec._device()
    q = torch.from_numpy(Q).to(dev)
    sign = 1.0 if metric == "ip" else -1.0
    lut = isinstance(codec, _Additive) and metric == "ip" and (
        len(Q) < _LUT_QUERIES or not codec.cheap_decode)
    few = len(Q) < _BAG_QUERIES
    if lut:
        tables = codec.ip_tables(q).reshape(len(Q), -1)  # (Q, M*K): a row per query
        if not few:  # a row per codeword: scoring a code sums M rows (an embedding bag)
            tables = tables.T.contiguous()
        offsets = torch.arange(codec.n_codebooks_, device=dev) * (1 << codec.nbits)
        step = max(1, _ENTRIES // (len(Q) * (codec.n_codebooks_ if few else 1)))
    else:
        step = max(1, _ENTRIES // max(len(Q), codec.dim_))
    if not lut:
        q = codec.search_space(q)
    q2 = (q * q).sum(1, keepdim=True)
    best_s = torch.full((len(Q), 0), -torch.inf, device=dev)
    best_i = torch.zeros((len(Q), 0), dtype=torch.long, device=dev)
    for lo in range(0, len(codes), step):
        block = codes[lo:lo + step]
        if lut:
            if few and codec.nbits == 8:  # a byte per index: one codebook at a time
                s = _byte_lookups(tables, block, codec.n_codebooks_, dev)
            elif few:
                s = tables[:, codec.indices(block) + offsets].sum(-1)
            else:
                idx = codec.indices(block) + offsets  # (b, M) into the flat tables
                # (Q, b) contiguous: top-k along a strided dimension is 10x slower
                s = torch.nn.functional.embedding_bag(idx, tables, mode="sum").T.contiguous()
        else:
            X = codec.search_decode(block)
            s = q @ X.T
            if metric == "l2":
                s = 2 * s - q2 - (X * X).sum(1)
        cat_s = torch.cat([best_s, s], 1)
        cat_i = torch.cat([best_i, torch.arange(lo, lo + len(block), device=dev)
                           .expand(len(Q), -1)], 1)
        best_s, best_i = _best(cat_s, cat_i, min(k, cat_s.shape[1]))
    return best_i.cpu().numpy(), (sign * best_s).cpu().numpy().astype(np.float32)


def _best(scores: torch.Tensor, ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` highest scores of every row, and their ids: among equal scores the lower
    id first, kept or dropped first (so that the best of parts of a database, merged by
    the same rule, are the best of the whole).

    ``ids`` are ordered along each row among equal scores (the earlier best, sorted by
    this rule, then a block of increasing rows).
    """
    top, pos = scores.topk(k, dim=1)
    edge = top[:, -1:]
    # where no score ties the k-th outside the top k, the top k is settled: order it
    settled = (scores >= edge).sum(1) == k
    if not bool(settled.all()):  # ties across the edge: a stable sort keeps the lower ids
        order = torch.sort(scores[~settled], dim=1, descending=True, stable=True).indices
        pos[~settled] = order[:, :k]
    s = torch.gather(scores, 1, pos)
    i = torch.gather(ids, 1, pos)
    by_id = torch.argsort(i, dim=1)
    s, i = torch.gather(s, 1, by_id), torch.gather(i, 1, by_id)
    by_score = torch.sort(s, dim=1, descending=True, stable=True).indices
    return torch.gather(s, 1, by_score), torch.gather(i, 1, by_score)


def _byte_lookups(tables: torch.Tensor, block: np.ndarray, M: int, dev: torch.device
                  ) -> torch.Tensor:
    """Scores of byte codes for a few queries: M column-wise lookups, each cache-sized,
    instead of widening the whole (b, M) block of codes to 64-bit indices at once."""
    T = tables.view(len(tables), M, -1)
    codes = torch.from_numpy(block).to(dev)
    s = T[:, 0].index_select(1, codes[:, 0].long())
    for j in range(1, M):
        s += T[:, j].index_select(1, codes[:, j].long())
    return s


def _exact(Q: np.ndarray, base: np.ndarray, cand: np.ndarray, k: int, metric: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """Rescore each query's candidates with the original vectors; keep the best ``k``."""
    vecs = base[cand]  # (n_q, c, dim)
    s = np.einsum("qd,qcd->qc", Q, vecs)
    if metric == "l2":
        s = 2 * s - (Q * Q).sum(1, keepdims=True) - (vecs * vecs).sum(-1)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    sign = 1.0 if metric == "ip" else -1.0
    return (np.take_along_axis(cand, order, 1),
            (sign * np.take_along_axis(s, order, 1)).astype(np.float32))
