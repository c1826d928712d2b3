"""The MLflow store a command uses does not depend on the folder it runs from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

import nexus_lab as nx

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_score_from_another_folder_finds_the_model_trained_in_the_checkout(
        tmp_path, _mlflow_template):
    checkout, home = tmp_path / "lab", tmp_path / "home"
    (checkout / "experiments").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    shutil.copy(_mlflow_template, checkout / "experiments" / "mlflow.db")  # tables made once
    data = checkout / "tx.csv"
    nx.data.synth_transactions(1_500, seed=2).drop(columns=["pattern"]).to_csv(data, index=False)
    store = (checkout / "experiments" / "mlflow.db").as_posix()

    proc = cli("fraud", "train", data, "--labels", "is_fraud", "--device", "cpu",
               cwd=checkout, home=home)
    assert proc.returncode == 0, proc.stderr
    assert store in proc.stdout

    elsewhere = checkout / "cases" / "2026"
    elsewhere.mkdir(parents=True)
    proc = cli("fraud", "score", data, "--out", "scored", cwd=elsewhere, home=home)
    assert proc.returncode == 0, proc.stderr
    assert f"from sqlite:///{store}" in proc.stdout  # it says where the model came from
    assert (elsewhere / "scored" / "report.html").exists()
    scored = pd.read_csv(elsewhere / "scored" / "scored.csv")
    assert {"date", "amount", "vendor", "account", "risk_score", "reasons"} <= set(scored)
    assert not (elsewhere / "experiments").exists()

    # outside any checkout: the user's data folder, never ./experiments/
    outside = tmp_path / "desk"
    outside.mkdir()
    proc = cli("fraud", "score", data, "--out", "scored", cwd=outside, home=home)
    assert proc.returncode == 2
    assert (home / "data" / "nexus-lab").as_posix() in proc.stderr
    assert not (outside / "experiments").exists() and not (outside / "scored").exists()
