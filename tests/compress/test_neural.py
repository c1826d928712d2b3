"""The neural codec, the recall of decoded vectors, and codec runs in MLflow."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from nexus_lab.artifacts import codec_from_state
from nexus_lab.compress._metrics import recall_at_k
from nexus_lab.compress._neural import Neural
from nexus_lab.compress._quantizers import pack, unpack
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.tracking import log_codec

SMALL = {"hidden": 64, "epochs": 8, "batch_size": 128, "device": "cpu"}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny networks gain nothing from threads, and on a busy 2-core box two torch threads
    wait on each other at every operation (a fit took 30 s instead of 1 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    """2,000 vectors of 32 dimensions around 20 centres: structure a codec can learn."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    X = centres[rng.integers(0, 20, 2000)] + 0.15 * rng.normal(size=(2000, 32))
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def fitted(clustered) -> Neural:
    return Neural(bytes_per_vector=8, random_state=0, **SMALL).fit(clustered)


def test_codes_and_decoded_vectors_have_the_promised_shape(fitted, clustered):
    codes = fitted.encode(clustered)
    assert codes.shape == (2000, 8) and codes.dtype == np.uint8
    assert fitted.code_size_ == 8 and fitted.bytes_per_vector == 8
    assert fitted.latent_dim_ == 8 * 8 // 2
    decoded = fitted.decode(codes)
    assert decoded.shape == (2000, 32) and decoded.dtype == np.float32
    assert len(fitted.history_) == SMALL["epochs"]
    assert fitted.history_[-1] < fitted.history_[0]
    assert all(isinstance(v, np.ndarray) for v in fitted.state_.values())
    rebuilt = copy.deepcopy(fitted)  # drops the cached network: rebuilt from state_
    assert "_net" not in vars(rebuilt)
    np.testing.assert_array_equal(rebuilt.decode(codes), decoded)
    np.testing.assert_array_equal(rebuilt.encode(clustered), codes)


def test_reconstruction_is_far_better_than_the_mean(fitted, clustered):
    decoded = fitted.decode(fitted.encode(clustered))
    mse = ((decoded - clustered) ** 2).sum(1).mean()
    variance = ((clustered - clustered.mean(0)) ** 2).sum(1).mean()
    # 8 bytes for 128 bytes of floats: the clusters are kept, most of the spread too
    assert mse < 0.1 * variance, (mse, variance)
    assert abs(fitted.history_[-1] - mse) < 0.5 * mse  # history_ is in the units of mse


@pytest.mark.parametrize("nbits", [1, 3, 8])
def test_every_bit_width_round_trips(clustered, nbits):
    codec = Neural(bytes_per_vector=6, nbits=nbits, random_state=0,
                   **{**SMALL, "epochs": 1}).fit(clustered[:300])
    codes = codec.encode(clustered[:300])
    assert codes.shape == (300, 6)
    idx = unpack(torch.from_numpy(codes), codec.latent_dim_, nbits)
    assert idx.shape == (300, 6 * 8 // nbits) and int(idx.max()) < 2 ** nbits
    assert len(torch.unique(idx)) > 1  # the levels are used, not one constant code
    np.testing.assert_array_equal(pack(idx, nbits).numpy(), codes)
    assert np.isfinite(codec.decode(codes)).all()


def test_same_random_state_same_codec(clustered, fitted):
    again = Neural(bytes_per_vector=8, random_state=0, **SMALL).fit(clustered)
    np.testing.assert_array_equal(again.encode(clustered), fitted.encode(clustered))
    assert again.history_ == fitted.history_
    other = Neural(bytes_per_vector=8, random_state=1, **SMALL).fit(clustered)
    assert not np.array_equal(other.encode(clustered), fitted.encode(clustered))


@pytest.mark.parametrize(("params", "match"), [
    ({"nbits": 0}, "nbits must be an integer from 1 to 8"),
    ({"nbits": 9}, "nbits must be an integer from 1 to 8"),
    ({"bytes_per_vector": 0}, "bytes_per_vector must be an integer of at least 1"),
    ({"bytes_per_vector": 128}, "not smaller than the 128 bytes"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"epochs": 2.5}, "epochs must be an integer"),
])
def test_bad_parameters_are_refused(clustered, params, match):
    with pytest.raises(SchemaError, match=match):
        Neural(**{**SMALL, **params}).fit(clustered)


def test_unfitted_and_mismatched_inputs_are_refused(fitted):
    with pytest.raises(NexusError, match="not fitted"):
        Neural().encode(np.zeros((2, 4), np.float32))
    with pytest.raises(SchemaError, match="fitted on 32"):
        fitted.encode(np.zeros((2, 16), np.float32))
    with pytest.raises(SchemaError, match="codes must be"):
        fitted.decode(np.zeros((2, 7), np.uint8))


def _recall_reference(Q, X, Xh, k):
    hits = 0
    for q in Q:
        exact = set(np.argsort(-(X @ q), kind="stable")[:k])
        approx = set(np.argsort(-(Xh @ q), kind="stable")[:k])
        hits += len(exact & approx)
    return hits / (len(Q) * k)


def test_recall_matches_a_brute_force_reference(monkeypatch):
    import nexus_lab.compress._metrics as metrics

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    Q = rng.normal(size=(25, 12)).astype(np.float32)
    Xh = (X + rng.normal(scale=0.4, size=X.shape)).astype(np.float32)
    assert recall_at_k(Q, X, X, k=10, device="cpu") == 1.0
    expected = _recall_reference(Q, X, Xh, 10)
    assert 0 < expected < 1
    assert recall_at_k(Q, X, Xh, k=10, device="cpu") == pytest.approx(expected)
    assert recall_at_k(Q, X, Xh, k=1, device="cpu") == pytest.approx(
        _recall_reference(Q, X, Xh, 1))
    monkeypatch.setattr(metrics, "_BLOCK_SCORES", 600)  # blocks of 2 queries
    assert recall_at_k(Q, X, Xh, k=10, device="cpu") == pytest.approx(expected)


def test_recall_refuses_mismatched_inputs():
    X = np.eye(5, dtype=np.float32)
    with pytest.raises(SchemaError, match="decoded has 4 vectors"):
        recall_at_k(X, X, X[:4], k=2)
    with pytest.raises(SchemaError, match="queries have 5"):
        recall_at_k(X, X[:, :4], X[:, :4], k=2)
    with pytest.raises(SchemaError, match="k must be an integer from 1 to 5"):
        recall_at_k(X, X, X, k=6)


def test_log_codec_writes_metrics_history_and_arrays(fitted, clustered, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    queries = clustered[::50] + 0.01
    run_id = log_codec(fitted, clustered, queries, tracking_uri=uri, run_name="neural-8B",
                       source="pytest")
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "neural-8B"
    assert client.get_experiment(run.info.experiment_id).name == "nexus-compress"
    m, p = run.data.metrics, run.data.params
    assert m["bytes_per_vector"] == 8.0 and m["compression_ratio"] == 16.0
    decoded = fitted.decode(fitted.encode(clustered))
    assert m["mse"] == pytest.approx(((decoded - clustered) ** 2).sum(1).mean(), rel=1e-4)
    assert m["recall_at_10"] == pytest.approx(recall_at_k(queries, clustered, decoded))
    assert p["codec"] == "Neural" and p["nbits"] == "2" and p["n_queries"] == "40"
    assert run.data.tags["nexus_lab.kernel"] == "compress"
    history = client.get_metric_history(run_id, "train_loss")
    assert [h.step for h in history] == list(range(1, SMALL["epochs"] + 1))
    assert [h.value for h in history] == pytest.approx(fitted.history_)
    folder = client.download_artifacts(run_id, "", str(tmp_path / "out"))
    meta = json.loads((tmp_path / "out" / "codec.json").read_text())
    assert meta["class"] == "Neural"
    assert meta["params"]["bytes_per_vector"] == 8 and meta["values"]["latent_dim_"] == 32
    with np.load(f"{folder}/codec.npz", allow_pickle=False) as arrays:
        np.testing.assert_array_equal(arrays["mean_"], fitted.mean_)
        for key, value in fitted.state_.items():
            np.testing.assert_array_equal(arrays[f"state_/{key}"], value)
        again = codec_from_state(meta, arrays)
        np.testing.assert_array_equal(again.encode(clustered), fitted.encode(clustered))


def test_log_codec_fits_an_unfitted_codec_and_reports_a_bad_store(clustered, tmp_path):
    from mlflow import MlflowClient

    from nexus_lab.compress import PQ

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    codec = PQ(m=8, nbits=4, n_iter=5, device="cpu", random_state=0)
    run_id = log_codec(codec, clustered[:500], tracking_uri=uri)
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    assert "seconds_fit" in metrics and "recall_at_10" not in metrics
    assert metrics["compression_ratio"] == 32.0
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(NexusError, match="could not log the codec run"):
        log_codec(codec, clustered[:500], tracking_uri=f"sqlite:///{blocker}/x/mlflow.db")
