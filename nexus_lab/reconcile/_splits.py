"""Split matches by bounded subset-sum in integer cents.

A batch payment is one bank line equal to the sum of 2-6 ledger lines; an
installment is one ledger line paid by 2-6 bank lines. For every open "one"
row, the open "many" rows of the same counterparty inside the date window are
gathered (the ``max_candidates`` most similar, then closest in time), every subset
of 2-6 of them is summed at once as a float64 matrix product (exact in cents); a
counterparty with few open rows in the window is also tried whole, less up to two
rows, whatever their number and signs. An exact hit is kept when it is likelier a
split than chance (the prior read from the hits found beyond those expected).
Claims that share a row are settled by confidence, in vectorized rounds.
:func:`find_listed` finds the splits whose "one" row names its parts (a remittance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import numpy as np
import torch

from nexus_lab.reconcile._blocking import composite, expand_ranges, search_sorted, unique_ints
from nexus_lab.reconcile._shards import Shards, over_rows


@dataclass
class Splits:
    """Accepted split groups: ``one[g]`` pairs with ``many[g, :size[g]]``.

    ``seen`` holds the (one, many) pairs the search looked at (same counterparty,
    inside the window, similar enough): a "one" row none of whose pairs lost its
    "many" row since would find exactly the same again.
    """

    one: np.ndarray
    many: np.ndarray
    size: np.ndarray
    confidence: np.ndarray
    alternatives: np.ndarray
    tested: np.ndarray
    seen: tuple[np.ndarray, np.ndarray] = field(
        default=(np.zeros(0, np.int64), np.zeros(0, np.int64)), repr=False
    )
    odds: float | None = None  # the prior odds of a split the search used (None: no hit)

    def touched(self, closed: np.ndarray) -> np.ndarray:
        """The "one" rows that looked at a "many" row flagged in ``closed``."""
        pi, pj = self.seen
        return unique_ints(pi[closed[pj]])

    @classmethod
    def concat(cls, parts: list[Splits]) -> Splits:
        return cls(*(stack_members([p.many for p in parts]) if f == "many"
                     else np.concatenate([getattr(p, f) for p in parts])
                     for f in ("one", "many", "size", "confidence", "alternatives", "tested")))

    @classmethod
    def empty(cls, width: int = 6, seen: tuple | None = None) -> Splits:
        z = np.zeros(0, dtype=np.int64)
        out = cls(z, np.zeros((0, width), np.int64), z, np.zeros(0), z, z)
        if seen is not None:
            out.seen = seen
        return out


def stack_members(parts: list[np.ndarray]) -> np.ndarray:
    """Member tables (a group per row, -1 padded) of several searches, one under the
    other, padded to the widest."""
    width = max(p.shape[1] for p in parts)
    return np.concatenate([np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=-1)
                           for p in parts])


_MAX_WHOLE = 24  # a counterparty with at most this many open rows in the window: all tried
_SPAN_SCALE = 16.0  # preference units per day of span (pref = 16 * span + items)


@lru_cache(maxsize=8)
def _subset_masks(k: int, min_items: int, max_items: int) -> np.ndarray:
    masks = [
        np.isin(np.arange(k), c)
        for r in range(min_items, max_items + 1)
        for c in combinations(range(k), r)
    ]
    return np.array(masks, dtype=bool).reshape(-1, k)


def find_splits(
    one: np.ndarray,
    many: np.ndarray,
    *,
    cents_one: np.ndarray,
    cents_many: np.ndarray,
    key_one: list[np.ndarray],
    key_many: list[np.ndarray],
    day_one: np.ndarray,
    day_many: np.ndarray,
    before: int,
    after: int,
    device: torch.device,
    similarity: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    min_similarity: float = 0.5,
    min_items: int = 2,
    max_items: int = 6,
    max_candidates: int = 10,
    chunk: int = 1024,
    odds: float | None = None,
    shards: Shards | None = None,
) -> Splits:
    """Find "one = sum of many" groups among open rows.

    Parameters
    ----------
    one, many : numpy.ndarray of int64
        Positions of the open rows on each side.
    cents_one, cents_many : numpy.ndarray of int64
        Amounts (full columns, indexed by the positions above).
    key_one, key_many : list of numpy.ndarray
        Counterparty blocking keys (full columns, -1 = none); a "many" row is a
        candidate when it shares any key with the "one" row. The first family is
        taken as a resolved counterparty (its rows count as fully similar).
    day_one, day_many : numpy.ndarray of int64
        Dates as day numbers.
    before, after : int
        A "many" row may be dated ``before`` days before to ``after`` days after
        its "one" row.
    device : torch.device
        Where the subset sums run.
    similarity : callable, optional
        ``similarity(one_rows, many_rows)`` -> counterparty-name similarity in
        [0, 1]; candidates below ``min_similarity`` are dropped and the rest are
        ranked by similarity, then by closeness in time.
    odds : float, optional
        Prior odds that a "one" row searched is a split. By default they are read from
        the search itself (the hits above those expected by chance); a later search
        over the rows an earlier one left passes the earlier odds on (``result.odds``).
    shards : Shards, optional
        Where the "one" rows' searches run in parts (``similarity`` travels with them, so
        it must pickle: a :class:`~nexus_lab.reconcile._scoring.NameSimilarity` does);
        the odds and the settling of claims are done here, on all the parts' claims, in
        the order one search makes them: the same splits.

    Returns
    -------
    Splits
    """
    if len(one) == 0 or len(many) < min_items:
        return Splits.empty(max_items)
    found = over_rows(shards, _split_claims, one, many=many, cents_one=cents_one,
                      cents_many=cents_many, key_one=key_one, key_many=key_many,
                      day_one=day_one, day_many=day_many, before=before, after=after,
                      device=device, similarity=similarity, min_similarity=min_similarity,
                      min_items=min_items, max_items=max_items, max_candidates=max_candidates,
                      chunk=chunk)
    # each part's claims are in "one" row order: the subsets' claims of every part, then
    # the whole runs', as one search lists them
    c = _Claims.concat([f[k] for k in (0, 1) for f in found])
    seen = tuple(np.concatenate([f[2][k] for f in found]) for k in (0, 1))
    searched = c.searched
    hit = searched[:, 1] > 0
    if not hit.any():
        return Splits.empty(max_items, seen)
    if odds is None:
        owner = searched[:, 0].astype(np.int64)
        odds = _split_odds(len(unique_ints(owner[hit])), len(unique_ints(owner)),
                           float(searched[:, 2].sum()))
    owners, members, size, false_hits, share, hits, tested = (
        c.owners, c.members, c.size, c.false_hits, c.share, c.hits, c.tested)
    # P(the row is a split) = prior odds / (prior odds + chance hits): a coin flip or worse
    # is left open. The confidence in the subset chosen shares that with the rival
    # subsets as likely as it.
    split = odds / (odds + false_hits)
    confidence = split * share
    sure = split > 0.5
    owners, members, size, confidence, hits, tested = (
        owners[sure], members[sure], size[sure], confidence[sure], hits[sure], tested[sure])
    accepted = _settle(members, confidence)
    return Splits(
        owners[accepted], members[accepted], size[accepted], confidence[accepted],
        hits[accepted], tested[accepted], seen, odds,
    )


def _split_claims(one, *, many, cents_one, cents_many, key_one, key_many, day_one, day_many,
                  before, after, device, similarity, min_similarity, min_items, max_items,
                  max_candidates, chunk) -> tuple:
    """The searches of the "one" rows ``one`` (a part of them: each row's search is its
    own): the subsets' claims, the whole runs' claims, and the pairs looked at."""
    span_day = int(max(day_one.max(), day_many.max()) - min(day_one.min(), day_many.min())) + 1
    dmin = int(min(day_one.min(), day_many.min())) - before - 1
    span_day += before + after + 2
    pi, pj, fam = [], [], []
    whole_i, whole_j = np.zeros(0, np.int64), np.zeros(0, np.int64)
    reach = max(2 * max_candidates, _MAX_WHOLE)  # rows looked at each side of the date
    for f, (ko, km) in enumerate(zip(key_one, key_many)):
        ao, am = ko[one], km[many]
        so, sm = ao >= 0, am >= 0
        if not so.any() or not sm.any():
            continue
        span_key = int(max(ao.max(), am.max())) + 1
        kl = composite((ao[so], span_key), (day_one[one][so] - dmin, span_day))
        kr = composite((am[sm], span_key), (day_many[many][sm] - dmin, span_day))
        # the rows of one counterparty are contiguous and sorted by date: look only at
        # the neighbours of each "one" row's date instead of expanding whole blocks
        order = np.argsort(kr, kind="stable")
        skr = kr[order]
        kl_order = np.argsort(kl, kind="stable")
        lo = search_sorted(skr, kl - before, "left", kl_order)
        hi = search_sorted(skr, kl + after, "right", kl_order)
        mid = search_sorted(skr, kl, "left", kl_order)
        rows, pos = expand_ranges(np.maximum(lo, mid - reach), np.minimum(hi, mid + reach))
        if f == 0:  # a counterparty with few open rows in the window: all of them, any sign
            few = (hi - lo >= min_items) & (hi - lo <= _MAX_WHOLE)
            whole = few[rows]
            whole_i, whole_j = one[so][rows[whole]], many[sm][order[pos[whole]]]
        # a part is of the same sign as the whole and smaller (sorted amounts: cache friendly)
        co = cents_one[one[so]][rows]
        cm = cents_many[many[sm][order]][pos]
        ok = (np.sign(co) == np.sign(cm)) & (np.abs(cm) < np.abs(co))
        i_one, j_many = one[so][rows[ok]], many[sm][order[pos[ok]]]
        if f > 0:  # a pair of one counterparty is the first family's to find
            fresh = key_one[0][i_one] != key_many[0][j_many]
            i_one, j_many = i_one[fresh], j_many[fresh]
        pi.append(i_one)
        pj.append(j_many)
        fam.append(np.full(len(j_many), f, dtype=np.int8))
    empty = np.zeros(0, np.int64)
    pi = np.concatenate(pi) if pi else empty
    pj = np.concatenate(pj) if pj else empty
    fam = np.concatenate(fam) if fam else empty.astype(np.int8)
    if similarity is not None and len(pi):
        # the first key family is the resolved counterparty: same party, no need to compare
        sim = np.ones(len(pi), dtype=np.float32)
        other = fam > 0
        sim[other] = similarity(pi[other], pj[other])
        good = sim >= min_similarity
        pi, pj, sim = pi[good], pj[good], sim[good]
        rank_sim = 10 - np.round(sim * 10).astype(np.int64)  # 0 = most similar
    else:
        rank_sim = np.zeros(len(pi), np.int64)
    seen = (np.concatenate([pi, whole_i]), np.concatenate([pj, whole_j]))
    return (
        _subset_claims(pi, pj, rank_sim, cents_one=cents_one, cents_many=cents_many,
                       day_one=day_one, day_many=day_many, device=device,
                       min_items=min_items, max_items=max_items,
                       max_candidates=max_candidates, chunk=chunk),
        _whole_claims(whole_i, whole_j, cents_one=cents_one, cents_many=cents_many,
                      day_many=day_many, min_items=min_items),
        seen,
    )


@dataclass
class _Claims:
    """Exact hits of one search: per "one" row with a hit, the subset preferred.

    ``searched`` is ``(owner, hit?, chance hits expected)`` per "one" row searched.
    """

    owners: np.ndarray
    members: np.ndarray
    size: np.ndarray
    false_hits: np.ndarray
    share: np.ndarray
    hits: np.ndarray
    tested: np.ndarray
    searched: np.ndarray

    @classmethod
    def concat(cls, parts: list[_Claims]) -> _Claims:
        """The claims of several parts, in their order (members padded to one width)."""
        return cls(*(stack_members([p.members for p in parts]) if f == "members"
                     else np.concatenate([getattr(p, f) for p in parts])
                     for f in ("owners", "members", "size", "false_hits", "share", "hits",
                               "tested", "searched")))

    @classmethod
    def none(cls, searched: np.ndarray | None = None, width: int = 1) -> _Claims:
        z = np.zeros(0, np.int64)
        return cls(z, np.zeros((0, width), np.int64), z, np.zeros(0), np.zeros(0), z, z,
                   np.zeros((0, 3)) if searched is None else searched)


def _subset_claims(pi, pj, rank_sim, *, cents_one, cents_many, day_one, day_many, device,
                   min_items, max_items, max_candidates, chunk) -> _Claims:
    """Every subset of ``min_items`` to ``max_items`` of each row's ``max_candidates``
    best candidates (most similar, then closest in time), summed at once."""
    if len(pi) == 0:
        return _Claims.none(width=max_items)
    dist = np.abs(day_one[pi] - day_many[pj])
    # one int64 sort key: owner, similarity (tenths, best first), days apart, row
    span_d = int(dist.max()) + 1
    order = np.argsort(
        ((pi * 11 + rank_sim) * span_d + dist) * (len(cents_many) + 1) + pj, kind="stable"
    )
    pi, pj = pi[order], pj[order]
    starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
    sizes = np.diff(np.r_[starts, len(pi)])
    rank = np.arange(len(pi)) - np.repeat(starts, sizes)
    keep = rank < max_candidates
    pi, pj, rank = pi[keep], pj[keep], rank[keep]
    owners, slot = np.unique(pi, return_inverse=True)
    enough = np.bincount(slot) >= min_items
    k = max_candidates
    cand = np.full((len(owners), k), -1, dtype=np.int64)
    cand[slot, rank] = pj
    cand, owners = cand[enough], owners[enough]
    if len(owners) == 0:
        return _Claims.none(width=max_items)
    # slots in date order (empty slots last): a subset's span is its last day minus its first
    slot_day = np.where(cand >= 0, day_many[np.maximum(cand, 0)], np.iinfo(np.int64).max)
    cand = np.take_along_axis(cand, np.argsort(slot_day, axis=1, kind="stable"), 1)

    masks = _subset_masks(k, min_items, min(max_items, k))
    if np.abs(cents_many).max() * max_items >= 2**53 or np.abs(cents_one).max() >= 2**53:
        return _Claims.none(width=max_items)  # sums not exact; parse_cents makes this moot
    # Sums of integer cents run as float64 matrix products: every partial sum is an
    # integer below 2**53, so the arithmetic is exact (and BLAS-fast on CPU and GPU).
    m_f = torch.as_tensor(masks, dtype=torch.float64, device=device)
    size_f = m_f.sum(1)
    # candidates are packed to the left: a subset is usable when its last slot is filled
    first_slot = torch.as_tensor(np.argmax(masks, axis=1), device=device)
    last_slot = torch.as_tensor(k - 1 - np.argmax(masks[:, ::-1], axis=1), device=device)
    day_t = torch.as_tensor(day_many, device=device)
    cents_many_t = torch.as_tensor(cents_many, device=device)
    n_cand = (cand >= 0).sum(1)
    best_sub = np.zeros(len(owners), dtype=np.int64)
    hits = np.zeros(len(owners), dtype=np.int64)
    share = np.ones(len(owners), dtype=np.float64)
    for s in range(0, len(owners), chunk):
        c = torch.as_tensor(cand[s : s + chunk], device=device)
        valid = c >= 0
        amt = torch.where(valid, cents_many_t[c.clamp(min=0)], torch.zeros_like(c)).double()
        target = torch.as_tensor(cents_one[owners[s : s + chunk]], device=device).double()
        usable = last_slot[None, :] < torch.as_tensor(n_cand[s : s + chunk], device=device)[:, None]
        hit = ((amt @ m_f.T) == target[:, None]) & usable  # (chunk, S)
        n_hit = hit.sum(1)
        hits[s : s + chunk] = n_hit.cpu().numpy()
        rows = torch.nonzero(n_hit > 0).squeeze(1)
        if len(rows) == 0:
            continue
        # among the exact hits prefer the tightest group in time, then the fewest items
        days = day_t[c[rows].clamp(min=0)].double()
        span = days[:, last_slot] - days[:, first_slot]  # slots are in date order
        pref = span * _SPAN_SCALE + size_f[None, :]
        pref = torch.where(hit[rows], pref, torch.full_like(pref, torch.inf))
        best = pref.amin(1, keepdim=True)
        idx = s + rows.cpu().numpy()
        best_sub[idx] = pref.argmin(1).cpu().numpy()
        # a rival subset is as likely as the best one when it is as tight in time, and
        # e times less likely per day more that it spans
        share[idx] = (1.0 / torch.exp(-(pref - best) / _SPAN_SCALE).sum(1)).cpu().numpy()
    # subsets tried, and the range their sums cover (largest minus smallest subset sum)
    tested = _usable_counts(masks, n_cand)
    amounts = np.where(cand >= 0, np.abs(cents_many[np.maximum(cand, 0)]), 0)
    ordered = np.sort(amounts, axis=1)[:, ::-1]
    top = ordered[:, : min(max_items, k)].sum(1)
    low = np.sort(np.where(cand >= 0, amounts, np.iinfo(np.int64).max), axis=1)[:, :min_items]
    low = np.where(low == np.iinfo(np.int64).max, 0, low).sum(1)
    # subset sums spread over at least the size of the target itself: with few candidates
    # the range of the sums tried says little about how rare an exact hit is
    spread = np.maximum(top - low + 1, np.abs(cents_one[owners])).astype(np.float64)
    # expected coincidental exact hits among the subsets tried, per "one" row
    false_hits = tested / spread
    found = hits > 0
    searched = np.stack([owners, found, false_hits], 1)
    if not found.any():
        return _Claims.none(searched, max_items)
    owners, cand, best_sub = owners[found], cand[found], best_sub[found]
    hits, tested, share, false_hits = hits[found], tested[found], share[found], false_hits[found]
    chosen = masks[best_sub]  # (G, k)
    size = chosen.sum(1)
    order = np.argsort(~chosen, axis=1, kind="stable")
    members = np.take_along_axis(np.where(chosen, cand, -1), order, 1)[:, :max_items]
    return _Claims(owners, members, size, false_hits, share, hits, tested, searched)


def _whole_claims(wi, wj, *, cents_one, cents_many, day_many, min_items) -> _Claims:
    """All the open rows of a counterparty in the window, less at most two of them.

    A payment run pays every invoice of a vendor that fell due, often with a credit
    note among them: when the vendor has few open rows in the window (at most
    ``_MAX_WHOLE``), their total less none, one or two of them is compared with the
    payment, whatever their number and signs. Dropping fewer rows is preferred.
    """
    if len(wi) == 0:
        return _Claims.none()
    order = np.lexsort((day_many[wj], wi))
    wi, wj = wi[order], wj[order]
    owners, slot = np.unique(wi, return_inverse=True)
    rank = np.arange(len(wi)) - np.searchsorted(wi, owners)[slot]
    cand = np.full((len(owners), _MAX_WHOLE), -1, np.int64)
    cand[slot, rank] = wj
    valid = cand >= 0
    amt = np.where(valid, cents_many[np.maximum(cand, 0)], 0)
    n = valid.sum(1)
    gap = amt.sum(1) - cents_one[owners]  # what the rows left out must sum to
    drop0 = gap == 0
    drop1 = valid & (amt == gap[:, None])
    # two rows left out: the first pair (k < l) whose sum is the gap, in blocks of rows
    pair = np.full(len(owners), -1, np.int64)
    n_pairs = np.zeros(len(owners), np.int64)
    upper = np.triu(np.ones((_MAX_WHOLE, _MAX_WHOLE), bool), 1).ravel()
    for s in range(0, len(owners), 4096):
        a, ok = amt[s:s + 4096], valid[s:s + 4096]
        two = (((a[:, :, None] + a[:, None, :]) == gap[s:s + 4096, None, None])
               & ok[:, :, None] & ok[:, None, :]).reshape(len(a), -1) & upper
        n_pairs[s:s + 4096] = two.sum(1)
        pair[s:s + 4096] = np.where(two.any(1), np.argmax(two, 1), -1)
    hits = drop0 + drop1.sum(1) + n_pairs
    tested = 1 + n + n * (n - 1) // 2
    spread = np.maximum(np.abs(amt).sum(1), np.abs(cents_one[owners])).astype(np.float64)
    false_hits = tested / spread
    # the fewest rows left out: none, else the first single row, else the first pair
    keep = valid.copy()
    one_out = ~drop0 & drop1.any(1)
    keep[one_out, np.argmax(drop1[one_out], 1)] = False
    two_out = np.flatnonzero(~drop0 & ~one_out & (pair >= 0))
    keep[two_out, pair[two_out] // _MAX_WHOLE] = False
    keep[two_out, pair[two_out] % _MAX_WHOLE] = False
    size = keep.sum(1)
    found = (hits > 0) & (size >= min_items)
    searched = np.stack([owners, found, false_hits], 1)
    if not found.any():
        return _Claims.none(searched)
    order = np.argsort(~keep, axis=1, kind="stable")
    members = np.take_along_axis(np.where(keep, cand, -1), order, 1)[found]
    rivals = np.where(drop0, 1, np.where(one_out, drop1.sum(1), n_pairs))  # as likely
    return _Claims(owners[found], members, size[found], false_hits[found],
                   1.0 / rivals[found], hits[found], tested[found], searched)


def find_listed(one: np.ndarray, many: np.ndarray, *, nums_one: np.ndarray,
                numbers_many: np.ndarray, cents_one: np.ndarray, cents_many: np.ndarray,
                part_one: np.ndarray | None = None, part_many: np.ndarray | None = None,
                min_items: int = 2, max_share: int = 2) -> Splits:
    """Splits whose "one" row names its parts: a remittance listing invoice numbers, a
    payout naming its settlement.

    A "one" row's text numbers (``nums_one``, -1 padded) are looked up among the
    numbers of the open "many" rows (``numbers_many``: references and text numbers,
    -1 padded); a number found on more than ``max_share`` "many" rows names no single
    row and is skipped. When at least ``min_items`` rows are named and their amounts
    sum exactly to the "one" row's, whatever their signs, they are its split. With
    ``part_*`` (currency partitions), a row names only rows of its own partition.

    Examples
    --------
    >>> s = find_listed(np.array([0]), np.arange(3), nums_one=np.array([[101, 102, -1]]),
    ...                 numbers_many=np.array([[101], [102], [103]]),
    ...                 cents_one=np.array([500]), cents_many=np.array([600, -100, 50]))
    >>> s.one.tolist(), s.many[0, :s.size[0]].tolist()
    ([0], [0, 1])
    """
    width = nums_one.shape[1]
    if len(one) == 0 or len(many) == 0:
        return Splits.empty(width)
    rows_m, slot_m = np.nonzero(numbers_many[many] >= 0)
    value = numbers_many[many][rows_m, slot_m]
    rows_m = many[rows_m]
    values, counts = np.unique(value, return_counts=True)
    rare = counts[np.searchsorted(values, value)] <= max_share
    value, rows_m = value[rare], rows_m[rare]
    order = np.argsort(value, kind="stable")
    value, rows_m = value[order], rows_m[order]
    rows_o, slot_o = np.nonzero(nums_one[one] >= 0)
    asked = nums_one[one][rows_o, slot_o]
    lo = np.searchsorted(value, asked, "left")
    hi = np.searchsorted(value, asked, "right")
    r, pos = expand_ranges(lo, hi)
    pairs = unique_ints(one[rows_o[r]] * (len(cents_many) + 1) + rows_m[pos])
    pi, pj = pairs // (len(cents_many) + 1), pairs % (len(cents_many) + 1)
    if part_one is not None and part_many is not None:
        same = part_one[pi] == part_many[pj]
        pi, pj = pi[same], pj[same]
    owners, slot = np.unique(pi, return_inverse=True)
    size = np.bincount(slot, minlength=len(owners))
    total = np.bincount(slot, weights=cents_many[pj].astype(np.float64), minlength=len(owners))
    ok = (size >= min_items) & (size <= width) & (total == cents_one[owners])
    if not ok.any():
        return Splits.empty(width)
    rank = np.arange(len(pi)) - np.searchsorted(pi, pi)
    members = np.full((len(owners), width), -1, np.int64)
    keep = ok[slot] & (rank < width)
    members[slot[keep], rank[keep]] = pj[keep]
    owners, members, size = owners[ok], members[ok], size[ok]
    confidence = np.full(len(owners), 0.99)
    accepted = _settle(members, confidence)
    ones = np.ones(int(accepted.sum()), np.int64)
    return Splits(owners[accepted], members[accepted], size[accepted], confidence[accepted],
                  ones, ones)


def _split_odds(found: int, searched: int, chance: float) -> float:
    """Prior odds that a "one" row searched is a split, from the books themselves.

    Of the ``searched`` rows, ``found`` had an exact hit; ``chance`` hits were expected
    by chance alone. The excess is the splits: their share among the rows searched is
    the prior (at least 1 in 1,000; at most even odds).
    """
    share = (found - chance) / max(searched, 1)
    share = float(np.clip(share, 1e-3, 0.5))
    return share / (1.0 - share)


def _usable_counts(masks: np.ndarray, n_cand: np.ndarray) -> np.ndarray:
    """How many subsets use only filled slots, for each number of filled slots."""
    last = masks.shape[1] - 1 - np.argmax(masks[:, ::-1], axis=1)
    per_count = np.array([(last < n).sum() for n in range(masks.shape[1] + 1)])
    return per_count[n_cand]


def _settle(members: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Accept claims in rounds: a claim wins when it is the best claim on all its rows."""
    n = len(members)
    priority = np.empty(n, dtype=np.int64)
    priority[np.lexsort((np.arange(n), -confidence))] = np.arange(n)
    active = np.ones(n, dtype=bool)
    accepted = np.zeros(n, dtype=bool)
    width = int(members.max()) + 2 if members.size else 1
    taken = np.zeros(width, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        mem = members[idx]
        flat = mem.ravel()
        owner = np.repeat(idx, mem.shape[1])
        real = flat >= 0
        best = np.full(width, np.iinfo(np.int64).max)
        np.minimum.at(best, flat[real], priority[owner[real]])
        win = np.where(mem >= 0, best[np.maximum(mem, 0)] == priority[idx][:, None], True).all(1)
        accepted[idx[win]] = True
        won = mem[win].ravel()
        taken[won[won >= 0]] = True
        clash = np.where(mem >= 0, taken[np.maximum(mem, 0)], False).any(1)
        active[idx[win | clash]] = False
    return accepted
