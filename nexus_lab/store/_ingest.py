"""Bulk ingest: a frame checked and typed for its table, then written in one statement.

PostgreSQL takes the rows through ``COPY ... FROM STDIN`` (text format, built column by
column, not row by row) into a temporary staging table, then one ``INSERT ... SELECT ...
ON CONFLICT DO NOTHING``; SQLite through one ``executemany`` with ``ON CONFLICT DO
NOTHING``. Both inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    check_unique,
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

    Returns a frame with the table's column names: text as objects (None for NULL),
    money as int64 cents, dates as ``datetime64``, JSON as its text.
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
        blank = values.isna() | (values.astype("string").str.strip() == "")
        if blank.all():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        stamps = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        stamps[~blank] = read_dates(values[~blank], table=t.name, column=name,
                                    dayfirst=dayfirst)[0]
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
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    nul = text.str.contains("\x00", regex=False).fillna(False).to_numpy()
    if nul.any():
        raise SchemaError(f"{t.name}.{name} holds NUL characters (\\x00) in rows {_rows(nul)}, "
                          "which a database text column cannot keep; remove them from the "
                          "file (e.g. tr -d '\\000')", table=t.name, column=name)
    limit = getattr(kind, "length", None)
    if limit:
        long = (text.str.len() > limit).fillna(False).to_numpy()
        if long.any():
            raise SchemaError(f"{t.name}.{name} holds text longer than {limit} characters in "
                              f"rows {_rows(long)}; is it the right column?", table=t.name,
                              column=name)
    return text.astype(object).where(text.notna(), None).to_numpy()


def bulk_insert(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame,
                key: Sequence[str]) -> int:
    """Insert the rows whose key is new (all rows when ``key`` is empty), in the caller's
    transaction; the number written."""
    for name in key:
        if name not in frame:
            frame[name] = t.c[name].server_default.arg if t.c[name].server_default else None
    if not key:
        pass
    elif len(key) == 1:
        check_unique(frame[key[0]].to_numpy(), table=t.name, column=key[0])
    else:
        joined = frame[list(key)].astype(str).agg("\x1f".join, axis=1).to_numpy()
        check_unique(joined, table=t.name, column="+".join(key))
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


def _copy_text(frame: pd.DataFrame, t: sa.Table) -> bytes:
    """The rows in COPY's text format, built a column at a time."""
    parts = []
    for name in frame.columns:
        v = frame[name]
        if pd.api.types.is_datetime64_any_dtype(v):
            fmt = "%Y-%m-%d" if isinstance(t.c[name].type, sa.Date) else "%Y-%m-%d %H:%M:%S.%f"
            text = v.dt.strftime(fmt).astype("string")
        elif pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v):
            text = v.astype("string")
        else:
            text = pd.Series(v, dtype="string")
            if text.str.contains(r"[\\\t\n\r]", regex=True).fillna(False).any():
                text = (text.str.replace("\\", "\\\\", regex=False)
                        .str.replace("\t", "\\t", regex=False)
                        .str.replace("\n", "\\n", regex=False)
                        .str.replace("\r", "\\r", regex=False))
        parts.append(text.fillna("\\N"))
    lines = parts[0].str.cat(parts[1:], sep="\t") if len(parts) > 1 else parts[0]
    return ("\n".join(lines.tolist()) + "\n").encode("utf-8")


def _copy_postgres(conn: sa.Connection, t: sa.Table, frame: pd.DataFrame,
                   key: Sequence[str]) -> int:
    from psycopg import sql

    raw = conn.connection.driver_connection
    stage = sql.Identifier(f"nexus_stage_{t.name}")
    target = sql.Identifier(t.name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    with raw.cursor() as cur:
        if not key:  # nothing to skip: straight into the table
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy:
                _write_copy(copy, _copy_text(frame, t))
            return len(frame)
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(stage))
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP")
                    .format(stage, target))
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, cols)) as copy:
            _write_copy(copy, _copy_text(frame, t))
        cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING")
                    .format(target, cols, cols, stage,
                            sql.SQL(", ").join(sql.Identifier(k) for k in key)))
        written = cur.rowcount
        cur.execute(sql.SQL("DROP TABLE {}").format(stage))
    return int(written)


def _write_copy(copy: Any, data: bytes, step: int = 1 << 20) -> None:
    for lo in range(0, len(data), step):
        copy.write(data[lo:lo + step])
