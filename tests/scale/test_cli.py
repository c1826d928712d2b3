"""``nexus-lab fraud score --scheduler``: the same scores on a local Dask cluster, kept in
a store through its bulk path with where they were computed, and a scheduler that
answers nothing named in a clear error."""

from __future__ import annotations

import shutil
import socket

import pandas as pd
import pytest

import nexus_lab as nx
from tests.cli.test_store_lookup import cli


def test_fraud_score_on_a_local_cluster_writes_the_same_scores(tmp_path, _mlflow_template):
    checkout, home = tmp_path / "lab", tmp_path / "home"
    (checkout / "experiments").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    shutil.copy(_mlflow_template, checkout / "experiments" / "mlflow.db")
    data = checkout / "tx.csv"
    nx.data.synth_transactions(1_500, seed=3).drop(columns=["pattern"]).to_csv(data, index=False)
    proc = cli("fraud", "train", data, "--labels", "is_fraud", "--device", "cpu",
               cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr

    proc = cli("fraud", "score", data, "--out", "one", cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr
    books = checkout / "books.db"
    proc = cli("fraud", "score", data, "--out", "dask", "--scheduler", "local", "--workers",
               "2", "--store", f"sqlite:///{books}", cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr
    assert "On Dask: http" in proc.stdout  # the dashboard's link, while it runs
    one = pd.read_parquet(checkout / "one" / "scored.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(checkout / "dask" / "scored.parquet"), one)
    # kept in the store: every row with its score, flagged rows open for review, and
    # where the scores were computed
    store = nx.store.connect(f"sqlite:///{books}")
    run = store.read("fraud_runs").iloc[0]
    assert f"as fraud run {run['run_id']}" in proc.stdout
    assert run["params"]["dask"]["workers"] == 2
    assert run["params"]["dask"]["dashboard"].startswith("http")
    kept = store.read("fraud_scores").set_index("transaction_id").loc[
        one["transaction_id"].astype(str)]
    assert kept["risk_score"].to_numpy() == pytest.approx(one["risk_score"].to_numpy())
    flagged = (one["risk_score"] >= 50).to_numpy() | one["flags"].map(len).gt(0).to_numpy()
    assert (kept["review_state"].eq("open").to_numpy() == flagged).all() and flagged.any()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    proc = cli("fraud", "score", data, "--out", "away", "--scheduler", address,
               cwd=checkout, home=home)
    assert proc.returncode == 2
    assert f"cannot reach the Dask scheduler at {address}" in proc.stderr
    assert "Traceback" not in proc.stderr and not (checkout / "away").exists()


def test_reconcile_on_a_local_cluster_writes_and_keeps_the_same_result(tmp_path,
                                                                        _mlflow_template):
    checkout, home = tmp_path / "lab", tmp_path / "home"
    (checkout / "experiments").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    shutil.copy(_mlflow_template, checkout / "experiments" / "mlflow.db")
    bank, ledger, _ = nx.datasets.synth_reconciliation(2_000, seed=6, profile="payables")
    bank.to_csv(checkout / "bank.csv", index=False)
    ledger.to_csv(checkout / "ledger.csv", index=False)
    proc = cli("reconcile", "bank.csv", "ledger.csv", "--out", "one", "--device", "cpu",
               cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr
    books = checkout / "books.db"
    proc = cli("reconcile", "bank.csv", "ledger.csv", "--out", "dask", "--device", "cpu",
               "--scheduler", "local", "--workers", "2", "--store", f"sqlite:///{books}",
               cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr
    assert "On Dask: http" in proc.stdout and "on cpu (Dask: 2 workers," in proc.stdout
    assert "INFO distributed" not in proc.stderr  # Dask's own chatter only with --verbose
    for name in ("matches.csv", "unmatched_bank.csv", "unmatched_ledger.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(checkout / "dask" / name),
                                      pd.read_csv(checkout / "one" / name))
    # kept in the store (its bulk path), with where it ran
    store = nx.store.connect(f"sqlite:///{books}")
    run = store.read("reconciliation_runs").iloc[0]
    assert f"as run {run['run_id']}" in proc.stdout
    assert run["params"]["dask"]["workers"] == 2
    assert run["params"]["dask"]["partitions"] >= 4
    kept = store.read("reconciliation_matches")
    assert len(kept) == len(pd.read_csv(checkout / "one" / "matches.csv")) > 1_000
    # its MLflow run carries the dashboard's link, which the JupyterLab sidebar shows
    from mlflow import MlflowClient

    from nexus_lab.tracking import DASK_DASHBOARD_TAG

    mlflow = MlflowClient(f"sqlite:///{(checkout / 'experiments' / 'mlflow.db').as_posix()}")
    runs = mlflow.search_runs([mlflow.get_experiment_by_name("nexus-reconcile").experiment_id])
    on_dask = [r for r in runs if r.data.params.get("dask_workers") == "2"]
    assert len(runs) == 2 and len(on_dask) == 1
    assert on_dask[0].data.tags[DASK_DASHBOARD_TAG].startswith("http://")
    assert run["mlflow_run_id"] == on_dask[0].info.run_id

    proc = cli("reconcile", "bank.csv", "ledger.csv", "--out", "none", "--workers", "0",
               cwd=checkout, home=home)
    assert proc.returncode == 2 and "at least 1 worker" in proc.stderr
    assert not (checkout / "none").exists()
