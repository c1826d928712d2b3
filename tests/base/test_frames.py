"""Frames in, checked columns out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from nexus_lab.device import resolve_device
from nexus_lab.errors import DeviceError, SchemaError
from nexus_lab.frames import parse_cents, parse_days, select_columns, to_pandas


@pytest.mark.parametrize("make", [
    lambda d: pd.DataFrame(d), lambda d: pl.DataFrame(d), lambda d: pl.DataFrame(d).lazy(),
    lambda d: pa.table(d), lambda d: d, lambda d: [dict(zip(d, v)) for v in zip(*d.values())],
])
def test_to_pandas_accepts_common_frames(make):
    data = {"a": [1, 2, 3], "b": ["x", "y", "z"]}
    out = to_pandas(make(data))
    assert isinstance(out, pd.DataFrame)
    assert out["a"].tolist() == [1, 2, 3]


def test_to_pandas_refuses_other_things():
    with pytest.raises(SchemaError, match="must be a DataFrame"):
        to_pandas(42, "bank")


def test_money_text_forms():
    s = pd.Series(["1,234.50", "(12.00)", "12.00-", "-3", ".5", "USD 7", None])
    with pytest.raises(SchemaError, match="missing amounts"):
        parse_cents(s, table="t")
    got = parse_cents(s[:-1], table="t").tolist()
    assert got == [123450, -1200, -1200, -300, 50, 700]


def test_cents_are_exact_integers():
    x = pd.Series(np.round(np.random.default_rng(0).uniform(-1e6, 1e6, 10_000), 2))
    cents = parse_cents(x, table="t")
    assert cents.dtype == np.int64
    assert np.array_equal(cents, np.rint(x.to_numpy() * 100).astype(np.int64))


def test_dates_and_timezones():
    days = parse_days(pd.Series(pd.to_datetime(["2025-01-01T23:30:00+02:00"])), table="t")
    assert days.tolist() == [20089]
    with pytest.raises(SchemaError, match="YYYY-MM-DD"):
        parse_days(pd.Series(["2025-01-01", "soon"]), table="t")


def test_select_columns_suggests_close_names():
    df = pd.DataFrame({"TransactionId": [1], "amt": [2.0]})
    with pytest.raises(SchemaError, match="did you mean 'TransactionId'"):
        select_columns(df, name="bank", required=["transaction_id"])


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")
