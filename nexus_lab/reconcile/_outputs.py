"""Result tables of the engine: matches with explanations, and reasons for open rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.frames import decimal_text
from nexus_lab.reconcile._blocking import composite, expand_ranges, range_join
from nexus_lab.reconcile._prepare import Side
from nexus_lab.reconcile._scoring import AMOUNT_LABELS
from nexus_lab.reconcile._splits import Splits


def keep_order(i, j, pick, alike_b: np.ndarray,
               alike_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Among interchangeable chosen pairs, pair the rows in their original order.

    Chosen pairs whose bank rows are alike (amount, date, name, reference:
    ``Side.alike``) and whose ledger rows are alike score the same whichever way they
    are paired; the assignment then pairs the first bank row with the first ledger row.
    """
    nb, nl = len(alike_b), len(alike_l)
    # only rows with a rival candidate can be swapped
    rival = (np.bincount(i, minlength=nb)[i] > 1) | (np.bincount(j, minlength=nl)[j] > 1)
    sel = np.flatnonzero(pick & rival)
    bi, lj = i[sel], j[sel]
    group = pd.factorize(alike_b[bi] * (nl + 1) + alike_l[lj])[0]
    by_b = np.lexsort((bi, group))
    by_l = np.lexsort((lj, group))
    i, j = i.copy(), j.copy()
    i[sel[by_b]] = bi[by_b]
    j[sel[by_b]] = lj[by_l]
    return i, j


# ----------------------------------------------------------------------------- scoring

def _money(cents: np.ndarray) -> pa.Array:
    """Integer cents as text with two decimals: -1205 -> "-12.05"."""
    units = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    rest = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, units, ".", rest, "")

def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")

def one_to_one_frame(b, lg, i, j, conf, w, explanation) -> pd.DataFrame:
    lag = b.day[i] - lg.day[j]
    return pd.DataFrame(
        {
            "bank_id": b.ids[i],
            "ledger_id": lg.ids[j],
            "confidence": np.round(100 * conf, 1),
            "match_type": "one_to_one",
            "group_id": np.arange(len(i), dtype=np.int64),
            "explanation": explanation,
            "amount_difference": (b.cents[i] - lg.cents[j]) / 100.0,
            "date_lag_days": lag,
            "weight_amount": np.round(w[:, 0], 3),
            "weight_date": np.round(w[:, 1], 3),
            "weight_description": np.round(w[:, 2], 3),
            "weight_reference": np.round(w[:, 3], 3),
            "weight_numbers": np.round(w[:, 4], 3),
        }
    )

def explain(lv: np.ndarray, lag: np.ndarray, sim: np.ndarray,
            w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sentence per pair naming each piece of evidence and its weight in bits, as
    the distinct sentences ``text`` and per pair the position of its own: ``text[back]``.

    Pairs that read the same share one formatted string: the parts are packed
    into an int64 key (every part is small once rounded) and formatted once per
    distinct key.
    """
    tenth = np.clip(np.rint(w * 10), -1000, 1000).astype(np.int64)
    total = np.clip(np.rint(w.sum(1) * 10), -4000, 4000).astype(np.int64)
    halves = (  # (values, bits): two keys of at most 63 bits each
        [(lv[:, 0], 3), (tenth[:, 0] + 1024, 11), (np.clip(lag, -400, 400) + 512, 10),
         (np.rint(sim * 100).astype(np.int64), 7), (tenth[:, 1] + 1024, 11)],
        [(lv[:, 3] + 1, 2), (lv[:, 4] + 1, 2), (tenth[:, 2] + 1024, 11), (total + 4096, 13)],
    )
    codes = []
    for parts in halves:
        key = np.zeros(len(lv), dtype=np.int64)
        for values, bits in parts:
            key = (key << bits) | values.astype(np.int64)
        codes.append(pd.factorize(key)[0].astype(np.int64))
    # codes numbered in order of first appearance
    back, uniq = pd.factorize(codes[0] * (int(codes[1].max(initial=0)) + 1) + codes[1])
    rep = np.empty(len(uniq), dtype=np.int64)
    rep[back[::-1]] = np.arange(len(key))[::-1]  # the first row of each reading
    lvu, wu, lagu, simu = lv[rep], w[rep], lag[rep], sim[rep]
    amount_label = np.array(AMOUNT_LABELS, dtype=object)[lvu[:, 0]]
    ref_label = np.where(lvu[:, 3] < 0, "no reference", np.where(lvu[:, 3] == 0, "same",
                                                                 "differs"))
    num_label = np.where(lvu[:, 4] < 0, "none to compare",
                         np.where(lvu[:, 4] == 0, "one in common", "none in common"))
    text = _join(
        pa.array(amount_label.astype(str)), " amount (", decimal_text(wu[:, 0]), ") · date lag ",
        pc.cast(pa.array(lagu), pa.string()), "d (", decimal_text(wu[:, 1]), ") · description ",
        decimal_text(simu, 2, sign=False), " (", decimal_text(wu[:, 2]), ") · reference ",
        pa.array(ref_label.astype(str)), " (", decimal_text(wu[:, 3]), ") · numbers ",
        pa.array(num_label.astype(str)), " (", decimal_text(wu[:, 4]), ") · prior (",
        decimal_text(wu[:, 5]), ") = ", decimal_text(wu.sum(1)), " bits",
    ).to_numpy(zero_copy_only=False)
    return text, back

def close_rows(open_b, open_l, s: Splits, *, one_is_bank: bool) -> None:
    many = s.many[s.many >= 0]
    if one_is_bank:
        open_b[s.one] = False
        open_l[many] = False
    else:
        open_l[s.one] = False
        open_b[many] = False

def split_frame(b, lg, s: Splits, kind: str, first_group: int, *, one_is_bank: bool):
    if len(s.one) == 0:
        return pd.DataFrame()
    g = np.repeat(np.arange(len(s.one)), s.size)
    many = s.many[s.many >= 0]
    one = s.one[g]
    bi, lj = (one, many) if one_is_bank else (many, one)
    side_one = b if one_is_bank else lg
    lag = b.day[bi] - lg.day[lj]
    conf = s.confidence[g]
    label = "ledger" if one_is_bank else "bank"
    explanation = _join(
        f"{kind}: ", pc.cast(pa.array(s.size[g]), pa.string()), f" {label} lines sum exactly to ",
        _money(side_one.cents[s.one][g]), " · same counterparty · ",
        pc.cast(pa.array(s.alternatives[g]), pa.string()), " of ",
        pc.cast(pa.array(s.tested[g]), pa.string()), " subsets tried match",
    )
    return pd.DataFrame(
        {
            "bank_id": b.ids[bi],
            "ledger_id": lg.ids[lj],
            "confidence": np.round(100 * conf, 1),
            "match_type": kind,
            "group_id": first_group + g,
            "explanation": explanation.to_numpy(zero_copy_only=False),
            "amount_difference": 0.0,
            "date_lag_days": lag,
            "weight_amount": np.nan,
            "weight_date": np.nan,
            "weight_description": np.nan,
            "weight_reference": np.nan,
            "weight_numbers": np.nan,
        }
    )

FEE_SHARE, FEE_FLOOR = 0.03, 1_500  # a fee or FX difference: within 3% or 15.00


def unmatched_reasons(b, lg, open_b, open_l, window, dmin, span_day):
    """Why each open row stayed open, most specific first.

    Returns the reasons of both sides and, per side, the nearest open row of the same
    counterparty on the other side (its position, -1 when none) with the difference in
    cents (bank minus ledger): an "amount mismatch" within a few percent is named a
    "fee or FX difference", and the difference says how much.
    """
    ob, ol = np.flatnonzero(open_b), np.flatnonzero(open_l)
    reason_b = np.where(
        b.day[ob] - b.day.min() < window, "timing difference", "missing in ledger"
    ).astype(object)
    reason_l = np.where(
        lg.day[ol] > b.day.max() - window, "timing difference", "missing in bank"
    ).astype(object)
    # amount mismatch: an open row of the same counterparty within the window on the other side
    near_b, diff_b = np.full(len(ob), -1), np.zeros(len(ob), np.int64)
    near_l, diff_l = np.full(len(ol), -1), np.zeros(len(ol), np.int64)
    key = b.keys[0]
    keyl = lg.keys[0]
    sb, sl = key[ob] >= 0, keyl[ol] >= 0
    if sb.any() and sl.any():
        rb, rl = _open_neighbours(b, lg, ob[sb], ol[sl], window, dmin, span_day)
        rb, rl = np.flatnonzero(sb)[rb], np.flatnonzero(sl)[rl]
        diff = b.cents[ob[rb]] - lg.cents[ol[rl]]
        for rows, other, near, out in ((rb, ol[rl], near_b, diff_b),
                                       (rl, ob[rb], near_l, diff_l)):
            closest = np.lexsort((np.abs(diff), rows))  # per row, the smallest difference first
            first = closest[np.diff(rows[closest], prepend=-1) != 0]
            near[rows[first]] = other[first]
            out[rows[first]] = diff[first]
    for reason, near, diff, cents in ((reason_b, near_b, diff_b, b.cents[ob]),
                                      (reason_l, near_l, diff_l, lg.cents[ol])):
        has = near >= 0
        fee = has & (np.abs(diff) <= np.maximum(FEE_SHARE * np.abs(cents), FEE_FLOOR))
        reason[has] = "amount mismatch"
        reason[fee] = "fee or FX difference"
    # possible duplicate: another row on the same side, same amount and counterparty, days apart
    reason_b[_twins(b, ob)] = "possible duplicate"
    reason_l[_twins(lg, ol)] = "possible duplicate"
    return reason_b, reason_l, (near_b, diff_b), (near_l, diff_l)


_REACH = 64  # open rows of one counterparty in a row's window beyond which only the
_NEAREST_AMOUNTS = 8  # ... nearest amounts on either side are looked at


def _open_neighbours(b, lg, ob, ol, window, dmin, span_day):
    """Pairs (positions into ``ob``, ``ol``) of one counterparty within the window.

    A bank row with at most ``_REACH`` such ledger rows gets them all; a busier one (a
    counterparty with thousands of open rows a week) the ``_NEAREST_AMOUNTS`` ledger
    amounts nearest its own on either side, those within the window.
    """
    kb, kl = b.keys[0][ob], lg.keys[0][ol]
    span_k = int(max(kb.max(), kl.max())) + 1
    day_b = composite((kb, span_k), (b.day[ob] - dmin, span_day))
    day_l = composite((kl, span_k), (lg.day[ol] - dmin, span_day))
    order = np.argsort(day_l, kind="stable")
    sorted_l = day_l[order]
    lo = np.searchsorted(sorted_l, day_b - window, "left")
    hi = np.searchsorted(sorted_l, day_b + window, "right")
    few = np.flatnonzero(hi - lo <= _REACH)
    r, pos = expand_ranges(lo[few], hi[few])
    i, j = [few[r]], [order[pos]]
    busy = np.flatnonzero(hi - lo > _REACH)
    if len(busy):
        cmin = int(min(b.cents[ob].min(), lg.cents[ol].min()))
        span_c = int(max(b.cents[ob].max(), lg.cents[ol].max())) - cmin + 1
        by_amount = composite((kl, span_k), (lg.cents[ol] - cmin, span_c))
        order_c = np.argsort(by_amount, kind="stable")
        sorted_c = by_amount[order_c]
        mine = composite((kb[busy], span_k), (b.cents[ob][busy] - cmin, span_c))
        mid = np.searchsorted(sorted_c, mine, "left")
        first = np.searchsorted(sorted_c, kb[busy] * span_c)  # the counterparty's block
        last = np.searchsorted(sorted_c, (kb[busy] + 1) * span_c)
        r, pos = expand_ranges(np.maximum(first, mid - _NEAREST_AMOUNTS),
                               np.minimum(last, mid + _NEAREST_AMOUNTS))
        bi, lj = busy[r], order_c[pos]
        near = np.abs(b.day[ob][bi] - lg.day[ol][lj]) <= window
        i.append(bi[near])
        j.append(lj[near])
    return np.concatenate(i), np.concatenate(j)


def _twins(side: Side, rows: np.ndarray, days: int = 3) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros(0, bool)
    key = side.keys[0]
    span_k = int(key.max()) + 2
    dmin = int(side.day.min()) - days - 1
    span_d = int(side.day.max()) - dmin + days + 2
    cmin = int(side.cents.min())
    span_c = int(side.cents.max()) - cmin + 1
    full = composite((key + 1, span_k), (side.cents - cmin, span_c), (side.day - dmin, span_d))
    i, j = range_join(full[rows], full, -days, days)
    other = rows[i] != j
    twin = np.zeros(len(rows), bool)
    twin[i[other]] = True
    return twin & (key[rows] >= 0)
