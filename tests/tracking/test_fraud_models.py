"""Fraud models in MLflow: training runs, the registry's champion, scoring from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.artifacts import load_fraud_detector, save_fraud_detector
from nexus_lab.errors import IntegrityError, NexusError
from nexus_lab.tracking import (
    load_fraud_model,
    log_fraud_model,
)
from nexus_lab.workflows import train_fraud_model

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


@pytest.fixture(scope="module")
def tx():
    return nx.data.synth_transactions(4_000, seed=2)


@pytest.fixture(scope="module")
def fitted(tx):
    data = tx.drop(columns=["is_fraud", "pattern"])
    return nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=2).fit(
        data, y=tx["is_fraud"]), data


def test_saved_detector_scores_the_same_and_refuses_foreign_types(fitted, tmp_path):
    det, data = fitted
    folder = save_fraud_detector(det, tmp_path / "det")
    again = load_fraud_detector(folder, device="cpu")
    assert again.supervised_
    pd.testing.assert_frame_equal(pd.DataFrame(again.score(data)), pd.DataFrame(det.score(data)))
    # a models file that asks for a type a detector never holds is refused, not loaded
    import skops.io as sio

    sio.dump({"forest": det.anomaly_.forest_, "odd": pd.Timedelta(1)},
             tmp_path / "det" / "models.skops")
    with pytest.raises(IntegrityError, match="refused"):
        load_fraud_detector(folder)
    meta = json.loads((folder / "detector.json").read_text())
    (folder / "detector.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(NexusError, match="newer"):
        load_fraud_detector(folder)
    with pytest.raises(NexusError, match="no saved detector"):
        load_fraud_detector(tmp_path)


def test_compact_detector_keeps_its_history_in_a_smaller_checked_container(fitted, tmp_path):
    det, data = fitted
    plain = save_fraud_detector(det, tmp_path / "plain")
    compact = save_fraud_detector(det, tmp_path / "compact", compact=True)
    assert not (compact / "history.parquet").exists()
    assert (compact / "history.nxcf").stat().st_size < (plain / "history.parquet").stat().st_size
    again = load_fraud_detector(compact, device="cpu")
    pd.testing.assert_frame_equal(pd.DataFrame(again.score(data)), pd.DataFrame(det.score(data)))
    blob = bytearray((compact / "history.nxcf").read_bytes())
    blob[-5] ^= 0xFF
    (compact / "history.nxcf").write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="checksum"):
        load_fraud_detector(compact, device="cpu")


def test_champion_moves_only_on_improvement(fitted, tracking_uri):
    from mlflow import MlflowClient

    det, data = fitted
    example = data.head(3)
    first = log_fraud_model(det, input_example=example, metrics={"holdout_auprc": 0.70})
    worse = log_fraud_model(det, input_example=example, metrics={"holdout_auprc": 0.60})
    better = log_fraud_model(det, input_example=example, metrics={"holdout_auprc": 0.80})
    assert (first["champion"], worse["champion"], better["champion"]) == (True, False, True)
    assert "does not beat" in worse["reason"] and better["previous"] == "1"
    assert worse["reason"].startswith("held-out AUPRC ")  # in words, not the metric's key
    client = MlflowClient(tracking_uri)
    assert str(client.get_model_version_by_alias("nexus-fraud", "champion").version) == "3"
    run = client.get_run(better["run_id"])
    assert run.data.params["supervised"] == "True" and run.data.tags["nexus_lab.kernel"] == "fraud"
    model = load_fraud_model()
    assert model.metadata.run_id == better["run_id"]
    assert model.metadata.signature is not None
    out = model.predict(data.head(20))
    assert list(out.columns[:4]) == ["transaction_id", "risk_score", "flags", "reasons"]
    # logging left the caller's MLflow settings as they were
    assert os.environ["MLFLOW_TRACKING_URI"] == tracking_uri


def test_training_measures_on_held_out_time(tx, tracking_uri):
    res = train_fraud_model(tx.drop(columns=["pattern"]), "is_fraud", device="cpu")
    m = res["metrics"]
    assert m["holdout_rows"] == 800 and m["train_rows"] == 3_200
    assert m["holdout_auprc"] > 0.5  # 16 frauds held out of 800 rows: 25 times the base rate
    assert res["version"] == "1" and res["champion"]
    with pytest.raises(NexusError, match="holdout"):
        train_fraud_model(tx, "is_fraud", holdout=0.9, register=False)


def test_cli_train_then_score(tx, tmp_path, tracking_uri):
    path = tmp_path / "tx.csv"
    renamed = tx.drop(columns=["pattern"]).rename(columns={"account": "card_id"})
    renamed.to_csv(path, index=False)
    proc = cli("fraud", "train", path, "--labels", "is_fraud", "--columns", "account=card_id",
               "--device", "cpu", "--out", tmp_path / "train", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "held out: AUPRC" in proc.stdout and "is now the champion" in proc.stdout
    proc = cli("fraud", "score", path, "--out", tmp_path / "scored", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_parquet(tmp_path / "scored" / "scored.parquet")
    assert len(scored) == len(tx)
    assert set(pd.read_csv(tmp_path / "scored" / "scored.csv").columns) >= {
        "transaction_id", "risk_score", "flags", "reasons"}
    assert "<script" not in (tmp_path / "scored" / "report.html").read_text()
    # bad input: a clear error, exit 2, nothing written
    proc = cli("fraud", "train", path, "--labels", "nope", "--out", tmp_path / "bad",
               cwd=tmp_path)
    assert proc.returncode == 2 and "no column 'nope'" in proc.stderr
    assert not (tmp_path / "bad").exists()
    proc = cli("fraud", "score", path, "--model", "models:/no-such-model@champion",
               "--out", tmp_path / "bad", cwd=tmp_path)
    assert proc.returncode == 2 and "could not load" in proc.stderr
    assert not (tmp_path / "bad").exists()
