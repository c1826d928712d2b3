"""Dataframes in and out: pandas, polars, pyarrow and cuDF become checked columns.

Kernels call these helpers to turn whatever frame a user holds into validated
NumPy columns (money as int64 cents, dates as int64 days), raising a
:class:`~nexus_lab.errors.SchemaError` that names the column, the first
offending rows and the fix.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import io
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError

__all__ = [
    "CURRENCY_SIGNS",
    "MONEY_COLUMNS",
    "cents_text",
    "day_month_order",
    "decimal_text",
    "frame_bytes",
    "looks_like_money",
    "parse_cents",
    "parse_days",
    "parse_timestamps",
    "read_dates",
    "read_debit_credit",
    "read_money",
    "select_columns",
    "to_pandas",
]

_SHOW = 5  # how many offending rows an error message lists
_CURRENCY = re.compile(r"[$€£¥₹]|\b[A-Z]{3}\b")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def to_pandas(data: FrameLike, name: str = "table") -> pd.DataFrame:
    """Return ``data`` as a pandas DataFrame.

    Accepts pandas, polars (eager or lazy), pyarrow Tables, cuDF frames and
    anything with ``to_pandas()``, as well as a dict of columns or a list of
    records.

    Parameters
    ----------
    data : frame-like
        The table.
    name : str
        Used in error messages (``"bank"``, ``"ledger"``...).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> to_pandas({"a": [1, 2]}).shape
    (2, 1)
    """
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "collect") and not hasattr(data, "to_pandas"):  # polars LazyFrame
        data = data.collect()
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.to_pandas()
    if hasattr(data, "to_pandas"):  # polars, cuDF, pyarrow-like
        out = data.to_pandas()
        if isinstance(out, pd.DataFrame):
            return out
    if isinstance(data, Mapping) or (
        isinstance(data, Sequence) and not isinstance(data, str | bytes)
    ):
        return pd.DataFrame(data)
    raise SchemaError(
        f"{name} must be a DataFrame (pandas, polars, pyarrow or cuDF), got "
        f"{type(data).__name__}; load it first, e.g. pandas.read_csv(path)",
        table=name,
    )


def frame_bytes(frame: object) -> bytes:
    """A frame's canonical bytes: its Arrow IPC stream, without the index.

    What NEXUS Lab hashes and signs for a table (:func:`nexus_lab.crypto.signing_input`,
    review approvals): the same frame gives the same bytes, and any change of a value,
    a column name, a column order or a dtype gives other bytes. The bytes are an open
    format that any Arrow library reads back.

    Parameters
    ----------
    frame : frame-like
        Anything :func:`to_pandas` takes (pandas, polars, pyarrow, cuDF...).

    Returns
    -------
    bytes
        The Arrow IPC stream (schema, then the record batches) of the frame converted
        with ``pyarrow.Table.from_pandas(..., preserve_index=False)``.

    Examples
    --------
    >>> data = frame_bytes(pd.DataFrame({"invoice": ["A-1", "A-2"], "amount": [950, 1200]}))
    >>> pa.ipc.open_stream(data).read_all().to_pydict()
    {'invoice': ['A-1', 'A-2'], 'amount': [950, 1200]}
    >>> data == frame_bytes({"invoice": ["A-1", "A-2"], "amount": [950, 1200]})
    True
    >>> data == frame_bytes(pd.DataFrame({"invoice": ["A-1", "A-2"], "amount": [950, 1201]}))
    False
    """
    table = pa.Table.from_pandas(to_pandas(frame, "frame"), preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def select_columns(
    df: pd.DataFrame,
    *,
    name: str,
    required: Iterable[str],
    optional: Iterable[str] = (),
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Rename a user's columns to the canonical names and keep the known ones.

    Parameters
    ----------
    df : pandas.DataFrame
        The user's table.
    name : str
        The table's name in error messages.
    required, optional : iterable of str
        Canonical column names.
    columns : mapping, optional
        ``{canonical_name: users_name}``, e.g. ``{"amount": "Amount (USD)"}``.

    Returns
    -------
    pandas.DataFrame
        Only the canonical columns that are present, renamed.

    Raises
    ------
    SchemaError
        When a required column is missing, naming the closest existing column.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1], "amt": [2.5]})
    >>> select_columns(df, name="bank", required=["transaction_id", "amount"],
    ...                columns={"transaction_id": "id", "amount": "amt"}).columns.tolist()
    ['transaction_id', 'amount']
    """
    required, optional = list(required), list(optional)
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(required) - set(optional))
    if unknown:
        raise SchemaError(
            f"columns= names {unknown} for {name}, which are not columns NEXUS Lab uses here; "
            f"the keys must be among {required + optional} (e.g. columns={{'amount': 'Amt'}})",
            table=name,
        )
    have = [str(c) for c in df.columns]
    rename: dict[str, str] = {}
    for canonical in required + optional:
        source = mapping.get(canonical) or find_column(have, canonical) or canonical
        if source in have:
            rename[source] = canonical
        elif canonical in required or canonical in mapping:
            fits = _money_candidates(df, have, canonical, required + optional)
            lower = {c.lower(): c for c in reversed(fits)}
            close = [lower[c] for c in difflib.get_close_matches(canonical, lower, n=1,
                                                                  cutoff=0.5)]
            if not close:
                close = [c for c in fits if canonical in c.lower() or c.lower() in canonical][:1]
            if not close and canonical == "amount" and len(fits) == 1:
                close = fits  # the one column that reads as money
            hint = (
                f"; did you mean {close[0]!r}? pass columns={{{canonical!r}: {close[0]!r}}}"
                if close
                else f"; pass columns={{{canonical!r}: '<your column>'}} to map it"
            )
            if canonical == "amount" and "debit" in optional:
                hint += ("; for money out and money in in two columns, pass "
                         "columns={'debit': '<out column>', 'credit': '<in column>'}")
            raise SchemaError(
                f"{name} has no column {source!r} (it has {have}){hint}",
                table=name,
                column=canonical,
            )
    names = pd.Index(have)
    twice = sorted({c for c in names[names.duplicated()] if c in rename})
    if twice:
        where = {c: np.flatnonzero(names == c).tolist() for c in twice}
        raise SchemaError(
            f"{name} has more than one column named {', '.join(map(repr, twice))} (at "
            f"positions {where}); rename or drop the extra ones so that each name is used once",
            table=name,
            column=rename[twice[0]],
        )
    out = df.loc[:, list(rename)]
    out.columns = [rename[c] for c in out.columns]
    if len(out) == 0:
        raise SchemaError(
            f"{name} is empty: it has no rows; check the file or the filter that produced it",
            table=name,
        )
    return out


#: The columns that hold money: one signed amount, or money out and money in.
MONEY_COLUMNS = ("amount", "debit", "credit")
# usual headings of bank exports for money out and money in, compared loosely
_ALIASES = {
    "debit": ("withdrawal", "withdrawals", "withdrawalamount", "paidout", "moneyout", "out",
              "amountout", "debitamount", "debits", "dr", "outflow"),
    "credit": ("deposit", "deposits", "depositamount", "paidin", "moneyin", "in", "amountin",
               "creditamount", "credits", "cr", "inflow"),
}


def _loose(text: object) -> str:
    """A heading compared loosely: lower case, letters and digits only, a trailing
    currency code left out (``"Debit (EUR)"`` is ``debit``)."""
    text = re.sub(r"\s*[(\[]?\b[A-Z]{3}\b[)\]]?\s*$", "", str(text).strip()) or str(text)
    return re.sub(r"[^0-9a-z]", "", text.lower())


def find_column(have: Sequence[str], canonical: str) -> str | None:
    """The user's column for a canonical name, or None.

    The column of that name; else the one column that reads the same ignoring case,
    blanks and punctuation (``"Transaction ID"`` for ``transaction_id``); else, for
    money out and in, the one column with a usual bank heading (``Withdrawals``,
    ``Paid in``).

    Examples
    --------
    >>> find_column(["Date", "Transaction ID", "Paid out", "Paid in"], "transaction_id")
    'Transaction ID'
    >>> find_column(["Date", "Paid out", "Paid in"], "credit")
    'Paid in'
    """
    if canonical in have:
        return canonical
    keys = {_loose(canonical), *_ALIASES.get(canonical, ())}
    loose = [_loose(c) for c in have]
    if canonical in _ALIASES:  # "Debit Amt", "Deposit Amt."
        loose = [re.sub(r"(?<=.)amt$", "amount", c) for c in loose]
    hits = [c for c, text in zip(have, loose, strict=True) if text in keys]
    return hits[0] if len(hits) == 1 else None


# words of headings that name a number which is not money (account 1040, ref no 17)
_NOT_MONEY = re.compile(r"(?:^|[^a-z])(?:id|ids|no|nr|num|number|ref|reference|code|key|seq|"
                        r"line|year|zip|phone)(?:[^a-z]|$)|account|acct|number")


def _money_candidates(df: pd.DataFrame, have: Sequence[str], canonical: str,
                      others: Iterable[str]) -> list[str]:
    """The columns that could hold ``canonical``: for money, those that read as amounts,
    are no other canonical column's and whose headings do not name an id, a number or an
    account; for anything else, every column."""
    if canonical not in MONEY_COLUMNS:
        return list(have)
    taken = {find_column(have, other) for other in others if other != canonical}
    return [c for c in have if c not in taken and not _NOT_MONEY.search(c.lower())
            and looks_like_money(df[c])]


def looks_like_money(values: pd.Series) -> bool:
    """Numbers, or text that mostly reads as amounts (``1.234,56``, ``$89.08``, ``(12.00)``).

    Examples
    --------
    >>> looks_like_money(pd.Series(["$89.08", "1.234,56 €"]))
    True
    >>> looks_like_money(pd.Series(["OPER-4410"]))
    False
    """
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    sample = values.dropna().astype(str).head(200)
    money = sample.str.fullmatch(
        r"[\s$€£¥₹(+-]*[\d][\d.,'\s]*[)\s-]*([A-Z]{3}|[CD][Rr]\.?)?[\s€]*")
    return bool(len(sample) > 0 and money.mean() >= 0.8)


def describe_rows(mask: np.ndarray, ids: np.ndarray | None = None, show: int = _SHOW) -> str:
    """Name the first rows where ``mask`` holds: ``"rows 3 (id 'T3'), 9 (id 'T9')"``."""
    where = np.flatnonzero(mask)[:show]
    parts = [
        f"{i}" + (f" (id {ids[i]!r})" if ids is not None else "") for i in where.tolist()
    ]
    more = int(mask.sum()) - len(where)
    return "row" + ("s " if len(parts) > 1 else " ") + ", ".join(parts) + (
        f" and {more} more" if more > 0 else ""
    )


def _rows_error(
    what: str, fix: str, mask: np.ndarray, *, table: str, column: str, ids: np.ndarray | None
) -> SchemaError:
    return SchemaError(
        f"{table}.{column}: {what} at {describe_rows(mask, ids)}; {fix}",
        table=table,
        column=column,
        rows=np.flatnonzero(mask)[:_SHOW].tolist(),
    )


def read_money(
    values: pd.Series,
    *,
    table: str,
    column: str = "amount",
    ids: np.ndarray | None = None,
    decimal: str = "auto",
) -> tuple[np.ndarray, dict]:
    """Parse money to int64 cents and say how the column was written.

    Numbers are taken as they are. Text such as ``"$1,234.50"``, ``"1.234,50 €"``,
    ``"(12.00)"`` (negative), ``"12.00-"``, ``"12.00 DR"`` (a debit: negative) or
    ``"12.00 CR"`` (a credit) is understood; the decimal mark is decided
    once for the whole column from all its values (a value ending in ``,dd`` or written
    ``1.234,56`` means a decimal comma; ``12.5`` or ``1,234.56`` a decimal point), never
    per value, and a column that shows both is refused. Mixed currency symbols in one
    column are refused too: money in different currencies cannot be compared without a
    ``currency`` column.

    Parameters
    ----------
    values : pandas.Series
        The amounts, in currency units.
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.
    decimal : {"auto", ".", ","}, default "auto"
        The decimal mark of text amounts; ``"auto"`` decides it from the column.

    Returns
    -------
    cents : numpy.ndarray of int64
    written : dict
        ``{"decimal": "." or "," (None for a numeric column), "currency": the one
        symbol or ISO code written in the column, or None}``.

    Raises
    ------
    SchemaError
        For blanks, non-finite numbers, text that is not an amount in the column's
        convention, both decimal marks in one column, or several currencies.

    Examples
    --------
    >>> cents, written = read_money(pd.Series(["1.234,50", "12,00 €"]), table="bank")
    >>> cents.tolist(), written
    ([123450, 1200], {'decimal': ',', 'currency': '€'})
    """
    if decimal not in ("auto", ".", ","):
        raise SchemaError(f"decimal={decimal!r}: give '.', ',' or 'auto'", table=table,
                          column=column)
    written: dict = {"decimal": None, "currency": None}
    if pd.api.types.is_bool_dtype(values):
        raise SchemaError(
            f"{table}.{column} holds booleans, not money; map the right column with columns=",
            table=table,
            column=column,
        )
    if _numbers(values):
        # one copy, scaled and rounded in place (a column of millions is read often)
        cents = (values.to_numpy(dtype="float64", copy=True) if values.dtype == np.float64
                 else values.astype("float64").to_numpy(dtype="float64", na_value=np.nan))
        np.multiply(cents, 100.0, out=cents)
        np.rint(cents, out=cents)
    else:
        # text, or a mix of numbers and text (as spreadsheets give): read every cell as text
        arr = pa.array(values.astype("string"), from_pandas=True)
        cents, written = _parse_money_text(arr, table=table, column=column, ids=ids,
                                           decimal=decimal)
    lo, hi = cents.min(initial=0.0), cents.max(initial=0.0)  # NaN or inf show in these
    bad = ~np.isfinite(cents) if not np.isfinite(lo + hi) else np.zeros(0, bool)
    if bad.any():
        missing = pd.isna(values).to_numpy()
        what = "missing amounts (NaN)" if missing[bad].all() else "amounts that are NaN or infinite"
        raise _rows_error(
            what,
            "fill or drop those rows (a blank amount cannot be compared or summed)",
            bad,
            table=table,
            column=column,
            ids=ids,
        )
    if max(-lo, hi) >= 2**53:
        raise _rows_error(
            "amounts too large to hold exactly in cents",
            "check the unit of the column (cents vs. currency units)",
            np.abs(cents) >= 2**53,
            table=table,
            column=column,
            ids=ids,
        )
    return cents.astype(np.int64), written


def _numbers(values: pd.Series) -> bool:
    """A column of numbers (also ``Decimal`` objects and Arrow or Parquet decimals, as SQL
    and Parquet give money), as opposed to text."""
    if pd.api.types.is_numeric_dtype(values):
        return True
    if isinstance(values.dtype, pd.ArrowDtype):
        return pa.types.is_decimal(values.dtype.pyarrow_dtype)
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in (
        "decimal", "integer", "floating", "mixed-integer-float")


def parse_cents(
    values: pd.Series,
    *,
    table: str,
    column: str = "amount",
    ids: np.ndarray | None = None,
    decimal: str = "auto",
) -> np.ndarray:
    """Parse money to int64 cents (:func:`read_money` without the report).

    Examples
    --------
    >>> parse_cents(pd.Series(["$1,234.50", "(2.00)", 3]), table="bank").tolist()
    [123450, -200, 300]
    >>> parse_cents(pd.Series(["111,51", "12,50"]), table="bank").tolist()
    [11151, 1250]
    """
    return read_money(values, table=table, column=column, ids=ids, decimal=decimal)[0]


# ----------------------------------------------------------------------------- money text

# What a cell's digits and separators say about the column's convention (after the
# currency, blanks, parentheses and signs are taken off). Decisive: a separator with one
# or two digits after it is the decimal mark (12,50 · 3.5), and so is one after a group
# of the other mark (1.234,56 · 1,234.56); two groups of one mark are thousands
# (1.234.567); a leading 0 (0.125) is a decimal whatever follows. Suggestive: one mark
# and three digits (1.234, 5,000) is thousands in money, where three decimals are rare;
# it sides with a decisive value, contradicts one of the other mark, and alone settles
# nothing (a column of such values only is refused).
_COMMA_DECIMAL = (r"^\d*,\d{1,2}$|^\d{1,3}(\.\d{3})+,\d*$|^\d{1,3}(\.\d{3}){2,}$"
                  r"|^\d+,\d{4,}$")
_POINT_DECIMAL = (r"^\d*\.\d{1,2}$|^\d{1,3}(,\d{3})+\.\d*$|^\d{1,3}(,\d{3}){2,}$"
                  r"|^\d+\.\d{4,}$|^0\.\d+$")
_COMMA_HINT = r"^[1-9]\d{0,2}\.\d{3}$"  # 1.234: thousands point, decimal comma
_POINT_HINT = r"^[1-9]\d{0,2},\d{3}$"  # 1,234: thousands comma, decimal point
_WELL_FORMED = {
    ".": r"^(\d{1,3}(,\d{3})+|\d*)(\.\d*)?$",
    ",": r"^(\d{1,3}(\.\d{3})+|\d*)(,\d*)?$",
}
# a debit/credit mark after an amount (12.00 DR, 12.00CR, 3.50 Cr.)
_DC_MARK = r"([\d\s)])\s*(?i:CR|DR)\.?$"
_DR_MARK = r"[\d\s)]\s*(?i:DR)\.?$"
#: The currency a sign stands for (``$`` is read as US dollars).
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_DECIMAL_NAMES = {".": "decimal point (1,234.56)", ",": "decimal comma (1.234,56)"}


def _decimal_mark(
    body: pa.Array, *, table: str, column: str, ids: np.ndarray | None
) -> str:
    """The column's decimal mark, decided from all its values (see ``_COMMA_DECIMAL``)."""

    def hits(pattern: str) -> np.ndarray:
        return np.asarray(pc.fill_null(pc.match_substring_regex(body, pattern), False))

    comma, point = hits(_COMMA_DECIMAL), hits(_POINT_DECIMAL)
    if not comma.any() and not point.any():
        hint = hits(_COMMA_HINT) | hits(_POINT_HINT)
        if hint.any():
            example = pc.filter(body, pa.array(hint)).slice(0, 2).to_pylist()
            raise _rows_error(
                f"amounts that read two ways ({example}: a thousands mark, or three "
                "decimals) and no value in the column with one or two decimals to settle it",
                "pass decimal='.' (1,234 is 1234; 89.080 is 89.08) or decimal=',' (1.234 is "
                "1234; 89,080 is 89.08)", hint, table=table, column=column, ids=ids)
        return "."
    if comma.any():
        point |= hits(_POINT_HINT)
    else:
        comma |= hits(_COMMA_HINT)
    if comma.any() and point.any():
        minority = comma if comma.sum() <= point.sum() else point
        example = [pc.filter(body, pa.array(m)).slice(0, 2).to_pylist() for m in (comma, point)]
        raise _rows_error(
            f"amounts written with both decimal marks (a decimal comma in {example[0]}, a "
            f"decimal point in {example[1]})",
            "write the column in one convention, or pass decimal=',' or decimal='.' to say "
            "which one it uses",
            minority, table=table, column=column, ids=ids,
        )
    return "," if comma.any() else "."


def _parse_money_text(
    arr: pa.Array, *, table: str, column: str, ids: np.ndarray | None, decimal: str
) -> tuple[np.ndarray, dict]:
    text = pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))
    # a debit/credit mark after the amount, as bank exports write it: "12.00 DR" is money
    # out, "12.00 CR" money in
    debit = np.asarray(pc.fill_null(pc.match_substring_regex(text, _DR_MARK), False))
    text = pc.replace_substring_regex(text, _DC_MARK, r"\1")
    symbols = pc.struct_field(pc.extract_regex(text, r"(?P<sym>[$€£¥₹]|\b[A-Z]{3}\b)"), "sym")
    distinct = [s for s in pc.unique(symbols).to_pylist() if s]
    if len({CURRENCY_SIGNS.get(d, d) for d in distinct}) == 1 < len(distinct):
        distinct = [CURRENCY_SIGNS.get(distinct[0], distinct[0])]  # "$12.00" beside "USD 3"
    if len(distinct) > 1:
        first = pc.fill_null(pc.not_equal(symbols, distinct[0]), False)
        mask = np.asarray(first) & np.asarray(pc.is_valid(symbols))
        raise _rows_error(
            f"mixed currencies {distinct} in one column",
            "convert the amounts to one currency, or split the table by currency (one run "
            "per currency), or give a 'currency' column where one is taken",
            mask,
            table=table,
            column=column,
            ids=ids,
        )
    # the digits, marks and signs alone: currency (wherever it stands: "$(12.50)",
    # "12,50- EUR"), blanks (also the thin and no-break spaces and the apostrophe of Swiss
    # grouping) off; then a minus in front or behind, or parentheses, make it negative
    bare = pc.replace_substring_regex(text, "[$€£¥₹\\s'’\u00a0\u202f]|\\b[A-Z]{3}\\b", "")
    minus = np.asarray(pc.fill_null(pc.match_substring_regex(bare, r"^-|-$|^\(.*\)$"), False))
    body = pc.replace_substring_regex(bare, r"^[+-]?\(?[+-]?|[)-]+$", "")
    if decimal == "auto":
        decimal = _decimal_mark(body, table=table, column=column, ids=ids)
    present = np.asarray(pc.fill_null(pc.not_equal(body, ""), False))
    number = pc.replace_substring(body, "," if decimal == "." else ".", "")
    if decimal == ",":
        number = pc.replace_substring(number, ",", ".")
    exponent = pc.match_substring_regex(body, r"^(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")  # 1.5E3
    number = pc.if_else(exponent, body, number)
    ok = pc.or_(pc.and_(pc.match_substring_regex(body, _WELL_FORMED[decimal]),
                        pc.match_substring_regex(number, _NUMBER)), exponent)
    bad = np.asarray(pc.fill_null(pc.invert(ok), True)) & present
    if bad.any():
        raise _rows_error(
            "text that is not an amount "
            f"({pc.filter(text, pa.array(bad)).slice(0, 3).to_pylist()})",
            f"the column is read with a {_DECIMAL_NAMES[decimal]}; fix those cells, write "
            "amounts as plain numbers like 1234.50, or pass decimal= to say the convention",
            bad,
            table=table,
            column=column,
            ids=ids,
        )
    number = pc.if_else(pa.array(present), number, None)
    cents = _exact_cents(number, np.asarray(pc.fill_null(exponent, False)))
    cents = np.where(minus | debit, -np.abs(cents), cents)
    return cents, {"decimal": decimal, "currency": distinct[0] if distinct else None}


def _exact_cents(number: pa.Array, exponent: np.ndarray) -> np.ndarray:
    """Cents of plain decimal text (``"1234.567"``), exact however large: the whole part
    as an integer, the fraction rounded half to even; exponent forms through floats.
    Float64 (NaN where missing), exact for every whole number of cents below 2**53."""
    parts = pc.extract_regex(number, r"^(?P<whole>\d*)(?:\.(?P<frac>\d*))?$")
    whole = pc.cast(pc.if_else(pc.equal(pc.struct_field(parts, "whole"), ""), "0",
                               pc.struct_field(parts, "whole")), pa.float64())
    frac = pc.fill_null(pc.struct_field(parts, "frac"), "")
    frac = pc.cast(pc.binary_join_element_wise("0.", frac, ""), pa.float64())
    with np.errstate(invalid="ignore"):
        cents = (np.asarray(whole.to_numpy(zero_copy_only=False)) * 100
                 + np.rint(np.asarray(frac.to_numpy(zero_copy_only=False)) * 100))
    if exponent.any():
        cents[exponent] = np.rint(pc.cast(pc.filter(number, pa.array(exponent)),
                                          pa.float64()).to_numpy(zero_copy_only=False) * 100)
    return cents


# ----------------------------------------------------------------------------- date text

# a numeric date of three fields (03/04/2025, 3.4.25, 03-04-2025), after an optional
# weekday ("Mon 04/03/2025"), then an optional time ("04.03.2025, 10:00")
_NUMERIC_DATE = (r"^(?:[^\W\d_]{2,9}\.?,?\s+)?(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-]"
                 r"(?P<y>\d{4}|\d{2})\.?(?P<rest>(?:,?[ T].*)?)$")
# a time, then its zone: "10:00Z", "10:00:00.5+01:00", "23:30 -0500"
_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ZONE = r"(" + _TIME + r")\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_ORDERS = {True: "day/month/year", False: "month/day/year"}


def read_debit_credit(
    df: pd.DataFrame, *, table: str, ids: np.ndarray | None = None, decimal: str = "auto"
) -> tuple[np.ndarray, dict]:
    """Signed money from separate ``debit`` (out) and ``credit`` (in) columns, in cents:
    credit - debit, whatever sign each column is written with.

    A blank or ``-`` is nothing; a row with neither takes its ``amount`` when the frame
    has one. Both columns must be written alike (one decimal mark, one currency).

    Parameters
    ----------
    df : pandas.DataFrame
        With columns ``debit`` and ``credit`` (and optionally ``amount``).
    table : str
        The table's name in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.
    decimal : {"auto", ".", ","}, default "auto"
        The decimal mark of text amounts.

    Returns
    -------
    cents : numpy.ndarray of int64
    written : dict
        As :func:`read_money` says it.

    Examples
    --------
    >>> df = pd.DataFrame({"debit": ["12.50", ""], "credit": ["", "1,000.00"]})
    >>> read_debit_credit(df, table="bank")[0].tolist()
    [-1250, 100000]
    """
    name = table
    written: dict = {"decimal": None, "currency": None}

    def column(col: str) -> tuple[np.ndarray, np.ndarray]:
        raw = df[col].replace(r"^\s*[-–—]?\s*$", np.nan, regex=True)  # "-": nothing
        empty = raw.isna().to_numpy()
        cents, how = read_money(raw.fillna(0), table=name, column=col, ids=ids,
                                decimal=decimal)
        for key, value in how.items():
            if written[key] is not None and value is not None and value != written[key]:
                raise SchemaError(
                    f"{name}.debit and {name}.credit are written differently ({key} "
                    f"{written[key]!r} and {value!r}); write both columns alike",
                    table=name, column=col)
            written[key] = written[key] or value
        return cents, empty

    debit, no_debit = column("debit")
    credit, no_credit = column("credit")
    cents = np.abs(credit) - np.abs(debit)
    neither = no_debit & no_credit
    if neither.any():
        if "amount" not in df:
            rows = np.flatnonzero(neither)[:5].tolist()
            raise SchemaError(f"{name} rows {rows} have neither a debit nor a credit; fill one "
                              "of them, or give an amount column", table=name, column="debit",
                              rows=rows)
        cents[neither] = parse_cents(df["amount"].iloc[np.flatnonzero(neither)], table=name,
                                     ids=ids[neither], decimal=written["decimal"] or decimal)
    return cents, written


def day_month_order(
    text: pa.Array, dayfirst: bool | None, *, table: str, column: str, ids: np.ndarray | None
) -> tuple[pa.Array, str | None]:
    """Numeric dates rewritten as ISO text, in the one order the whole column allows.

    A first field above 12 can only be a day, a second one above 12 only a day too: one
    such value settles the column's order. A column with both is refused, and so is one
    where nothing settles it (every field at most 12) unless ``dayfirst`` is given.
    Other text is returned as it is; the order is None when no value is a numeric date.

    Examples
    --------
    >>> iso, order = day_month_order(pa.array(["13/04/2025", "03/04/25 10:00", "x"]), None,
    ...                              table="bank", column="date", ids=None)
    >>> iso.to_pylist(), order
    (['2025-04-13', '2025-04-03 10:00', 'x'], 'day/month/year')
    """
    parts = pc.extract_regex(text, _NUMERIC_DATE)
    found = np.asarray(pc.is_valid(parts))
    if not found.any():
        return text, None
    a = np.asarray(pc.cast(pc.fill_null(pc.struct_field(parts, "a"), "0"), pa.int64()))
    b = np.asarray(pc.cast(pc.fill_null(pc.struct_field(parts, "b"), "0"), pa.int64()))
    day_first, month_first = found & (a > 12), found & (b > 12)
    if day_first.any() and month_first.any():
        minority = day_first if day_first.sum() <= month_first.sum() else month_first
        raise _rows_error(
            "dates in two orders (day first, as in "
            f"{pc.filter(text, pa.array(day_first)).slice(0, 1).to_pylist()}, and month first, "
            f"as in {pc.filter(text, pa.array(month_first)).slice(0, 1).to_pylist()})",
            "write every date in one order, best as YYYY-MM-DD", minority,
            table=table, column=column, ids=ids)
    settled = True if day_first.any() else False if month_first.any() else None
    if settled is not None and dayfirst is not None and settled != dayfirst:
        raise _rows_error(
            f"dates that cannot be {_ORDERS[dayfirst]} (a {'month' if dayfirst else 'day'} "
            "above 12)", f"this column is {_ORDERS[settled]}: leave dayfirst unset or pass "
            f"dayfirst={settled}", day_first if settled else month_first,
            table=table, column=column, ids=ids)
    order = settled if settled is not None else dayfirst
    if order is None:
        either = found & (a != b)
        if not either.any():
            order = True  # 03/03/2025 reads the same either way
        else:
            raise _rows_error(
                "dates that read two ways (e.g. "
                f"{pc.filter(text, pa.array(either)).slice(0, 1).to_pylist()} is day/month or "
                "month/day) and no value in the column is above 12 to settle it",
                "pass dayfirst=True (day/month/year) or dayfirst=False (month/day/year), or "
                "write dates as YYYY-MM-DD",
                either, table=table, column=column, ids=ids)
    day, month = (a, b) if order else (b, a)
    year = pc.fill_null(pc.struct_field(parts, "y"), "")
    short = np.asarray(pc.utf8_length(year)) == 2
    # two-digit years: this century up to ten years ahead, else the last (99 is 1999)
    late = np.asarray(pc.cast(pc.if_else(pa.array(short), year, "0"), pa.int64())) > (
        _dt.date.today().year % 100 + 10)
    century = pa.array(np.where(short, np.where(late, "19", "20"), ""))
    rest = pc.replace_substring_regex(pc.fill_null(pc.struct_field(parts, "rest"), ""), "^,",
                                      "")
    iso = pc.binary_join_element_wise(
        century, year, "-",
        pc.utf8_lpad(pc.cast(pa.array(month), pa.string()), 2, "0"), "-",
        pc.utf8_lpad(pc.cast(pa.array(day), pa.string()), 2, "0"), rest, "")
    return pc.if_else(pa.array(found), iso, text), _ORDERS[order]


def read_dates(
    values: pd.Series,
    *,
    table: str,
    column: str = "date",
    ids: np.ndarray | None = None,
    dayfirst: bool | None = None,
) -> tuple[np.ndarray, str]:
    """Parse a date column to ``datetime64[ns]`` (UTC) and say how it was written.

    The one date reader of every kernel and file reader. ISO 8601 text
    (``2025-03-04``, with or without a time and a zone) is read as such. Numeric
    dates (``03/04/2025``, ``3.4.25``) are read in one order for the whole column:
    a value whose first field is above 12 settles day/month/year, one whose second
    field is above 12 month/day/year; a column with both is refused, and so is one
    that nothing settles unless ``dayfirst`` says. Times with a zone (``+01:00``,
    ``Z``) are converted to UTC; zones on some rows only are refused.

    Parameters
    ----------
    values : pandas.Series
        Dates, datetimes or their text.
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.
    dayfirst : bool, optional
        The order of numeric dates when the column does not settle it.

    Returns
    -------
    stamps : numpy.ndarray of datetime64[ns]
    order : str
        ``"ISO 8601"``, ``"day/month/year"``, ``"month/day/year"``, ``"dates"`` (the
        column held datetimes) or ``"text"`` (month names).

    Raises
    ------
    SchemaError
        For blanks, text that is not a date, impossible or out-of-range dates, two
        orders in one column, an order nothing settles, or zones on some rows only.

    Examples
    --------
    >>> stamps, order = read_dates(pd.Series(["03/04/2025", "13/04/2025"]), table="bank")
    >>> [str(d)[:10] for d in stamps], order
    (['2025-04-03', '2025-04-13'], 'day/month/year')
    """
    read_as = values  # what was parsed: text with its day/month order settled is year first
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.Series(values)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        order = "dates"
    elif pd.api.types.is_numeric_dtype(values):
        numbers = values.dropna()
        if (len(numbers) and (numbers % 1 == 0).all()
                and numbers.between(1_900_01_01, 2_100_12_31).all()):  # 20250304: YYYYMMDD
            text = values.astype("Int64").astype("string")
            parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
            if parsed.notna().sum() == len(numbers):
                return read_dates(parsed, table=table, column=column, ids=ids)[0], "YYYYMMDD"
        serial = len(numbers) and numbers.between(20_000, 80_000).all()
        raise SchemaError(
            f"{table}.{column} is numeric ({values.dtype}), not dates; map the date column with "
            f"columns={{'{column}': '<your date column>'}}"
            + (" or, if these are spreadsheet day numbers (45658 is 2025-01-01), convert them "
               "with pandas.to_datetime(x, unit='D', origin='1899-12-30')" if serial else
               " or convert it with pandas.to_datetime"),
            table=table,
            column=column,
        )
    else:
        text = pa.array(pd.Series(values).astype("string").str.strip(), from_pandas=True)
        text, order = day_month_order(text, dayfirst, table=table, column=column, ids=ids)
        named = np.asarray(pc.fill_null(pc.match_substring_regex(
            text, _TIME + r"\s*(?:[A-Z]{3,5}|[A-Z][a-z]+/[A-Za-z_]+)$"), False))
        if named.any() and not pc.all(pc.match_substring_regex(
                pc.filter(text, pa.array(named)), r"(?:UTC|GMT)$")).as_py():
            raise _rows_error(
                "times with a zone name (e.g. "
                f"{pc.filter(text, pa.array(named)).slice(0, 1).to_pylist()})",
                "zone names are ambiguous (CST is three zones) and would be dropped: write the "
                "offset instead (10:00+01:00) or convert the column to UTC first", named,
                table=table, column=column, ids=ids)
        text = pc.replace_substring_regex(text, "(" + _TIME + r")\s*(?:UTC|GMT)$", r"\1Z")
        zoned = np.asarray(pc.fill_null(pc.match_substring_regex(text, _ZONE), False))
        if zoned.any() and not zoned[np.asarray(pc.is_valid(text))].all():
            plain = np.asarray(pc.is_valid(text)) & ~zoned
            raise _rows_error(
                "dates with a time zone mixed with dates without one",
                "give every timestamp a zone (e.g. +00:00) or none",
                plain if plain.sum() <= zoned.sum() else zoned,
                table=table, column=column, ids=ids)
        series = pd.Series(text.to_numpy(zero_copy_only=False), index=values.index, dtype="string")
        read_as = series
        utc = bool(zoned.any())
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=utc)
        if parsed.isna().sum() > series.isna().sum():
            # month names are left to a cell-by-cell reader; numbers in a day/month order
            # never are (its guess would differ from cell to cell)
            left = (parsed.isna() & series.notna()).to_numpy()
            numeric = left & series.str.contains(r"(?:^|\D)\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}",
                                                 regex=True).fillna(False).to_numpy(bool)
            if numeric.any():
                raise _rows_error(
                    f"text that is not a date ({values[numeric].astype(str).head(3).tolist()})",
                    "write dates as YYYY-MM-DD, or as day/month/year or month/day/year, "
                    "optionally followed by a time", numeric, table=table, column=column,
                    ids=ids)
            # numeric dates are year first by now: a day-first reading would swap them back
            mixed = pd.to_datetime(series, errors="coerce", format="mixed", utc=utc,
                                   dayfirst=False)
            if order is None:
                order = "text"
            parsed = parsed.fillna(mixed) if parsed.notna().any() else mixed
        elif order is None:
            order = "ISO 8601"
        if utc:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        blank = values.isna().to_numpy()
        if blank[bad].all():
            what, fix = "missing dates", "fill or drop those rows"
        else:
            sample = values[bad].astype(str).head(3).tolist()
            shaped = pd.Series(read_as[bad]).astype(str).str.match(r"\s*\d{4}-\d{2}-\d{2}")
            if shaped.all():
                what = f"dates that do not exist or are out of range ({sample})"
                fix = "check those dates (a month has at most 31 days; years 1678 to 2261)"
            else:
                what = f"text that is not a date ({sample})"
                fix = "write dates as YYYY-MM-DD (ISO 8601)"
        raise _rows_error(what, fix, bad, table=table, column=column, ids=ids)
    return parsed.to_numpy(dtype="datetime64[ns]"), order


def parse_days(
    values: pd.Series,
    *,
    table: str,
    column: str = "date",
    ids: np.ndarray | None = None,
    dayfirst: bool | None = None,
) -> np.ndarray:
    """Parse dates to int64 days since 1970-01-01 (:func:`read_dates`, UTC).

    Examples
    --------
    >>> parse_days(pd.Series(["1970-01-02", "1970-01-31"]), table="bank").tolist()
    [1, 30]
    """
    stamps = read_dates(values, table=table, column=column, ids=ids, dayfirst=dayfirst)[0]
    return stamps.astype("datetime64[D]").astype(np.int64)


def parse_timestamps(
    values: pd.Series,
    *,
    table: str,
    column: str = "date",
    ids: np.ndarray | None = None,
    dayfirst: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse timestamps to the instant and the local wall-clock time.

    Timestamps with a time zone (``2025-03-01T09:30+01:00``) give their instant
    in UTC and their own wall-clock time (what "off hours" is judged on);
    timestamps without one are both. A column that mixes the two is refused:
    the order of its rows in time would be a guess. Text is read by
    :func:`read_dates` (one day/month order per column).

    Parameters
    ----------
    values : pandas.Series
        Timestamps, datetimes or their text.
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.
    dayfirst : bool, optional
        The order of numeric dates when the column does not settle it.

    Returns
    -------
    instant, local : numpy.ndarray of datetime64[ns]

    Raises
    ------
    SchemaError
        For blanks, text that is not a timestamp, or zones on some rows only.

    Examples
    --------
    >>> utc, local = parse_timestamps(pd.Series(["2025-01-01T23:30-05:00"]), table="tx")
    >>> str(utc[0]), str(local[0])
    ('2025-01-02T04:30:00.000000000', '2025-01-01T23:30:00.000000000')
    """
    def read(v: pd.Series) -> np.ndarray:
        return read_dates(v, table=table, column=column, ids=ids, dayfirst=dayfirst)[0]

    if pd.api.types.is_datetime64_any_dtype(values):
        s = pd.Series(values)
        if getattr(s.dt, "tz", None) is None:
            stamps = read(s)
            return stamps, stamps
        return read(s), read(s.dt.tz_localize(None))
    if pd.api.types.is_numeric_dtype(values):
        return (read(values),) * 2
    text = pd.Series(values).astype("string").str.strip()
    arr = pa.array(text, from_pandas=True)
    instant = read(values)  # refuses zones on some rows only
    if not pc.any(pc.match_substring_regex(arr, _ZONE)).as_py():
        return instant, instant
    wall = pd.Series(pc.replace_substring_regex(arr, _ZONE, r"\1").to_numpy(zero_copy_only=False),
                     index=text.index)
    return instant, read(wall)


def check_unique(ids: np.ndarray, *, table: str, column: str = "transaction_id") -> None:
    """Refuse duplicate or missing ids, naming the first offenders."""
    s = pd.Series(ids)
    missing = s.isna().to_numpy()
    if missing.any():
        raise _rows_error(
            "missing ids", "give every row a unique id", missing, table=table, column=column,
            ids=None,
        )
    index = pd.Index(ids)
    if index.is_monotonic_increasing and index.is_unique:
        return  # strictly increasing: unique without hashing every id
    dup = s.duplicated(keep=False).to_numpy()
    if dup.any():
        raise _rows_error(
            f"duplicate ids ({s[dup].drop_duplicates().head(3).tolist()})",
            "ids must be unique: de-duplicate the rows, or add a column that numbers them and "
            f"pass columns={{{column!r}: '<that column>'}}",
            dup,
            table=table,
            column=column,
            ids=ids,
        )


def cents_text(cents: object, *, grouping: bool = True) -> str:
    """One amount of integer cents as text, exactly (no float): ``-1,234.56``, or
    ``-1234.56`` without ``grouping``; a missing value (None, NaN, NA) is ``""``.

    Examples
    --------
    >>> cents_text(-123456789), cents_text(5, grouping=False), cents_text(None)
    ('-1,234,567.89', '0.05', '')
    """
    if cents is None or cents is pd.NaT or (not isinstance(cents, list | tuple)
                                            and bool(pd.isna(cents))):
        return ""
    c = int(cents)  # type: ignore[call-overload]
    whole, part = divmod(abs(c), 100)
    return f"{'-' if c < 0 else ''}{whole:,}.{part:02d}" if grouping else \
        f"{'-' if c < 0 else ''}{whole}.{part:02d}"


def decimal_text(x: np.ndarray, digits: int = 1, sign: bool = True) -> pa.Array:
    """Numbers as text with a fixed number of decimals, optionally always signed.

    Examples
    --------
    >>> decimal_text(np.array([13.04, -0.46, 0.0])).to_pylist()
    ['+13.0', '-0.5', '+0.0']
    >>> decimal_text(np.array([0.876]), digits=2, sign=False).to_pylist()
    ['0.88']
    """
    scale = 10**digits
    q = np.rint(np.asarray(x, dtype=np.float64) * scale).astype(np.int64)
    whole = pc.cast(pa.array(np.abs(q) // scale), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(q) % scale), pa.string()), digits, "0")
    signs = pa.array(np.where(q < 0, "-", "+" if sign else ""))
    return pc.binary_join_element_wise(signs, whole, ".", frac, "")
