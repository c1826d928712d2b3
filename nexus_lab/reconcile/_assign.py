"""Globally best one-to-one assignment of scored candidate pairs.

Pairs with positive log-odds form a sparse bipartite graph. Components made
of a single edge are accepted directly; all other components are solved
together, as one block-diagonal sparse problem, by SciPy's LAPJVsp
(``min_weight_full_bipartite_matching``). Every row gets a "stay unmatched"
dummy so that leaving a row open is always feasible and a pair is taken only
when it raises the total log-odds; ties are broken towards the smallest date
lag and then towards the order-preserving assignment.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching


def assign_one_to_one(
    i: np.ndarray,
    j: np.ndarray,
    weight: np.ndarray,
    *,
    tie: np.ndarray | None = None,
) -> np.ndarray:
    """Choose a set of pairs, at most one per left and per right row, maximising weight.

    Parameters
    ----------
    i, j : numpy.ndarray of int64
        Left and right row of each candidate pair (no pair repeated).
    weight : numpy.ndarray of float64
        Log-odds of each pair; pairs with ``weight <= 0`` are never taken.
    tie : numpy.ndarray of int, optional
        A non-negative penalty per pair used only to break ties (clipped to
        ``2**15 - 1``; smaller wins).

    Returns
    -------
    numpy.ndarray of bool
        Mask over the pairs: True for the pairs chosen.

    Examples
    --------
    >>> i = np.array([0, 0, 1, 1]); j = np.array([0, 1, 0, 1])
    >>> assign_one_to_one(i, j, np.array([5.0, 4.0, 4.5, 1.0])).tolist()
    [False, True, True, False]
    """
    chosen = np.zeros(len(i), dtype=bool)
    live = np.flatnonzero(weight > 0)
    if len(live) == 0:
        return chosen
    li, lj = i[live], j[live]
    # integer costs (1/1024 bit resolution, tie-break in the low 15 bits): exact
    # arithmetic keeps the sparse solver from chasing rounding noise
    w = np.rint(weight[live] * 1024.0) * 2.0**15
    if tie is not None:
        w -= np.clip(np.asarray(tie)[live], 0, 2**15 - 1).astype(np.int64)
    deg_i = np.bincount(li)
    deg_j = np.bincount(lj)
    single = (deg_i[li] == 1) & (deg_j[lj] == 1)
    chosen[live[single]] = True
    rest = ~single
    if not rest.any():
        return chosen
    ri, rj, rw = li[rest], lj[rest], w[rest]
    ui, bi = np.unique(ri, return_inverse=True)
    uj, bj = np.unique(rj, return_inverse=True)
    nb, nl = len(ui), len(uj)
    top = float(rw.max()) * 2.0 + 4.0
    half = top / 2.0
    delta = 1.0
    rows = np.concatenate([bi, np.arange(nb), nb + np.arange(nl), nb + bj])
    cols = np.concatenate([bj, nl + np.arange(nb), np.arange(nl), nl + bi])
    vals = np.concatenate(
        [top - rw + 2 * delta, np.full(nb, half), np.full(nl, half), np.full(len(rw), delta)]
    )
    graph = sp.csr_matrix((vals, (rows, cols)), shape=(nb + nl, nl + nb))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = (row_ind < nb) & (col_ind < nl)
    if real.any():
        key = row_ind[real].astype(np.int64) * nl + col_ind[real]
        hit = np.isin(bi.astype(np.int64) * nl + bj, key)
        chosen[live[np.flatnonzero(rest)[hit]]] = True
    return chosen
