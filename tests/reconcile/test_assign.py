"""The sparse one-to-one assignment is optimal: checked against a dense solver."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from nexus_lab.reconcile._assign import assign_one_to_one


def _dense_optimum(i, j, w, nb, nl):
    # maximise total positive weight, each row matched at most once: pad with zero-weight
    # "stay open" columns and rows
    big = np.zeros((nb + nl, nl + nb))
    big[:nb, :nl] = -1e9
    big[i, j] = np.maximum(w, -1e9)
    big[:nb, :nl][big[:nb, :nl] < 0] = -1e9
    r, c = linear_sum_assignment(big, maximize=True)
    real = (r < nb) & (c < nl) & (big[r, c] > 0)
    return big[r[real], c[real]].sum()


@pytest.mark.parametrize("seed", range(8))
def test_matches_dense_solver(seed):
    rng = np.random.default_rng(seed)
    nb, nl = 30, 25
    mask = rng.random((nb, nl)) < 0.15
    i, j = np.nonzero(mask)
    w = rng.normal(2, 3, len(i)).round(3)
    chosen = assign_one_to_one(i, j, w)
    assert np.bincount(i[chosen], minlength=nb).max() <= 1
    assert np.bincount(j[chosen], minlength=nl).max() <= 1
    assert (w[chosen] > 0).all()
    assert w[chosen].sum() == pytest.approx(_dense_optimum(i, j, w, nb, nl), abs=1e-2)


def test_not_greedy():
    # greedy on the best edge (0,0) would leave row 1 without a partner
    i = np.array([0, 0, 1])
    j = np.array([0, 1, 0])
    chosen = assign_one_to_one(i, j, np.array([5.0, 4.5, 4.8]))
    assert chosen.tolist() == [False, True, True]


def test_tie_break_prefers_smaller_penalty():
    i = np.array([0, 0, 1, 1])
    j = np.array([0, 1, 0, 1])
    w = np.full(4, 3.0)
    assert assign_one_to_one(i, j, w, tie=np.array([0, 5, 5, 0])).tolist() == [
        True, False, False, True]
    assert assign_one_to_one(i, j, w, tie=np.array([5, 0, 0, 5])).tolist() == [
        False, True, True, False]


def test_nothing_positive():
    assert not assign_one_to_one(np.array([0]), np.array([0]), np.array([-1.0])).any()


def test_a_large_problem_solved_in_bins_of_whole_groups_gives_the_one_problem_answer():
    """Thousands of small groups with tied weights (equal amounts, days and names read
    alike): bins of whole groups choose exactly what one problem chooses."""
    from nexus_lab.reconcile._assign import assignment_problem, solve_rest

    rng = np.random.default_rng(7)
    groups = 1_500
    size = rng.integers(2, 6, groups)  # bank rows per group, as many ledger rows
    first = np.r_[0, np.cumsum(size)[:-1]]
    gi, gj = [], []
    for g in range(groups):  # each group: a dense block of its rows
        a, b = np.meshgrid(np.arange(size[g]), np.arange(size[g]), indexing="ij")
        gi.append(first[g] + a.ravel())
        gj.append(first[g] + b.ravel())
    i, j = np.concatenate(gi), np.concatenate(gj)
    shuffle = rng.permutation(int(size.sum()))  # groups' rows interleaved in row order
    i, j = shuffle[i], shuffle[j]
    w = rng.choice([3.0, 3.0, 4.5, -1.0], len(i))  # many ties
    tie = rng.integers(0, 3, len(i))
    _, rest, problem = assignment_problem(i, j, w, tie=tie)
    assert len(rest) > 8_000
    whole = solve_rest(*problem, block=10**9)
    for block in (300, 3_000):
        assert (solve_rest(*problem, block=block) == whole).all()
    assert whole.any()
