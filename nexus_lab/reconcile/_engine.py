"""The reconciliation engine: bank statement against ledger, end to end."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from nexus_lab.device import resolve_device
from nexus_lab.errors import SchemaError
from nexus_lab.frames import check_unique, parse_cents, parse_days, select_columns, to_pandas
from nexus_lab.reconcile._assign import assign_one_to_one
from nexus_lab.reconcile._blocking import composite, range_join
from nexus_lab.reconcile._fs import FSModel, fit_em
from nexus_lab.reconcile._splits import Splits, find_splits
from nexus_lab.reconcile._text import (
    SENTINEL,
    as_string_array,
    encode_bytes,
    normalize_name,
    qgram_codes,
    qgram_similarity,
    skeleton,
    soundex,
    tokens,
)

log = logging.getLogger("nexus_lab")

REQUIRED = ("transaction_id", "date", "amount", "description")
BANK_OPTIONAL = ("account", "reference", "currency")
LEDGER_OPTIONAL = ("vendor", "category", "account", "reference", "currency")

_NAME_WIDTH = 24  # bytes of a normalized counterparty name that are compared
_PAIR_CHUNK = 1 << 21
_SAME_PARTY = 0.6  # name similarity at which two spellings are one counterparty
_DENSE = 8  # a bank row with more exact-amount candidates keeps only its counterparty's

_AMOUNT_LABELS = ["exact", "within 0.10", "within 1.00", "within tolerance"]
_AMOUNT_CUTS = (0, 10, 100)  # cents: the upper bounds of the first three levels
_M_AMOUNT_PRIOR = np.array([0.94, 0.02, 0.02, 0.02])  # before tolerance pairs are seen
_DESC_LABELS = ["very similar", "similar", "partly similar", "weakly similar", "different"]
_DESC_CUTS = (0.9, 0.75, 0.55, 0.35)
_REF_LABELS = ["same reference", "different reference"]
COMPARISONS = ("amount", "date", "description", "reference")


@dataclass
class _Side:
    name: str
    frame: pd.DataFrame
    ids: np.ndarray
    cents: np.ndarray
    day: np.ndarray
    part: np.ndarray
    names: pa.Array  # unique normalized counterparty names
    name_id: np.ndarray  # per row: index into names
    codes: np.ndarray  # per unique name: sorted bigram codes
    skel: np.ndarray  # per unique name: bigram codes of the consonant skeleton
    keys: list[np.ndarray] = field(default_factory=list)
    ref: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


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
        ``weight_reference``).
    unmatched_bank, unmatched_ledger : pandas.DataFrame
        The open rows with a ``reason``: ``possible duplicate``, ``amount
        mismatch``, ``timing difference``, ``missing in ledger`` / ``missing in
        bank``.
    rate : float
        Share of the bank amount (absolute cents) that is reconciled.
    model : FSModel
        The fitted match weights (``model.to_frame()`` shows them).
    params : dict
        The settings used, and facts found (e.g. a flipped sign convention).
    timings : dict
        Seconds spent per stage.
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
            f"<tr><th style='text-align:left'>{html.escape(k.replace('_', ' '))}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in s.items()
        )
        return (
            "<div class='nexus-reconcile'><h4>Reconciliation: "
            f"{self.rate:.1%} of the bank amount reconciled</h4>"
            f"<table>{cells}</table><h5>Unmatched by reason</h5>{self.reasons().to_html()}"
            f"<h5>First matches</h5>{head.to_html(index=False)}</div>"
        )

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"ReconcileResult(rate={s['rate']:.4f}, matched_pairs={s['matched_pairs']}, "
            f"unmatched_bank={s['unmatched_bank']}, unmatched_ledger={s['unmatched_ledger']})"
        )


def reconcile(
    bank: object,
    ledger: object,
    amount_tolerance: float = 5.0,
    date_window: int = 7,
    device: object = "auto",
    columns: Mapping[str, object] | None = None,
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
    amount_tolerance : float, default 5.0
        Largest amount difference, in currency units, accepted between a bank
        line and a ledger line of the same counterparty (card fees, FX
        rounding). Exact amounts never need it.
    date_window : int, default 7
        Largest posting lag in days, either way.
    device : {"auto", "cpu", "cuda"}
        Where the scoring runs.
    columns : mapping, optional
        Column names to use instead of the defaults, as
        ``{"amount": "Amt", ...}`` for both tables or
        ``{"bank": {...}, "ledger": {...}}``.

    Returns
    -------
    ReconcileResult

    Raises
    ------
    SchemaError
        When a table misses a column, has unparseable or non-finite amounts or
        dates, duplicate ids, no rows, or mixed currencies.

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
    tol = _check_number(amount_tolerance, "amount_tolerance")
    window = int(_check_number(date_window, "date_window"))
    if window != date_window:
        raise SchemaError("date_window must be a whole number of days, e.g. date_window=7")
    tol_cents = round(tol * 100)
    dev = resolve_device(device)
    bank_map, ledger_map = _split_columns(columns)

    b = _prepare(bank, "bank", BANK_OPTIONAL, bank_map)
    lg = _prepare(ledger, "ledger", LEDGER_OPTIONAL, ledger_map)
    _currencies(b, lg)
    flipped = _align_signs(b, lg)
    _counterparties(b, lg, dev)
    timings["prepare"] = time.perf_counter() - t0

    t = time.perf_counter()
    dmin = int(min(b.day.min(), lg.day.min())) - window - 1
    span_day = int(max(b.day.max(), lg.day.max())) - dmin + window + 2
    cmin = int(min(b.cents.min(), lg.cents.min())) - tol_cents - 1
    span_cents = int(max(b.cents.max(), lg.cents.max())) - cmin + tol_cents + 2
    span_part = int(max(b.part.max(), lg.part.max())) + 1
    if float(span_part) * span_cents * span_day >= 2**62:
        raise SchemaError(
            "the amounts and dates span too wide a range to index together; check for "
            "amounts in the wrong unit or dates far outside the statement period",
            column="amount",
        )
    kb = composite((b.part, span_part), (b.cents - cmin, span_cents), (b.day - dmin, span_day))
    kl = composite((lg.part, span_part), (lg.cents - cmin, span_cents), (lg.day - dmin, span_day))
    i1, j1 = range_join(kb, kl, -window, window)
    # common amounts (round sums, subscriptions) meet many rows: keep the counterparty's
    crowded = np.bincount(i1, minlength=len(b))[i1] > _DENSE
    keep = ~crowded | ((b.keys[0][i1] == lg.keys[0][j1]) & (b.keys[0][i1] >= 0))
    i1, j1 = i1[keep], j1[keep]
    timings["candidates"] = time.perf_counter() - t

    t = time.perf_counter()
    scorer = _Scorer(b, lg, dev, tol_cents, window)
    lv1, sim1 = scorer.levels(i1, j1)
    scorer.fit(lv1)
    w1 = scorer.weights(lv1, i1, j1)
    timings["scoring"] = time.perf_counter() - t

    t = time.perf_counter()
    tie1 = np.abs(b.day[i1] - lg.day[j1])
    pick1 = assign_one_to_one(i1, j1, w1.sum(1), tie=tie1)
    open_b = np.ones(len(b), bool)
    open_b[i1[pick1]] = False
    open_l = np.ones(len(lg), bool)
    open_l[j1[pick1]] = False
    timings["assignment"] = time.perf_counter() - t

    # exact subset sums next: an exact sum of several lines is stronger evidence
    # than one amount that is merely close
    t = time.perf_counter()
    batch, inst = [], []
    one_b, one_l = np.flatnonzero(open_b), np.flatnonzero(open_l)
    for _ in range(3):
        found = find_splits(
            one_b, np.flatnonzero(open_l), cents_one=b.cents, cents_many=lg.cents,
            key_one=b.keys, key_many=lg.keys, day_one=b.day, day_many=lg.day,
            before=window, after=2, device=dev, similarity=scorer.similarity,
        )
        _close(open_b, open_l, found, one_is_bank=True)
        batch.append(found)
        found_i = find_splits(
            one_l[open_l[one_l]], np.flatnonzero(open_b), cents_one=lg.cents,
            cents_many=b.cents, key_one=lg.keys, key_many=b.keys, day_one=lg.day,
            day_many=b.day, before=2, after=window, device=dev,
            similarity=lambda one, many: scorer.similarity(many, one),
        )
        _close(open_b, open_l, found_i, one_is_bank=False)
        inst.append(found_i)
        # rows taken this round change which candidates are closest: search again
        if len(found.one) + len(found_i.one) == 0:
            break
        one_b, one_l = np.flatnonzero(open_b), np.flatnonzero(open_l)
    batch, inst = Splits.concat(batch), Splits.concat(inst)
    timings["splits"] = time.perf_counter() - t

    # amounts within tolerance, same counterparty, among the rows still open
    t = time.perf_counter()
    i2, j2 = _tolerance_candidates(b, lg, open_b, open_l, tol_cents, window, dmin, span_day)
    lv2, sim2 = scorer.levels(i2, j2)
    scorer.fit_amount(lv2, int(pick1.sum()))
    w2 = scorer.weights(lv2, i2, j2)
    tie2 = np.abs(b.day[i2] - lg.day[j2])
    pick2 = assign_one_to_one(i2, j2, w2.sum(1), tie=tie2)
    open_b[i2[pick2]] = False
    open_l[j2[pick2]] = False
    w1 = scorer.weights(lv1, i1, j1)  # one weight table for both tiers
    timings["tolerance"] = time.perf_counter() - t

    t = time.perf_counter()
    i_all = np.concatenate([i1, i2])
    j_all = np.concatenate([j1, j2])
    w_all = np.concatenate([w1, w2])
    pick = np.concatenate([pick1, pick2])
    confidence = scorer.confidence(i_all, j_all, w_all.sum(1), pick)
    oi, oj = _keep_order(i_all, j_all, pick, b, lg)
    one = _one_to_one_frame(
        b, lg, oi[pick], oj[pick], confidence[pick], w_all[pick],
        np.concatenate([lv1, lv2])[pick], np.concatenate([sim1, sim2])[pick],
    )
    batch_frame = _split_frame(b, lg, batch, "batch", len(one), one_is_bank=True)
    inst_frame = _split_frame(
        b, lg, inst, "installment", len(one) + len(batch.one), one_is_bank=False
    )
    matches = pd.concat(
        [f for f in (one, batch_frame, inst_frame) if len(f)], ignore_index=True
    ) if len(one) + len(batch.one) + len(inst.one) else one
    timings["output"] = time.perf_counter() - t

    t = time.perf_counter()
    reason_b, reason_l = _reasons(b, lg, open_b, open_l, window, dmin, span_day)
    unmatched_bank = b.frame.loc[open_b].assign(reason=reason_b).reset_index(drop=True)
    unmatched_ledger = lg.frame.loc[open_l].assign(reason=reason_l).reset_index(drop=True)
    total = np.abs(b.cents).sum()
    rate = float(np.abs(b.cents[~open_b]).sum() / total) if total else 1.0
    timings["reasons"] = time.perf_counter() - t
    params = {
        "amount_tolerance": tol,
        "date_window": window,
        "device": str(dev),
        "bank_sign_flipped": flipped,
        "candidate_pairs": len(i_all),
        "em_iterations": scorer.model.n_iter,
    }
    log.info("reconciled %d bank and %d ledger rows in %.2fs", len(b), len(lg),
             time.perf_counter() - t0)
    return ReconcileResult(
        matches, unmatched_bank, unmatched_ledger, rate, scorer.model, params, timings,
        n_bank=len(b), n_ledger=len(lg),
    )


# ----------------------------------------------------------------------------- inputs


def _check_number(value: object, name: str) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(x) or x < 0:
        raise SchemaError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def _split_columns(columns: Mapping[str, object] | None) -> tuple[dict, dict]:
    if not columns:
        return {}, {}
    if set(columns) <= {"bank", "ledger"} and all(
        isinstance(v, Mapping) for v in columns.values()
    ):
        return dict(columns.get("bank", {})), dict(columns.get("ledger", {}))
    unknown = sorted(set(columns) - set(REQUIRED) - set(BANK_OPTIONAL) - set(LEDGER_OPTIONAL))
    if unknown:
        raise SchemaError(
            f"columns= names {unknown}, which are not columns reconcile uses; the keys must be "
            f"among {sorted(set(REQUIRED + BANK_OPTIONAL + LEDGER_OPTIONAL))}, the values your "
            "column names, e.g. columns={'amount': 'Amt'}"
        )
    bank_keys = set(REQUIRED) | set(BANK_OPTIONAL)
    ledger_keys = set(REQUIRED) | set(LEDGER_OPTIONAL)
    return (
        {k: v for k, v in columns.items() if k in bank_keys},
        {k: v for k, v in columns.items() if k in ledger_keys},
    )


def _prepare(data: object, name: str, optional: tuple, mapping: dict) -> _Side:
    df = to_pandas(data, name)
    df = select_columns(df, name=name, required=REQUIRED, optional=optional, columns=mapping)
    df = df.reset_index(drop=True)
    ids = df["transaction_id"].to_numpy()
    if not pd.Index(ids).is_unique or pd.isna(ids).any():
        check_unique(ids, table=name)  # names the offending rows
    cents = parse_cents(df["amount"], table=name, ids=ids)
    day = parse_days(df["date"], table=name, ids=ids)
    desc = _text_column(df["description"])
    source = desc
    if "vendor" in df:
        vendor = _text_column(df["vendor"])
        source = pc.if_else(pc.greater(pc.utf8_length(vendor), 0), vendor, desc)
    # text work runs once per distinct string, then is gathered back to the rows; numbers
    # (card suffixes, store and reference numbers) go first so that fewer strings differ
    raw = pc.replace_substring_regex(source, r"\S*\d\S*", " ").dictionary_encode()
    norm = normalize_name(raw.dictionary).dictionary_encode()
    names = norm.dictionary
    name_id = np.asarray(norm.indices).astype(np.int64)[np.asarray(raw.indices)]
    codes = qgram_codes(*encode_bytes(names, _NAME_WIDTH), q=2)
    skel = qgram_codes(*encode_bytes(skeleton(names), _NAME_WIDTH), q=2)
    ref = _reference_digits(desc, df["reference"] if "reference" in df else None)
    return _Side(name, df, ids, cents, day, np.zeros(len(df), np.int64), names, name_id, codes,
                 skel, ref=ref)


def _text_column(values: pd.Series) -> pa.Array:
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed types: text them
        arr = pa.array(values.astype("string"), from_pandas=True)
    return as_string_array(arr)


def _reference_digits(desc: pa.Array, reference: pd.Series | None) -> np.ndarray:
    """A reference as int64 digits: the ``reference`` column, or a long number in the text."""
    found = pc.struct_field(
        pc.extract_regex(
            pc.utf8_upper(desc), r"(?:REF|INV|INVOICE|NO)[^0-9]{0,4}(?P<d>[0-9]{5,18})"
        ),
        "d",
    )
    if reference is not None:
        ref = pc.cast(pa.array(reference, from_pandas=True), pa.string())
        digits = pc.replace_substring_regex(ref, r"[^0-9]", "")
        digits = pc.if_else(pc.greater(pc.utf8_length(digits), 0), digits, None)
        found = pc.coalesce(pc.utf8_slice_codeunits(digits, 0, 18), found)
    return pc.cast(pc.fill_null(found, "-1"), pa.int64()).to_numpy(zero_copy_only=False)


def _currencies(b: _Side, lg: _Side) -> None:
    have = [s for s in (b, lg) if "currency" in s.frame]
    if not have:
        return
    if len(have) == 1:
        side = have[0]
        cur = side.frame["currency"].astype(str).str.upper()
        if cur.nunique() > 1:
            other = lg if side is b else b
            raise SchemaError(
                f"{side.name}.currency holds several currencies {sorted(cur.unique())[:5]} but "
                f"{other.name} has no currency column; add one to {other.name} (or convert "
                "both to one currency)",
                table=other.name,
                column="currency",
            )
        return
    joint = pd.concat([b.frame["currency"], lg.frame["currency"]]).astype(str).str.upper()
    codes, _ = pd.factorize(joint)
    b.part = codes[: len(b)].astype(np.int64)
    lg.part = codes[len(b) :].astype(np.int64)


def _align_signs(b: _Side, lg: _Side) -> bool:
    """Flip the bank's sign when it books outflows negative and the ledger positive."""
    neg_b, neg_l = (b.cents < 0).mean(), (lg.cents < 0).mean()
    if (neg_b > 0.8 and neg_l < 0.2) or (neg_b < 0.2 and neg_l > 0.8):
        log.info("bank amounts have the opposite sign convention to the ledger: flipping them")
        b.cents = -b.cents
        return True
    return False


def _counterparties(b: _Side, lg: _Side, device: torch.device) -> None:
    """Resolve counterparties: one id for every spelling of one party's name.

    Distinct names of both sides are paired when they share a two-word key (the
    words, the first word and three letters of the second, their Soundex codes
    or consonant skeletons, with the bank's name starting after up to one noise
    word: this survives bank prefixes, truncation, typos and abbreviations) and
    their bigram similarity reaches ``_SAME_PARTY``; each bank spelling then
    joins its most similar ledger name, whose index is the counterparty id.
    Rows then block on that id (splits, tolerance matches, reasons), so a common
    word such as "MARKET" does not widen every block.
    """
    nb, nl = len(b.names), len(lg.names)
    wb = [_Words(tokens(b.names, k, min_len=1)) for k in range(3)]
    wl = [_Words(tokens(lg.names, k, min_len=1)) for k in range(2)]
    pairs = []
    # two-word keys are distinctive; the bank's name may start after a noise word
    for off in range(2):
        for kind in ("words", "prefix", "suffix", "soundex", "skeleton", "second",
                     "second skeleton"):
            pairs.append(_join_keys(_word_key(wb[off], wb[off + 1], kind),
                                    _word_key(wl[0], wl[1], kind), nl))
    wb = [w.text for w in wb]
    wl = [w.text for w in wl]
    # a lost or misplaced space ("ACMEBOOKS", "NOBL ECATERING"): the first letters
    # the ledger's key reaches two letters into its second word, so it stays distinctive
    squeezed = [pc.replace_substring(x.names, " ", "") for x in (b, lg)]
    reach = np.asarray(pc.utf8_length(wl[0])).astype(np.int64) + 2
    for n in range(5, 13):
        key_b, key_l = (pc.utf8_slice_codeunits(x, 0, n) for x in squeezed)
        key_b = pc.if_else(pc.greater_equal(pc.utf8_length(key_b), n), key_b, "")
        key_l = pc.if_else(pa.array(reach == n), key_l, "")
        pairs.append(_join_keys(key_b, key_l, nl))
    # one-word ledger names: the word alone
    single = np.asarray(pc.equal(wl[1], "")).astype(bool)
    one = pc.if_else(pa.array(single), wl[0], "")
    for off in range(2):
        pairs.append(_join_keys(wb[off], one, nl))
    code = np.unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.int64)
    pb, pl = code // max(nl, 1), code % max(nl, 1)
    sim = _name_similarity(b, lg, pb, pl, device)
    keep = sim >= _SAME_PARTY
    pb, pl, sim = pb[keep], pl[keep], sim[keep]
    # each bank spelling joins its most similar ledger name (no chaining across vendors)
    order = np.lexsort((pl, -sim, pb))
    first = order[np.r_[True, pb[order][1:] != pb[order][:-1]]] if len(order) else order
    label = np.r_[np.arange(nl, nl + nb), np.arange(nl)].astype(np.int64)
    label[pb[first]] = pl[first]
    empty = np.r_[b.codes[:, 0], lg.codes[:, 0]] == SENTINEL
    label[empty] = -1
    span = int(max(b.part.max(), lg.part.max())) + 1  # rows in different currencies never meet
    cp_b = label[:nb][b.name_id]
    cp_l = label[nb:][lg.name_id]
    b.keys = [np.where(cp_b >= 0, cp_b * span + b.part, -1)]
    lg.keys = [np.where(cp_l >= 0, cp_l * span + lg.part, -1)]
    # a second, looser family for splits and tolerance matches: the first word, which
    # still meets when a typo later in the name kept two spellings apart
    first = pa.concat_arrays([tokens(b.names, 0), tokens(lg.names, 0)]).dictionary_encode()
    word = first.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    word = np.where(np.asarray(pc.equal(first.dictionary, "")).astype(bool)[word], -1, word)
    wb_, wl_ = word[:nb][b.name_id], word[nb:][lg.name_id]
    b.keys.append(np.where(wb_ >= 0, wb_ * span + b.part, -1))
    lg.keys.append(np.where(wl_ >= 0, wl_ * span + lg.part, -1))


class _Words:
    """One token column with its Soundex codes and consonant skeletons, made once."""

    def __init__(self, text: pa.Array) -> None:
        self.text = text
        self._soundex: np.ndarray | None = None
        self._skeleton: pa.Array | None = None

    @property
    def soundex(self) -> np.ndarray:
        if self._soundex is None:
            self._soundex = soundex(self.text).astype(np.int64)
        return self._soundex

    @property
    def skeleton(self) -> pa.Array:
        if self._skeleton is None:
            self._skeleton = skeleton(self.text)
        return self._skeleton


def _word_key(first: _Words, second: _Words, kind: str) -> pa.Array | np.ndarray:
    """A two-word key: the words, the first word and the first or last 3 letters of the
    second, Soundex codes (an int key), skeletons, or the second word (or its skeleton)
    with the first word's initial."""
    if kind == "soundex":
        return np.where(first.soundex > 0, first.soundex * 100_000 + second.soundex, -1)
    a, c = first.text, second.text
    if kind == "prefix":
        c = pc.utf8_slice_codeunits(c, 0, 3)
    elif kind == "suffix":
        c = pc.utf8_slice_codeunits(c, -3, 2**31 - 1)
    elif kind == "skeleton":
        a, c = first.skeleton, second.skeleton
    elif kind == "second":
        a, c = c, pc.utf8_slice_codeunits(a, 0, 1)
    elif kind == "second skeleton":
        a, c = second.skeleton, pc.utf8_slice_codeunits(first.skeleton, 0, 1)
    return pc.if_else(pc.equal(a, ""), "", pc.binary_join_element_wise(a, c, " "))


def _join_keys(key_b, key_l, nl: int) -> np.ndarray:
    """Codes ``b * nl + l`` of name pairs whose keys are equal (``""`` or -1: no key)."""
    if isinstance(key_b, np.ndarray):
        cb, cl = key_b, key_l
    else:
        both = pa.concat_arrays([key_b, key_l]).dictionary_encode()
        code = both.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        empty = np.asarray(pc.equal(both.dictionary, "")).astype(bool)[code]
        code = np.where(empty, -1, code)
        cb, cl = code[: len(key_b)], code[len(key_b) :]
    ob, ol = np.flatnonzero(cb >= 0), np.flatnonzero(cl >= 0)
    i, j = range_join(cb[ob], cl[ol], 0, 0)
    return ob[i] * nl + ol[j]


def _name_similarity(
    b: _Side, lg: _Side, ib: np.ndarray, jl: np.ndarray, device: torch.device
) -> np.ndarray:
    """Similarity in [0, 1] of bank names ``ib`` and ledger names ``jl`` (name indices).

    The mean of the Dice and overlap coefficients of character bigrams, on the
    names or on their consonant skeletons, whichever agrees more.
    """
    out = np.empty(len(ib), dtype=np.float32)
    t = [torch.as_tensor(x, device=device) for x in (b.codes, lg.codes, b.skel, lg.skel)]
    n = [(x != SENTINEL).sum(1, dtype=torch.int32) for x in t]  # distinct bigrams per name
    for s in range(0, len(ib), _PAIR_CHUNK):
        ii = torch.as_tensor(ib[s : s + _PAIR_CHUNK], device=device)
        jj = torch.as_tensor(jl[s : s + _PAIR_CHUNK], device=device)
        dice, overlap = qgram_similarity(t[0][ii], t[1][jj], n[0][ii], n[1][jj])
        sk_dice, sk_overlap = qgram_similarity(t[2][ii], t[3][jj], n[2][ii], n[3][jj])
        sim = torch.maximum(dice + overlap, sk_dice + sk_overlap) * 0.5
        out[s : s + _PAIR_CHUNK] = sim.cpu().numpy()
    return out


def _keep_order(i, j, pick, b: _Side, lg: _Side) -> tuple[np.ndarray, np.ndarray]:
    """Among interchangeable chosen pairs, pair the rows in their original order.

    Chosen pairs whose bank rows are alike (amount, date, name, reference) and
    whose ledger rows are alike score the same whichever way they are paired;
    the assignment then pairs the first bank row with the first ledger row.
    """
    # only rows with a rival candidate can be swapped
    rival = (np.bincount(i, minlength=len(b))[i] > 1) | (np.bincount(j, minlength=len(lg))[j] > 1)
    sel = np.flatnonzero(pick & rival)
    bi, lj = i[sel], j[sel]
    keys = (lg.ref[lj], lg.name_id[lj], lg.day[lj], lg.cents[lj],
            b.ref[bi], b.name_id[bi], b.day[bi], b.cents[bi])
    order = np.lexsort(keys)
    stacked = np.stack([k[order] for k in keys])
    start = np.r_[True, (stacked[:, 1:] != stacked[:, :-1]).any(0)]
    group = np.empty(len(sel), np.int64)
    group[order] = np.cumsum(start) - 1
    by_b = np.lexsort((bi, group))
    by_l = np.lexsort((lj, group))
    i, j = i.copy(), j.copy()
    i[sel[by_b]] = bi[by_b]
    j[sel[by_b]] = lj[by_l]
    return i, j


# ----------------------------------------------------------------------------- scoring


class _Scorer:
    """Comparison levels, EM-fitted m, population u and per-pair weights (torch)."""

    def __init__(
        self, b: _Side, lg: _Side, device: torch.device, tol_cents: int, window: int
    ) -> None:
        self.b, self.lg, self.device, self.tol_cents = b, lg, device, tol_cents
        self.window = window
        self.sorted_l = np.sort(lg.cents)
        key = lg.keys[0]
        counts = np.bincount(key[key >= 0], minlength=int(key.max()) + 1 if len(key) else 0)
        self.name_share = np.where(key >= 0, counts[np.maximum(key, 0)], 0) / len(lg)
        self.model: FSModel | None = None
        self._counts_b: np.ndarray | None = None
        self.m_amount = _M_AMOUNT_PRIOR.copy()
        self.date_labels = [_lag_label(lag) for lag in _lag_order(window)]
        self.u_fixed = [None, self._date_u(), self._description_u(), self._reference_u()]

    # levels -----------------------------------------------------------------
    def similarity(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Name similarity of bank rows ``i`` and ledger rows ``j``, once per name pair."""
        nl = len(self.lg.names)
        back, uniq = pd.factorize(self.b.name_id[i] * nl + self.lg.name_id[j])
        return _name_similarity(self.b, self.lg, uniq // nl, uniq % nl, self.device)[back]

    def levels(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, lg = self.b, self.lg
        diff = np.abs(b.cents[i] - lg.cents[j])
        amount = np.searchsorted(np.array(_AMOUNT_CUTS), diff, side="left")
        date = _date_level(b.day[i] - lg.day[j])
        sim = self.similarity(i, j)
        empty = (b.codes[b.name_id[i], 0] == SENTINEL) | (lg.codes[lg.name_id[j], 0] == SENTINEL)
        desc = np.where(empty, -1, _desc_level(sim))
        rb, rl = b.ref[i], lg.ref[j]
        ref = np.where((rb < 0) | (rl < 0), -1, np.where(rb == rl, 0, 1))
        return np.stack([amount, date, desc, ref], 1).astype(np.int64), sim

    # m and u ----------------------------------------------------------------
    def fit(self, lv: np.ndarray) -> FSModel:
        """EM on the exact-amount candidates: m for date, description, reference."""
        n_date = 2 * self.window + 1
        em = fit_em(
            lv[:, 1:], [n_date, 5, 2], names=list(COMPARISONS[1:]),
            labels=[self.date_labels, _DESC_LABELS, _REF_LABELS],
        )
        self.em = em
        self.n_exact = em.lam * len(lv)
        self._set_model()
        return self.model

    def fit_amount(self, lv2: np.ndarray, n_exact_matched: int) -> None:
        """EM on tolerance candidates with date/description/reference m held fixed."""
        if len(lv2) == 0:
            return
        em2 = fit_em(
            lv2, [4, 2 * self.window + 1, 5, 2], names=list(COMPARISONS),
            labels=[_AMOUNT_LABELS, self.date_labels, _DESC_LABELS, _REF_LABELS],
            fixed_m={1: self.em.m[0], 2: self.em.m[1], 3: self.em.m[2]}, lam=0.5,
        )
        if em2.lam < 0.02:  # EM gave up the match class: keep the prior amount weights
            log.info("tolerance pairs too few or too ambiguous to learn from; prior weights used")
            return
        found = np.r_[n_exact_matched, em2.lam * len(lv2) * em2.m[0][1:]]
        found = found + 20.0 * _M_AMOUNT_PRIOR  # the same pseudo-counts as EM's
        self.m_amount = np.maximum(found / found.sum(), 1e-4)
        self.m_amount /= self.m_amount.sum()
        self._set_model()

    def _set_model(self) -> None:
        em = self.em
        u_amount = self._amount_u_mean()
        self.model = FSModel(
            list(COMPARISONS),
            [_AMOUNT_LABELS, self.date_labels, _DESC_LABELS, _REF_LABELS],
            [self.m_amount, em.m[0], em.m[1], em.m[2]],
            [u_amount, *self.u_fixed[1:]],
            lam=em.lam,
            n_iter=em.n_iter,
        )

    def _amount_counts(self, cents: np.ndarray) -> np.ndarray:
        """Per bank amount: ledger rows in each amount level (exact, 10c, 1.00, tolerance)."""
        s = self.sorted_l
        bounds = [*_AMOUNT_CUTS, max(self.tol_cents, _AMOUNT_CUTS[-1])]
        within = np.stack(
            [np.searchsorted(s, cents + d, "right") - np.searchsorted(s, cents - d, "left")
             for d in bounds], 1,
        ).astype(np.float64)
        return np.diff(within, axis=1, prepend=0.0)

    def _amount_u_mean(self) -> np.ndarray:
        sample = self.b.cents[:: max(1, len(self.b) // 50_000)]
        counts = self._amount_counts(sample).mean(0) / len(self.lg)
        return np.maximum(counts, 1.0 / (len(self.lg) * max(len(self.b), 1)))

    def _date_u(self) -> np.ndarray:
        b, lg = self.b.day, self.lg.day
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

    # weights ----------------------------------------------------------------
    def weights(self, lv: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Bits of evidence per pair: amount, date, description, reference, prior."""
        model = self.model
        w = np.zeros((len(lv), 5))
        if self._counts_b is None:  # per bank row, once (sorted look-ups are cache friendly)
            order = np.argsort(self.b.cents, kind="stable")
            counts = np.empty((len(order), len(_AMOUNT_LABELS)))
            counts[order] = self._amount_counts(self.b.cents[order])
            self._counts_b = counts / len(self.lg)
        counts = self._counts_b[i]
        u_amt = np.maximum(
            counts[np.arange(len(lv)), lv[:, 0]], 1.0 / (len(self.lg) * len(self.b))
        )
        w[:, 0] = np.log2(np.maximum(self.m_amount[lv[:, 0]], 1e-9) / u_amt)
        tables = model.weights()
        for c in (1, 2, 3):
            seen = lv[:, c] >= 0
            w[seen, c] = tables[c][lv[seen, c]]
        # term frequency: agreeing on a common counterparty's name is weaker evidence
        share = self.name_share[j]
        tf = (lv[:, 2] >= 0) & (lv[:, 2] <= 1) & (share > 0)
        m_desc = model.m[2]
        u_tf = np.maximum(share[tf], 1.0 / len(self.lg))
        w[tf, 2] = np.log2(np.maximum(m_desc[lv[tf, 2]], 1e-9) / u_tf)
        matched = np.clip(self.expected_matches() / len(self.b), 1e-3, 1 - 1e-3)
        w[:, 4] = np.log2(matched / (1 - matched) / len(self.lg))
        return w

    def expected_matches(self) -> float:
        return max(self.n_exact / max(self.m_amount[0], 1e-3), 1.0)

    def confidence(
        self, i: np.ndarray, j: np.ndarray, bits: np.ndarray, pick: np.ndarray
    ) -> np.ndarray:
        """P(pair is right) allowing for the competing candidates of both rows.

        A bank row's rivals are its other candidates, each weighed by its odds;
        a rival that the assignment gave to another bank row with more evidence
        is explained there and does not compete (and the same for ledger rows).
        """
        if len(i) == 0:
            return np.zeros(0)
        bits = np.clip(bits, -60, 60)
        nb, nl = len(self.b), len(self.lg)
        owner_l = np.full(nl, -1)
        owner_l[j[pick]] = i[pick]
        best_l = np.full(nl, -np.inf)
        best_l[j[pick]] = bits[pick]
        owner_b = np.full(nb, -1)
        owner_b[i[pick]] = j[pick]
        best_b = np.full(nb, -np.inf)
        best_b[i[pick]] = bits[pick]
        free_for_row = (owner_l[j] < 0) | (owner_l[j] == i) | (best_l[j] < bits)
        free_for_col = (owner_b[i] < 0) | (owner_b[i] == j) | (best_b[i] < bits)
        odds = np.exp2(bits)
        row = np.bincount(i, weights=odds * free_for_row, minlength=nb)
        col_prior = np.log2(nl / nb)
        odds_c = np.exp2(np.clip(bits + col_prior, -60, 60))
        col = np.bincount(j, weights=odds_c * free_for_col, minlength=nl)
        p_row = odds / (1.0 + row[i])
        p_col = odds_c / (1.0 + col[j])
        return np.minimum(p_row, p_col)


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


def _desc_level(sim: np.ndarray) -> np.ndarray:
    return np.digitize(-sim, -np.array(_DESC_CUTS), right=True).astype(np.int64)


def _tolerance_candidates(b, lg, open_b, open_l, tol_cents, window, dmin, span_day):
    """Open pairs of one counterparty within the date window and amount tolerance."""
    if tol_cents <= 0 or not open_b.any() or not open_l.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ob, ol = np.flatnonzero(open_b), np.flatnonzero(open_l)
    cmin = int(min(b.cents[ob].min(), lg.cents[ol].min())) - tol_cents - 1
    span_c = int(max(b.cents[ob].max(), lg.cents[ol].max())) - cmin + tol_cents + 2
    pairs = []
    for kb_all, kl_all in zip(b.keys, lg.keys):
        kb, kl = kb_all[ob], kl_all[ol]
        sb, sl = kb >= 0, kl >= 0
        if not sb.any() or not sl.any():
            continue
        span_k = int(max(kb.max(), kl.max())) + 1
        span_p = int(max(b.part.max(), lg.part.max())) + 1
        key_l = composite(
            (b.part[:0].dtype.type(0) + lg.part[ol][sl], span_p), (kl[sl], span_k),
            (lg.day[ol][sl] - dmin, span_day), (lg.cents[ol][sl] - cmin, span_c),
        )
        order = np.argsort(key_l, kind="stable")
        for lag in range(-window, window + 1):
            key_b = composite(
                (b.part[ob][sb], span_p), (kb[sb], span_k),
                (b.day[ob][sb] - lag - dmin, span_day), (b.cents[ob][sb] - cmin, span_c),
            )
            i, j = range_join(key_b, key_l, -tol_cents, tol_cents, right_order=order)
            pairs.append(ob[sb][i].astype(np.int64) * (len(lg) + 1) + ol[sl][j])
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = np.unique(np.concatenate(pairs))
    i, j = code // (len(lg) + 1), code % (len(lg) + 1)
    keep = b.cents[i] != lg.cents[j]
    return i[keep], j[keep]


# ----------------------------------------------------------------------------- outputs


def _fmt(x: np.ndarray, digits: int = 1, sign: bool = True) -> pa.Array:
    arr = pa.array(np.round(x.astype(np.float64), digits))
    text = pc.cast(arr, pa.string())
    if sign:
        text = pc.if_else(pc.greater_equal(arr, 0), pc.binary_join_element_wise("+", text, ""),
                          text)
    return text


def _money(cents: np.ndarray) -> pa.Array:
    """Integer cents as text with two decimals: -1205 -> "-12.05"."""
    units = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    rest = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, units, ".", rest, "")


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _one_to_one_frame(b, lg, i, j, conf, w, lv, sim) -> pd.DataFrame:
    lag = b.day[i] - lg.day[j]
    explanation = _explain(lv, lag, sim, w)
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
        }
    )


def _explain(lv: np.ndarray, lag: np.ndarray, sim: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One sentence per pair naming each piece of evidence and its weight in bits.

    Pairs that read the same share one formatted string: the parts are packed
    into an int64 key (every part is small once rounded) and formatted once per
    distinct key.
    """
    tenth = np.clip(np.rint(w * 10), -1000, 1000).astype(np.int64)
    total = np.clip(np.rint(w.sum(1) * 10), -4000, 4000).astype(np.int64)
    parts = [  # (values, bits)
        (lv[:, 0], 2), (tenth[:, 0] + 1024, 11), (np.clip(lag, -15, 15) + 16, 5),
        (np.rint(sim * 100).astype(np.int64), 7), (tenth[:, 1] + 1024, 11),
        (lv[:, 3] + 1, 2), (tenth[:, 2] + 1024, 11), (total + 4096, 13),
    ]
    key = np.zeros(len(lv), dtype=np.int64)
    for values, bits in parts:
        key = (key << bits) | values.astype(np.int64)
    back, uniq = pd.factorize(key)  # codes numbered in order of first appearance
    rep = np.empty(len(uniq), dtype=np.int64)
    rep[back[::-1]] = np.arange(len(key))[::-1]  # the first row of each reading
    lvu, wu, lagu, simu = lv[rep], w[rep], lag[rep], sim[rep]
    amount_label = np.array(_AMOUNT_LABELS, dtype=object)[lvu[:, 0]]
    ref_label = np.where(lvu[:, 3] < 0, "no reference", np.where(lvu[:, 3] == 0, "same",
                                                                 "differs"))
    text = _join(
        pa.array(amount_label.astype(str)), " amount (", _fmt(wu[:, 0]), ") · date lag ",
        pc.cast(pa.array(lagu), pa.string()), "d (", _fmt(wu[:, 1]), ") · description ",
        _fmt(simu, 2, sign=False), " (", _fmt(wu[:, 2]), ") · reference ",
        pa.array(ref_label.astype(str)), " (", _fmt(wu[:, 3]), ") · prior (", _fmt(wu[:, 4]),
        ") = ", _fmt(wu.sum(1)), " bits",
    ).to_numpy(zero_copy_only=False)
    return text[back]


def _close(open_b, open_l, s: Splits, *, one_is_bank: bool) -> None:
    many = s.many[s.many >= 0]
    if one_is_bank:
        open_b[s.one] = False
        open_l[many] = False
    else:
        open_l[s.one] = False
        open_b[many] = False


def _split_frame(b, lg, s: Splits, kind: str, first_group: int, *, one_is_bank: bool):
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
        }
    )


def _reasons(b, lg, open_b, open_l, window, dmin, span_day):
    """Why each open row stayed open, most specific first."""
    ob, ol = np.flatnonzero(open_b), np.flatnonzero(open_l)
    reason_b = np.where(
        b.day[ob] - b.day.min() < window, "timing difference", "missing in ledger"
    ).astype(object)
    reason_l = np.where(
        lg.day[ol] > b.day.max() - window, "timing difference", "missing in bank"
    ).astype(object)
    # amount mismatch: an open row of the same counterparty within the window on the other side
    mis_b = np.zeros(len(ob), bool)
    mis_l = np.zeros(len(ol), bool)
    key = b.keys[0]
    keyl = lg.keys[0]
    sb, sl = key[ob] >= 0, keyl[ol] >= 0
    if sb.any() and sl.any():
        span_k = int(max(key.max(), keyl.max())) + 1
        i, j = range_join(
            composite((key[ob][sb], span_k), (b.day[ob][sb] - dmin, span_day)),
            composite((keyl[ol][sl], span_k), (lg.day[ol][sl] - dmin, span_day)),
            -window, window,
        )
        mis_b[np.flatnonzero(sb)[i]] = True
        mis_l[np.flatnonzero(sl)[j]] = True
    reason_b[mis_b] = "amount mismatch"
    reason_l[mis_l] = "amount mismatch"
    # possible duplicate: another row on the same side, same amount and counterparty, days apart
    reason_b[_twins(b, ob)] = "possible duplicate"
    reason_l[_twins(lg, ol)] = "possible duplicate"
    return reason_b, reason_l


def _twins(side: _Side, rows: np.ndarray, days: int = 3) -> np.ndarray:
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
