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
                 "writing interactions.csv", "8/8"):
        assert step in proc.stderr, proc.stderr
