"""The battery's result: a mapping of test names to Examinations, with one row per test."""

from __future__ import annotations

import json

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
