"""The fraud detector: planted patterns, learned models, explanations and bad input."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.metrics import average_precision_score

import nexus_lab as nx
from nexus_lab.errors import DeviceError, NexusError, SchemaError


@pytest.fixture(scope="module")
def tx():
    return nx.data.synth_transactions(20_000, seed=0)


@pytest.fixture(scope="module")
def unsupervised(tx):
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=6).fit(tx)
    return det, det.score(tx)


@pytest.fixture(scope="module")
def supervised():
    data = nx.data.synth_transactions(20_000, seed=1)
    train, test = data.iloc[:14_000], data.iloc[14_000:]
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=6, cv=3)
    det.fit(train, y=train["is_fraud"])
    return det, test, det.score(test)


def _has(scored: pd.DataFrame, mask: np.ndarray, flag: str) -> np.ndarray:
    return scored.loc[mask, "flags"].map(lambda f: flag in f).to_numpy()


@pytest.mark.parametrize(("pattern", "flag"), [
    ("duplicate", "duplicate"), ("velocity", "velocity"), ("threshold", "threshold"),
    ("outlier", "statistical outlier"), ("benford", "benford"), ("new_vendor", "new vendor"),
    ("round_amount", "round amount"), ("off_hours", "off hours"),
])
def test_every_planted_case_is_flagged(tx, unsupervised, pattern, flag):
    _, scored = unsupervised
    planted = (tx["pattern"] == pattern).to_numpy()
    assert planted.sum() >= 40
    assert _has(scored, planted, flag).all()


def test_planted_patterns_rank_in_the_top_decile(tx, unsupervised):
    _, scored = unsupervised
    top = scored["risk_score"].rank(ascending=False, method="max", pct=True).to_numpy() <= 0.10
    anomaly = (tx["pattern"] == "anomaly").to_numpy()
    assert top[anomaly].all()
    for pattern in ("duplicate", "velocity", "threshold", "outlier"):
        assert top[(tx["pattern"] == pattern).to_numpy()].mean() >= 0.95, pattern
    assert average_precision_score(tx["is_fraud"], scored["risk_score"]) >= 0.85


def test_legitimate_rows_are_mostly_quiet(tx, unsupervised):
    _, scored = unsupervised
    legit = ~tx["is_fraud"].to_numpy()
    assert (scored.loc[legit, "risk_score"] >= 50).mean() < 0.03
    # the strong flags are rare among legitimate rows
    for flag in ("velocity", "threshold", "benford"):
        assert _has(scored, legit, flag).mean() < 0.005, flag


def test_scored_frame_contract(tx, unsupervised):
    det, scored = unsupervised
    assert list(scored.columns) == ["transaction_id", "risk_score", "flags", "reasons",
                                    "model_score"]
    assert scored["transaction_id"].tolist() == tx["transaction_id"].tolist()
    assert scored["risk_score"].between(0, 100).all()
    assert all(isinstance(f, list) and all(isinstance(x, str) for x in f) for f in scored["flags"])
    assert all(set(f) <= set(nx.fraud.FLAGS) for f in scored["flags"])
    dup = scored.loc[(tx["pattern"] == "duplicate").to_numpy()].iloc[0]
    assert any("account, vendor and amount as TX" in r for r in dup["reasons"])
    assert len(dup["reasons"]) <= 3
    html = scored._repr_html_()
    assert "Fraud risk" in html and "duplicate" in html
    summary = scored.summary()
    assert summary["rows"] == len(tx) and summary["per_flag"]["duplicate"] >= 40
    # slicing gives a plain frame; one row scores on its own
    assert type(scored.head(3)) is pd.DataFrame
    one = det.score(tx.iloc[[5]])
    assert len(one) == 1 and one["transaction_id"].iloc[0] == tx["transaction_id"].iloc[5]


def test_new_rows_are_judged_against_history(tx, unsupervised):
    det, _ = unsupervised
    row = tx[tx["pattern"] == ""].iloc[[100]].copy()
    again = row.assign(transaction_id="NEW-1", date=row["date"] + pd.Timedelta(hours=2))
    scored = det.score(again)
    assert "duplicate" in scored["flags"].iloc[0]
    assert str(row["transaction_id"].iloc[0]) in scored["reasons"].iloc[0][0]


def test_explain_names_rules_and_features(tx, unsupervised):
    det, _ = unsupervised
    tid = tx.loc[tx["pattern"] == "outlier", "transaction_id"].iloc[0]
    det.score(tx)
    why = det.explain(tid)
    assert {"rule", "feature"} == set(why["kind"])
    assert set(nx.fraud.FLAGS) <= set(why["name"]) and set(nx.fraud.FEATURES) <= set(why["name"])
    top_rule = why[why["kind"] == "rule"].iloc[0]
    assert top_rule["name"] == "statistical outlier" and top_rule["contribution"] > 0
    with pytest.raises(SchemaError, match="not in the last score"):
        det.explain("no-such-id")


def test_supervised_model_is_accurate_and_calibrated(supervised):
    det, test, scored = supervised
    assert det.supervised_
    y = test["is_fraud"].to_numpy()
    assert average_precision_score(y, scored["risk_score"]) >= 0.9
    # out-of-fold calibration on the training rows: predicted vs observed per bin
    p, lab = det.oof_probability_, det.labels_
    hi = p >= 0.5
    assert abs(p[hi].mean() - lab[hi].mean()) < 0.1
    assert p[~hi].mean() < 0.05
    why = det.explain(scored.sort_values("risk_score").iloc[-1]["transaction_id"])
    assert why[why["kind"] == "feature"]["contribution"].notna().all()


def test_labels_of_one_class_fall_back_to_unsupervised(tx, caplog):
    small = tx.iloc[:2_000]
    with caplog.at_level(logging.WARNING, logger="nexus_lab"):
        det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(
            small, y=np.zeros(len(small), bool))
    assert not det.supervised_
    assert "one class" in caplog.text


def test_labels_misaligned_or_bad(tx):
    small = tx.iloc[:500]
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1)
    with pytest.raises(SchemaError, match="misaligned"):
        det.fit(small, y=small["is_fraud"].to_numpy()[:-1])
    shifted = pd.Series(small["is_fraud"].to_numpy(), index=small.index + 10_000)
    with pytest.raises(SchemaError, match="misaligned"):
        det.fit(small, y=shifted)
    with pytest.raises(SchemaError, match="booleans or 0/1"):
        det.fit(small, y=np.where(small["is_fraud"], "maybe", "no"))
    with pytest.raises(SchemaError, match="no column 'label'"):
        det.fit(small, y="label")
    # a column name is fine, and a Series in another order is aligned by index
    shuffled = small["is_fraud"].sample(frac=1.0, random_state=0)
    assert det.fit(small, y=shuffled).supervised_ in (True, False)


def test_bad_input_gets_a_clear_error(tx):
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1)
    with pytest.raises(SchemaError, match="has no column 'amount'"):
        det.fit(tx.drop(columns="amount"))
    bad = tx.iloc[:50].astype({"amount": object})
    bad.iloc[7, bad.columns.get_loc("amount")] = "twelve"
    with pytest.raises(SchemaError, match="not an amount") as err:
        det.fit(bad)
    assert err.value.rows == [7]
    zones = tx.iloc[:50].assign(date=tx["date"].iloc[:50].astype(str))
    zones.iloc[3, zones.columns.get_loc("date")] += "+02:00"
    with pytest.raises(SchemaError, match="time zone mixed"):
        det.fit(zones)
    with pytest.raises(SchemaError, match="at least 10"):
        det.fit(tx.iloc[:1])
    with pytest.raises(SchemaError, match="rules= names"):
        nx.fraud.FraudDetector(rules={"speed_limit": 3}).fit(tx.iloc[:100])
    with pytest.raises(NexusError, match="not fitted"):
        nx.fraud.FraudDetector().score(tx)
    with pytest.raises(DeviceError, match="CUDA"):
        nx.fraud.FraudDetector(device="cuda").fit(tx.iloc[:100]) if not _cuda() else \
            pytest.skip("a GPU is present")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_identical_rows_are_duplicates_not_a_crash(tx):
    row = tx.iloc[[0]]
    same = pd.concat([row] * 30, ignore_index=True).assign(
        transaction_id=[f"S{k}" for k in range(30)])
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(same)
    scored = det.score(same)
    assert scored["risk_score"].between(0, 100).all()
    assert scored["flags"].iloc[1:].map(lambda f: "duplicate" in f).all()


def test_other_column_names_frames_and_zones(tx):
    small = tx.iloc[:3_000]
    renamed = small.rename(columns={"account": "card_id", "date": "datetime", "vendor": "store"})
    cols = {"account": "card_id", "date": "datetime", "vendor": "store"}
    det = nx.fraud.FraudDetector(columns=cols, device="cpu", autoencoder_epochs=1)
    scored = det.fit(pl.from_pandas(renamed)).score(pl.from_pandas(renamed))
    assert len(scored) == len(small)
    # time zones: the same local times given with a zone score the same off-hours flags
    zoned = small.assign(date=small["date"].dt.tz_localize("America/New_York"))
    det2 = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(zoned)
    plain = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(small)
    a = det2.score(zoned)["flags"].map(lambda f: "off hours" in f)
    b = plain.score(small)["flags"].map(lambda f: "off hours" in f)
    assert (a == b).mean() > 0.99


def test_rules_are_configurable(tx):
    small = tx.iloc[:3_000]
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1,
                                 rules={"thresholds": (500.0,)}).fit(small)
    scored = det.score(small)
    over = (small["amount"].abs() >= 500).to_numpy()
    assert _has(scored, over, "threshold").all()
    assert det.rules_["thresholds"] == (500.0,)


def test_estimator_contract(tx):
    det = nx.fraud.FraudDetector(device="cpu", random_state=3, rules={"velocity_count": 8})
    twin = clone(det)
    assert twin.get_params() == det.get_params()
    assert "random_state=3" in repr(det)
    with pytest.raises(ValueError, match="no parameter"):
        det.set_params(speed=1)
    small = tx.iloc[:2_000]
    a = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=2).fit(small).score(small)
    b = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=2).fit(small).score(small)
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))


def test_anomaly_detector_on_numbers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 5))
    x[:10] += 6.0
    det = nx.fraud.AnomalyDetector(device="cpu", epochs=3).fit(x)
    score = det.score_samples(x)
    assert score[:10].min() > np.quantile(score[10:], 0.95)
    for combine in ("mean", "max", "autoencoder"):
        det.combine = combine
        assert det.score_samples(x)[:10].mean() > 0.9
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(SchemaError, match="NaN"):
        nx.fraud.AnomalyDetector(device="cpu").fit(bad)


def test_scoring_new_rows_sees_what_the_whole_history_would(tx):
    # signals of rows scored against a fitted history equal those computed over all rows
    # at once: the time window and the history tables lose nothing
    data = tx.iloc[:8_000]
    whole = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(data)
    whole.score(data)
    split = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(data.iloc[:5_000])
    split.score(data.iloc[5_000:])
    a, b = whole._last["sig"], split._last["sig"]
    for key in ("gap_prev", "gap_next", "account_prior", "count_window", "count_day",
                "sum_day", "vendor_share", "vendor_accounts", "new_vendor"):
        np.testing.assert_allclose(a[key][5_000:], b[key], err_msg=key)
    for key in ("duplicate_of", "near_duplicate_of"):
        assert ((a[key][5_000:] >= 0) == (b[key] >= 0)).all(), key


def test_forest_scores_equal_scikit_learns():
    from sklearn.ensemble import IsolationForest

    from nexus_lab.fraud._models import _FOREST_BLOCK, forest_scores

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3 * _FOREST_BLOCK + 17, 6)).astype(np.float32)  # blocks and threads
    full = IsolationForest(n_estimators=20, random_state=0).fit(x[:2000])
    np.testing.assert_array_equal(forest_scores(full, x), full.score_samples(x))
    part = IsolationForest(n_estimators=20, max_features=0.5, random_state=0).fit(x[:2000])
    np.testing.assert_array_equal(forest_scores(part, x[:500]), part.score_samples(x[:500]))
