"""Interactions in, a user x item matrix out: checks, id codes and weights."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import describe_rows, select_columns, to_pandas

REQUIRED = ("user_id", "item_id")
OPTIONAL = ("rating", "timestamp")


@dataclass
class Interactions:
    """What a recommender learns from: ids, their codes, and the weighted matrix.

    ``matrix`` is a CSR matrix of users x items; its values are the weights
    (the ratings, or 1 per interaction without them), duplicates summed.
    """

    users: pd.Index  # code -> user id
    items: pd.Index  # code -> item id
    matrix: sp.csr_matrix

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


def _check_ids(values: pd.Series, column: str, name: str) -> np.ndarray:
    missing = values.isna().to_numpy()
    if missing.any():
        raise SchemaError(
            f"{name}.{column}: missing ids at {describe_rows(missing)}; drop those rows or fill "
            "them", table=name, column=column, rows=np.flatnonzero(missing)[:5].tolist())
    if values.dtype == object:
        kinds = pd.api.types.infer_dtype(values, skipna=True)
        if kinds.startswith("mixed"):
            is_text = values.map(lambda v: isinstance(v, str)).to_numpy()
            raise SchemaError(
                f"{name}.{column} mixes text and numbers (text at {describe_rows(is_text)}, "
                f"numbers at {describe_rows(~is_text)}), so 7 and '7' would be two "
                f"different ids; convert the column to one type, e.g. "
                f"df[{column!r}] = df[{column!r}].astype(str)",
                table=name, column=column, rows=np.flatnonzero(~is_text)[:5].tolist())
    return values.to_numpy()


def _weights(df: pd.DataFrame, weight: str | None, name: str) -> np.ndarray:
    if weight is None:
        return np.ones(len(df), dtype=np.float32)
    values = pd.to_numeric(df[weight], errors="coerce")
    bad = values.isna().to_numpy() & df[weight].notna().to_numpy()
    if bad.any():
        raise SchemaError(
            f"{name}.{weight}: not numbers at {describe_rows(bad)}; weights must be numbers "
            "(a rating, a play count, a purchase amount)",
            table=name, column=weight, rows=np.flatnonzero(bad)[:5].tolist())
    w = values.to_numpy(dtype=np.float64)
    for what, mask, fix in (
        ("missing (NaN)", ~np.isfinite(w) & ~np.isinf(w), "fill them or drop the rows"),
        ("infinite", np.isinf(w), "cap or drop them"),
        ("negative", w < 0, "a weight says how much a user wanted an item; map dislikes to "
         "0 or drop those rows"),
    ):
        if mask.any():
            raise SchemaError(f"{name}.{weight}: {what} weights at {describe_rows(mask)}; {fix}",
                              table=name, column=weight,
                              rows=np.flatnonzero(mask)[:5].tolist())
    return w.astype(np.float32)


def prepare_interactions(
    data: FrameLike,
    columns: Mapping[str, str] | None = None,
    weight: str | None = None,
    name: str = "interactions",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Select and check the columns; return the frame and each row's weight.

    ``weight`` names the column whose values weigh the interactions (``None``:
    every interaction weighs 1).
    """
    df = to_pandas(data, name)
    keep = [c for c in df.columns if str(c) not in REQUIRED + OPTIONAL
            and str(c) not in dict(columns or {}).values()]
    out = select_columns(df, name=name, required=REQUIRED, optional=OPTIONAL, columns=columns)
    for c in keep:  # item metadata (titles, genres...) rides along for content models
        out[c] = df[c].to_numpy()
    for c in REQUIRED:
        out[c] = _check_ids(out[c], c, name)
    if weight is not None and weight not in out:
        raise SchemaError(f"{name} has no weight column {weight!r} (it has "
                          f"{list(out.columns)}); pass weight=None to count each interaction "
                          "once", table=name, column=weight)
    w = _weights(out, weight, name)
    return out, w


def build(df: pd.DataFrame, w: np.ndarray, users: pd.Index | None = None,
          items: pd.Index | None = None) -> Interactions:
    """The matrix of ``df``; ids get codes in order of first appearance unless given."""
    users = users if users is not None else pd.Index(pd.unique(df["user_id"].to_numpy()))
    items = items if items is not None else pd.Index(pd.unique(df["item_id"].to_numpy()))
    u = users.get_indexer(df["user_id"].to_numpy())
    i = items.get_indexer(df["item_id"].to_numpy())
    keep = (u >= 0) & (i >= 0)
    m = sp.csr_matrix((w[keep], (u[keep], i[keep])), shape=(len(users), len(items)),
                      dtype=np.float32)
    m.sum_duplicates()  # a pair seen twice weighs the sum
    return Interactions(users, items, m)


def interactions_matrix(data: FrameLike, columns: Mapping[str, str] | None = None,
                        weight: str | None = None,
                        name: str = "interactions") -> Interactions:
    """Check ``data`` and build its user x item matrix (see :class:`Interactions`)."""
    df, w = prepare_interactions(data, columns, weight, name)
    return build(df, w)
