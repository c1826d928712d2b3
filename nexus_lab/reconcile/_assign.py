"""Globally best one-to-one assignment of scored candidate pairs.

Pairs with positive log-odds form a sparse bipartite graph. Components made
of a single edge are accepted directly; all other components are solved
together, as one block-diagonal sparse problem (in bins of whole components
when large), by SciPy's LAPJVsp (``min_weight_full_bipartite_matching``).
Every row gets a "stay unmatched" dummy so that leaving a row open is always
feasible and a pair is taken only when it raises the total log-odds; ties are
broken towards the smallest date lag and then towards the order-preserving
assignment.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

_BLOCK = 1 << 16  # pairs per problem the solver is given at once (see solve_rest)


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
    chosen, rest, problem = assignment_problem(i, j, weight, tie=tie)
    if len(rest):
        chosen[rest[solve_rest(*problem)]] = True
    return chosen


def assignment_problem(
    i: np.ndarray, j: np.ndarray, weight: np.ndarray, *, tie: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """The pairs :func:`assign_one_to_one` takes at once, and the problem left.

    Returns the mask of the pairs that are their rows' only positive pair (taken), the
    positions of the other positive pairs, and their problem ``(i, j, cost, top)`` for
    :func:`solve_rest`. The problem's connected groups may be solved apart (on other
    machines): each group's answer is the one the whole problem gives it, as long as
    ``top`` is the whole problem's.
    """
    chosen = np.zeros(len(i), dtype=bool)
    empty = np.zeros(0, np.int64)
    live = np.flatnonzero(weight > 0)
    if len(live) == 0:
        return chosen, empty, (empty, empty, np.zeros(0), 0.0)
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
        return chosen, empty, (empty, empty, np.zeros(0), 0.0)
    rw = w[rest]
    return chosen, live[rest], (li[rest], lj[rest], rw, float(rw.max()) * 2.0 + 4.0)


def solve_rest(ri: np.ndarray, rj: np.ndarray, rw: np.ndarray, top: float,
               block: int = _BLOCK) -> np.ndarray:
    """Which pairs of an :func:`assignment_problem` are chosen (a mask over them).

    The connected groups are solved by SciPy's LAPJVsp, every row with a "stay
    unmatched" dummy: together, as one block-diagonal sparse problem, up to ``block``
    pairs; beyond that in bins of whole groups of about ``block`` pairs each. The
    solver's time grows faster than the problem (a million pairs in one problem take
    about ten times as long as in bins), and a group's answer does not depend on the
    other groups beside it.
    """
    if len(ri) <= block:
        return _solve(ri, rj, rw, top)
    ui, bi = np.unique(ri, return_inverse=True)
    uj, bj = np.unique(rj, return_inverse=True)
    graph = sp.csr_matrix((np.ones(len(bi)), (bi, len(ui) + bj)),
                          shape=(len(ui) + len(uj),) * 2)
    _, group = connected_components(graph, directed=False)
    # whole groups into bins, in the order of their first pair: each bin keeps the pairs'
    # order, as one problem would
    bins = -(-len(ri) // block)
    label = group[bi] % bins
    chosen = np.zeros(len(ri), bool)
    for b in range(bins):
        mine = np.flatnonzero(label == b)
        if len(mine):
            chosen[mine] = _solve(ri[mine], rj[mine], rw[mine], top)
    return chosen


def _solve(ri: np.ndarray, rj: np.ndarray, rw: np.ndarray, top: float) -> np.ndarray:
    """:func:`solve_rest` in one problem."""
    if len(ri) == 0:
        return np.zeros(0, bool)
    ui, bi = np.unique(ri, return_inverse=True)
    uj, bj = np.unique(rj, return_inverse=True)
    nb, nl = len(ui), len(uj)
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
    if not real.any():
        return np.zeros(len(ri), bool)
    key = row_ind[real].astype(np.int64) * nl + col_ind[real]
    return np.isin(bi.astype(np.int64) * nl + bj, key)
