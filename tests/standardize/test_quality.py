"""Data quality: exact scores on hand-built tables; rules in code, YAML and pandera."""

from __future__ import annotations

import math

import pandas as pd
import pandera.pandas as pa
import pytest

from nexus_lab.errors import SchemaError
from nexus_lab.standardize import QualityReport, contract_schema, quality, standardize


def _ten() -> pd.DataFrame:
    """Ten bank rows: 2 blank descriptions, 1 repeated id, 1 zero amount, 3 old dates,
    1 non-ISO currency, and account A2 with one row away from its currency."""
    return pd.DataFrame({
        "transaction_id": ["T0", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T1"],
        "date": pd.to_datetime(["2025-06-30", "2025-06-29", "2025-06-01", "2025-05-15",
                                "2025-04-10", "2025-04-02", "2025-03-01", "2025-02-01",
                                "2025-06-30", "2025-06-20"]),
        "amount": [1.0, 2.0, 0.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        "description": ["a", "b", "", "d", "  ", "f", "g", "h", "i", "j"],
        "account": ["A1", "A1", "A1", "A1", "A2", "A2", "A2", "A2", "A2", "A1"],
        "currency": ["USD", "USD", "USD", "USD", "EUR", "EUR", "EUR", "usd", "USD", "USD"],
    })


def test_builtin_scores_are_exact():
    rep = quality(_ten(), as_of="2025-06-30", max_age_days=90)
    s = rep.scores
    assert s.loc["description", "completeness"] == 80.0  # 2 blank of 10
    assert s.loc["transaction_id", "uniqueness"] == 90.0  # the second T1
    assert s.loc["amount", "validity"] == 90.0  # one zero
    assert s.loc["currency", "validity"] == 90.0  # 'usd'
    # dates older than 2025-04-01: rows 6 and 7 -> 8 of 10
    assert s.loc["date", "timeliness"] == 80.0
    assert math.isnan(s.loc["description", "uniqueness"])
    table = s.loc["(table)"]
    assert table["completeness"] == 80.0
    assert table["validity"] == 80.0  # rows 2 and 7
    assert table["uniqueness"] == 90.0
    # A2 is mostly EUR: rows 7 ('usd') and 8 ('USD') are away from it
    assert table["consistency"] == 80.0
    assert table["timeliness"] == 80.0
    expected = (0.25 * 80 + 0.30 * 80 + 0.20 * 90 + 0.15 * 80 + 0.10 * 80) / 1.0
    assert rep.overall == pytest.approx(expected)
    assert rep.summary()["overall"] == round(expected, 2)


def test_failures_name_rule_rows_and_values():
    rep = quality(_ten(), as_of="2025-06-30")
    f = rep.failures
    assert f.loc[f["rule"] == "description: not_nullable", "row"].tolist() == [2, 4]
    assert f.loc[f["rule"] == "transaction_id: field_uniqueness", "value"].tolist() == ["T1"]
    wide = f[f["rule"] == "consistent_by(currency, by=account)"]
    assert wide["row"].tolist() == [7, 8]
    assert "'account': 'A2'" in wide["value"].iloc[0]
    counts = rep.counts.set_index("rule")["failing_rows"]
    assert counts["amount: not_equal_to(0)"] == 1
    assert counts["duplicate rows"] == 0


def test_rules_in_code_give_exact_scores_and_skip_unmeasured_dimensions():
    t = pd.DataFrame({"id": list("abcdefghij"), "amount": [1, 2, 3, 4, 5, 6, 7, 8, 9, -1],
                      "code": ["X1", "X2", "X3", "Y", "X5", None, None, "X8", "X9", "X10"]})
    rep = quality(t, [{"column": "code", "check": "not_null"},
                      {"column": "code", "check": "str_matches", "pattern": r"^X\d+$"},
                      {"column": "amount", "check": "in_range", "min_value": 0,
                       "max_value": 100}])
    assert rep.scores.loc["code", "completeness"] == 80.0
    assert rep.scores.loc["code", "validity"] == 87.5  # 1 of 8 filled
    assert rep.scores.loc["amount", "validity"] == 90.0
    table = rep.scores.loc["(table)"]
    assert (table["completeness"], table["validity"]) == (80.0, 80.0)
    assert math.isnan(table["uniqueness"]) and math.isnan(table["timeliness"])
    assert rep.overall == pytest.approx((0.25 * 80 + 0.30 * 80) / 0.55)


def test_yaml_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {column: transaction_id, check: not_null}\n"
        "  - {column: transaction_id, check: unique}\n"
        "  - column: amount\n"
        "    check: greater_than\n"
        "    min_value: 0\n"
        "  - {column: currency, check: isin, allowed_values: [USD, EUR]}\n"
        "  - {column: currency, check: consistent_by, by: account}\n"
        "  - {column: date, check: max_age_days, days: 30, as_of: 2025-06-30}\n"
        "  - {check: unique, columns: [account, amount]}\n")
    rep = quality(_ten(), str(path))
    s = rep.scores
    assert s.loc["transaction_id", "uniqueness"] == 90.0
    assert s.loc["amount", "validity"] == 90.0
    assert s.loc["currency", "validity"] == 90.0
    assert s.loc["(table)", "consistency"] == 80.0
    assert s.loc["date", "timeliness"] == 50.0  # 2025-05-31 .. 2025-06-30: rows 0,1,2,8,9
    assert math.isnan(s.loc["(table)", "completeness"]) is False
    assert rep.settings["rules"] == "rules.yaml"


def test_pandera_schema_dimensions():
    schema = pa.DataFrameSchema({
        "amount": pa.Column(float, checks=pa.Check.less_than(9)),
        "description": pa.Column(str, nullable=False),
        "transaction_id": pa.Column(str, unique=True),
    })
    rep = quality(_ten(), schema)
    s = rep.scores
    assert s.loc["amount", "validity"] == 80.0  # 9 and 10
    assert s.loc["description", "completeness"] == 80.0
    assert s.loc["transaction_id", "uniqueness"] == 80.0  # pandera reports every copy
    assert s.loc["(table)", "validity"] == 80.0


def test_wrong_type_fails_every_filled_cell():
    t = pd.DataFrame({"n": ["1", "2", None, "4"]})
    rep = quality(t, pa.DataFrameSchema({"n": pa.Column(int, nullable=True)}))
    assert rep.scores.loc["n", "validity"] == 0.0
    assert rep.failures["row"].tolist() == [0, 1, 3]


def test_scoring_a_standardized_result_uses_its_contract():
    bank = pd.DataFrame({"transaction_id": ["B1", "B2"], "date": ["2025-01-02", "2025-01-03"],
                         "amount": ["$1.00", "$2.00"], "description": ["x", "x"]})
    rep = quality(standardize(bank))
    assert rep.scores.loc["currency", "completeness"] == 100.0
    assert rep.overall == 100.0


def test_builtin_rules_are_pandera_schemas():
    schema = contract_schema("bank")
    assert isinstance(schema, pa.DataFrameSchema)
    assert schema.columns["transaction_id"].unique


def test_unknown_check_in_a_file_names_file_rule_and_line(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("- {column: amount, check: not_null}\n\n- column: amount\n"
                    "  check: positive\n")
    with pytest.raises(SchemaError, match=r"rules.yaml rule 2 \(line 3\): unknown check "
                                          r"'positive'; use one of"):
        quality(_ten(), path)


def test_rule_on_a_missing_column_is_refused():
    with pytest.raises(SchemaError, match=r"rules rule 1: the table has no column 'amt'"):
        quality(_ten(), [{"column": "amt", "check": "not_null"}])
    with pytest.raises(SchemaError, match="no column 'vendor'"):
        quality(_ten(), [{"column": "currency", "check": "consistent_by", "by": "vendor"}])
    with pytest.raises(SchemaError, match=r"columns=\{'description'"):
        quality(_ten().drop(columns="description"))


def test_bad_rule_arguments_and_files(tmp_path):
    with pytest.raises(SchemaError, match="does not take"):
        quality(_ten(), [{"column": "amount", "check": "in_range", "low": 1}])
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: {column: amount}\n")
    with pytest.raises(SchemaError, match="expected a list of rules"):
        quality(_ten(), bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {column: amount, check: not_null\n")
    with pytest.raises(SchemaError, match=r"broken\.yaml line"):
        quality(_ten(), broken)


def test_html_report(tmp_path):
    rep = quality(_ten(), as_of="2025-06-30")
    assert isinstance(rep, QualityReport)
    out = rep.to_html(tmp_path / "q.html")
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "description: not_nullable: 2 failing" in page
    assert "Data quality: " in rep._repr_html_()


def test_a_raw_table_fails_cell_by_cell_and_optional_rules_do_not_apply():
    raw = pd.DataFrame({"transaction_id": ["1", "2", "3", "4"],
                        "date": ["2025-01-01", "2025-01-02", "soon", "2025-01-04"],
                        "amount": ["12.5", "$3.00", "7", "0"],
                        "description": ["a", "b", None, "d"]})
    rep = quality(raw)
    # "$3.00" is no float; the column's other checks (not zero) do not run after that
    assert rep.scores.loc["amount", "validity"] == 75.0
    assert rep.failures.loc[rep.failures["column"] == "amount", "row"].tolist() == [1]
    assert rep.scores.loc["date", "validity"] == 75.0
    assert rep.scores.loc["description", "completeness"] == 75.0
    assert "currency" not in rep.scores.index
    assert not rep.counts["rule"].str.startswith("currency").any()


def test_one_mistyped_future_date_does_not_make_the_rest_stale():
    dates = list(pd.date_range("2025-01-01", periods=99, freq="D").strftime("%Y-%m-%d"))
    df = pd.DataFrame({"transaction_id": [f"B{i}" for i in range(100)],
                       "date": [*dates, "2031-01-01"], "amount": [1.0 + i for i in range(100)],
                       "description": [f"row {i}" for i in range(100)]})
    rep = quality(df, kind="bank")
    assert str(rep.as_of.date()) == "2025-04-09"
    assert rep.scores.loc["date", "timeliness"] == 99.0  # the 2031 row alone fails
