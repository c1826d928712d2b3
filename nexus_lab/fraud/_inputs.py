"""Inputs of the fraud kernel: checked columns and labels, as NumPy arrays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    check_unique,
    parse_cents,
    parse_timestamps,
    select_columns,
    to_pandas,
)

REQUIRED = ("transaction_id", "date", "amount")
OPTIONAL = ("account", "vendor", "category")


@dataclass
class Tx:
    """One table of transactions as arrays (seconds, cents, entity values)."""

    ids: np.ndarray
    ts: np.ndarray  # int64 seconds since 1970, UTC instant
    local: np.ndarray  # int64 seconds of the local wall-clock time
    cents: np.ndarray  # int64
    entities: dict[str, np.ndarray]  # account / vendor / category values (object)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> Tx:
        return Tx(self.ids[rows], self.ts[rows], self.local[rows], self.cents[rows],
                  {k: v[rows] for k, v in self.entities.items()})

    @classmethod
    def concat(cls, parts: list[Tx]) -> Tx:
        keys = parts[0].entities.keys()
        return cls(
            np.concatenate([p.ids for p in parts]),
            np.concatenate([p.ts for p in parts]),
            np.concatenate([p.local for p in parts]),
            np.concatenate([p.cents for p in parts]),
            {k: np.concatenate([p.entities[k] for p in parts]) for k in keys},
        )


def prepare_transactions(
    data: FrameLike, columns: Mapping[str, str] | None, name: str = "transactions", *,
    decimal: str = "auto", dayfirst: bool | None = None,
) -> Tx:
    """Select, rename and check the columns; money to cents, times to seconds (read as
    every kernel reads them: :func:`nexus_lab.frames.read_money`, ``read_dates``)."""
    df = to_pandas(data, name)
    df = select_columns(df, name=name, required=REQUIRED, optional=OPTIONAL, columns=columns)
    ids = df["transaction_id"].to_numpy()
    check_unique(ids, table=name)
    cents = parse_cents(df["amount"], table=name, ids=ids, decimal=decimal)
    instant, local = parse_timestamps(df["date"], table=name, ids=ids, dayfirst=dayfirst)
    entities = {}
    for col in OPTIONAL:
        if col in df:
            entities[col] = _text(df[col])
        else:  # one group for everybody: the rules still run, per-group ones on the whole
            entities[col] = np.full(len(df), "", dtype=object)
    return Tx(
        ids.astype(object) if ids.dtype.kind not in "iu" else ids,
        instant.astype("datetime64[s]").astype(np.int64),
        local.astype("datetime64[s]").astype(np.int64),
        cents,
        entities,
    )


def _text(values: pd.Series) -> np.ndarray:
    """A column as an object array of str, missing values as ``""``."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
        # already text: skip the copy into a string array and back
        out = values.to_numpy(dtype=object)
        missing = pd.isna(out)
        if missing.any():
            out = np.where(missing, "", out)
        return out
    return values.astype("string").fillna("").to_numpy(dtype=object)


def prepare_labels(y: object, data: FrameLike, n: int, name: str = "history") -> np.ndarray:
    """Labels as a bool array aligned with the rows of ``data``.

    ``y`` may be a column name of ``data``, or an array, list or Series of
    booleans / 0-1 with one value per row (a Series must share the frame's index).
    """
    if isinstance(y, str):
        frame = to_pandas(data, name)
        if y not in frame:
            raise SchemaError(
                f"labels: {name} has no column {y!r}; pass y= as that column's name or as an "
                "array with one label per row",
                table=name, column=y,
            )
        y = frame[y]
    if isinstance(y, pd.Series) and isinstance(data, pd.DataFrame):
        if len(y) == len(data) and not y.index.equals(data.index):
            if set(y.index) == set(data.index):
                y = y.reindex(data.index)
            else:
                raise SchemaError(
                    f"labels are misaligned with {name}: the Series' index holds other labels "
                    "than the frame's; pass y.to_numpy() if the order is right, or align them "
                    "with y.reindex(frame.index)",
                    table=name, column="y",
                )
    values = np.asarray(y)
    if values.ndim != 1 or len(values) != n:
        raise SchemaError(
            f"labels are misaligned with {name}: "
            f"{len(values) if values.ndim == 1 else values.shape} labels for {n} rows; give "
            "exactly one label per row, in row order",
            table=name, column="y",
        )
    series = pd.Series(values)
    if series.isna().any():
        rows = np.flatnonzero(series.isna().to_numpy())[:5].tolist()
        raise SchemaError(
            f"labels are missing at rows {rows}; label every row (True/1 = fraud, False/0 = "
            "not) or drop the unlabeled rows",
            table=name, column="y", rows=rows,
        )
    if series.dtype == bool:
        return series.to_numpy()
    if pd.api.types.is_numeric_dtype(series) and set(np.unique(values)) <= {0, 1}:
        return values.astype(bool)
    text = series.astype(str).str.strip().str.lower()
    known = {"true": True, "1": True, "yes": True, "fraud": True,
             "false": False, "0": False, "no": False, "legit": False}
    bad = ~text.isin(list(known))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise SchemaError(
            f"labels must be booleans or 0/1; rows {rows} hold {series[bad].head(3).tolist()}",
            table=name, column="y", rows=rows,
        )
    return text.map(known).to_numpy(dtype=bool)



def time_split(data: FrameLike, labels: object = None, *, holdout: float = 0.2,
               columns: Mapping[str, str] | None = None, dayfirst: bool | None = None,
               ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None, np.ndarray | None]:
    """Hold out the latest ``holdout`` share of the transactions, by date.

    Parameters
    ----------
    data : DataFrame
        Transactions (pandas, polars, pyarrow or cuDF).
    labels : array-like or str, optional
        Fraud labels, or the name of their column in ``data`` (that column is dropped
        from both parts).
    holdout : float
        Share of the latest rows held out, in (0, 0.5].
    columns : mapping, optional
        Column names, as for :class:`~nexus_lab.fraud.FraudDetector`.
    dayfirst : bool, optional
        The order of numeric dates when the column does not settle it, as for
        :class:`~nexus_lab.fraud.FraudDetector`.

    Returns
    -------
    train, test : DataFrame
        The earlier and the latest rows, each in its original order.
    y_train, y_test : ndarray of bool or None
        Their labels (None without ``labels``).

    Examples
    --------
    >>> import nexus_lab as nx
    >>> tx = nx.datasets.synth_transactions(1_000, seed=0)
    >>> train, test, y_train, y_test = time_split(tx, "is_fraud", holdout=0.25)
    >>> len(train) + len(test) == len(tx), round(len(test) / len(tx), 2), "is_fraud" in test
    (True, 0.25, False)
    >>> bool(train["date"].max() <= test["date"].min())
    True
    """
    if not isinstance(holdout, int | float) or not 0 < holdout <= 0.5:
        raise SchemaError(f"holdout must be a share in (0, 0.5], got {holdout!r}")
    frame = to_pandas(data, "transactions").reset_index(drop=True)
    y = None
    if labels is not None:
        y = prepare_labels(labels, frame, len(frame), "transactions")
        if isinstance(labels, str):
            frame = frame.drop(columns=[labels])
    tx = prepare_transactions(frame, columns, "transactions", dayfirst=dayfirst)
    order = np.argsort(tx.ts, kind="stable")
    cut = round(len(frame) * (1 - holdout))
    train_rows, test_rows = np.sort(order[:cut]), np.sort(order[cut:])
    return (frame.iloc[train_rows], frame.iloc[test_rows],
            None if y is None else y[train_rows], None if y is None else y[test_rows])
