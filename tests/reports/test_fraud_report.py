"""The fraud report and scored table: the transactions as the user knows them."""

from __future__ import annotations

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError
from nexus_lab.reports import export_fraud


@pytest.fixture(scope="module")
def scored_tx():
    tx = nx.data.synth_transactions(1_200, seed=4).drop(columns=["pattern", "is_fraud"])
    tx = tx.rename(columns={"account": "card_id"})
    det = nx.fraud.FraudDetector(columns={"account": "card_id"}, device="cpu",
                                 autoencoder_epochs=1, random_state=0).fit(tx)
    return tx, det.score(tx)


def test_scored_csv_keeps_the_transactions_own_fields(scored_tx, tmp_path):
    tx, scored = scored_tx
    out = export_fraud(scored, tmp_path / "fraud", transactions=tx,
                       columns={"account": "card_id"})
    for name in ("scored.csv", "scored.parquet"):
        back = (pd.read_csv if name.endswith("csv") else pd.read_parquet)(out / name)
        assert list(back.columns[:len(tx.columns)]) == list(tx.columns)
        assert {"risk_score", "flags", "reasons"} <= set(back.columns)
        assert back["amount"].tolist() == pytest.approx(tx["amount"].tolist())
        assert back["vendor"].tolist() == tx["vendor"].tolist()
    with pytest.raises(SchemaError, match=f"{len(tx) - 1:,} transactions.*{len(tx):,} scored"):
        export_fraud(scored, tmp_path / "bad", transactions=tx.iloc[1:])
    assert not (tmp_path / "bad").exists()


def test_report_lists_the_riskiest_transactions_as_a_reader_knows_them(scored_tx, tmp_path):
    tx, scored = scored_tx
    metrics = {"holdout_auprc": 0.61, "holdout_roc_auc": 0.93,
               "holdout_flagged_share": 0.1, "train_rows": 960.0}
    out = export_fraud(scored, tmp_path / "fraud", transactions=tx,
                       columns={"account": "card_id"}, extra={"metrics": metrics})
    page = (out / "report.html").read_text()
    assert "<script" not in page and "NEXUS Lab · Fraud" in page
    head = page[page.index("riskiest"):]
    head = head[head.index("<thead>"):head.index("</thead>")]
    for label in ("Risk", "Date", "Amount", "Vendor", "Account", "Flags", "Reasons"):
        assert f">{label}<" in head
    riskiest = scored["risk_score"].idxmax()
    assert tx["vendor"].iloc[riskiest] in page and tx["card_id"].iloc[riskiest] in page
    assert "Area under the precision-recall curve" in page
    assert "Share of the rows flagged" in page and "10.0%" in page
    for code in ("auprc", "roc_auc", "flagged_share", "train_rows"):
        assert code not in page
