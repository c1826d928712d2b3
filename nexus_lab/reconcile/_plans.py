"""Installment plans: one ledger line paid by 2-12 equal bank lines at a regular period.

A subset-sum search over months of a counterparty's lines would try millions of
subsets; a plan has a shape that needs none. For a ledger line of ``T`` cents and
``k`` parts, the parts are ``T // k`` each, one of them carrying the rounding cents
(``T - k * (T // k)``). So for each open ledger line and each ``k`` the two amounts are
looked up among the counterparty's open bank lines dated from ``lead`` days before to
``horizon`` days after it (sorted look-ups, no loop over rows); a plan is taken when
there are enough parts, they fall at a regular period (weekly, fortnightly, monthly),
and no other plan claims them.
"""

from __future__ import annotations

import numpy as np

from nexus_lab.reconcile._blocking import composite, expand_ranges, search_sorted
from nexus_lab.reconcile._shards import Shards, over_rows
from nexus_lab.reconcile._splits import Splits, _settle

__all__ = ["find_plans"]

_CROWD = 3  # more lines of one part amount than this many per part: no plan is told apart
# (through a lender, whose lines are looked up among every counterparty's: more than two
# lines beyond the parts)
_MIN_GAP, _GAP_SPREAD, _MONTH = 5, 6, 34  # days: the shortest period, how much its gaps
# may vary, the longest (a month and a weekend)


def find_plans(ledger_rows: np.ndarray, bank_rows: np.ndarray, *, cents_l: np.ndarray,
               cents_b: np.ndarray, party_l: np.ndarray, party_b: np.ndarray,
               day_l: np.ndarray, day_b: np.ndarray, horizon: int = 400, lead: int = 2,
               min_parts: int = 2, max_parts: int = 12, word_l: np.ndarray | None = None,
               word_b: np.ndarray | None = None, shards: Shards | None = None) -> Splits:
    """Installment plans among open rows (``one`` = ledger rows, ``many`` = bank rows).

    Plans of the ledger line's own counterparty (``party_*``) are looked for first, then
    (with ``word_*``, a looser key such as the name's first word) plans whose parts
    share that. Then, from three parts up, plans paid through someone else (a
    buy-now-pay-later lender): the parts share a bank key of their own (``word_b``, or
    ``party_b``) that no ledger line has, and their amounts and regular period alone make
    them a plan. With ``shards``, the ledger lines' plans are looked for in parts
    (:func:`~nexus_lab.reconcile._shards.over_rows`) and settled here: the same plans.

    Examples
    --------
    >>> day_b = np.array([10, 40, 70, 100, 5])
    >>> cents_b = np.array([3334, 3333, 3333, 3333, 3333])
    >>> s = find_plans(np.array([0]), np.arange(5), cents_l=np.array([10000]),
    ...                cents_b=cents_b, party_l=np.array([7]), party_b=np.full(5, 7),
    ...                day_l=np.array([8]), day_b=day_b)
    >>> s.one.tolist(), sorted(s.many[0, :s.size[0]].tolist())
    ([0], [0, 1, 2])
    """
    word_b = party_b if word_b is None else word_b
    passes = [(party_l, party_b, None, min_parts)]
    if word_l is not None:
        passes.append((word_l, word_b, None, min_parts))
    # a lender's name is the bank's alone: its lines share no first word with the ledger
    word_of_l = party_l if word_l is None else word_l
    known = np.isin(word_b, np.unique(word_of_l[word_of_l >= 0]))
    lender_b = np.where(known, -1, word_b)
    passes.append((np.zeros_like(party_l), np.zeros_like(party_b), lender_b, max(min_parts, 3)))
    taken_l = np.zeros(len(cents_l), bool)
    taken_b = np.zeros(len(cents_b), bool)
    found = []
    for key_l, key_b, group_b, least in passes:
        plans = _find_plans(ledger_rows[~taken_l[ledger_rows]], bank_rows[~taken_b[bank_rows]],
                            cents_l=cents_l, cents_b=cents_b, party_l=key_l, party_b=key_b,
                            day_l=day_l, day_b=day_b, horizon=horizon, lead=lead,
                            min_parts=least, max_parts=max_parts, group_b=group_b,
                            shards=shards)
        taken_l[plans.one] = True
        taken_b[plans.many[plans.many >= 0]] = True
        found.append(plans)
    return Splits.concat(found)


def _find_plans(ledger_rows, bank_rows, *, cents_l, cents_b, max_parts, shards=None,
                **kw) -> Splits:
    """Plans whose parts are looked up by (party, amount, day); with ``group_b``, the parts
    of one plan must also share their ``group_b`` value (their own counterparty). A bank
    line pays one plan and a ledger line takes one plan."""
    # the ledger lines are dealt to the parts: a line late in the books has fewer months
    # ahead of it to search, so parts cut in date order would be of very unequal cost
    found = over_rows(shards, _plan_claims, ledger_rows, dealt=True, bank_rows=bank_rows,
                      cents_l=cents_l, cents_b=cents_b, max_parts=max_parts, **kw)
    one, members, pk = (np.concatenate([f[k] for f in found]) for k in range(3))
    if len(one) == 0:
        return Splits.empty(max_parts)
    if len(found) > 1:  # each part's plans are in its lines' order: back in all lines' order
        place = np.zeros(int(ledger_rows.max()) + 1, np.int64)
        place[ledger_rows] = np.arange(len(ledger_rows))
        by_line = np.argsort(place[one], kind="stable")
        one, members, pk = one[by_line], members[by_line], pk[by_line]
    confidence = np.where(pk >= 3, 0.97, 0.9)
    # (the ledger row joins the claim, numbered after the bank rows); more parts first:
    # 12 monthly parts explain more than 2 of them could by chance
    claims = np.c_[members, len(cents_b) + one]
    accepted = _settle(claims, confidence + pk * 1e-3)
    ones = np.ones(int(accepted.sum()), np.int64)
    return Splits(one[accepted], members[accepted], pk[accepted], confidence[accepted],
                  ones, ones)


def _plan_claims(ledger_rows, *, bank_rows, cents_l, cents_b, party_l, party_b, day_l, day_b,
                 horizon, lead, min_parts, max_parts, group_b=None) -> tuple:
    """The plan each of ``ledger_rows`` may claim, before claims are settled: its ledger
    row, its parts (bank rows, -1 padded) and their number, in ledger-row order."""
    width = max_parts
    none = (np.zeros(0, np.int64), np.zeros((0, width), np.int64), np.zeros(0, np.int64))
    lo, bo = ledger_rows[party_l[ledger_rows] >= 0], bank_rows[party_b[bank_rows] >= 0]
    if group_b is not None:
        bo = bo[group_b[bo] >= 0]
    if len(lo) == 0 or len(bo) < min_parts:
        return none
    cmin = int(min(np.abs(cents_b[bo]).min(), 0)) - 1
    span_c = int(np.abs(cents_b[bo]).max()) - cmin + 2
    dmin = int(min(day_b[bo].min(), day_l[lo].min())) - lead - 1
    span_d = int(max(day_b[bo].max(), day_l[lo].max())) - dmin + horizon + 2
    span_p = int(max(party_b[bo].max(), party_l[lo].max())) + 1
    key_b = composite((party_b[bo], span_p), (np.abs(cents_b[bo]) - cmin, span_c),
                      (day_b[bo] - dmin, span_d))
    order = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order]
    total = np.abs(cents_l[lo])
    li, bi, ks, rest_flag = [], [], [], []
    for k in range(min_parts, max_parts + 1):  # a dozen part counts, each vectorized
        part = total // k
        rest = total - part * k
        ok = (part >= 100) & (part < span_c + cmin)
        for is_rest, amount in ((False, part), (True, part + rest)):
            use = ok & (rest > 0) if is_rest else ok
            use &= amount - cmin < span_c
            rows = np.flatnonzero(use)
            if len(rows) == 0:
                continue
            base = composite((party_l[lo[rows]], span_p), (amount[rows] - cmin, span_c),
                             (np.zeros(len(rows), np.int64), span_d))
            reach = min(horizon, _MONTH * (k - 1) + _MIN_GAP)  # k parts, at most monthly
            start = search_sorted(sorted_b, base + (day_l[lo[rows]] - lead - dmin), "left")
            stop = search_sorted(sorted_b, base + (day_l[lo[rows]] + reach - dmin), "right")
            # an amount the counterparty pays this often in the span tells no plan apart
            # too few lines of the plain part amount for k parts: no plan of k here
            few = 0 if is_rest else k - (rest[rows] > 0)
            stop = np.where((stop - start > (k + 2 if group_b is not None else _CROWD * k))
                            | (stop - start < few), start, stop)
            r, pos = expand_ranges(start, stop)
            li.append(rows[r])
            bi.append(bo[order[pos]])
            ks.append(np.full(len(r), k, np.int64))
            rest_flag.append(np.full(len(r), is_rest))
    if not li:
        return none
    li, bi, ks, rf = (np.concatenate(x) for x in (li, bi, ks, rest_flag))
    # per (ledger line, k): the earliest plain parts and the earliest part with the rest
    sign = np.sign(cents_l[lo[li]]) == np.sign(cents_b[bi])
    li, bi, ks, rf = li[sign], bi[sign], ks[sign], rf[sign]
    if len(li) == 0:
        return none
    need = np.where(rf, 1, ks - (total[li] - (total[li] // ks) * ks > 0))
    owner = np.zeros(len(bi), np.int64) if group_b is None else group_b[bi]
    srt = np.lexsort((day_b[bi], rf, owner, ks, li))
    li, bi, ks, rf, need, owner = li[srt], bi[srt], ks[srt], rf[srt], need[srt], owner[srt]
    grp = ((li * (max_parts + 1) + ks) * (int(owner.max(initial=0)) + 1) + owner) * 2 + rf
    # a part posted twice (a duplicate within days of the part before it) is no part
    near = np.zeros(len(grp), bool)
    near[1:] = (grp[1:] == grp[:-1]) & (day_b[bi][1:] - day_b[bi][:-1] < _MIN_GAP)
    li, bi, ks, rf, need, owner, grp = (x[~near] for x in (li, bi, ks, rf, need, owner, grp))
    first = np.r_[True, grp[1:] != grp[:-1]]
    start = np.flatnonzero(first)
    rank = np.arange(len(grp)) - np.repeat(start, np.diff(np.r_[start, len(grp)]))
    take = rank < need
    li, bi, ks, rf, owner = li[take], bi[take], ks[take], rf[take], owner[take]
    plan = (li * (max_parts + 1) + ks) * (int(owner.max(initial=0)) + 1) + owner
    plans, slot = np.unique(plan, return_inverse=True)
    count = np.bincount(slot, minlength=len(plans))
    plans = plans // (int(owner.max(initial=0)) + 1)  # (ledger line, k)
    pk = plans % (max_parts + 1)
    srt = np.lexsort((day_b[bi], slot))  # each plan's parts in date order
    first_of = np.r_[0, np.cumsum(count)[:-1]]
    within = np.arange(len(slot)) - first_of[slot[srt]]
    members = np.full((len(plans), width), -1, np.int64)
    members[slot[srt], within] = bi[srt]
    days = np.where(members >= 0, day_b[np.maximum(members, 0)], 0)
    gaps = np.diff(days, axis=1)
    real_gap = members[:, 1:] >= 0
    gmin = np.where(real_gap, gaps, np.iinfo(np.int64).max).min(1)
    gmax = np.where(real_gap, gaps, np.iinfo(np.int64).min).max(1)
    keep = (count == pk) & (gmin >= _MIN_GAP) & (gmax - gmin <= _GAP_SPREAD)
    return lo[plans[keep] // (max_parts + 1)], members[keep], pk[keep]
