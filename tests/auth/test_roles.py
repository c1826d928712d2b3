"""Roles on the store: who may change what, every change and refusal in the audit trail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit, auth, review, workflows
from nexus_lab.errors import NexusError, PermissionDenied

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def books(store_url):
    """A store with an examiner, a judge, an auditor and a saved reconciliation."""
    s = nx.store.connect(store_url)
    s.migrate()
    with auth.acting_as("root-admin"):
        for user, role in (("root-admin", "admin"), ("ana", "examiner"), ("jo", "judge"),
                           ("aud", "auditor")):
            auth.add_user(user, role=role, store=s)
    bank, ledger, _ = nx.datasets.synth_reconciliation(150, seed=5)
    scored = pd.DataFrame({"transaction_id": bank["transaction_id"].head(5),
                           "risk_score": [90.0, 10.0, 75.0, 5.0, 60.0],
                           "flags": [["velocity"], [], ["amount"], [], []],
                           "reasons": [["fast"], [], ["big"], [], []]})
    with auth.acting_as("ana"):
        s.ingest("bank_statements", bank)
        s.ingest("expenses", ledger)
        _, run_id = workflows.reconcile_from_store(s, device="cpu")
        fraud_run = workflows.save_fraud_scores(scored, bank, store=s, model="test")
    yield s, run_id, fraud_run
    s.close()


def test_the_examiner_approves_and_the_judge_is_refused(books):
    s, run_id, _ = books
    with auth.acting_as("jo"), pytest.raises(PermissionDenied) as err:
        review.approve_run(run_id, store=s)
    assert err.value.user == "jo" and err.value.roles == ["judge"]
    assert err.value.permission == "reconciliation.approve"
    assert "needs the role examiner" in str(err.value)
    assert s.read("reconciliation_runs")["status"].tolist() == ["open"]
    with auth.acting_as("ana"):
        done = review.approve_run(run_id, note="period closed", store=s)
    run = s.read("reconciliation_runs").iloc[0]
    assert (run["status"], run["approved_by"], run["approval_note"]) == (
        "approved", "ana", "period closed")
    assert done["matches_sha256"] == run["matches_sha256"]
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused[["user_id", "resource_id"]].values.tolist() == [
        ["jo", f"reconciliation_runs/{run_id}"]]
    with auth.acting_as("ana"), pytest.raises(NexusError, match="approved already"):
        review.approve_run(run_id, store=s)


def test_the_auditor_reads_everything_and_changes_nothing(books, tmp_path):
    s, run_id, _ = books
    reads = {p for p in auth.matrix(store=s).index if p.endswith(".read")}
    assert reads <= auth.permissions("aud", store=s)
    item = int(s.read("open_items")["id"].iloc[0])
    score = int(s.read("fraud_scores", where={"review_state": "open"})["id"].iloc[0])
    (tmp_path / "bank.csv").write_text("transaction_id,date,amount\nZ1,2025-01-01,1.00\n")
    before = {t: s.read(t).drop(columns=["created_at"], errors="ignore")
              for t in ("reconciliation_runs", "open_items", "fraud_scores",
                        "bank_statements", "role_assignments")}
    attempts = [
        lambda: review.approve_run(run_id, store=s),
        lambda: review.resolve_open_item(item, "timing", store=s),
        lambda: review.clear_flag(score, "looked fine", store=s),
        lambda: review.escalate_flag(score, "send to a case", store=s),
        lambda: workflows.ingest_file(tmp_path / "bank.csv", store=s),
        lambda: workflows.reconcile_from_store(s, device="cpu"),
        lambda: auth.grant("aud", "examiner", store=s),
    ]
    with auth.acting_as("aud"):
        for attempt in attempts:
            with pytest.raises(PermissionDenied):
                attempt()
    for table, frame in before.items():
        pd.testing.assert_frame_equal(
            s.read(table).drop(columns=["created_at"], errors="ignore"), frame)
    assert len(s.read("audit_logs", where={"user_id": "aud", "outcome": "refused"})) == len(
        attempts)


def test_every_change_is_in_both_audit_trails_with_its_actor(books, tmp_path):
    s, run_id, _ = books
    log = nx.crypto.AuditLog(tmp_path / "audit.db")
    item = s.read("open_items").iloc[0]
    scores = s.read("fraud_scores", where={"review_state": "open"}, order_by="id")
    with audit.using(log), auth.acting_as("ana"):
        review.resolve_open_item(int(item["id"]), "timing", note="posted next month", store=s)
        review.clear_flag(int(scores["id"].iloc[0]), "known customer", store=s)
        review.escalate_flag(int(scores["id"].iloc[1]), "pattern", case_id="C-1", store=s)
        review.approve_run(run_id, store=s)
    chained = s.read("audit_logs", order_by="id").dropna(subset=["chain_seq"])
    entries = log.entries()
    assert chained["action"].tolist() == entries["action"].tolist() == [
        "open_item.resolved", "fraud.flag_cleared", "fraud.flag_escalated",
        "reconciliation.approved"]
    assert set(chained["user_id"]) == set(entries["actor"]) == {"ana"}
    assert chained["chain_seq"].astype(int).tolist() == entries["seq"].tolist()
    log.verify()
    every = s.read("audit_logs")
    assert every["user_id"].notna().all()
    assert {"user.added", "reconciliation.saved", "fraud.scored"} <= set(
        every["action"])
    resolved = s.read("open_items", where={"id": int(item["id"])}).iloc[0]
    assert (resolved["status"], resolved["resolution"], resolved["resolved_by"]) == (
        "resolved", "timing", "ana")


def test_a_failed_record_undoes_the_change(books, tmp_path):
    """When the signed log cannot take the entry, the store's change is rolled back."""
    s, run_id, _ = books
    log = nx.crypto.AuditLog(tmp_path / "audit.db")
    log.close()  # a closed log refuses appends
    with audit.using(log), auth.acting_as("ana"), pytest.raises(Exception):  # noqa: B017
        review.approve_run(run_id, store=s)
    assert s.read("reconciliation_runs")["status"].tolist() == ["open"]
    assert "reconciliation.approved" not in set(s.read("audit_logs")["action"])


def test_a_store_with_no_roles_is_single_user_until_an_administrator_is_made(tmp_path):
    s = nx.store.connect(tmp_path / "solo.db")
    s.migrate()
    assert auth.require("reconciliation.approve", store=s, user="anyone") == "anyone"
    with pytest.raises(NexusError, match="no administrator yet: make one first"):
        auth.add_user("ana", role="examiner", store=s)
    auth.add_user("boss", role="admin", store=s)
    with pytest.raises(PermissionDenied, match="has no role in this store"):
        auth.require("reconciliation.approve", store=s, user="anyone")
    with auth.acting_as("anyone"), pytest.raises(PermissionDenied, match=r"users\.manage"):
        auth.add_user("anyone", role="admin", store=s)  # no way in for a stranger
    with auth.acting_as("boss"):
        auth.add_user("ana", role="examiner", store=s)
    with auth.acting_as("ana"), pytest.raises(PermissionDenied, match=r"users\.manage"):
        auth.grant("ana", "admin", store=s)
    with auth.acting_as("boss"):
        auth.grant("ana", "judge", store=s)
        with pytest.raises(NexusError, match="only administrator"):
            auth.revoke("boss", "admin", store=s)
        with pytest.raises(NexusError, match="does not hold the role auditor"):
            auth.revoke("ana", "auditor", store=s)
    assert auth.roles("ana", store=s) == ["examiner", "judge"]
    assert auth.roles("boss", store=s) == ["admin"]


def test_user_names_must_be_printable_and_trimmed(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    for bad, why in (("  ", "cannot be blank"), ("a\nb", "printable"), (" ana", "printable"),
                     ("x" * 5000, "at most 128")):
        with pytest.raises(NexusError, match=why) as err:
            auth.add_user(bad, role="admin", store=s)
        assert len(str(err.value)) < 300


def test_unknown_roles_and_permissions_are_named(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    with pytest.raises(NexusError, match="unknown role 'clerk'"):
        auth.add_user("x", role="clerk", store=s)
    auth.add_user("x", role="admin", store=s)
    with pytest.raises(NexusError, match=r"unknown permission 'reconciliation\.aprove'"):
        auth.require("reconciliation.aprove", store=s, user="x")


def test_passwords_are_hashed_and_checked(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    auth.add_user("ana", role="admin", password="correct horse", store=s)
    stored = s.read("users")["password_hash"].iloc[0]
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert auth.check_password("ana", "correct horse", store=s)
    assert not auth.check_password("ana", "wrong horse!", store=s)
    assert not auth.check_password("nobody", "correct horse", store=s)


def test_the_readme_lists_the_permission_matrix_the_store_holds(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    table = auth.matrix(store=s)
    text = (ROOT / "README.md").read_text()
    section = text[text.index("| permission |"):]
    lines = [ln for ln in section.splitlines()[2:] if ln.startswith("|")]
    header = [c.strip() for c in section.splitlines()[0].strip("|").split("|")]
    assert header[1:] == list(table.columns)
    documented = {}
    for ln in lines:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        documented[cells[0].strip("`")] = [c == "x" for c in cells[1:]]
    assert documented == {p: row.tolist() for p, row in table.iterrows()}
    assert re.search(r"nexus-lab users add \w+ --role examiner", text)


def test_linking_an_open_item_checks_the_other_side_and_closes_both(books):
    s, run_id, _ = books
    items = s.read("open_items", where={"run_id": run_id})
    bank_item = items[(items["side"] == "bank")].iloc[0]
    ledger_item = items[(items["side"] == "ledger")].iloc[0]
    with auth.acting_as("ana"):
        with pytest.raises(NexusError, match="no ledger transaction 'NOPE'"):
            review.resolve_open_item(int(bank_item["id"]), "linked", linked_to="NOPE",
                                     store=s)
        done = review.resolve_open_item(int(bank_item["id"]), "linked",
                                        linked_to=ledger_item["transaction_id"], store=s)
    assert done["also_resolved"] == int(ledger_item["id"])
    both = s.read("open_items", where={"id": [int(bank_item["id"]), int(ledger_item["id"])]},
                  order_by="id")
    assert set(both["status"]) == {"resolved"}
    assert set(both["linked_to"]) == {bank_item["transaction_id"],
                                      ledger_item["transaction_id"]}


def test_a_change_says_it_was_done_once_committed(books):
    from nexus_lab.files import record_writes

    s, _, _ = books
    with record_writes() as done, audit.change(s, "config.set", "system_config/x"):
        s.execute("insert into system_config (config_key) values ('x')")
    assert done == [f"config.set of system_config/x in {s.where}"]
    with record_writes() as done, s.transaction():
        with audit.change(s, "config.set", "system_config/y"):
            s.execute("insert into system_config (config_key) values ('y')")
        assert done == []  # not committed yet: the outer transaction commits it


def test_the_store_witnesses_a_rolled_back_or_rewritten_audit_log(books, tmp_path):
    import shutil

    from nexus_lab.errors import IntegrityError

    s, run_id, _ = books
    log = nx.crypto.AuditLog(tmp_path / "audit.db")
    items = s.read("open_items", where={"run_id": run_id}, order_by="id")
    with audit.using(log), auth.acting_as("ana"):
        review.resolve_open_item(int(items["id"].iloc[0]), "timing", store=s)
        log.backup(tmp_path / "before.db")  # the log as it was after one change
        review.resolve_open_item(int(items["id"].iloc[1]), "accepted", store=s)
    assert audit.check_store(log, s) == {"checked": 2, "latest": 2}
    old = nx.crypto.AuditLog(tmp_path / "before.db")
    old.verify()  # a valid log on its own...
    with pytest.raises(IntegrityError, match=r"records entry 2 .* does not hold"):
        audit.check_store(old, s)  # ...but the store saw a later entry
    forged = nx.crypto.AuditLog(tmp_path / "forged.db")
    forged.append("ana", "open_item.resolved", "open_items/1", {"resolution": "timing"})
    forged.append("ana", "open_item.resolved", "open_items/2", {"resolution": "linked"})
    with pytest.raises(IntegrityError, match="entry 1 of the audit log differs"):
        audit.check_store(forged, s)
    old.close()
    log.close()
    shutil.copy(tmp_path / "before.db", tmp_path / "rolled-back.db")
    url = s.url.replace("postgresql+psycopg://", "postgresql://")

    def cli(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nexus_lab.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env={**os.environ, "NEXUS_LAB_ACTOR": "aud"})

    done = cli("audit", "verify", tmp_path / "rolled-back.db", "--store", url)
    assert done.returncode == 1 and "does not hold" in done.stderr, done.stderr
    done = cli("audit", "verify", tmp_path / "audit.db", "--store", url)
    assert done.returncode == 0 and "witnesses 2 changes" in done.stdout, done.stderr


def _seconds(check, tries=5):
    import time

    took = []
    for _ in range(tries):
        start = time.perf_counter()
        check()
        took.append(time.perf_counter() - start)
    return sorted(took)[tries // 2]


def test_a_failed_password_check_takes_as_long_for_a_name_that_is_not_a_user(tmp_path):
    # a quick "no" for an unknown name would tell which names are users
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    auth.add_user("ana", role="admin", password="correct horse", store=s)
    with auth.acting_as("ana"):
        auth.add_user("ina", password="correct horse", store=s)
    s.execute("update users set active = :f where user_id = 'ina'", {"f": False})
    wrong = _seconds(lambda: auth.check_password("ana", "wrong horse!", store=s))
    for who in ("nobody", "ina"):
        unknown = _seconds(lambda who=who: auth.check_password(who, "wrong horse!", store=s))
        assert unknown > 0.5 * wrong, (who, unknown, wrong)
    assert not auth.check_password("ina", "correct horse", store=s)


def test_an_inactive_user_holds_no_role_and_is_refused(tmp_path):
    s = nx.store.connect(tmp_path / "x.db")
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        auth.add_user("ana", role="examiner", store=s)
    s.execute("update users set active = :f where user_id = 'ana'", {"f": False})
    assert auth.roles("ana", store=s) == [] and auth.permissions("ana", store=s) == set()
    with pytest.raises(PermissionDenied, match="ana has no role"):
        auth.require("reconciliation.approve", store=s, user="ana")
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused["user_id"].tolist() == ["ana"]
    assert auth.roles("lead", store=s) == ["admin"]
