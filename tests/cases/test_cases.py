"""nx.cases: a case store on real files, its chain of custody, and verification from the
folder alone (a fresh object over the same files), including tampering."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab.cases
from nexus_lab.cases import CaseStore, verify
from nexus_lab.crypto import PublicKey, generate_keypair, load_keypair, open_sealed, seal
from nexus_lab.crypto import verify as verify_signature
from nexus_lab.errors import IntegrityError, NexusError

FIXTURE = Path(__file__).parent / "fixtures" / "store-v1"

LEDGER = pd.DataFrame({"invoice": ["A-1", "A-2", "A-3"], "amount": [95_000, 120_000, 7_550],
                       "vendor": ["Acme", "Acme", "Globex"]})


@pytest.fixture(scope="module")
def keys():
    """The evidence room's key (the store's), a prosecutor's and an outsider's."""
    return {"room": generate_keypair("evidence-room"),
            "prosecutor": generate_keypair("prosecutor"),
            "outsider": generate_keypair("outsider")}


def _store(tmp_path: Path, keys: dict) -> tuple[CaseStore, Path]:
    """A store with one case and three items: bytes, a file and a DataFrame."""
    folder = tmp_path / "store"
    store = CaseStore(folder, keys["room"], create=True)
    case = store.new_case("Vendor kickbacks", number="2025-FR-001", actor="examiner",
                          description="Payments to Acme above contract")
    case.add_evidence(b"email: please route the Acme invoices to me", actor="examiner",
                      description="mail export from J. Doe's mailbox", name="mail.eml")
    src = tmp_path / "bank-statement.csv"
    src.write_text("date,amount\n2025-01-03,95000\n2025-02-03,120000\n")
    case.add_evidence(src, actor="examiner", description="bank statement, subpoena 17",
                      recipients=[keys["prosecutor"].public])
    case.add_evidence(LEDGER, actor="examiner", description="AP ledger extract",
                      recipients=keys["prosecutor"])
    case.transfer("E-0002", to="prosecutor", actor="examiner", reason="charging decision")
    case.open_evidence("E-0002", keys["prosecutor"], actor="prosecutor", purpose="review")
    return store, folder


def test_full_flow(tmp_path, keys):
    store, folder = _store(tmp_path, keys)
    case = store.case("2025-FR-001")

    # evidence: three kinds, hashed, sealed and signed, with their files in place
    ev = case.evidence()
    assert ev["evidence_id"].tolist() == ["E-0001", "E-0002", "E-0003"]
    assert ev["name"].tolist() == ["mail.eml", "bank-statement.csv", "E-0003.parquet"]
    assert ev["kind"].tolist() == ["bytes", "file", "dataframe"]
    assert ev["holder"].tolist() == ["examiner", "prosecutor", "examiner"]
    mail = case.item("E-0001")
    assert mail.size == 43 and mail.sealed_file == folder / "evidence/2025-FR-001/E-0001.nxs"
    assert mail.sha256 == hashlib.sha256(b"email: please route the Acme invoices to me"
                                         ).hexdigest()
    assert mail.sealed_sha256 == hashlib.sha256(mail.sealed_file.read_bytes()).hexdigest()
    # the files verify with the plain crypto API alone
    record_path = folder / "evidence/2025-FR-001/E-0001.json"
    sig = (folder / "evidence/2025-FR-001/E-0001.sig").read_bytes()
    assert verify_signature(record_path, sig, keys["room"].public)
    record = json.loads(record_path.read_bytes())
    assert record["sealed_sha256"] == mail.sealed_sha256 and record["received_by"] == "examiner"
    assert sorted(p.name for p in (folder / "keys").iterdir()) == sorted(
        f"{k.public.fingerprint_hex}.nxpub" for k in (keys["room"], keys["prosecutor"]))

    # opening: the recipient gets the data back, each opening is a custody event
    assert case.open_evidence("E-0001", keys["room"], actor="examiner", purpose="triage") == \
        b"email: please route the Acme invoices to me"
    table = case.open_evidence("E-0003", keys["prosecutor"], actor="prosecutor",
                               purpose="exhibit list")
    pd.testing.assert_frame_equal(table, LEDGER)
    out = case.open_evidence("E-0002", keys["prosecutor"], actor="prosecutor",
                             purpose="copy for expert", out=tmp_path / "copy.csv")
    assert out.read_text().startswith("date,amount")

    custody = case.custody("E-0002")
    assert custody["event"].tolist() == ["intake", "transfer", "access", "access"]
    assert custody[["from", "to"]].iloc[1].tolist() == ["examiner", "prosecutor"]
    assert custody["note"].iloc[1] == "charging decision"

    # milestones and status
    hearing = case.add_milestone("Preliminary hearing", due="2030-05-02", actor="prosecutor")
    case.add_milestone("Report to the prosecutor", due="2020-01-31", actor="examiner")
    case.add_milestone("Subpoena served", done=True, actor="examiner")
    case.set_status("under_investigation", actor="examiner", note="evidence in")
    case.set_status("in_litigation", actor="prosecutor")
    with pytest.raises(NexusError, match="is 'in_litigation': it can go to 'closed' next, not "
                                         "'open'"):
        case.set_status("open", actor="prosecutor")
    with pytest.raises(NexusError, match="unknown case status 'pending'"):
        case.set_status("pending")
    ms = case.milestones().set_index("milestone_id")["status"]
    assert ms.to_dict() == {"M-001": "open", "M-002": "overdue", "M-003": "done"}
    case.complete_milestone(hearing, actor="prosecutor", note="held")
    assert case.milestones().set_index("milestone_id").loc[hearing, "status"] == "done"

    tl = case.timeline()
    assert tl["time"].is_monotonic_increasing
    # the overdue 2020 report is first, the case's opening next, the 2030 hearing last
    assert tl["event"].iloc[:2].tolist() == ["milestone due", "case opened"]
    assert (tl["kind"].value_counts().to_dict()
            == {"custody": 8, "milestone": 7, "case": 3})
    transfer = tl[tl["event"] == "transfer"].iloc[0]
    assert transfer["item"] == "E-0002" and "examiner → prosecutor" in transfer["detail"]
    assert tl["event"].iloc[-1] == "milestone due"
    assert tl[tl["event"] == "status changed"]["detail"].tolist() == [
        "open → under_investigation: evidence in", "under_investigation → in_litigation"]

    case.set_status("closed", actor="judge", note="judgment entered")
    with pytest.raises(NexusError, match="reopen it"):
        case.add_evidence(b"late", description="late", actor="examiner")
    case.set_status("archived", actor="clerk")
    with pytest.raises(NexusError, match="archived case is final"):
        case.set_status("under_investigation")

    # the audit log has every action, by the actor who did it
    log = store.audit_log()
    actions = log["action"].tolist()
    assert actions[0] == "store.created"
    assert actions.count("case.opened") == 1 and actions.count("evidence.added") == 3
    assert actions.count("custody.transferred") == 1 and actions.count("evidence.accessed") == 4
    assert actions.count("milestone.added") == 3 and actions.count("milestone.done") == 1
    assert actions.count("case.status_changed") == 3 and actions.count("case.closed") == 1
    assert set(log.loc[log["action"] == "custody.transferred", "actor"]) == {"examiner"}
    assert log.loc[log["action"] == "case.closed", "resource"].item() == "case/2025-FR-001"
    final = case.timeline()
    store.close()

    # years later: a fresh, read-only object over the folder, and verify from files alone
    again = CaseStore(folder)
    assert again.cases()["status"].tolist() == ["archived"]
    pd.testing.assert_frame_equal(again.case("2025-FR-001").timeline(), final)
    assert len(again.case("2025-FR-001").custody()) == 8
    with pytest.raises(NexusError, match="read-only"):
        again.new_case("another")
    report = verify(folder, public=keys["room"].public, keypair=keys["prosecutor"])
    assert report.ok and report.pinned
    frame = report.to_frame().set_index("evidence_id")
    assert frame["status"].tolist() == ["ok"] * 3
    assert frame["plaintext"].to_dict() == {"E-0001": "not a recipient", "E-0002": "ok",
                                            "E-0003": "ok"}
    s = report.summary()
    assert (s["evidence"], s["custody_events"], s["plaintext_checked"]) == (3, 8, 2)
    assert s["audit_entries"] == len(log) and s["audit_signed_upto"] == len(log)
    assert verify(folder, keypair=keys["room"]).summary()["plaintext_checked"] == 3
    assert "intact" in report._repr_html_() and "E-0003" in report._repr_html_()
    again.close()


def test_reopen_needs_the_stores_key(tmp_path, keys):
    store, folder = _store(tmp_path, keys)
    store.close()
    with pytest.raises(NexusError, match="another key"):
        CaseStore(folder, keys["prosecutor"])
    with pytest.raises(NexusError, match="no case store"):
        CaseStore(tmp_path / "nowhere")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(NexusError, match="not empty"):
        CaseStore(tmp_path / "busy", keys["room"], create=True)
    with CaseStore(folder, keys["room"], create=True) as same:  # opens the existing store
        case = same.case("2025-FR-001")
        assert case.status == "open" and case.item("E-0002").holder == "prosecutor"
        case.transfer("E-0002", to="court clerk", actor="prosecutor", reason="exhibit 4")
        with pytest.raises(NexusError, match="already held by 'court clerk'"):
            case.transfer("E-0002", to="court clerk", actor="prosecutor", reason="again")
        with pytest.raises(NexusError, match="has no evidence 'E-0009'"):
            case.transfer("E-0009", to="x", actor="y", reason="z")
        with pytest.raises(NexusError, match="reason is empty"):
            case.transfer("E-0001", to="x", actor="y", reason=" ")
        with pytest.raises(NexusError, match="no case 'nope'"):
            same.case("nope")
        with pytest.raises(NexusError, match="already exists"):
            same.new_case("dup", number="2025-FR-001")
        assert same.new_case("Second", actor="examiner").number.startswith("C-")
        assert "Vendor kickbacks" in same._repr_html_() and "E-0002" in case._repr_html_()
        assert case.summary()["custody_events"] == 6
    verify(folder, public=keys["room"])


def test_wrong_keypair_cannot_open(tmp_path, keys):
    store, folder = _store(tmp_path, keys)
    case = store.case("2025-FR-001")
    with pytest.raises(NexusError, match=r"E-0001 of case 2025-FR-001 is sealed for "
                                         r"\['evidence-room .*not one of them"):
        case.open_evidence("E-0001", keys["prosecutor"], actor="prosecutor", purpose="peek")
    sealed = folder / "evidence/2025-FR-001/E-0001.nxs"
    with pytest.raises(NexusError, match="not"):
        open_sealed(sealed, keys["outsider"])
    log = store.audit_log()
    denied = log[log["action"] == "evidence.access_denied"]
    assert denied["actor"].tolist() == ["prosecutor"]
    assert len(case.custody("E-0001")) == 1  # a refused opening is no custody event
    report = verify(folder, keypair=keys["outsider"])
    assert set(report.items["plaintext"]) == {"not a recipient"}


def test_intake_is_all_or_nothing(tmp_path, keys, monkeypatch):
    store, folder = _store(tmp_path, keys)
    case = store.case("2025-FR-001")
    before = sorted(p.name for p in (folder / "evidence/2025-FR-001").iterdir())

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "record_action", broken)
    with pytest.raises(OSError, match="disk full"):
        case.add_evidence(b"x", description="x", actor="examiner")
    monkeypatch.undo()
    assert sorted(p.name for p in (folder / "evidence/2025-FR-001").iterdir()) == before
    assert len(case.evidence()) == 3
    assert case.add_evidence(b"y", description="y", actor="examiner").evidence_id == "E-0004"
    verify(folder, public=keys["room"])


# ------------------------------------------------------------------------- tampering


def _flip(path: Path, at: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _sql(path: Path, statement: str, *args) -> None:
    con = sqlite3.connect(path)
    con.execute(statement, args)
    con.commit()
    con.close()


def _edit_record(folder: Path) -> None:
    path = folder / "evidence/2025-FR-001/E-0002.json"
    record = json.loads(path.read_bytes())
    record["received_by"] = "someone else"
    path.write_bytes(json.dumps(record, sort_keys=True, separators=(",", ":")).encode())


def _swap_sealed(folder: Path) -> None:
    # a well-formed seal of other data for the same keys: only the hashes catch it
    pubs = [PublicKey.load(p) for p in sorted((folder / "keys").iterdir())]
    (folder / "evidence/2025-FR-001/E-0001.nxs").write_bytes(seal(b"something else", pubs))


TAMPERING = {
    "sealed file byte": (lambda f: _flip(f / "evidence/2025-FR-001/E-0003.nxs", 2000),
                         r"evidence E-0003 \(E-0003.parquet\): the sealed file's SHA-256 is "
                         r"[0-9a-f]{64}, the signed intake record says"),
    "sealed file replaced": (_swap_sealed, r"evidence E-0001 \(mail.eml\): the sealed file's "
                                           r"SHA-256"),
    "intake record": (_edit_record, r"evidence E-0002 \(bank-statement.csv\): the intake "
                                    r"record's SHA-256 differs.*intake record's signature fails"),
    "signature": (lambda f: _flip(f / "evidence/2025-FR-001/E-0001.sig", -5),
                  r"evidence E-0001 \(mail.eml\): the intake record's signature fails: the "
                  r"(ML-DSA-65|Ed25519) signature does not verify"),
    "signature removed": (lambda f: (f / "evidence/2025-FR-001/E-0001.sig").unlink(),
                          r"E-0001 \(mail.eml\): the intake record's signature E-0001.sig is "
                          r"missing"),
    "custody row deleted (middle)": (
        lambda f: _sql(f / "cases.db", "DELETE FROM custody WHERE evidence_id = 'E-0002' "
                                       "AND seq = 2"),
        r"evidence E-0002 \(bank-statement.csv\): custody event 2 is missing: the chain goes "
        r"from event 1 to event 3.*custody event recorded in audit entry \d+ "
        r"\(custody.transferred\) is missing from cases.db"),
    "custody row deleted (last)": (
        lambda f: _sql(f / "cases.db", "DELETE FROM custody WHERE evidence_id = 'E-0002' "
                                       "AND seq = 3"),
        r"evidence E-0002 \(bank-statement.csv\): the custody event recorded in audit entry "
        r"\d+ \(evidence.accessed\) is missing from cases.db: it was deleted"),
    "custody row altered": (
        lambda f: _sql(f / "cases.db", "UPDATE custody SET note = 'routine' WHERE "
                                       "evidence_id = 'E-0002' AND seq = 2"),
        r"evidence E-0002 \(bank-statement.csv\): custody event 2 \(transfer, .*\) was "
        r"altered: its content no longer matches its hash"),
    "holder changed": (
        lambda f: _sql(f / "cases.db", "UPDATE evidence SET holder = 'nobody' WHERE "
                                       "evidence_id = 'E-0002'"),
        r"evidence E-0002 \(bank-statement.csv\): cases.db names 'nobody' as its holder, the "
        r"custody chain 'prosecutor'"),
    "evidence row deleted": (
        lambda f: _sql(f / "cases.db", "DELETE FROM evidence WHERE evidence_id = 'E-0003'"),
        r"evidence E-0003: the audit log records its intake \(entry \d+\) but it is missing "
        r"from cases.db"),
    "audit entry altered": (
        lambda f: _sql(f / "audit.db", "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"),
        r"audit log \(audit.db\): entry 3 was altered: its content no longer matches its "
        r"hash"),
    "case status changed": (
        lambda f: _sql(f / "cases.db", "UPDATE cases SET status = 'closed'"),
        r"case 2025-FR-001: cases.db says status 'closed', the audit log's last status change "
        r"\(entry \d+\) says 'open'"),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_is_named(tmp_path, keys, what):
    store, folder = _store(tmp_path, keys)
    store.close()
    verify(folder, public=keys["room"])  # intact before
    tamper, message = TAMPERING[what]
    tamper(folder)
    with pytest.raises(IntegrityError, match=message) as info:
        verify(folder, public=keys["room"], keypair=keys["room"])
    report = info.value.report
    assert not report.ok and report.problems == info.value.problems
    # the same from the store object and without raising
    again = verify(folder, strict=False)
    assert not again.ok and "failed" in again._repr_html_()


def test_tampered_item_is_failed_in_the_report(tmp_path, keys):
    store, folder = _store(tmp_path, keys)
    _flip(folder / "evidence/2025-FR-001/E-0001.nxs")
    report = store.verify(strict=False)
    status = report.to_frame().set_index("evidence_id")["status"].to_dict()
    assert status == {"E-0001": "failed", "E-0002": "ok", "E-0003": "ok"}
    assert report.summary()["evidence_failed"] == 1
    with pytest.raises(IntegrityError, match="E-0001"):
        store.case("2025-FR-001").verify()
    # opening it is refused before any decryption, and the attempt is logged
    with pytest.raises(IntegrityError, match="sealed file was altered or replaced"):
        store.case("2025-FR-001").open_evidence("E-0001", keys["room"], actor="examiner",
                                                purpose="triage")
    assert store.audit_log()["action"].iloc[-1] == "evidence.access_failed"


def test_pinning_names_a_foreign_signer(tmp_path, keys):
    _, folder = _store(tmp_path, keys)
    with pytest.raises(IntegrityError, match="not by the expected key") as info:
        verify(folder, public=keys["outsider"].public)
    assert any("E-0001" in p for p in info.value.problems)
    assert any(p.startswith("audit log") for p in info.value.problems)


def test_an_unknown_file_in_evidence_is_named(tmp_path, keys):
    _, folder = _store(tmp_path, keys)
    (folder / "evidence/2025-FR-001/E-0042.nxs").write_bytes(b"planted")
    with pytest.raises(IntegrityError, match=r"evidence E-0042: its files are in "
                                             r"evidence/2025-FR-001/ but neither cases.db nor "
                                             r"the audit log knows it"):
        verify(folder)


# ------------------------------------------------------------------------- compatibility


def test_a_store_written_before_still_verifies(tmp_path):
    """A store written by the code before the repository split (fixtures/store-v1) reads,
    verifies, and takes new records that verify with the old ones."""
    folder = tmp_path / "store"
    shutil.copytree(FIXTURE / "store", folder)
    pinned = PublicKey.load(FIXTURE / "room.nxpub")
    room = load_keypair(FIXTURE / "room.nxkey", password="fixture")
    prosecutor = load_keypair(FIXTURE / "prosecutor.nxkey", password="fixture")
    report = verify(folder, public=pinned, keypair=prosecutor)
    s = report.summary()
    assert report.ok and report.pinned
    assert (s["cases"], s["evidence"], s["custody_events"], s["plaintext_checked"],
            s["audit_entries"]) == (1, 1, 3, 1, 7)

    with CaseStore(folder) as store:  # read-only, as a reviewer opens it
        case = store.case("2025-FR-001")
        assert (case.title, case.status) == ("Vendor kickbacks", "under_investigation")
        assert case.item("E-0001").holder == "prosecutor"
        assert case.timeline()["event"].tolist() == [
            "case opened", "intake", "transfer", "access", "milestone added",
            "status changed", "milestone due"]
        assert case.milestones()["status"].tolist() == ["open"]

    with CaseStore(folder, room) as store:
        case = store.case("2025-FR-001")
        assert case.open_evidence("E-0001", prosecutor, actor="prosecutor",
                                  purpose="trial preparation") == \
            b"email: route the Acme invoices to me"
        case.add_evidence(b"ledger page 4", description="taken in after the split",
                          actor="examiner")
        case.complete_milestone("M-001", actor="prosecutor")
        assert store.verify(cases=["2025-FR-001"]).ok
    report = verify(folder, public=pinned, keypair=room)
    assert report.ok and report.summary()["evidence"] == 2
    assert report.summary()["custody_events"] == 5


def test_only_the_repository_speaks_sql():
    """The case rules reach cases.db through CaseRepository only."""
    folder = Path(nexus_lab.cases.__file__).parent
    sql = re.compile(r"\.execute(many|script)?\(|\b(SELECT|INSERT INTO|UPDATE \w+ SET|"
                     r"DELETE FROM|CREATE TABLE)\b")
    offenders = [p.name for p in folder.glob("*.py")
                 if p.name != "_repository.py" and sql.search(p.read_text())]
    assert offenders == []


def _roll_back_store(folder: Path, keep: int, case: str, evidence: str | None) -> None:
    """Remove the newest actions from both databases and the files, as one who can
    write the folder would: what is left checks by itself."""
    con = sqlite3.connect(folder / "cases.db")
    if evidence is None:
        for table in ("cases",):
            con.execute(f"DELETE FROM {table} WHERE number = ?", (case,))
        for table in ("status_history", "evidence", "custody", "milestones"):
            con.execute(f"DELETE FROM {table} WHERE case_number = ?", (case,))
        shutil.rmtree(folder / "evidence" / case)
    else:
        for table in ("evidence", "custody"):
            con.execute(f"DELETE FROM {table} WHERE case_number = ? AND evidence_id = ?",
                        (case, evidence))
        for suffix in (".nxs", ".json", ".sig"):
            (folder / "evidence" / case / f"{evidence}{suffix}").unlink()
    con.commit()
    con.close()
    _sql(folder / "audit.db", "DELETE FROM audit_log WHERE seq > ?", keep)
    _sql(folder / "audit.db", "DELETE FROM audit_checkpoint WHERE upto > ?", keep)


@pytest.mark.parametrize("what", ["newest case", "newest evidence"])
def test_a_rolled_back_store_is_caught_by_the_witness(tmp_path, keys, what):
    store, folder = _store(tmp_path, keys)
    keep = len(store.audit_log())
    if what == "newest case":
        case = store.new_case("Ghost payroll", number="2025-FR-002", actor="examiner")
        case.add_evidence(b"payroll 2024-03", actor="examiner", description="HR export")
        gone = ("2025-FR-002", None)
    else:
        store.case("2025-FR-001").add_evidence(b"later", actor="examiner", description="x")
        gone = ("2025-FR-001", "E-0004")
    store.close()
    assert verify(folder, public=keys["room"]).complete
    _roll_back_store(folder, keep, *gone)
    with pytest.raises(IntegrityError, match=rf"audit log \(audit.db\): entries {keep + 1}\.\."
                                             r"\d+ were removed: witness .*audit.db.witness"):
        verify(folder, public=keys["room"])
    # with no witness left, what is proven is said, not "intact"
    (folder / "audit.db.witness").unlink()
    report = verify(folder, public=keys["room"])
    assert report.ok and not report.complete
    assert "intact:" not in str(report)
    assert (f"audit log is intact up to entry {keep} signed at "
            f"{report.audit['signed_at']}; no witness was reachable: anything after the "
            "last witnessed head could have been removed") in str(report)


def test_a_witness_outside_the_store_is_remembered(tmp_path, keys):
    outside = tmp_path / "witnesses"
    outside.mkdir()
    folder = tmp_path / "store"
    store = CaseStore(folder, keys["room"], create=True, witnesses=[outside])
    keep = len(store.audit_log())
    store.new_case("Ghost payroll", number="2025-FR-002", actor="examiner")
    store.close()
    _sql(folder / "audit.db", "DELETE FROM audit_log WHERE seq > ?", keep)
    _sql(folder / "audit.db", "DELETE FROM audit_checkpoint WHERE upto > ?", keep)
    _sql(folder / "cases.db", "DELETE FROM cases")
    _sql(folder / "cases.db", "DELETE FROM status_history")
    (folder / "audit.db.witness").unlink()
    with pytest.raises(IntegrityError, match=r"were removed: witness .*witnesses"):
        verify(folder, public=keys["room"])


def test_a_public_key_for_the_stores_key_pair_is_named(tmp_path, keys):
    with pytest.raises(NexusError, match=r"is a public key; changing a case store"):
        CaseStore(tmp_path / "store", keys["room"].public, create=True)
    store, folder = _store(tmp_path, keys)
    with pytest.raises(NexusError, match=r"is a public key; opening evidence needs"):
        store.case("2025-FR-001").open_evidence("E-0001", keys["room"].public,
                                                   purpose="review")
    with pytest.raises(NexusError, match=r"is a public key; checking the plaintexts"):
        verify(folder, keypair=keys["room"].public)
