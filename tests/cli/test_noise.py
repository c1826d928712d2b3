"""What a user sees on the terminal: progress on long work, no library noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_sample_data_shows_its_progress_on_stderr(tmp_path):
    proc = cli("data", "sample", "--n", "400", "--out", tmp_path / "sample", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("wrote ")  # stdout stays the one-line result
    for step in ("bank statement and ledger (400 bank rows)", "transactions (",
                 "writing interactions.csv", "writing gl.csv", "11/11"):
        assert step in proc.stderr, proc.stderr


def test_mlflow_warnings_go_to_the_log_not_the_terminal(tmp_path, tracking_uri):
    import nexus_lab as nx

    data = tmp_path / "interactions.csv"
    nx.data.synth_interactions(60, 30, seed=1).to_csv(data, index=False)
    proc = cli("recommend", "train", data, "--model", "popularity", "--device", "cpu",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "registered: nexus-recommender version 1" in proc.stdout
    for noise in ("\x1b[", "UserWarning", "Successfully registered", "mlflow"):
        assert noise not in proc.stderr, proc.stderr
    # asked for (-v), they are in the log, without colour codes
    proc = cli("-v", "recommend", "train", data, "--model", "popularity", "--device", "cpu",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "nexus_lab.mlflow" in proc.stderr and "\x1b[" not in proc.stderr
    # and a mistake is still said plainly
    proc = cli("recommend", "serve", "--users", "1", "--model", "models:/nope@champion",
               cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: could not load")
