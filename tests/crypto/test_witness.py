"""Witnesses: a rollback of the log's tail is caught where a witness holds a head."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import nexus_lab as nx
from nexus_lab.cli import main
from nexus_lab.crypto._merkle import MerkleTree, _Frontier, leaf_hash
from nexus_lab.errors import IntegrityError

crypto = nx.crypto


@pytest.fixture(scope="module")
def kp():
    return crypto.generate_keypair("audit service")


def _log(path: Path, kp, n: int = 6, **kw) -> Path:
    with crypto.AuditLog(path, signer=kp, **kw) as log:
        for i in range(n):
            log.append("alice", "evidence.added", f"case/C-1/evidence/{i}", {"i": i})
    return path


def _roll_back(path: Path, keep: int) -> None:
    """What someone with write access to the file does: drop the newest entries and
    every checkpoint that signed them (the rest still chains and verifies)."""
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
    db.execute("DELETE FROM audit_checkpoint WHERE upto > ?", (keep,))
    db.commit()
    db.close()


def test_running_root_equals_the_tree():
    f, records = _Frontier(), []
    for n in range(1, 600):
        records.append(n.to_bytes(4, "big"))
        f.add_leaf(leaf_hash(records[-1]))
        assert f.root == MerkleTree(records).root, n


def test_each_entry_is_checkpointed_and_witnessed_beside_the_log(kp, tmp_path):
    path = _log(tmp_path / "audit.db", kp)
    log = crypto.AuditLog(path)
    assert log.witnesses == [str(tmp_path / "audit.db.witness")]
    report = log.verify(kp.public)
    assert (report.checkpoints, report.signed_upto, report.witnessed_upto) == (6, 6, 6)
    assert report.complete and str(report).startswith("audit log intact: 6 entries")
    assert len((tmp_path / "audit.db.witness").read_text().splitlines()) == 6


def test_rollback_of_the_tail_is_caught_by_the_witness(kp, tmp_path):
    path = _log(tmp_path / "audit.db", kp)
    _roll_back(path, 4)
    with pytest.raises(IntegrityError, match=r"entries 5\.\.6 were removed: witness .*"
                       r"audit.db.witness \(line 6\) holds the head of entry 6") as info:
        crypto.AuditLog(path).verify(kp.public)
    assert info.value.entry == 5


def test_rollback_without_a_witness_is_reported_as_unprovable(kp, tmp_path):
    path = _log(tmp_path / "audit.db", kp)
    _roll_back(path, 4)
    (tmp_path / "audit.db.witness").unlink()
    report = crypto.AuditLog(path).verify(kp.public)
    assert not report.complete and report.witnessed_upto == 0
    assert report.unreachable == [str(tmp_path / "audit.db.witness")]
    assert "intact:" not in str(report)
    assert (f"intact up to entry 4 signed at {report.signed_at}; no witness was reachable: "
            "anything after the last witnessed head could have been removed") in str(report)


def test_a_named_witness_folder_is_remembered_and_catches_what_the_sibling_misses(
        kp, tmp_path):
    elsewhere = tmp_path / "share"
    elsewhere.mkdir()
    path = _log(tmp_path / "log" / "audit.db", kp, witnesses=[elsewhere])
    files = list(elsewhere.iterdir())
    assert len(files) == 1 and files[0].name.startswith("audit-")
    _roll_back(path, 3)
    (tmp_path / "log" / "audit.db.witness").unlink()  # the rewriter removes this one too
    with pytest.raises(IntegrityError, match=r"entries 4\.\.6 were removed: witness .*share"):
        crypto.AuditLog(path).verify()
    # a witness given at verify time only, for a log that does not remember it
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit_witness")
    db.commit()
    db.close()
    assert not crypto.AuditLog(path).verify().complete
    with pytest.raises(IntegrityError, match="were removed"):
        crypto.AuditLog(path).verify(witnesses=[elsewhere])


def test_a_rewritten_tail_is_caught(kp, tmp_path):
    """Entries removed and new ones appended and signed with the key: same length."""
    path = _log(tmp_path / "audit.db", kp)
    _roll_back(path, 4)
    with crypto.AuditLog(path, signer=kp) as log:
        for i in range(2):
            log.append("mallory", "evidence.added", f"case/C-1/evidence/x{i}")
    with pytest.raises(IntegrityError, match=r"the log up to entry 6 differs from what "
                                             r"witness .*audit.db.witness \(line 6\)"):
        crypto.AuditLog(path).verify()


def test_a_log_written_before_witnesses_still_verifies(kp, tmp_path):
    path = _log(tmp_path / "audit.db", kp)
    (tmp_path / "audit.db.witness").unlink()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE audit_witness")
    db.commit()
    db.close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    report = crypto.AuditLog(ro).verify(kp.public)
    assert (report.entries, report.signed_upto, report.complete) == (6, 6, False)
    # written to again, it starts publishing: the next head covers everything
    with crypto.AuditLog(path, signer=kp) as log:
        log.append("alice", "case.closed", "case/C-1")
        assert log.verify().complete


def test_cli_says_what_was_proven(kp, tmp_path, capsys):
    path = _log(tmp_path / "audit.db", kp)
    assert main(["audit", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("OK: audit log intact: 6 entries")
    _roll_back(path, 4)
    assert main(["audit", "verify", str(path)]) == 1
    assert "entries 5..6 were removed" in capsys.readouterr().err
    (tmp_path / "audit.db.witness").unlink()
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" not in out and "NOT PROVEN COMPLETE: audit log intact up to entry 4" in out
    assert main(["audit", "verify", str(path), "--require-witness"]) == 1


def test_an_emptied_or_replaced_log_is_not_proven(tmp_path):
    from nexus_lab.crypto import AuditLog, generate_keypair

    kp = generate_keypair("examiner")
    path = tmp_path / "log.db"
    (tmp_path / "ev").mkdir()  # a folder of witness files, one per log (named by entry 1)
    log = AuditLog(path, signer=kp, witnesses=[tmp_path / "ev", tmp_path / "one.witness"])
    for i in range(3):
        log.append("alice", "approved", f"period/{i}", {})
    log.close()
    # everything removed, the witness beside it too: nothing is proven
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit_log")
        db.execute("DELETE FROM audit_checkpoint")
        db.execute("DELETE FROM audit_witness")
    (tmp_path / "log.db.witness").unlink()
    report = AuditLog(path).verify(kp.public, witnesses=[tmp_path / "ev"])
    assert not report.complete and "could all have been removed" in report.proven
    with pytest.raises(IntegrityError, match=r"entries 1\.\.3 were removed"):
        AuditLog(path).verify(kp.public, witnesses=[tmp_path / "one.witness"])
    # a log written anew without the key: the key pinned finds no checkpoint of its own
    path.unlink()
    forged = AuditLog(path)
    forged.append("mallory", "approved", "period/0", {})
    with pytest.raises(IntegrityError, match="no checkpoint of this log is signed by"):
        forged.verify(kp.public)
