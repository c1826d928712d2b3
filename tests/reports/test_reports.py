"""The HTML report is self-contained, escaped, and complete; the output bundle is whole."""

from __future__ import annotations

import dataclasses
import json
import re

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.reports import OUTPUT_FILES, reconcile_html, save_reconcile
from tests.conftest import ON_DASK

EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def evil_result(tables):
    """A result whose data holds markup: a bank-only row with a script as description."""
    bank, ledger, _ = tables
    bank = bank.copy()
    extra = pd.DataFrame({
        "transaction_id": ["B<&>'\"1"], "date": [bank["date"].iloc[10]],
        "amount": [987654.32], "description": [EVIL],
        "account": ["<b>CHK</b>"], "reference": [None],
    })
    bank = pd.concat([bank, extra], ignore_index=True)
    return nx.reconcile(bank, ledger, device="cpu")


@pytest.fixture(scope="module")
def page(evil_result):
    inputs = {"bank": {"name": "<img src=x onerror=alert(1)>.csv", "rows": 301},
              "ledger": {"name": "ledger.csv", "rows": 1}}
    return reconcile_html(evil_result, title="Q3 <review>", inputs=inputs,
                          settings={"device_requested": "<auto>"})


def test_data_is_escaped(page, evil_result):
    assert EVIL in evil_result.unmatched_bank["description"].tolist()  # it is in the report
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;.csv" in page
    assert "B&lt;&amp;&gt;&#x27;&quot;1" in page
    assert "Q3 &lt;review&gt;" in page and "&lt;auto&gt;" in page
    assert "<review>" not in page


def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for outside in ("http://", "https://", "src=", "href=", "<link", "@import", "url(",
                    "<iframe", "<object", "<embed"):
        assert outside not in lowered.replace("&lt;img src=x", ""), outside
    assert "<style>" in page and "<svg" in page  # inline CSS and an inline chart
    assert "@media print" in page and "@page" in page


def test_page_has_every_section(page, evil_result):
    s = evil_result.summary()
    for title in ("Match types", "Match confidence", "Open items by reason", "Largest open items",
                  "Matches to review", "Top matches", "Fitted match weights", "Settings",
                  "Timings"):
        assert f"<h2>{title}</h2>" in page, title
    assert f"{evil_result.rate:.1%}" in page
    assert f"{s['matched_pairs']:,}" in page
    for reason in evil_result.unmatched_bank["reason"].unique():
        assert reason in page
    assert "987,654.32" in page  # the largest open item, by amount
    for label in evil_result.model.to_frame()["label"]:
        assert label in page
    for stage in evil_result.timings:
        assert f"<td class=''>{stage}</td>" in page


def test_no_matches_still_renders(evil_result):
    none = dataclasses.replace(evil_result, matches=evil_result.matches.iloc[:0], rate=0.0)
    page = reconcile_html(none)
    assert "0.0%" in page and "No matches." in page
    assert "<h2>Matches to review</h2>" not in page and "<script" not in page


def test_save_reconcile_writes_the_bundle(evil_result, tmp_path):
    files = save_reconcile(evil_result, tmp_path / "out", inputs={"bank": {"name": "b.csv"}})
    assert sorted(files) == sorted(OUTPUT_FILES)
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())  # strict JSON
    assert summary["summary"]["matched_pairs"] == len(evil_result.matches)
    assert summary["inputs"]["bank"]["name"] == "b.csv"
    back = pd.read_parquet(tmp_path / "out" / "matches.parquet")
    pd.testing.assert_frame_equal(back, evil_result.matches)
    weights = pd.read_csv(tmp_path / "out" / "match_weights.csv")
    assert len(weights) == len(evil_result.model.to_frame())
    assert re.search(r"<title>Bank reconciliation: b\.csv against ledger</title>",
                     (tmp_path / "out" / "report.html").read_text())


def test_csv_outputs_do_not_carry_formulas(tables, tmp_path):
    bank, ledger, _ = tables
    extra = pd.DataFrame({
        "transaction_id": ["=HYPERLINK(\"http://x\",\"y\")"], "date": [bank["date"].iloc[3]],
        "amount": [-4321.5], "description": ["+cmd|' /C calc'!A0"],
        "account": ["@SUM(1)"], "reference": ["-2+3"],
    })
    res = nx.reconcile(pd.concat([bank, extra], ignore_index=True), ledger, device="cpu")
    save_reconcile(res, tmp_path)
    csv = pd.read_csv(tmp_path / "unmatched_bank.csv", dtype=str, keep_default_na=False)
    row = csv[csv["description"].str.contains("cmd")].iloc[0]
    assert row["transaction_id"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert row["description"] == "'+cmd|' /C calc'!A0"
    assert row["account"] == "'@SUM(1)" and row["reference"] == "'-2+3"
    assert float(row["amount"]) == -4321.5
    for path in tmp_path.glob("*.csv"):
        for value in pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel():
            assert not re.match(r"[=+@\t\r]|-(?![\d.,]+$)", value), (path.name, value)


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]


def test_text_direction_controls_are_shown_not_obeyed(tables):
    """"\u202eevil" must not show as "live": every bidirectional control is made visible."""
    bank, ledger, _ = tables
    extra = pd.DataFrame({
        "transaction_id": ["B-\u2066X\u2069"], "date": [bank["date"].iloc[5]],
        "amount": [123456.78], "description": ["refund \u202elive\u202c ok" + "".join(BIDI)],
        "account": ["CHK"], "reference": [None],
    })
    res = nx.reconcile(pd.concat([bank, extra], ignore_index=True), ledger, device="cpu")
    page = reconcile_html(res, inputs={"bank": {"name": "bank\u202e.csv", "rows": 1}})
    assert not any(c in page for c in BIDI)
    assert "refund [U+202E]live[U+202C] ok" in page
    assert "B-[U+2066]X[U+2069]" in page and "bank[U+202E].csv" in page
    for c in BIDI:
        assert f"[U+{ord(c):04X}]" in page

    tx = nx.data.synth_transactions(1_000, seed=0)
    tx.loc[0, "transaction_id"] = "T\u202e1"
    scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx).score(tx)
    scored.loc[0, "risk_score"] = 100.0  # among the riskiest rows the report lists
    fraud_page = nx.reports.fraud_html(pd.DataFrame(scored), scored.summary())
    assert "T[U+202E]1" in fraud_page and not any(c in fraud_page for c in BIDI)


def test_how_the_amounts_and_dates_were_read_is_said_in_words(tables):
    bank, ledger, _ = tables
    commas = bank.assign(amount=bank["amount"].map(lambda x: f"{x:.2f}".replace(".", ",")),
                         date=pd.to_datetime(bank["date"]).dt.strftime("%d/%m/%Y"))
    res = nx.reconcile(commas, ledger, device="cpu", dayfirst=True)
    page = reconcile_html(res)
    assert "{&#x27;" not in page and "[]" not in page  # no Python dicts or lists shown
    assert "bank amounts and dates</td><td class=''>decimal comma; dates day/month/year" in page
    dated = ledger.assign(date=pd.to_datetime(ledger["date"]))  # dates as date values
    page = reconcile_html(nx.reconcile(commas, dated, device="cpu", dayfirst=True))
    assert "ledger amounts and dates</td><td class=''>amounts as numbers; dates as date " \
        "values" in page and "dates dates" not in page


def _settings(page: str) -> str:
    return page[page.index("<h2>Settings</h2>"):page.index("<h2>Timings</h2>")]


def test_a_run_computed_on_dask_says_where_in_its_settings(on_dask, seed0, tmp_path):
    save_reconcile(on_dask(seed0), tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    settings = _settings(page)
    assert ("<td class='k'>computed on</td><td class=''>Dask: 2 workers, 8 partitions "
            "(scheduler tcp://127.0.0.1:40123)</td>") in settings
    assert ("<td class='k'>Dask dashboard</td><td class=''><span class='hash'>"
            "http://127.0.0.1:8787/status</span> (live only while the cluster ran)"
            "</td>") in settings
    assert "href=" not in page and "<a " not in page  # still links to nothing
    assert "dashboard http" not in page  # not the mapping dumped as one setting
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["params"]["dask"] == ON_DASK

    plain = _settings(reconcile_html(seed0))
    assert "computed on" not in plain and "Dask" not in plain


def test_the_report_redacts_passwords_in_the_dask_addresses(on_dask, seed0, tmp_path):
    secret = on_dask(seed0, scheduler="tls://nexus:s3cret@sched.example:8786",
                      dashboard="https://dask.example/status?token=t0ken&x=<b>")
    save_reconcile(secret, tmp_path)
    for name in ("report.html", "summary.json"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "s3cret" not in text and "t0ken" not in text, name
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "(scheduler tls://nexus:***@sched.example:8786)" in page
    assert "https://dask.example/status?token=%2A%2A%2A&amp;x=%3Cb%3E" in page
    assert secret.params["dask"]["scheduler"].endswith("s3cret@sched.example:8786")  # kept


def test_a_dask_entry_of_another_shape_is_a_clear_error(on_dask, seed0):
    from nexus_lab.errors import SchemaError

    odd = dataclasses.replace(seed0, params={**seed0.params, "dask": "tcp://h:8786"})
    with pytest.raises(SchemaError, match=r"params\['dask'\] is a str, not a mapping: .*"
                       r"scheduler \(an address\), workers and partitions"):
        reconcile_html(odd)
    with pytest.raises(SchemaError, match=r"params\['dask'\]\['workers'\] is '2'"):
        reconcile_html(on_dask(seed0, workers="2"))
