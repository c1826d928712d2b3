"""Checking a case store from its files alone: evidence, custody chains, the audit log."""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab._html import badge, escape, frame, kv
from nexus_lab.cases._records import (
    canonical,
    custody_record,
    file_sha256,
    sha256_hex,
)
from nexus_lab.cases._repository import CaseRepository, CustodyRow, EvidenceRow, connect
from nexus_lab.crypto import AuditLog, KeyPair, PublicKey, Signature, need_keypair, open_sealed
from nexus_lab.crypto import verify as verify_signature
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["VerifyReport", "verify"]

log = logging.getLogger("nexus_lab")

_ITEM_COLUMNS = ["case", "evidence_id", "name", "status", "custody_events", "holder",
                 "plaintext", "problems"]
_CUSTODY_ACTIONS = ("evidence.added", "custody.transferred", "evidence.accessed")
_STATUS_ACTIONS = ("case.opened", "case.status_changed", "case.closed")


@dataclass
class VerifyReport:
    """What :func:`verify` checked and found.

    Attributes
    ----------
    folder : pathlib.Path
    items : pandas.DataFrame
        One row per evidence item: ``case, evidence_id, name, status`` (``ok`` or
        ``failed``), ``custody_events, holder, plaintext`` (``ok``, ``failed``,
        ``not a recipient`` or ``not checked``), ``problems``.
    problems : list of str
        Every failed check, each naming the case, the item and what failed; store-wide
        ones (audit log, keys) name those.
    audit : dict
        The audit log's :meth:`~nexus_lab.crypto.AuditReport.summary` (empty
        when it failed).
    signer : str
        The store's signing key, ``label (fingerprint)``.
    pinned : bool
        Whether the signer was checked against keys given by the caller (``public``)
        rather than the bundles in the folder's ``keys/``.
    cases : int
        Cases checked.
    """

    folder: Path
    items: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    audit: dict = field(default_factory=dict)
    signer: str = ""
    pinned: bool = False
    cases: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    @property
    def complete(self) -> bool:
        """True when every check passed and a witness of the audit log holds a signed
        head of its every entry, so no recent action can have been removed from the
        store unseen (see :attr:`nexus_lab.crypto.AuditReport.complete`)."""
        return self.ok and bool(self.audit.get("complete"))

    def summary(self) -> dict:
        """Counts of what was checked and how many problems were found."""
        items = self.items
        return {
            "folder": str(self.folder), "ok": self.ok, "cases": self.cases,
            "evidence": len(items), "evidence_ok": int((items["status"] == "ok").sum()),
            "evidence_failed": int((items["status"] != "ok").sum()),
            "custody_events": int(items["custody_events"].sum()),
            "plaintext_checked": int((items["plaintext"] == "ok").sum()),
            "audit_entries": self.audit.get("entries"),
            "audit_signed_upto": self.audit.get("signed_upto"),
            "audit_witnessed_upto": self.audit.get("witnessed_upto"),
            "complete": self.complete,
            "signer": self.signer, "pinned": self.pinned, "problems": len(self.problems),
        }

    def to_frame(self) -> pd.DataFrame:
        """The per-item table (:attr:`items`)."""
        return self.items.copy()

    def __str__(self) -> str:
        s = self.summary()
        if self.ok:
            counts = (f"{s['cases']} cases, {s['evidence']} evidence items, "
                      f"{s['custody_events']} custody events, {s['audit_entries']} audit "
                      f"entries; signer {self.signer}" + ("" if self.pinned else " (not pinned)"))
            if self.complete:
                return f"case store intact: {counts}"
            return (f"case store checks pass ({counts}), but its audit log is "
                    f"{self.audit.get('proven', 'not witnessed')}")
        return f"case store fails {len(self.problems)} checks:\n" + "\n".join(
            f"  - {p}" for p in self.problems)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"VerifyReport(ok={s['ok']}, evidence={s['evidence']}, "
                f"failed={s['evidence_failed']}, problems={s['problems']})")

    def _repr_html_(self) -> str:
        verdict = badge("intact" if self.ok else "failed")
        probs = "".join(f"<li>{escape(p)}</li>" for p in self.problems[:50])
        more = f"<p><i>{len(self.problems) - 50} more</i></p>" if len(self.problems) > 50 \
            else ""
        return (f"<div class='nexus-case-verify'><h4>Case store verification {verdict}</h4>"
                f"{kv(self.summary())}"
                + (f"<h5>Problems</h5><ol>{probs}</ol>{more}" if probs else "")
                + f"<h5>Evidence</h5>{frame(self.items, limit=50, empty='no evidence')}</div>")


def verify(folder: Any, public: Any = None, keypair: KeyPair | None = None, *,
           strict: bool = True, cases: Iterable[str] | None = None) -> VerifyReport:
    """Check a case store from its files alone, years later if need be.

    Nothing is written. For each evidence item:

    * its intake record is canonical JSON, agrees with ``cases.db``, and its signature
      (``.sig``) verifies with the signer's public bundle in ``keys/`` (or with
      ``public``);
    * the sealed file's SHA-256 and size are those the signed record names;
    * its custody events form an unbroken chain from the intake record (no event
      missing, altered or reordered), each signed by the store's key, and each is the
      one the audit log recorded (an event deleted from ``cases.db`` is named from the
      audit log); the holder in ``cases.db`` is the chain's last;
    * with a ``keypair`` that is one of its recipients: the seal opens (into a private
      temporary folder, then deleted) and the plaintext's SHA-256 is the recorded one.

    And for the store: the audit log (``AuditLog.verify``: hash chain, signed
    checkpoints by the store's key), each case's status against the audit log, and
    files in ``evidence/`` that neither ``cases.db`` nor the audit log knows.

    Parameters
    ----------
    folder : str or path-like
        The case store's folder.
    public : PublicKey, KeyPair or list of them, optional
        The key(s) that must have signed. Without it the signer's bundle in ``keys/``
        is used: that shows tampering by anyone without the store's key, but a forger
        who replaces the key bundle too is caught only by pinning the key here.
    keypair : KeyPair, optional
        A recipient's key pair, to open the seals and check the plaintexts.
    strict : bool, default True
        Raise when any check fails; ``False`` returns the report with its
        :attr:`~VerifyReport.problems` instead.
    cases : iterable of str, optional
        Check only these cases' evidence (the store-wide checks still run).

    Returns
    -------
    VerifyReport

    Raises
    ------
    IntegrityError
        With ``strict``, when any check fails. Every problem is checked first; the
        message lists them all (each naming the case, the item and what failed), and
        ``err.report`` / ``err.problems`` hold the report and the list.
    NexusError
        ``folder`` holds no case store.

    Notes
    -----
    One change the files of ``cases.db`` and ``audit.db`` cannot show by themselves:
    the most recent actions removed from both databases together, with the audit
    log's checkpoints after them (every earlier entry, event and signature still
    checks). The audit log's witnesses catch it: every signed head is also written to
    ``audit.db.witness`` and to the witnesses named with ``CaseStore(...,
    witnesses=...)``; each one reachable is checked. When none holds a head of every
    entry the report is not :attr:`~VerifyReport.complete` and says how far the audit
    log is proven. A witness on other storage than the store's folder also holds
    against someone who can rewrite the whole folder.

    Examples
    --------
    >>> import tempfile
    >>> from nexus_lab.cases import CaseStore, verify
    >>> from nexus_lab.crypto import generate_keypair
    >>> key = generate_keypair("evidence-room")
    >>> store = CaseStore(tempfile.mkdtemp() + "/store", key, create=True)
    >>> case = store.new_case("Ghost payroll", actor="examiner")
    >>> _ = case.add_evidence(b"payroll 2024-03", description="HR export", actor="examiner")
    >>> report = verify(store.folder, public=key.public, keypair=key)
    >>> report.summary()["evidence_ok"], report.summary()["plaintext_checked"]
    (1, 1)
    >>> sealed = store.folder / "evidence" / case.number / "E-0001.nxs"
    >>> blob = bytearray(sealed.read_bytes()); blob[-1] ^= 1; _ = sealed.write_bytes(blob)
    >>> verify(store.folder).ok  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nexus_lab.errors.IntegrityError: case store ... evidence E-0001 (E-0001.bin): the sealed file's SHA-256 is ...
    """  # noqa: E501
    folder = Path(folder)
    if not (folder / "cases.db").is_file():
        raise NexusError(f"no case store in {str(folder)!r} (no cases.db); check the path")
    if keypair is not None:
        need_keypair(keypair, "checking the plaintexts (opening the seals)")
    check = _Check(folder, _trusted(public), keypair,
                   None if cases is None else set(cases))
    report = check.run()
    log.info("verified case store %s: %d evidence items, %d problems", folder,
             len(report.items), len(report.problems))
    if strict and report.problems:
        probs = report.problems
        if len(probs) == 1:
            message = f"case store {str(folder)!r} fails verification: {probs[0]}"
        else:
            listed = "; ".join(f"({i}) {p}" for i, p in enumerate(probs[:10], 1))
            message = (f"case store {str(folder)!r} fails {len(probs)} checks: {listed}"
                       + (f"; and {len(probs) - 10} more" if len(probs) > 10 else ""))
        err = IntegrityError(message)
        err.report = report  # type: ignore[attr-defined]
        err.problems = list(probs)  # type: ignore[attr-defined]
        raise err
    return report


def _trusted(public: Any) -> dict[bytes, PublicKey] | None:
    if public is None:
        return None
    keys = public if isinstance(public, (list, tuple, set)) else [public]
    out: dict[bytes, PublicKey] = {}
    for k in keys:
        if isinstance(k, KeyPair):
            k = k.public
        elif isinstance(k, (bytes, bytearray)):
            k = PublicKey.from_bytes(bytes(k))
        if not isinstance(k, PublicKey):
            raise NexusError(f"public must be the signer's PublicKey (or a list of them), got "
                             f"{type(k).__name__}")
        out[k.fingerprint] = k
    if not out:
        raise NexusError("public is an empty list: give the key(s) that must have signed")
    return out


class _Check:
    def __init__(self, folder: Path, trusted: dict[bytes, PublicKey] | None,
                 keypair: KeyPair | None, cases: set[str] | None) -> None:
        self.folder = folder
        self.trusted = trusted
        self.keypair = keypair
        self.only = cases
        self.problems: list[str] = []
        self.keys: dict[bytes, PublicKey] = {}

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    # ------------------------------------------------------------------ store

    def run(self) -> VerifyReport:
        repo = CaseRepository(self.folder / "cases.db", readonly=True)
        try:
            try:
                meta = repo.meta()
                case_rows = [(c.number, c.status) for c in repo.cases()]
                history = [(h.case_number, h.to_status) for h in repo.status_history()]
                evidence = repo.evidence_rows()
                custody = repo.custody_rows()
            except sqlite3.DatabaseError as err:
                raise IntegrityError(f"case store {str(self.folder)!r}: cases.db cannot be "
                                     f"read as a case database ({err})") from None
        finally:
            repo.close()
        self._load_keys()
        signer_fp = str(meta.get("signer", ""))
        try:
            signer_raw = bytes.fromhex(signer_fp)
        except ValueError:
            signer_raw, signer_fp = b"", ""
        signer = self.keys.get(signer_raw) if signer_raw else None
        if signer is None:
            self.fail("keys/", f"the store's signing key ({signer_fp[:32] or 'unknown'}) has "
                               "no public bundle in keys/")
        if self.trusted is not None and signer_raw and signer_raw not in self.trusted:
            self.fail("store", f"the store's records are signed by key {signer_fp[:32]}, not "
                               f"by the expected key(s) "
                               f"{[k.fingerprint_hex for k in self.trusted.values()]}")
        signer_name = (f"{signer.label or '?'} ({signer.fingerprint_hex})" if signer
                       else signer_fp[:32])
        entries, audit_summary = self._audit(signer_fp)

        wanted = (lambda c: True) if self.only is None else (lambda c: c in self.only)
        self._cases({n: s for n, s in case_rows if wanted(n)}, history, entries, wanted)

        rows = {(r.case_number, r.evidence_id): r for r in evidence if wanted(r.case_number)}
        chains: dict[tuple[str, str], list[CustodyRow]] = defaultdict(list)
        for k in custody:
            if wanted(k.case_number):
                chains[(k.case_number, k.evidence_id)].append(k)
        logged: dict[tuple[str, str], dict[str, tuple[int, str]]] = defaultdict(dict)
        added: dict[tuple[str, str], int] = {}
        for seq, action, resource, details in entries:
            key = _item_of(resource)
            if key is None or not wanted(key[0]):
                continue
            if action == "evidence.added":
                added[key] = seq
            if action in _CUSTODY_ACTIONS and isinstance(details.get("event_hash"), str):
                logged[key][details["event_hash"]] = (seq, action)
        on_disk = self._files(wanted)
        keys = sorted(set(rows) | set(on_disk) | set(added) | set(chains))
        items = [self._item(k, rows.get(k), chains.get(k, []), logged.get(k, {}),
                            added.get(k)) for k in keys]
        frame_ = pd.DataFrame(items, columns=_ITEM_COLUMNS)
        return VerifyReport(self.folder, frame_, self.problems, audit_summary, signer_name,
                            self.trusted is not None,
                            sum(1 for n, _ in case_rows if wanted(n)))

    def _load_keys(self) -> None:
        for path in sorted((self.folder / "keys").glob("*.nxpub")):
            try:
                pub = PublicKey.load(path)
            except (IntegrityError, NexusError) as err:
                self.fail(f"keys/{path.name}", f"not a readable public key bundle ({err})")
                continue
            if pub.fingerprint_hex != path.stem:
                self.fail(f"keys/{path.name}", f"the bundle's fingerprint is "
                                               f"{pub.fingerprint_hex}, not its file name: it "
                                               "was replaced")
                continue
            self.keys[pub.fingerprint] = pub

    def _key_for(self, fp: bytes) -> tuple[PublicKey | None, str]:
        """The key to check a signature by ``fp`` with, or None and why not."""
        if self.trusted is not None:
            key = self.trusted.get(fp)
            if key is None:
                known = self.keys.get(fp)
                who = f"{known.label} " if known is not None and known.label else ""
                return None, (f"it was signed by key {who}{fp[:16].hex()}, not by the "
                              f"expected key(s) "
                              f"{[k.fingerprint_hex for k in self.trusted.values()]}")
            return key, ""
        key = self.keys.get(fp)
        if key is None:
            return None, (f"it was signed by key {fp[:16].hex()}, whose public bundle is not "
                          "in keys/")
        return key, ""

    def _audit(self, signer_fp: str) -> tuple[list[tuple[int, str, str, dict]], dict]:
        path = self.folder / "audit.db"
        if not path.is_file():
            self.fail("audit log", "audit.db is missing")
            return [], {}
        con = connect(path, readonly=True)
        summary: dict = {}
        try:
            log = AuditLog(con)
            try:
                rep = log.verify(None)
                summary = rep.summary()
                allowed = ({k.fingerprint_hex for k in self.trusted.values()}
                           if self.trusted is not None else {signer_fp[:32]})
                for s in rep.signers:
                    if s not in allowed:
                        self.fail("audit log", f"checkpoints are signed by key {s}, not by "
                                               f"the store's key {sorted(allowed)}")
            except IntegrityError as err:
                self.fail("audit log (audit.db)", str(err))
            try:
                df = log.entries()
            except (sqlite3.DatabaseError, ValueError) as err:
                self.fail("audit log (audit.db)", f"its entries cannot be read ({err})")
                return [], summary
        except (NexusError, sqlite3.DatabaseError) as err:
            self.fail("audit log (audit.db)", f"cannot be read ({err})")
            return [], summary
        finally:
            con.close()
        entries = [(int(s), a, r, d if isinstance(d, dict) else {})
                   for s, a, r, d in zip(df["seq"], df["action"], df["resource"],
                                         df["details"])]
        return entries, summary

    def _cases(self, statuses: dict[str, str], history: list[tuple],
               entries: list[tuple[int, str, str, dict]], wanted: Any) -> None:
        logged: dict[str, tuple[int, str]] = {}
        for seq, action, resource, details in entries:
            if action in _STATUS_ACTIONS and resource.startswith("case/") \
                    and resource.count("/") == 1:
                logged[resource[5:]] = (seq, str(details.get("to")))
        last_history = {c: s for c, s in history}
        for number, status in statuses.items():
            where = f"case {number}"
            if number not in logged:
                self.fail(where, "it is not in the audit log: it was added to cases.db behind "
                                 "the store's back")
            elif logged[number][1] != status:
                self.fail(where, f"cases.db says status {status!r}, the audit log's last "
                                 f"status change (entry {logged[number][0]}) says "
                                 f"{logged[number][1]!r}")
            if last_history.get(number) != status:
                self.fail(where, f"cases.db says status {status!r}, its status history ends "
                                 f"at {last_history.get(number)!r}")
        for number, (seq, _) in logged.items():
            if number not in statuses and wanted(number):
                self.fail(f"case {number}", f"the audit log records it (entry {seq}) but it is "
                                            "missing from cases.db: it was deleted")

    def _files(self, wanted: Any) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        root = self.folder / "evidence"
        if not root.is_dir():
            return found
        for case_dir in root.iterdir():
            if not case_dir.is_dir() or case_dir.name.startswith(".") \
                    or not wanted(case_dir.name):
                continue
            for p in case_dir.iterdir():
                if p.is_file() and not p.name.startswith(".") \
                        and p.suffix in (".nxs", ".json", ".sig"):
                    found.add((case_dir.name, p.stem))
        return found

    # ------------------------------------------------------------------ items

    def _item(self, key: tuple[str, str], row: EvidenceRow | None, chain: list[CustodyRow],
              logged: dict[str, tuple[int, str]], added: int | None) -> dict:
        case, eid = key
        name = row.name if row is not None else ""
        where = f"case {case}, evidence {eid}" + (f" ({name})" if name else "")
        before = len(self.problems)
        out = {"case": case, "evidence_id": eid, "name": name, "status": "failed",
               "custody_events": len(chain), "holder": row.holder if row is not None else "",
               "plaintext": "not checked", "problems": ""}
        base = self.folder / "evidence" / case / eid
        if row is None:
            if added is not None:
                self.fail(where, f"the audit log records its intake (entry {added}) but it is "
                                 "missing from cases.db: it was deleted")
            else:
                self.fail(where, f"its files are in evidence/{case}/ but neither cases.db nor "
                                 "the audit log knows it")
            out["problems"] = "; ".join(p.split(": ", 1)[1] for p in self.problems[before:])
            return out
        if added is None:
            self.fail(where, "its intake is not in the audit log: it was added behind the "
                             "store's back")
        record, record_bytes = self._record(where, base, row)
        sealed = base.with_suffix(".nxs")
        if not sealed.is_file():
            self.fail(where, f"the sealed file {eid}.nxs is missing")
        elif record is not None:
            got, size = file_sha256(sealed)
            if got != record.get("sealed_sha256"):
                self.fail(where, f"the sealed file's SHA-256 is {got}, the signed intake "
                                 f"record says {record.get('sealed_sha256')}: the sealed file "
                                 "was altered or replaced")
            elif size != record.get("sealed_size"):
                self.fail(where, f"the sealed file has {size} bytes, the signed intake "
                                 f"record says {record.get('sealed_size')}")
        first_prev = sha256_hex(record_bytes) if record_bytes is not None else row.record_sha256
        self._chain(where, case, eid, chain, first_prev, row.holder, logged)
        if self.keypair is not None and record is not None and sealed.is_file():
            out["plaintext"] = self._plaintext(where, sealed, record)
        mine = self.problems[before:]
        out["status"] = "ok" if not mine else "failed"
        out["problems"] = "; ".join(p.split(": ", 1)[1] for p in mine)
        return out

    def _record(self, where: str, base: Path, row: EvidenceRow) -> tuple[dict | None,
                                                                          bytes | None]:
        eid = base.name
        try:
            record_bytes = base.with_suffix(".json").read_bytes()
        except OSError:
            self.fail(where, f"the intake record {eid}.json is missing or unreadable")
            return None, None
        try:
            record = json.loads(record_bytes)
            canon = canonical(record)
        except (ValueError, TypeError):
            self.fail(where, "the intake record is not valid JSON: it was edited")
            return None, record_bytes
        if not isinstance(record, dict):
            self.fail(where, "the intake record is not a JSON object: it was edited")
            return None, record_bytes
        if canon != record_bytes:
            self.fail(where, "the intake record is not in canonical form: it was edited")
        if sha256_hex(record_bytes) != row.record_sha256:
            self.fail(where, "the intake record's SHA-256 differs from the one cases.db "
                             "kept at intake: the record was edited or replaced")
        expected = {"case": row.case_number, "evidence": row.evidence_id, "name": row.name,
                    "kind": row.kind, "size": row.size, "sha256": row.sha256,
                    "sealed_sha256": row.sealed_sha256}
        for field_, value in expected.items():
            if record.get(field_) != value:
                self.fail(where, f"cases.db says {field_}={value!r}, the intake record "
                                 f"{record.get(field_)!r}")
        try:
            sig = Signature.from_bytes(base.with_suffix(".sig").read_bytes())
        except OSError:
            self.fail(where, f"the intake record's signature {eid}.sig is missing")
            return record, record_bytes
        except IntegrityError as err:
            self.fail(where, f"the intake record's signature file is corrupted ({err})")
            return record, record_bytes
        key, why = self._key_for(sig.signer)
        if key is None:
            self.fail(where, f"the intake record's signature cannot be trusted: {why}")
        else:
            try:
                verify_signature(record_bytes, sig, key)
            except IntegrityError as err:
                self.fail(where, f"the intake record's signature fails: {err}")
        if record.get("signer") != sig.signer.hex():
            self.fail(where, "the intake record names another signer than its signature")
        return record, record_bytes

    def _chain(self, where: str, case: str, eid: str, chain: list[CustodyRow], prev: str,
               holder: str, logged: dict[str, tuple[int, str]]) -> None:
        if not chain:
            self.fail(where, "it has no custody events: the intake event is missing")
        last_to, complete = None, False
        for i, ev in enumerate(chain, 1):
            (_, _, seq, event, at, actor, src, dst, note, details, prev_hash, event_hash,
             signature) = ev
            label = f"custody event {seq} ({event}, {at})"
            if seq != i:
                self.fail(where, f"custody event {i} is missing: the chain goes from event "
                                 f"{i - 1} to event {seq}")
                break
            if i == 1 and event != "intake":
                self.fail(where, f"{label} should be the intake")
            try:
                det = json.loads(details)
                body = canonical(custody_record(
                    case=case, evidence=eid, seq=seq, event=event, at=at, actor=actor,
                    from_holder=src, to_holder=dst, note=note, details=det, prev=prev_hash))
            except (ValueError, TypeError):
                self.fail(where, f"{label} was altered: its details are not valid JSON")
                break
            if sha256_hex(body) != event_hash:
                self.fail(where, f"{label} was altered: its content no longer matches its "
                                 "hash")
                break
            if prev_hash != prev:
                self.fail(where, f"{label} does not follow "
                                 + ("the signed intake record" if i == 1 else f"event {i - 1}")
                                 + ": an event was removed, replaced or reordered")
                break
            try:
                sig = Signature.from_bytes(bytes(signature))
            except IntegrityError as err:
                self.fail(where, f"{label}'s signature is corrupted ({err})")
                break
            key, why = self._key_for(sig.signer)
            if key is None:
                self.fail(where, f"{label}'s signature cannot be trusted: {why}")
                break
            try:
                verify_signature(body, sig, key)
            except IntegrityError as err:
                self.fail(where, f"{label}'s signature fails: {err}")
                break
            prev, last_to = event_hash, dst
        else:
            complete = bool(chain)
        if complete and last_to != holder:
            self.fail(where, f"cases.db names {holder!r} as its holder, the custody chain "
                             f"{last_to!r}")
        hashes = {ev.event_hash for ev in chain}
        for h, (seq, action) in sorted(logged.items(), key=lambda kv_: kv_[1]):
            if h not in hashes:
                self.fail(where, f"the custody event recorded in audit entry {seq} ({action}) "
                                 "is missing from cases.db: it was deleted")
        for ev in chain:
            if ev.event_hash not in logged:
                self.fail(where, f"custody event {ev.seq} ({ev.event}) is not in the audit log: "
                                 "it was added or rewritten behind the store's back")

    def _plaintext(self, where: str, sealed: Path, record: dict) -> str:
        assert self.keypair is not None
        if self.keypair.fingerprint.hex() not in record.get("recipients", []):
            return "not a recipient"
        with tempfile.TemporaryDirectory(prefix="nexus-verify-") as tmp:
            try:
                out = open_sealed(sealed, self.keypair, out=Path(tmp) / "plain")
                got, size = file_sha256(out)
            except (IntegrityError, NexusError) as err:
                self.fail(where, f"the seal does not open: {err}")
                return "failed"
        if got != record.get("sha256") or size != record.get("size"):
            self.fail(where, f"the opened plaintext's SHA-256 is {got} ({size} bytes), the "
                             f"signed intake record says {record.get('sha256')} "
                             f"({record.get('size')} bytes)")
            return "failed"
        return "ok"


def _item_of(resource: str) -> tuple[str, str] | None:
    parts = resource.split("/")
    if len(parts) == 4 and parts[0] == "case" and parts[2] == "evidence":
        return parts[1], parts[3]
    return None
