"""``nexus-lab reconcile`` on bank statement files (OFX, camt.053, MT940), as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "bankfiles"
FIX = ROOT / "tests" / "fixtures" / "bankfiles"
SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def _rate(out: Path) -> float:
    return json.loads((out / "summary.json").read_text())["summary"]["rate"]


def test_reconcile_takes_statement_files_with_no_new_flag(tmp_path):
    csv = cli("reconcile", SAMPLES / "bank.csv", SAMPLES / "ledger.csv", "--out",
              tmp_path / "csv", "--no-track", "--device", "cpu", cwd=tmp_path)
    assert csv.returncode == 0, csv.stderr
    for name in ("statement.ofx", "statement.xml", "statement.sta"):
        out = tmp_path / name.replace(".", "_")
        proc = cli("reconcile", SAMPLES / name, SAMPLES / "ledger.csv", "--out", out,
                   "--no-track", "--device", "cpu", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert f"Reconciled {name} (48 rows)" in proc.stdout
        assert _rate(out) == pytest.approx(_rate(tmp_path / "csv"), abs=0.02)


@pytest.mark.parametrize(("file", "says"), [
    ("camt053_missing_entry.xml", "the balances do not add up"),
    ("mt940_cut.sta", "no closing balance"),
    ("billion_laughs.xml", "refused"),
    ("not_a_statement.xml", "not an ISO 20022 camt.053"),
])
def test_a_bad_statement_exits_2_with_one_line(tmp_path, file, says):
    proc = cli("reconcile", FIX / file, SAMPLES / "ledger.csv", "--out", tmp_path / "out",
               "--no-track", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and file in lines[0]
    assert not (tmp_path / "out").exists()
