"""The audit log: chained, checkpointed, and every tampering named; services record to it."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nexus_lab as nx
from nexus_lab import audit, review
from nexus_lab.canonical import canonical_json
from nexus_lab.errors import IntegrityError, NexusError

crypto = nx.crypto


@pytest.fixture(scope="module")
def kp():
    return crypto.generate_keypair("audit service")


@pytest.fixture(scope="module")
def written(kp, tmp_path_factory):
    """A closed log of 10 entries with checkpoints at 4 and 8, and 10 (on closing)."""
    path = tmp_path_factory.mktemp("audit") / "audit.db"
    with crypto.AuditLog(path, signer=kp, checkpoint_every=4) as log:
        for i in range(10):
            log.append(f"user{i % 3}", "evidence.added", f"case/C-1/evidence/{i}",
                       {"sha256": f"{i:064x}", "bytes": 1000 + i})
    return path


def _tampered(src, tmp_path, *sql):
    dst = tmp_path / "tampered.db"
    shutil.copy(src, dst)
    db = sqlite3.connect(dst)
    for q in sql:
        db.execute(q)
    db.commit()
    db.close()
    return crypto.AuditLog(dst)


def test_intact_log_verifies_and_proves(written, kp):
    log = crypto.AuditLog(written)
    report = log.verify(kp.public)
    assert (report.entries, report.checkpoints, report.signed_upto, report.unsigned_tail) == \
        (10, 3, 10, 0)
    assert report.signers == [kp.public.fingerprint_hex]
    assert "10 entries, 3 signed checkpoints" in report._repr_html_()
    assert "10 entries, 3 signed checkpoints, 0 anchored" in log._repr_html_()
    assert "case/C-1/evidence/9" in log._repr_html_()
    entries = log.entries()
    assert entries["seq"].tolist() == list(range(1, 11))
    assert entries["details"][3] == {"sha256": f"{3:064x}", "bytes": 1003}
    p = log.prove(6)
    assert p["upto"] == 10 and crypto.verify_proof(p["record"], p["proof"], p["root"],
                                                          p["upto"])
    with pytest.raises(NexusError, match="not covered"):
        log.prove(11)


@pytest.mark.parametrize(("sql", "entry", "message"), [
    (["UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"], 3, "entry 3 was altered"),
    (["UPDATE audit_log SET details = '{\"bytes\":1}' WHERE seq = 7"], 7, "entry 7 was altered"),
    (["UPDATE audit_log SET details = 'not json' WHERE seq = 2"], 2, "not valid JSON"),
    (["DELETE FROM audit_log WHERE seq = 5"], 5, "entry 5 was removed"),
    (["DELETE FROM audit_log WHERE seq = 5", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 5"],
     5, "an entry before entry 5 was removed"),
    (["UPDATE audit_log SET seq = -6 WHERE seq = 6", "UPDATE audit_log SET seq = 6 WHERE seq = 7",
      "UPDATE audit_log SET seq = 7 WHERE seq = -6"], 6, "entry 6 is out of order"),
    (["DELETE FROM audit_log WHERE seq >= 8"], 8, "entries from 8 on were removed"),
])
def test_tampering_names_the_first_bad_entry(written, kp, tmp_path, sql, entry, message):
    log = _tampered(written, tmp_path, *sql)
    with pytest.raises(IntegrityError, match=message) as info:
        log.verify(kp.public)
    assert info.value.entry == entry


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(written, kp, tmp_path):
    """An attacker who edits entry 6 and recomputes every hash after it, following the
    format in the module docstring."""

    def entry_hash(prev: bytes, *fields) -> bytes:
        return hashlib.sha256(b"NEXUS-Lab audit v1\x00" + prev + canonical_json(list(fields))
                              ).digest()

    dst = tmp_path / "rewritten.db"
    shutil.copy(written, dst)
    db = sqlite3.connect(dst)
    db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 6")
    prev = db.execute("SELECT entry_hash FROM audit_log WHERE seq = 5").fetchone()[0]
    rows = db.execute("SELECT seq, created_at, actor, action, resource, details FROM audit_log "
                      "WHERE seq >= 6 ORDER BY seq").fetchall()
    for seq, created, actor, action, resource, details in rows:
        h = entry_hash(prev, created, actor, action, resource, json.loads(details))
        db.execute("UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
                   (prev, h, seq))
        prev = h
    db.commit()
    db.close()
    with pytest.raises(IntegrityError, match=r"entries 5\.\.8 differ from what checkpoint 8"):
        crypto.AuditLog(dst).verify(kp.public)


def test_checkpoint_tampering_and_foreign_signers(written, kp, tmp_path):
    log = _tampered(written, tmp_path, "UPDATE audit_checkpoint SET root = zeroblob(32) "
                    "WHERE upto = 10")
    with pytest.raises(IntegrityError, match="checkpoint 10's Merkle root"):
        log.verify(kp.public)
    log = _tampered(written, tmp_path, "UPDATE audit_checkpoint SET signature = "
                    "substr(signature, 1, 100) || x'00' || substr(signature, 102) WHERE upto = 4")
    with pytest.raises(IntegrityError, match="checkpoint 4"):
        log.verify(kp.public)
    stranger = crypto.generate_keypair("stranger")
    with pytest.raises(IntegrityError, match="not by the expected key"):
        crypto.AuditLog(written).verify(stranger.public)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_in_an_entry_fails(written, kp, tmp_path, data):
    """A random entry, a random field, a random byte of it changed: verify fails."""
    seq = data.draw(st.integers(1, 10))
    col = data.draw(st.sampled_from(["actor", "action", "resource", "details", "created_at",
                                     "prev_hash", "entry_hash"]))
    db = sqlite3.connect(written)
    value = db.execute(f"SELECT CAST({col} AS BLOB) FROM audit_log WHERE seq = ?",
                       (seq,)).fetchone()[0]
    db.close()
    pos = data.draw(st.integers(0, len(value) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != value[pos]))
    changed = bytearray(value)
    changed[pos] = new
    changed = bytes(changed)
    if col not in ("prev_hash", "entry_hash"):
        try:
            changed = changed.decode()
        except UnicodeDecodeError:
            pass  # stored as a blob: still a change
    dst = tmp_path / "tampered.db"
    shutil.copy(written, dst)
    con = sqlite3.connect(dst, isolation_level=None)
    con.execute(f"UPDATE audit_log SET {col} = ? WHERE seq = ?", (changed, seq))
    log = crypto.AuditLog(con)
    with pytest.raises(IntegrityError):
        log.verify(kp.public)
    log.close()


def test_backup_is_a_consistent_copy_that_verifies(kp, tmp_path):
    with crypto.AuditLog(tmp_path / "live.db", signer=kp, checkpoint_every=2) as log:
        for i in range(5):
            log.append("alice", "evidence.added", f"case/C-1/evidence/{i}", {"n": i})
        (tmp_path / "copies").mkdir()
        (tmp_path / "copies" / "audit.db").write_bytes(b"an older copy")
        copy = log.backup(tmp_path / "copies" / "audit.db")  # replaces the older copy
        log.append("bob", "late.entry", "case/C-1")  # after the backup: not in the copy
    assert copy == tmp_path / "copies" / "audit.db"
    # no temporary file left; the witness comes along, up to the copy's last entry
    assert sorted(p.name for p in copy.parent.iterdir()) == ["audit.db", "audit.db.witness"]
    with crypto.AuditLog(copy) as again:
        report = again.verify(kp.public)
        assert (report.entries, report.signed_upto) == (5, 4)
        assert report.witnessed_upto == 4 and str(copy) + ".witness" in report.witnesses[0]
        assert again.entries()["resource"].tolist() == [f"case/C-1/evidence/{i}"
                                                        for i in range(5)]


def test_append_checks_its_input(tmp_path):
    log = crypto.AuditLog(tmp_path / "a.db")
    with pytest.raises(NexusError, match="actor must be a non-empty string"):
        log.append("", "x.y", "r")
    with pytest.raises(NexusError, match="JSON-serializable"):
        log.append("a", "x.y", "r", {"when": object()})
    assert len(log) == 0  # nothing half-written
    with pytest.raises(NexusError, match="no signer"):
        log.checkpoint()
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(NexusError, match="not a NEXUS audit log"):
        crypto.AuditLog(tmp_path / "junk.db")


def test_anchored_checkpoint_verifies_on_chain(kp, tmp_path):
    log = crypto.AuditLog(tmp_path / "a.db", signer=kp)
    log.append("alice", "reconciliation.approved", "period/2026-11", {"rate": 0.97})
    receipt = log.anchor()
    assert log.checkpoints()[-1]["anchor"]["tx_hash"] == receipt.tx_hash
    report = log.verify(anchors=True)
    assert report.anchored == 1


# ----------------------------------------------------------------------------- services


def test_services_record_their_actions(tmp_path, monkeypatch):
    bank, ledger, _ = nx.data.synth_reconciliation(300, seed=1)
    res = nx.reconcile(bank, ledger)
    tx = nx.data.synth_transactions(600, seed=3)
    scored = nx.fraud.FraudDetector(random_state=0).fit(tx).score(tx)
    flagged = scored.loc[scored["flags"].map(len) > 0, "transaction_id"].iloc[0]
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "examiner.kim")
    log = crypto.AuditLog(tmp_path / "audit.db")
    with audit.using(log):
        approval = review.approve_reconciliation(res, note="November close")
        cleared = review.clear_fraud_flag(scored, flagged, reason="invoice on file")
    e = log.entries()
    assert e["action"].tolist() == ["reconciliation.approved", "fraud.flag_cleared"]
    assert set(e["actor"]) == {"examiner.kim"}
    assert e["details"][0]["summary"]["matched_pairs"] == len(res.matches)
    assert approval["audit_entry"] == 1 and len(approval["matches_sha256"]) == 64
    row = cleared.loc[cleared["transaction_id"] == flagged].iloc[0]
    assert len(row["flags"]) == 0 and row["cleared_reason"] == "invoice on file"
    assert e["details"][1]["flags"] == [str(f) for f in
                                       scored.loc[scored["transaction_id"] == flagged,
                                                  "flags"].iloc[0]]
    # other rows are untouched
    others = cleared["transaction_id"] != flagged
    pd.testing.assert_series_equal(cleared.loc[others, "risk_score"],
                                   pd.DataFrame(scored).loc[others, "risk_score"])
    with pytest.raises(NexusError, match="reason"):
        review.clear_fraud_flag(scored, flagged, reason=" ")
    with pytest.raises(NexusError, match="not in the scored table"):
        review.clear_fraud_flag(scored, "no such id", reason="x")


def test_audit_service_from_the_environment(kp, tmp_path, monkeypatch):
    kp.save(tmp_path / "svc.nxkey", password="pw", cost=10)
    monkeypatch.setenv("NEXUS_LAB_AUDIT_LOG", str(tmp_path / "env.db"))
    monkeypatch.setenv("NEXUS_LAB_AUDIT_KEY", str(tmp_path / "svc.nxkey"))
    monkeypatch.setenv("NEXUS_LAB_AUDIT_PASSWORD", "pw")
    entry = audit.record("case.opened", "case/C-9", {"title": "Vendor kickbacks"},
                         actor="prosecutor")
    assert entry is not None and entry.seq == 1
    log = audit.current()
    assert log.signer.public == kp.public
    log.checkpoint()
    assert log.verify().signed_upto == 1
    monkeypatch.delenv("NEXUS_LAB_AUDIT_LOG")
    assert audit.record("case.opened", "case/C-10") is None  # nowhere to record
