"""MLflow tracking into a real SQLite store, read back with MlflowClient."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import nexus_lab as nx
from nexus_lab.errors import NexusError
from nexus_lab.reports import OUTPUT_FILES, export_reconcile, save_reconcile
from nexus_lab.tracking import (
    DASK_DASHBOARD_TAG,
    RECONCILE_EXPERIMENT,
    artifact_location,
    default_tracking_uri,
    log_reconcile_run,
    reconcile_run_data,
)


@pytest.fixture(scope="module")
def result(tables):
    bank, ledger, _ = tables
    return nx.reconcile(bank, ledger, device="cpu")


def test_default_uri_is_a_local_sqlite_store(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    # outside a checkout: the user's data folder, the same from any folder
    assert default_tracking_uri().startswith(f"sqlite:///{tmp_path}/data/")
    # inside one (a pyproject.toml naming nexus-lab): its experiments/ folder
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    (tmp_path / "nb").mkdir()
    monkeypatch.chdir(tmp_path / "nb")
    assert default_tracking_uri() == f"sqlite:///{tmp_path}/experiments/mlflow.db"
    assert default_tracking_uri(tmp_path / "nb" / "..") == (
        f"sqlite:///{tmp_path}/experiments/mlflow.db"
    )
    assert artifact_location(default_tracking_uri()) == (
        (tmp_path / "experiments" / "mlartifacts").as_uri()
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert default_tracking_uri() == "http://127.0.0.1:5000"
    assert artifact_location("http://127.0.0.1:5000") is None


def test_tracking_module_does_not_import_mlflow():
    code = "import sys, nexus_lab.tracking, nexus_lab.cli; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_is_logged_and_reads_back(result, tracking_uri, tmp_path):
    from mlflow import MlflowClient

    save_reconcile(result, tmp_path / "outputs")
    (tmp_path / "outputs" / ".hidden").write_text("not an artifact")
    inputs = {"bank": {"name": "bank.csv", "rows": result.n_bank, "sha256": "ab" * 32},
              "ledger": {"name": "ledger.csv", "rows": result.n_ledger}}
    run_id = log_reconcile_run(
        result, params={"device_requested": "auto"}, artifacts_dir=tmp_path / "outputs",
        source="test", inputs=inputs,
    )
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    exp = client.get_experiment(run.info.experiment_id)
    assert exp.name == RECONCILE_EXPERIMENT
    store = Path(tracking_uri.removeprefix("sqlite:///")).parent
    assert exp.artifact_location == (store / "mlartifacts").as_uri()
    assert run.info.status == "FINISHED"

    p = run.data.params
    assert p["amount_tolerance"] == "50 or 5%" and p["date_window"] == "7"
    assert p["device"] == "cpu" and p["device_requested"] == "auto"
    assert p["bank_file"] == "bank.csv" and p["bank_rows"] == str(result.n_bank)
    assert p["bank_sha256"] == "ab" * 32 and p["ledger_file"] == "ledger.csv"

    m = run.data.metrics
    s = result.summary()
    for key in ("matched_pairs", "one_to_one", "batch_groups", "installment_groups",
                "unmatched_bank", "unmatched_ledger", "bank_rows", "ledger_rows"):
        assert m[key] == s[key], key
    assert m["rate"] == pytest.approx(result.rate, abs=1e-6)
    assert m["mean_confidence"] == pytest.approx(s["mean_confidence"])
    for stage, seconds in result.timings.items():
        assert m[f"seconds_{stage}"] == pytest.approx(seconds)
    assert m["seconds_total"] == pytest.approx(s["seconds"])
    assert m["candidate_pairs"] == result.params["candidate_pairs"]
    for reason, n in result.unmatched_bank["reason"].value_counts().items():
        assert m[f"open_bank_{reason.replace(' ', '_')}"] == n

    assert not any(k.startswith("dask") for k in (*p, *run.data.metrics))  # one machine
    t = run.data.tags
    assert DASK_DASHBOARD_TAG not in t
    assert t["nexus_lab.source"] == "test" and t["nexus_lab.kernel"] == "reconcile"
    assert t["nexus_lab.version"] == nx.__version__
    assert "bank.csv" in t["mlflow.note.content"]

    logged = sorted(a.path for a in client.list_artifacts(run_id))
    assert logged == sorted(OUTPUT_FILES)  # every output, and not the hidden marker
    local = client.download_artifacts(run_id, "summary.json", str(tmp_path / "dl"))
    assert Path(local).read_bytes() == (tmp_path / "outputs" / "summary.json").read_bytes()


def test_runs_share_the_experiment(result, tracking_uri, tmp_path):
    from mlflow import MlflowClient

    first = export_reconcile(result, tmp_path / "a", source="test")
    second = export_reconcile(result, tmp_path / "b", source="test")
    assert first.tracking_uri == tracking_uri and first.run_id != second.run_id
    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(RECONCILE_EXPERIMENT)
    runs = client.search_runs([exp.experiment_id])
    assert {r.info.run_id for r in runs} == {first.run_id, second.run_id}
    assert (tmp_path / "a" / "report.html").exists()


def test_unusable_store_is_a_clear_error_and_writes_nothing(result, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    uri = f"sqlite:///{blocker}/mlflow.db"
    with pytest.raises(NexusError, match=r"could not log the run to MLflow at sqlite:///.*--no-track"):
        export_reconcile(result, tmp_path / "out", tracking_uri=uri)
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_a_run_computed_on_dask_records_where_and_its_dashboard(on_dask, seed0, tracking_uri,
                                                                 tmp_path):
    from mlflow import MlflowClient

    done = export_reconcile(on_dask(seed0), tmp_path / "out", source="test")
    run = MlflowClient(tracking_uri=tracking_uri).get_run(done.run_id)
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert (p["dask_scheduler"], p["dask_workers"], p["dask_partitions"]) == (
        "tcp://127.0.0.1:40123", "2", "8")
    assert "dask" not in p and "dask_dashboard" not in p  # no dict dumped as one param
    assert not any(k.startswith("dask") for k in m)
    assert t[DASK_DASHBOARD_TAG] == "http://127.0.0.1:8787/status"
    assert p["device"] == "cpu" and m["rate"] == pytest.approx(seed0.rate, abs=1e-6)

    # a cluster without a dashboard: the facts, no tag
    params, _ = reconcile_run_data(on_dask(seed0, dashboard=None))
    assert params["dask_workers"] == "2" and "dask" not in params
    run_id = log_reconcile_run(on_dask(seed0, dashboard=None), source="test")
    assert DASK_DASHBOARD_TAG not in MlflowClient(tracking_uri=tracking_uri).get_run(
        run_id).data.tags


def test_passwords_in_the_dask_addresses_are_redacted(on_dask, seed0, tracking_uri, tmp_path):
    from mlflow import MlflowClient

    secret = on_dask(seed0, scheduler="tls://nexus:s3cret@sched.example:8786",
                      dashboard="https://dask.example/status?token=t0ken")
    done = export_reconcile(secret, tmp_path / "out", source="test")
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(done.run_id)
    assert run.data.params["dask_scheduler"] == "tls://nexus:***@sched.example:8786"
    assert run.data.tags[DASK_DASHBOARD_TAG] == "https://dask.example/status?token=%2A%2A%2A"
    logged = [*run.data.params.values(), *run.data.tags.values()]
    for path in ("summary.json", "report.html"):
        logged.append(Path(client.download_artifacts(done.run_id, path,
                                                     str(tmp_path / "dl"))).read_text())
    assert not any("s3cret" in v or "t0ken" in v for v in logged)


def test_a_dask_entry_of_another_shape_is_a_clear_error(on_dask, seed0, tracking_uri):
    odd = dataclasses.replace(seed0, params={**seed0.params, "dask": ["tcp://h:8786", 2]})
    with pytest.raises(NexusError, match=r"params\['dask'\] is a list, not a mapping: it "
                       r"must be the mapping nexus_lab.scale.reconcile keeps"):
        reconcile_run_data(odd)
    with pytest.raises(NexusError, match=r"params\['dask'\]\['partitions'\] is 8.5"):
        log_reconcile_run(on_dask(seed0, partitions=8.5))
