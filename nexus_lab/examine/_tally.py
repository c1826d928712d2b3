"""Pieces the digit, gap and profile tests share: the user's columns under our names,
row ids, exact sums of cents per group, and amounts as text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.frames import cents_text, find_column, select_columns, to_pandas

__all__ = ["NAME", "amount_text", "cent_sums", "check_choice", "money", "row_ids", "table"]

#: The name of the user's table in error messages.
NAME = "data"


def table(df: object, required: Sequence[str], optional: Sequence[str] = (),
          columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The user's frame as pandas, with the columns we read under our names (a missing
    one is a :class:`SchemaError` that names it and the closest column).

    The columns are checked by :func:`~nexus_lab.frames.select_columns` on the first row
    and then taken whole without a copy."""
    data = to_pandas(df, NAME)
    required = list(dict.fromkeys(c for c in required if c))
    optional = [c for c in dict.fromkeys(optional) if c not in required]
    head = select_columns(data.head(1), name=NAME, required=required, optional=optional,
                          columns=columns)
    mapping, have = dict(columns or {}), [str(c) for c in data.columns]
    source = {c: mapping.get(c) or find_column(have, c) or c for c in head.columns}
    labels = {str(c): c for c in data.columns}
    return pd.DataFrame({c: data[labels[source[c]]] for c in head.columns}, copy=False)


def row_ids(data: pd.DataFrame) -> np.ndarray | None:
    """The ``transaction_id`` column, when the frame has one (errors name rows by it)."""
    return data["transaction_id"].to_numpy() if "transaction_id" in data else None


def check_choice(name: str, value: object, allowed: Sequence[object]) -> None:
    """Refuse a parameter value outside ``allowed``, listing the choices."""
    if value not in allowed:
        raise SchemaError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def cent_sums(codes: np.ndarray, cents: np.ndarray, size: int) -> np.ndarray:
    """Exact sums of int64 ``cents`` per code ``0..size-1`` (int64).

    ``numpy.bincount`` sums in float64, exactly while no partial sum reaches 2**53: so
    at once when the values are that small together, else with each value split into a
    high part (below 2**27 in magnitude) and a low 26-bit part, 2**25 values at a time.

    Examples
    --------
    >>> cent_sums(np.array([0, 1, 0]), np.array([2**52 + 1, -5, 2**52 + 1]), 2).tolist()
    [9007199254740994, -5]
    """
    if not len(cents):
        return np.zeros(size, np.int64)
    bound = max(abs(int(cents.max())), abs(int(cents.min())))
    if bound * len(cents) < 2**53:
        return np.bincount(codes, weights=cents, minlength=size).astype(np.int64)
    out = np.zeros(size, np.int64)
    step = 1 << 25
    for s in range(0, len(cents), step):
        c, g = cents[s:s + step], codes[s:s + step]
        out += np.bincount(g, weights=c >> 26, minlength=size).astype(np.int64) << 26
        out += np.bincount(g, weights=c & ((1 << 26) - 1), minlength=size).astype(np.int64)
    return out


def money(cents: np.ndarray | int) -> np.ndarray | float:
    """Cents as currency units (float64) for tables and plots."""
    return np.asarray(cents, dtype=np.int64) / 100.0 if np.ndim(cents) else int(cents) / 100.0


def amount_text(cents: int) -> str:
    """One amount as text (``1,234.50``)."""
    return cents_text(int(cents))
