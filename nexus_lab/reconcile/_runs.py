"""Settlement runs: one bank line that settles a group's lines of whole days.

A marketplace, a card acquirer or a payment processor pays a seller out on its
own calendar: one bank credit settles every sale of one storefront (a ledger
``channel``) since its previous payout, less the refunds, and less the payout's
fees booked as one line on the payout day. Such a payout is no subset of a few
lines (tens or hundreds of orders) but a *run*: every line of the group on the
days from the previous payout's cut-off to this one's, plus at most one
*closing* line (the fee) of another kind (``account``, else ``category``) dated
on the payout. The previous payout's closing line falls inside the next run's
days; it is of the closing kind, which a run leaves out.

The search is exact and vectorized: per group, the day totals of every kind
but the closing line's are summed into running totals, and for each candidate
end day the start day whose running total makes up the bank amount is looked up
(a sorted search, not a loop over subsets). Candidates are the bank lines that
name the group (the storefront's words, or an identifier one of its lines
carries), or, with no ``channel`` column, share its counterparty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.reconcile._blocking import composite, expand_ranges, range_join, unique_ints
from nexus_lab.reconcile._shards import Shards, over_rows
from nexus_lab.reconcile._splits import Splits, _settle, stack_members
from nexus_lab.text import as_string_array

__all__ = ["RunGroups", "find_runs", "run_groups", "run_pairs"]

_CLOSE_DAYS = 4  # a closing line is dated on the payout: the bank posts it up to 4 days on
_END_DAYS = 7  # the last sale of a run is at most this many days before its closing line
_MIN_LINES = 3  # a run settles at least this many lines (its closing line included)
_ID_DAYS = (10, 3)  # an identifier names a line dated this many days before / after
_NAME_WORDS = 2  # bank text naming a group: at least this many of its words (all if fewer)
_COMMON_NAME = 0.25  # a word in more than this share of the group names names none


@dataclass
class RunGroups:
    """Per ledger row: its run group (``-1``: none) and its kind; the groups' names."""

    group: np.ndarray
    kind: np.ndarray
    names: pa.Array | None  # the storefronts' names (None: groups are counterparties)


def run_groups(lg_frame: pd.DataFrame, party: np.ndarray) -> RunGroups:
    """Run groups of the ledger: its ``channel`` column, else the counterparties; kinds from
    ``account``, else ``category``."""
    names = None
    if "channel" in lg_frame:
        enc = pc.utf8_upper(as_string_array(lg_frame["channel"])).dictionary_encode()
        group = np.asarray(enc.indices).astype(np.int64)
        names = enc.dictionary
        empty = np.asarray(pc.equal(pc.utf8_length(names), 0), bool)
        group[empty[group]] = -1
    else:
        group = np.asarray(party, np.int64).copy()
    col = "account" if "account" in lg_frame else "category" if "category" in lg_frame else None
    kind = (np.zeros(len(group), np.int64) if col is None
            else pd.factorize(lg_frame[col].astype(str), use_na_sentinel=False)[0])
    return RunGroups(group, np.asarray(kind, np.int64), names)


def _words(text: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(row, word) pairs of the upper-cased alphanumeric words of ``text``."""
    words = pc.split_pattern_regex(pc.utf8_upper(text), r"[^A-Z0-9]+")
    length = np.asarray(pc.list_value_length(words)).astype(np.int64)
    return np.repeat(np.arange(len(text)), length), pc.list_flatten(words)


def run_pairs(one: np.ndarray, many: np.ndarray, groups: RunGroups, *, text_one: pa.Array,
              text_many: pa.Array, day_one: np.ndarray, day_many: np.ndarray,
              party_one: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (bank row, group) pairs: the bank line names the group.

    A bank line names a group when its text carries an identifier (a word of six or
    more characters with a digit) that one of the group's lines dated around it
    carries too (a payout or settlement number); or, for storefront groups, at
    least ``_NAME_WORDS`` words of the storefront's name (all of them if it has
    fewer); or, for counterparty groups, when it is that counterparty.
    """
    group = groups.group
    many = many[group[many] >= 0]
    if len(one) == 0 or len(many) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    width = int(group.max()) + 1
    rb, wb = _words(pc.take(text_one, pa.array(one)))
    rl, wl = _words(pc.take(text_many, pa.array(many)))
    parts = [wb, wl]
    if groups.names is not None:
        rn, wn = _words(groups.names)
        parts.append(wn)
    vocab = pa.chunked_array(parts).combine_chunks().dictionary_encode()
    code = np.asarray(vocab.indices).astype(np.int64)
    cb, cl = code[: len(wb)], code[len(wb): len(wb) + len(wl)]
    size = np.asarray(pc.utf8_length(vocab.dictionary)).astype(np.int64)
    is_id = (size >= 6) & np.asarray(pc.match_substring_regex(vocab.dictionary, "[0-9]"), bool)
    # identifiers: a word of the bank text that a line of the group near it carries too
    kb, kl = is_id[cb], is_id[cl]
    bi, bw = one[rb[kb]], cb[kb]
    li, lw = many[rl[kl]], cl[kl]
    r, pos = range_join(bw, lw, 0, 0)
    lag = day_one[bi[r]] - day_many[li[pos]]
    near = (lag <= _ID_DAYS[0]) & (lag >= -_ID_DAYS[1])
    found = [bi[r][near] * width + group[li[pos]][near]]
    if groups.names is not None:
        # storefront names: their words, less those common to many names (a platform's)
        cn = code[len(wb) + len(wl):]
        keep = (size[cn] >= 3) & ~is_id[cn]
        gn, cn = rn[keep], cn[keep]
        gw = unique_ints(gn * len(size) + cn)
        gn, cn = gw // len(size), gw % len(size)
        spread = np.bincount(cn, minlength=len(size))
        rare = spread[cn] <= max(1, _COMMON_NAME * len(groups.names))
        need = np.minimum(np.bincount(gn[rare], minlength=len(groups.names)), _NAME_WORDS)
        bw_all = unique_ints(one[rb] * len(size) + cb)
        brow, bword = bw_all // len(size), bw_all % len(size)
        r, pos = range_join(bword, cn, 0, 0)
        hit = brow[r] * width + gn[pos]
        key, count = np.unique(hit, return_counts=True)
        # a common word (the platform's name) counts, but cannot name a store alone
        strong = np.unique(hit[rare[pos]])
        ok = (count >= np.maximum(need[key % width], 1)) & np.isin(key, strong)
        found.append(key[ok])
    else:
        have = np.zeros(width, bool)
        have[group[many]] = True
        p = party_one[one]
        ok = (p >= 0) & (p < width)
        ok[ok] = have[p[ok]]
        found.append(one[ok] * width + p[ok])
    pairs = unique_ints(np.concatenate(found))
    return pairs // width, pairs % width


def find_runs(pb: np.ndarray, pg: np.ndarray, many: np.ndarray, groups: RunGroups, *,
              cents_one: np.ndarray, cents_many: np.ndarray, day_one: np.ndarray,
              day_many: np.ndarray, horizon: int, shards: Shards | None = None) -> Splits:
    """Settlement runs of the candidate pairs (bank row ``pb``, group ``pg``).

    For each pair, a closing line (any open line of the group dated up to
    ``_CLOSE_DAYS`` before the bank line, or none) and an end day (up to ``_END_DAYS``
    before the closing line) are tried; the start day, at most ``horizon`` days
    before the end, is looked up whose running total of the group's lines (the
    closing line's kind left out) makes the bank amount exact. A bank line with one
    such run (the runs with a closing line preferred) claims it; claims on the same
    ledger lines are settled by confidence. With ``shards``, the bank lines' runs are
    looked for in parts (a bank line's pairs in one part) and settled here: the same
    runs.

    Examples
    --------
    >>> g = RunGroups(np.zeros(6, np.int64), np.array([0, 0, 0, 0, 1, 0]), None)
    >>> s = find_runs(np.array([0]), np.array([0]), np.arange(6), g,
    ...               cents_one=np.array([2950]), cents_many=np.array([1000, 1500, 700, 400,
    ...               -250, 900]), day_one=np.array([20]), day_many=np.array([10, 12, 14, 17,
    ...               19, 19]), horizon=60)
    >>> sorted(s.many[0, :s.size[0]].tolist())
    [0, 1, 2, 4]
    """
    many = many[groups.group[many] >= 0]
    if len(pb) == 0 or len(many) == 0:
        return Splits.empty()
    found = over_rows(shards, _run_claims, unique_ints(pb), pb=pb, pg=pg, many=many,
                      group=groups.group, kind=groups.kind, cents_one=cents_one,
                      cents_many=cents_many, day_one=day_one, day_many=day_many,
                      horizon=horizon)
    bank, members, size, rank = (stack_members([f[1] for f in found]) if k == 1
                                 else np.concatenate([f[k] for f in found]) for k in range(4))
    if len(bank) == 0:
        return Splits.empty()
    order = np.argsort(rank, kind="stable")  # as one search finds them
    bank, members, size = bank[order], members[order], size[order]
    # exactness over whole days is what makes a run: the more lines, the surer
    confidence = 1.0 - 0.5 ** size
    accepted = _settle(members, confidence)
    n = int(accepted.sum())
    ones = np.ones(n, np.int64)
    return Splits(bank[accepted], members[accepted], size[accepted],
                  np.minimum(confidence[accepted], 0.99), ones, ones)


def _run_claims(banks, *, pb, pg, many, group, kind, cents_one, cents_many, day_one, day_many,
                horizon) -> tuple:
    """The run each bank line of ``banks`` (a sorted part of the bank lines of the pairs
    ``(pb, pg)``) may claim, before claims are settled: its bank line, members (ledger
    rows, -1 padded), their number, and its rank among all the pairs' claims."""
    none = (np.zeros(0, np.int64), np.zeros((0, 1), np.int64), np.zeros(0, np.int64),
            np.zeros(0, np.int64))
    sel = np.flatnonzero((pb >= banks[0]) & (pb <= banks[-1]))
    n_pairs, pb, pg = len(pb), pb[sel], pg[sel]
    # open lines by (group, day); per (group, day): totals, and per kind
    order = np.lexsort((many, day_many[many], group[many]))
    rows = many[order]
    g_r, d_r, k_r, c_r = group[rows], day_many[rows], kind[rows], cents_many[rows]
    n_groups, n_kinds = int(g_r.max()) + 1, int(k_r.max()) + 1
    # day offsets of both tables fit one span, so (group, day) keys never spill over
    dmin = int(min(d_r.min(), day_one[pb].min())) - horizon - _END_DAYS - _CLOSE_DAYS - 2
    span_d = int(max(d_r.max(), day_one[pb].max())) - dmin + 2
    gd = composite((g_r, n_groups), (d_r - dmin, span_d))
    first = np.r_[True, gd[1:] != gd[:-1]]
    u_of_row = np.cumsum(first) - 1  # each line's (group, day) index
    u_group, u_day = g_r[first], d_r[first]
    nu = len(u_group)
    tot = np.bincount(u_of_row, weights=c_r, minlength=nu)  # per (group, day): total, lines
    cnt = np.bincount(u_of_row, minlength=nu)
    # a run of days [s, e] of a sequence (a group's lines, one kind left out) sums to
    # R[e] + value[e] - R[s], R being the sequence's exclusive running total by day
    # closing lines: open lines of the group dated up to _CLOSE_DAYS before the bank line
    bkey_lo = composite((pg, n_groups), (day_one[pb] - _CLOSE_DAYS - dmin, span_d))
    bkey_hi = composite((pg, n_groups), (day_one[pb] - dmin, span_d))
    lo = np.searchsorted(gd, bkey_lo, "left")
    hi = np.searchsorted(gd, bkey_hi, "right")
    p, f = expand_ranges(lo, hi)  # pair p with closing line at sorted position f
    # ... and the same pairs without one (f = -1)
    p = np.r_[p, np.arange(len(pb))]
    f = np.r_[f, np.full(len(pb), -1)]
    fk = np.where(f >= 0, k_r[np.maximum(f, 0)], -1)
    fday = np.where(f >= 0, d_r[np.maximum(f, 0)], day_one[pb[p]])
    target = cents_one[pb[p]] - np.where(f >= 0, c_r[np.maximum(f, 0)], 0)
    # the kinds a run leaves out: per (group, kind) pair needed, running totals by kind
    seq, seq_of = np.unique(composite((pg[p], n_groups), (fk + 1, n_kinds + 1)),
                            return_inverse=True)
    seq_group, seq_kind = seq // (n_kinds + 1), seq % (n_kinds + 1) - 1
    # days of each needed sequence: the group's day range
    g_lo = np.searchsorted(u_group, seq_group, "left")
    g_hi = np.searchsorted(u_group, seq_group, "right")
    s_idx, u_idx = expand_ranges(g_lo, g_hi)
    kind_day, kind_cnt = np.zeros(len(u_idx)), np.zeros(len(u_idx))
    kinded = seq_kind[s_idx] >= 0
    if kinded.any():
        # per (group, day, kind) totals, looked up for the sequence's left-out kind
        kk = composite((u_of_row, nu), (k_r, n_kinds))
        kd_key, kd_inv = np.unique(kk, return_inverse=True)
        kd_sum = np.bincount(kd_inv, weights=c_r)
        kd_cnt = np.bincount(kd_inv)
        want = composite((u_idx[kinded], nu), (seq_kind[s_idx][kinded], n_kinds))
        at = np.minimum(np.searchsorted(kd_key, want), len(kd_key) - 1)
        hit = kd_key[at] == want
        kind_day[np.flatnonzero(kinded)[hit]] = kd_sum[at[hit]]
        kind_cnt[np.flatnonzero(kinded)[hit]] = kd_cnt[at[hit]]
    value = (tot[u_idx] - kind_day).astype(np.int64)  # the sequence's day totals
    lines = (cnt[u_idx] - kind_cnt).astype(np.int64)
    s_first = np.r_[True, s_idx[1:] != s_idx[:-1]]
    base = np.maximum.accumulate(np.where(s_first, np.arange(len(s_idx)), 0))
    csum = np.cumsum(value) - value
    R = csum - csum[base]  # exclusive running total at each of the sequence's days
    ccount = np.cumsum(lines) - lines
    N = ccount - ccount[base]
    # end days: the sequence's days up to _END_DAYS before the closing line
    s_day = u_day[u_idx]
    skey = composite((s_idx, len(seq)), (s_day - dmin, span_d))
    e_lo = np.searchsorted(skey, composite((seq_of, len(seq)), (fday - _END_DAYS - dmin,
                                                                 span_d)), "left")
    e_hi = np.searchsorted(skey, composite((seq_of, len(seq)), (fday - dmin, span_d)), "right")
    q, e = expand_ranges(e_lo, e_hi)  # candidate q (pair p[q], closing f[q]) ends at day e
    end_total = R[e] + value[e]
    want = end_total - target[q]  # R at the start day
    # look the start up among the sequence's running totals
    rmin = int(R.min()) if len(R) else 0
    rspan = int(R.max()) - rmin + 1 if len(R) else 1
    wanted = (want >= rmin) & (want < rmin + rspan)
    q, e, want = q[wanted], e[wanted], want[wanted]
    rkey = composite((s_idx, len(seq)), (R - rmin, rspan))
    look = composite((s_idx[e], len(seq)), (want - rmin, rspan))
    r, st = range_join(look, rkey, 0, 0)
    q, e = q[r], e[r]
    n_lines = N[e] + lines[e] - N[st] + (f[q] >= 0)
    ok = (st <= e) & (s_day[e] - s_day[st] <= horizon) & (n_lines >= _MIN_LINES)
    ok &= (lines[st] > 0) & (lines[e] > 0)  # a run starts and ends on days with its lines
    q, e, st = q[ok], e[ok], st[ok]
    if len(q) == 0:
        return none
    hp = p[q]  # the candidate pair of each hit
    # per bank line: the runs with a closing line first; a bank line with two different
    # best runs is ambiguous and claims nothing
    pref = (f[q] >= 0).astype(np.int64)
    bank = pb[hp]
    best = np.zeros(int(bank.max()) + 1, np.int64) - 1
    np.maximum.at(best, bank, pref)
    top = pref == best[bank]
    q, e, st, hp, bank = q[top], e[top], st[top], hp[top], bank[top]
    n_top = np.bincount(bank, minlength=len(best))
    one = n_top[bank] == 1
    q, e, st, hp, bank = q[one], e[one], st[one], hp[one], bank[one]
    if len(q) == 0:
        return none
    # members: the group's lines on the run's days, the left-out kind excepted, and the
    # closing line
    lo = np.searchsorted(gd, composite((pg[hp], n_groups),
                                       (s_day[st] - dmin, span_d)), "left")
    hi = np.searchsorted(gd, composite((pg[hp], n_groups),
                                       (s_day[e] - dmin, span_d)), "right")
    h, posm = expand_ranges(lo, hi)
    keep = k_r[posm] != seq_kind[seq_of[q[h]]]
    h, posm = h[keep], posm[keep]
    close = np.flatnonzero(f[q] >= 0)
    h = np.r_[h, close]
    posm = np.r_[posm, f[q][close]]
    order = np.lexsort((posm, h))
    h, posm = h[order], posm[order]
    size = np.bincount(h, minlength=len(q))
    width = int(size.max())
    members = np.full((len(q), width), -1, np.int64)
    members[h, np.arange(len(h)) - np.searchsorted(h, h)] = rows[posm]
    # a bank line has one claim: the runs with a closing line come first, each by its pair
    rank = np.where(f[q] >= 0, 0, n_pairs) + sel[hp]
    return bank, members, size, rank
