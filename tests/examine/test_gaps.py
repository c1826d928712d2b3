import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import nexus_lab.examine as ex
from nexus_lab.errors import SchemaError
from nexus_lab.examine import ExamineWarning, gaps


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def test_numbers_ranges_items_and_duplicates():
    df = pd.DataFrame({"cheque": [1001, 1002, 1003, 1007, 1008, 1008, 1012, 1003]})
    r = gaps(df, "cheque")
    assert r.verdict == "findings"
    ranges = r["ranges"]
    assert ranges[["start", "end", "missing", "previous", "next"]].values.tolist() == [
        [1004, 1006, 3, 1003, 1007], [1009, 1011, 3, 1008, 1012]]
    assert r["items"]["item"].tolist() == [1004, 1005, 1006, 1009, 1010, 1011]
    assert r["duplicates"].values.tolist() == [[1003, 2], [1008, 2]]
    assert r.facts["missing"] == 6 and r.facts["duplicates"] == 2
    assert (r.facts["first"], r.facts["last"]) == (1001, 1012)


def test_a_complete_sequence_is_clean():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"n": rng.permutation(np.arange(50, 5_050))})
    r = gaps(df, "n")
    assert r.verdict == "clean" and r["ranges"].empty and r.facts["missing"] == 0


def test_matches_a_set_difference_on_random_sequences():
    rng = np.random.default_rng(1)
    present = np.unique(rng.integers(0, 20_000, 12_000))
    df = pd.DataFrame({"n": rng.permutation(present)})
    r = gaps(df, "n", limit=100_000)
    expected = np.setdiff1d(np.arange(present.min(), present.max() + 1), present)
    assert r["items"]["item"].tolist() == expected.tolist()
    assert r["ranges"]["missing"].sum() == len(expected)


def test_per_group_sequences():
    df = pd.DataFrame({"no": [1, 2, 5, 1, 3, 4], "register": ["A", "A", "A", "B", "B", "B"]})
    r = gaps(df, "no", by="register")
    assert r["ranges"][["register", "start", "end", "missing"]].values.tolist() == [
        ["A", 3, 4, 2], ["B", 2, 2, 1]]
    assert r["sequences"].set_index("register")["missing"].to_dict() == {"A": 2, "B": 1}


def test_numbered_documents_keep_prefix_and_width():
    df = pd.DataFrame({"ref": ["INV-00121", "INV-00122", "INV-00125", "PO-7", "PO-10",
                               " INV-00126 ", "CN-0998/A", "CN-1001/A"]})
    r = gaps(df, "ref")
    items = r["items"].groupby("sequence")["item"].apply(list).to_dict()
    assert items == {"INV-#####": ["INV-00123", "INV-00124"], "PO-#": ["PO-8", "PO-9"],
                     "CN-####/A": ["CN-0999/A", "CN-1000/A"]}
    seq = r["sequences"].set_index("sequence")
    assert seq.loc["INV-#####", ["first", "last"]].tolist() == ["INV-00121", "INV-00126"]


def test_text_without_numbers_is_left_out_with_a_warning():
    df = pd.DataFrame({"ref": ["A-1", "void", "A-3", None]})
    with pytest.warns(ExamineWarning) as rec:
        r = gaps(df, "ref")
    said = [str(w.message) for w in rec]
    assert any("1 value with no number left out (row 1)" in m for m in said)
    assert any("1 blank value left out (row 3)" in m for m in said)
    assert r["items"]["item"].tolist() == ["A-2"]
    assert list(r.notes) == said


def test_calendar_and_business_days():
    df = pd.DataFrame({"posted": ["2025-12-19", "2025-12-22", "2025-12-24", "2025-12-29",
                                  "2025-12-24"]})  # Fri, Mon, Wed, Mon
    cal = gaps(df, "posted")
    assert cal.facts["kind"] == "date"
    assert cal["ranges"]["missing"].tolist() == [2, 1, 4]
    assert cal["items"]["item"].iloc[0] == dt.date(2025, 12, 20)
    assert cal.facts["duplicates"] == 1 and cal.verdict == "findings"
    biz = gaps(df, "posted", business_days=True, holidays=["2025-12-25", "2025-12-26"])
    assert biz["items"]["item"].astype(str).tolist() == ["2025-12-23"]
    plain = gaps(df, "posted", business_days=True)
    assert plain["items"]["item"].astype(str).tolist() == ["2025-12-23", "2025-12-25",
                                                          "2025-12-26"]
    # a business day count equals numpy's
    first, last = np.datetime64("2025-12-24"), np.datetime64("2025-12-29")
    assert plain["ranges"]["missing"].iloc[-1] == np.busday_count(first + 1, last)


def test_dates_only_repeated_is_clean_and_datetimes_are_read():
    days = pd.to_datetime(["2025-01-01 09:00", "2025-01-01 17:00", "2025-01-02 08:00"])
    r = gaps(pd.DataFrame({"d": days}), "d")
    assert r.verdict == "clean" and r.facts["duplicates"] == 1


def test_many_missing_items_are_capped():
    with pytest.warns(ExamineWarning, match=r"999,998 items missing; the first 10"):
        r = gaps(pd.DataFrame({"n": [1, 1_000_000]}), "n", limit=10)
    assert r["items"]["item"].tolist() == list(range(2, 12))
    assert r.facts["items_listed"] == 10 and r.facts["missing"] == 999_998


def test_one_value_warns_that_a_gap_needs_two():
    with pytest.warns(ExamineWarning) as rec:
        r = gaps(pd.DataFrame({"invoice": ["INV-00123", None]}), "invoice")
    assert [str(w.message) for w in rec] == [
        "gaps invoice: 1 blank value left out (row 1)",
        "gaps invoice: 1 value to read, and a gap lies between two values of a sequence: "
        "the test needs at least 2; give the whole sequence"]
    assert r.verdict == "clean" and len(r.notes) == 2


def test_bad_input():
    with pytest.raises(SchemaError, match=r"data\.x holds no numbers"):
        gaps(pd.DataFrame({"x": ["abc", "def"]}), "x")
    with pytest.raises(SchemaError, match=r"not whole at row 0"):
        gaps(pd.DataFrame({"x": [1.5, 2.0]}), "x")
    with pytest.raises(SchemaError, match=r"out of range"):
        gaps(pd.DataFrame({"x": ["2025-02-30", "2025-03-01"]}), "x")
    with pytest.raises(SchemaError, match=r"out of range"):
        gaps(pd.DataFrame({"x": ["2025-01-01", "9999-01-01"]}), "x")
    with pytest.raises(SchemaError, match=r"no column 'ref'") as err:
        gaps(pd.DataFrame({"x": [1]}), "ref")
    assert err.value.column == "ref"
    with pytest.raises(SchemaError, match="business_days=True applies to dates"):
        gaps(pd.DataFrame({"x": [1, 3]}), "x", business_days=True)
    with pytest.raises(SchemaError, match="blank in every row"):
        gaps(pd.DataFrame({"x": [None, " "]}), "x")
    with pytest.raises(SchemaError, match="kind='week'"):
        gaps(pd.DataFrame({"x": [1]}), "x", kind="week")
    with pytest.raises(SchemaError, match="not a whole number"):
        gaps(pd.DataFrame({"x": ["12", "A-13"]}), "x", kind="number")


def test_replay_and_plot():
    df = pd.DataFrame({"ref": ["A-1", "A-4", "B-2", "B-5"], "co": ["x", "x", "y", "y"]})
    r = _quiet(gaps, df, "ref", by="co", limit=3)
    again = _quiet(getattr(ex, r.test), df, **r.params)
    assert again.facts == r.facts
    assert "<svg" in r.svg() and "A-2" in r._repr_html_()
