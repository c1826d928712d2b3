"""A case: evidence intake, chain of custody, milestones, status and timeline."""

from __future__ import annotations

import html
import json
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nexus_lab import audit as _audit_service
from nexus_lab.cases._html import badge, frame, kv
from nexus_lab.cases._records import (
    ACTIVE,
    INTAKE_FORMAT,
    STATUSES,
    TRANSITIONS,
    canonical,
    check_text,
    custody_record,
    file_sha256,
    now,
    sha256_hex,
    to_utc,
)
from nexus_lab.crypto._keys import KeyPair, PublicKey
from nexus_lab.crypto._seal import _recipients, open_sealed, seal_with_digests
from nexus_lab.crypto._sign import verify as verify_signature
from nexus_lab.errors import IntegrityError, NexusError
from nexus_lab.files import atomic_file

if TYPE_CHECKING:  # pragma: no cover
    from nexus_lab.cases._store import CaseStore
    from nexus_lab.cases._verify import VerifyReport

__all__ = ["Case", "EvidenceItem", "timeline_frame"]

log = logging.getLogger("nexus_lab")

_TIMELINE = ["time", "case", "kind", "event", "item", "actor", "detail"]


@dataclass(frozen=True)
class EvidenceItem:
    """One item of evidence as the store holds it now (a snapshot).

    Attributes
    ----------
    case, evidence_id : str
        Where it is: ``evidence/<case>/<evidence_id>.nxs``.
    name, kind, description : str
        Its name (a file's name), ``"bytes"``, ``"file"`` or ``"dataframe"``, and what
        it is.
    size : int
        Plaintext bytes (for a DataFrame: of the Parquet file that was sealed).
    sha256 : str
        SHA-256 of the plaintext (for a DataFrame: of that Parquet file).
    sealed_sha256 : str
        SHA-256 of the sealed file (``sha256sum`` shows the same).
    sealed_file : pathlib.Path
    received_at, received_by, holder : str
        Intake time (UTC), who took it in, and who holds it now.
    recipients : tuple of str
        Fingerprints (hex) of the keys that can open it.
    custody_events : int
    """

    case: str
    evidence_id: str
    name: str
    kind: str
    description: str
    size: int
    sha256: str
    sealed_sha256: str
    sealed_file: Path
    received_at: str
    received_by: str
    holder: str
    recipients: tuple[str, ...]
    custody_events: int

    def summary(self) -> dict:
        """The item's facts as a dict."""
        return {"case": self.case, "evidence_id": self.evidence_id, "name": self.name,
                "kind": self.kind, "description": self.description, "size": self.size,
                "sha256": self.sha256, "sealed_sha256": self.sealed_sha256,
                "received_at": self.received_at, "received_by": self.received_by,
                "holder": self.holder, "recipients": len(self.recipients),
                "custody_events": self.custody_events}

    def _repr_html_(self) -> str:
        return (f"<div class='nexus-evidence'><h4>Evidence {html.escape(self.evidence_id)} of "
                f"case {html.escape(self.case)}: {html.escape(self.name)}</h4>"
                f"{kv(self.summary())}</div>")


class Case:
    """A case in a :class:`CaseStore`: get it with ``store.new_case`` or ``store.case``.

    A case is a live view: its properties read the store each time.

    Attributes
    ----------
    number : str
        The case number.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from nexus_lab.cases import CaseStore
    >>> from nexus_lab.crypto import generate_keypair
    >>> key, prosecutor = generate_keypair("evidence-room"), generate_keypair("prosecutor")
    >>> store = CaseStore(tempfile.mkdtemp() + "/store", key, create=True)
    >>> case = store.new_case("Vendor kickbacks", number="2025-FR-001", actor="examiner")
    >>> item = case.add_evidence(pd.DataFrame({"invoice": [1, 2], "amount": [950, 1200]}),
    ...                          description="AP ledger extract", actor="examiner",
    ...                          recipients=[prosecutor.public])
    >>> _ = case.transfer(item.evidence_id, to="prosecutor", actor="examiner",
    ...                   reason="charging decision")
    >>> table = case.open_evidence(item.evidence_id, prosecutor, actor="prosecutor",
    ...                            purpose="review")
    >>> int(table["amount"].sum())
    2150
    >>> case.set_status("under_investigation", actor="examiner")
    >>> case.timeline()["event"].tolist()
    ['case opened', 'intake', 'transfer', 'access', 'status changed']
    >>> case.verify().ok
    True
    """

    def __init__(self, store: CaseStore, number: str) -> None:
        self._store = store
        self.number = number

    # ------------------------------------------------------------------ properties

    def _row(self) -> tuple:
        row = self._store._db.execute(
            "SELECT title, description, status, opened_at, opened_by, updated_at FROM cases "
            "WHERE number = ?", (self.number,)).fetchone()
        if row is None:
            raise NexusError(f"case {self.number} is no longer in the store")
        return row

    @property
    def title(self) -> str:
        return self._row()[0]

    @property
    def description(self) -> str:
        return self._row()[1]

    @property
    def status(self) -> str:
        """One of ``open, under_investigation, in_litigation, closed, archived``."""
        return self._row()[2]

    @property
    def opened_at(self) -> str:
        return self._row()[3]

    @property
    def opened_by(self) -> str:
        return self._row()[4]

    # ------------------------------------------------------------------ status

    def set_status(self, status: str, *, actor: str | None = None, note: str = "") -> None:
        """Move the case along its lifecycle.

        ``open -> under_investigation -> in_litigation -> closed -> archived``; any
        active case can be closed, and a closed one reopened (``under_investigation``).
        An archived case is final. Recorded as ``case.status_changed`` (``case.closed``
        when closing) in the audit log.

        Raises
        ------
        NexusError
            An unknown status, or one that cannot follow the current one (the message
            names those that can).

        Examples
        --------
        >>> import tempfile
        >>> from nexus_lab.cases import CaseStore
        >>> from nexus_lab.crypto import generate_keypair
        >>> store = CaseStore(tempfile.mkdtemp() + "/s", generate_keypair(), create=True)
        >>> case = store.new_case("Test", number="2025-7", actor="examiner")
        >>> case.set_status("under_investigation", actor="examiner", note="subpoenas out")
        >>> case.set_status("open", actor="examiner")
        Traceback (most recent call last):
        ...
        nexus_lab.errors.NexusError: case 2025-7 is 'under_investigation': it can go to 'in_litigation' or 'closed' next, not 'open'
        """  # noqa: E501
        if status not in STATUSES:
            raise NexusError(f"unknown case status {status!r}; the statuses are "
                             f"{', '.join(STATUSES)}")
        note = check_text(note, "note", empty=True)
        who = _audit_service.actor(actor)
        store = self._store
        with store._write() as cur:
            current = cur.execute("SELECT status FROM cases WHERE number = ?",
                                  (self.number,)).fetchone()[0]
            allowed = TRANSITIONS[current]
            if status not in allowed:
                nxt = (" or ".join(repr(s) for s in allowed) + " next") if allowed else \
                    "nowhere (an archived case is final)"
                raise NexusError(f"case {self.number} is {current!r}: it can go to {nxt}, "
                                 f"not {status!r}")
            at = now()
            seq = cur.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM status_history "
                              "WHERE case_number = ?", (self.number,)).fetchone()[0]
            cur.execute("INSERT INTO status_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (self.number, seq, at, who, current, status, note))
            cur.execute("UPDATE cases SET status = ?, updated_at = ? WHERE number = ?",
                        (status, at, self.number))
            action = "case.closed" if status == "closed" else "case.status_changed"
            store._record(action, f"case/{self.number}",
                          {"from": current, "to": status, "note": note}, who)

    def _require_active(self, cur: sqlite3.Cursor | sqlite3.Connection, doing: str) -> None:
        status = cur.execute("SELECT status FROM cases WHERE number = ?",
                             (self.number,)).fetchone()[0]
        if status not in ACTIVE:
            raise NexusError(f"case {self.number} is {status!r}: cannot {doing} it; reopen it "
                             "first with set_status('under_investigation')"
                             if status == "closed" else
                             f"case {self.number} is archived: cannot {doing} it")

    # ------------------------------------------------------------------ evidence

    def add_evidence(self, data: Any, *, description: str, actor: str | None = None,
                     recipients: Iterable[PublicKey | KeyPair] | PublicKey | None = None,
                     name: str | None = None, holder: str | None = None) -> EvidenceItem:
        """Take in evidence: seal it, sign its intake record, start its chain of custody.

        The data is sealed (:func:`nexus_lab.crypto.seal`) for the store's key and
        ``recipients`` and hashed in the same pass (a DataFrame is sealed as Parquet, and
        the hash is that of the Parquet file); no plaintext is written into the store.
        The intake record, canonical JSON of ``case, evidence, name, kind, description,
        size, sha256`` (plaintext), ``sealed_file, sealed_sha256, sealed_size,
        recipients, received_at, received_by, holder, signer``, is written next to the
        sealed file and signed with the store's key. The first custody event, ``intake``,
        chains to the record's SHA-256. The files appear only together with the database
        rows (one transaction): a failed intake leaves nothing behind.

        Parameters
        ----------
        data : bytes, str or path-like naming a file, or pandas.DataFrame
            The evidence. A file is streamed; a DataFrame is sealed as Parquet.
        description : str
            What it is and where it came from.
        actor : str, optional
            Who takes it in (default :func:`nexus_lab.audit.actor`).
        recipients : PublicKey, KeyPair or list of them, optional
            Who else may open it (besides the store's key).
        name : str, optional
            Its name; default the file's name, else ``<evidence id>.bin`` or ``.parquet``.
        holder : str, optional
            Who holds it after intake; default ``actor``.

        Returns
        -------
        EvidenceItem
            Its id is ``E-0001``, ``E-0002``... within the case.

        Raises
        ------
        NexusError
            The case is closed or archived, the store is read-only, the data is of an
            unsupported type, or a file changed while it was being sealed.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from nexus_lab.cases import CaseStore
        >>> from nexus_lab.crypto import generate_keypair
        >>> store = CaseStore(tempfile.mkdtemp() + "/s", generate_keypair("room"), create=True)
        >>> case = store.new_case("Ghost vendors", actor="examiner")
        >>> src = pathlib.Path(tempfile.mkdtemp()) / "vendors.csv"
        >>> _ = src.write_text("vendor,iban\\nAcme,DE00 0000\\n")
        >>> item = case.add_evidence(src, description="vendor master, exported by IT",
        ...                          actor="examiner")
        >>> item.evidence_id, item.name, item.size, item.holder
        ('E-0001', 'vendors.csv', 27, 'examiner')
        >>> item.sealed_file.name
        'E-0001.nxs'
        """
        store = self._store
        kp = store._writable()
        description = check_text(description, "description")
        who = _audit_service.actor(actor)
        holder = who if holder is None else check_text(holder, "holder")
        self._require_active(store._db, "add evidence to")
        kind, source = _kind(data)
        if name is not None:
            name = check_text(name, "name")
        elif kind == "file":
            name = source.name
        extra = [] if recipients is None else [recipients] if isinstance(
            recipients, (PublicKey, KeyPair)) else list(recipients)
        pubs = _recipients([kp.public, *(_recipients(extra) if extra else [])])
        store._save_keys(pubs)
        case_dir = store.folder / "evidence" / self.number
        case_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=case_dir, prefix=".intake-"))
        written: list[Path] = []
        try:
            sealed_tmp = work / "sealed.nxs"
            before = _stat(source) if kind == "file" else None
            # one pass: what is hashed is exactly what is sealed
            d = seal_with_digests(source if kind == "file" else data, pubs, sealed_tmp)
            if before is not None and _stat(source) != before:
                raise NexusError(f"{str(source)!r} changed while it was being sealed; "
                                 "take it in again once nothing writes to it")
            sha, size, sealed_sha, sealed_size = (d["sha256"], d["size"], d["sealed_sha256"],
                                                  d["sealed_size"])
            with store._write() as cur:
                self._require_active(cur, "add evidence to")
                seq = max(cur.execute("SELECT COALESCE(MAX(seq), 0) FROM evidence WHERE "
                                      "case_number = ?", (self.number,)).fetchone()[0],
                          _files_seq(case_dir)) + 1
                eid = f"E-{seq:04d}"
                if name is None:
                    name = f"{eid}.parquet" if kind == "dataframe" else f"{eid}.bin"
                at = now()
                record = {
                    "format": INTAKE_FORMAT, "case": self.number, "evidence": eid,
                    "name": name, "kind": kind, "description": description, "size": size,
                    "sha256": sha, "sealed_file": f"{eid}.nxs", "sealed_sha256": sealed_sha,
                    "sealed_size": sealed_size, "recipients": [p.fingerprint.hex()
                                                               for p in pubs],
                    "received_at": at, "received_by": who, "holder": holder,
                    "signer": kp.fingerprint.hex(),
                }
                record_bytes = canonical(record)
                record_sha = sha256_hex(record_bytes)
                base = case_dir / eid
                written.append(base.with_suffix(".nxs"))
                os.replace(sealed_tmp, written[-1])
                for suffix, content in ((".json", record_bytes),
                                        (".sig", store._sign(record_bytes))):
                    written.append(base.with_suffix(suffix))
                    with atomic_file(written[-1]) as tmp:
                        tmp.write_bytes(content)
                cur.execute(
                    "INSERT INTO evidence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.number, eid, seq, name, kind, description, size, sha, sealed_sha,
                     sealed_size, record_sha, json.dumps(record["recipients"]), at, who,
                     holder))
                event_hash, _ = self._custody(cur, eid, "intake", at, who, "", holder,
                                              description, {"name": name, "sha256": sha},
                                              prev=record_sha)
                self._touch(cur, at)
                store._record("evidence.added", f"case/{self.number}/evidence/{eid}", {
                    "evidence": eid, "name": name, "kind": kind, "size": size, "sha256": sha,
                    "sealed_sha256": sealed_sha, "record_sha256": record_sha,
                    "holder": holder, "event_hash": event_hash}, who)
        except BaseException:
            for p in written:
                p.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.info("case %s: evidence %s (%s, %d bytes) taken in by %s", self.number, eid, name,
                 size, who)
        return self.item(eid)

    def item(self, evidence_id: str) -> EvidenceItem:
        """One evidence item (NexusError naming the case's items when unknown)."""
        row = self._evidence_row(self._store._db, evidence_id)
        n = self._store._db.execute(
            "SELECT COUNT(*) FROM custody WHERE case_number = ? AND evidence_id = ?",
            (self.number, evidence_id)).fetchone()[0]
        (_, eid, _, name, kind, description, size, sha, sealed_sha, _, _, recipients, at, who,
         holder) = row
        return EvidenceItem(self.number, eid, name, kind, description, size, sha, sealed_sha,
                            self._store.folder / "evidence" / self.number / f"{eid}.nxs",
                            at, who, holder, tuple(json.loads(recipients)), n)

    def evidence(self) -> pd.DataFrame:
        """The case's evidence: ``evidence_id, name, kind, description, size, sha256,
        sealed_sha256, received_at, received_by, holder, custody_events``."""
        rows = self._store._db.execute(
            "SELECT e.evidence_id, e.name, e.kind, e.description, e.size, e.sha256, "
            "e.sealed_sha256, e.received_at, e.received_by, e.holder, "
            "(SELECT COUNT(*) FROM custody k WHERE k.case_number = e.case_number "
            " AND k.evidence_id = e.evidence_id) "
            "FROM evidence e WHERE e.case_number = ? ORDER BY e.seq", (self.number,)).fetchall()
        df = pd.DataFrame(rows, columns=["evidence_id", "name", "kind", "description", "size",
                                         "sha256", "sealed_sha256", "received_at",
                                         "received_by", "holder", "custody_events"])
        df["received_at"] = pd.to_datetime(df["received_at"], utc=True, format="ISO8601")
        return df

    # ------------------------------------------------------------------ custody

    def transfer(self, evidence_id: str, *, to: str, actor: str | None = None,
                 reason: str) -> EvidenceItem:
        """Hand an item to someone else: a signed custody event from its holder to ``to``.

        Parameters
        ----------
        evidence_id : str
        to : str
            The new holder (a person, a lab, a court).
        actor : str, optional
            Who hands it over (default :func:`nexus_lab.audit.actor`).
        reason : str
            Why (required: a chain of custody says why each hand-over happened).

        Returns
        -------
        EvidenceItem
            The item with its new holder.
        """
        to = check_text(to, "to (the new holder)")
        reason = check_text(reason, "reason")
        who = _audit_service.actor(actor)
        store = self._store
        with store._write() as cur:
            row = self._evidence_row(cur, evidence_id)
            holder = row[14]
            if holder == to:
                raise NexusError(f"evidence {evidence_id} of case {self.number} is already "
                                 f"held by {to!r}")
            at = now()
            event_hash, seq = self._custody(cur, evidence_id, "transfer", at, who, holder, to,
                                            reason, {})
            cur.execute("UPDATE evidence SET holder = ? WHERE case_number = ? AND "
                        "evidence_id = ?", (to, self.number, evidence_id))
            self._touch(cur, at)
            store._record("custody.transferred",
                          f"case/{self.number}/evidence/{evidence_id}",
                          {"evidence": evidence_id, "seq": seq, "from": holder, "to": to,
                           "reason": reason, "event_hash": event_hash}, who)
        return self.item(evidence_id)

    def open_evidence(self, evidence_id: str, keypair: KeyPair, *, actor: str | None = None,
                      purpose: str, out: str | os.PathLike[str] | None = None) -> Any:
        """Open an item's seal with a recipient's key pair, and log the access.

        Before opening, the intake record's signature and the sealed file's SHA-256 are
        checked; after, the plaintext's SHA-256 (bytes and ``out`` files). A successful
        opening is an ``access`` custody event (``evidence.accessed`` in the audit
        log); a key that is not a recipient is refused and logged as
        ``evidence.access_denied``.

        Parameters
        ----------
        evidence_id : str
        keypair : KeyPair
            A recipient's key pair (the store's own key is always one).
        actor : str, optional
            Who opens it (default :func:`nexus_lab.audit.actor`).
        purpose : str
            Why (required).
        out : str or path-like, optional
            Write the plaintext to this file (for a DataFrame: its Parquet file) and
            return its path.

        Returns
        -------
        bytes, pandas.DataFrame or pathlib.Path

        Raises
        ------
        NexusError
            ``keypair`` is not a recipient of the item.
        IntegrityError
            The intake record, its signature, the sealed file or the plaintext fails its
            check (the message names which).
        """
        store = self._store
        store._writable()
        purpose = check_text(purpose, "purpose")
        who = _audit_service.actor(actor)
        if not isinstance(keypair, KeyPair):
            raise NexusError(f"opening evidence needs a recipient's KeyPair, got "
                             f"{type(keypair).__name__}")
        row = self._evidence_row(store._db, evidence_id)
        resource = f"case/{self.number}/evidence/{evidence_id}"
        fp = keypair.fingerprint.hex()
        try:
            record = self._checked_record(evidence_id, row)
        except IntegrityError as err:
            store._record("evidence.access_failed", resource,
                          {"evidence": evidence_id, "key": fp, "purpose": purpose,
                           "error": str(err)}, who)
            raise
        if fp not in record["recipients"]:
            store._record("evidence.access_denied", resource,
                          {"evidence": evidence_id, "key": fp, "purpose": purpose}, who)
            names = [self._key_name(r) for r in record["recipients"]]
            raise NexusError(
                f"evidence {evidence_id} of case {self.number} is sealed for {names}; "
                f"{keypair.label or 'this key'} ({keypair.public.fingerprint_hex}) is not "
                "one of them: ask its holder to open it, or take in a copy sealed for you")
        sealed = store.folder / "evidence" / self.number / f"{evidence_id}.nxs"
        result = open_sealed(sealed, keypair, out=out)
        got = None
        if isinstance(result, (bytes, bytearray)):
            got = sha256_hex(bytes(result))
        elif isinstance(result, Path):
            got = file_sha256(result)[0]
        if got is not None and got != record["sha256"]:
            if isinstance(result, Path):
                result.unlink(missing_ok=True)
            raise IntegrityError(f"case {self.number}, evidence {evidence_id}: the opened "
                                 f"plaintext's SHA-256 is {got}, the signed intake record "
                                 f"says {record['sha256']}")
        with store._write() as cur:
            holder = self._evidence_row(cur, evidence_id)[14]
            at = now()
            event_hash, seq = self._custody(cur, evidence_id, "access", at, who, holder,
                                            holder, purpose,
                                            {"key": fp, "key_label": keypair.label})
            self._touch(cur, at)
            store._record("evidence.accessed", resource,
                          {"evidence": evidence_id, "seq": seq, "key": fp,
                           "purpose": purpose, "event_hash": event_hash}, who)
        return result

    def custody(self, evidence_id: str | None = None) -> pd.DataFrame:
        """The chain of custody: ``evidence_id, seq, event, at, actor, from, to, note,
        event_hash``, of one item or of all the case's items."""
        sql = ("SELECT evidence_id, seq, event, at, actor, from_holder, to_holder, note, "
               "event_hash FROM custody WHERE case_number = ?")
        args: tuple = (self.number,)
        if evidence_id is not None:
            self._evidence_row(self._store._db, evidence_id)
            sql += " AND evidence_id = ?"
            args += (evidence_id,)
        rows = self._store._db.execute(sql + " ORDER BY evidence_id, seq", args).fetchall()
        df = pd.DataFrame(rows, columns=["evidence_id", "seq", "event", "at", "actor", "from",
                                         "to", "note", "event_hash"])
        df["at"] = pd.to_datetime(df["at"], utc=True, format="ISO8601")
        return df

    # ------------------------------------------------------------------ milestones

    def add_milestone(self, title: str, *, due: Any = None, done: bool = False,
                      actor: str | None = None, note: str = "") -> str:
        """Add a milestone (a hearing, a filing deadline, a report due).

        Parameters
        ----------
        title : str
        due : date, datetime or str, optional
            When it is due (a date without a time zone is taken as UTC).
        done : bool, default False
            Already done (recorded as done now).
        actor : str, optional
        note : str, optional

        Returns
        -------
        str
            The milestone id (``M-001``, ...), for :meth:`complete_milestone`.

        Examples
        --------
        >>> import tempfile
        >>> from nexus_lab.cases import CaseStore
        >>> from nexus_lab.crypto import generate_keypair
        >>> case = CaseStore(tempfile.mkdtemp() + "/s", generate_keypair(), create=True
        ...                  ).new_case("Ghost vendors", actor="examiner")
        >>> case.add_milestone("Expert report due", due="2031-06-30", actor="prosecutor")
        'M-001'
        >>> case.milestones()[["milestone_id", "status"]].values.tolist()
        [['M-001', 'open']]
        """
        title = check_text(title, "milestone title")
        note = check_text(note, "note", empty=True)
        due_at = to_utc(due, "due")
        who = _audit_service.actor(actor)
        store = self._store
        with store._write() as cur:
            status = cur.execute("SELECT status FROM cases WHERE number = ?",
                                 (self.number,)).fetchone()[0]
            if status == "archived":
                raise NexusError(f"case {self.number} is archived: cannot add milestones")
            seq = cur.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM milestones WHERE "
                              "case_number = ?", (self.number,)).fetchone()[0]
            mid = f"M-{seq:03d}"
            at = now()
            cur.execute("INSERT INTO milestones VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.number, mid, seq, title, due_at, at, who,
                         at if done else None, who if done else None, note))
            self._touch(cur, at)
            store._record("milestone.added", f"case/{self.number}/milestone/{mid}",
                          {"milestone": mid, "title": title, "due": due_at, "done": bool(done),
                           "note": note}, who)
        return mid

    def complete_milestone(self, milestone_id: str, *, actor: str | None = None,
                           note: str = "") -> None:
        """Mark a milestone done (``milestone.done`` in the audit log)."""
        note = check_text(note, "note", empty=True)
        who = _audit_service.actor(actor)
        store = self._store
        with store._write() as cur:
            row = cur.execute("SELECT done_at FROM milestones WHERE case_number = ? AND "
                              "milestone_id = ?", (self.number, milestone_id)).fetchone()
            if row is None:
                known = [r[0] for r in cur.execute(
                    "SELECT milestone_id FROM milestones WHERE case_number = ? ORDER BY seq",
                    (self.number,))]
                raise NexusError(f"case {self.number} has no milestone {milestone_id!r}; it "
                                 f"has {known or 'none'}")
            if row[0] is not None:
                raise NexusError(f"milestone {milestone_id} of case {self.number} was done "
                                 f"at {row[0]}")
            at = now()
            cur.execute("UPDATE milestones SET done_at = ?, done_by = ?, note = CASE WHEN "
                        "? = '' THEN note ELSE ? END WHERE case_number = ? AND "
                        "milestone_id = ?", (at, who, note, note, self.number, milestone_id))
            self._touch(cur, at)
            store._record("milestone.done", f"case/{self.number}/milestone/{milestone_id}",
                          {"milestone": milestone_id, "note": note}, who)

    def milestones(self) -> pd.DataFrame:
        """``milestone_id, title, due, status`` (``open``, ``overdue`` or ``done``),
        ``created_at, created_by, done_at, done_by, note``."""
        rows = self._store._db.execute(
            "SELECT milestone_id, title, due, created_at, created_by, done_at, done_by, note "
            "FROM milestones WHERE case_number = ? ORDER BY seq", (self.number,)).fetchall()
        df = pd.DataFrame(rows, columns=["milestone_id", "title", "due", "created_at",
                                         "created_by", "done_at", "done_by", "note"])
        for col in ("due", "created_at", "done_at"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        late = df["due"] < pd.Timestamp.now(tz="UTC")
        df.insert(3, "status", ["done" if d else ("overdue" if o else "open")
                                for d, o in zip(df["done_at"].notna(), late)])
        return df

    # ------------------------------------------------------------------ views

    def timeline(self) -> pd.DataFrame:
        """Every event of the case in time order.

        Columns ``time`` (UTC), ``case``, ``kind`` (``case``, ``custody``,
        ``milestone``), ``event`` (``case opened``, ``status changed``, ``intake``,
        ``transfer``, ``access``, ``milestone added``, ``milestone due``,
        ``milestone done``), ``item`` (evidence or milestone id), ``actor``, ``detail``.
        A milestone's due date is an event at that date, so deadlines ahead show last.
        """
        return timeline_frame(self._store, self.number)

    def verify(self, public: Any = None, keypair: KeyPair | None = None, *,
               strict: bool = True) -> VerifyReport:
        """Check this case's evidence and custody, and the store's audit log, from the
        files (see :func:`nexus_lab.cases.verify`; ``public`` defaults to the store's
        own key when it is open with its key pair)."""
        from nexus_lab.cases._verify import verify

        return verify(self._store.folder, self._store._pin(public), keypair, strict=strict,
                      cases=[self.number])

    def summary(self) -> dict:
        """Number, title, status, dates, and counts of evidence, custody events and
        milestones."""
        title, _, status, opened_at, opened_by, updated_at = self._row()
        db = self._store._db
        ms = self.milestones()["status"].value_counts()
        return {
            "number": self.number, "title": title, "status": status, "opened_at": opened_at,
            "opened_by": opened_by, "updated_at": updated_at,
            "evidence": db.execute("SELECT COUNT(*) FROM evidence WHERE case_number = ?",
                                   (self.number,)).fetchone()[0],
            "custody_events": db.execute("SELECT COUNT(*) FROM custody WHERE case_number = ?",
                                         (self.number,)).fetchone()[0],
            "milestones_open": int(ms.get("open", 0)),
            "milestones_overdue": int(ms.get("overdue", 0)),
            "milestones_done": int(ms.get("done", 0)),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        facts = {k: v for k, v in s.items() if k not in ("number", "title", "status")}
        ev = self.evidence()
        ev["sha256"] = ev["sha256"].str[:16] + "…"
        ev = ev.drop(columns=["sealed_sha256"])
        tl = self.timeline().tail(10)
        return (f"<div class='nexus-case'><h4>Case {html.escape(self.number)}: "
                f"{html.escape(s['title'])} {badge(s['status'])}</h4>{kv(facts)}"
                f"<h5>Evidence</h5>{frame(ev, empty='no evidence yet')}"
                f"<h5>Milestones</h5>{frame(self.milestones(), empty='no milestones')}"
                f"<h5>Latest events</h5>{frame(tl)}</div>")

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Case({self.number!r}, title={s['title']!r}, status={s['status']!r}, "
                f"evidence={s['evidence']})")

    # ------------------------------------------------------------------ internals

    def _evidence_row(self, cur: sqlite3.Cursor | sqlite3.Connection,
                      evidence_id: str) -> tuple:
        row = cur.execute("SELECT * FROM evidence WHERE case_number = ? AND evidence_id = ?",
                          (self.number, evidence_id)).fetchone()
        if row is None:
            known = [r[0] for r in cur.execute(
                "SELECT evidence_id FROM evidence WHERE case_number = ? ORDER BY seq",
                (self.number,))]
            raise NexusError(f"case {self.number} has no evidence {evidence_id!r}; it has "
                             f"{known[:20] or 'none yet'}")
        return row

    def _custody(self, cur: sqlite3.Cursor, evidence_id: str, event: str, at: str, actor: str,
                 from_holder: str, to_holder: str, note: str, details: dict, *,
                 prev: str | None = None) -> tuple[str, int]:
        """Append one signed, chained custody event; return ``(event hash, seq)``."""
        if prev is None:
            seq, prev = cur.execute(
                "SELECT seq + 1, event_hash FROM custody WHERE case_number = ? AND "
                "evidence_id = ? ORDER BY seq DESC LIMIT 1",
                (self.number, evidence_id)).fetchone()
        else:
            seq = 1
        body = canonical(custody_record(
            case=self.number, evidence=evidence_id, seq=seq, event=event, at=at, actor=actor,
            from_holder=from_holder, to_holder=to_holder, note=note, details=details,
            prev=prev))
        event_hash = sha256_hex(body)
        cur.execute("INSERT INTO custody VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.number, evidence_id, seq, event, at, actor, from_holder, to_holder,
                     note, canonical(details).decode(), prev, event_hash,
                     self._store._sign(body)))
        return event_hash, seq

    def _touch(self, cur: sqlite3.Cursor, at: str) -> None:
        cur.execute("UPDATE cases SET updated_at = ? WHERE number = ?", (at, self.number))

    def _checked_record(self, evidence_id: str, row: tuple) -> dict:
        """The item's intake record, after checking its signature and the sealed file."""
        store = self._store
        base = store.folder / "evidence" / self.number / evidence_id
        where = f"case {self.number}, evidence {evidence_id}"
        try:
            record_bytes = base.with_suffix(".json").read_bytes()
            sig = base.with_suffix(".sig").read_bytes()
        except OSError as err:
            raise IntegrityError(f"{where}: cannot read its intake record or signature "
                                 f"({err.strerror or err})") from None
        if sha256_hex(record_bytes) != row[10]:
            raise IntegrityError(f"{where}: the intake record file differs from the one "
                                 "taken in (its SHA-256 changed)")
        signer = store.signer or store._writable().public
        try:
            verify_signature(record_bytes, sig, signer)
        except IntegrityError as err:
            raise IntegrityError(f"{where}: the intake record's signature fails: {err}") \
                from None
        record = json.loads(record_bytes)
        sealed = base.with_suffix(".nxs")
        try:
            got = file_sha256(sealed)[0]
        except OSError as err:
            raise IntegrityError(f"{where}: cannot read the sealed file "
                                 f"({err.strerror or err})") from None
        if got != record["sealed_sha256"]:
            raise IntegrityError(f"{where}: the sealed file's SHA-256 is {got}, the signed "
                                 f"intake record says {record['sealed_sha256']}: the sealed "
                                 "file was altered or replaced")
        return record

    def _key_name(self, fingerprint: str) -> str:
        pub = self._store.key(fingerprint)
        label = pub.label if pub is not None and pub.label else "?"
        return f"{label} ({fingerprint[:32]})"


# ---------------------------------------------------------------------------- helpers


def _kind(data: Any) -> tuple[str, Any]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return "bytes", None
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if not p.is_file():
            raise NexusError(f"no such file {str(p)!r} to take in as evidence (to take in "
                             "text, pass it encoded: text.encode())")
        return "file", p
    if type(data).__name__ == "DataFrame":
        return "dataframe", None
    raise NexusError(f"cannot take in a {type(data).__name__} as evidence: give bytes, a file "
                     "path or a pandas DataFrame")


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _files_seq(case_dir: Path) -> int:
    """The highest ``E-nnnn`` among files already in the case folder (orphans included)."""
    best = 0
    for p in case_dir.glob("E-*.*"):
        digits = p.stem[2:]
        if digits.isdigit():
            best = max(best, int(digits))
    return best


def timeline_frame(store: CaseStore, number: str | None) -> pd.DataFrame:
    """Events of one case (or all) in time order; see :meth:`Case.timeline`."""
    db = store._db
    where, args = ("WHERE case_number = ?", (number,)) if number else ("", ())
    rows: list[tuple] = []
    titles = dict(db.execute("SELECT number, title FROM cases").fetchall())
    for case, at, actor, old, new, note in db.execute(
            f"SELECT case_number, at, actor, from_status, to_status, note FROM status_history "
            f"{where} ORDER BY seq", args):
        if old is None:
            rows.append((at, case, "case", "case opened", "", actor, titles.get(case, "")))
        else:
            detail = f"{old} → {new}" + (f": {note}" if note else "")
            rows.append((at, case, "case", "status changed", "", actor, detail))
    names = {(c, e): n for c, e, n in db.execute("SELECT case_number, evidence_id, name "
                                                 "FROM evidence")}
    for case, eid, event, at, actor, src, dst, note in db.execute(
            f"SELECT case_number, evidence_id, event, at, actor, from_holder, to_holder, note "
            f"FROM custody {where} ORDER BY seq", args):
        name = names.get((case, eid), "")
        if event == "intake":
            detail = f"{name}: received by {dst}; {note}"
        elif event == "transfer":
            detail = f"{name}: {src} → {dst}; {note}"
        else:
            detail = f"{name}: opened ({note})"
        rows.append((at, case, "custody", event, eid, actor, detail))
    for case, mid, title, due, created, by, done_at, done_by in db.execute(
            f"SELECT case_number, milestone_id, title, due, created_at, created_by, done_at, "
            f"done_by FROM milestones {where} ORDER BY seq", args):
        rows.append((created, case, "milestone", "milestone added", mid, by,
                     title + (f" (due {due[:10]})" if due else "")))
        if due:
            rows.append((due, case, "milestone", "milestone due", mid, "",
                         title + (" (done)" if done_at else "")))
        if done_at:
            rows.append((done_at, case, "milestone", "milestone done", mid, done_by, title))
    df = pd.DataFrame(rows, columns=_TIMELINE)
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    return df.sort_values("time", kind="stable").reset_index(drop=True)
