"""Comparison levels, Fellegi-Sunter weights learned by EM, and calibrated confidence."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from nexus_lab.reconcile._blocking import search_sorted, unique_ints
from nexus_lab.reconcile._fs import PRIOR_STRENGTH, FSModel, fit_em
from nexus_lab.reconcile._prepare import Side, Tolerance, name_similarity
from nexus_lab.text import SENTINEL

log = logging.getLogger("nexus_lab")

AMOUNT_LABELS = ["exact", "within 0.10", "within 1.00", "recurring difference",
                 "within 1%", "within 3%", "within 5%", "within tolerance"]
_AMOUNT_CUTS = (0, 10, 100)  # cents: the upper bounds of the first three levels
_AMOUNT_SHARES = (0.01, 0.03, 0.05)  # of the bank amount: the bounds of the next three
_FEE = 3  # the level of a difference that recurs across counterparties (a flat fee)
_BAND_LEVEL = np.array([0, 1, 2, 4, 5, 6, 7])  # band (by size) -> level
# before tolerance pairs are seen: nearly every match is exact
_M_AMOUNT_PRIOR = np.array([0.93, 0.015, 0.015, 0.01, 0.01, 0.01, 0.005, 0.005])
_MIN_FEE_PAIRS, _MIN_FEE_PARTIES = 5, 3  # a fee recurs this often, across this many parties
_MAX_FEES = 16
_DESC_LABELS = ["very similar", "similar", "partly similar", "weakly similar", "different"]
_DESC_CUTS = (0.9, 0.75, 0.55, 0.35)
_REF_LABELS = ["same reference", "different reference"]
_NUM_LABELS = ["a number in common", "no number in common"]
COMPARISONS = ("amount", "date", "description", "reference", "numbers")
_NUMS_COMPARED = 4  # numbers of each text a pair compares (the smallest)
PRIOR = len(COMPARISONS)  # the column of the prior in a weights table


class Scorer:
    """Comparison levels, EM-fitted m, population u and per-pair weights (torch)."""

    def __init__(
        self, b: Side, lg: Side, device: torch.device, tolerance: Tolerance, window: int
    ) -> None:
        self.b, self.lg, self.device, self.tolerance = b, lg, device, tolerance
        self.window = window
        self.sorted_l = np.sort(lg.cents)
        key = lg.keys[0]
        # (every name may be empty: keys all -1)
        counts = np.bincount(key[key >= 0], minlength=max(int(key.max(initial=-1)) + 1, 1))
        self.name_share = np.where(key >= 0, counts[np.maximum(key, 0)], 0) / len(lg)
        self.model: FSModel | None = None
        self.unobserved: list[int] = []  # comparisons no candidate pair could make
        # sorted codes b * n_ledger_names + l of name pairs compared so far, and their similarity
        self._compared: list[tuple[np.ndarray, np.ndarray]] = (
            [b.known_pairs] if b.known_pairs is not None and len(b.known_pairs[0]) else []
        )
        self._counts_b: np.ndarray | None = None
        # the name comparisons that travel to shards, one per direction (names only)
        self._names: dict[bool, NameSimilarity] = {}
        self.m_amount = _M_AMOUNT_PRIOR.copy()
        self.fees = np.zeros(0, np.int64)  # learned recurring differences (bank - ledger cents)
        self.date_labels = [_lag_label(lag) for lag in _lag_order(window)]
        self.u_fixed = [None, self._date_u(), self._description_u(), self._reference_u(),
                        self._numbers_u()]

    # levels -----------------------------------------------------------------
    def similarity(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Name similarity of bank rows ``i`` and ledger rows ``j``, once per name pair.

        Name pairs compared before (when resolving counterparties, or by an earlier
        call) are looked up instead of compared again.
        """
        return cached_similarity(self.b, self.lg, i, j, self._compared, self.device)

    def names(self, *, ledger_first: bool = False) -> NameSimilarity:
        """:meth:`similarity` as a callable that travels to a shard (the names, not the
        tables); with ``ledger_first``, it takes ledger rows first. One object per
        direction."""
        if ledger_first not in self._names:
            other = next(iter(self._names.values()), None)  # its names, not a new copy
            b, lg = ((other.b, other.lg) if other is not None
                     else (self.b.names_only(), self.lg.names_only()))
            self._names[ledger_first] = NameSimilarity(b, lg, self._compared, self.device,
                                                       ledger_first)
        return self._names[ledger_first]

    def remember(self, compared: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Name pairs compared elsewhere (sorted codes and their similarities), to look
        up instead of comparing them again."""
        self._compared.extend(c for c in compared if len(c[0]))

    def levels(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pair_levels(self.b, self.lg, i, j, window=self.window,
                           tolerance=self.tolerance, fees=self.fees,
                           similarity=self.similarity)

    def learn_fees(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Differences that recur far more often than chance among the pairs ``(i, j)``.

        A flat fee (a wire charge, an incoming-payment fee) moves many payments of many
        counterparties by the same amount; chance differences spread over the range. A
        difference counts as a fee when it occurs at least 5 times, across at least 3
        counterparties, 10 times more often than the differences around it (within
        5.00), and 4 times more often than its opposite (a fee moves amounts one way;
        the steps between a menu's prices show both ways). Learned once, it is a level
        of its own (``recurring difference``) whose weight EM fits like the others.
        """
        diff = self.b.cents[i] - self.lg.cents[j]
        big = np.abs(diff) > _AMOUNT_CUTS[-1]
        diff, party = diff[big], self.b.keys[0][i][big]
        self.fees = np.zeros(0, np.int64)
        if len(diff) < _MIN_FEE_PAIRS:
            return self.fees
        values, back, counts = np.unique(diff, return_inverse=True, return_counts=True)
        # the counterparties of each difference: its distinct (difference, party) pairs
        span = int(party.max()) + 2  # parties from -1 (no name)
        pairs = unique_ints(back.astype(np.int64) * span + (party + 1))
        parties = np.bincount(pairs // span, minlength=len(values))
        around = 500
        ordered = np.sort(diff)
        near = (np.searchsorted(ordered, values + around, "right")
                - np.searchsorted(ordered, values - around, "left") - counts)
        floor = near / (2.0 * around)
        # a fee moves one way (bank = ledger + fee); steps between menu prices show both
        mirror = np.minimum(np.searchsorted(values, -values), len(values) - 1)
        opposite = np.where(values[mirror] == -values, counts[mirror], 0)
        fee = ((counts >= _MIN_FEE_PAIRS) & (parties >= _MIN_FEE_PARTIES)
               & (counts >= 10.0 * np.maximum(floor, 0.1)) & (counts >= 4 * opposite))
        top = np.argsort(-counts[fee], kind="stable")[:_MAX_FEES]
        self.fees = np.sort(values[fee][top])
        if self._counts_b is not None:  # the fee level's population changed, the bands' not
            order = np.argsort(self.b.cents, kind="stable") if len(self.fees) else None
            self._counts_b[:, _FEE] = self._fee_counts(self.b.cents, order) / len(self.lg)
        return self.fees

    # m and u ----------------------------------------------------------------
    def fit(self, lv: np.ndarray, i: np.ndarray, j: np.ndarray) -> FSModel:
        """EM on the exact-amount candidates ``(i, j)``: m for date, description, reference.

        EM starts from the anchors, the pairs that are each other's only exact-amount
        candidate: their levels give the first ``m`` and their class is the match class.
        Starting from a guess instead lets EM settle on some other split of the pairs
        (a cluster of posting lags, say) on books unlike the ones it was tried on.
        """
        n_levels = [2 * self.window + 1, 5, 2, 2]
        anchors = _mutually_unique(i, j)
        m_init = {}
        if anchors.sum() >= _MIN_ANCHORS:
            for c, k in enumerate(n_levels):
                seen = lv[anchors, c + 1]
                seen = seen[seen >= 0]
                if len(seen):
                    m_init[c] = np.bincount(seen, minlength=k) + 0.6 ** np.arange(k)
        em = fit_em(
            lv[:, 1:], n_levels, names=list(COMPARISONS[1:]),
            labels=[self.date_labels, _DESC_LABELS, _REF_LABELS, _NUM_LABELS], m_init=m_init,
            lam=float(np.clip(anchors.mean(), 0.05, 0.95)) if m_init else 0.3,
            anchors=anchors if anchors.sum() >= _MIN_ANCHORS else None,
        )
        self.em = em
        self.n_exact = em.lam * len(lv)
        # a comparison no candidate pair could make (one side lacks references, or
        # every name is empty) is shown as no evidence either way, not as EM's prior
        self.unobserved = [c for c in range(1, lv.shape[1]) if not (lv[:, c] >= 0).any()]
        self._set_model()
        return self.model

    def fit_amount(self, lv2: np.ndarray, n_exact_matched: int) -> None:
        """EM on tolerance candidates with date/description/reference m held fixed."""
        if len(lv2) == 0:
            return
        em2 = fit_em(
            lv2, [len(AMOUNT_LABELS), 2 * self.window + 1, 5, 2, 2], names=list(COMPARISONS),
            labels=[AMOUNT_LABELS, self.date_labels, _DESC_LABELS, _REF_LABELS, _NUM_LABELS],
            fixed_m={c + 1: self.em.m[c] for c in range(len(COMPARISONS) - 1)}, lam=0.5,
        )
        if em2.lam < 0.02:  # EM gave up the match class: keep the prior amount weights
            log.info("tolerance pairs too few or too ambiguous to learn from; prior weights used")
            return
        found = np.r_[n_exact_matched, em2.lam * len(lv2) * em2.m[0][1:]]
        found = found + PRIOR_STRENGTH * _M_AMOUNT_PRIOR  # the same pseudo-counts as EM's
        self.m_amount = np.maximum(found / found.sum(), 1e-4)
        self.m_amount /= self.m_amount.sum()
        self._set_model()

    def _set_model(self) -> None:
        em = self.em
        u = [self._amount_u_mean(), *self.u_fixed[1:]]
        m = [self.m_amount, *em.m]
        for c in self.unobserved:
            m[c] = u[c]

        def model(m: list[np.ndarray]) -> FSModel:
            return FSModel(
                list(COMPARISONS),
                [AMOUNT_LABELS, self.date_labels, _DESC_LABELS, _REF_LABELS, _NUM_LABELS],
                m, u, lam=em.lam, n_iter=em.n_iter,
            )

        self.model_fitted = model(m)  # as EM left it: what the diagnosis judges
        desc = COMPARISONS.index("description")
        self.model = model([*m[:desc], monotone_ratio(m[desc], u[desc]), *m[desc + 1:]])

    def _amount_counts(self, cents: np.ndarray) -> np.ndarray:
        """Per bank amount: ledger rows in each amount level (the bands by size, and the
        rows one learned fee away)."""
        s = self.sorted_l
        order = np.argsort(cents, kind="stable") if len(cents) >= 1 << 15 else None
        within = np.stack(
            [
                search_sorted(s, cents + d, "right", order)
                - search_sorted(s, cents - d, "left", order)
                for d in _bounds(cents, self.tolerance)
            ],
            1,
        ).astype(np.float64)
        out = np.zeros((len(cents), len(AMOUNT_LABELS)))
        out[:, _BAND_LEVEL] = np.diff(within, axis=1, prepend=0.0)
        out[:, _FEE] = self._fee_counts(cents, order)
        return out

    def _fee_counts(self, cents: np.ndarray, order: np.ndarray | None) -> np.ndarray:
        """Per bank amount: the ledger rows one learned fee away (bank = ledger + fee)."""
        s, out = self.sorted_l, np.zeros(len(cents))
        for fee in self.fees:
            out += (search_sorted(s, cents - fee, "right", order)
                    - search_sorted(s, cents - fee, "left", order))
        return out

    def _amount_u_mean(self) -> np.ndarray:
        sample = self.b.cents[:: max(1, len(self.b) // 50_000)]
        counts = self._amount_counts(sample).mean(0) / len(self.lg)
        return np.maximum(counts, 1.0 / (len(self.lg) * max(len(self.b), 1)))

    def _date_u(self) -> np.ndarray:
        b, lg = self.b.event, self.lg.day
        lo = int(min(b.min(), lg.min()))
        hb = np.bincount(b - lo).astype(np.float64)
        hl = np.bincount(lg - lo).astype(np.float64)
        corr = np.convolve(hb, hl[::-1])  # corr[k] counts pairs with lag k - (len(hl) - 1)
        lag = np.arange(len(corr)) - (len(hl) - 1)
        p = np.clip(corr, 0, None) / (len(b) * len(lg))
        inside = np.abs(lag) <= self.window
        lv = _date_level(lag[inside])
        n_date = 2 * self.window + 1
        return np.maximum(np.bincount(lv, weights=p[inside], minlength=n_date), 1e-12)

    def _description_u(self, n: int = 60_000) -> np.ndarray:
        rng = np.random.default_rng(0)
        i = rng.integers(0, len(self.b), n)
        j = rng.integers(0, len(self.lg), n)
        sim = self.similarity(i, j)
        return (np.bincount(_desc_level(sim), minlength=5) + 1.0) / (n + 5.0)

    def _reference_u(self) -> np.ndarray:
        rb, rl = self.b.ref[self.b.ref >= 0], self.lg.ref[self.lg.ref >= 0]
        if len(rb) == 0 or len(rl) == 0:
            return np.array([1e-6, 1 - 1e-6])
        vb, cb = np.unique(rb, return_counts=True)
        vl, cl = np.unique(rl, return_counts=True)
        _, ib, il = np.intersect1d(vb, vl, return_indices=True)
        same = float((cb[ib] * cl[il]).sum()) / (len(rb) * len(rl))
        same = max(same, 1.0 / (len(rb) * len(rl)))
        return np.array([same, 1 - same])

    def _numbers_u(self) -> np.ndarray:
        """P(a random pair's texts share a number | both carry one): the number's count
        on each side, multiplied, summed over the numbers, over the pairs of such rows."""
        nb, nl = self.b.nums, self.lg.nums
        rows_b, rows_l = (nb[:, 0] >= 0).sum(), (nl[:, 0] >= 0).sum()
        if rows_b == 0 or rows_l == 0:
            return np.array([1e-6, 1 - 1e-6])
        vb, cb = np.unique(nb[nb >= 0], return_counts=True)
        vl, cl = np.unique(nl[nl >= 0], return_counts=True)
        _, ib, il = np.intersect1d(vb, vl, assume_unique=True, return_indices=True)
        same = float((cb[ib] * cl[il]).sum()) / (float(rows_b) * rows_l)
        same = float(np.clip(same, 1.0 / (float(rows_b) * rows_l), 0.5))
        return np.array([same, 1 - same])

    # weights ----------------------------------------------------------------
    def weights(self, lv: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Bits of evidence per pair: amount, date, description, reference, numbers, prior."""
        model = self.model
        w = np.zeros((len(lv), PRIOR + 1))
        self.reweigh_amount(w, lv, i)
        tables = model.weights()
        for c in range(1, PRIOR):
            seen = lv[:, c] >= 0
            w[seen, c] = tables[c][lv[seen, c]]
        # term frequency: agreeing on a common counterparty's name is weaker evidence
        share = self.name_share[j]
        tf = (lv[:, 2] >= 0) & (lv[:, 2] <= 1) & (share > 0)
        m_desc = model.m[2]
        u_tf = np.maximum(share[tf], 1.0 / len(self.lg))
        w[tf, 2] = np.log2(np.maximum(m_desc[lv[tf, 2]], 1e-9) / u_tf)
        return w

    def reweigh_amount(self, w: np.ndarray, lv: np.ndarray, i: np.ndarray) -> None:
        """Write the amount and prior bits of ``weights`` into ``w`` (the parts that
        :meth:`fit_amount` changes)."""
        self.count_amounts()
        u_amt = np.maximum(self._counts_b[i, lv[:, 0]], 1.0 / (len(self.lg) * len(self.b)))
        w[:, 0] = np.log2(np.maximum(self.m_amount[lv[:, 0]], 1e-9) / u_amt)
        matched = np.clip(self.expected_matches() / len(self.b), 1e-3, 1 - 1e-3)
        w[:, PRIOR] = np.log2(matched / (1 - matched) / len(self.lg))

    def count_amounts(self) -> Scorer:
        """Per bank row, the share of ledger rows in each amount level (the amount
        weights' u), counted once: before the first weights, or while other work runs."""
        if self._counts_b is None:  # sorted look-ups are cache friendly
            order = np.argsort(self.b.cents, kind="stable")
            counts = np.empty((len(order), len(AMOUNT_LABELS)))
            counts[order] = self._amount_counts(self.b.cents[order])
            self._counts_b = counts / len(self.lg)
        return self

    def expected_matches(self) -> float:
        return max(self.n_exact / max(self.m_amount[0], 1e-3), 1.0)

    def confidence(
        self, i: np.ndarray, j: np.ndarray, bits: np.ndarray, pick: np.ndarray,
        views: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """P(chosen pair is right) against every alternative one step away.

        For a chosen pair, the alternatives are: leaving the row open; taking a
        free candidate instead; or swapping with the pair that holds a candidate
        (its owner then takes ours, or stays open). Each alternative is weighed
        by 2 ** (its total bits minus ours), from the bank row's side and from
        the ledger row's side (:func:`alternatives`; ``views`` gives both sums when
        they were computed elsewhere); the confidence is the smaller of the two.
        Pairs not chosen get 0.
        """
        out = np.zeros(len(i))
        if not pick.any():
            return out
        bits = np.clip(bits, -60, 60)
        if views is None:
            alike = self.b.alike(), self.lg.alike()
            views = (alternatives("bank", i, j, bits, pick, *alike),
                     alternatives("ledger", i, j, bits, pick, *alike))
        row, col = views
        pi, pj, pb = i[pick], j[pick], bits[pick]
        col_prior = np.log2(len(self.lg) / len(self.b))
        p_row = 1.0 / (1.0 + np.exp2(-pb) + row[pi])
        p_col = 1.0 / (1.0 + np.exp2(-np.clip(pb + col_prior, -60, 60)) + col[pj])
        out[pick] = np.minimum(p_row, p_col)
        return out


def alternatives(view: str, i: np.ndarray, j: np.ndarray, bits: np.ndarray,
                 pick: np.ndarray, alike_b: np.ndarray, alike_l: np.ndarray) -> np.ndarray:
    """Per row of one side (``view``: ``"bank"`` or ``"ledger"``), the sum of
    2 ** (bits of each alternative one step away, less the chosen pair's): the rest of
    :meth:`Scorer.confidence`, one side's view at a time (the two are independent).

    The bank row's view: bank row ``a`` (holding ``c0``) takes candidate ``c`` instead,
    and ``c``'s owner ``a2`` takes ``c0`` (or stays open). The ledger row's view: ledger
    row ``c`` (held by ``b0``) goes to ``a`` instead. ``bits`` count up to +-60.
    Swapping with a pair whose rows read the same as ours (``alike_b``, ``alike_l``:
    ``Side.alike``) is no alternative: the two links say the same, whichever way they
    are paired.

    Examples
    --------
    Bank row 0 holds ledger row 0 (4 bits); its other candidate, ledger row 1, is free
    (1 bit): 2 ** (1 - 4) for bank row 0, nothing for bank row 1.

    >>> i, j = np.array([0, 0]), np.array([0, 1])
    >>> bits, pick = np.array([4.0, 1.0]), np.array([True, False])
    >>> alternatives("bank", i, j, bits, pick, np.arange(2), np.arange(2))
    array([0.125, 0.   ])
    """
    if view not in ("bank", "ledger"):
        raise ValueError(f"view={view!r}: give 'bank' or 'ledger'")
    bits = np.clip(bits, -60, 60)
    nb, nl = len(alike_b), len(alike_l)
    owner_l = np.full(nl, -1)
    owner_l[j[pick]] = i[pick]
    owner_b = np.full(nb, -1)
    owner_b[i[pick]] = j[pick]
    mine_b = np.zeros(nb)
    mine_b[i[pick]] = bits[pick]
    mine_l = np.zeros(nl)
    mine_l[j[pick]] = bits[pick]
    code = i * nl + j
    order = np.argsort(code)
    sorted_code, sorted_bits = code[order], bits[order]

    def weight(a: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Bits of pair (a, c), or 0 (= left open) when it is no candidate."""
        out = np.zeros(len(a))
        both = np.flatnonzero((a >= 0) & (c >= 0))
        k = a[both] * nl + c[both]
        pos = np.minimum(search_sorted(sorted_code, k), len(sorted_code) - 1)
        hit = sorted_code[pos] == k
        out[both[hit]] = np.maximum(sorted_bits[pos[hit]], 0.0)
        return out

    def same(x: np.ndarray, y: np.ndarray, cls: np.ndarray) -> np.ndarray:
        return (y >= 0) & (cls[x] == cls[np.maximum(y, 0)])

    rest = np.flatnonzero(~pick)
    a, c, w = i[rest], j[rest], bits[rest]
    if view == "bank":  # row a (holding c0) takes c instead
        c0, a2 = owner_b[a], owner_l[c]
        rel = w - mine_b[a] - mine_l[c] * (a2 >= 0) + weight(a2, c0) * (a2 >= 0)
        held = (c0 >= 0) & ~(same(a, a2, alike_b) & same(c, c0, alike_l))
        return np.bincount(a[held], weights=np.exp2(np.clip(rel[held], -60, 60)),
                           minlength=nb)
    # column c (held by b0) goes to a instead
    b0, c1 = owner_l[c], owner_b[a]
    rel = w - mine_l[c] - mine_b[a] * (c1 >= 0) + weight(b0, c1) * (c1 >= 0)
    held = (b0 >= 0) & ~(same(c, c1, alike_l) & same(a, b0, alike_b))
    return np.bincount(c[held], weights=np.exp2(np.clip(rel[held], -60, 60)), minlength=nl)


def monotone_ratio(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``m`` with ``m / u`` made non-increasing over ordered levels (most alike first).

    A more similar name is never weaker evidence than a less similar one: where EM
    gives a level a lower ratio than the next one (few matches have the very
    similar names that a bank's prefixes rule out), the two levels are pooled
    (pool adjacent violators, weighted by ``u``), which keeps ``m``'s total.

    Examples
    --------
    >>> monotone_ratio(np.array([0.001, 0.669, 0.33]), np.array([0.0005, 0.0125, 0.987]))
    array([0.02576923, 0.64423077, 0.33      ])
    """
    blocks = [[float(a), float(b), 1] for a, b in zip(m, u)]  # levels, not rows
    out: list[list[float]] = []
    for block in blocks:
        out.append(block)
        while len(out) > 1 and out[-2][0] * out[-1][1] < out[-1][0] * out[-2][1]:
            last = out.pop()
            out[-1] = [out[-1][0] + last[0], out[-1][1] + last[1], out[-1][2] + last[2]]
    ratio = np.repeat([mb / ub for mb, ub, _ in out], [int(k) for _, _, k in out])
    return ratio * u


class NameSimilarity:
    """``similarity(i, j)``: the name similarity of bank rows ``i`` and ledger rows ``j``
    (``ledger_first``: ledger rows ``i``, bank rows ``j``), with the name pairs compared
    so far looked up (:func:`cached_similarity`). It holds the names only, so that it
    travels to a shard."""

    def __init__(self, b: Side, lg: Side, compared: list, device: torch.device,
                 ledger_first: bool = False) -> None:
        self.b, self.lg, self.compared, self.device = b, lg, compared, device
        self.ledger_first = ledger_first

    def __call__(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        if self.ledger_first:
            i, j = j, i
        return cached_similarity(self.b, self.lg, i, j, self.compared, self.device)


def cached_similarity(b: Side, lg: Side, i: np.ndarray, j: np.ndarray,
                      compared: list[tuple[np.ndarray, np.ndarray]],
                      device: torch.device) -> np.ndarray:
    """Name similarity of bank rows ``i`` and ledger rows ``j``, once per name pair.

    ``compared`` holds the name pairs compared before (sorted codes ``b * n_ledger_names
    + l`` and their similarities), looked up instead of compared again; the pairs
    compared now are added to it.
    """
    nl = len(lg.names)
    back, uniq = pd.factorize(b.name_id[i] * nl + lg.name_id[j])
    sim = np.empty(len(uniq), dtype=np.float32)
    todo = np.arange(len(uniq))
    for known, known_sim in compared:
        if len(todo) == 0:
            break
        pos = np.minimum(search_sorted(known, uniq[todo]), len(known) - 1)
        hit = known[pos] == uniq[todo]
        sim[todo[hit]] = known_sim[pos[hit]]
        todo = todo[~hit]
    if len(todo):
        rest = uniq[todo]
        fresh = name_similarity(b, lg, rest // nl, rest % nl, device)
        sim[todo] = fresh
        order = np.argsort(rest)
        compared.append((rest[order], fresh[order]))
    return sim[back]


def amount_levels(cents_b: np.ndarray, cents_l: np.ndarray, tolerance: Tolerance,
                  fees: np.ndarray) -> np.ndarray:
    """The amount level of each pair: its band by size (:func:`_bounds`), or "recurring
    difference" when it differs by more than 1.00 by one of ``fees``."""
    diff = cents_b - cents_l
    size = np.abs(diff)
    band = np.zeros(len(diff), np.int64)
    for bound in _bounds(cents_b, tolerance)[:-1]:
        band += size > bound
    level = _BAND_LEVEL[band]
    if len(fees):
        fee = np.isin(diff, fees) & (size > _AMOUNT_CUTS[-1])
        level[fee] = _FEE
    return level


def _bounds(cents: np.ndarray, tolerance: Tolerance) -> list:
    """Per bank amount, the upper bounds (cents) of the bands by size: exact, 0.10,
    1.00, 1%, 3%, 5% (each at least the one before, at most the tolerance) and the
    tolerance itself."""
    tol = np.maximum(tolerance.of(cents), _AMOUNT_CUTS[-1])
    size = np.abs(cents).astype(np.float64)
    shares = [np.minimum(np.maximum(np.rint(s * size).astype(np.int64), _AMOUNT_CUTS[-1]),
                         tol) for s in _AMOUNT_SHARES]
    return [*_AMOUNT_CUTS, *shares, tol]


def pair_levels(b: Side, lg: Side, i: np.ndarray, j: np.ndarray, *, window: int,
                tolerance: Tolerance, fees: np.ndarray,
                similarity: Callable[[np.ndarray, np.ndarray], np.ndarray],
                ) -> tuple[np.ndarray, np.ndarray]:
    """The comparison levels of bank rows ``i`` against ledger rows ``j`` (amount, date,
    description, reference, numbers; -1 where a pair cannot be compared), and their
    name similarity. The amount levels are :func:`amount_levels` with the learned
    ``fees``."""
    amount = amount_levels(b.cents[i], lg.cents[j], tolerance, fees)
    date = _date_level(np.clip(b.event[i] - lg.day[j], -window, window))
    sim = similarity(i, j)
    empty = (b.codes[b.name_id[i], 0] == SENTINEL) | (lg.codes[lg.name_id[j], 0] == SENTINEL)
    desc = np.where(empty, -1, _desc_level(sim))
    rb, rl = b.ref[i], lg.ref[j]
    ref = np.where((rb < 0) | (rl < 0), -1, np.where(rb == rl, 0, 1))
    num = np.where((b.nums[i, 0] < 0) | (lg.nums[j, 0] < 0), -1,
                   np.where(share_a_number(b, lg, i, j), 0, 1))
    return np.stack([amount, date, desc, ref, num], 1).astype(np.int64), sim


def share_a_number(b: Side, lg: Side, i: np.ndarray, j: np.ndarray,
                   chunk: int = 1 << 20) -> np.ndarray:
    """Whether the texts of bank rows ``i`` and ledger rows ``j`` share a number (of the
    ``_NUMS_COMPARED`` smallest of each), in chunks of pairs."""
    out = np.zeros(len(i), bool)
    for s in range(0, len(i), chunk):
        nb = b.nums[i[s:s + chunk], :_NUMS_COMPARED]
        nl = lg.nums[j[s:s + chunk], :_NUMS_COMPARED]
        out[s:s + chunk] = ((nb[:, :, None] == nl[:, None, :]) & (nb[:, :, None] >= 0)).any((1, 2))
    return out


def _date_level(lag: np.ndarray) -> np.ndarray:
    """One level per day of lag, ordered 0, +1, -1, +2, -2, ... (bank minus ledger)."""
    lag = np.asarray(lag, dtype=np.int64)
    return 2 * np.abs(lag) - (lag > 0)

def _lag_order(window: int) -> list[int]:
    return [0] + [x for k in range(1, window + 1) for x in (k, -k)]

def _lag_label(lag: int) -> str:
    if lag == 0:
        return "same day"
    return f"bank {abs(lag)}d {'later' if lag > 0 else 'earlier'}"

_MIN_ANCHORS = 10


def _mutually_unique(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Pairs whose bank row and ledger row have no other candidate."""
    if len(i) == 0:
        return np.zeros(0, bool)
    return (np.bincount(i)[i] == 1) & (np.bincount(j)[j] == 1)


def _desc_level(sim: np.ndarray) -> np.ndarray:
    return np.digitize(-sim, -np.array(_DESC_CUTS), right=True).astype(np.int64)
