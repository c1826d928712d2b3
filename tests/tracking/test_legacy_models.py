"""Models saved before the kernels owned their state still load and predict the same.

The fixture ``tests/fixtures/legacy_models/`` was logged to MLflow by the code
*before* the restructure (when :mod:`nexus_lab.artifacts` was one module that set a
detector's fitted attributes from outside): ``fraud/`` is a fraud model (its
``artifacts/detector/`` written by the old ``save_fraud_detector``; ``models.skops``
recompressed with deflate to keep the repository small; the temporary folders its
``MLmodel`` files recorded replaced by ``/srv/...``: MLflow reads neither on loading),
``recommender/`` a Hybrid
recommender (EASE and ALS). ``*_input.csv`` are the inputs and ``*_expected.csv``
the outputs that code produced. Their code files (``_fraud_model.py``,
``_recommend_model.py``, copied into the model folders by MLflow) import
``nexus_lab.artifacts.load_fraud_detector`` / ``load_recommender``: that path, and
format 1 on disk, must keep working. Never regenerate the fixture with the current
code: it would then test nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_lab.artifacts import (
    load_fraud_detector,
    load_recommender,
    save_fraud_detector,
    save_recommender,
)

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_models"


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(LEGACY / name, float_precision="round_trip")


def _risk(scored: pd.DataFrame) -> pd.Series:
    return pd.DataFrame(scored).set_index("transaction_id")["risk_score"].astype(float)


@pytest.fixture(scope="module")
def fraud_expected() -> pd.Series:
    expected = _read("fraud_expected.csv").set_index("transaction_id")["risk_score"]
    assert len(expected) == 40 and expected.gt(0).any()
    return expected


@pytest.fixture(scope="module")
def recommender_expected() -> pd.DataFrame:
    expected = _read("recommender_expected.csv")
    assert len(expected) == 50
    return expected


def test_legacy_fraud_model_loads_through_mlflow_and_scores_as_before(fraud_expected):
    import mlflow

    model = mlflow.pyfunc.load_model(str(LEGACY / "fraud"))
    scored = model.predict(_read("fraud_input.csv"))
    pd.testing.assert_series_equal(_risk(scored), fraud_expected, check_exact=True)


def test_legacy_fraud_folder_loads_and_scores_as_before(fraud_expected):
    det = load_fraud_detector(LEGACY / "fraud" / "artifacts" / "detector", device="cpu")
    assert det.supervised_ and det.n_history_ == 307
    pd.testing.assert_series_equal(_risk(det.score(_read("fraud_input.csv"))), fraud_expected,
                                   check_exact=True)


def test_legacy_recommender_loads_through_mlflow_and_recommends_as_before(
        recommender_expected):
    import mlflow

    model = mlflow.pyfunc.load_model(str(LEGACY / "recommender"))
    out = model.predict(_read("recommender_input.csv"), params={"k": 5})
    _same_recommendations(pd.DataFrame(out), recommender_expected)


def test_legacy_recommender_folder_loads_and_recommends_as_before(recommender_expected):
    model = load_recommender(LEGACY / "recommender" / "artifacts" / "recommender", device="cpu")
    assert type(model).__name__ == "Hybrid" and list(model.models_) == ["als", "ease"]
    users = _read("recommender_input.csv")["user_id"].to_numpy()
    _same_recommendations(pd.DataFrame(model.recommend(users, k=5)), recommender_expected)


def _same_recommendations(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """The same users, items and ranks; the scores to float32 rounding: they are float32
    products whose last bit follows the processor's BLAS kernels (the recorded scores
    came from another machine's)."""
    pd.testing.assert_frame_equal(got.drop(columns="score"), want.drop(columns="score"),
                                  check_exact=True)
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, atol=2e-6)


# ------------------------------------------------------------------ the format itself

def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and p.name != ".nexus-lab")


def _same_arrays(a: Path, b: Path) -> None:
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files), a
        for key in x.files:
            assert x[key].dtype == y[key].dtype, (a, key)
            np.testing.assert_array_equal(x[key], y[key], err_msg=f"{a}: {key}")


def test_saving_a_legacy_detector_again_writes_the_same_format(tmp_path):
    import torch

    old = LEGACY / "fraud" / "artifacts" / "detector"
    new = save_fraud_detector(load_fraud_detector(old, device="cpu"), tmp_path / "det")
    assert _files(new) == _files(old)
    assert json.loads((new / "detector.json").read_text()) == json.loads(
        (old / "detector.json").read_text())
    _same_arrays(new / "arrays.npz", old / "arrays.npz")
    pd.testing.assert_frame_equal(pd.read_parquet(new / "history.parquet"),
                                  pd.read_parquet(old / "history.parquet"), check_exact=True)
    a = torch.load(new / "autoencoder.pt", weights_only=True)
    b = torch.load(old / "autoencoder.pt", weights_only=True)
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    import skops.io as sio

    assert sio.get_untrusted_types(file=new / "models.skops") == sio.get_untrusted_types(
        file=old / "models.skops")


def test_saving_a_legacy_recommender_again_writes_the_same_format(tmp_path):
    old = LEGACY / "recommender" / "artifacts" / "recommender"
    new = save_recommender(load_recommender(old, device="cpu"), tmp_path / "rec")
    assert _files(new) == _files(old)
    for meta in old.rglob("recommender.json"):
        twin = new / meta.relative_to(old)
        assert json.loads(twin.read_text()) == json.loads(meta.read_text()), meta
        _same_arrays(twin.with_name("arrays.npz"), meta.with_name("arrays.npz"))
    for table in old.rglob("*.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(new / table.relative_to(old)),
                                      pd.read_parquet(table), check_exact=True)
