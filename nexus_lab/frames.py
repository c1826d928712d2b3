"""Dataframes in and out: pandas, polars, pyarrow and cuDF become checked columns.

Kernels call these helpers to turn whatever frame a user holds into validated
NumPy columns (money as int64 cents, dates as int64 days), raising a
:class:`~nexus_lab.errors.SchemaError` that names the column, the first
offending rows and the fix.
"""

from __future__ import annotations

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
    "decimal_text",
    "frame_bytes",
    "parse_cents",
    "parse_days",
    "parse_timestamps",
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
        source = mapping.get(canonical, canonical)
        if source in have:
            rename[source] = canonical
        elif canonical in required or canonical in mapping:
            close = difflib.get_close_matches(canonical, have, n=1, cutoff=0.5)
            if not close:
                close = [c for c in have if canonical in c.lower() or c.lower() in canonical][:1]
            hint = (
                f"; did you mean {close[0]!r}? pass columns={{{canonical!r}: {close[0]!r}}}"
                if close
                else f"; pass columns={{{canonical!r}: '<your column>'}} to map it"
            )
            raise SchemaError(
                f"{name} has no column {source!r} (it has {have}){hint}",
                table=name,
                column=canonical,
            )
    out = df.loc[:, list(rename)]
    out.columns = [rename[c] for c in out.columns]
    if len(out) == 0:
        raise SchemaError(
            f"{name} is empty: it has no rows; check the file or the filter that produced it",
            table=name,
        )
    return out


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


def parse_cents(
    values: pd.Series, *, table: str, column: str = "amount", ids: np.ndarray | None = None
) -> np.ndarray:
    """Parse money to int64 cents, refusing NaN, inf and unparseable text.

    Text such as ``"$1,234.50"``, ``"(12.00)"`` (negative) or ``"12.00-"`` is
    understood. Mixed currency symbols in one column are refused: money in
    different currencies cannot be compared without a ``currency`` column.

    Parameters
    ----------
    values : pandas.Series
        The amounts, in currency units.
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> parse_cents(pd.Series(["$1,234.50", "(2.00)", 3]), table="bank").tolist()
    [123450, -200, 300]
    """
    if pd.api.types.is_bool_dtype(values):
        raise SchemaError(
            f"{table}.{column} holds booleans, not money; map the right column with columns=",
            table=table,
            column=column,
        )
    if pd.api.types.is_numeric_dtype(values):
        x = values.to_numpy(dtype="float64", na_value=np.nan)
    else:
        # text, or a mix of numbers and text (as spreadsheets give): read every cell as text
        arr = pa.array(values.astype("string"), from_pandas=True)
        x = _parse_money_text(arr, table=table, column=column, ids=ids)
    bad = ~np.isfinite(x)
    if bad.any():
        missing = pd.isna(values).to_numpy()
        what = "missing amounts (NaN)" if missing[bad].all() else "amounts that are NaN or infinite"
        raise _rows_error(
            what,
            "fill or drop those rows before reconciling (a blank amount cannot be matched)",
            bad,
            table=table,
            column=column,
            ids=ids,
        )
    cents = np.rint(x * 100.0)
    if np.abs(cents).max(initial=0) >= 2**53:
        raise _rows_error(
            "amounts too large to hold exactly in cents",
            "check the unit of the column (cents vs. currency units)",
            np.abs(cents) >= 2**53,
            table=table,
            column=column,
            ids=ids,
        )
    return cents.astype(np.int64)


def _parse_money_text(
    arr: pa.Array, *, table: str, column: str, ids: np.ndarray | None
) -> np.ndarray:
    text = pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))
    symbols = pc.struct_field(pc.extract_regex(text, r"(?P<sym>[$€£¥₹]|\b[A-Z]{3}\b)"), "sym")
    distinct = [s for s in pc.unique(symbols).to_pylist() if s]
    if len(distinct) > 1:
        first = pc.fill_null(pc.not_equal(symbols, distinct[0]), False)
        mask = np.asarray(first) & np.asarray(pc.is_valid(symbols))
        raise _rows_error(
            f"mixed currencies {distinct} in one column",
            "add a 'currency' column (and convert to one currency) or split the table by "
            "currency before reconciling",
            mask,
            table=table,
            column=column,
            ids=ids,
        )
    negative = pc.or_(
        pc.match_substring_regex(text, r"^\(.*\)$"), pc.match_substring_regex(text, r"-$")
    )
    clean = pc.replace_substring_regex(text, r"[$€£¥₹,\s()]|\b[A-Z]{3}\b", "")
    clean = pc.replace_substring_regex(clean, r"^(.*\d)-$", r"-\1")
    ok = pc.match_substring_regex(clean, _NUMBER)
    bad = np.asarray(pc.fill_null(pc.invert(ok), False)) & np.asarray(pc.is_valid(text))
    bad &= np.asarray(pc.fill_null(pc.not_equal(clean, ""), True))
    if bad.any():
        raise _rows_error(
            "text that is not an amount "
            f"({pc.filter(text, pa.array(bad)).slice(0, 3).to_pylist()})",
            "fix those cells or write amounts as plain numbers like 1234.50",
            bad,
            table=table,
            column=column,
            ids=ids,
        )
    clean = pc.if_else(pc.equal(clean, ""), None, clean)
    x = pc.cast(clean, pa.float64()).to_numpy(zero_copy_only=False)
    x = np.where(np.asarray(pc.fill_null(negative, False)), -np.abs(x), x)
    return x


def parse_days(
    values: pd.Series, *, table: str, column: str = "date", ids: np.ndarray | None = None
) -> np.ndarray:
    """Parse dates to int64 days since 1970-01-01.

    Parameters
    ----------
    values : pandas.Series
        Dates, datetimes or date strings (ISO ``YYYY-MM-DD`` is safest).
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> parse_days(pd.Series(["1970-01-02", "1970-01-31"]), table="bank").tolist()
    [1, 30]
    """
    stamps = parse_datetimes(values, table=table, column=column, ids=ids)
    return stamps.astype("datetime64[D]").astype(np.int64)


def parse_datetimes(
    values: pd.Series, *, table: str, column: str = "date", ids: np.ndarray | None = None
) -> np.ndarray:
    """Parse a column to ``datetime64[ns]``, refusing blanks and unparseable text."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.Series(values)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_numeric_dtype(values):
        raise SchemaError(
            f"{table}.{column} is numeric ({values.dtype}), not dates; map the date column with "
            f"columns={{'{column}': '<your date column>'}} or convert it with pandas.to_datetime",
            table=table,
            column=column,
        )
    else:
        text = values.astype("string")
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
            if parsed.isna().sum() > text.isna().sum():
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError):
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        blank = values.isna().to_numpy()
        if blank[bad].all():
            what, fix = "missing dates", "fill or drop those rows"
        else:
            sample = values[bad].astype(str).head(3).tolist()
            what = f"text that is not a date ({sample})"
            fix = "write dates as YYYY-MM-DD (ISO 8601)"
        raise _rows_error(what, fix, bad, table=table, column=column, ids=ids)
    return parsed.to_numpy(dtype="datetime64[ns]")


_ZONE = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def parse_timestamps(
    values: pd.Series, *, table: str, column: str = "date", ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse timestamps to the instant and the local wall-clock time.

    Timestamps with a time zone (``2025-03-01T09:30+01:00``) give their instant
    in UTC and their own wall-clock time (what "off hours" is judged on);
    timestamps without one are both. A column that mixes the two is refused:
    the order of its rows in time would be a guess.

    Parameters
    ----------
    values : pandas.Series
        Timestamps, datetimes or their text.
    table, column : str
        Names used in error messages.
    ids : numpy.ndarray, optional
        Row ids shown next to offending rows.

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
    if pd.api.types.is_datetime64_any_dtype(values):
        s = pd.Series(values)
        if getattr(s.dt, "tz", None) is None:
            stamps = parse_datetimes(s, table=table, column=column, ids=ids)
            return stamps, stamps
        local = parse_datetimes(s.dt.tz_localize(None), table=table, column=column, ids=ids)
        return parse_datetimes(s, table=table, column=column, ids=ids), local
    if pd.api.types.is_numeric_dtype(values):
        return (parse_datetimes(values, table=table, column=column, ids=ids),) * 2
    text = pd.Series(values).astype("string").str.strip()
    arr = pa.array(text, from_pandas=True)
    zoned = np.asarray(pc.fill_null(pc.match_substring_regex(arr, r"\d" + _ZONE), False))
    present = np.asarray(pc.is_valid(arr))
    if not zoned.any():
        stamps = parse_datetimes(values, table=table, column=column, ids=ids)
        return stamps, stamps
    plain = present & ~zoned
    if plain.any():
        minority = plain if plain.sum() <= zoned.sum() else zoned
        raise _rows_error(
            "timestamps with a time zone mixed with timestamps without one",
            "give every timestamp a zone (e.g. +00:00) or none, so that their order in time "
            "is known",
            minority,
            table=table,
            column=column,
            ids=ids,
        )
    wall = pd.Series(pc.replace_substring_regex(arr, _ZONE, "").to_pandas(), index=text.index)
    local = parse_datetimes(wall, table=table, column=column, ids=ids)
    instant = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if instant.isna().any():
        instant = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    return parse_datetimes(instant, table=table, column=column, ids=ids), local


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
            "ids must be unique: de-duplicate the rows or build a unique id, e.g. "
            "df['transaction_id'] = df.index",
            dup,
            table=table,
            column=column,
            ids=ids,
        )


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
