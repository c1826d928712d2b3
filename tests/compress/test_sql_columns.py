"""compress_frame on the column types a SQL driver returns: Decimal, date and object bools."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nexus_lab.compress import compress_frame, decompress_frame
from nexus_lab.errors import IntegrityError, SchemaError


def _same(a: pd.Series, b: pd.Series) -> None:
    """Equal value by value, with the same Python types (and Decimal's scale)."""
    assert a.dtype == b.dtype == object
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        assert type(x) is type(y), (x, y)
        if isinstance(x, float):
            assert np.isnan(x) and np.isnan(y)
        elif isinstance(x, Decimal):
            assert x.as_tuple() == y.as_tuple(), (x, y)  # scale and sign kept
        else:
            assert x == y or x is y


def sql_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "amount": [Decimal("12.50"), Decimal("-0.00"), None, Decimal("1E+3"),
                   Decimal("99999999999999999999999.1234"), Decimal("NaN"), Decimal("7")],
        "booked": [dt.date(2026, 3, 14), None, dt.date(1, 1, 1), dt.date(9999, 12, 31),
                   dt.date(2026, 3, 15), dt.date(2026, 3, 14), np.nan],
        "cleared": [True, False, None, True, np.nan, False, True],
    })


def test_decimal_date_and_bool_objects_round_trip_exactly():
    df = sql_frame()
    out = decompress_frame(compress_frame(df, level=3))
    for column in df:
        _same(df[column], out[column])
    assert [str(v) for v in out["amount"][:2]] == ["12.50", "-0.00"]


def test_many_decimals_store_smaller_than_their_text():
    rng = np.random.default_rng(0)
    cents = rng.integers(-10**6, 10**6, 20_000)
    df = pd.DataFrame({"amount": [Decimal(int(c)).scaleb(-2) for c in cents],
                       "day": [dt.date(2026, 1, 1) + dt.timedelta(int(d))
                               for d in rng.integers(0, 365, 20_000)]})
    blob = compress_frame(df, level=3)
    out = decompress_frame(blob)
    _same(df["amount"], out["amount"])
    _same(df["day"], out["day"])
    text = compress_frame(df.astype(str), level=3)
    assert len(blob) < len(text)


def test_mixed_objects_are_still_refused_by_name():
    with pytest.raises(SchemaError, match=r"'m'.*Decimal.*date"):
        compress_frame(pd.DataFrame({"m": [Decimal("1.5"), dt.date(2026, 1, 1)]}))
    with pytest.raises(SchemaError, match=r"'t'"):
        compress_frame(pd.DataFrame({"t": [dt.datetime(2026, 1, 1, 12), dt.date(2026, 1, 2)]}))


def test_a_reader_that_predates_them_asks_for_an_upgrade():
    blob = compress_frame(sql_frame(), level=3)
    (version,) = struct.unpack_from("<H", blob, 4)
    plain = compress_frame(pd.DataFrame({"x": [1.5]}), level=3)
    assert struct.unpack_from("<H", plain, 4) == (1,)  # old readers still read plain frames
    assert version == 2
    corrupt = bytearray(blob)
    corrupt[-1] ^= 1
    with pytest.raises(IntegrityError):
        decompress_frame(bytes(corrupt))
