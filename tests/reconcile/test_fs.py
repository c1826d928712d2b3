"""Fellegi-Sunter EM recovers the parameters it is fitted on."""

from __future__ import annotations

import numpy as np

from nexus_lab.reconcile._fs import fit_em


def test_em_recovers_m_u_and_share():
    rng = np.random.default_rng(0)
    n = 40_000
    match = rng.random(n) < 0.25
    m = [np.array([0.8, 0.15, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1])]
    u = [np.array([0.05, 0.15, 0.8]), np.array([0.2, 0.8]), np.array([0.1, 0.3, 0.6])]
    cols = [np.where(match, rng.choice(len(a), n, p=a), rng.choice(len(b), n, p=b))
            for a, b in zip(m, u)]
    levels = np.stack(cols, 1)
    levels[rng.random(n) < 0.1, 1] = -1  # missing values are skipped
    model = fit_em(levels, [3, 2, 3], names=["a", "b", "c"], labels=[["x"] * 3, ["x"] * 2,
                                                                      ["x"] * 3])
    assert abs(model.lam - 0.25) < 0.02
    for got, want in zip(model.m, m):
        np.testing.assert_allclose(got, want, atol=0.03)
    for got, want in zip(model.u, u):
        np.testing.assert_allclose(got, want, atol=0.03)
    w = model.weights()
    assert w[0][0] > 0 > w[0][2]
    assert list(model.to_frame().columns) == ["comparison", "level", "label", "m", "u", "weight"]


def test_em_picks_the_match_class_whatever_the_start():
    rng = np.random.default_rng(1)
    n = 5_000
    match = rng.random(n) < 0.8  # most candidates are matches
    lv = np.stack([np.where(match, rng.random(n) > 0.9, rng.random(n) > 0.2),
                   np.where(match, rng.random(n) > 0.85, rng.random(n) > 0.3),
                   np.where(match, rng.random(n) > 0.8, rng.random(n) > 0.25)], 1).astype(int)
    for lam in (0.1, 0.5, 0.9):
        model = fit_em(lv, [2, 2, 2], names=["a", "b", "c"], labels=[["=", "!="]] * 3, lam=lam)
        assert model.m[0][0] > model.u[0][0]
        assert abs(model.lam - 0.8) < 0.05
