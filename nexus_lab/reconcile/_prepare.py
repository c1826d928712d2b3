"""Inputs of the engine: checked columns, normalized names and resolved counterparties."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    CURRENCY_SIGNS,
    check_unique,
    find_column,
    read_dates,
    read_debit_credit,
    read_money,
    select_columns,
    to_pandas,
)
from nexus_lab.reconcile._blocking import expand_ranges, range_join, unique_ints
from nexus_lab.text import (
    SENTINEL,
    as_string_array,
    drop_numbers,
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
BANK_OPTIONAL = ("account", "reference", "currency", "debit", "credit")
LEDGER_OPTIONAL = ("vendor", "category", "account", "reference", "currency", "debit", "credit",
                   "channel")

_NAME_WIDTH = 24  # bytes of a normalized counterparty name that are compared
_PAIR_CHUNK = 1 << 16
_SAME_PARTY = 0.6  # name similarity at which two spellings are one counterparty


@dataclass
class Side:
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
    nums: np.ndarray | None = None  # per row: up to _NUMS numbers of its text, -1 padded
    # (bank side only) the day the text says the payment was made (a card's authorization
    # date, ``PURCHASE AUTHORIZED ON 03/14``), else the posting day: dates are compared on it
    event: np.ndarray | None = None
    _alike: np.ndarray | None = field(default=None, repr=False)
    # (bank side only) name pairs already compared: sorted codes b * n_ledger_names + l, sims
    known_pairs: tuple[np.ndarray, np.ndarray] | None = None
    # how the user's file wrote it: decimal mark, currency, date order (reported)
    written: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cents)

    def frameless(self) -> Side:
        """This side as a shard reads it: its arrays, without its frame and ids (text,
        slow to ship)."""
        return replace(self, frame=None, ids=None, _alike=None)

    def names_only(self) -> Side:
        """This side as a name comparison reads it: each row's name and the names."""
        return replace(self, frame=None, ids=None, cents=None, day=None, part=None, keys=[],
                       ref=None, nums=None, event=None, _alike=None, known_pairs=None)

    def alike(self) -> np.ndarray:
        """Per row, a class shared by the rows that read the same to the scorer (amount,
        day compared, counterparty, reference): pairs of such rows are interchangeable."""
        if self._alike is None:
            day = self.day if self.event is None else self.event
            code = pd.factorize(self.cents)[0].astype(np.int64)
            for col in (day, self.name_id, self.ref):  # one column at a time, no overflow
                values, n = pd.factorize(col)
                code = pd.factorize(code * len(n) + values)[0].astype(np.int64)
            self._alike = code
        return self._alike

def check_number(value: object, name: str) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(x) or x < 0:
        raise SchemaError(f"{name} must be a finite number >= 0, got {value!r}")
    return x

@dataclass(frozen=True)
class Tolerance:
    """The largest amount difference accepted: ``cents`` absolute, ``share`` relative
    (of the bank amount); a pair passes when it is within either."""

    cents: int = 0
    share: float = 0.0

    def of(self, cents: np.ndarray) -> np.ndarray:
        """The tolerance, in cents, of each bank amount."""
        rel = np.rint(self.share * np.abs(np.asarray(cents, dtype=np.float64)))
        return np.maximum(self.cents, rel).astype(np.int64)

    def __str__(self) -> str:
        parts = [f"{self.cents / 100:g}"] if self.cents or not self.share else []
        return " or ".join(parts + ([f"{self.share * 100:g}%"] if self.share else []))


def check_tolerance(value: object) -> Tolerance:
    """``amount_tolerance`` as given: an amount (``5``), a share (``"1%"``), or both
    (``(5, "1%")`` or ``"5,1%"``: within either).

    Examples
    --------
    >>> check_tolerance(5), check_tolerance("1%")
    (Tolerance(cents=500, share=0.0), Tolerance(cents=0, share=0.01))
    >>> check_tolerance("2.5, 0.5%")
    Tolerance(cents=250, share=0.005)
    >>> str(check_tolerance((5, "1%")))
    '5 or 1%'
    """
    if isinstance(value, str):
        parts: list[object] = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        parts = [value]
    if not parts or len(parts) > 2:
        raise SchemaError(f"amount_tolerance={value!r}: give an amount (5), a share of the "
                          "amount ('1%'), or both (5, '1%')")
    cents, share = 0, 0.0
    for part in parts:
        text = part.strip() if isinstance(part, str) else None
        if text is not None and text.endswith("%"):
            share = check_number(text[:-1].strip(), "amount_tolerance's share") / 100
            if share >= 1:
                raise SchemaError(f"amount_tolerance={value!r}: a share must be below 100%")
        else:
            cents = round(check_number(text if text is not None else part,
                                       "amount_tolerance") * 100)
    return Tolerance(cents, share)


def per_table(name: str, value: object, allowed: tuple, default: object) -> dict:
    """A reading setting for both tables, or one per table (``{"bank": ..., "ledger": ...}``).

    Examples
    --------
    >>> per_table("dayfirst", {"bank": True}, (None, True, False), None)
    {'bank': True, 'ledger': None}
    """
    given = dict(value) if isinstance(value, Mapping) else {"bank": value, "ledger": value}
    unknown = sorted(set(given) - {"bank", "ledger"})
    if unknown:
        raise SchemaError(f"{name}= names {unknown}; give one setting, or one per table as "
                          f"{name}={{'bank': ..., 'ledger': ...}}")
    out = {side: given.get(side, default) for side in ("bank", "ledger")}
    for side, v in out.items():
        if not any(v is a or (isinstance(a, str) and v == a) for a in allowed):
            raise SchemaError(f"{name}={v!r} for {side}: give one of {list(allowed)}")
    return out


def split_columns(columns: Mapping[str, object] | None) -> tuple[dict, dict]:
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

def prepare_side(
    data: FrameLike, name: str, optional: tuple, mapping: dict, pool: Executor | None = None,
    *, decimal: str = "auto", dayfirst: bool | None = None,
) -> Side:
    """Checked columns, normalized counterparty names and references of one table.

    With ``pool``, the references and numbers are read in another of its threads while the
    names are normalized here (give it a spare worker for that: this call waits).
    """
    df = to_pandas(data, name)
    cols = [str(c) for c in df.columns]
    have = {c for c in ("debit", "credit") if mapping.get(c) in cols or find_column(cols, c)}
    two_columns = have == {"debit", "credit"}  # then the amount column may be absent
    required = tuple(c for c in REQUIRED if c != "amount" or not two_columns)
    df = select_columns(df, name=name, required=required, optional=optional, columns=mapping)
    df.index = pd.RangeIndex(len(df))  # select_columns made a new frame: no copy needed
    ids = df["transaction_id"].to_numpy()
    if not _ids_unique(ids):
        check_unique(ids, table=name)  # names the offending rows
    if two_columns:
        cents, written = read_debit_credit(df, table=name, ids=ids, decimal=decimal)
    else:
        cents, written = read_money(df["amount"], table=name, ids=ids, decimal=decimal)
    stamps, written["dates"] = read_dates(df["date"], table=name, ids=ids, dayfirst=dayfirst)
    day = stamps.astype("datetime64[D]").astype(np.int64)
    desc = as_string_array(df["description"])
    ref_column = df["reference"] if "reference" in df else None
    ref = pool.submit(_references, desc, ref_column) if pool is not None else None
    source = desc
    if "vendor" in df:
        vendor = as_string_array(df["vendor"])
        source = pc.if_else(pc.greater(pc.utf8_length(vendor), 0), vendor, desc)
    # text work runs once per distinct string, then is gathered back to the rows; numbers
    # (card suffixes, store and reference numbers) go first so that fewer strings differ
    raw = source.dictionary_encode()
    bare = drop_numbers(raw.dictionary).dictionary_encode()
    norm = normalize_name(bare.dictionary).dictionary_encode()
    names = norm.dictionary
    name_id = np.asarray(norm.indices).astype(np.int64)[
        np.asarray(bare.indices).astype(np.int64)[np.asarray(raw.indices)]
    ]
    codes = qgram_codes(*encode_bytes(names, _NAME_WIDTH), q=2)
    skel = qgram_codes(*encode_bytes(skeleton(names), _NAME_WIDTH), q=2)
    ref, nums = ref.result() if ref is not None else _references(desc, ref_column)
    event = text_dates(desc, day) if name == "bank" else day
    return Side(name, df, ids, cents, day, np.zeros(len(df), np.int64), names, name_id, codes,
                 skel, ref=ref, nums=nums, event=event, written=written)

_COMMON_WORD = 20  # a word next to this many different words names no one party
_ONE_SIDED = 0.05  # ... when the other table's names hold it at most this often, relatively
_MAX_SPAN = 6  # the longest name, in words, looked for inside another


def _words(names: pa.Array):
    tok = pc.split_pattern(names, " ")
    length = np.asarray(pc.list_value_length(tok)).astype(np.int64)
    return tok, length, pc.list_flatten(tok)


def noise_words(names: pa.Array, other: pa.Array) -> pa.Array:
    """Words of ``names`` that name no party: common on this side, rare on the other.

    A memo the bookkeeper adds (``REPAIRS``, ``LUNCH W CLIENT``) or a bank's prefix and
    city (``KARTENZAHLUNG``, ``KOELN``) stands next to many different words in one
    table (at least ``_COMMON_WORD``) and is nearly absent from the other (in at most
    ``_ONE_SIDED`` as many of its names). The words of a party's name are on both sides.
    A common single letter (``W`` of ``LUNCH W CLIENT``) counts whatever the other side.

    Examples
    --------
    >>> ledger = pa.array([f"REPAIRS W{i} CO" for i in range(25)])
    >>> bank = pa.array([f"W{i} CO" for i in range(25)])
    >>> noise_words(ledger, bank).to_pylist()
    ['REPAIRS']
    """
    _, length, flat = _words(names)
    enc = flat.dictionary_encode()
    word = np.asarray(enc.indices).astype(np.int64)
    nw = len(enc.dictionary)
    if nw == 0:
        return pa.array([], pa.string())
    parent = np.repeat(np.arange(len(names)), length)
    same = parent[1:] == parent[:-1]
    a, b = word[:-1][same], word[1:][same]
    pairs = unique_ints(np.r_[a * nw + b, b * nw + a])
    common = np.bincount(pairs // nw, minlength=nw) >= _COMMON_WORD
    here = np.bincount(unique_ints(parent * nw + word) % nw, minlength=nw)
    _, _, other_flat = _words(other)
    there_words, there_counts = np.unique(
        np.asarray(pc.fill_null(pc.index_in(other_flat, enc.dictionary), -1)),
        return_counts=True)
    there = np.zeros(nw, np.int64)
    known = there_words >= 0
    there[there_words[known]] = there_counts[known]
    letter = np.asarray(pc.utf8_length(enc.dictionary)).astype(np.int64) == 1
    return pc.filter(enc.dictionary,
                     pa.array(common & ((there <= _ONE_SIDED * here) | letter)))


def canonical_names(names: pa.Array, noise: pa.Array) -> np.ndarray:
    """For each name, the name it is with its ``noise`` words left out.

    Books write one party many ways: ``"Repairs (Corner Catering)"``, ``"Corner
    Catering - deposit"``, a bank's ``"KARTENZAHLUNG KIMS BOOKS KOELN"``. A name that
    contains another name of the same table, word for word, where every word left out
    is a noise word (:func:`noise_words`) or a single letter, stands for that shorter
    name. The shorter
    name has at least two words; the longest one contained wins.

    Returns
    -------
    numpy.ndarray of int64
        Per name, the index of the name it stands for (itself when none).

    Examples
    --------
    >>> names = pa.array(["CORNER CATERING", "REPAIRS CORNER CATERING", "BLUE PET SUPPLY",
    ...                   "PET SUPPLY"])
    >>> canonical_names(names, pa.array(["REPAIRS"])).tolist()
    [0, 0, 2, 3]
    """
    n = len(names)
    out = np.arange(n, dtype=np.int64)
    if n == 0:
        return out
    tok, length, flat = _words(names)
    # noise words, and single letters (the W of LUNCH W CLIENT, an initial) name no one
    quiet = np.asarray(pc.is_in(flat, noise)).astype(bool) | (
        np.asarray(pc.utf8_length(flat)).astype(np.int64) == 1)
    starts = np.r_[0, np.cumsum(length)[:-1]]
    # a prefix count of the words that are not noise: a slice leaves out only noise words
    # when the count is the same before its start and after its end as at the name's ends
    loud = np.r_[0, np.cumsum(~quiet)]
    best = np.zeros(n, np.int64)  # words of the longest name found inside
    for span in range(2, _MAX_SPAN + 1):
        for first in range(0, int(length.max()) - span + 1):
            rows = np.flatnonzero((length >= span + first) & (length > span) & (best < span))
            if len(rows) == 0:
                continue
            lo, hi = starts[rows] + first, starts[rows] + first + span
            end = starts[rows] + length[rows]
            rows = rows[(loud[lo] - loud[starts[rows]]) + (loud[end] - loud[hi]) == 0]
            if len(rows) == 0:
                continue
            inner = pc.binary_join(pc.list_slice(pc.take(tok, pa.array(rows)), first,
                                                 first + span), " ")
            hit = np.asarray(pc.fill_null(pc.index_in(inner, names), -1)).astype(np.int64)
            found = hit >= 0
            out[rows[found]] = hit[found]
            best[rows[found]] = span
    for _ in range(_MAX_SPAN):  # a shorter name may itself stand for a shorter one still
        out = out[out]
    return out


def _ids_unique(ids: np.ndarray) -> bool:
    """True when no id is missing or repeated (hashing in Arrow when the ids are text)."""
    try:
        arr = pa.array(ids, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return bool(pd.Index(ids).is_unique and not pd.isna(ids).any())
    return arr.null_count == 0 and len(pc.unique(arr)) == len(arr)


def _references(desc: pa.Array, reference: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    """The reference of each row and the other numbers of its text."""
    ref = _reference_digits(desc, reference)
    return ref, text_numbers(desc, ref)


_NUMS = 8  # numbers kept per row's text (the comparison of a pair weighs the first 4)
_NUM_DIGITS = (3, 18)  # a number of fewer digits is a day, a state code or cents


def text_numbers(desc: pa.Array, ref: np.ndarray | None = None) -> np.ndarray:
    """The numbers a row's text carries (card, cheque, store, invoice, authorization
    numbers): its distinct runs of 3 to 18 digits as int64, smallest first, at most
    ``_NUMS`` of them, -1 padded.
    The row's own reference is left out (the reference comparison weighs it).

    Examples
    --------
    >>> text_numbers(pa.array(["PILOT #9713 IN CARD 4022", "Pilot card 4022 12.50", ""]))
    array([[4022, 9713,   -1,   -1,   -1,   -1,   -1,   -1],
           [4022,   -1,   -1,   -1,   -1,   -1,   -1,   -1],
           [  -1,   -1,   -1,   -1,   -1,   -1,   -1,   -1]])
    """
    out = np.full((len(desc), _NUMS), -1, np.int64)
    if len(desc) == 0:
        return out
    enc = desc.dictionary_encode()  # each distinct text once
    runs = pc.split_pattern_regex(enc.dictionary, r"[^0-9]+")
    length = np.asarray(pc.list_value_length(runs)).astype(np.int64)
    flat = pc.list_flatten(runs)
    parent = np.repeat(np.arange(len(enc.dictionary)), length)
    size = np.asarray(pc.utf8_length(flat)).astype(np.int64)
    keep = (size >= _NUM_DIGITS[0]) & (size <= _NUM_DIGITS[1])
    if not keep.any():
        return out
    value = pc.cast(pc.filter(flat, pa.array(keep)), pa.int64()).to_numpy()
    parent = parent[keep]
    row = np.asarray(enc.indices).astype(np.int64)
    # distinct texts -> rows: each row's numbers, its reference left out
    starts = np.searchsorted(parent, np.arange(len(enc.dictionary)))
    counts = np.bincount(parent, minlength=len(enc.dictionary))
    r, pos = expand_ranges(starts[row], starts[row] + counts[row])
    val = value[pos]
    if ref is not None:
        mine = val != ref[r]
        r, val = r[mine], val[mine]
    code = np.unique(np.stack([r, val], 1), axis=0) if len(r) else np.zeros((0, 2), np.int64)
    r, val = code[:, 0], code[:, 1]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    first = rank < _NUMS
    out[r[first], rank[first]] = val[first]
    return out


_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_TEXT_DATE = (r"(?:^|[^0-9.,/-])(?P<a>" + _DAY + r")[/.-](?P<b>" + _DAY
              + r")(?:[/.-](?P<y>[0-9]{4}|[0-9]{2}))?(?:[^0-9.,/-]|$)")
_TEXT_DATE_BEFORE = 10  # days a text's date may precede the posting day
_TEXT_DATE_SHARE = 0.5  # ... on at least this share of the rows whose text has one


def text_dates(desc: pa.Array, day: np.ndarray) -> np.ndarray:
    """The day each bank row's text says it happened, else its posting day.

    Card lines print the day of the purchase (``PURCHASE AUTHORIZED ON 03/14``,
    ``POS DEBIT 03/14``, ``KARTENZAHLUNG ... 14-03``), which is the ledger's day while
    the posting comes days later. A text's first ``d/m`` or ``m/d`` (``/``, ``.`` or
    ``-``, with or without a year) is read in one order for the whole table, the
    order that puts more dates in the ``_TEXT_DATE_BEFORE`` days up to the posting
    day; dates are used only if most of the texts that carry one agree
    (``_TEXT_DATE_SHARE``), and only where the date is in those days.

    Examples
    --------
    >>> from nexus_lab.frames import parse_days
    >>> day = parse_days(pd.Series(["2025-03-17", "2025-03-17", "2025-03-17"]), table="bank")
    >>> texts = pa.array(["PURCHASE AUTHORIZED ON 03/14 USPS", "PILOT 12.50", "POS 03/16 X"])
    >>> (text_dates(texts, day) - day).tolist()
    [-3, 0, -1]
    """
    out = np.asarray(day, np.int64).copy()
    if len(desc) == 0:
        return out
    enc = desc.dictionary_encode()  # each distinct text once
    found = pc.extract_regex(enc.dictionary, _TEXT_DATE)
    valid = np.asarray(pc.is_valid(found), bool)
    if not valid.any():
        return out
    idx = np.asarray(enc.indices).astype(np.int64)
    has = valid[idx]
    rows = np.flatnonzero(has)

    def field(name: str) -> np.ndarray:
        col = pc.struct_field(found, name)
        col = pc.if_else(pc.greater(pc.utf8_length(col), 0), col, None)
        return pc.cast(pc.fill_null(col, "-1"), pa.int64()).to_numpy(zero_copy_only=False)[
            idx[rows]]

    a, b, year = field("a"), field("b"), field("y")
    posted = out[rows].astype("datetime64[D]")
    this_year = posted.astype("datetime64[Y]").astype(np.int64) + 1970
    year = np.where(year < 0, this_year, np.where(year < 100, 2000 + year, year))
    best = None
    for month, dom in ((a, b), (b, a)):  # m/d, then d/m
        ok = month <= 12
        # the latest such date not after the posting day (a year without one: last year's)
        first = ((year - 1970) * 12 + np.minimum(month, 12) - 1).astype("datetime64[M]")
        date = first.astype("datetime64[D]") + (dom - 1)
        ok &= date < (first + 1).astype("datetime64[D]")  # the month has that day
        later = ok & (date > posted)
        prior = ((first - 12).astype("datetime64[D]") + (dom - 1))
        date = np.where(later & (year == this_year), prior, date)
        lead = (posted - date).astype(np.int64)
        ok &= (lead >= 0) & (lead <= _TEXT_DATE_BEFORE)
        if best is None or ok.sum() > best[0].sum():
            best = (ok, date)
    ok, date = best
    if ok.sum() < _TEXT_DATE_SHARE * len(rows):
        return out
    out[rows[ok]] = date[ok].astype(np.int64)
    return out


def _reference_digits(desc: pa.Array, reference: pd.Series | None) -> np.ndarray:
    """A reference as int64 digits: the ``reference`` column, or a long number in the text."""
    out = np.full(len(desc), -1, dtype=np.int64)
    todo = np.ones(len(desc), dtype=bool)
    if reference is not None:
        ref = pc.cast(pa.array(reference, from_pandas=True), pa.string())
        digits = pc.utf8_slice_codeunits(pc.replace_substring_regex(ref, r"[^0-9]", ""), 0, 18)
        digits = pc.if_else(pc.greater(pc.utf8_length(digits), 0), digits, None)
        have = np.asarray(pc.is_valid(digits)).astype(bool)
        out[have] = pc.cast(pc.filter(digits, pa.array(have)), pa.int64()).to_numpy()
        todo = ~have
    # rows without a reference: a long number after REF / INV / NO in the text
    rows = np.flatnonzero(todo)
    found = pc.struct_field(
        pc.extract_regex(
            pc.utf8_upper(pc.take(desc, pa.array(rows))),
            r"(?:REF|INV|INVOICE|NO)[^0-9]{0,4}(?P<d>[0-9]{5,18})",
        ),
        "d",
    )
    out[rows] = pc.cast(pc.fill_null(found, "-1"), pa.int64()).to_numpy(zero_copy_only=False)
    return out

def _currencies(side: Side) -> pd.Series | None:
    """Per row, the side's currency code: its ``currency`` column, else the one symbol or
    code its amounts are written with, else None (not known)."""
    written = side.written.get("currency")
    written = CURRENCY_SIGNS.get(written, written)
    if "currency" in side.frame:
        raw = side.frame["currency"].astype("string").str.strip().str.upper()
        blank = (raw.isna() | raw.eq("")).to_numpy()
        if blank.any() and written is None:
            rows = np.flatnonzero(blank)[:5].tolist()
            raise SchemaError(f"{side.name}.currency is blank at rows {rows}; fill it (a row of "
                              "no known currency cannot be compared)", table=side.name,
                              column="currency", rows=rows)
        cur = raw.fillna(written or "").replace({"": written}).replace(CURRENCY_SIGNS)
        if written is not None and (cur != written).any():
            rows = np.flatnonzero((cur != written).to_numpy())[:5].tolist()
            raise SchemaError(
                f"{side.name}'s amounts are written in {written} but its currency column says "
                f"{sorted(set(cur[cur != written]))[:5]} at rows {rows}; make them agree",
                table=side.name, column="currency", rows=rows)
        return cur.astype(object)
    if written is None:
        return None
    return pd.Series(written, index=side.frame.index)


def partition_currencies(b: Side, lg: Side) -> None:
    """Compare money of one currency only: rows are partitioned by currency.

    A side's currency is its ``currency`` column, or the symbol its amounts are written
    with (``$12.00``: USD, ``12,00 €``: EUR). Sides in different currencies, or a side with
    several currencies against one that does not say, are refused: matching them would
    compare dollars with euros.
    """
    cur_b, cur_l = _currencies(b), _currencies(lg)
    if cur_b is None and cur_l is None:
        return
    if cur_b is None or cur_l is None:
        side, cur = (b, cur_b) if cur_l is None else (lg, cur_l)
        other = lg if side is b else b
        if cur.nunique() > 1:
            raise SchemaError(
                f"{side.name} holds several currencies {sorted(cur.unique())[:5]} but "
                f"{other.name} has no currency column (nor a currency sign in its amounts); "
                f"add one to {other.name} (or convert both to one currency)",
                table=other.name,
                column="currency",
            )
        return
    shared = set(cur_b.unique()) & set(cur_l.unique())
    if not shared:
        def say(side: Side, cur: pd.Series) -> str:
            how = ("its currency column" if "currency" in side.frame
                   else f"amounts written like {side.frame['amount'].iloc[0]!r}")
            return f"{side.name} in {sorted(cur.unique())[:5]} ({how})"

        raise SchemaError(
            f"the two sides are in different currencies: {say(b, cur_b)}, {say(lg, cur_l)}; "
            "convert one side to the other's currency first (reconciling them would compare "
            "amounts in different money)",
            column="currency",
        )
    codes, _ = pd.factorize(pd.concat([cur_b, cur_l]))
    b.part = codes[: len(b)].astype(np.int64)
    lg.part = codes[len(b) :].astype(np.int64)


SIGNS = ("auto", "as_is", "flip", "magnitude")


def align_signs(b: Side, lg: Side, sign: str = "auto") -> str:
    """Bring the two sides to one sign convention; return the one used.

    ``"as_is"`` compares amounts as written, ``"flip"`` negates the bank's, and
    ``"magnitude"`` compares sizes only (for a side that writes every amount positive
    against one that signs money in and out). ``"auto"`` learns it from the data: the
    convention under which clearly more bank amounts find a ledger row of exactly the
    same amount wins. This holds whatever the mix of money in and out (debits negative
    on one side only, receipts negative on the other), where a share of negative rows
    would not.

    Examples
    --------
    >>> import pyarrow as pa
    >>> def side(cents):
    ...     c = np.array(cents)
    ...     return Side("x", pd.DataFrame(index=range(len(c))), c, c, c, c, pa.array([]), c,
    ...                 c, c)
    >>> bank, ledger = side([-500, -700, 300, -900]), side([500, 700, 300, 900])
    >>> align_signs(bank, ledger), bank.cents.tolist()
    ('magnitude', [500, 700, 300, 900])
    """
    if sign == "auto" and len(b.cents) and len(lg.cents):
        ledger = np.sort(lg.cents)

        def hits(cents: np.ndarray, target: np.ndarray) -> int:
            pos = np.minimum(np.searchsorted(target, cents), len(target) - 1)
            return int((target[pos] == cents).sum())

        nonzero = b.cents[b.cents != 0]
        kept, flipped = hits(nonzero, ledger), hits(-nonzero, ledger)
        best, sign = (flipped, "flip") if flipped > max(2 * kept, 0.05 * len(nonzero)) else (
            kept, "as_is")
        # sizes alone only when one side signs money in and out and the other does not,
        # and signs lose many rows
        def mixed(cents: np.ndarray) -> bool:
            return bool((cents < 0).any() and (cents > 0).any())

        signed = mixed(b.cents) != mixed(lg.cents)
        sizes = hits(np.abs(nonzero), np.sort(np.abs(lg.cents))) if signed else 0
        if sizes > max(1.1 * best, best + 0.05 * len(nonzero)):
            sign = "magnitude"
        if sign != "as_is":
            log.info("bank and ledger write money in and out differently (%d exact amounts "
                     "as written, %d flipped): comparing %s", kept, flipped, sign)
    if sign == "flip":
        b.cents = -b.cents
    elif sign == "magnitude":
        b.cents, lg.cents = np.abs(b.cents), np.abs(lg.cents)
    return "as_is" if sign == "auto" else sign


def resolve_counterparties(b: Side, lg: Side, device: torch.device) -> None:
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
    # each side's names with their memo, place and prefix words left out, when the
    # shorter name is one of the side's names too
    canon_l = canonical_names(lg.names, noise_words(lg.names, b.names))
    b.name_id = canonical_names(b.names, noise_words(b.names, lg.names))[b.name_id]
    lg.name_id = canon_l[lg.name_id]
    nb, nl = len(b.names), len(lg.names)
    wb = [_Words(tokens(b.names, k, min_len=1)) for k in range(3)]
    wl = [_Words(tokens(lg.names, k, min_len=1)) for k in range(2)]
    # two-word keys are distinctive; the bank's name may start after a noise word. The
    # joins are Arrow hashing and NumPy sorts, which release the GIL: two threads share them
    kinds = ("words", "prefix", "suffix", "soundex", "skeleton", "second", "second skeleton",
             "second tail")
    for w in (*wb, *wl):  # made once, before the threads share them
        w.soundex, w.skeleton  # noqa: B018
    with ThreadPoolExecutor(max_workers=2) as pool:
        pairs = list(pool.map(
            lambda ok: _join_keys(_word_key(wb[ok[0]], wb[ok[0] + 1], ok[1]),
                                  _word_key(wl[0], wl[1], ok[1]), nl),
            [(off, kind) for off in range(2) for kind in kinds],
        ))
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
    code = unique_ints(np.concatenate(pairs)) if pairs else np.zeros(0, np.int64)
    pb, pl = code // max(nl, 1), code % max(nl, 1)
    sim = name_similarity(b, lg, pb, pl, device)
    b.known_pairs = (code, sim)
    keep = sim >= _SAME_PARTY
    pb, pl, sim = pb[keep], pl[keep], sim[keep]
    # each bank spelling joins its most similar ledger name (no chaining across vendors)
    order = np.lexsort((pl, -sim, pb))
    first = order[np.r_[True, pb[order][1:] != pb[order][:-1]]] if len(order) else order
    label = np.r_[np.arange(nl, nl + nb), canon_l].astype(np.int64)
    label[pb[first]] = canon_l[pl[first]]
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
    with the first word's initial (or its last two letters)."""
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
    elif kind == "second tail":  # a typo in the first word's first letter
        a, c = c, pc.utf8_slice_codeunits(a, -2, 2**31 - 1)
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

def name_similarity(
    b: Side, lg: Side, ib: np.ndarray, jl: np.ndarray, device: torch.device
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
