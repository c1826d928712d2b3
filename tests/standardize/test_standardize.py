"""Standardization: each rule changes exactly the rows it should and records them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError
from nexus_lab.standardize import Standardized, standardize


def _bank(**cols) -> pd.DataFrame:
    base = {
        "transaction_id": ["B1", "B2", "B3", "B4"],
        "date": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"],
        "amount": [10.0, 20.5, -3.25, 4.0],
        "description": ["COFFEE", "RENT", "FUEL STOP", "BOOKS"],
    }
    return pd.DataFrame({**base, **cols})


def _changed(res: Standardized, rule: str, column: str | None = None) -> list[int]:
    c = res.changes
    keep = (c["rule"] == rule) & ((c["column"] == column) if column else True)
    return c.loc[keep, "row"].tolist()


def test_clean_table_has_no_changes():
    res = standardize(_bank(), currency="USD")
    assert res.changes["rule"].eq("currency").all()  # only the currency was filled in
    assert _changed(res, "currency") == [0, 1, 2, 3]
    assert res.frame["amount_cents"].tolist() == [1000, 2050, -325, 400]
    assert res.frame["amount_cents"].dtype == np.int64
    assert str(res.frame["date"].dtype) == "datetime64[ns]"
    assert res.duplicates.empty


def test_whitespace_and_case_change_only_their_rows():
    res = standardize(_bank(description=["  COFFEE", "RENT", "fuel   stop", "Books"]))
    assert _changed(res, "whitespace") == [0, 2]
    assert _changed(res, "case") == [2, 3]
    ws = res.changes[res.changes["rule"] == "whitespace"]
    assert ws[["before", "after"]].values.tolist() == [["  COFFEE", "COFFEE"],
                                                       ["fuel   stop", "fuel stop"]]
    assert res.frame["description"].tolist() == ["COFFEE", "RENT", "FUEL STOP", "BOOKS"]
    assert res.summary()["changes_by_rule"]["whitespace"] == 2


def test_amount_text_is_recorded_where_it_differs_from_the_plain_amount():
    res = standardize(_bank(amount=["10.00", "20.50", "(3.25)", "4.00"]))
    assert _changed(res, "amount") == [2]
    row = res.changes[res.changes["rule"] == "amount"].iloc[0]
    assert (row["before"], row["after"]) == ("(3.25)", "-3.25")
    assert res.frame["amount_cents"].tolist() == [1000, 2050, -325, 400]


def test_numbers_with_a_fraction_of_a_cent_are_a_change():
    res = standardize(_bank(amount=[10.0, 20.5, -3.255, 4.0]))
    assert _changed(res, "amount") == [2]


def test_dates_are_recorded_where_not_iso():
    res = standardize(_bank(date=["2025-03-01", "02/03/2025", "2025-03-03", "14/03/2025"]))
    assert _changed(res, "date") == [1, 3]
    assert res.frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-14"]
    assert {"rule": "date", "order": "day/month/year"} in res.rules


def test_datetimes_need_no_date_change():
    res = standardize(_bank(date=pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-03",
                                                 "2025-03-04"])))
    assert _changed(res, "date") == []


def test_currencies_from_symbols_kept_per_row():
    res = standardize(_bank(amount=["$10.00", "€20,50", "£-3.25", "¥400"]))
    assert res.frame["currency"].tolist() == ["USD", "EUR", "GBP", "JPY"]
    assert res.frame["amount_cents"].tolist() == [1000, 2050, -325, 40000]
    assert _changed(res, "currency") == [0, 1, 2, 3]
    assert res.summary()["currencies"] == {"USD": 1, "EUR": 1, "GBP": 1, "JPY": 1}


def test_currency_column_wins_and_is_normalized():
    res = standardize(_bank(currency=["usd", "EUR", "€", None]), currency="CHF")
    assert res.frame["currency"].tolist() == ["USD", "EUR", "EUR", "CHF"]
    cur = res.changes[res.changes["rule"] == "currency"]
    assert cur["row"].tolist() == [0, 2, 3]
    assert cur["after"].tolist() == ["USD", "EUR", "CHF"]


def test_currency_column_contradicting_the_amount_is_refused():
    with pytest.raises(SchemaError, match=r"contradicts.*B2"):
        standardize(_bank(amount=["$1", "€2", "$3", "$4"], currency=["USD", "USD", "USD", None]))


def test_mixed_decimal_marks_per_currency():
    res = standardize(_bank(amount=["$1,234.50", "1.234,50 €", "$2.00", "3,00 €"]))
    assert res.frame["amount_cents"].tolist() == [123450, 123450, 200, 300]
    assert {"rule": "amount", "decimal": [".", ","]} in res.rules or \
        {"rule": "amount", "decimal": [",", "."]} in res.rules


CATEGORIES = {"fuel": ["gas", "petrol", "diesel"], "office": ["stationery", "supplies"],
              "travel": ["flights", "hotel"]}


def _ledger(categories: list) -> pd.DataFrame:
    n = len(categories)
    return pd.DataFrame({
        "transaction_id": [f"L{i}" for i in range(n)],
        "date": pd.date_range("2025-01-01", periods=n).strftime("%Y-%m-%d"),
        "amount": np.arange(1, n + 1, dtype=float),
        "description": [f"item {i}" for i in range(n)],
        "vendor": ["acme"] * n,
        "category": categories,
    })


def test_categories_alias_fuzzy_and_unknown():
    res = standardize(_ledger(["fuel", "Petrol", "stationary", "trvel", "groceries", None]),
                      "ledger", categories=CATEGORIES)
    assert res.frame["category"].tolist()[:5] == ["fuel", "fuel", "office", "travel",
                                                  "groceries"]
    assert pd.isna(res.frame["category"].iloc[5])
    assert res.frame["category_match"].tolist()[:5] == ["exact", "alias", "fuzzy", "fuzzy",
                                                        "unknown"]
    assert _changed(res, "case", "category") == [1]  # Petrol -> petrol
    assert _changed(res, "case", "vendor") == [0, 1, 2, 3, 4, 5]  # acme -> ACME
    assert _changed(res, "category_alias") == [1]
    assert _changed(res, "category_fuzzy") == [2, 3]
    assert res.summary()["unknown_categories"] == 1
    assert {"rule": "category_fuzzy", "scorer": "WRatio", "threshold": 85.0} in res.rules


def test_category_threshold_and_frame_table():
    table = pd.DataFrame({"alias": ["gas", "petrol"], "category": ["fuel", "fuel"]})
    res = standardize(_ledger(["petrl", "gas"]), "ledger", categories=table,
                      category_threshold=99)
    assert res.frame["category"].tolist() == ["petrl", "fuel"]
    assert res.frame["category_match"].tolist() == ["unknown", "alias"]


def test_exact_duplicates_after_normalization():
    res = standardize(_bank(description=["coffee", "RENT", " Coffee ", "BOOKS"],
                            date=["2025-03-01"] * 4, amount=[10.0, 20.5, 10.0, 4.0]))
    assert res.duplicates[["left_row", "right_row"]].values.tolist() == [[0, 2]]
    assert res.duplicates["found_by"].tolist() == ["exact"]


def test_duplicates_finder_is_called_with_the_standardized_frame():
    seen = []

    def finder(frame: pd.DataFrame) -> pd.DataFrame:
        seen.append(frame["amount_cents"].tolist())
        return pd.DataFrame({"left_row": [0], "right_row": [3], "score": [91.0]})

    res = standardize(_bank(), duplicates=finder)
    assert seen == [[1000, 2050, -325, 400]]
    assert res.duplicates.iloc[0].tolist() == [0, 3, 91.0, "finder"]


def test_finder_with_wrong_output_is_refused():
    with pytest.raises(SchemaError, match="left_row and right_row"):
        standardize(_bank(), duplicates=lambda f: pd.DataFrame({"a": [1]}))


def test_replay_reads_another_table_the_same_way():
    first = standardize(_bank(date=["01/03/2025", "13/03/2025", "03/03/2025", "04/03/2025"]))
    other = _bank(date=["01/03/2025", "02/03/2025", "03/03/2025", "04/03/2025"])
    with pytest.raises(SchemaError, match="dayfirst"):
        standardize(other)  # nothing in it settles the order
    again = first.replay(other)
    assert again.frame["date"].dt.month.tolist() == [3, 3, 3, 3]


def test_columns_mapping_polars_and_views():
    raw = pl.DataFrame({"Id": ["B1", "B2"], "Posted": ["2025-03-01", "2025-03-02"],
                        "Amt": ["1.00", "2.00"], "Memo": ["a", "b"]})
    res = standardize(raw, columns={"transaction_id": "Id", "date": "Posted",
                                    "amount": "Amt", "description": "Memo"})
    assert list(res.frame.columns)[:5] == ["transaction_id", "date", "amount", "amount_cents",
                                           "description"]
    assert "<h4>Standardized bank table</h4>" in res._repr_html_()
    assert res.to_frame().equals(res.frame)


def test_bad_input_names_the_problem():
    with pytest.raises(SchemaError, match="no column 'description'"):
        standardize(_bank().drop(columns="description"))
    with pytest.raises(SchemaError, match="kind='shop'"):
        standardize(_bank(), "shop")
    with pytest.raises(SchemaError, match=r"B3"):
        standardize(_bank(amount=["1", "2", "three", "4"]))
    with pytest.raises(SchemaError, match="no category column"):
        standardize(_bank(), categories=CATEGORIES)
    with pytest.raises(SchemaError, match="ISO 4217"):
        standardize(_bank(), currency="dollars")


def test_synthetic_bank_through_the_public_path():
    bank, _, _ = nx.datasets.synth_reconciliation(200, seed=1)
    res = nx.standardize(bank, currency="USD")  # the subpackage is callable
    assert isinstance(res, Standardized)
    assert "exact_duplicates" not in res.summary()["changes_by_rule"]  # it changes nothing
    assert len(res.frame) == len(bank)
    assert (res.frame["amount_cents"].to_numpy()
            == np.rint(bank["amount"].to_numpy() * 100).astype(np.int64)).all()
