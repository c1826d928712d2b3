"""Fellegi-Sunter match weights: m/u probabilities per comparison level, fitted by EM.

Each comparison maps a candidate pair to a level (0 = strongest agreement, -1 =
missing). ``m`` is P(level | match), ``u`` is P(level | non-match); a pair's
match weight is the sum of ``log2(m / u)`` over comparisons, so every score
decomposes into per-field evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EPS = 1e-6
PRIOR_STRENGTH = 20.0  # pseudo-counts pulling m towards its starting shape


@dataclass
class FSModel:
    """Fitted m/u probabilities of a set of comparisons.

    Attributes
    ----------
    names : list of str
        Comparison names, e.g. ``["amount", "date", "description"]``.
    labels : list of list of str
        Human labels of each comparison's levels.
    m, u : list of numpy.ndarray
        P(level | match) and P(level | non-match) per comparison.
    lam : float
        Share of matches among the pairs EM was fitted on.
    """

    names: list[str]
    labels: list[list[str]]
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float = 0.5
    n_iter: int = 0
    history: list[float] = field(default_factory=list)

    def weights(self) -> list[np.ndarray]:
        """``log2(m / u)`` per comparison level (bits of evidence)."""
        return [np.log2(np.maximum(m, _EPS) / np.maximum(u, _EPS)) for m, u in zip(self.m, self.u)]

    def to_frame(self):
        """The model as a tidy table: comparison, level, label, m, u, weight."""
        import pandas as pd

        rows = []
        for name, labels, m, u, w in zip(self.names, self.labels, self.m, self.u, self.weights()):
            for level, label in enumerate(labels):
                rows.append((name, level, label, m[level], u[level], w[level]))
        return pd.DataFrame(rows, columns=["comparison", "level", "label", "m", "u", "weight"])


def fit_em(
    levels: np.ndarray,
    n_levels: list[int],
    *,
    names: list[str],
    labels: list[list[str]],
    fixed_m: dict[int, np.ndarray] | None = None,
    m_init: dict[int, np.ndarray] | None = None,
    lam: float = 0.3,
    prior_strength: float = PRIOR_STRENGTH,
    max_iter: int = 200,
    tol: float = 1e-7,
    anchors: np.ndarray | None = None,
) -> FSModel:
    """Fit a two-class latent model (match / non-match) by expectation-maximisation.

    Parameters
    ----------
    levels : numpy.ndarray
        ``(P, C)`` integer levels of P candidate pairs on C comparisons; -1 = missing.
    n_levels : list of int
        Number of levels of each comparison.
    names, labels : list
        Comparison names and level labels (kept on the model for explanations).
    fixed_m : dict, optional
        Comparisons whose ``m`` is known and held fixed.
    m_init : dict, optional
        Starting ``m`` of some comparisons (default: decreasing with the level).
    lam : float
        Initial share of matches.
    prior_strength : float
        Pseudo-counts pulling each ``m`` towards its starting shape, so that
        levels seen a few times on small tables do not get extreme weights.
    anchors : numpy.ndarray of bool, optional
        Pairs known to be matches with high probability (e.g. the only candidate of
        each other). They tell the two classes apart once EM is done: the match
        class is the one the anchors belong to.

    Returns
    -------
    FSModel
        ``u`` here is the non-match distribution *among the candidates*; callers
        replace it with the population ``u`` before scoring.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> match = rng.random(5000) < 0.3
    >>> lv = np.stack([np.where(match, rng.random(5000) > p, rng.random(5000) > q)
    ...                for p, q in ((0.9, 0.2), (0.8, 0.3), (0.85, 0.25))], 1)
    >>> model = fit_em(lv.astype(int), [2, 2, 2], names=["a", "b", "c"],
    ...                labels=[["=", "!="]] * 3)
    >>> round(model.lam, 1)
    0.3
    """
    fixed_m = fixed_m or {}
    m_init = m_init or {}
    n_comp = levels.shape[1]
    base = np.array([k + 1 for k in n_levels], dtype=np.int64)
    code = np.zeros(len(levels), dtype=np.int64)
    for c in range(n_comp):
        code = code * base[c] + (levels[:, c].astype(np.int64) + 1)
    uniq, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
    anchor_w = (np.bincount(inverse, weights=np.asarray(anchors, dtype=np.float64),
                            minlength=len(uniq))
                if anchors is not None and np.any(anchors) else None)
    pat = np.zeros((len(uniq), n_comp), dtype=np.int64)
    rest = uniq.copy()
    for c in range(n_comp - 1, -1, -1):
        pat[:, c] = rest % base[c] - 1
        rest //= base[c]
    w = counts.astype(np.float64)

    m = []
    u = []
    for c, k in enumerate(n_levels):
        if c in fixed_m:
            m.append(np.asarray(fixed_m[c], dtype=np.float64))
        elif c in m_init:
            m.append(np.asarray(m_init[c], dtype=np.float64) / np.sum(m_init[c]))
        else:
            prior = 0.6 ** np.arange(k)
            m.append(prior / prior.sum())
        seen = pat[:, c] >= 0
        marg = np.bincount(pat[seen, c], weights=w[seen], minlength=k) + 1.0
        u.append(marg / marg.sum())

    m_prior = [x.copy() for x in m]
    history = []
    it = 0
    if len(levels) == 0:  # nothing to learn from: the starting shapes stand
        u = [np.full(k, 1.0 / k) for k in n_levels]
        return FSModel(list(names), [list(x) for x in labels], m, u, lam, 0, history)
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
        log_m = np.zeros(len(pat))
        log_u = np.zeros(len(pat))
        for c in range(n_comp):
            seen = pat[:, c] >= 0
            log_m[seen] += np.log(np.maximum(m[c][pat[seen, c]], _EPS))
            log_u[seen] += np.log(np.maximum(u[c][pat[seen, c]], _EPS))
        a = np.log(lam) + log_m
        b = np.log1p(-lam) + log_u
        top = np.maximum(a, b)
        r = np.exp(a - top) / (np.exp(a - top) + np.exp(b - top))
        loglik = float((w * (top + np.log(np.exp(a - top) + np.exp(b - top)))).sum())
        history.append(loglik)
        lam = float(np.clip((w * r).sum() / w.sum(), 1e-6, 1 - 1e-6))
        for c in range(n_comp):
            seen = pat[:, c] >= 0
            k = n_levels[c]
            if c not in fixed_m:
                mm = np.bincount(pat[seen, c], weights=(w * r)[seen], minlength=k)
                mm = mm + prior_strength * m_prior[c] + _EPS
                m[c] = mm / mm.sum()
            uu = np.bincount(pat[seen, c], weights=(w * (1 - r))[seen], minlength=k) + _EPS
            u[c] = uu / uu.sum()
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol * abs(history[-2]):
            break
    # With nothing held fixed EM is symmetric in its two classes: the match class is
    # the one whose levels are the stronger (lower) on average; swap if it came out
    # the other way round. Fixed m already tell the classes apart.
    free = [c for c in range(n_comp) if c not in fixed_m]
    observed = {c for c in range(n_comp) if (pat[:, c] >= 0).any()}
    if anchor_w is not None:  # the anchors' class is the match class
        flip = float(anchor_w @ r) < 0.5 * anchor_w.sum()
    else:  # a comparison no pair made has only its starting shape: it has no vote
        mean_level = [np.arange(len(m[c])) @ (m[c] - u[c]) / (len(m[c]) - 1 or 1)
                      for c in free if c in observed]
        flip = sum(mean_level) > 0
    if not fixed_m and flip:
        m, u = [u[c] if c in free else m[c] for c in range(n_comp)], [
            m[c] if c in free else u[c] for c in range(n_comp)
        ]
        lam = 1.0 - lam
    for c in range(n_comp):  # never seen (a column one side lacks): no evidence either way
        if c not in observed and c not in fixed_m:
            m[c] = u[c] = np.full(n_levels[c], 1.0 / n_levels[c])
    return FSModel(list(names), [list(x) for x in labels], m, u, lam, it, history)
