"""Bad input gets a SchemaError naming the column, the first rows and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.datasets import synth_reconciliation
from nexus_lab.errors import SchemaError


@pytest.fixture(scope="module")
def tables():
    bank, ledger, _ = synth_reconciliation(300, seed=2)
    return bank, ledger


def run(bank, ledger, **kw):
    return nx.reconcile(bank, ledger, device="cpu", **kw)


def test_missing_column_names_it_and_suggests(tables):
    bank, ledger = tables
    with pytest.raises(SchemaError, match=r"bank has no column 'amount'.*'Amt'.*columns="):
        run(bank.rename(columns={"amount": "Amt"}), ledger)
    # a heading that differs in case, blanks or punctuation only is the column
    assert run(bank.rename(columns={"amount": "Amount", "transaction_id": "Transaction ID"}),
               ledger).rate > 0.9
    with pytest.raises(SchemaError, match="ledger has no column 'date'") as err:
        run(bank, ledger.drop(columns="date"))
    assert err.value.column == "date" and err.value.table == "ledger"


def test_unknown_mapping_key(tables):
    bank, ledger = tables
    with pytest.raises(SchemaError, match="columns= names"):
        run(bank, ledger, columns={"bank": {"amout": "amount"}})


def test_unparseable_dates_name_rows(tables):
    bank, ledger = tables
    bad = bank.assign(date=bank["date"].dt.strftime("%Y-%m-%d"))
    bad.loc[7, "date"] = "31/02/2025?"
    with pytest.raises(SchemaError, match=r"bank.date: text that is not a date.*row 7") as err:
        run(bad, ledger)
    assert err.value.rows == [7]


def test_unparseable_amounts_name_rows(tables):
    bank, ledger = tables
    bad = bank.assign(amount=bank["amount"].map("{:.2f}".format))
    bad.loc[[4, 9], "amount"] = ["12,3x", "n/a"]
    with pytest.raises(SchemaError, match=r"bank.amount: text that is not an amount.*rows 4"):
        run(bad, ledger)


def test_text_amounts_with_symbols_are_understood(tables):
    bank, ledger = tables
    text = bank.assign(amount=bank["amount"].map("${:,.2f}".format))
    assert run(text, ledger).matches.equals(run(bank, ledger).matches)


def test_mixed_currency_symbols_refused(tables):
    bank, ledger = tables
    bad = bank.assign(amount=bank["amount"].map("${:.2f}".format))
    bad.loc[3, "amount"] = "€12.00"
    with pytest.raises(SchemaError, match=r"mixed currencies.*currency"):
        run(bad, ledger)


def test_currency_in_one_table_only(tables):
    bank, ledger = tables
    b = bank.assign(currency=np.where(np.arange(len(bank)) % 2, "USD", "EUR"))
    with pytest.raises(SchemaError, match="ledger has no currency column"):
        run(b, ledger)


def test_duplicate_ids(tables):
    bank, ledger = tables
    bad = ledger.copy()
    bad.loc[5, "transaction_id"] = bad.loc[2, "transaction_id"]
    with pytest.raises(SchemaError, match=r"ledger.transaction_id: duplicate ids.*rows 2.*5"):
        run(bank, bad)


def test_empty_table(tables):
    bank, ledger = tables
    with pytest.raises(SchemaError, match="bank is empty"):
        run(bank.iloc[:0], ledger)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_amounts(tables, value):
    bank, ledger = tables
    bad = bank.copy()
    bad.loc[11, "amount"] = value
    with pytest.raises(SchemaError, match=r"bank.amount: .*(NaN|infinite).*row 11"):
        run(bad, ledger)


def test_missing_dates(tables):
    bank, ledger = tables
    bad = ledger.copy()
    bad.loc[1, "date"] = pd.NaT
    with pytest.raises(SchemaError, match=r"ledger.date: missing dates at row 1"):
        run(bank, bad)


def test_numeric_dates_refused(tables):
    bank, ledger = tables
    with pytest.raises(SchemaError, match="is numeric"):
        run(bank.assign(date=1.0), ledger)


def test_bad_parameters(tables):
    bank, ledger = tables
    with pytest.raises(SchemaError, match="amount_tolerance must be a finite number"):
        run(bank, ledger, amount_tolerance=-1)
    with pytest.raises(SchemaError, match="date_window must be a whole number"):
        run(bank, ledger, date_window=2.5)
    with pytest.raises(SchemaError, match="must be a DataFrame"):
        run("bank.csv", ledger)


def test_descriptions_that_name_no_one_still_reconcile_on_amount_and_date():
    # every description is a bank's transfer word or empty: no counterparty at all
    days = pd.to_datetime(["2025-03-03", "2025-03-05", "2025-03-09"])
    bank = pd.DataFrame({"transaction_id": ["B0", "B1", "B2"], "date": days,
                         "amount": [12.50, 80.00, 7.25],
                         "description": ["KARTENZAHLUNG", "", "SEPA-LASTSCHRIFT MREF"]})
    ledger = pd.DataFrame({"transaction_id": ["L0", "L1", "L2"], "date": days,
                           "amount": [12.50, 80.00, 7.25], "description": ["", "FPO", None]})
    res = nx.reconcile(bank, ledger, device="cpu")
    assert set(zip(res.matches["bank_id"], res.matches["ledger_id"])) == {
        ("B0", "L0"), ("B1", "L1"), ("B2", "L2")}


def _comma(x: float) -> str:
    return f"{x:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def test_decimal_commas_and_day_first_dates_are_read_per_column(tables):
    bank, ledger = tables
    plain = run(bank, ledger)
    b = bank.assign(amount=bank["amount"].map(_comma),
                    date=pd.to_datetime(bank["date"]).dt.strftime("%d/%m/%Y"))
    res = run(b, ledger)
    assert res.rate == pytest.approx(plain.rate)
    assert len(res.matches) == len(plain.matches)
    assert res.params["written"]["bank"] == {"decimal": ",", "currency": None,
                                             "dates": "day/month/year"}
    assert res.params["written"]["ledger"]["dates"] == "dates"  # a datetime column


def test_ambiguous_dates_are_refused_unless_dayfirst_is_given(tables):
    bank, ledger = tables
    day = pd.to_datetime(bank["date"])
    b = bank.assign(date=day.dt.strftime("%d/%m/%Y"))[day.dt.day <= 12]
    with pytest.raises(SchemaError, match=r"bank.date: dates that read two ways.*dayfirst="):
        run(b, ledger)
    assert run(b, ledger, dayfirst=True).params["written"]["bank"]["dates"] == "day/month/year"


def test_different_currencies_are_refused(tables):
    bank, ledger = tables
    b = bank.assign(amount=bank["amount"].map(lambda x: f"${x:.2f}"))
    lg = ledger.assign(amount=ledger["amount"].map(lambda x: f"€{x:.2f}"))
    with pytest.raises(SchemaError, match=r"different currencies: bank in \['USD'\].*EUR"):
        run(b, lg)
    assert run(b, ledger).params["written"]["bank"]["currency"] == "$"  # one side says


def test_timestamps_with_offsets_are_read_in_utc(tables):
    bank, ledger = tables
    day = pd.to_datetime(bank["date"])
    b = bank.assign(date=day.dt.strftime("%Y-%m-%dT10:00:00") + np.where(
        np.arange(len(bank)) % 2, "-05:00", "+00:00"))
    assert run(b, ledger).rate == pytest.approx(run(bank, ledger).rate)


def test_money_out_and_in_with_an_unsigned_ledger(tables):
    # the bank signs payments negative and deposits positive; the ledger writes both
    # positive: only the sizes can agree
    bank, ledger = tables
    out = np.arange(len(bank)) % 5 != 0
    b = bank.assign(amount=np.where(out, -bank["amount"].abs(), bank["amount"].abs()))
    lg = ledger.assign(amount=ledger["amount"].abs())
    res = run(b, lg)
    assert res.params["sign"] == "magnitude"
    assert res.rate == pytest.approx(run(bank.assign(amount=bank["amount"].abs()), lg).rate)
    assert run(b, lg, sign="as_is").rate < 0.5 * res.rate
    with pytest.raises(SchemaError, match="sign='sideways'"):
        run(b, lg, sign="sideways")


def test_blank_or_contradicting_currency_cells_are_refused(tables):
    bank, ledger = tables
    blank = bank.assign(currency=np.where(np.arange(len(bank)) % 5 == 0, None, "EUR"))
    with pytest.raises(SchemaError, match=r"bank.currency is blank at rows \[0, 5"):
        run(blank, ledger.assign(currency="EUR"))
    said = bank.assign(amount=bank["amount"].map(lambda x: f"{x:.2f} EUR"), currency="USD")
    with pytest.raises(SchemaError, match="written in EUR but its currency column says"):
        run(said, ledger.assign(currency="USD"))
    # blanks beside amounts that say their currency take it
    filled = bank.assign(amount=bank["amount"].map(lambda x: f"€{x:.2f}"), currency=np.where(
        np.arange(len(bank)) % 5 == 0, None, "EUR"))
    assert run(filled, ledger.assign(currency="EUR")).rate == pytest.approx(
        run(bank, ledger).rate)


def test_money_out_and_in_columns_with_dashes_for_nothing(tables):
    bank, ledger = tables
    two = bank.drop(columns="amount").assign(
        **{"Paid out": np.where(bank["amount"] >= 0, bank["amount"].map("{:.2f}".format), "-"),
           "Paid in": np.where(bank["amount"] < 0, (-bank["amount"]).map("{:.2f}".format),
                               "-")})
    assert run(two, ledger).rate == pytest.approx(run(bank, ledger).rate)
    with pytest.raises(SchemaError, match=r"columns=\{'debit': '<out column>'"):
        run(bank.rename(columns={"amount": "Betrag"}), ledger)
