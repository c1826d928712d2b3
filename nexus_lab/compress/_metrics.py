"""How well decoded vectors keep a search's answers: recall of the true nearest neighbours."""

from __future__ import annotations

import numpy as np

from nexus_lab._typing import DeviceLike
from nexus_lab.compress._base import check_vectors
from nexus_lab.device import resolve_device
from nexus_lab.errors import SchemaError

__all__ = ["recall_at_k"]

_BLOCK_SCORES = 1 << 24  # scores one block of queries holds at most (64 MB of float32)


def recall_at_k(queries: object, database: object, decoded: object, k: int = 10,
                device: DeviceLike = "auto") -> float:
    """k-recall@k of a search on decoded vectors, by inner product.

    For every query, the share of its ``k`` exact nearest neighbours (largest
    ``q · x`` over ``database``) found among the ``k`` best by ``q · x̂`` over
    ``decoded``, averaged over the queries. Queries are scored in blocks, so a
    thousand queries against a million vectors need about 64 MB of scores at a time.

    Parameters
    ----------
    queries : array-like, (n_queries, dim)
    database : array-like, (n, dim)
        The original vectors.
    decoded : array-like, (n, dim)
        The same vectors, in the same order, as a codec decodes them.
    k : int
        Neighbours per query; at most ``n``.
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    float
        Between 0 and 1; 1 when the decoded vectors rank like the originals.

    Raises
    ------
    SchemaError
        When the shapes do not agree or ``k`` is not in ``1..n``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Q = rng.normal(size=(500, 16)), rng.normal(size=(20, 16))
    >>> recall_at_k(Q, X, X, k=10, device="cpu")
    1.0
    >>> noisy = X + rng.normal(scale=0.5, size=X.shape)
    >>> 0.3 < recall_at_k(Q, X, noisy, k=10, device="cpu") < 1.0
    True
    """
    import torch

    Q = check_vectors(queries, "queries")
    X = check_vectors(database, "database")
    Xh = check_vectors(decoded, "decoded")
    for name, arr in (("database", X), ("decoded", Xh)):
        if arr.shape[1] != Q.shape[1]:
            raise SchemaError(
                f"{name} has {arr.shape[1]} dimensions but queries have {Q.shape[1]}: embed "
                "both with the same model", column=name)
    if Xh.shape[0] != X.shape[0]:
        raise SchemaError(
            f"decoded has {Xh.shape[0]} vectors but database has {X.shape[0]}: pass the "
            "decoded database itself, row for row", column="decoded")
    if not isinstance(k, int | np.integer) or not 1 <= k <= len(X):
        raise SchemaError(f"k must be an integer from 1 to {len(X)} (the database size), "
                          f"got {k!r}")
    dev = resolve_device(device)
    Xt, Xht = torch.from_numpy(X).to(dev), torch.from_numpy(Xh).to(dev)
    step = max(1, _BLOCK_SCORES // len(X))
    found = 0
    for lo in range(0, len(Q), step):
        q = torch.from_numpy(Q[lo:lo + step]).to(dev)
        exact = (q @ Xt.T).topk(k, dim=1).indices
        approx = (q @ Xht.T).topk(k, dim=1).indices
        found += int((exact.unsqueeze(2) == approx.unsqueeze(1)).any(2).sum())
    return found / (len(Q) * k)
