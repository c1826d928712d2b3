"""Duplicate records: exact, same-same-different, same-same-near and same-same-similar.

The tests of ACL (DUPLICATES, FUZZYDUP), Arbutus and IDEA, without their limits: the
input need not be sorted, and memory stays linear in the rows.

How it works, all vectorized (loops run over offsets, blocks and batches, never rows):

* every ``same`` column becomes int codes, combined into one key per row; exact
  duplicates are the keys seen twice. Money is compared as int64 cents; integers, dates
  (in days or seconds) and cents are their own codes less their least value; a
  categorical gives its codes; Arrow text of one byte width is read as a number (its
  varying bytes the digits), other Arrow text gives its dictionary's codes; other text
  is hashed (64 bits, several times faster than numbering it), and the rows found are
  checked value by value (a hash shared by two texts makes the call number them
  instead). A row whose value of a narrow column, or whose narrow key, occurs once is
  left out by counting; the rest are sorted once as ``key << bits | place`` (the high
  bits of a hash of the key where it is too wide, neighbours then compared on every
  column), which lines up each group with its rows ascending;
* for the fuzzy tests, rows equal on every compared column collapse into one
  *representative*, and candidate pairs of representatives inside a same-group come
  from one of three sources, then every criterion is checked on them in batches:

  - **near**: the representatives sorted by the near column within their group; the
    pairs at offset 1, 2, ... in that order, each offset keeping only the rows whose
    previous offset was still within the tolerance (a window never holds more than
    it must). With one near column and nothing else, offset 1 suffices: values
    within the tolerance of their neighbour form the same groups;
  - **similar**: the distinct normalized texts of each group. Groups of up to
    :data:`SMALL_GROUP` texts are compared in full. In larger ones every text is
    keyed by its hash and the hashes of the texts one character shorter (the
    deletion neighbourhood), so every pair within one edit (a Damerau-Levenshtein
    transposition included) shares a key; texts long enough to allow two edits at
    the threshold are also compared with their neighbours in sorted order: forwards,
    reversed, and with the first word moved last (:data:`WINDOW` each);
  - **different** alone: all pairs within the group (one different column needs
    no pairs at all: a group with two distinct values is a duplicate group);

* the groups are the connected components of the pairs that pass (SciPy); each row
  names the row it was matched to and why.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.frames import (
    MONEY_COLUMNS,
    decimal_text,
    describe_rows,
    find_column,
    read_dates,
    read_money,
    to_pandas,
)
from nexus_lab.text import as_string_array, fold_marks

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["duplicates"]

#: Same-groups with up to this many distinct texts compare every pair of them.
SMALL_GROUP = 32
#: Sorted neighbours each long text is compared with, in each of three orders.
WINDOW = 4
_BATCH = 1 << 20  # pairs per similarity batch
_NEAR_BUDGET = 64  # near windows may hold this many pairs per row before similar takes over
_NEAR_CAP = 50_000_000  # ... and this many in all
_MAX_PAIRS = 300_000_000  # all pairs within groups: refused beyond this
_WIDTH = 64  # bytes of a normalized text that are hashed
_KEY_BATCH = 1 << 18  # texts hashed at once
_KEY_BUCKET = 1 << 25  # deletion keys grouped at once
_EPS = 1e-6  # similarities are floats: 1 - 1/10 may read 0.8999999
_HASH_BASE = np.uint64(0x100000001B3)
_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)
_WIDE = 1 << 62  # a column's codes span fewer values; wider ones are numbered

_DIFFERENT, _NEAR, _SIMILAR = 1, 2, 4
#: kind of a link or a group from its bits (different=1, near=2, similar=4)
_KIND_NAMES = ["exact", "different", "near", "different+near", "similar", "different+similar",
               "near+similar", "different+near+similar"]
_RESERVED = {"group", "size", "kind", "first_row", "total_amount", "at_risk"}


# ----------------------------------------------------------------------------- the criteria


@dataclass
class _Near:
    """A near column: its values as int64 (cents, nanoseconds) or float64, and its
    tolerance in the same unit, absolute or relative."""

    name: str
    values: np.ndarray
    unit: str  # "money", "date" or "number"
    tol: float
    relative: bool

    def within(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        va, vb = self.values[a], self.values[b]
        if self.unit == "number":
            diff = np.abs(va - vb)
        else:
            diff = np.abs(va - vb).astype(np.float64)
        if self.relative:
            scale = np.maximum(np.abs(va), np.abs(vb)).astype(np.float64)
            return diff <= self.tol * scale * (1 + 1e-12)
        return diff <= self.tol * (1 + 1e-12) + 1e-9


@dataclass
class _Similar:
    """A similar column: raw value codes and normalized texts per row."""

    name: str
    threshold: float
    raw: pd.Series
    codes: np.ndarray
    norm: np.ndarray | None = None  # per representative, filled later
    length: np.ndarray | None = None


# ----------------------------------------------------------------------------- public API


def duplicates(
    df: FrameLike,
    same: str | Sequence[str] | None = None,
    different: str | Sequence[str] | None = None,
    near: Mapping[str, object] | None = None,
    similar: Mapping[str, float] | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    dayfirst: bool | None = None,
    workers: int = -1,
) -> Examination:
    """Find duplicate records: exact, or equal on some fields and different, near or
    similar on others.

    The four tests of Arbutus, ACL and IDEA in one call. Without ``different``,
    ``near`` or ``similar`` it finds exact duplicates on ``same``; with them, rows
    equal on ``same`` that also differ on every ``different`` column, lie within the
    tolerance of every ``near`` column and are similar on every ``similar`` column
    (all must hold). Rows equal on every compared column are found too (kind
    ``"exact"``). A duplicate group is a set of rows linked by such pairs (two rows
    each near a third are in one group). The input need not be sorted.

    Parameters
    ----------
    df : DataFrame
        pandas, polars, pyarrow or cuDF frame.
    same : str or list of str, optional
        Columns that must be equal. ``None``: every column but the id column for the
        exact test, no column for the others. Nulls equal nulls (as in pandas).
    different : str or list of str, optional
        Columns that must differ (same invoice number and amount, different vendor).
    near : mapping, optional
        Column -> tolerance: a number in the column's units (``{"amount": 0.01}``:
        at most a cent apart), a share of the larger value (``"1%"``), or for dates a
        fixed span pandas reads (``"3D"``, ``"12h"``, a ``Timedelta``).
    similar : mapping, optional
        Text column -> Damerau-Levenshtein similarity (``1 - edits / longer length``)
        in (0, 1] the two texts must reach after case, accents, spacing and
        punctuation are normalized (``"ACME Ltd."`` and ``"acme ltd"`` are similar,
        1.0).
    columns : mapping, optional
        ``{name: users_column}`` for any name used above, for ``"amount"`` (summed per
        group, and the value at risk) and ``"transaction_id"`` (shown per row); by
        default these are the columns so named, compared loosely ("Amount").
    dayfirst : bool, optional
        The order of numeric dates (``03/04/2025``) in a near date column written as
        text, when the column does not settle it (:func:`nexus_lab.frames.read_dates`).
    workers : int, default -1
        Threads of the similarity computation (-1: all cores).

    Returns
    -------
    Examination
        ``test="duplicates"``; tables ``"groups"`` (``group``, ``size``, ``kind``,
        ``first_row``, the ``same`` columns' values, ``total_amount`` and ``at_risk``
        (the group's absolute amounts less its largest one) when there is an amount)
        and ``"rows"`` (``row`` position, ``id`` when there is an id column, ``group``,
        ``kind`` of the row's link, ``matched_to``: the row it was linked to,
        ``reason``); facts ``rows``, ``duplicate_rows``, ``groups``,
        ``groups_by_kind``, ``rows_by_kind``, ``largest_group``, ``pairs_compared``
        and ``value_at_risk`` (the sum of ``at_risk``; None without an amount column);
        verdict ``"findings"`` or ``"clean"``. Groups are numbered by their first row;
        a link's kind names the criteria on which its two rows differ (``"near"``,
        ``"near+similar"``...; ``"exact"`` when they differ on none), a group's kind
        those of its rows' links.

    Raises
    ------
    SchemaError
        For a column the table lacks (naming the ones it has), a column named in two
        criteria, a similarity outside (0, 1], a tolerance that is not a number, a
        share or a span (or a span for a column of numbers), or values a money or date
        column cannot be read as (blanks included, for a near column).

    Notes
    -----
    Similar texts are found without comparing all pairs: any two texts one edit apart
    share a key (see the module's notes), so at thresholds where the texts allow one
    edit every pair is found; pairs two or more edits apart in groups of more than
    :data:`SMALL_GROUP` texts are found among sorted neighbours, most but not all of
    them (98% of long vendor names with two typos in the tests). Near and different
    pairs are always all found. One million distinct vendor names take 10 to 25
    seconds on two shared cores.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import duplicates
    >>> invoices = pd.DataFrame({
    ...     "transaction_id": ["T1", "T2", "T3", "T4"],
    ...     "invoice_no": ["A-7", "A-7", "B-2", "C-9"],
    ...     "vendor": ["ACME Ltd", "ACME Ltd.", "Bolt & Co", "Acme Limited"],
    ...     "amount": [120.00, 120.00, 80.00, 120.00],
    ...     "date": pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-01", "2025-03-01"])})
    >>> duplicates(invoices, same=["invoice_no", "amount"])["groups"]
       group  size   kind  first_row invoice_no  amount  total_amount  at_risk
    0      1     2  exact          0        A-7   120.0         240.0    120.0
    >>> res = duplicates(invoices, same=["amount"], similar={"vendor": 0.9},
    ...                  near={"date": "3D"})
    >>> res["rows"][["row", "id", "group", "kind", "matched_to"]]
       row  id  group          kind  matched_to
    0    0  T1      1  near+similar           1
    1    1  T2      1  near+similar           0
    >>> for part in res["rows"]["reason"][0].split("; "):
    ...     print(part)
    same amount
    date 2025-03-01 vs 2025-03-02 (1 day apart)
    vendor 'ACME Ltd' vs 'ACME Ltd.' (1.00)
    >>> res.summary()["value_at_risk"]
    120.0
    """
    params = params_of(locals())
    table = to_pandas(df, "table")
    if not all(isinstance(c, str) for c in table.columns):
        table = table.copy(deep=False)  # names as text, the data not copied
        table.columns = [str(c) for c in table.columns]
    have = list(table.columns)
    mapping = dict(columns or {})
    same_l, diff_l = _names(same, "same"), _names(different, "different")
    near_d = _mapping(near, "near")
    sim_d = _mapping(similar, "similar")
    resolve = _Resolver(have, mapping)
    same_c = [resolve(c, "same") for c in same_l] if same_l is not None else None
    diff_c = [resolve(c, "different") for c in diff_l or []]
    near_c = {resolve(c, "near"): t for c, t in near_d.items()}
    sim_c = {resolve(c, "similar"): _threshold(c, t) for c, t in sim_d.items()}
    id_col = resolve.optional("transaction_id")
    amount_col = resolve.optional("amount")
    fuzzy = bool(diff_c or near_c or sim_c)
    if same_c is None:
        same_c = [] if fuzzy else [c for c in have if c != id_col]
    _check_overlap(same_c, diff_c, list(near_c), list(sim_c))
    ids = table[id_col].to_numpy() if id_col is not None else None
    money = {c for c in (resolve.optional(m) for m in MONEY_COLUMNS) if c is not None}
    cash = _Money(table, ids)
    nears = [_near(table[c], c, tol, cash if c in money else None, ids, dayfirst)
             for c, tol in near_c.items()]
    notes: list[str] = []
    cents = None
    if amount_col is not None:
        cents, blank = cash(amount_col)
        if blank.any():
            warn(_blank_note(amount_col, int(blank.sum()), int(np.flatnonzero(blank)[0])),
                 notes)

    n = len(table)
    parts = [_codes(table[c], cash if c in money else None, hashed=not fuzzy) for c in same_c]
    if not fuzzy:
        links = _exact_links(parts, n)
        hashed = [c for c, (_, card) in zip(same_c, parts, strict=True) if card == 0]
        if not _same_values(table, hashed, links):  # two texts of one hash: number them
            parts = [_codes(table[c], cash if c in money else None) for c in same_c]
            links = _exact_links(parts, n)
        pairs_compared = 0
        reason_of = _ExactReasons(same_c, whole=same is None)
    else:
        sims = [_Similar(c, t, table[c], _dense(_codes(table[c])[0])) for c, t in sim_c.items()]
        diffs = {c: _dense(_codes(table[c], cash if c in money else None)[0]) for c in diff_c}
        finder = _Finder(_dense(_combine(parts, n)[0]), diffs, nears, sims, workers)
        links, pairs_compared = finder.run()
        reason_of = _FuzzyReasons(table, same_c, diffs, nears, sims, finder)
    groups, rows = _tables(table, links, same_c, ids, cents, reason_of)
    facts = _facts(n, groups, rows, pairs_compared, cents is not None)
    return Examination("duplicates", params, {"groups": groups, "rows": rows}, facts,
                       verdict="findings" if len(groups) else "clean", notes=notes,
                       plotter=_plot)


# ----------------------------------------------------------------------------- arguments


def _blank_note(column: str, count: int, first: int) -> str:
    """The warning for ``count`` rows without an amount, the first at row ``first``."""
    return (f"duplicates: {count:,} rows have no {column} (first at row {first}); their "
            "groups' totals count them as 0")


def _names(value: object, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SchemaError(f"{what}= takes a column name or a list of them, got {value!r}; "
                      f"e.g. {what}=['invoice_no', 'amount']")


def _mapping(value: object, what: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        example = "{'amount': 0.01, 'date': '3D'}" if what == "near" else "{'vendor': 0.9}"
        raise SchemaError(f"{what}= takes a mapping of column names, got {value!r}; "
                          f"e.g. {what}={example}")
    return dict(value)


class _Resolver:
    """The user's column for a name: ``columns=`` first, then the name itself, then a
    loose match (``"Invoice No"`` for ``invoice_no``)."""

    def __init__(self, have: list[str], mapping: dict[str, str]) -> None:
        self.have, self.mapping = have, mapping
        for name, col in mapping.items():
            if col not in have:
                self._missing(col, f"columns={{{name!r}: {col!r}}}")

    def __call__(self, name: str, where: str) -> str:
        found = self.mapping.get(name) or find_column(self.have, name)
        if found is None:
            self._missing(name, f"{where}=")
        return found  # type: ignore[return-value]

    def optional(self, name: str) -> str | None:
        return self.mapping.get(name) or find_column(self.have, name)

    def _missing(self, name: str, where: str) -> None:
        close = difflib.get_close_matches(name, self.have, n=1, cutoff=0.5)
        hint = (f"; did you mean {close[0]!r}?" if close else
                f"; pass columns={{{name!r}: '<your column>'}} to map it")
        raise SchemaError(f"duplicates: {where} names column {name!r}, which the table does "
                          f"not have (it has {self.have}){hint}", table="table", column=name)


def _threshold(column: str, value: object) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not 0.0 < float(value) <= 1.0:  # type: ignore[arg-type]
        raise SchemaError(
            f"similar[{column!r}] = {value!r}: a similarity must be a number in (0, 1], the "
            "share of characters that agree (e.g. 0.9 allows one edit in ten characters)",
            column=column)
    return float(value)  # type: ignore[arg-type]


def _check_overlap(*groups: list[str]) -> None:
    labels = ("same", "different", "near", "similar")
    seen: dict[str, str] = {}
    for label, cols in zip(labels, groups, strict=True):
        for c in cols:
            if c in seen and seen[c] != label:
                raise SchemaError(f"column {c!r} is named in both {seen[c]}= and {label}=; "
                                  "a column is compared one way only", column=c)
            seen.setdefault(c, label)


_SPAN = re.compile(r"^\s*[+-]?\d*\.?\d+\s*[a-zA-Z]")


def _near(values: pd.Series, name: str, tol: object, money: _Money | None,
          ids: np.ndarray | None, dayfirst: bool | None) -> _Near:
    """A near column read for its tolerance: dates for a span, numbers or money else."""
    fix = ("give a number in the column's units (0.01), a share of the larger value "
           "('1%') or, for dates, a fixed span ('3D', '12h')")
    span: pd.Timedelta | None = None
    relative = False
    number = 0.0
    if isinstance(tol, (pd.Timedelta, _dt.timedelta, np.timedelta64)):
        span = pd.Timedelta(tol)
    elif isinstance(tol, str) and tol.strip().endswith("%"):
        try:
            number = float(tol.strip()[:-1]) / 100
        except ValueError:
            number = float("nan")
        if not 0 < number < 1:
            raise SchemaError(f"near[{name!r}] = {tol!r}: a share must lie between 0% and "
                              f"100% (e.g. '1%'); {fix}", column=name)
        relative = True
    elif isinstance(tol, str) and _SPAN.match(tol):
        try:
            span = pd.Timedelta(tol)
        except ValueError:
            raise SchemaError(f"near[{name!r}] = {tol!r} is no span pandas reads; {fix}",
                              column=name) from None
    elif isinstance(tol, (int, float, np.integer, np.floating, str)) and not isinstance(
            tol, bool):
        try:
            number = float(tol)
        except ValueError:
            raise SchemaError(f"near[{name!r}] = {tol!r} is not a tolerance; {fix}",
                              column=name) from None
        if not number >= 0 or not np.isfinite(number):
            raise SchemaError(f"near[{name!r}] = {tol!r}: a tolerance must be a finite number "
                              f">= 0; {fix}", column=name)
    else:
        raise SchemaError(f"near[{name!r}] = {tol!r} is not a tolerance; {fix}", column=name)
    if span is not None:
        if span < pd.Timedelta(0):
            raise SchemaError(f"near[{name!r}] = {tol!r}: a span must not be negative; {fix}",
                              column=name)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            raise SchemaError(f"near[{name!r}] = {tol!r} is a span of time, but {name!r} holds "
                              f"numbers ({values.dtype}); give a number instead, e.g. "
                              f"near={{{name!r}: 0.01}}", column=name)
        stamps = read_dates(values, table="table", column=name, ids=ids, dayfirst=dayfirst)[0]
        return _Near(name, stamps.astype(np.int64), "date", float(span.value), False)
    if pd.api.types.is_datetime64_any_dtype(values):
        raise SchemaError(f"near[{name!r}] = {tol!r}, but {name!r} holds dates; give a span "
                          f"such as near={{{name!r}: '3D'}}", column=name)
    if money is not None or not pd.api.types.is_numeric_dtype(values):
        if money is None:
            cents = read_money(values, table="table", column=name, ids=ids)[0]
        else:
            cents, missing = money(name)
            _no_blanks(missing, name, ids)
        return _Near(name, cents, "money", number if relative else number * 100, relative)
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    _no_blanks(np.isnan(numbers), name, ids)
    return _Near(name, numbers, "number", number, relative)


def _no_blanks(missing: np.ndarray, name: str, ids: np.ndarray | None) -> None:
    if missing.any():
        raise SchemaError(f"table.{name}: blanks at {describe_rows(missing, ids)}; fill or "
                          "drop those rows (a blank is near nothing)", table="table",
                          column=name, rows=np.flatnonzero(missing)[:5].tolist())


# ----------------------------------------------------------------------------- keys


class _Money:
    """Money columns read once as int64 cents; blanks apart (``missing``)."""

    def __init__(self, table: pd.DataFrame, ids: np.ndarray | None) -> None:
        self.table, self.ids = table, ids
        self.read: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        if column not in self.read:
            values = self.table[column]
            missing = values.isna().to_numpy()
            cents = np.zeros(len(values), dtype=np.int64)
            if missing.any():
                ids = None if self.ids is None else self.ids[~missing]
                cents[~missing] = read_money(values[~missing], table="table", column=column,
                                             ids=ids)[0]
            else:
                cents = read_money(values, table="table", column=column, ids=self.ids)[0]
            self.read[column] = (cents, missing)
        return self.read[column]


def _codes(values: pd.Series, money: _Money | None = None, *, hashed: bool = False) -> tuple[
        np.ndarray, int]:
    """int64 codes of a column in ``0 .. span - 1`` and the span; equal values share a code,
    nulls too (as in pandas). Money is compared as cents. Integers, money and dates are
    their own codes, less their least value (dates in days or seconds where all are
    whole ones); a categorical gives its codes, text held by Arrow its dictionary's
    (no hashing, no numbering in Python objects). Other columns are numbered.

    ``hashed``: a column of text may instead give 64-bit hashes of its values (span 0),
    several times faster than numbering them; the caller checks equal hashes for equal
    values (:func:`_same_values`).

    Examples
    --------
    >>> _codes(pd.Series(pd.to_datetime(["2025-01-03", None, "2025-01-01"])))
    (array([2, 3, 0]), 4)
    >>> _codes(pd.Series(["b", None, "b"], dtype="category"))
    (array([1, 0, 1]), 2)
    """
    n = len(values)
    if money is not None:
        return _offset(*money(str(values.name)))
    if isinstance(values.dtype, pd.CategoricalDtype):  # null (-1) becomes 0
        codes = np.add(values.cat.codes.to_numpy(), 1, dtype=np.int64)
        return codes, len(values.dtype.categories) + 1
    arrow = _arrow_text(values)
    if arrow is not None:
        fixed = _fixed_width_codes(arrow)
        if fixed is not None:
            return fixed
        encoded = pc.dictionary_encode(arrow, null_encoding="encode")
        if isinstance(encoded, pa.ChunkedArray):  # the chunks' dictionaries grow: unify them
            encoded = encoded.combine_chunks()
        return encoded.indices.to_numpy().astype(np.int64), max(len(encoded.dictionary), 1)
    if hashed and n and (values.dtype == object or isinstance(
            values.dtype, pd.StringDtype)) and pd.api.types.infer_dtype(
                values, skipna=True) == "string":
        h = pd.util.hash_array(values.to_numpy(dtype=object), categorize=False).view(np.int64)
        # every kind of null hashes alike (a text with such a hash is caught by the check)
        nulls = pd.util.hash_array(np.array([None, np.nan, pd.NA], dtype=object),
                                   categorize=False).view(np.int64)
        return np.where(np.isin(h, nulls), np.int64(-1), h), 0
    if isinstance(values.array, (pd.arrays.DatetimeArray, pd.arrays.TimedeltaArray)):
        ints = values.array.asi8
        missing = ints == np.iinfo(np.int64).min  # NaT
        if missing.any():
            ints = np.where(missing, 0, ints)
        for unit in (86_400_000_000_000, 1_000_000_000):  # whole days, whole seconds
            if not (ints[::1009] % unit).any() and not (ints % unit).any():
                ints = ints // unit
                break
        return _offset(ints, missing)
    if (pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype)) and not isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return _offset(values.to_numpy().astype(np.int64, copy=False))
    codes = pd.factorize(values, use_na_sentinel=False)[0].astype(np.int64, copy=False)
    return codes, int(codes.max(initial=0)) + 1


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The text of a column held by Arrow (``string[pyarrow]``), else None."""
    if not isinstance(values.array, pd.arrays.ArrowExtensionArray):
        return None
    arr = pa.array(values.array)
    kind = arr.type
    text = (pa.types.is_string(kind) or pa.types.is_large_string(kind) or
            pa.types.is_binary(kind) or pa.types.is_large_binary(kind))
    return arr if text else None


def _fixed_width_codes(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, int] | None:
    """Codes of texts all of one length in bytes and none null (ids such as
    ``JE0001234``), read as numbers: each byte position is a digit whose base is the
    range of bytes seen there, and a position that never changes is left out. Equal
    texts, and only they, share a number; no hashing, no dictionary. None for other
    texts, or when the numbers could reach :data:`_WIDE`.

    Examples
    --------
    >>> _fixed_width_codes(pa.array(["A-17", "A-20", "B-17", "A-17"]))  # bases 2, 2, 8
    (array([ 7,  8, 23,  7]), 32)
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    n = len(text)
    kind = text.type
    if not n or text.null_count or not (pa.types.is_string(kind) or pa.types.is_binary(kind) or
                                        pa.types.is_large_string(kind) or
                                        pa.types.is_large_binary(kind)):
        return None
    width = pc.min_max(pc.binary_length(text))
    lo_w, w = width["min"].as_py(), width["max"].as_py()
    if lo_w != w:
        return None
    wide = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
    offsets = np.frombuffer(text.buffers()[1], np.int64 if wide else np.int32)
    begin = int(offsets[text.offset])
    flat = np.frombuffer(text.buffers()[2], np.uint8)[begin:begin + n * w] if w else \
        np.zeros(0, np.uint8)
    each = flat.reshape(n, w)
    # the least and greatest byte at each position, over blocks of 64 rows (fast)
    whole = n - n % 64
    block = flat[:whole * w].reshape(whole // 64, 64 * w)
    lo = np.full(w, 255, np.int64)
    hi = np.zeros(w, np.int64)
    if whole:
        lo = block.min(axis=0).reshape(64, w).min(axis=0).astype(np.int64)
        hi = block.max(axis=0).reshape(64, w).max(axis=0).astype(np.int64)
    if whole < n:
        lo = np.minimum(lo, each[whole:].min(axis=0))
        hi = np.maximum(hi, each[whole:].max(axis=0))
    base = hi - lo + 1
    varies = np.flatnonzero(base > 1)
    span = 1
    for j in varies:
        span *= int(base[j])
    if span >= _WIDE:
        return None
    codes = np.zeros(n, np.int64)
    if len(varies):
        for at in range(0, n, _KEY_BATCH):  # blocks of rows, which the cache holds
            rows = each[at:at + _KEY_BATCH]
            part = rows[:, varies[0]].astype(np.int64)
            for j in varies[1:]:  # a loop over byte positions
                part *= base[j]
                part += rows[:, j]
            codes[at:at + _KEY_BATCH] = part
        least = 0
        for j in varies:
            least = least * int(base[j]) + int(lo[j])
        codes -= least
    return codes, span


def _offset(ints: np.ndarray, missing: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Integers as codes: less their least value, blanks (``missing``) one code above the
    others; numbered instead when they span :data:`_WIDE` values or more."""
    if missing is not None and not missing.any():
        missing = None
    present = None if missing is None else ~missing
    if len(ints) == 0 or (present is not None and not present.any()):
        lo = hi = 0
    else:
        lo = int(np.min(ints, where=present, initial=np.iinfo(np.int64).max)
                 if present is not None else ints.min())
        hi = int(np.max(ints, where=present, initial=np.iinfo(np.int64).min)
                 if present is not None else ints.max())
    if hi - lo < _WIDE:
        codes, span = ints - lo, hi - lo + 1
    else:
        codes = pd.factorize(ints)[0].astype(np.int64, copy=False)
        span = int(codes.max(initial=0)) + 1
    if missing is not None:
        codes = np.where(missing, span, codes)
        span += 1
    return codes, span


def _combine(parts: list[tuple[np.ndarray, int]], n: int) -> tuple[np.ndarray, int]:
    """One int64 key per distinct combination of coded columns, in ``0 .. span - 1``
    (not dense: :func:`_dense` numbers them); a hash (span 0) if a part is one."""
    if not parts:
        return np.zeros(n, dtype=np.int64), 1
    if any(span == 0 for _, span in parts):
        mixed = np.zeros(n, dtype=np.uint64)
        for codes, _ in parts:
            mixed = mixed * _HASH_BASE + codes.view(np.uint64)
        return mixed.view(np.int64), 0
    key, span = parts[0]
    for codes, card in parts[1:]:
        if span * card >= _WIDE:
            key = _dense(key)
            span = int(key.max(initial=-1)) + 1
            if span * card >= _WIDE:
                codes = _dense(codes)
                card = int(codes.max(initial=-1)) + 1
        key = key * card + codes
        span *= card
    return key, span


def _dense(key: np.ndarray) -> np.ndarray:
    """Keys numbered ``0, 1, ...`` in order of first appearance."""
    return pd.factorize(key)[0].astype(np.int64, copy=False)


def _first_rows(codes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For codes ``0..count-1``: the rows sorted by code (stable), the start of each
    code in that order, and each code's size."""
    order = np.argsort(codes, kind="stable")
    size = np.bincount(codes, minlength=count)
    start = np.cumsum(size) - size
    return order, start, size


# ----------------------------------------------------------------------------- links


@dataclass
class _Links:
    """Every row in a duplicate group: its group (numbered by first row), the row it
    was linked to, the kind bits of that link and the pair behind it (-1: an exact
    copy)."""

    row: np.ndarray
    group: np.ndarray
    partner: np.ndarray
    bits: np.ndarray
    edge: np.ndarray


def _number_groups(component: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Renumber components 1, 2, ... in order of their first row (``rows`` ascending)."""
    return pd.factorize(component)[0].astype(np.int64) + 1 if len(rows) else component


def _exact_links(parts: list[tuple[np.ndarray, int]], n: int) -> _Links:
    """Rows whose codes in every part equal another row's, ordered by group.

    Counting first leaves out rows whose value of a narrow part, or whose whole key when
    it is narrow, comes once (a table of at most a slot or two a row). The parts are
    then combined into as few exact 64-bit words as their spans allow, and each row
    gets one 64-bit number: its key (one word) shifted left with its place in the low
    bits, or where the key is too wide for that, the high bits of a hash of the words.
    One sort of these numbers lines up equal keys, the rows ascending in each; with a
    hash, neighbours of one hash are compared on every word, and the few runs of one
    hash but different keys are sorted by their keys.
    """
    rows: np.ndarray | None = None
    for codes, span in parts:
        if 0 < span <= _narrow(n):
            c = codes if rows is None else codes[rows]
            count = np.bincount(c, minlength=span)
            if (count == 1).any():  # a value that comes once: its row cannot
                keep = count[c] >= 2
                rows = np.flatnonzero(keep) if rows is None else rows[keep]
    m = n if rows is None else len(rows)
    words = _words([(codes if rows is None else codes[rows], span) for codes, span in parts],
                   m)
    bits = np.uint64(_place_bits(m))
    exact = len(words) == 1 and 0 < words[0][1] <= 1 << (64 - int(bits))
    if exact:
        key, total = words[0]
        if total <= _narrow(m):  # count the keys themselves
            keep = np.bincount(key, minlength=total)[key] >= 2
            rows = np.flatnonzero(keep) if rows is None else rows[keep]
            key = key[keep]
            m = len(rows)
            bits = np.uint64(_place_bits(m))
        packed = key.view(np.uint64) << bits
    else:
        packed = _mix([w for w, _ in words], m)
        packed >>= bits
        packed <<= bits
    for at in range(0, m, _KEY_BATCH):  # the places, a block at a time (no array of m)
        packed[at:at + _KEY_BATCH] |= np.arange(at, min(at + _KEY_BATCH, m), dtype=np.uint64)
    packed.sort()
    place = (packed & ((np.uint64(1) << bits) - np.uint64(1))).view(np.int64)
    packed >>= bits
    same = packed[1:] == packed[:-1]  # the next row in order has the same key
    del packed
    if not exact:
        place, same = _split_mixed_runs(place, same, [w for w, _ in words])
    return _links_of_runs(rows, place, same, n)


def _words(parts: list[tuple[np.ndarray, int]], m: int) -> list[tuple[np.ndarray, int]]:
    """Parts combined into exact int64 words while the product of their spans stays below
    2**63 (a hash, span 0, is a word of its own), each with its span; the parts are not
    changed.

    Examples
    --------
    >>> [(w.tolist(), s) for w, s in _words([(np.array([1, 0]), 3), (np.array([4, 2]), 5),
    ...                                      (np.array([7, 7]), 2**62)], 2)]
    [([9, 2], 15), ([7, 7], 4611686018427387904)]
    """
    words: list[tuple[np.ndarray, int]] = []
    key, total, own = None, 1, False  # own: the word is an array of its own, to change
    for codes, span in parts:
        if span == 1:
            continue
        if span == 0 or total * span >= 1 << 63:
            if key is not None:
                words.append((key, total))
            key, total = None, 1
            if span == 0:
                words.append((codes, 0))
                continue
        if key is None:
            key, own = codes, False
        elif own:  # in place: no array more than the word
            key *= span
            key += codes
        else:
            key, own = key * span + codes, True
        total *= span
    if key is not None or not words:
        words.append((np.zeros(m, np.int64) if key is None else key, total))
    return words


def _narrow(n: int) -> int:
    """The widest span counted with a table (np.bincount) for ``n`` rows."""
    return max(n, 1 << 16)


def _place_bits(m: int) -> int:
    """Bits that number ``m`` places."""
    return max(1, (m - 1).bit_length())


def _mix(codes: list[np.ndarray], m: int) -> np.ndarray:
    """A 64-bit hash of each row's codes (equal codes, equal hashes)."""
    h = np.zeros(m, np.uint64)
    for c in codes:
        h ^= c.view(np.uint64)
        h *= _HASH_MIX
        h ^= h >> np.uint64(29)
    h *= _HASH_BASE
    h ^= h >> np.uint64(32)
    return h


def _split_mixed_runs(place: np.ndarray, same: np.ndarray, codes: list[np.ndarray]) -> tuple[
        np.ndarray, np.ndarray]:
    """Runs of one hash compared on every part: a run holding several keys (two keys of
    one hash; rare) is sorted by key, then by place.

    Examples
    --------
    >>> place, same = np.array([0, 1, 2, 3]), np.array([True, True, True])  # one hash
    >>> codes = [np.array([5, 6, 5, 6])]  # but two keys
    >>> _split_mixed_runs(place, same, codes)
    (array([0, 2, 1, 3]), array([ True, False,  True]))
    """
    at = np.flatnonzero(same)
    if not len(at):
        return place, same
    unequal = np.zeros(len(at), dtype=bool)
    here, there = place[at], place[at + 1]
    for c in codes:
        unequal |= c[here] != c[there]
    if not unequal.any():
        return place, same
    # the runs (of one hash) of the pairs that differ: consecutive pairs make one run
    run = np.cumsum(np.r_[True, np.diff(at) != 1])
    mixed = np.zeros(int(run[-1]) + 1, dtype=bool)
    mixed[run[unequal]] = True
    pairs = at[mixed[run]]
    at = np.union1d(pairs, pairs + 1)  # the positions of those runs, each in one piece
    run = np.cumsum(np.r_[True, (np.diff(at) != 1) | ~same[at[:-1]]])
    items = place[at]
    stacked = np.stack([c[items] for c in codes], axis=1)
    label = np.unique(stacked, axis=0, return_inverse=True)[1].ravel()
    order = np.lexsort((items, label, run))
    place = place.copy()
    place[at] = items[order]
    label = label[order]
    same = same.copy()
    inside = run[1:] == run[:-1]
    same[at[:-1][inside]] = label[1:][inside] == label[:-1][inside]
    return place, same


def _links_of_runs(rows: np.ndarray | None, place: np.ndarray, same: np.ndarray,
                   n: int) -> _Links:
    """The links of the runs of equal keys (``same``: a position's key equals the next
    one's; the places ascend within a run, ``rows[place]`` are the rows, all of them for
    None): each run of two or more is a group, numbered by its first row; the rows come
    ordered by group, then row."""
    dup = np.zeros(len(place), dtype=bool)
    dup[1:] = same
    dup[:-1] |= same
    at = np.flatnonzero(dup)
    member = place[at] if rows is None else rows[place[at]]
    head = ~np.r_[False, same][at]  # the first row of its group
    start = np.flatnonzero(head)
    size = np.diff(np.r_[start, len(at)])
    first = member[start]
    count = len(start)
    # groups numbered by their first rows: the rank of each among the first rows
    mark = np.zeros(n, dtype=bool)
    mark[first] = True
    number = np.cumsum(mark, dtype=np.int64 if n >= 1 << 31 else np.int32)[first] - 1
    del mark
    by_group = np.empty(count, np.int64)
    by_group[number] = size
    offset = np.cumsum(by_group) - by_group
    target = np.repeat(offset[number] - start, size)
    target += np.arange(len(at))
    row = np.empty(len(at), np.int64)
    row[target] = member
    del target
    first_of = np.empty(count, np.int64)
    first_of[number] = first
    partner = np.repeat(first_of, by_group)  # the first row; the first row's, the second
    first_of[number] = member[start + 1]
    partner[offset] = first_of
    group = np.repeat(np.arange(1, count + 1), by_group)
    return _Links(row, group, partner, np.zeros(len(row), np.int64),
                  np.full(len(row), -1, np.int64))


def _same_values(table: pd.DataFrame, columns: list[str], links: _Links) -> bool:
    """Whether every row holds the values of its partner in ``columns`` (nulls equal)."""
    for c in columns:
        values = table[c].to_numpy(dtype=object)
        a, b = values[links.row], values[links.partner]
        blank = pd.isna(a)  # None, NaN and NA alike; NA has no truth value
        if (blank != pd.isna(b)).any() or (a[~blank] != b[~blank]).any():
            return False
    return True


# ----------------------------------------------------------------------------- fuzzy pairs


def _sorted_pairs(block: np.ndarray, cap: int, window: int) -> Iterator[tuple[np.ndarray,
                                                                             np.ndarray]]:
    """Position pairs ``(i, i + k)`` of a sorted ``block`` array in the same block: every
    pair of blocks of up to ``cap`` items, the ``window`` next items in larger ones.

    Examples
    --------
    >>> [(a.tolist(), b.tolist()) for a, b in _sorted_pairs(np.array([1, 1, 1, 2]), 3, 1)]
    [([0, 1], [1, 2]), ([0], [2])]
    """
    n = len(block)
    if n < 2:
        return
    same = block[1:] == block[:-1]
    start = np.flatnonzero(np.r_[True, ~same])
    size = np.diff(np.r_[start, n])
    big = np.repeat(size > cap, size)
    act = np.flatnonzero(same)
    k = 1
    while len(act):
        yield act, act + k
        k += 1
        if k > window:
            act = act[~big[act]]
        act = act[act + k < n]
        act = act[block[act + k] == block[act]]


def _normalize(values: pd.Series) -> pa.Array:
    """Upper case, accents spelled plainly, dots and apostrophes dropped (``A.C.M.E.`` is
    ``ACME``), other punctuation as spaces, spaces collapsed."""
    text = fold_marks(pc.utf8_upper(as_string_array(values.astype("string"))))
    text = pc.replace_substring_regex(text, r"[.'’`]", "")
    text = pc.replace_substring_regex(text, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(text)


def _deletion_keys(texts: np.ndarray, lengths: np.ndarray, group: np.ndarray,
                   variants: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(item, key)`` in batches: the hash of each text within its group, and for
    ``variants`` the hashes of the text with one character left out (characters, not
    bytes; the first :data:`_WIDTH`).

    Two texts one edit apart (replaced, dropped, added or two neighbours swapped) share
    a key: both without the replaced or swapped character, or the longer one without
    the added one.

    Examples
    --------
    >>> texts = np.array(["ACME", "ACEM", "BOLT"], dtype=object)
    >>> items, keys = next(_deletion_keys(texts, np.array([4, 4, 4]), np.zeros(3, int),
    ...                                   np.ones(3, bool)))
    >>> shared = pd.Series(keys).duplicated(keep=False).to_numpy()
    >>> sorted(set(items[shared].tolist()))  # "ACM" from both
    [0, 1]
    """
    powers = np.cumprod(np.r_[np.uint64(1), np.full(_WIDTH, _HASH_BASE, np.uint64)],
                        dtype=np.uint64)
    for lo in range(0, len(texts), _KEY_BATCH):
        length = np.minimum(lengths[lo:lo + _KEY_BATCH], _WIDTH)
        m, width = len(length), max(1, int(length.max(initial=0)))
        # code points, as fixed-width UTF-32 (NumPy casts without a loop in Python)
        mat = np.asarray(texts[lo:lo + m], dtype=f"<U{width}").view(np.uint32)
        mat = mat.reshape(m, width)
        prefix = np.zeros((m, width + 1), dtype=np.uint64)
        for j in range(width):  # a loop over character positions
            prefix[:, j + 1] = prefix[:, j] * _HASH_BASE + (mat[:, j].astype(np.uint64) + 1)
        mix = (group[lo:lo + m].astype(np.uint64) + np.uint64(1)) * _HASH_MIX
        full = prefix[np.arange(m), length] + mix
        col = np.arange(width)
        take = (col[None, :] < length[:, None]) & variants[lo:lo + m, None]
        r, j = np.nonzero(take)
        exp = length[r] - j - 1
        h = full[r] + (prefix[r, j] - prefix[r, j + 1]) * powers[exp]
        yield np.r_[np.arange(lo, lo + m), r + lo], np.r_[full, h]


def _similarity(a: np.ndarray, b: np.ndarray, la: np.ndarray, lb: np.ndarray, t: float,
                workers: int) -> np.ndarray:
    """Damerau-Levenshtein similarity of text pairs, 0 below ``t``: a length filter, then
    Levenshtein (at most twice as many edits: a swap is two), then the exact measure on
    what is left."""
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein, Levenshtein

    out = np.zeros(len(a), dtype=np.float32)
    longer = np.maximum(la, lb)
    fit = (np.abs(la - lb) <= (1 - t) * longer + 1e-9) & (longer > 0)
    equal = fit & (la == lb)
    equal[equal] = a[equal] == b[equal]
    out[equal] = 1.0
    rest = np.flatnonzero(fit & ~equal)
    for lo in range(0, len(rest), _BATCH):
        part = rest[lo:lo + _BATCH]
        lev = process.cpdist(a[part], b[part], scorer=Levenshtein.normalized_similarity,
                             score_cutoff=max(2 * t - 1 - _EPS, 0.0), workers=workers)
        part = part[lev >= max(2 * t - 1 - _EPS, 1e-9)]
        dl = process.cpdist(a[part], b[part], scorer=DamerauLevenshtein.normalized_similarity,
                            score_cutoff=t - _EPS, workers=workers)
        out[part] = np.where(dl >= t - _EPS, dl, 0)
    return out


class _Finder:
    """Pairs of representatives (rows distinct on every compared column) that meet every
    criterion, and the groups they make."""

    def __init__(self, group: np.ndarray, diffs: dict[str, np.ndarray], nears: list[_Near],
                 sims: list[_Similar], workers: int) -> None:
        self.diffs, self.nears, self.sims, self.workers = diffs, nears, sims, workers
        n = len(group)
        parts = [group, *diffs.values(), *(_dense(x.values) for x in nears),
                 *(s.codes for s in sims)]
        self.rep_of = _dense(_combine([(p, int(p.max(initial=-1)) + 1) for p in parts], n)[0])
        count = int(self.rep_of.max(initial=-1)) + 1
        self.order, start, self.rep_size = _first_rows(self.rep_of, count)
        self.rep_first = self.order[start] if count else np.zeros(0, np.int64)
        self.rep_group = group[self.rep_first]
        self.compared = 0
        self.orders: dict[str, np.ndarray] = {}
        self.edge_a: list[np.ndarray] = []
        self.edge_b: list[np.ndarray] = []
        self.edge_sim: list[np.ndarray] = []

    # -- the criteria on pairs of representatives ----------------------------------------

    def _keep(self, a: np.ndarray, b: np.ndarray, *, skip: str | None = None,
              count: bool = True) -> None:
        """Check every criterion on the pairs ``(a, b)`` and keep those that pass."""
        self.compared += len(a) if count else 0
        ra, rb = self.rep_first[a], self.rep_first[b]
        ok = np.ones(len(a), dtype=bool)
        for codes in self.diffs.values():
            ok &= codes[ra] != codes[rb]
        for x in self.nears:
            if x.name != skip:
                ok[ok] = x.within(ra[ok], rb[ok])
        scores = np.zeros((len(a), len(self.sims)), dtype=np.float32)
        for k, s in enumerate(self.sims):
            idx = np.flatnonzero(ok)
            assert s.norm is not None and s.length is not None
            got = _similarity(s.norm[a[idx]], s.norm[b[idx]], s.length[a[idx]],
                              s.length[b[idx]], s.threshold, self.workers)
            scores[idx, k] = got
            ok[idx] = got > 0
        self.edge_a.append(a[ok])
        self.edge_b.append(b[ok])
        self.edge_sim.append(scores[ok])

    # -- candidate sources ---------------------------------------------------------------

    def _pool(self) -> np.ndarray:
        """Representatives whose group holds another one."""
        per_group = np.bincount(self.rep_group) if len(self.rep_group) else np.zeros(0, int)
        return np.flatnonzero(per_group[self.rep_group] >= 2)

    def _order(self, pool: np.ndarray, x: _Near) -> tuple[np.ndarray, np.ndarray]:
        """``pool`` sorted by group and ``x``, and the group of each."""
        if x.name not in self.orders:
            v, g = x.values[self.rep_first[pool]], self.rep_group[pool]
            lo = v.min(initial=0)
            span = int(v.max(initial=0) - lo) + 1 if v.dtype.kind == "i" else 0
            if 0 < span and span * (int(g.max(initial=0)) + 1) < 2**62:
                order = np.argsort(g * span + (v - lo))  # one sort of one key
            else:
                by_value = np.argsort(v)
                order = by_value[np.argsort(g[by_value], kind="stable")]
            self.orders[x.name] = pool[order]
        order = self.orders[x.name]
        return order, self.rep_group[order]

    def _windows(self, pool: np.ndarray, x: _Near) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Pairs within ``x``'s tolerance, by offset in the order of ``x`` within each
        group: offset ``k + 1`` is tried only where offset ``k`` was still within."""
        order, g = self._order(pool, x)
        act = np.flatnonzero(g[1:] == g[:-1])
        k = 1
        while len(act):
            act = act[x.within(self.rep_first[order[act]], self.rep_first[order[act + k]])]
            if not len(act):
                return
            yield order[act], order[act + k]
            k += 1
            act = act[act + k < len(order)]
            act = act[g[act + k] == g[act]]

    def _window_pairs(self, pool: np.ndarray, x: _Near, limit: float) -> int:
        """How many pairs ``x``'s windows hold (counting stops past ``limit``)."""
        total = 0
        for a, _ in self._windows(pool, x):
            total += len(a)
            if total > limit:
                break
        return total

    def _near_source(self, pool: np.ndarray) -> bool:
        """Candidates from the windows of the near column that holds the fewest pairs;
        False (nothing done) when a similar column would give fewer."""
        if len(self.nears) == 1 and not self.sims and not self.diffs:
            # neighbours within the tolerance chain every group: offset 1 suffices
            for a, b in self._windows(pool, self.nears[0]):
                self._keep(a, b, skip=self.nears[0].name)
                break
            return True
        limit = min(_NEAR_BUDGET * len(pool), _NEAR_CAP) if self.sims else float("inf")
        sizes = [self._window_pairs(pool, x, limit) for x in self.nears]
        best = self.nears[int(np.argmin(sizes))]
        if min(sizes) > limit:
            return False
        for a, b in self._windows(pool, best):
            self._keep(a, b, skip=best.name)
        return True

    def _similar_source(self, pool: np.ndarray, s: _Similar) -> None:
        """Pairs of texts from small groups in full, from large ones by deletion keys and
        sorted neighbours; then every pair of representatives of two similar texts."""
        assert s.norm is not None and s.length is not None
        norm = s.norm[pool]
        filled = s.length[pool] > 0
        pool = pool[filled]
        parts = [self.rep_group[pool], _dense(norm[filled])]
        unit_key = _dense(_combine([(p, int(p.max(initial=-1)) + 1) for p in parts],
                                   len(pool))[0])
        n_units = int(unit_key.max(initial=-1)) + 1
        u_order, u_start, u_size = _first_rows(unit_key, n_units)
        u_rep = pool[u_order[u_start]]  # a representative per distinct text
        u_group = self.rep_group[u_rep]
        texts = s.norm[u_rep]
        lengths = s.length[u_rep]
        ua, ub = _similar_texts(texts, lengths, u_group, s.threshold, self.workers, self)
        # representatives of one text: all alike on it; of two similar texts: each pair
        reps = pool[u_order]
        alone = len(self.sims) == 1 and not self.nears and not self.diffs
        if alone:  # chains within a text and one pair per two texts make the same groups
            unit = unit_key[u_order]
            inner = np.flatnonzero(unit[1:] == unit[:-1])
            self._keep(reps[inner], reps[inner + 1])
            self._keep(u_rep[ua], u_rep[ub], count=False)
            return
        for a, b in _expand(u_start, u_size, ua, ub):
            self._keep(reps[a], reps[b], count=False)
        same_text = np.arange(n_units)
        for a, b in _expand(u_start, u_size, same_text, same_text):
            self._keep(reps[a], reps[b])

    def _all_pairs_source(self, pool: np.ndarray) -> None:
        order = pool[np.argsort(self.rep_group[pool], kind="stable")]
        size = np.bincount(self.rep_group[order]).astype(np.float64)
        total = float((size * (size - 1) / 2).sum())
        if total > _MAX_PAIRS:
            raise SchemaError(
                f"duplicates: different= alone would compare {total:,.0f} pairs of rows "
                f"within the groups of same=; add a column to same= (or a near= or similar= "
                "column) so that the groups are smaller")
        g = self.rep_group[order]
        for i, j in _sorted_pairs(g, len(order), len(order)):
            self._keep(order[i], order[j])

    # -- groups ---------------------------------------------------------------------------

    def run(self) -> tuple[_Links, int]:
        pool = self._pool()
        for s in self.sims:  # only representatives that have a partner to compare with
            norm = _normalize(s.raw.iloc[self.rep_first[pool]])
            s.norm = np.full(len(self.rep_first), "", dtype=object)
            s.norm[pool] = norm.to_numpy(zero_copy_only=False)
            s.length = np.zeros(len(self.rep_first), dtype=np.int64)
            s.length[pool] = pc.utf8_length(norm).to_numpy()
        done = bool(self.nears) and self._near_source(pool)
        if not done and self.sims:
            self._similar_source(pool, self.sims[0])
        elif not done and len(self.diffs) == 1 and not self.nears and not self.sims:
            self._one_different(pool, next(iter(self.diffs.values())))
        elif not done:
            self._all_pairs_source(pool)
        return self._links(), self.compared

    def _one_different(self, pool: np.ndarray, codes: np.ndarray) -> None:
        """One different column, nothing else: a group with two distinct values is a
        duplicate group; each representative is linked to the first one of another
        value."""
        if not len(pool):  # no two rows share the compared values: nothing to link
            return
        order = pool[np.argsort(self.rep_group[pool], kind="stable")]
        g = self.rep_group[order]
        d = codes[self.rep_first[order]]
        start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        size = np.diff(np.r_[start, len(order)])
        first = np.repeat(start, size)
        other = d != d[first]
        # the first representative of another value than the group's first
        pos = np.where(other, np.arange(len(order)), len(order))
        second = np.minimum.reduceat(pos, start) if len(start) else pos[:0]
        second = np.repeat(second, size)
        has = second < len(order)
        partner = np.where(other, first, np.minimum(second, len(order) - 1))
        a, b = order[has], order[partner[has]]
        self.compared += len(a)
        self.edge_a.append(a)
        self.edge_b.append(b)
        self.edge_sim.append(np.zeros((len(a), 0), np.float32))

    def _links(self) -> _Links:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        count = len(self.rep_first)
        a = np.concatenate(self.edge_a) if self.edge_a else np.zeros(0, np.int64)
        b = np.concatenate(self.edge_b) if self.edge_b else np.zeros(0, np.int64)
        self.sim = (np.concatenate(self.edge_sim) if self.edge_sim
                    else np.zeros((0, len(self.sims)), np.float32))
        self.a, self.b = a, b
        graph = coo_matrix((np.ones(len(a), np.int32), (a, b)), shape=(count, count))
        _, comp = connected_components(graph, directed=False)
        linked = np.zeros(count, dtype=bool)
        linked[a] = linked[b] = True
        copies = self.rep_size >= 2 if not self.diffs else np.zeros(count, dtype=bool)
        in_group = linked | copies
        # one pair per linked representative: the one with the earliest partner row
        both_a, both_b = np.r_[a, b], np.r_[b, a]
        edge = np.r_[np.arange(len(a)), np.arange(len(a))]
        pick = np.lexsort((self.rep_first[both_b], both_a))
        both_a, both_b, edge = both_a[pick], both_b[pick], edge[pick]
        first = np.r_[True, both_a[1:] != both_a[:-1]] if len(both_a) else np.zeros(0, bool)
        rep_partner = np.full(count, -1, np.int64)
        rep_edge = np.full(count, -1, np.int64)
        rep_partner[both_a[first]] = both_b[first]
        rep_edge[both_a[first]] = edge[first]
        rows = np.flatnonzero(in_group[self.rep_of])
        rep = self.rep_of[rows]
        group = _number_groups(comp[rep], rows)
        head = self.rep_first[rep]
        # the second row of each representative, for a copy with no other link
        second = np.full(count, -1, np.int64)
        many = self.rep_size >= 2
        second[many] = self.order[(np.cumsum(self.rep_size) - self.rep_size)[many] + 1]
        is_head = rows == head
        pair = is_head & (rep_edge[rep] >= 0)
        partner = np.where(pair, self.rep_first[np.maximum(rep_partner[rep], 0)],
                           np.where(is_head, second[rep], head))
        edge_of = np.where(pair, rep_edge[rep], -1)
        bits = np.zeros(len(rows), np.int64)
        bits[pair] = self._bits(a[edge_of[pair]], b[edge_of[pair]])
        return _Links(rows, group, partner, bits, edge_of)

    def _bits(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ra, rb = self.rep_first[a], self.rep_first[b]
        bits = np.full(len(a), _DIFFERENT if self.diffs else 0, np.int64)
        for x in self.nears:
            bits |= np.where(x.values[ra] != x.values[rb], _NEAR, 0)
        for s in self.sims:
            bits |= np.where(s.codes[ra] != s.codes[rb], _SIMILAR, 0)
        return bits


def _similar_texts(texts: np.ndarray, lengths: np.ndarray, group: np.ndarray, t: float,
                   workers: int, counter: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, of distinct texts of one group that are similar.

    Groups of few texts compare all pairs; larger ones the texts that share a deletion
    key (bucketed by key, so that memory stays bounded) and, for texts long enough for
    two edits, sorted neighbours. Each batch of candidates is checked as it comes;
    ``counter.compared`` counts them.
    """
    found_a: list[np.ndarray] = []
    found_b: list[np.ndarray] = []

    def check(a: np.ndarray, b: np.ndarray) -> None:
        a, b = np.minimum(a, b), np.maximum(a, b)
        key = np.sort(a * len(texts) + b)
        key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
        a, b = key // len(texts), key % len(texts)
        counter.compared += len(a)
        sim = _similarity(texts[a], texts[b], lengths[a], lengths[b], t, workers)
        found_a.append(a[sim > 0])
        found_b.append(b[sim > 0])

    per_group = np.bincount(group) if len(group) else np.zeros(0, np.int64)
    small = per_group[group] <= SMALL_GROUP
    idx = np.flatnonzero(small)
    idx = idx[np.argsort(group[idx], kind="stable")]
    for i, j in _sorted_pairs(group[idx], SMALL_GROUP, SMALL_GROUP):
        check(idx[i], idx[j])
    big = np.flatnonzero(~small)
    edits = np.floor((1 - t) * lengths[big] / t + 1e-9)
    variants = edits >= 1
    entries = len(big) + int(np.minimum(lengths[big][variants], _WIDTH).sum())
    buckets = max(1, -(-entries // _KEY_BUCKET))
    # a key's low bits hold its text, so that one plain sort groups the keys (the 40 or
    # so bits of hash left make a few chance candidates, checked like the others)
    bits = np.uint64(max(1, len(big) - 1).bit_length())
    parts: list[list[np.ndarray]] = [[] for _ in range(buckets)]
    for items, keys in _deletion_keys(texts[big], lengths[big], group[big], variants):
        packed = (keys >> bits << bits) | items.astype(np.uint64)
        which = ((keys >> bits) % np.uint64(buckets)).astype(np.int64)
        for b in range(buckets):  # a loop over buckets
            parts[b].append(packed[which == b])
    for b in range(buckets):
        packed = np.sort(np.concatenate(parts[b])) if parts[b] else np.zeros(0, np.uint64)
        parts[b] = []
        items = (packed & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
        for i, j in _sorted_pairs(packed >> bits, SMALL_GROUP, WINDOW):
            a, b_ = big[items[i]], big[items[j]]
            check(a[a != b_], b_[a != b_])
    long = big[edits >= 2]
    if len(long):
        text = pa.array(texts[long], pa.string())
        rotated = pc.replace_substring_regex(text, r"^(\S+) (.*)$", r"\2 \1")
        for key in (text, pc.utf8_reverse(text), rotated):
            tab = pa.table({"g": group[long], "t": key})
            o = pc.sort_indices(tab, sort_keys=[("g", "ascending"), ("t", "ascending")])
            o = o.to_numpy()
            for i, j in _sorted_pairs(group[long][o], 0, WINDOW):
                check(long[o[i]], long[o[j]])
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.unique(np.concatenate(found_a) * len(texts) + np.concatenate(found_b))
    return key // len(texts), key % len(texts)


def _expand(start: np.ndarray, size: np.ndarray, ua: np.ndarray, ub: np.ndarray) -> Iterator[
        tuple[np.ndarray, np.ndarray]]:
    """Positions of every pair of items of units ``ua[k]`` and ``ub[k]`` (items of a unit
    lie at ``start .. start + size``); for ``ua[k] == ub[k]`` the pairs within the unit.
    In batches of about :data:`_BATCH` pairs."""
    same = ua == ub
    count = np.where(same, size[ua] * (size[ua] - 1) // 2, size[ua] * size[ub])
    keep = count > 0
    ua, ub, count, same = ua[keep], ub[keep], count[keep], same[keep]
    edges = np.searchsorted(np.cumsum(count), np.arange(_BATCH, int(count.sum()) + _BATCH,
                                                        _BATCH), side="right")
    lo = 0
    for hi in np.unique(np.r_[edges, len(ua)]):
        if hi <= lo:
            continue
        c = count[lo:hi]
        unit = np.repeat(np.arange(lo, hi), c)
        k = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        s_a, s_b = size[ua[unit]], size[ub[unit]]
        inner = same[unit]
        # across units: (k // size_b, k % size_b); within one: the k-th pair i < j
        i = np.where(inner, 0, k // np.maximum(s_b, 1))
        j = np.where(inner, 0, k % np.maximum(s_b, 1))
        if inner.any():
            kk = k[inner]
            m = s_a[inner]
            # row i holds m - 1 - i pairs; invert the triangular count
            ii = np.floor(((2 * m - 1) - np.sqrt((2 * m - 1) ** 2 - 8.0 * kk)) / 2).astype(
                np.int64)
            before = ii * (2 * m - ii - 1) // 2
            over = before > kk
            ii -= over
            before = ii * (2 * m - ii - 1) // 2
            under = kk - before >= m - 1 - ii
            ii += under
            before = ii * (2 * m - ii - 1) // 2
            i[inner] = ii
            j[inner] = ii + 1 + (kk - before)
        yield start[ua[unit]] + i, start[ub[unit]] + j
        lo = hi


# ----------------------------------------------------------------------------- tables


class _ExactReasons:
    def __init__(self, same: list[str], *, whole: bool) -> None:
        self.text = "same record" if whole else "same " + ", ".join(same)

    def __call__(self, links: _Links) -> np.ndarray:
        out = np.empty(len(links.row), dtype=object)
        out.fill(self.text)  # one text shared (np.full would make a copy per row)
        return out


class _FuzzyReasons:
    """Why each row is in its group: the columns it shares with its partner, and how the
    others differ."""

    def __init__(self, table: pd.DataFrame, same: list[str], diffs: dict[str, np.ndarray],
                 nears: list[_Near], sims: list[_Similar], finder: _Finder) -> None:
        self.table, self.same, self.diffs = table, same, diffs
        self.nears, self.sims, self.finder = nears, sims, finder

    def __call__(self, links: _Links) -> np.ndarray:
        r, p = links.row, links.partner
        m = len(r)
        null = pa.nulls(m, pa.string())
        same_names: list[pa.Array] = [pa.array(np.full(m, c, dtype=object)) for c in self.same]
        parts: list[pa.Array] = []
        for c in self.diffs:
            equal = self.diffs[c][r] == self.diffs[c][p]
            same_names.append(_where(equal, c, null))
            parts.append(_where(~equal, _versus(c, self.table[c], r, p, quote=True), null))
        for x in self.nears:
            equal = x.values[r] == x.values[p]
            same_names.append(_where(equal, x.name, null))
            parts.append(_where(~equal, _near_text(x, r, p), null))
        for k, s in enumerate(self.sims):
            equal = s.codes[r] == s.codes[p]
            same_names.append(_where(equal, s.name, null))
            score = np.ones(m)
            has = links.edge >= 0
            score[has] = self.finder.sim[links.edge[has], k]
            text = pc.binary_join_element_wise(
                _versus(s.name, s.raw, r, p, quote=True), " (",
                decimal_text(score, 2, sign=False), ")", "")
            parts.append(_where(~equal, text, null))
        named = _join(same_names, ", ", m)
        head = pc.if_else(pc.equal(named, ""), null,
                          pc.binary_join_element_wise("same ", named, ""))
        out = _join([head, *parts], "; ", m)
        return np.asarray(out.to_numpy(zero_copy_only=False), dtype=object)


def _join(parts: list[pa.Array], sep: str, m: int) -> pa.Array:
    """Join texts element-wise, nulls left out (all null: an empty text).

    (pyarrow's own join with ``null_handling="skip"`` drops the rows that are all null.)
    """
    acc = pa.nulls(m, pa.string())
    for part in parts:
        both = pc.binary_join_element_wise(acc, part, sep)
        acc = pc.if_else(pc.is_null(acc), part, pc.if_else(pc.is_null(part), acc, both))
    return pc.fill_null(acc, "")


def _where(mask: np.ndarray, value: object, null: pa.Array) -> pa.Array:
    if not isinstance(value, pa.Array):
        value = pa.array(np.full(len(mask), value, dtype=object), pa.string())
    return pc.if_else(pa.array(mask), value, null)


def _versus(name: str, values: pd.Series, r: np.ndarray, p: np.ndarray, *,
            quote: bool) -> pa.Array:
    if pd.api.types.is_datetime64_any_dtype(values):
        values = pd.Series(values.dt.strftime("%Y-%m-%d %H:%M").str.removesuffix(" 00:00"))
    va = as_string_array(values.iloc[r].reset_index(drop=True))
    vb = as_string_array(values.iloc[p].reset_index(drop=True))
    q = "'" if quote else ""
    return pc.binary_join_element_wise(f"{name} {q}", va, f"{q} vs {q}", vb, q, "")


def _near_text(x: _Near, r: np.ndarray, p: np.ndarray) -> pa.Array:
    va, vb = x.values[r], x.values[p]
    if x.unit == "money":
        a, b = decimal_text(va / 100, 2, sign=False), decimal_text(vb / 100, 2, sign=False)
        gap = decimal_text(np.abs(va - vb) / 100, 2, sign=False)
    elif x.unit == "date":
        stamps_a, stamps_b = va.astype("datetime64[ns]"), vb.astype("datetime64[ns]")
        timed = bool((x.values % 86_400_000_000_000).any())
        fmt = "%Y-%m-%d %H:%M" if timed else "%Y-%m-%d"
        a = pc.strftime(pa.array(stamps_a), fmt)
        b = pc.strftime(pa.array(stamps_b), fmt)
        days = np.abs(va - vb) / 86_400_000_000_000
        whole = days == np.round(days)
        gap = pc.if_else(pa.array(whole), pc.binary_join_element_wise(
            pc.cast(pa.array(np.round(days).astype(np.int64)), pa.string()),
            pa.array(np.where(days == 1, " day", " days")), ""),
            pc.binary_join_element_wise(decimal_text(days * 24, 1, sign=False), " h", ""))
    else:
        a, b = pc.cast(pa.array(va), pa.string()), pc.cast(pa.array(vb), pa.string())
        gap = pc.cast(pa.array(np.abs(va - vb)), pa.string())
    if x.relative:
        scale = np.maximum(np.abs(va), np.abs(vb)).astype(np.float64)
        share = np.where(scale > 0, np.abs(va - vb) / np.maximum(scale, 1e-300) * 100, 0)
        gap = pc.binary_join_element_wise(decimal_text(share, 2, sign=False), "%", "")
    return pc.binary_join_element_wise(f"{x.name} ", a, " vs ", b, " (", gap, " apart)", "")


def _tables(table: pd.DataFrame, links: _Links, same: list[str], ids: np.ndarray | None,
            cents: np.ndarray | None, reason_of: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(links.group) and (links.group[1:] < links.group[:-1]).any():
        order = np.argsort(links.group, kind="stable")  # the rows ascend within a group
        links = _Links(links.row[order], links.group[order], links.partner[order],
                       links.bits[order], links.edge[order])
    row, group, bits = links.row, links.group, links.bits
    columns: dict[str, Any] = {"row": row}
    if ids is not None:
        columns["id"] = ids[row]
    columns.update(group=group, kind=pd.Categorical.from_codes(bits, _KIND_NAMES),
                   matched_to=links.partner,
                   reason=reason_of(links) if len(row) else np.zeros(0, dtype=object))
    rows = pd.DataFrame(columns, copy=False)  # columns of their own: not copied into one
    start = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else \
        np.zeros(0, np.int64)
    size = np.diff(np.r_[start, len(group)])
    group_bits = np.bitwise_or.reduceat(bits, start) if len(start) else bits[:0]
    first = row[start]
    columns = {"group": group[start], "size": size,
               "kind": pd.Categorical.from_codes(group_bits, _KIND_NAMES), "first_row": first}
    for c in same:
        columns[f"{c} (key)" if c in _RESERVED else c] = table[c].iloc[first].to_numpy()
    at_risk = 0
    if cents is not None:
        amounts = cents[row]
        total = np.add.reduceat(amounts, start) if len(start) else amounts[:0]
        largest = np.maximum.reduceat(np.abs(amounts), start) if len(start) else amounts[:0]
        absolute = np.add.reduceat(np.abs(amounts), start) if len(start) else amounts[:0]
        columns.update(total_amount=total / 100, at_risk=(absolute - largest) / 100)
        at_risk = int((absolute - largest).sum())
    groups = pd.DataFrame(columns, copy=False)
    groups.attrs["at_risk_cents"] = at_risk
    return groups, rows


def _facts(n: int, groups: pd.DataFrame, rows: pd.DataFrame, compared: int,
           has_amount: bool) -> dict[str, Any]:
    by_group = groups["kind"].value_counts(sort=False)
    by_row = rows["kind"].value_counts(sort=False)
    return {
        "rows": n,
        "duplicate_rows": len(rows),
        "groups": len(groups),
        "groups_by_kind": {str(k): int(v) for k, v in by_group.items() if v},
        "rows_by_kind": {str(k): int(v) for k, v in by_row.items() if v},
        "largest_group": int(groups["size"].max()) if len(groups) else 0,
        "pairs_compared": int(compared),
        "value_at_risk": groups.attrs["at_risk_cents"] / 100 if has_amount else None,
    }


def _plot(result: Examination, ax: Axes) -> None:
    """Groups by size (2, 3, 4, 5-9, 10+), stacked by kind."""
    groups = result["groups"]
    labels = ["2", "3", "4", "5-9", "10+"]
    if not len(groups):
        ax.text(0.5, 0.5, "no duplicates", ha="center", va="center")
        ax.set_axis_off()
        return
    band = np.searchsorted([3, 4, 5, 10], groups["size"].to_numpy(), side="right")
    bottom = np.zeros(len(labels))
    for kind in [k for k in _KIND_NAMES if (groups["kind"] == k).any()]:
        counts = np.bincount(band[(groups["kind"] == kind).to_numpy()], minlength=len(labels))
        ax.bar(labels, counts, bottom=bottom, label=kind)
        bottom += counts
    ax.set_xlabel("rows in the group")
    ax.set_ylabel("groups")
    ax.set_title(f"{len(groups):,} duplicate groups, {int(groups['size'].sum()):,} rows")
    ax.legend(frameon=False, fontsize=8)
