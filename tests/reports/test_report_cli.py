"""``nexus-lab report`` as a user runs it: a signed report that ``nexus-lab verify``
checks, a refusal with status 77, a bad period with status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nexus_lab as nx

SCRIPT = Path(sys.executable).with_name("nexus-lab")


def _cli(*args, actor: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nexus_lab.cli"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NEXUS_LAB_ACTOR": actor, **env}, timeout=300)


def test_report_signs_verifies_and_refuses(books, tmp_path):
    store = books["store"].where
    password = {"NEXUS_LAB_KEY_PASSWORD": "report cli password"}
    done = _cli("keys", "new", "signer.nxkey", "--label", "reports desk", actor="ana",
                cwd=tmp_path, **password)
    assert done.returncode == 0, done.stderr
    done = _cli("report", "reconciliation", "--role", "examiner", "--period", "2025-11",
                "--format", "pdf", "--out", "signed", "--store", store, "--key",
                "signer.nxkey", actor="ana", cwd=tmp_path, **password)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote ") and "signed by reports desk" in done.stdout
    pdf = next((tmp_path / "signed").glob("reconciliation-examiner-2025-11-*.pdf"))
    pub = next((tmp_path / "signed").glob("*.nxpub"))
    assert f"nexus-lab verify {pdf} --sig {pdf}.sig --pub {pub}" in done.stdout
    assert pub.read_bytes() == (tmp_path / "signer.nxpub").read_bytes()
    ok = _cli("verify", pdf, "--sig", f"{pdf}.sig", "--pub", pub, actor="ana", cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stderr
    data = bytearray(pdf.read_bytes())
    data[100] ^= 0x20
    pdf.write_bytes(bytes(data))
    bad = _cli("verify", pdf, "--sig", f"{pdf}.sig", "--pub", pub, actor="ana", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("FAILED:")

    refused = _cli("report", "fraud", "--role", "examiner", "--out", "signed", "--store",
                   store, "--key", "signer.nxkey", actor="pat", cwd=tmp_path, **password)
    assert refused.returncode == 77, refused.stderr
    assert refused.stderr.startswith("refused: pat (prosecutor) may not read reports as "
                                     "examiner")
    wrong = _cli("report", "fraud", "--role", "examiner", "--period", "last month", "--store",
                 store, "--key", "signer.nxkey", actor="ana", cwd=tmp_path, **password)
    assert wrong.returncode == 2 and "accepted forms" in wrong.stderr
    assert len(list((tmp_path / "signed").iterdir())) == 3  # the pdf, its .sig, the .nxpub


def test_without_a_key_the_workbench_key_signs_into_the_reports_folder(tmp_path):
    s = nx.store.connect(tmp_path / "solo.db")
    s.migrate()
    env = {"NEXUS_LAB_KEY_PASSWORD": "workbench password",
           "NEXUS_LAB_SIGNING_KEY": str(tmp_path / "keys" / "workbench.nxkey"),
           "NEXUS_LAB_REPORTS": str(tmp_path / "reports")}
    done = _cli("report", "audit_trail", "--role", "auditor", "--format", "xlsx", "--store",
                tmp_path / "solo.db", actor="solo", cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    made = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(made) == 3 and made[1].startswith("audit_trail-auditor-all-")
    assert (tmp_path / "keys" / "workbench.nxkey").is_file()
    assert nx.store.connect(tmp_path / "solo.db").read("reports")["kind"].tolist() == [
        "audit_trail"]
