"""The workflows' runs and registered models read for people, and the champion moved only
by an administrator, with the move and the champion before it in the store's audit log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import nexus_lab as nx
from nexus_lab import auth, tracking
from nexus_lab.errors import NexusError, PermissionDenied


@pytest.fixture(scope="module")
def _logged(tmp_path_factory) -> Path:
    """An MLflow store where the examiner logged a reconciliation run and two versions of
    the fraud model (1 is champion); made once, copied for each test."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    tx = nx.datasets.synth_transactions(300, seed=0)
    data = tx.drop(columns=["is_fraud", "pattern"])
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(data)
    with auth.acting_as("ana"):
        bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
        tracking.log_reconcile_run(nx.reconcile(bank, ledger, device="cpu"),
                                   tracking_uri=uri)
        for auprc in (0.7, 0.4):
            tracking.log_fraud_model(det, input_example=data.head(3), tracking_uri=uri,
                                     metrics={"holdout_auprc": auprc})
    return folder / "mlflow.db"


@pytest.fixture
def lab(tmp_path, store_url, _logged):
    """A store with an administrator, an examiner and a prosecutor, and a copy of the
    MLflow store (its artifacts stay where they were logged)."""
    db = tmp_path / "mlflow.db"
    shutil.copy(_logged, db)
    s = nx.store.connect(store_url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        auth.add_user("ana", role="examiner", store=s)
        auth.add_user("pat", role="prosecutor", store=s)
    yield s, f"sqlite:///{db}"
    s.close()


def _champion(uri: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(
        tracking.FRAUD_MODEL, tracking.CHAMPION).version)


def test_runs_and_versions_say_who_made_them(lab):
    s, uri = lab
    with auth.acting_as("ana"):
        runs = tracking.recent_runs(store=s, tracking_uri=uri)
        versions = tracking.registry(store=s, tracking_uri=uri)
        one = tracking.recent_runs(1, store=s, tracking_uri=uri)
    assert runs["experiment"].tolist() == [tracking.FRAUD_EXPERIMENT] * 2 + [
        tracking.RECONCILE_EXPERIMENT]
    assert set(runs["user"]) == {"ana"}  # the acting user, not the machine's login
    assert runs["status"].eq("FINISHED").all() and runs["seconds"].ge(0).all()
    assert runs["key_metrics"][0] == {"holdout_auprc": 0.4}
    assert 0 < runs["key_metrics"][2]["rate"] <= 1
    assert len(one) == 1 and one["run_id"][0] == runs["run_id"][0]
    assert versions[["version", "champion", "value"]].values.tolist() == [
        ["2", False, 0.4], ["1", True, 0.7]]
    assert versions["trained_by"].eq("ana").all()
    assert versions["aliases"][1] == [tracking.CHAMPION]


def test_the_administrator_promotes_and_the_history_says_who(lab):
    s, uri = lab
    with auth.acting_as("lead"):
        done = tracking.promote(tracking.FRAUD_MODEL, "2", note="steadier", store=s,
                                tracking_uri=uri)
        assert done == {"model": tracking.FRAUD_MODEL, "version": "2", "previous": "1",
                        "promoted_by": "lead", "note": "steadier"}
        assert _champion(uri) == "2"
        tracking.promote(tracking.FRAUD_MODEL, 1, store=s, tracking_uri=uri)
    with auth.acting_as("ana"):
        history = tracking.promotions(store=s)
        other = tracking.promotions(tracking.RECOMMEND_MODEL, store=s)
    assert history[["version", "previous", "promoted_by", "note"]].values.tolist() == [
        ["1", "2", "lead", ""], ["2", "1", "lead", "steadier"]]
    assert other.empty
    rows = s.read("audit_logs", where={"action": "model.promoted"})
    assert rows["resource_id"].tolist() == [f"models:/{tracking.FRAUD_MODEL}/2",
                                            f"models:/{tracking.FRAUD_MODEL}/1"]


def test_an_examiner_may_read_but_not_promote(lab):
    s, uri = lab
    with auth.acting_as("ana"), pytest.raises(PermissionDenied, match=r"models\.promote"):
        tracking.promote(tracking.FRAUD_MODEL, 2, store=s, tracking_uri=uri)
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused[["user_id", "resource_id"]].values.tolist() == [
        ["ana", f"models:/{tracking.FRAUD_MODEL}/2"]]
    assert _champion(uri) == "1"
    with auth.acting_as("pat"):  # no models.read
        with pytest.raises(PermissionDenied, match=r"models\.read"):
            tracking.registry(store=s, tracking_uri=uri)
        with pytest.raises(PermissionDenied, match=r"models\.read"):
            tracking.recent_runs(store=s, tracking_uri=uri)


def test_unknown_models_and_versions_are_named(lab):
    s, uri = lab
    with auth.acting_as("lead"):
        with pytest.raises(NexusError, match="has no version 7; its versions: 1, 2"):
            tracking.promote(tracking.FRAUD_MODEL, 7, store=s, tracking_uri=uri)
        with pytest.raises(NexusError, match=r"no registered model .nope.*nexus-fraud"):
            tracking.promote("nope", 1, store=s, tracking_uri=uri)
        with pytest.raises(NexusError, match="champion already"):
            tracking.promote(tracking.FRAUD_MODEL, 1, store=s, tracking_uri=uri)
        for bad in ("v2", 0, True):
            with pytest.raises(NexusError, match="version's number"):
                tracking.promote(tracking.FRAUD_MODEL, bad, store=s, tracking_uri=uri)
        with pytest.raises(NexusError, match="1 to 1000"):
            tracking.recent_runs(0, store=s, tracking_uri=uri)
    assert s.read("audit_logs", where={"action": "model.promoted"}).empty


def test_the_alias_goes_back_when_the_promotion_cannot_be_recorded(lab, tmp_path):
    _, uri = lab
    broken = nx.store.connect(tmp_path / "broken.db")  # single-user: no role to check
    broken.migrate()
    broken.execute("drop table audit_logs")
    with pytest.raises(NexusError):
        tracking.promote(tracking.FRAUD_MODEL, 2, store=broken, tracking_uri=uri)
    assert _champion(uri) == "1"
