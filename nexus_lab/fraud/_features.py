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

from nexus_lab._arrays import first_of, search_sorted

ENTITIES = ("account", "vendor", "category")
_BENFORD = np.log10(1 + 1 / np.arange(1, 10))  # P(first digit = d), d = 1..9
_MAD_Z = 0.6745  # modified z-score: 0.6745 (x - median) / MAD (Iglewicz and Hoaglin)
_MIN_GROUP = 5  # rows a group needs before its own median and MAD are used

#: Rule settings a detector starts from; ``FraudDetector(rules={...})`` overrides them.
DEFAULT_RULES = {
    "thresholds": (10_000.0,),  # approval limits, currency units
    "threshold_band": 0.05,  # "just under" = within this share below a limit
    "round_unit": 100.0,  # a multiple of this is round; of ten times this, rounder
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
    sx = x[np.lexsort((x, codes))]
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

_SPAN = 1 << 34  # seconds in an (account, time) key: 544 years either way of the history
_DAY = 86_400


def window_seconds(rules: dict) -> int:
    """How far apart two rows can be and still affect each other's window signals."""
    return int(max(rules["duplicate_window_hours"] * 3600, _DAY,
                   rules["velocity_window_minutes"] * 60)) + 1


def _time_key(acct: np.ndarray, ts: np.ndarray, t0: int) -> np.ndarray:
    return acct.astype(np.int64) * _SPAN + (ts - t0 + _SPAN // 2)


def window_signals(ts: np.ndarray, cents: np.ndarray, acct: np.ndarray, vend: np.ndarray,
                   rules: dict) -> dict[str, np.ndarray]:
    """Velocity, gaps and duplicates of every row among the rows given (one time window)."""
    n = len(ts)
    out: dict[str, np.ndarray] = {}
    t0 = int(ts.min()) if n else 0
    order = np.argsort(_time_key(acct, ts, t0), kind="stable")  # account timelines
    key = _time_key(acct, ts, t0)[order]
    w = int(rules["velocity_window_minutes"] * 60)

    def around(width: int) -> tuple[np.ndarray, np.ndarray]:
        return (np.searchsorted(key, key - width, "left"),
                np.searchsorted(key, key + width, "right"))

    lo, hi = around(w)
    count_w = np.empty(n, np.int64)
    count_w[order] = hi - lo
    lo_d, hi_d = around(_DAY)
    count_d = np.empty(n, np.int64)
    count_d[order] = hi_d - lo_d
    money = np.concatenate([[0.0], np.cumsum(np.abs(cents[order]) / 100.0)])
    sum_d = np.empty(n)
    sum_d[order] = money[hi_d] - money[lo_d]
    same_prev = np.r_[False, acct[order][1:] == acct[order][:-1]]
    step = np.diff(ts[order])
    gap_prev = np.full(n, np.inf)
    gap_prev[order[same_prev]] = step[same_prev[1:]]
    same_next = np.r_[same_prev[1:], False]
    gap_next = np.full(n, np.inf)
    gap_next[order[same_next]] = step[same_prev[1:]]
    out.update(count_window=count_w, count_day=count_d, sum_day=sum_d,
               gap_prev=gap_prev, gap_next=gap_next)

    # exact duplicates: an earlier row of the same account, vendor and amount in the window
    window = int(rules["duplicate_window_hours"] * 3600)
    pair = _codes(acct, vend)
    group = _codes(pair, cents)
    o = np.lexsort((ts, group))
    same = np.r_[False, group[o][1:] == group[o][:-1]]
    close = np.r_[False, np.diff(ts[o]) <= window]
    twin = np.full(n, -1, np.int64)
    hit = same & close
    twin[o[hit]] = o[np.flatnonzero(hit) - 1]
    # near duplicates: one of the three payments before, same account and vendor, amounts
    # within the share, not equal
    o2 = np.lexsort((ts, pair))
    near = np.full(n, -1, np.int64)
    share = rules["near_duplicate_share"]
    for lag in (1, 2, 3):  # a loop over lags, not rows
        a, b = o2[lag:], o2[:-lag]
        ok = ((pair[a] == pair[b]) & (ts[a] - ts[b] <= window) & (cents[a] != cents[b])
              & (np.abs(cents[a] - cents[b]) <= share * np.maximum(np.abs(cents[a]), 1)))
        fill = ok & (near[a] < 0)
        near[a[fill]] = b[fill]
    out.update(duplicate_of=twin, near_duplicate_of=near)
    return out


def _codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense int64 codes of the pairs (a, b), whatever the range of their values."""
    ac, _ = pd.factorize(a)
    bc, _ = pd.factorize(b)
    codes, _ = pd.factorize(ac.astype(np.int64) * (int(bc.max()) + 1 if len(bc) else 1) + bc)
    return codes.astype(np.int64)


@dataclass
class HistoryTables:
    """What the whole history says about accounts and vendors, kept from fit.

    Scoring then needs only the history rows near the scored rows in time: how
    many payments an account made before, whether it paid a vendor before,
    which accounts pay a vendor, and the first digits per vendor and account
    come from these tables.
    """

    t0: int
    n_acct: int
    n_vend: int
    acct_time: np.ndarray  # sorted (account, time) keys of the history
    pair_keys: np.ndarray  # sorted account * n_vend + vendor
    pair_first: np.ndarray  # first time of each pair
    pair_count: np.ndarray
    acct_count: np.ndarray
    vend_accounts: np.ndarray
    digits: dict[str, np.ndarray]  # per entity: (groups, 9) first-digit counts
    span: dict[str, np.ndarray]  # per entity: orders of magnitude of the central 90%

    @classmethod
    def build(cls, ts, cents, acct, vend, n_acct: int, n_vend: int) -> HistoryTables:
        t0 = int(ts.min())
        pair = acct * n_vend + vend
        keys, inv, count = np.unique(pair, return_inverse=True, return_counts=True)
        first = np.full(len(keys), np.iinfo(np.int64).max)
        np.minimum.at(first, inv, ts)
        acct_count = np.bincount(acct, minlength=n_acct)
        vend_accounts = np.bincount(keys % n_vend, minlength=n_vend)
        digits, span = {}, {}
        d = first_digit(cents)
        for name, codes, size in (("vendor", vend, n_vend), ("account", acct, n_acct)):
            digits[name], span[name] = _digit_table(codes, d, cents, size)
        return cls(t0, n_acct, n_vend, np.sort(_time_key(acct, ts, t0)), keys, first, count,
                   acct_count, vend_accounts, digits, span)


def history_signals(tables: HistoryTables, ts, acct, vend, new: np.ndarray, rules: dict,
                    new_accounts: np.ndarray):
    """Per row: earlier payments of its account, first payment to the vendor, vendor reach.

    ``new`` marks rows that are not in the history (their counts add to the
    tables'); the others are history rows, already counted. ``new_accounts``: per row,
    the accounts paying its vendor among the scored rows that the history has not seen
    paying it (from :class:`BatchTotals`).
    """
    t = tables
    n = len(ts)
    known_a = acct < t.n_acct
    known = known_a & (vend < t.n_vend)
    # earlier payments of the account: in the history, and among the new rows
    key = _time_key(acct, ts, t.t0)
    start = acct.astype(np.int64) * _SPAN  # where the account's keys begin
    # sorted needles make the look-ups cache friendly; in key order the starts are sorted too
    by_key = np.argsort(key, kind="stable")
    at = search_sorted(t.acct_time, key, "left", by_key)
    after = search_sorted(t.acct_time, key, "right", by_key)
    first_own = search_sorted(t.acct_time, start, "left", by_key)
    end_own = search_sorted(t.acct_time, start + _SPAN, "left", by_key)
    prior = np.where(known_a, at - first_own, 0)
    # the account's nearest history payments before and after (gaps beyond the window)
    before_t = np.where(known_a & (at > first_own), t.acct_time[np.maximum(at - 1, 0)] - key, 0)
    after_t = np.where(known_a & (after < end_own),
                       t.acct_time[np.minimum(after, len(t.acct_time) - 1)] - key, 0)
    gap_prev = np.where(known_a & (at > first_own), -before_t, np.inf)
    gap_next = np.where(known_a & (after < end_own), after_t, np.inf)
    na = np.flatnonzero(new)
    new_key = np.sort(key[na])
    prior += search_sorted(new_key, key, "left", by_key) - search_sorted(
        new_key, start, "left", by_key)
    # the pair in the history tables
    pk = np.where(known, acct * t.n_vend + vend, -1)
    pos = np.minimum(search_sorted(t.pair_keys, pk), max(len(t.pair_keys) - 1, 0))
    in_hist = known & (t.pair_keys[pos] == pk) if len(t.pair_keys) else np.zeros(n, bool)
    hist_first = np.where(in_hist, t.pair_first[pos], np.iinfo(np.int64).max)
    hist_count = np.where(in_hist, t.pair_count[pos], 0)
    # the pair among the new rows: first time, and count
    pair = _codes(acct, vend)
    new_first = np.full(int(pair.max()) + 1 if n else 0, np.iinfo(np.int64).max)
    np.minimum.at(new_first, pair[na], ts[na])
    new_count = np.bincount(pair[na], minlength=len(new_first))
    first_time = np.minimum(hist_first, new_first[pair])
    # among rows of the pair at its first time, only the earliest row is the first payment
    o = np.lexsort((np.arange(n), ts, pair))
    lead = np.r_[True, pair[o][1:] != pair[o][:-1]]
    is_lead = np.zeros(n, bool)
    is_lead[o[lead]] = True
    is_first = (ts == first_time) & (is_lead | ~new)
    is_first &= ~(in_hist & new & (hist_first <= ts))
    acct_total = np.where(known_a, t.acct_count[np.where(known_a, acct, 0)], 0) + np.bincount(
        acct[na], minlength=int(acct.max()) + 1 if n else 0)[acct]
    share = (hist_count + new_count[pair]) / np.maximum(acct_total, 1)
    # accounts paying the vendor: the history's, plus accounts new to it
    reach = np.where(vend < t.n_vend, t.vend_accounts[np.minimum(vend, t.n_vend - 1)], 0) \
        + new_accounts
    return {
        "history_gap_prev": gap_prev,
        "history_gap_next": gap_next,
        "account_prior": prior,
        "new_vendor": is_first & (prior >= rules["new_vendor_min_history"]),
        "vendor_share": share,
        "vendor_accounts": reach,
    }


def in_history(tables: HistoryTables, acct: np.ndarray, vend: np.ndarray) -> np.ndarray:
    """Whether the history holds a payment of the account (code) to the vendor (code)."""
    t = tables
    known = (acct < t.n_acct) & (vend < t.n_vend)
    if not len(t.pair_keys):
        return np.zeros(len(acct), bool)
    pk = np.where(known, acct * t.n_vend + vend, -1)
    pos = np.minimum(search_sorted(t.pair_keys, pk), len(t.pair_keys) - 1)
    return known & (t.pair_keys[pos] == pk)


# ------------------------------------------------------------------------ batch totals

@dataclass
class BatchTotals:
    """What the rows of one :meth:`~nexus_lab.fraud.FraudDetector.score` call say together.

    Three signals of a row read the other scored rows whatever their account and time:
    the accounts paying its vendor (the history's plus those new to it among the scored
    rows), its vendor's first digits (Benford's law, over the history and the new rows),
    and whether the dates carry a time of day at all (else the off-hours rule is silent).
    Totals of parts of a table, put together with :meth:`combine`, equal the totals of
    the whole table, so that parts scored with them score as the whole would.
    Everything else a row's score reads is its own account's rows and the history.

    Attributes
    ----------
    pairs : DataFrame
        ``account, vendor`` (text): the pairs among the new rows that the history lacks,
        each once.
    digits : DataFrame
        Per vendor (the index, text): the new rows' first-digit counts (9 columns).
    thin : DataFrame
        ``name, magnitude``: for vendors with fewer than ``benford_min_rows`` first
        digits in the history, each new row's order of magnitude (``log10`` of the amount).
    timed : bool
        Whether any row's local time is not midnight.
    """

    pairs: pd.DataFrame
    digits: pd.DataFrame
    thin: pd.DataFrame
    timed: bool

    @classmethod
    def combine(cls, parts: list[BatchTotals]) -> BatchTotals:
        """The totals of the table whose parts gave ``parts``."""
        return cls(
            pd.concat([p.pairs for p in parts], ignore_index=True).drop_duplicates(
                ignore_index=True),
            pd.concat([p.digits for p in parts]).groupby(level=0, sort=False).sum(),
            pd.concat([p.thin for p in parts], ignore_index=True),
            any(p.timed for p in parts),
        )

    def new_accounts(self, vendors: np.ndarray) -> np.ndarray:
        """Per row of ``vendors`` (text), the accounts new to that vendor."""
        per = self.pairs["vendor"].value_counts(sort=False)
        return per.reindex(vendors, fill_value=0).to_numpy(dtype=np.int64)


def entity_totals(names: np.ndarray, codes: np.ndarray, cents: np.ndarray,
                  new: np.ndarray, history_digits: np.ndarray,
                  rules: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First-digit counts of the new rows per group (by name), and the orders of magnitude
    of the new rows of groups thin in the history (``history_digits``: per code)."""
    d = first_digit(cents)
    use = np.flatnonzero(new & (d > 0))
    # grouped by code (one per name), then the few codes by name: sorting millions of
    # names as text took most of the time at 4M rows
    present, first = first_of(codes[use])
    names_u, by_name = np.unique(names[use][first].astype(str), return_inverse=True)
    inv = by_name[np.searchsorted(present, codes[use])]
    counts = np.bincount(inv * 9 + d[use] - 1, minlength=len(names_u) * 9).reshape(-1, 9)
    digits = pd.DataFrame(counts, index=pd.Index(names_u, dtype=object),
                          columns=[str(k) for k in range(1, 10)])
    seen = history_digits.sum(1)
    c = codes[use]
    thin = np.where(c < len(seen), seen[np.minimum(c, max(len(seen) - 1, 0))], 0) \
        < rules["benford_min_rows"]
    rows = use[thin]
    return digits, pd.DataFrame({
        "name": names[rows].astype(object),  # str already (the inputs' text)
        "magnitude": np.log10(np.maximum(np.abs(cents[rows]) / 100.0, 1.0)),
    })


# ------------------------------------------------------------------------ Benford

def first_digit(cents: np.ndarray) -> np.ndarray:
    """Leading digit 1-9 of the amount in currency units (0 below one unit)."""
    units = np.abs(cents) / 100.0
    out = np.zeros(len(cents), np.int64)
    pos = units >= 1
    mag = np.floor(np.log10(units[pos]))
    out[pos] = np.clip((units[pos] / 10**mag).astype(np.int64), 1, 9)
    return out


def _digit_table(codes: np.ndarray, digits: np.ndarray, cents: np.ndarray, size: int):
    """First-digit counts per group, and the orders of magnitude its central 90% spans."""
    use = digits > 0
    counts = np.bincount(codes[use] * 9 + digits[use] - 1, minlength=size * 9).reshape(
        size, 9).astype(np.float64)
    mag = np.log10(np.maximum(np.abs(cents[use]) / 100.0, 1.0))
    _, (p5, p95) = group_quantiles(codes[use], mag, size, (0.05, 0.95))
    return counts, np.nan_to_num(p95 - p5)


def benford_table(counts: np.ndarray, span: np.ndarray, rules: dict):
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
    n = counts.sum(1)
    share = counts / np.maximum(n, 1)[:, None]
    mad = np.abs(share - _BENFORD).mean(1)
    chi2 = (n[:, None] * (share - _BENFORD) ** 2 / _BENFORD).sum(1)
    p = sps.chi2.sf(chi2, df=8)
    flagged = (n >= rules["benford_min_rows"]) & (span >= rules["benford_min_span"]) & (
        mad > rules["benford_mad"]) & (p < rules["benford_p"])
    # per group and digit: observed share over Benford's (a digit the group over-uses)
    excess = share / _BENFORD
    return n, mad, p, flagged, excess
