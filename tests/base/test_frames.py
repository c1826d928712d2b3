"""Frames in, checked columns out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from nexus_lab.device import resolve_device
from nexus_lab.errors import DeviceError, SchemaError
from nexus_lab.frames import (
    find_column,
    parse_cents,
    parse_days,
    parse_timestamps,
    read_dates,
    read_money,
    select_columns,
    to_pandas,
)


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
    df = pd.DataFrame({"TransactionId": [1], "Paid out": [2.0], "Paid in": [0.0],
                       "account": ["OPER-4410"], "amt": ["1,00"]})
    out = select_columns(df, name="bank", required=["transaction_id"],
                         optional=["debit", "credit"])
    assert out.columns.tolist() == ["transaction_id", "debit", "credit"]
    with pytest.raises(SchemaError, match="did you mean 'amt'"):
        select_columns(df, name="bank", required=["amount"])
    # a column of text is never offered for money
    with pytest.raises(SchemaError, match=r"pass columns=\{'amount': '<your column>'\}"):
        select_columns(df[["account"]], name="bank", required=["amount"])


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu")


# ------------------------------------------------------------ one convention per column


@pytest.mark.parametrize("cells, cents, mark", [
    (["1.234,56", "111,51", "12,50"], [123456, 11151, 1250], ","),
    (["1 234,56 €", "-12,5", "(3,00)"], [123456, -1250, -300], ","),
    (["1.234.567", "12,00"], [123456700, 1200], ","),
    (["1,234.56", "111.51", "12.5"], [123456, 11151, 1250], "."),
    (["1,234", "5,000", "12.5"], [123400, 500000, 1250], "."),  # thousands, settled by 12.5
    (["1.234", "5.000", "7,25"], [123400, 500000, 725], ","),  # thousands point, 7,25
    (["$(12.50)", "(12.50) USD", "USD (3.00)", "12.50- USD", "-$1.00"],
     [-1250, -1250, -300, -1250, -100], "."),  # a sign outside the currency
    (["12,50- €", "(€12,50)", "€ -3,00"], [-1250, -1250, -300], ","),
    (["90071992547409.91", "0.5"], [9007199254740991, 50], "."),  # exact beyond float cents
    (["0.125", "7"], [12, 700], "."),  # a leading zero is never a thousands group
    (["1'234.50", "3"], [123450, 300], "."),
    (["1.5E3", "2"], [150000, 200], "."),
])
def test_decimal_mark_is_decided_per_column(cells, cents, mark):
    got, written = read_money(pd.Series(cells), table="bank")
    assert got.tolist() == cents
    assert written["decimal"] == mark


def test_amounts_nothing_settles_are_refused():
    # 89.080 is 89.08 in dinars (three decimals) or 89,080 with a thousands point
    for cells in (["89.080", "12.345"], ["1,234", "5,000", "12"]):
        with pytest.raises(SchemaError, match=r"read two ways.*decimal='\.'"):
            parse_cents(pd.Series(cells), table="bank")
    assert parse_cents(pd.Series(["89.080", "12.345"]), table="b", decimal=".").tolist() == [
        8908, 1234]
    assert parse_cents(pd.Series(["1.234", "5.000"]), table="b", decimal=",").tolist() == [
        123400, 500000]


def test_decimal_numbers_are_numbers():
    from decimal import Decimal

    money = [Decimal("89.080"), Decimal("12.345"), None]
    for values in (pd.Series(money, dtype=object),
                   pd.Series(pa.array(money, pa.decimal128(18, 3)), dtype=pd.ArrowDtype(
                       pa.decimal128(18, 3)))):
        with pytest.raises(SchemaError, match="missing amounts"):
            read_money(values, table="bank")
        cents, written = read_money(values[:2], table="bank")
        assert cents.tolist() == [8908, 1234] and written["decimal"] is None


def test_both_decimal_marks_in_one_column_are_refused():
    with pytest.raises(SchemaError, match=r"both decimal marks.*rows? .*decimal="):
        parse_cents(pd.Series(["1.234,56", "12,50", "99.95"]), table="bank")
    with pytest.raises(SchemaError, match="both decimal marks"):
        parse_cents(pd.Series(["12,50", "1,234"]), table="bank")


def test_a_given_decimal_mark_is_checked():
    assert parse_cents(pd.Series(["1.234", "5"]), table="b", decimal=".").tolist() == [123, 500]
    with pytest.raises(SchemaError, match="decimal point"):
        parse_cents(pd.Series(["12,50"]), table="b", decimal=".")
    with pytest.raises(SchemaError, match="decimal="):
        parse_cents(pd.Series(["1"]), table="b", decimal=";")


def test_the_currency_written_is_reported():
    assert read_money(pd.Series(["$1.00", "$2.50"]), table="b")[1]["currency"] == "$"
    assert read_money(pd.Series([1.0, 2.5]), table="b")[1] == {"decimal": None,
                                                                "currency": None}


@pytest.mark.parametrize("cells, iso, order", [
    (["03/04/2025", "13/04/2025"], ["2025-04-03", "2025-04-13"], "day/month/year"),
    (["04/03/2025", "04/13/2025"], ["2025-04-03", "2025-04-13"], "month/day/year"),
    (["3.4.25", "31.12.25"], ["2025-04-03", "2025-12-31"], "day/month/year"),
    (["2025-04-03", "2025-04-13T10:00"], ["2025-04-03", "2025-04-13"], "ISO 8601"),
    (["3 Apr 2025", "Apr 13, 2025"], ["2025-04-03", "2025-04-13"], "text"),
    (["03/03/2025"], ["2025-03-03"], "day/month/year"),  # reads the same either way
    (["04.03.2025, 10:00", "13.03.2025."], ["2025-03-04", "2025-03-13"], "day/month/year"),
    (["Mon 04/03/2025", "Thu 13/03/2025"], ["2025-03-04", "2025-03-13"], "day/month/year"),
    (["13.03.99", "01.02.25"], ["1999-03-13", "2025-02-01"], "day/month/year"),
    (["04/03/2025 at 10:00", "13/03/2025 at 9:30"], ["2025-03-04", "2025-03-13"],
     "day/month/year"),
])
def test_date_order_is_decided_per_column(cells, iso, order):
    stamps, got = read_dates(pd.Series(cells), table="bank")
    assert [str(d)[:10] for d in stamps] == iso
    assert got == order


def test_dates_nothing_settles_need_dayfirst():
    cells = pd.Series(["03/04/2025", "05/06/2025"])
    with pytest.raises(SchemaError, match=r"read two ways.*dayfirst=True"):
        parse_days(cells, table="bank")
    assert parse_days(cells, table="b", dayfirst=True).tolist() == parse_days(
        pd.Series(["2025-04-03", "2025-06-05"]), table="b").tolist()
    assert parse_days(cells, table="b", dayfirst=False).tolist() == parse_days(
        pd.Series(["2025-03-04", "2025-05-06"]), table="b").tolist()


def test_two_date_orders_in_one_column_are_refused():
    with pytest.raises(SchemaError, match=r"two orders.*13/04/2025.*04/13/2025"):
        parse_days(pd.Series(["13/04/2025", "04/13/2025"]), table="bank")
    with pytest.raises(SchemaError, match="dayfirst=True"):
        parse_days(pd.Series(["13/04/2025"]), table="bank", dayfirst=False)


def test_zones_are_converted_to_utc_and_mixed_offsets_work():
    days = parse_days(pd.Series(["2025-01-01T23:30:00-05:00", "2025-01-01T01:00:00+00:00"]),
                      table="bank")
    assert days.tolist() == [20090, 20089]
    with pytest.raises(SchemaError, match="zone mixed"):
        parse_days(pd.Series(["2025-01-01T23:30:00-05:00", "2025-01-01"]), table="bank")


def test_impossible_iso_dates_say_so():
    with pytest.raises(SchemaError, match="do not exist or are out of range"):
        parse_days(pd.Series(["2025-02-30", "2025-01-01"]), table="bank")
    with pytest.raises(SchemaError, match="out of range"):
        parse_days(pd.Series(["3025-01-01"]), table="bank")


def test_two_columns_of_one_name_are_refused():
    df = pd.DataFrame([[1, 2.0, 3.0]], columns=["transaction_id", "amount", "amount"])
    with pytest.raises(SchemaError, match=r"more than one column named 'amount'.*\[1, 2\]"):
        select_columns(df, name="bank", required=["transaction_id", "amount"])
    df.columns = ["transaction_id", "amount", "memo"]
    assert select_columns(df, name="bank", required=["amount"]).columns.tolist() == ["amount"]


def test_rows_of_a_slice_keep_their_dates():
    # a slice of a bigger table (its index does not start at 0), text with and without zones
    plain = pd.Series(["2025-05-22 21:25:07"] * 3, index=[4000, 4001, 4002])
    assert parse_days(plain, table="t").tolist() == [20230] * 3
    zoned = pd.Series(["2025-05-22T21:25:07+02:00"] * 2, index=[7, 9])
    instant, local = parse_timestamps(zoned, table="t")
    assert str(instant[1])[:19] == "2025-05-22T19:25:07" and str(local[1])[:19] == (
        "2025-05-22T21:25:07")


@pytest.mark.parametrize("out, into", [("Withdrawal Amount", "Deposit Amount"),
                                        ("Debit (EUR)", "Credit (EUR)"), ("DR", "CR"),
                                        ("Money out", "Money in")])
def test_usual_money_out_and_in_headings(out, into):
    have = ["Date", out, into, "Details"]
    assert (find_column(have, "debit"), find_column(have, "credit")) == (out, into)


def test_numbers_that_are_dates():
    assert read_dates(pd.Series([20250304, 20251231]), table="b")[1] == "YYYYMMDD"
    assert parse_days(pd.Series([20250304]), table="b").tolist() == parse_days(
        pd.Series(["2025-03-04"]), table="b").tolist()
    with pytest.raises(SchemaError, match=r"spreadsheet day numbers.*origin='1899-12-30'"):
        parse_days(pd.Series([45658, 45659]), table="b")
    with pytest.raises(SchemaError, match="is numeric"):
        parse_days(pd.Series([1.5, 2.5]), table="b")


def test_zone_names_are_refused_and_utc_is_read():
    with pytest.raises(SchemaError, match=r"zone name.*\+01:00"):
        parse_days(pd.Series(["2025-03-04 10:00 CET", "2025-03-05 09:00 CET"]), table="b")
    utc, _ = parse_timestamps(pd.Series(["2025-03-04 23:30 UTC", "2025-03-05 01:00 GMT"]),
                              table="b")
    assert [str(t)[:16] for t in utc] == ["2025-03-04T23:30", "2025-03-05T01:00"]


@pytest.mark.parametrize("out, into", [("Debit Amt", "Credit Amt"),
                                        ("Withdrawal Amt", "Deposit Amt"),
                                        ("Debit amt.", "Credit amt.")])
def test_abbreviated_money_out_and_in_headings(out, into):
    have = ["Date", out, into, "account"]
    assert (find_column(have, "debit"), find_column(have, "credit")) == (out, into)


def test_a_number_column_that_names_something_else_is_never_offered_for_money():
    # ledgers number their accounts (1040, 4012): numbers, but never an amount
    df = pd.DataFrame({"transaction_id": ["L1", "L2"], "account": [1040, 4012],
                       "ref_no": [17, 18], "Betrag": ["10.00", "12.50"]})
    with pytest.raises(SchemaError, match="did you mean 'Betrag'") as err:
        select_columns(df, name="ledger", required=["transaction_id", "amount"],
                       optional=["account", "debit", "credit"])
    assert "'account'?" not in str(err.value) and "amount': 'account'" not in str(err.value)
    # two columns that could each be the amount: neither is guessed, none named otherwise
    two = df.assign(Soll=["1.00", "2.00"])
    with pytest.raises(SchemaError, match=r"pass columns=\{'amount': '<your column>'\}") as err:
        select_columns(two, name="ledger", required=["transaction_id", "amount"],
                       optional=["account", "debit", "credit"])
    assert "did you mean" not in str(err.value)


@pytest.mark.parametrize("dates, order", [(["31/02/2025", "13/01/2025"], None),
                                          (["02/30/2025", "01/02/2025"], False),
                                          (["31.04.2025", "01.02.2025"], True)])
def test_day_month_dates_that_do_not_exist_are_named_so(dates, order):
    # the order is settled (a day above 12, or given): the date itself is impossible
    with pytest.raises(SchemaError, match="do not exist or are out of range") as err:
        parse_days(pd.Series(dates), table="bank", dayfirst=order)
    assert "YYYY-MM-DD" not in str(err.value) and f"['{dates[0]}']" in str(err.value)
