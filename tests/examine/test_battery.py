"""The battery's result: a mapping of test names to Examinations, with one row per test."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from nexus_lab.examine import Battery, Examination


def _results() -> dict[str, Examination]:
    rng = np.random.default_rng(1)
    gl = pd.DataFrame({"entry_id": np.arange(60), "account": rng.choice(["4000", "6100"], 60),
                       "amount": np.round(rng.normal(0, 500, 60), 2)})
    ids = np.sort(gl["entry_id"].to_numpy()[gl["entry_id"].to_numpy() % 17 != 3])
    gaps = pd.DataFrame({"after": ids[:-1][np.diff(ids) > 1], "before": ids[1:][np.diff(ids) > 1]})
    totals = gl.groupby("account", as_index=False)["amount"].sum()
    return {
        "gaps": Examination("gaps", {"column": "entry_id"}, {"gaps": gaps},
                            {"rows": len(ids), "gaps": len(gaps)},
                            verdict="findings" if len(gaps) else "clean"),
        "summarize": Examination("summarize", {"by": "account"}, {"totals": totals},
                                 {"groups": len(totals), "total": float(totals["amount"].sum())}),
        "benford_first": Examination("benford", {"test": "first"}, {}, {"mad": 0.004},
                                     verdict="close", notes=("only 60 amounts",)),
    }


def test_a_mapping_in_the_order_given_with_clear_errors():
    b = Battery(_results(), info={"rows": 60, "period_end": "2025-12-31"})
    assert list(b) == ["gaps", "summarize", "benford_first"] and len(b) == 3
    assert b["gaps"].test == "gaps"
    with pytest.raises(KeyError, match="ran no test 'sod'; it ran 'gaps', 'summarize'"):
        b["sod"]
    with pytest.raises(TypeError, match="Examination results, not DataFrame"):
        Battery({"x": pd.DataFrame()})


def test_one_row_per_test_and_a_summary_in_json():
    b = Battery(_results(), info={"rows": 60}, skipped={"sod": "no events given"})
    frame = b.to_frame()
    assert frame["name"].tolist() == ["gaps", "summarize", "benford_first"]
    gaps = len(b["gaps"]["gaps"])
    assert frame["findings"].tolist()[0] == gaps > 0
    assert pd.isna(frame["findings"].iloc[1])  # descriptive: no findings
    assert frame["findings"].iloc[2] == 0  # a clean verdict
    assert frame["warnings"].tolist() == [0, 0, 1]
    assert "groups 2" in frame["facts"].iloc[1]
    s = json.loads(json.dumps(b.summary()))
    assert s["rows"] == 60 and s["tests"] == 3 and s["with_findings"] == ["gaps"]
    assert s["verdicts"] == {"gaps": "findings", "summarize": None, "benford_first": "close"}
    assert s["skipped"] == {"sod": "no events given"}
    assert s["results"]["gaps"]["gaps"] == gaps


def test_notebook_view_lists_every_test_and_escapes():
    res = _results()
    res["<b>x</b>"] = res.pop("summarize")
    html = Battery(res)._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert html.count("<details>") == 3 and "findings" in html


# ---- the battery on a general ledger ------------------------------------------------------

@pytest.fixture(scope="module")
def books():
    """A misstated manufacturer's year (to 30 September 2025) and its ERP's user log."""
    from nexus_lab.datasets import synth_erp_events, synth_general_ledger

    gl = synth_general_ledger(3_000, profile="misstated", seed=11)[0]
    return gl, synth_erp_events(1_500, seed=11)[0]


def _data(gl, events, result, kind):
    from nexus_lab.examine import ledger_entries

    if kind == "events":
        return events
    return ledger_entries(gl, result.params.get("columns")) if kind == "entries" else gl


def test_every_test_runs_and_replays_from_its_parameters(books):
    import nexus_lab.examine as ex

    gl, events = books
    b = ex.battery(gl, period_end="2025-09-30", events=events,
                   tests=[t for t in ex.EXAMINE_TESTS if t != "duplicates"])
    assert list(b) == [*(f"benford_{t}" for t in ex.BENFORD_TESTS), "gaps", "stratify",
                       "age", "summarize", "journal_entries", "sod"]
    assert b.skipped == {} and b.info["period_end"] == "2025-09-30"
    assert b.info["rows"] == len(gl)
    assert b.inputs["gaps"] == "entries" and b.inputs["sod"] == "events"
    assert b["journal_entries"].params["period_end"] == "2025-09-30"
    assert b["age"].params["cutoff"] == "2025-09-30"
    for name, result in b.items():  # each result's parameters replay it exactly
        with warnings.catch_warnings():  # said already, in its notes
            warnings.simplefilter("ignore", ex.ExamineWarning)
            again = getattr(ex, result.test)(_data(gl, events, result, b.inputs[name]),
                                             **result.params)
        assert json.dumps(again.summary(), default=str) == json.dumps(result.summary(),
                                                                      default=str), name
    # what the misstated books hold shows: entries flagged, missing numbers, conflicts
    assert b["journal_entries"].verdict == "findings" and b.findings()["journal_entries"] > 0
    assert b["gaps"].facts["missing"] > 0 and b["sod"].facts["conflicts"] > 0
    assert {"journal_entries", "gaps", "sod"} <= set(b.summary()["with_findings"])


def test_columns_options_and_clear_errors(books):
    from nexus_lab.errors import SchemaError
    from nexus_lab.examine import battery, ledger_entries

    gl, _ = books
    theirs = gl.rename(columns={"entry_id": "JE Number", "amount": "Amt"})
    b = battery(theirs, period_end="2025-09-30", tests="gaps, stratify",
                columns={"entry_id": "JE Number", "amount": "Amt"},
                options={"stratify": {"bands": [0, 1_000, 10_000]}})
    assert list(b) == ["gaps", "stratify"] and b.skipped == {}
    assert b["stratify"].params["columns"] == {"amount": "Amt"}
    assert b["stratify"].params["bands"] == [0, 1_000, 10_000]
    assert b.info["columns"] == {"entry_id": "JE Number", "amount": "Amt"}
    assert len(ledger_entries(theirs, {"entry_id": "JE Number"})) == gl["entry_id"].nunique()
    no_events = battery(gl, period_end="2025-09-30", tests=["sod"])
    assert len(no_events) == 0 and no_events.skipped == {"sod": "no event log given (events=)"}
    with pytest.raises(SchemaError, match=r"tests=\['benford', 'nope'\]: name 'all' or some"):
        battery(gl, period_end="2025-09-30", tests=["benford", "nope"])
    with pytest.raises(SchemaError, match="period_end '30/09/2025' is not a date"):
        battery(gl, period_end="30/09/2025")
    with pytest.raises(SchemaError, match=r"general ledger has no column 'amount'.*'Amt'"):
        battery(theirs.drop(columns=["JE Number"]).assign(entry_id=1),
                period_end="2025-09-30", tests=["summarize"])
    # a test the data cannot feed is left out with the reason; the others run
    credits = gl[gl["amount"] < 0]
    b = battery(credits, period_end="2025-09-30", tests=["benford", "summarize"],
                options={"benford": {"tests": ["first"]}})
    assert list(b) == ["summarize"] and list(b.skipped) == ["benford"]
    assert "no positive amounts" in b.skipped["benford"]


def test_a_ledger_without_repeated_lines_has_no_duplicates():
    """No two lines share a date, an account and an amount: nothing to compare, and the
    duplicate tests say so (clean) instead of failing."""
    import pandas as pd

    from nexus_lab.examine import battery

    gl = pd.DataFrame({"entry_id": ["J1", "J1", "J2", "J2"], "line": [1, 2, 1, 2],
                       "date": ["2025-01-02", "2025-01-02", "2025-01-09", "2025-01-09"],
                       "account": ["6100", "1000", "6200", "1000"],
                       "amount": [120.0, -120.0, 75.5, -75.5]})
    b = battery(gl, period_end="2025-01-31", tests=["duplicates"])
    assert [b[n].verdict for n in b] == ["clean", "clean"]
    assert b.findings() == {"duplicates_exact": 0, "duplicates_near": 0}


def test_a_test_that_could_not_judge_is_neither_clean_nor_a_finding():
    few = Examination("benford", {"test": "first_three"}, {}, {"tested": 40, "driver_rows": 3},
                      verdict="too_few_rows")
    b = Battery({"benford_first_three": few})
    assert b.findings() == {"benford_first_three": None}
    assert b.summary()["with_findings"] == []
