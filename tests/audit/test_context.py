"""The current audit log and actor are per context: two users of one server never mix."""

from __future__ import annotations

import threading

import pytest

import nexus_lab as nx
from nexus_lab import audit


def test_two_threads_act_as_two_users_without_leaking(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXUS_LAB_AUDIT_LOG", raising=False)
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "server")
    logs = {who: nx.crypto.AuditLog(tmp_path / f"{who}.db") for who in ("alice", "bob")}
    both_inside = threading.Barrier(2, timeout=30)
    seen: dict[str, object] = {}
    errors: list[BaseException] = []

    def work(who: str) -> None:
        try:
            with audit.using(logs[who]), audit.acting_as(who):
                both_inside.wait()  # both users are inside their blocks at the same time
                for i in range(20):
                    audit.record("case.opened", f"case/{who}-{i}", {"n": i})
                seen[who] = (audit.current(), audit.actor())
                both_inside.wait()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(who,)) for who in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    for who, log in logs.items():
        entries = log.entries()
        assert len(entries) == 20
        assert set(entries["actor"]) == {who}
        assert all(r.startswith(f"case/{who}-") for r in entries["resource"])
        assert seen[who] == (log, who)
    # nothing leaked into the main thread's context
    assert audit.current() is None
    assert audit.actor() == "server"


def test_use_in_a_thread_stays_in_that_thread(tmp_path, monkeypatch):
    monkeypatch.delenv("NEXUS_LAB_AUDIT_LOG", raising=False)
    log = nx.crypto.AuditLog(tmp_path / "a.db")
    inside: list[object] = []
    t = threading.Thread(target=lambda: (audit.use(log), inside.append(audit.current())))
    t.start()
    t.join(timeout=30)
    assert inside == [log]
    assert audit.current() is None
    assert audit.record("x", "y") is None  # no log configured here: nothing recorded


def test_environment_log_is_the_default_of_every_context(tmp_path, monkeypatch):
    path = tmp_path / "env.db"
    monkeypatch.setenv("NEXUS_LAB_AUDIT_LOG", str(path))
    entry = audit.record("model.promoted", "models:/m/1", actor="ds")
    assert entry is not None and entry.actor == "ds"
    mine = nx.crypto.AuditLog(tmp_path / "mine.db")
    with audit.using(mine):
        assert audit.current() is mine
    assert audit.current().path == path


def test_acting_as_refuses_an_empty_name():
    with pytest.raises(ValueError, match="non-empty"), audit.acting_as("  "):
        pass


def test_one_shared_log_takes_many_threads(tmp_path, monkeypatch):
    """The log NEXUS_LAB_AUDIT_LOG names is one object for the whole server: concurrent
    users' records all land, chained in one order, and the chain verifies."""
    kp = nx.crypto.generate_keypair("server")
    monkeypatch.setenv("NEXUS_LAB_AUDIT_LOG", str(tmp_path / "shared.db"))
    shared = audit.current()
    shared.signer, shared.checkpoint_every = kp, 25  # checkpoints race with appends too
    errors: list[BaseException] = []

    def work(who: str) -> None:
        try:
            with audit.acting_as(who):
                for i in range(50):
                    audit.record("case.opened", f"case/{who}-{i}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"user{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    entries = shared.entries()
    assert len(entries) == 200
    assert entries.groupby("actor").size().to_dict() == {f"user{k}": 50 for k in range(4)}
    report = shared.verify(kp.public)
    assert report.entries == 200 and report.checkpoints >= 1
