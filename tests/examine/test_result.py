import json

import pandas as pd
import pytest

from nexus_lab.examine import Examination


def _result(**kw):
    def draw(res, ax):
        ax.bar([1, 2], [3, 4])

    return Examination("count", {"column": "x", "bands": (0, 10)},
                       {"main": pd.DataFrame({"n": [3]}), "rows": pd.DataFrame({"id": ["<b>"]})},
                       {"rows": 3}, verdict="findings", notes=("too few rows",), plotter=draw, **kw)


def test_params_are_json_and_summary_plain():
    r = _result()
    assert r.params == {"column": "x", "bands": [0, 10]}
    json.dumps(r.summary())
    assert r.summary() == {"test": "count", "verdict": "findings", "rows": 3,
                           "warnings": ["too few rows"]}


def test_tables_by_name_and_a_clear_error():
    r = _result()
    assert r.to_frame()["n"].tolist() == [3]
    assert r["rows"]["id"].tolist() == ["<b>"]
    with pytest.raises(KeyError, match="its tables are 'main', 'rows'"):
        r.to_frame("nope")


def test_notebook_view_escapes_and_embeds_the_plot():
    html = _result()._repr_html_()
    assert "<td>&lt;b&gt;</td>" in html
    assert "<svg" in html and "too few rows" in html and "findings" in html
