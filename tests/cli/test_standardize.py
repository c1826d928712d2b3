"""``nexus-lab standardize`` as a user runs it: a real process on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nexus_lab as nx

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def test_standardize_prints_score_and_changes_and_writes(tmp_path):
    _, ledger, _ = nx.datasets.synth_reconciliation(120, seed=6)
    ledger["amount"] = ledger["amount"].astype(object)
    ledger.loc[0, "amount"] = "€1.234,50"  # a decimal comma and a currency sign
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {column: amount, check: greater_than, min_value: 0}\n"
                     "- {column: category, check: consistent_by, by: vendor}\n")
    done = cli("standardize", "ledger.csv", "--kind", "ledger", "--rules", rules,
               "--currency", "USD", "--device", "cpu", "--out", "std", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    n = len(ledger)
    assert lines[0].startswith(f"Standardized ledger.csv ({n} ledger rows): quality ")
    assert ", amount 1," in lines[2]  # the one amount written with a sign and a comma
    assert f"currency {n}," in lines[2]  # EUR from the sign, USD for the others
    assert (tmp_path / "std" / "quality.html").exists()


def test_bad_rules_exit_2_and_write_nothing(tmp_path):
    bank, _, _ = nx.datasets.synth_reconciliation(60, seed=1)
    bank.to_csv(tmp_path / "bank.csv", index=False)
    (tmp_path / "rules.yaml").write_text("- {column: amt, check: not_null}\n")
    done = cli("standardize", "bank.csv", "--rules", "rules.yaml", "--device", "cpu",
               "--out", "std", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: rules.yaml rule 1 (line 1): the table has no "
                                  "column 'amt'")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "std").exists()
    done = cli("standardize", "bank.csv", "--columns", "amount=Amt", cwd=tmp_path)
    assert done.returncode == 2
    assert "--columns amount=amount" in done.stderr
