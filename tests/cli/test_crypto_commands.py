"""`nexus-lab keys|seal|open|sign|verify|audit` on real files."""

from __future__ import annotations

import pytest

import nexus_lab as nx
from nexus_lab.cli import main


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """Two users' key files, made through the CLI."""
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "s3cret passphrase")
    for who in ("examiner", "judge"):
        assert main(["keys", "new", str(tmp_path / f"{who}.nxkey"), "--label", who]) == 0
    return tmp_path


def test_keys_new_and_show(keys, capsys):
    assert (keys / "examiner.nxkey").exists() and (keys / "examiner.nxpub").exists()
    pub = nx.crypto.PublicKey.load(keys / "examiner.nxpub")
    capsys.readouterr()
    assert main(["keys", "show", str(keys / "examiner.nxkey")]) == 0
    out = capsys.readouterr().out
    assert pub.fingerprint.hex() in out and "ML-DSA-65 + Ed25519" in out
    # never overwrites a key
    assert main(["keys", "new", str(keys / "examiner.nxkey")]) == 2
    assert "exists" in capsys.readouterr().err


def test_seal_open_round_trip_and_refusals(keys, capsys):
    doc = keys / "statement.csv"
    doc.write_bytes(b"date,amount\n2026-11-02,1200.00\n" * 5000)
    assert main(["seal", str(doc), "--to", str(keys / "examiner.nxpub"),
                 "--to", str(keys / "judge.nxpub")]) == 0
    sealed = keys / "statement.csv.nxs"
    assert sealed.exists() and b"2026-11-02" not in sealed.read_bytes()
    out = keys / "opened.csv"
    assert main(["open", str(sealed), "--key", str(keys / "judge.nxkey"), "--out", str(out)]) == 0
    assert out.read_bytes() == doc.read_bytes()
    # a flipped byte: FAILED, exit 1, nothing written
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x40
    (keys / "bad.nxs").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["open", str(keys / "bad.nxs"), "--key", str(keys / "judge.nxkey"),
                 "--out", str(keys / "bad.csv")]) == 1
    assert "FAILED" in capsys.readouterr().err and not (keys / "bad.csv").exists()
    # a key it was not sealed for
    nx.crypto.generate_keypair("outsider").save(keys / "outsider.nxkey",
                                                password="s3cret passphrase", cost=10)
    assert main(["open", str(sealed), "--key", str(keys / "outsider.nxkey"),
                 "--out", str(keys / "x.csv")]) == 2
    assert "not for" in capsys.readouterr().err


def test_sign_verify_and_tampering(keys, capsys):
    report = keys / "report.html"
    report.write_text("<h1>Findings</h1>")
    assert main(["sign", str(report), "--key", str(keys / "examiner.nxkey")]) == 0
    assert main(["verify", str(report), "--pub", str(keys / "examiner.nxpub")]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["verify", str(report), "--pub", str(keys / "judge.nxpub")]) == 1
    assert "made by key" in capsys.readouterr().err
    report.write_text("<h1>Findings (edited)</h1>")
    assert main(["verify", str(report), "--pub", str(keys / "examiner.nxpub")]) == 1
    assert "does not verify" in capsys.readouterr().err


def test_password_is_required_and_checked(keys, monkeypatch, capsys):
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "wrong")
    (keys / "a.txt").write_text("a")
    assert main(["sign", str(keys / "a.txt"), "--key", str(keys / "examiner.nxkey")]) == 1
    err = capsys.readouterr().err
    assert "wrong password" in err and "wrong" not in err.replace("wrong password", "")
    monkeypatch.delenv("NEXUS_LAB_KEY_PASSWORD")
    assert main(["sign", str(keys / "a.txt"), "--key", str(keys / "examiner.nxkey")]) == 2
    assert "NEXUS_LAB_KEY_PASSWORD" in capsys.readouterr().err


def test_audit_verify_and_show(tmp_path, capsys):
    kp = nx.crypto.generate_keypair("audit")
    kp.public.save(tmp_path / "audit.nxpub")
    with nx.crypto.AuditLog(tmp_path / "audit.db", signer=kp) as log:
        for i in range(5):
            log.append("alice", "evidence.added", f"case/C-1/evidence/{i}")
        log.checkpoint()
    with nx.crypto.AuditLog(tmp_path / "audit.db") as log:  # a writer without the key
        log.append("bob", "case.closed", "case/C-1")
    assert main(["audit", "verify", str(tmp_path / "audit.db"),
                 "--pub", str(tmp_path / "audit.nxpub")]) == 0
    out = capsys.readouterr().out
    assert "6 entries" in out and "1 entries after the last checkpoint" in out
    assert out.startswith("NOT PROVEN COMPLETE: audit log complete through entry 5")
    assert main(["audit", "show", str(tmp_path / "audit.db"), "--last", "2"]) == 0
    out = capsys.readouterr().out
    assert "case.closed" in out and "evidence/3" not in out
    import sqlite3

    db = sqlite3.connect(tmp_path / "audit.db")
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    db.commit()
    db.close()
    assert main(["audit", "verify", str(tmp_path / "audit.db")]) == 1
    assert "entry 2 was altered" in capsys.readouterr().err
    assert main(["audit", "verify", str(tmp_path / "missing.db")]) == 2


def test_case_commands_end_to_end(keys, capsys, monkeypatch):
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "examiner.kim")
    store, room = str(keys / "store"), str(keys / "examiner.nxkey")
    (keys / "invoice.txt").write_text("invoice 4471, 12,400.00")
    steps = [
        ["case", "init", store, "--key", room],
        ["case", "new", store, "--title", "Vendor kickbacks", "--number", "2026-FR-7",
         "--key", room],
        ["case", "add", store, "2026-FR-7", str(keys / "invoice.txt"), "--description",
         "seized invoice", "--to", str(keys / "judge.nxpub"), "--key", room],
        ["case", "transfer", store, "2026-FR-7", "E-0001", "--to", "prosecutor", "--reason",
         "charging decision", "--key", room],
        ["case", "status", store, "2026-FR-7", "under_investigation", "--key", room],
        ["case", "open", store, "2026-FR-7", "E-0001", "--purpose", "review", "--out",
         str(keys / "opened.txt"), "--key", room],
    ]
    for argv in steps:
        assert main(argv) == 0, (argv, capsys.readouterr().err)
    assert (keys / "opened.txt").read_text() == "invoice 4471, 12,400.00"
    capsys.readouterr()
    assert main(["case", "timeline", store, "2026-FR-7"]) == 0
    out = capsys.readouterr().out
    assert all(e in out for e in ("case opened", "intake", "transfer", "status changed",
                                  "access"))
    assert main(["case", "verify", store, "--pub", str(keys / "examiner.nxpub")]) == 0
    assert "case store intact: 1 cases, 1 evidence items, 3 custody events" in \
        capsys.readouterr().out
    # an invalid step in the lifecycle is an input error; a tampered seal a failed check
    assert main(["case", "status", store, "2026-FR-7", "open", "--key", room]) == 2
    sealed = next((keys / "store" / "evidence").rglob("E-0001.nxs"))
    data = bytearray(sealed.read_bytes())
    data[-5] ^= 1
    sealed.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["case", "verify", store]) == 1
    assert "E-0001" in capsys.readouterr().err


def test_a_public_key_where_the_key_file_is_needed(keys, capsys):
    doc = keys / "note.txt"
    doc.write_text("memo")
    pub = str(keys / "examiner.nxpub")
    assert main(["sign", str(doc), "--key", pub]) == 2
    err = capsys.readouterr().err
    assert "examiner.nxpub' is a public key; signing" in err and "(.nxkey)" in err
    assert main(["seal", str(doc), "--to", pub]) == 0
    assert main(["open", str(doc) + ".nxs", "--key", pub, "--out", str(keys / "o")]) == 2
    assert "is a public key" in capsys.readouterr().err
    assert not (keys / "o").exists()


def test_no_password_is_asked_for_a_public_key(keys, capsys, monkeypatch):
    # the file is looked at before any password: without one, the error is still the key's
    monkeypatch.delenv("NEXUS_LAB_KEY_PASSWORD", raising=False)
    doc = keys / "memo.txt"
    doc.write_text("memo")
    assert main(["sign", str(doc), "--key", str(keys / "examiner.nxpub")]) == 2
    err = capsys.readouterr().err
    assert "is a public key" in err and "a password is needed" not in err


def test_verify_never_writes_to_the_log(tmp_path, capsys):
    empty = tmp_path / "wiped.db"
    empty.write_bytes(b"")
    assert main(["audit", "verify", str(empty)]) == 2
    assert "is not a NEXUS audit log" in capsys.readouterr().err
    assert empty.read_bytes() == b""  # no schema written into the evidence
