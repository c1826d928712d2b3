"""The reconciliation engine: bank statement against ledger, end to end."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from nexus_lab._html import cluster_note, escape
from nexus_lab._typing import DeviceLike, FrameLike
from nexus_lab.device import resolve_device
from nexus_lab.errors import SchemaError
from nexus_lab.reconcile._assign import assign_one_to_one, assignment_problem, solve_rest
from nexus_lab.reconcile._blocking import (
    composite,
    expand_ranges,
    range_join,
    search_sorted,
    unique_ints,
)
from nexus_lab.reconcile._diagnose import check_model
from nexus_lab.reconcile._fs import FSModel
from nexus_lab.reconcile._outputs import (
    close_rows,
    explain,
    keep_order,
    one_to_one_frame,
    split_frame,
    unmatched_reasons,
)
from nexus_lab.reconcile._plans import find_plans
from nexus_lab.reconcile._prepare import (
    BANK_OPTIONAL,
    LEDGER_OPTIONAL,
    SIGNS,
    Side,
    align_signs,
    check_number,
    check_tolerance,
    partition_currencies,
    per_table,
    prepare_side,
    resolve_counterparties,
    split_columns,
)
from nexus_lab.reconcile._runs import RunGroups, find_runs, run_groups, run_pairs
from nexus_lab.reconcile._scoring import (
    PRIOR,
    Scorer,
    alternatives,
    cached_similarity,
    pair_levels,
    share_a_number,
)
from nexus_lab.reconcile._shards import Shards, over_rows
from nexus_lab.reconcile._splits import Splits, find_listed, find_splits
from nexus_lab.reconcile._windows import learn_window
from nexus_lab.text import as_string_array

log = logging.getLogger("nexus_lab")
# a payment run settles invoices issued over the vendor's terms (net 30 to 60): a batch
# payment may pay ledger lines dated up to this many days before it
PAYMENT_RUN_DAYS = 60

# the largest amount difference a pair of one counterparty may show by default: fees and
# FX conversions move amounts by a fraction of a percent to a few percent, a flat wire fee
# by tens; what each size of difference is worth is learned (amount levels, fees)
DEFAULT_TOLERANCE = (50.0, "5%")

_DENSE = 8  # a bank row with more exact-amount candidates keeps only its counterparty's


@dataclass
class ReconcileResult:
    """What :func:`reconcile` found.

    Attributes
    ----------
    matches : pandas.DataFrame
        One row per matched (bank, ledger) pair: ``bank_id, ledger_id,
        confidence`` (0-100), ``match_type`` (``one_to_one``, ``batch`` = one bank
        line for several ledger lines, ``installment`` = several bank lines for
        one ledger line), ``group_id``, ``explanation``, plus
        ``amount_difference``, ``date_lag_days`` and the per-evidence weights in
        bits (``weight_amount``, ``weight_date``, ``weight_description``,
        ``weight_reference``, ``weight_numbers``: a number such as a card, cheque or
        invoice number in both texts).
    unmatched_bank, unmatched_ledger : pandas.DataFrame
        The open rows with a ``reason``: ``possible duplicate``, ``amount
        mismatch``, ``timing difference``, ``missing in ledger`` / ``missing in
        bank``.
    rate : float
        Share of the bank amount (absolute cents) that is reconciled.
    model : FSModel
        The fitted match weights (``model.to_frame()`` shows them).
    params : dict
        The settings used, and facts found (e.g. a flipped sign convention). A result
        computed on Dask has ``params["dask"]``: ``scheduler`` (its address),
        ``workers``, ``partitions`` and ``dashboard`` (the Dask dashboard's address, or
        None); the notebook view, the report and the MLflow run show them.
    timings : dict
        Seconds spent per stage.
    warnings : list of str
        What makes the learned model suspect (similar names weighing against a
        match, one comparison carrying all the evidence, far fewer links than exact
        amounts alone give); empty when it passed. Each is also logged.
    """

    matches: pd.DataFrame
    unmatched_bank: pd.DataFrame
    unmatched_ledger: pd.DataFrame
    rate: float
    model: FSModel
    params: dict
    timings: dict
    n_bank: int = 0
    n_ledger: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """Counts, rate and timings as a flat dict (easy to log or print)."""
        types = self.matches["match_type"].value_counts()
        return {
            "bank_rows": self.n_bank,
            "ledger_rows": self.n_ledger,
            "matched_pairs": len(self.matches),
            "one_to_one": int(types.get("one_to_one", 0)),
            "batch_groups": int(
                self.matches.loc[self.matches.match_type == "batch", "group_id"].nunique()
            ),
            "installment_groups": int(
                self.matches.loc[self.matches.match_type == "installment", "group_id"].nunique()
            ),
            "unmatched_bank": len(self.unmatched_bank),
            "unmatched_ledger": len(self.unmatched_ledger),
            "rate": round(self.rate, 6),
            "mean_confidence": round(float(self.matches["confidence"].mean()), 2)
            if len(self.matches)
            else float("nan"),
            "seconds": round(sum(self.timings.values()), 3),
            "warnings": len(self.warnings),
        }

    def to_frame(self) -> pd.DataFrame:
        """The matches table."""
        return self.matches

    def reasons(self) -> pd.DataFrame:
        """Counts of unmatched rows per side and reason."""
        b = self.unmatched_bank["reason"].value_counts().rename("bank")
        lg = self.unmatched_ledger["reason"].value_counts().rename("ledger")
        return pd.concat([b, lg], axis=1).fillna(0).astype(int)

    def _repr_html_(self) -> str:
        s = self.summary()
        head = self.matches.head(10)[
            ["bank_id", "ledger_id", "confidence", "match_type", "explanation"]
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{escape(k.replace('_', ' '))}</th>"
            f"<td>{escape(str(v))}</td></tr>"
            for k, v in s.items()
        )
        warn = "".join(f"<p style='color:#b45309'>&#9888; {escape(w)}</p>"
                       for w in self.warnings)
        where = cluster_note(self.params.get("dask"))  # "" for a result of one machine
        return (
            "<div class='nexus-reconcile'><h4>Reconciliation: "
            f"{self.rate:.1%} of the bank amount reconciled</h4>"
            f"{where}<table>{cells}</table>{warn}<h5>Unmatched by reason</h5>"
            f"{self.reasons().to_html()}"
            f"<h5>First matches</h5>{head.to_html(index=False)}</div>"
        )

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"ReconcileResult(rate={s['rate']:.4f}, matched_pairs={s['matched_pairs']}, "
            f"unmatched_bank={s['unmatched_bank']}, unmatched_ledger={s['unmatched_ledger']})"
        )

def reconcile(
    bank: FrameLike,
    ledger: FrameLike,
    amount_tolerance: float | str | tuple = DEFAULT_TOLERANCE,
    date_window: int | None = None,
    device: DeviceLike = "auto",
    columns: Mapping[str, object] | None = None,
    *,
    sign: str = "auto",
    decimal: str | Mapping[str, str] = "auto",
    dayfirst: bool | Mapping[str, bool] | None = None,
    shards: Shards | None = None,
) -> ReconcileResult:
    """Reconcile a bank statement against a ledger.

    Candidate pairs come from sorted look-ups on integer cents and day numbers
    (exact amounts first, then amounts within ``amount_tolerance`` of the same
    counterparty), are scored with Fellegi-Sunter match weights learned by EM
    (amount, date lag, description similarity, reference), and are assigned
    one-to-one by min-cost bipartite matching per connected group. Open rows
    are then tried as batch payments and installments (subset sums in integer
    cents within a counterparty and the date window). Whatever stays open gets
    a reason.

    Parameters
    ----------
    bank, ledger : DataFrame
        pandas, polars, pyarrow or cuDF frames with ``transaction_id, date,
        amount, description`` (bank may add ``account, reference``; ledger
        ``vendor, category, account, reference``; either ``currency``).
    amount_tolerance : float, str or tuple, default (50, "5%")
        Largest amount difference accepted between a bank line and a ledger line
        of the same counterparty (card fees, wire fees, FX conversions): an amount in
        currency units (``5``), a share of the bank amount (``"1%"``), or both
        (``(5, "1%")`` or ``"5,1%"``: a pair within either passes). Exact amounts never
        need it. Within it, what a difference is worth is learned from the books: by
        its size (0.10, 1.00, 1%, 3%, 5%) and whether it recurs across counterparties
        (a flat fee, reported in ``res.params["fees"]``); a pair is linked only when its
        date, description and reference outweigh the difference.
    date_window : int, optional
        Largest posting lag in days, either way. By default it is learned from the
        books (:func:`learn_window`: the lags of the amounts each side has once), at
        least 7 and at most 60 days; ``res.params`` says what was used. Give a number
        to fix it.
    device : {"auto", "cpu", "cuda"}
        Where the scoring runs.
    columns : mapping, optional
        Column names to use instead of the defaults, as
        ``{"amount": "Amt", ...}`` for both tables or
        ``{"bank": {...}, "ledger": {...}}``.
    sign : {"auto", "as_is", "flip", "magnitude"}, default "auto"
        How the two sides' signs relate: compare amounts as written, negate the
        bank's, or compare sizes only (one side writes everything positive, the other
        signs money in and out). ``"auto"`` learns it from the books (the convention
        under which clearly more amounts agree exactly); ``res.params["sign"]`` says
        which was used.
    decimal : {"auto", ".", ","} or mapping, default "auto"
        The decimal mark of amounts written as text. ``"auto"`` decides it per column
        from all its values (``1.234,56`` and ``12,50``: a decimal comma) and refuses a
        column showing both; ``res.params["written"]`` says what was read. A mapping
        gives one per table: ``{"bank": ",", "ledger": "."}``.
    dayfirst : bool or mapping, optional
        The order of numeric dates (``03/04/2025``) when a column does not settle it
        by itself (a day above 12 does); otherwise such a column is refused. A mapping
        gives one per table: ``{"bank": True, "ledger": False}``.
    shards : Shards, optional
        Where the work runs in parts (:func:`nexus_lab.scale.reconcile` passes its Dask
        cluster). Every candidate pair of the exact-amount tier has one amount on both
        sides, so its rows are sharded by a hash of their amount: each shard finds its
        pairs and their comparison levels, the model is fitted on all of them here (in
        the order one machine makes them), and each shard's connected groups are
        assigned with the whole problem's costs. The later tiers' searches (settlement
        runs, batch payments and installments, plans, amounts within tolerance) are
        each row's own: the open rows are cut into parts that search among all the
        other side's open rows, and what couples them (claims on one row, the odds of a
        split, the fees, the model) is settled here. The result is the same without.

    Returns
    -------
    ReconcileResult

    Raises
    ------
    SchemaError
        When a table misses a column, has unparseable or non-finite amounts or
        dates, duplicate ids, no rows, mixed currencies, both decimal marks or two
        date orders in one column, or when the two sides are in different currencies.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, ledger, truth = nx.data.synth_reconciliation(300, seed=0)
    >>> res = nx.reconcile(bank, ledger, device="cpu")
    >>> res.rate > 0.9
    True
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    tolerance = check_tolerance(amount_tolerance)
    if sign not in SIGNS:
        raise SchemaError(f"sign={sign!r}: give one of {list(SIGNS)}")
    decimals = per_table("decimal", decimal, ("auto", ".", ","), "auto")
    dayfirsts = per_table("dayfirst", dayfirst, (None, True, False), None)
    if date_window is not None:
        window = int(check_number(date_window, "date_window"))
        if window != date_window:
            raise SchemaError("date_window must be a whole number of days, e.g. date_window=7")
    dev = resolve_device(device)
    bank_map, ledger_map = split_columns(columns)
    if shards is not None and not (
            all(_whole(getattr(shards, k, None)) for k in ("count", "workers"))
            and callable(getattr(shards, "map", None))
            and callable(getattr(shards, "share", None))):
        raise SchemaError(f"shards={shards!r}: give an object with count (a whole number of "
                          "shards, at least 1), workers (how many run at once, at least 1), "
                          "share() and map(), as nexus_lab.scale.reconcile does, or leave it "
                          "out")

    # the two sides are independent and their text work (Arrow) releases the GIL; each
    # side hands its references to a spare worker, so four threads share two cores
    with ThreadPoolExecutor(max_workers=4) as pool:
        side_b = pool.submit(prepare_side, bank, "bank", BANK_OPTIONAL, bank_map, pool,
                             decimal=decimals["bank"], dayfirst=dayfirsts["bank"])
        side_l = pool.submit(prepare_side, ledger, "ledger", LEDGER_OPTIONAL, ledger_map, pool,
                             decimal=decimals["ledger"], dayfirst=dayfirsts["ledger"])
        b, lg = side_b.result(), side_l.result()
    partition_currencies(b, lg)
    sign = align_signs(b, lg, sign)
    learned: dict = {}
    if date_window is None:
        window, learned = learn_window(b.cents, b.day, lg.cents, lg.day)
    resolve_counterparties(b, lg, dev)
    timings["prepare"] = time.perf_counter() - t0

    t = time.perf_counter()
    dmin = int(min(b.day.min(), lg.day.min())) - window - 1
    span_day = int(max(b.day.max(), lg.day.max())) - dmin + window + 2
    cmin = int(min(b.cents.min(), lg.cents.min())) - 1
    span_cents = int(max(b.cents.max(), lg.cents.max())) - cmin + 2
    span_part = int(max(b.part.max(), lg.part.max())) + 1
    if float(span_part) * span_cents * span_day >= 2**62:
        raise SchemaError(
            "the amounts and dates span too wide a range to index together; check for "
            "amounts in the wrong unit or dates far outside the statement period",
            column="amount",
        )
    kb = composite((b.part, span_part), (b.cents - cmin, span_cents), (b.day - dmin, span_day))
    kl = composite((lg.part, span_part), (lg.cents - cmin, span_cents), (lg.day - dmin, span_day))
    spans = (cmin, span_cents), (dmin, span_day)
    # what the shards read: the sides' arrays, not their frames (text, slow to ship)
    tb, tl = (b, lg) if shards is None else (b.frameless(), lg.frameless())
    if shards is None:
        i1, j1 = _exact_candidates(b, lg, kb, kl, window, *spans)
        timings["candidates"] = time.perf_counter() - t
        t = time.perf_counter()
        scorer = Scorer(b, lg, dev, tolerance, window)
        lv1, sim1 = scorer.levels(i1, j1)
    else:  # candidates and their levels per shard (the levels' time counts as theirs),
        # while the scorer is made here (its populations: a sample of name comparisons,
        # the ledger rows per bank amount)
        with ThreadPoolExecutor(max_workers=1) as pool:
            making = pool.submit(lambda: Scorer(b, lg, dev, tolerance, window)
                                 .count_amounts())
            shard_b, shard_l = _amount_shard(b.cents, shards.count), _amount_shard(
                lg.cents, shards.count)
            i1, j1, lv1, sim1, compared = _exact_in_shards(
                tb, tl, shards, shard_b, shard_l, window, spans, tolerance, dev)
            scorer = making.result()
        scorer.remember(compared)
        timings["candidates"] = time.perf_counter() - t
        t = time.perf_counter()
    scorer.fit(lv1, i1, j1)
    w1 = scorer.weights(lv1, i1, j1)
    timings["scoring"] = time.perf_counter() - t

    t = time.perf_counter()
    tie1 = np.abs(b.event[i1] - lg.day[j1])
    if shards is None:
        pick1 = assign_one_to_one(i1, j1, w1.sum(1), tie=tie1)
    else:
        pick1 = _assign_in_shards(i1, j1, w1.sum(1), tie1, shards, shard_b)
    open_b = np.ones(len(b), bool)
    open_b[i1[pick1]] = False
    open_l = np.ones(len(lg), bool)
    open_l[j1[pick1]] = False
    timings["assignment"] = time.perf_counter() - t

    # exact subset sums next: an exact sum of several lines is stronger evidence
    # than one amount that is merely close
    t = time.perf_counter()
    # a bank line naming the ledger lines it pays (a remittance's invoice numbers)
    listed = find_listed(np.flatnonzero(open_b), np.flatnonzero(open_l),
                         nums_one=np.c_[b.ref, b.nums], numbers_many=np.c_[lg.ref, lg.nums],
                         cents_one=b.cents, cents_many=lg.cents, part_one=b.part,
                         part_many=lg.part)
    close_rows(open_b, open_l, listed, one_is_bank=True)
    # payouts: a bank line settling a storefront's lines of whole days (with a ledger
    # channel column; runs of a counterparty's lines are looked for after the splits)
    groups = run_groups(lg.frame, lg.keys[0])
    horizon = max(window, PAYMENT_RUN_DAYS)
    runs = [_settlement_runs(b, lg, groups, open_b, open_l, horizon=horizon, shards=shards)
            if groups.names is not None else Splits.empty()]
    close_rows(open_b, open_l, runs[0], one_is_bank=True)
    batch, inst = [listed, runs[0]], []
    one_b, one_l = np.flatnonzero(open_b), np.flatnonzero(open_l)
    odds_b = odds_i = None  # the prior odds of a split, read by the first search that hits
    for _ in range(3):
        was_l = open_l.copy()
        found = find_splits(
            one_b, np.flatnonzero(open_l), cents_one=b.cents, cents_many=lg.cents,
            key_one=b.keys, key_many=lg.keys, day_one=b.day, day_many=lg.day,
            before=max(window, PAYMENT_RUN_DAYS), after=2, device=dev,
            similarity=scorer.names(), odds=odds_b, shards=shards,
        )
        odds_b = odds_b if odds_b is not None else found.odds
        close_rows(open_b, open_l, found, one_is_bank=True)
        batch.append(found)
        was_b = open_b.copy()
        found_i = find_splits(
            one_l[open_l[one_l]], np.flatnonzero(open_b), cents_one=lg.cents,
            cents_many=b.cents, key_one=lg.keys, key_many=b.keys, day_one=lg.day,
            day_many=b.day, before=2, after=window, device=dev,
            similarity=scorer.names(ledger_first=True), odds=odds_i, shards=shards,
        )
        odds_i = odds_i if odds_i is not None else found_i.odds
        close_rows(open_b, open_l, found_i, one_is_bank=False)
        inst.append(found_i)
        if len(found.one) + len(found_i.one) == 0:
            break
        # rows taken this round change which candidates are closest, but only for the
        # rows that looked at them: the others would find exactly what they found
        one_b = _still_open(batch, was_l & ~open_l, open_b)
        one_l = _still_open(inst, was_b & ~open_b, open_l)
    if groups.names is None:
        runs.append(_settlement_runs(b, lg, groups, open_b, open_l, horizon=horizon,
                                     shards=shards))
        close_rows(open_b, open_l, runs[-1], one_is_bank=True)
        batch.append(runs[-1])
    # installment plans over months: equal parts at a regular period, found by their shape
    plans = find_plans(np.flatnonzero(open_l), np.flatnonzero(open_b), cents_l=lg.cents,
                       cents_b=b.cents, party_l=lg.keys[0], party_b=b.keys[0], day_l=lg.day,
                       day_b=b.day, word_l=lg.keys[1], word_b=b.keys[1], shards=shards)
    close_rows(open_b, open_l, plans, one_is_bank=False)
    batch, inst = Splits.concat(batch), Splits.concat([*inst, plans])
    timings["splits"] = time.perf_counter() - t

    # amounts within tolerance, same counterparty, among the rows still open
    t = time.perf_counter()
    found = over_rows(shards, _tolerance_candidates, np.flatnonzero(open_b), b=tb, lg=tl,
                      ol=np.flatnonzero(open_l), tolerance=tolerance, window=window,
                      dmin=dmin, span_day=span_day)
    i2, j2 = (np.concatenate([f[k] for f in found]) for k in (0, 1))
    scorer.learn_fees(i2, j2)
    found = over_rows(shards, _levels_part, np.arange(len(i2)), i=i2, j=j2, b=tb, lg=tl,
                      tolerance=tolerance, fees=scorer.fees, window=window,
                      names=scorer.names())
    lv2, sim2 = (np.concatenate([f[k] for f in found]) for k in (0, 1))
    scorer.fit_amount(lv2, int(pick1.sum()))
    w2 = scorer.weights(lv2, i2, j2)
    tie2 = np.abs(b.event[i2] - lg.day[j2])
    pick2 = assign_one_to_one(i2, j2, w2.sum(1), tie=tie2)
    open_b[i2[pick2]] = False
    open_l[j2[pick2]] = False
    scorer.reweigh_amount(w1, lv1, i1)  # one weight table for both tiers
    timings["tolerance"] = time.perf_counter() - t

    # output: both sides' views of the alternatives to the chosen pairs (confidences), the
    # sentences, the open rows' reasons and the order of alike rows are independent
    # parts, run in two threads here (array and Arrow work releases the GIL). On a
    # cluster they would gain nothing: shipping the pairs cost more than the second core
    # the threads already use (RESULTS.md)
    t = time.perf_counter()
    i_all = np.concatenate([i1, i2])
    j_all = np.concatenate([j1, j2])
    w_all = np.concatenate([w1, w2])
    pick = np.concatenate([pick1, pick2])
    pi, pj = i_all[pick], j_all[pick]
    bits = w_all.sum(1)  # clipped where it is read (alternatives, confidence)
    with ThreadPoolExecutor(max_workers=2) as pool:
        alike_b, alike_l = pool.map(Side.alike, (b, lg))
        views = [pool.submit(alternatives, view, i_all, j_all, bits, pick, alike_b, alike_l)
                 for view in ("bank", "ledger")]
        sentences = pool.submit(explain, np.concatenate([lv1, lv2])[pick],
                                b.event[pi] - lg.day[pj], np.concatenate([sim1, sim2])[pick],
                                w_all[pick])
        reasons = pool.submit(unmatched_reasons, b, lg, open_b, open_l, window, dmin, span_day)
        order = pool.submit(keep_order, i_all, j_all, pick, alike_b, alike_l)
        batch_frame = split_frame(b, lg, batch, "batch", int(pick.sum()), one_is_bank=True)
        inst_frame = split_frame(b, lg, inst, "installment", int(pick.sum()) + len(batch.one),
                                 one_is_bank=False)
        confidence = scorer.confidence(i_all, j_all, bits, pick,
                                       views=(views[0].result(), views[1].result()))
        oi, oj = order.result()
        text, back = sentences.result()
        # swapping alike rows (keep_order) changes no sentence
        one = one_to_one_frame(b, lg, oi[pick], oj[pick], confidence[pick], w_all[pick],
                               text[back])
        unmatched_bank, unmatched_ledger = _unmatched(b, lg, open_b, open_l, reasons.result())
    frames = [f for f in (one, batch_frame, inst_frame) if len(f)]
    matches = pd.concat(frames, ignore_index=True) if frames else one
    total = np.abs(b.cents).sum()
    rate = float(np.abs(b.cents[~open_b]).sum() / total) if total else 1.0
    timings["output"] = time.perf_counter() - t
    params = {
        "amount_tolerance": str(tolerance) if tolerance.share else tolerance.cents / 100,
        "date_window": window,
        "date_window_learned": date_window is None,
        "payment_run_days": max(window, PAYMENT_RUN_DAYS),
        **{f"date_window_{k}": v for k, v in learned.items() if v is not None},
        "fees": [int(f) / 100 for f in scorer.fees],
        "device": str(dev),
        "sign": sign,
        "bank_sign_flipped": sign == "flip",
        "written": {"bank": b.written, "ledger": lg.written},
        "candidate_pairs": len(i_all),
        "em_iterations": scorer.model.n_iter,
    }
    observed = [True] + [c not in scorer.unobserved for c in range(1, PRIOR)]
    warnings = check_model(scorer.model_fitted, observed=observed, exact_bank=i1, exact_ledger=j1,
                           linked_exact=int(pick1.sum()))
    for w in warnings:
        log.warning("reconcile: the learned model is suspect: %s", w)
    log.info("reconciled %d bank and %d ledger rows in %.2fs", len(b), len(lg),
             time.perf_counter() - t0)
    return ReconcileResult(
        matches, unmatched_bank, unmatched_ledger, rate, scorer.model, params, timings,
        n_bank=len(b), n_ledger=len(lg), warnings=warnings,
    )


# ----------------------------------------------------------------------------- inputs

def _whole(n: object) -> bool:
    """Whether ``n`` is a whole number of at least 1 (not a flag)."""
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1


def _exact_candidates(b, lg, kb, kl, window, cents_span, day_span):
    """Pairs of one amount within the date window, by bank row then ledger key.

    A common amount (round sums, subscriptions, a toll plaza's menu) meets many rows: a
    bank row with more than ``_DENSE`` such candidates keeps only those sharing a number
    with its text (a card or store number: :func:`_number_candidates`), or when it has
    none or shares none, its counterparty's, which are joined on a key that includes
    the counterparty instead of being filtered.
    """
    order = np.argsort(kl, kind="stable")
    sorted_kl = kl[order]
    b_order = np.argsort(kb, kind="stable")
    lo = search_sorted(sorted_kl, kb - window, "left", b_order)
    hi = search_sorted(sorted_kl, kb + window, "right", b_order)
    crowded = hi - lo > _DENSE
    light = np.flatnonzero(~crowded)
    rows, pos = expand_ranges(lo[light], hi[light])
    i, j = light[rows], order[pos]
    heavy = np.flatnonzero(crowded)
    i_num, j_num = _number_candidates(b, lg, heavy, cents_span, day_span, window)
    by_number = np.zeros(len(b), bool)
    by_number[i_num] = True
    heavy = heavy[~by_number[heavy] & (b.keys[0][heavy] >= 0)]
    if len(i_num):
        i, j = np.concatenate([i, i_num]), np.concatenate([j, j_num])
    if len(heavy):
        party_l = np.flatnonzero(lg.keys[0] >= 0)
        (cmin, span_c), (dmin, span_d) = cents_span, day_span
        span_k = int(max(b.keys[0].max(), lg.keys[0].max())) + 1
        if float(span_k) * span_c * span_d < 2**62:
            hb, hl = heavy, party_l
            ih, jh = range_join(
                composite((b.keys[0][hb], span_k), (b.cents[hb] - cmin, span_c),
                          (b.day[hb] - dmin, span_d)),
                composite((lg.keys[0][hl], span_k), (lg.cents[hl] - cmin, span_c),
                          (lg.day[hl] - dmin, span_d)),
                -window, window,
            )
            ih, jh = hb[ih], hl[jh]
        else:  # keys too wide to combine: expand the crowded rows and filter them
            rows, pos = expand_ranges(lo[heavy], hi[heavy])
            ih, jh = heavy[rows], order[pos]
            same = b.keys[0][ih] == lg.keys[0][jh]
            ih, jh = ih[same], jh[same]
        i, j = np.concatenate([i, ih]), np.concatenate([j, jh])
    # runs sorted by bank row: a stable sort merges them, keeping each row's order
    by_row = np.argsort(i, kind="stable")
    return i[by_row].astype(np.int64), j[by_row].astype(np.int64)


def _number_candidates(b, lg, rows, cents_span, day_span, window):
    """Exact-amount pairs within the window whose texts share a number, for bank ``rows``.

    Both sides' text numbers are numbered jointly and joined on (number, amount, day);
    a pair sharing two numbers is kept once.
    """
    empty = np.zeros(0, np.int64)
    rows = rows[b.nums[rows, 0] >= 0]
    if len(rows) == 0:
        return empty, empty
    rb, sb = np.nonzero(b.nums[rows] >= 0)
    rl, sl = np.nonzero(lg.nums >= 0)
    if len(rl) == 0:
        return empty, empty
    # a number of one currency partition is another number than the same digits in another
    span_p = int(max(b.part.max(), lg.part.max())) + 1
    num_b, num_l = b.nums[rows][rb, sb], lg.nums[rl, sl]
    ids = pd.factorize(np.concatenate([num_b, num_l]))[0].astype(np.int64)
    ids, values = pd.factorize(ids * span_p + np.concatenate([b.part[rows][rb], lg.part[rl]]))
    (cmin, span_c), (dmin, span_d) = cents_span, day_span
    span_n = len(values) + 1
    if float(span_n) * span_c * span_d >= 2**62:
        return empty, empty
    bi, lj = rows[rb], rl
    ih, jh = range_join(
        composite((ids[: len(rb)], span_n), (b.cents[bi] - cmin, span_c),
                  (b.day[bi] - dmin, span_d)),
        composite((ids[len(rb):], span_n), (lg.cents[lj] - cmin, span_c),
                  (lg.day[lj] - dmin, span_d)),
        -window, window,
    )
    code = unique_ints(bi[ih] * (len(lg) + 1) + lj[jh])
    return code // (len(lg) + 1), code % (len(lg) + 1)


# ----------------------------------------------------------------------------- shards

def _amount_shard(cents: np.ndarray, count: int) -> np.ndarray:
    """Per row, its shard: a hash of its amount (rows of one amount share a shard)."""
    mixed = cents.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(32)) % np.uint64(count)).astype(np.int64)


def _rows_of(side: Side, rows: np.ndarray) -> Side:
    """``side`` cut to ``rows`` (in their order), without its frame and ids; the
    per-name arrays stay whole."""
    return replace(
        side, frame=None, ids=None, cents=side.cents[rows], day=side.day[rows],
        part=side.part[rows], name_id=side.name_id[rows], keys=[k[rows] for k in side.keys],
        ref=side.ref[rows], nums=side.nums[rows], event=side.event[rows], _alike=None)


def _exact_shard(rows_b: np.ndarray, rows_l: np.ndarray, *, b: Side, lg: Side, window: int,
                 spans: tuple, tolerance: Any, device: str) -> tuple:
    """One shard of the exact-amount tier: its candidate pairs (whole-table row numbers),
    their levels and similarities, and the name pairs it compared."""
    sb, sl = _rows_of(b, rows_b), _rows_of(lg, rows_l)
    (cmin, span_c), (dmin, span_d) = spans
    span_p = int(max(b.part.max(), lg.part.max())) + 1
    kb = composite((sb.part, span_p), (sb.cents - cmin, span_c), (sb.day - dmin, span_d))
    kl = composite((sl.part, span_p), (sl.cents - cmin, span_c), (sl.day - dmin, span_d))
    i, j = _exact_candidates(sb, sl, kb, kl, window, *spans)
    compared = [b.known_pairs] if b.known_pairs is not None and len(b.known_pairs[0]) else []
    known = len(compared)
    dev = resolve_device(device)
    lv, sim = pair_levels(
        sb, sl, i, j, window=window, tolerance=tolerance, fees=np.zeros(0, np.int64),
        similarity=lambda x, y: cached_similarity(sb, sl, x, y, compared, dev))
    return rows_b[i], rows_l[j], lv, sim, compared[known:]


def _exact_in_shards(b: Side, lg: Side, shards: Shards, shard_b: np.ndarray,
                     shard_l: np.ndarray, window: int, spans: tuple, tolerance: Any,
                     device: Any) -> tuple:
    """The exact-amount tier's pairs, levels and similarities, found shard by shard, in
    the order :func:`_exact_candidates` gives them on the whole tables, and the name
    pairs the shards compared (for the scorer to remember)."""
    by_b, by_l = np.argsort(shard_b, kind="stable"), np.argsort(shard_l, kind="stable")
    cut_b = np.searchsorted(shard_b[by_b], np.arange(shards.count + 1))
    cut_l = np.searchsorted(shard_l[by_l], np.arange(shards.count + 1))
    items = [(by_b[cut_b[s]:cut_b[s + 1]], by_l[cut_l[s]:cut_l[s + 1]])
             for s in range(shards.count)]
    found = shards.map(_exact_shard, items, b=shards.share(b), lg=shards.share(lg),
                       window=window, spans=spans,
                       tolerance=tolerance, device=str(device))
    i, j, lv, sim = (np.concatenate([f[k] for f in found]) for k in range(4))
    compared = [c for f in found for c in f[4]]
    # each bank row's pairs come from its one shard, in their order: a stable sort by
    # bank row gives the whole tables' order
    by_row = np.argsort(i, kind="stable")
    return i[by_row], j[by_row], lv[by_row], sim[by_row], compared


def _assign_in_shards(i: np.ndarray, j: np.ndarray, weight: np.ndarray, tie: np.ndarray,
                      shards: Shards, shard_b: np.ndarray) -> np.ndarray:
    """:func:`assign_one_to_one` with the connected groups solved shard by shard (a group
    never leaves its amount's shard)."""
    chosen, rest, (ri, rj, rw, top) = assignment_problem(i, j, weight, tie=tie)
    if not len(rest):
        return chosen
    shard = shard_b[ri]
    order = np.argsort(shard, kind="stable")
    cut = np.searchsorted(shard[order], np.arange(shards.count + 1))
    parts = [order[cut[s]:cut[s + 1]] for s in range(shards.count)]
    parts = [p for p in parts if len(p)]
    hits = shards.map(solve_rest, [(ri[p], rj[p], rw[p], top) for p in parts])
    for p, hit in zip(parts, hits):
        chosen[rest[p[hit]]] = True
    return chosen


def _levels_part(rows: np.ndarray, *, i: np.ndarray, j: np.ndarray, b: Side, lg: Side,
                 tolerance: Any, fees: np.ndarray, window: int, names: Any) -> tuple:
    """The comparison levels and name similarities of the pairs ``rows`` of ``(i, j)``."""
    i, j = i[rows], j[rows]
    return pair_levels(b, lg, i, j, window=window, tolerance=tolerance, fees=fees,
                       similarity=names)


def _unmatched(b: Side, lg: Side, open_b: np.ndarray, open_l: np.ndarray,
               reasons: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The open rows of both sides with their reasons (``unmatched_reasons``)."""
    reason_b, reason_l, (near_b, diff_b), (near_l, diff_l) = reasons

    def frame(side, other, open_, reason, near, diff):
        known = near >= 0
        return side.frame.loc[open_].assign(
            reason=reason,
            nearest_id=np.where(known, other.ids[np.maximum(near, 0)], None),
            amount_difference=np.where(known, diff / 100.0, np.nan),
        ).reset_index(drop=True)

    return (frame(b, lg, open_b, reason_b, near_b, diff_b),
            frame(lg, b, open_l, reason_l, near_l, diff_l))


def _still_open(rounds: list[Splits], closed: np.ndarray, open_one: np.ndarray) -> np.ndarray:
    """Open "one" rows that looked at a row in ``closed`` in any earlier round."""
    rows = unique_ints(np.concatenate([r.touched(closed) for r in rounds]))
    return rows[open_one[rows]]


_NEAREST = 6  # per bank row, day of lag and key: the ledger amounts nearest its own
_KEEP = 16  # per bank row in all: the nearest amounts


def _settlement_runs(b: Side, lg: Side, groups: RunGroups, open_b: np.ndarray,
                     open_l: np.ndarray, *, horizon: int, shards: Shards | None) -> Splits:
    """The settlement runs (``_runs``) among the open rows."""
    one, many = np.flatnonzero(open_b), np.flatnonzero(open_l)
    text_l = as_string_array(lg.frame["description"])
    if "reference" in lg.frame:
        text_l = pc.binary_join_element_wise(
            text_l, as_string_array(lg.frame["reference"]), " ")
    pb, pg = run_pairs(one, many, groups, text_one=as_string_array(b.frame["description"]),
                       text_many=text_l, day_one=b.day, day_many=lg.day, party_one=b.keys[0])
    return find_runs(pb, pg, many, groups, cents_one=b.cents, cents_many=lg.cents,
                     day_one=b.day, day_many=lg.day, horizon=horizon, shards=shards)


def _tolerance_candidates(ob, *, b, lg, ol, tolerance, window, dmin, span_day):
    """Pairs of open bank rows ``ob`` and open ledger rows ``ol`` of one counterparty
    within the date window and amount tolerance, by bank row (each row's are its own:
    ``ob`` may be a part of the open rows).

    Per bank row, day of lag and key, only the ``_NEAREST`` ledger amounts on either
    side of its own are looked at, and ``_KEEP`` in all are kept (the nearest amounts):
    a busy counterparty (a toll road with thousands of open rows a day) would otherwise
    pair every open row with every other.
    """
    if not (tolerance.cents > 0 or tolerance.share > 0) or not len(ob) or not len(ol):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tol_b = tolerance.of(b.cents[ob])  # per bank row: the larger of amount and share
    top = int(tol_b.max())
    cmin = int(min(b.cents[ob].min(), lg.cents[ol].min())) - top - 1
    span_c = int(max(b.cents[ob].max(), lg.cents[ol].max())) - cmin + top + 2
    span_p = int(max(b.part.max(), lg.part.max())) + 1
    pairs = []
    for kb_all, kl_all in zip(b.keys, lg.keys):
        kb, kl = kb_all[ob], kl_all[ol]
        sb, sl = kb >= 0, kl >= 0
        tol_k = tol_b[sb]
        if not sb.any() or not sl.any():
            continue
        span_k = int(max(kb.max(), kl.max())) + 1
        key_l = composite(
            (lg.part[ol][sl], span_p), (kl[sl], span_k),
            (lg.day[ol][sl] - dmin, span_day), (lg.cents[ol][sl] - cmin, span_c),
        )
        key_b = composite(
            (b.part[ob][sb], span_p), (kb[sb], span_k),
            (b.day[ob][sb] - dmin, span_day), (b.cents[ob][sb] - cmin, span_c),
        )
        order = np.argsort(key_l, kind="stable")
        sorted_l = key_l[order]
        b_order = np.argsort(key_b, kind="stable")
        for lag in range(-window, window + 1):
            # the day sits just above the cents in the key: a lag shifts it by span_c
            shifted = key_b - lag * span_c
            lo = search_sorted(sorted_l, shifted - tol_k, "left", b_order)
            hi = search_sorted(sorted_l, shifted + tol_k, "right", b_order)
            mid = search_sorted(sorted_l, shifted, "left", b_order)
            i, pos = expand_ranges(np.maximum(lo, mid - _NEAREST),
                                   np.minimum(hi, mid + _NEAREST))
            pairs.append(ob[sb][i].astype(np.int64) * (len(lg) + 1) + ol[sl][order[pos]])
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = unique_ints(np.concatenate(pairs))
    i, j = code // (len(lg) + 1), code % (len(lg) + 1)
    keep = b.cents[i] != lg.cents[j]
    i, j = i[keep], j[keep]
    # at most _KEEP per bank row: those sharing a number with it first, then the nearest
    # in amount, then in date (i stays sorted)
    by_row = np.lexsort((np.abs(b.day[i] - lg.day[j]), np.abs(b.cents[i] - lg.cents[j]),
                         ~share_a_number(b, lg, i, j), i))
    i, j = i[by_row], j[by_row]
    rank = np.arange(len(i)) - np.searchsorted(i, i)
    return i[rank < _KEEP], j[rank < _KEEP]


# ----------------------------------------------------------------------------- outputs
