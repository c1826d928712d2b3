"""Bulk ingest: a frame checked and typed for its table, then written in one statement.

PostgreSQL takes the rows through ``COPY ... FROM STDIN (FORMAT csv)``, the CSV written
by Arrow's CSV writer (every text value quoted, NULL unquoted and empty: the two cannot
be confused), after ``LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE`` (one writer of the
table at a time; readers are not blocked). The rows are copied straight into the table,
in a savepoint; only when a key is there already do they go into a temporary staging
table, then one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``. SQLite takes them
through one
``executemany`` with ``ON CONFLICT DO NOTHING``. Both inside the caller's transaction.

Text columns are checked and trimmed with Arrow compute, not a Python call per value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    find_column,
    read_dates,
    read_debit_credit,
    read_money,
)

_SKIP = ("id", "batch_id")  # given by the store, never by the frame
_SHOW = 5


def _rows(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:_SHOW].tolist()


def prepare(t: sa.Table, df: pd.DataFrame, *, dayfirst: bool | None = None,
            decimal: str = "auto") -> pd.DataFrame:
    """The frame's columns for table ``t``, typed and checked; refuses what would not fit.

    Returns a frame with the table's column names: text as Arrow-backed strings
    (``string[pyarrow]``, NA for NULL), money as int64 cents, dates as ``datetime64``,
    JSON as its text.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"ingest into {t.name} takes a pandas DataFrame, not "
                          f"{type(df).__name__}; read files with nx.read_table(path)")
    if len(df) == 0:
        raise SchemaError(f"nothing to ingest into {t.name}: the frame has no rows",
                          table=t.name)
    df = df.reset_index(drop=True)
    have = [str(c) for c in df.columns]
    df.columns = have
    out: dict[str, Any] = {}
    missing = []
    for col in t.columns:
        name = col.name
        if name in _SKIP:
            continue
        values = _money(t, df, name, have, decimal) if name.endswith("_cents") else None
        if values is None:
            found = find_column(have, name)
            if found is not None:
                values = _typed(t, col, df[found], dayfirst)
        if values is None:
            if not col.nullable and col.server_default is None:
                missing.append(name)
            continue
        out[name] = values
    if missing:
        raise SchemaError(
            f"{t.name} needs the column(s) {', '.join(missing)}, which the frame lacks (it "
            f"has {', '.join(have[:12])}{', ...' if len(have) > 12 else ''}); rename the "
            "frame's columns to these names", table=t.name, column=missing[0])
    frame = pd.DataFrame(out)
    for name in frame.columns:  # a NOT NULL column may not hold blanks
        col = t.c[name]
        if not col.nullable and col.server_default is None and frame[name].isna().any():
            raise SchemaError(
                f"{t.name}.{name} is blank in rows {_rows(frame[name].isna().to_numpy())}; "
                "fill it in", table=t.name, column=name)
    return frame


def _money(t: sa.Table, df: pd.DataFrame, name: str, have: list[str],
           decimal: str) -> np.ndarray | None:
    """``amount_cents`` from itself (integers), from ``amount`` (money), or from
    ``debit``/``credit``; None when the frame has none of these."""
    if name in have:
        values = pd.to_numeric(df[name], errors="coerce")
        bad = values.isna() | (values % 1 != 0)
        if bad.any():
            raise SchemaError(f"{t.name}.{name} must hold whole numbers of cents; rows "
                              f"{_rows(bad.to_numpy())} do not", table=t.name, column=name)
        return values.astype(np.int64).to_numpy()
    base = name.removesuffix("_cents")
    found = find_column(have, base)
    if found is not None:
        return read_money(df[found], table=t.name, column=found, decimal=decimal)[0]
    debit, credit = find_column(have, "debit"), find_column(have, "credit")
    if base == "amount" and debit and credit:
        pair = df[[debit, credit]].set_axis(["debit", "credit"], axis=1)
        return read_debit_credit(pair, table=t.name, decimal=decimal)[0]
    return None


def _typed(t: sa.Table, col: sa.Column, values: pd.Series, dayfirst: bool | None) -> Any:
    name, kind = col.name, col.type
    if isinstance(kind, sa.Date | sa.DateTime):
        blank = values.isna()
        if not pd.api.types.is_datetime64_any_dtype(values):
            blank |= values.astype("string").str.strip() == ""
        if blank.all():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        if blank.any():
            stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
            stamps[~blank] = read_dates(values[~blank], table=t.name, column=name,
                                        dayfirst=dayfirst)[0]
        else:
            stamps = pd.Series(read_dates(values, table=t.name, column=name,
                                          dayfirst=dayfirst)[0], index=values.index)
        return stamps.dt.normalize() if isinstance(kind, sa.Date) else stamps
    if isinstance(kind, sa.JSON):
        return values.map(lambda v: None if v is None or v is pd.NA or (
            isinstance(v, float) and np.isnan(v)) else json.dumps(v, default=str))
    if isinstance(kind, sa.BigInteger | sa.Integer | sa.Float):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            raise SchemaError(f"{t.name}.{name} must be numbers; rows "
                              f"{_rows(bad.to_numpy())} are not", table=t.name, column=name)
        return numbers.to_numpy()
    text = _text(values)
    nul = _mask(pc.match_substring(text, "\x00"))
    if nul.any():
        raise SchemaError(f"{t.name}.{name} holds NUL characters (\\x00) in rows {_rows(nul)}, "
                          "which a database text column cannot keep; remove them from the "
                          "file (e.g. tr -d '\\000')", table=t.name, column=name)
    limit = getattr(kind, "length", None)
    if limit:
        long = _mask(pc.greater(pc.utf8_length(text), limit))
        if long.any():
            raise SchemaError(f"{t.name}.{name} holds text longer than {limit} characters in "
                              f"rows {_rows(long)}; is it the right column?", table=t.name,
                              column=name)
    return pd.arrays.ArrowStringArray(pa.chunked_array([text]))


def _text(values: pd.Series) -> pa.Array:
    """The values as text, trimmed, blanks as NULL (one Arrow array)."""
    try:
        arr = pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers, dates...: as pandas writes them
        arr = pa.array(values.astype("string").to_numpy(dtype=object), type=pa.large_string(),
                       from_pandas=True)
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.large_string()), arr)


def _mask(hits: pa.Array) -> np.ndarray:
    """A boolean Arrow array as NumPy, NULL as False."""
    return hits.fill_null(False).to_numpy(zero_copy_only=False)


def bulk_insert(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame,
                key: Sequence[str]) -> int:
    """Insert the rows whose key is new (all rows when ``key`` is empty), in the caller's
    transaction; the number written."""
    for name in key:
        if name not in frame:
            frame[name] = t.c[name].server_default.arg if t.c[name].server_default else None
    if key and frame.duplicated(list(key)).any():  # hashed; the rows named only on failure
        twice = frame.duplicated(list(key), keep=False).to_numpy()
        shown = "; ".join(
            ", ".join(f"{k} {v!r}" for k, v in zip(key, row, strict=True) if v != "")
            for row in frame.loc[twice, list(key)].drop_duplicates().head(3)
            .itertuples(index=False, name=None))
        raise SchemaError(
            f"{t.name}: rows {_rows(twice)} repeat a key ({shown}); each row needs its own "
            f"{' and '.join(key)}: remove the repeated rows from the file, or give them ids "
            "of their own", table=t.name, column=key[-1])
    if conn.dialect.name == "postgresql":
        return _copy_postgres(conn, t, frame, key)
    return _executemany_sqlite(conn, t, frame, key)


def _executemany_sqlite(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame,
                        key: Sequence[str]) -> int:
    cols = list(frame.columns)
    values = []
    for name in cols:
        v = frame[name]
        if pd.api.types.is_datetime64_any_dtype(v):
            fmt = "%Y-%m-%d" if isinstance(t.c[name].type, sa.Date) else "%Y-%m-%d %H:%M:%S.%f"
            text = v.dt.strftime(fmt)
            values.append(text.astype(object).where(v.notna(), None).tolist())
        elif isinstance(v.dtype, pd.StringDtype):
            values.append(pa.array(v.array).to_pylist())
        else:
            values.append(v.tolist() if v.dtype != object else list(v))
    raw = conn.connection.driver_connection
    sql = (f'INSERT INTO "{t.name}" ({", ".join(_quote(c) for c in cols)}) '
           f'VALUES ({", ".join("?" * len(cols))})')
    if key:
        sql += f' ON CONFLICT ({", ".join(_quote(c) for c in key)}) DO NOTHING'
    before = raw.total_changes
    raw.executemany(sql, zip(*values, strict=True))
    return raw.total_changes - before


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_csv(frame: pd.DataFrame, t: sa.Table) -> pa.Buffer:
    """The rows as CSV for ``COPY ... (FORMAT csv)``: Arrow's writer quotes every text
    value (an empty text is ``""``), leaves NULL unquoted and empty, writes dates as
    ``YYYY-MM-DD`` and times as ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    arrays = []
    for name in frame.columns:
        v = frame[name]
        if pd.api.types.is_datetime64_any_dtype(v):
            kind = pa.date32() if isinstance(t.c[name].type, sa.Date) else pa.timestamp("us")
            arrays.append(pa.array(v.to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"),
                                   mask=v.isna().to_numpy()).cast(kind))
        elif v.dtype == object:  # JSON text, a key's default: as they are
            arrays.append(pa.array(v.to_numpy(), type=pa.large_string(), from_pandas=True))
        else:
            arrays.append(pa.array(v.array if isinstance(v.dtype, pd.StringDtype) else v,
                                   from_pandas=True))
    table = pa.Table.from_arrays(arrays, names=list(frame.columns))
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False,
                                                      quoting_style="needed"))
    return sink.getvalue()


def _copy_postgres(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame,
                   key: Sequence[str]) -> int:
    from psycopg import sql
    from psycopg.errors import UniqueViolation

    raw = conn.connection.driver_connection
    stage = sql.Identifier(f"nexus_stage_{t.name}")
    target = sql.Identifier(t.name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    copy_sql = "COPY {} ({}) FROM STDIN (FORMAT csv)"
    data = _copy_csv(frame, t)
    with raw.cursor() as cur:
        if not key:  # nothing to skip: straight into the table
            with cur.copy(sql.SQL(copy_sql).format(target, cols)) as copy:
                _write_copy(copy, data)
            return len(frame)
        # one writer of the table at a time (readers go on): a second ingest of the same
        # rows waits here, then finds them and writes none
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(target))
        # a new file's rows are usually all new: try them straight into the table, and
        # only when one is there already (a unique key refuses it) go through staging
        cur.execute("SAVEPOINT nexus_copy")
        try:
            with cur.copy(sql.SQL(copy_sql).format(target, cols)) as copy:
                _write_copy(copy, data)
        except UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT nexus_copy")
        else:
            cur.execute("RELEASE SAVEPOINT nexus_copy")
            return len(frame)
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP")
                    .format(stage, target))
        with cur.copy(sql.SQL(copy_sql).format(stage, cols)) as copy:
            _write_copy(copy, data)
        cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING")
                    .format(target, cols, cols, stage,
                            sql.SQL(", ").join(sql.Identifier(k) for k in key)))
        written = cur.rowcount
        cur.execute(sql.SQL("DROP TABLE {}").format(stage))
    return int(written)


def _write_copy(copy: Any, data: pa.Buffer, step: int = 1 << 20) -> None:
    view = memoryview(data)
    for lo in range(0, len(view), step):
        copy.write(view[lo:lo + step])
