"""Rules and statistics over transactions: sorted look-ups, no Python loop over rows.

Every signal is computed over a *context* (the history the detector was fitted
on plus the rows being scored) so that a burst or a duplicate that straddles
the two is still seen; the values are then read off for the scored rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from nexus_lab.fraud._inputs import Tx

ENTITIES = ("account", "vendor", "category")
_BENFORD = np.log10(1 + 1 / np.arange(1, 10))  # P(first digit = d), d = 1..9
_MAD_Z = 0.6745  # modified z-score: 0.6745 (x - median) / MAD (Iglewicz and Hoaglin)
_MIN_GROUP = 5  # rows a group needs before its own median and MAD are used

#: Rule settings a detector starts from; ``FraudDetector(rules={...})`` overrides them.
DEFAULT_RULES = {
    "thresholds": (10_000.0,),  # approval limits, currency units
    "threshold_band": 0.05,  # "just under" = within this share below a limit
    "round_unit": 100.0,  # an amount that is a multiple of this (and >= 10 units) is round
    "duplicate_window_hours": 72.0,
    "near_duplicate_share": 0.01,  # near duplicate: amounts within 1%
    "velocity_window_minutes": 60.0,  # either side of a transaction
    "velocity_count": 6,  # payments of one account in the window, itself included
    "velocity_day_count": 25,  # ... within 24 hours either side
    "business_hours": (6, 22),  # local time; outside is "off hours"
    "weekend_days": (6,),  # 0 = Monday; Sunday by default (many businesses work Saturdays)
    "new_vendor_min_history": 5,  # earlier payments an account needs for "new vendor"
    "benford_min_rows": 40,  # rows a group needs before Benford's law is tested
    "benford_min_span": 2.0,  # orders of magnitude its central 90% of amounts must span
    "benford_mad": 0.015,  # Nigrini's first-digit MAD beyond which a group does not conform
    "benford_p": 0.001,  # and the chi-square p-value it must also reach
    "z_threshold": 3.5,  # modified z-score of a statistical outlier
    "iqr_k": 3.0,  # outside Q3 + k * IQR (Tukey's "far out" fence)
}


def check_rules(rules: dict | None) -> dict:
    """Defaults updated by ``rules``; unknown names are refused."""
    from nexus_lab.errors import SchemaError

    out = dict(DEFAULT_RULES)
    unknown = sorted(set(rules or {}) - set(out))
    if unknown:
        raise SchemaError(
            f"rules= names {unknown}, which are not rules; the known ones are {sorted(out)}"
        )
    out.update(rules or {})
    out["thresholds"] = tuple(float(t) for t in np.atleast_1d(out["thresholds"]))
    return out


# ------------------------------------------------------------------------ encoding

def encode(vocab: pd.Index, values: np.ndarray) -> np.ndarray:
    """Codes of ``values`` in ``vocab``; unseen values get new codes after it."""
    codes = vocab.get_indexer(values).astype(np.int64)
    unseen = codes < 0
    if unseen.any():
        extra, _ = pd.factorize(values[unseen])
        codes[unseen] = len(vocab) + extra
    return codes


def group_quantiles(
    codes: np.ndarray, x: np.ndarray, n_groups: int, qs: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group row counts and quantiles (linear interpolation), by one sort."""
    order = np.lexsort((x, codes))
    sc, sx = codes[order], x[order]
    count = np.bincount(codes, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    out = np.full((len(qs), n_groups), np.nan)
    have = count > 0
    for k, q in enumerate(qs):
        pos = start[have] + q * (count[have] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, start[have] + count[have] - 1)
        frac = pos - lo
        out[k, have] = sx[lo] * (1 - frac) + sx[hi] * frac
    del sc
    return count, out


@dataclass
class GroupStats:
    """Median, MAD and quartiles of log-amounts per group, learned from history."""

    count: np.ndarray
    median: np.ndarray
    mad: np.ndarray
    q1: np.ndarray
    q3: np.ndarray

    @classmethod
    def fit(cls, codes: np.ndarray, x: np.ndarray, n_groups: int) -> GroupStats:
        count, (med, q1, q3) = group_quantiles(codes, x, n_groups, (0.5, 0.25, 0.75))
        dev = np.abs(x - med[codes])
        _, (mad,) = group_quantiles(codes, dev, n_groups, (0.5,))
        # a group of identical amounts has MAD 0: floor the scale at a small share
        _, (g_med, g_q1, g_q3) = group_quantiles(
            np.zeros(len(x), np.int64), x, 1, (0.5, 0.25, 0.75))
        _, (g_mad,) = group_quantiles(np.zeros(len(x), np.int64), np.abs(x - g_med[0]), 1, (0.5,))
        floor = max(float(g_mad[0]), 0.05)
        small = count < _MIN_GROUP
        med = np.where(small, g_med[0], med)
        mad = np.where(small, floor, np.maximum(np.nan_to_num(mad, nan=floor), 0.25 * floor))
        q1 = np.where(small, g_q1[0], q1)
        q3 = np.where(small, g_q3[0], q3)
        glob = cls(np.r_[count, 0], np.r_[med, g_med[0]], np.r_[mad, floor],
                   np.r_[q1, g_q1[0]], np.r_[q3, g_q3[0]])
        return glob

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Index into the tables: codes unseen at fit time read the global row (last)."""
        return np.where((codes >= 0) & (codes < len(self.count) - 1), codes, len(self.count) - 1)

    def z(self, codes: np.ndarray, x: np.ndarray) -> np.ndarray:
        k = self.lookup(codes)
        return _MAD_Z * (x - self.median[k]) / self.mad[k]

    def iqr_excess(self, codes: np.ndarray, x: np.ndarray) -> np.ndarray:
        """How many IQRs above Q3 (0 when below)."""
        k = self.lookup(codes)
        iqr = np.maximum(self.q3[k] - self.q1[k], self.mad[k])
        return np.maximum(x - self.q3[k], 0.0) / iqr


def log_amount(cents: np.ndarray) -> np.ndarray:
    return np.log1p(np.abs(cents) / 100.0)


# ------------------------------------------------------------------------ sequences

def sequence_signals(ctx: Tx, codes: dict[str, np.ndarray], rules: dict) -> dict[str, np.ndarray]:
    """Per context row: velocity, gaps, duplicates and first payments to a vendor."""
    n = len(ctx)
    acct, vend = codes["account"], codes["vendor"]
    ts, cents = ctx.ts, ctx.cents
    out: dict[str, np.ndarray] = {}
    # account timelines: one int64 key (account, time) sorted once
    t0 = int(ts.min()) if n else 0
    span = int(ts.max()) - t0 + 1 if n else 1
    order = np.lexsort((np.arange(n), ts, acct))
    key = acct[order] * span + (ts[order] - t0)
    w = int(rules["velocity_window_minutes"] * 60)
    day = 86_400

    def around(width: int) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(key, key - width, "left")
        hi = np.searchsorted(key, key + width, "right")
        return lo, hi

    lo, hi = around(w)
    count_w = np.empty(n, np.int64)
    count_w[order] = hi - lo
    lo_d, hi_d = around(day)
    count_d = np.empty(n, np.int64)
    count_d[order] = hi_d - lo_d
    money = np.concatenate([[0.0], np.cumsum(np.abs(cents[order]) / 100.0)])
    sum_d = np.empty(n)
    sum_d[order] = money[hi_d] - money[lo_d]
    same_prev = np.r_[False, acct[order][1:] == acct[order][:-1]]
    gap_prev = np.full(n, np.inf)
    gap_prev[order[same_prev]] = np.diff(ts[order])[same_prev[1:]]
    same_next = np.r_[same_prev[1:], False]
    gap_next = np.full(n, np.inf)
    gap_next[order[same_next]] = np.diff(ts[order])[same_prev[1:]]
    rank = np.arange(n) - np.searchsorted(acct[order], acct[order], "left")
    prior = np.empty(n, np.int64)
    prior[order] = rank  # the account's earlier payments
    out.update(count_window=count_w, count_day=count_d, sum_day=sum_d,
               gap_prev=gap_prev, gap_next=gap_next, account_prior=prior)

    # duplicates: an earlier row of the same account, vendor and amount within the window
    window = int(rules["duplicate_window_hours"] * 3600)
    o = np.lexsort((np.arange(n), ts, cents, vend, acct))
    same = np.r_[False, (acct[o][1:] == acct[o][:-1]) & (vend[o][1:] == vend[o][:-1])
                 & (cents[o][1:] == cents[o][:-1])]
    close = np.r_[False, np.diff(ts[o]) <= window]
    twin = np.full(n, -1, np.int64)
    hit = same & close
    twin[o[hit]] = o[np.flatnonzero(hit) - 1]
    # near duplicates: one of the three payments before, same account and vendor, amount
    # within the share, not equal
    o2 = np.lexsort((np.arange(n), ts, vend, acct))
    near = np.full(n, -1, np.int64)
    share = rules["near_duplicate_share"]
    for lag in (1, 2, 3):  # a loop over lags, not rows
        a, b = o2[lag:], o2[:-lag]
        ok = ((acct[a] == acct[b]) & (vend[a] == vend[b]) & (ts[a] - ts[b] <= window)
              & (cents[a] != cents[b])
              & (np.abs(cents[a] - cents[b]) <= share * np.maximum(np.abs(cents[a]), 1)))
        fill = ok & (near[a] < 0)
        near[a[fill]] = b[fill]
    out.update(duplicate_of=twin, near_duplicate_of=near)

    # the first payment of an account to a vendor, once the account has a history
    first = np.r_[True, (acct[o2][1:] != acct[o2][:-1]) | (vend[o2][1:] != vend[o2][:-1])]
    is_first = np.empty(n, bool)
    is_first[o2] = first
    out["new_vendor"] = is_first & (prior >= rules["new_vendor_min_history"])
    # how usual the vendor is: accounts paying it, and this account's share of it
    pair = acct * (int(vend.max()) + 1 if n else 1) + vend
    _, pair_inv, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    acct_count = np.bincount(acct, minlength=int(acct.max()) + 1 if n else 0)
    out["vendor_share"] = pair_count[pair_inv] / acct_count[acct]
    vend_first = np.bincount(vend[o2][first], minlength=int(vend.max()) + 1 if n else 0)
    out["vendor_accounts"] = vend_first[vend]
    return out


# ------------------------------------------------------------------------ Benford

def first_digit(cents: np.ndarray) -> np.ndarray:
    """Leading digit 1-9 of the amount in currency units (0 below one unit)."""
    units = np.abs(cents) / 100.0
    out = np.zeros(len(cents), np.int64)
    pos = units >= 1
    mag = np.floor(np.log10(units[pos]))
    out[pos] = np.clip((units[pos] / 10**mag).astype(np.int64), 1, 9)
    return out


def benford_table(
    codes: np.ndarray, digits: np.ndarray, cents: np.ndarray, n_groups: int, rules: dict
):
    """Per group: rows tested, first-digit MAD, chi-square p-value, and conformity.

    Benford's law holds only for amounts that span orders of magnitude: a
    vendor whose prices sit around 90.00 never follows it. A group is tested
    when its central 90% of amounts spans at least ``benford_min_span``
    orders of magnitude and it has ``benford_min_rows`` rows. It is judged on
    the mean absolute deviation of its first-digit shares (Nigrini: above
    0.015 = nonconformity) *and* a chi-square test: the chi-square rejects
    nearly every large group for trivial departures and the MAD is unstable for
    small ones, so a group is flagged only when both agree.
    """
    use = digits > 0
    mag = np.log10(np.maximum(np.abs(cents[use]) / 100.0, 1.0))
    _, (p5, p95) = group_quantiles(codes[use], mag, n_groups, (0.05, 0.95))
    wide = np.nan_to_num(p95 - p5) >= rules["benford_min_span"]
    counts = np.zeros((n_groups, 9))
    np.add.at(counts, (codes[use], digits[use] - 1), 1)
    n = counts.sum(1)
    share = counts / np.maximum(n, 1)[:, None]
    mad = np.abs(share - _BENFORD).mean(1)
    chi2 = (n[:, None] * (share - _BENFORD) ** 2 / _BENFORD).sum(1)
    p = sps.chi2.sf(chi2, df=8)
    flagged = (n >= rules["benford_min_rows"]) & wide & (mad > rules["benford_mad"]) & (
        p < rules["benford_p"])
    # per group and digit: observed share over Benford's (a digit the group over-uses)
    excess = share / _BENFORD
    return n, mad, p, flagged, excess
