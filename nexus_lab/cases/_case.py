"""A case: evidence intake, chain of custody, milestones, status and timeline."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from nexus_lab import audit as _audit_service
from nexus_lab._html import badge, escape, frame, kv
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
from nexus_lab.cases._repository import (
    CaseRepository,
    CaseRow,
    CustodyRow,
    EvidenceRow,
    MilestoneRow,
    StatusChange,
)
from nexus_lab.crypto import (
    KeyPair,
    PublicKey,
    need_keypair,
    open_sealed,
    recipient_keys,
    seal_with_digests,
)
from nexus_lab.crypto import verify as verify_signature
from nexus_lab.errors import IntegrityError, NexusError
from nexus_lab.files import atomic_file

if TYPE_CHECKING:  # pragma: no cover
    from nexus_lab.cases._verify import VerifyReport

__all__ = ["Case", "EvidenceItem", "timeline_frame"]

log = logging.getLogger("nexus_lab")

_TIMELINE = ["time", "case", "kind", "event", "item", "actor", "detail"]


class _Store(Protocol):
    """What a :class:`Case` uses of its store (:class:`~nexus_lab.cases.CaseStore`):
    public members only, so the store depends on the case and not the other way."""

    folder: Path
    signer: PublicKey | None

    @property
    def repository(self) -> CaseRepository: ...

    def require_writable(self) -> PublicKey: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def record_action(self, action: str, resource: str, details: Mapping[str, Any],
                      actor: str) -> None: ...

    def sign_record(self, data: bytes) -> bytes: ...

    def save_keys(self, keys: Iterable[PublicKey]) -> None: ...

    def key(self, fingerprint: str | bytes) -> PublicKey | None: ...

    def verify(self, public: Any = None, keypair: KeyPair | None = None, *,
               strict: bool = True, cases: Iterable[str] | None = None) -> VerifyReport: ...


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
        return (f"<div class='nexus-evidence'><h4>Evidence {escape(self.evidence_id)} of "
                f"case {escape(self.case)}: {escape(self.name)}</h4>"
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

    def __init__(self, store: _Store, number: str) -> None:
        self._store = store
        self._repo = store.repository
        self.number = number

    # ------------------------------------------------------------------ properties

    def _row(self) -> CaseRow:
        row = self._repo.case(self.number)
        if row is None:
            raise NexusError(f"case {self.number} is no longer in the store")
        return row

    @property
    def title(self) -> str:
        return self._row().title

    @property
    def description(self) -> str:
        return self._row().description

    @property
    def status(self) -> str:
        """One of ``open, under_investigation, in_litigation, closed, archived``."""
        return self._row().status

    @property
    def opened_at(self) -> str:
        return self._row().opened_at

    @property
    def opened_by(self) -> str:
        return self._row().opened_by

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
        store, repo = self._store, self._repo
        with store.transaction():
            current = self._current_status()
            allowed = TRANSITIONS[current]
            if status not in allowed:
                nxt = (" or ".join(repr(s) for s in allowed) + " next") if allowed else \
                    "nowhere (an archived case is final)"
                raise NexusError(f"case {self.number} is {current!r}: it can go to {nxt}, "
                                 f"not {status!r}")
            at = now()
            repo.insert_status(StatusChange(self.number, repo.next_status_seq(self.number), at,
                                            who, current, status, note))
            repo.set_case_status(self.number, status, at)
            action = "case.closed" if status == "closed" else "case.status_changed"
            store.record_action(action, f"case/{self.number}",
                                {"from": current, "to": status, "note": note}, who)

    def _current_status(self) -> str:
        status = self._repo.case_status(self.number)
        if status is None:
            raise NexusError(f"case {self.number} is no longer in the store")
        return status

    def _require_active(self, doing: str) -> None:
        status = self._current_status()
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
        store, repo = self._store, self._repo
        me = store.require_writable()
        description = check_text(description, "description")
        who = _audit_service.actor(actor)
        holder = who if holder is None else check_text(holder, "holder")
        self._require_active("add evidence to")
        kind, source = _kind(data)
        if name is not None:
            name = check_text(name, "name")
        elif kind == "file":
            name = source.name
        extra = [] if recipients is None else [recipients] if isinstance(
            recipients, (PublicKey, KeyPair)) else list(recipients)
        pubs = recipient_keys([me, *(recipient_keys(extra) if extra else [])])
        store.save_keys(pubs)
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
            with store.transaction():
                self._require_active("add evidence to")
                seq = max(repo.max_evidence_seq(self.number), _files_seq(case_dir)) + 1
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
                    "signer": me.fingerprint.hex(),
                }
                record_bytes = canonical(record)
                record_sha = sha256_hex(record_bytes)
                base = case_dir / eid
                written.append(base.with_suffix(".nxs"))
                os.replace(sealed_tmp, written[-1])
                for suffix, content in ((".json", record_bytes),
                                        (".sig", store.sign_record(record_bytes))):
                    written.append(base.with_suffix(suffix))
                    with atomic_file(written[-1]) as tmp:
                        tmp.write_bytes(content)
                repo.insert_evidence(EvidenceRow(
                    self.number, eid, seq, name, kind, description, size, sha, sealed_sha,
                    sealed_size, record_sha, json.dumps(record["recipients"]), at, who,
                    holder))
                event_hash, _ = self._custody(eid, "intake", at, who, "", holder,
                                              description, {"name": name, "sha256": sha},
                                              prev=record_sha)
                repo.touch_case(self.number, at)
                store.record_action("evidence.added", f"case/{self.number}/evidence/{eid}", {
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
        r = self._evidence_row(evidence_id)
        n = self._repo.count_custody(self.number, evidence_id)
        return EvidenceItem(self.number, r.evidence_id, r.name, r.kind, r.description, r.size,
                            r.sha256, r.sealed_sha256,
                            self._store.folder / "evidence" / self.number /
                            f"{r.evidence_id}.nxs", r.received_at, r.received_by, r.holder,
                            tuple(json.loads(r.recipients)), n)

    def evidence(self) -> pd.DataFrame:
        """The case's evidence: ``evidence_id, name, kind, description, size, sha256,
        sealed_sha256, received_at, received_by, holder, custody_events``."""
        df = pd.DataFrame(self._repo.evidence_overview(self.number),
                          columns=["evidence_id", "name", "kind", "description", "size",
                                   "sha256", "sealed_sha256", "received_at", "received_by",
                                   "holder", "custody_events"])
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
        with store.transaction():
            holder = self._evidence_row(evidence_id).holder
            if holder == to:
                raise NexusError(f"evidence {evidence_id} of case {self.number} is already "
                                 f"held by {to!r}")
            at = now()
            event_hash, seq = self._custody(evidence_id, "transfer", at, who, holder, to,
                                            reason, {})
            self._repo.set_holder(self.number, evidence_id, to)
            self._repo.touch_case(self.number, at)
            store.record_action("custody.transferred",
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
        store.require_writable()
        purpose = check_text(purpose, "purpose")
        who = _audit_service.actor(actor)
        need_keypair(keypair, "opening evidence")
        row = self._evidence_row(evidence_id)
        resource = f"case/{self.number}/evidence/{evidence_id}"
        fp = keypair.fingerprint.hex()
        try:
            record = self._checked_record(evidence_id, row)
        except IntegrityError as err:
            store.record_action("evidence.access_failed", resource,
                                {"evidence": evidence_id, "key": fp, "purpose": purpose,
                                 "error": str(err)}, who)
            raise
        if fp not in record["recipients"]:
            store.record_action("evidence.access_denied", resource,
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
        with store.transaction():
            holder = self._evidence_row(evidence_id).holder
            at = now()
            event_hash, seq = self._custody(evidence_id, "access", at, who, holder,
                                            holder, purpose,
                                            {"key": fp, "key_label": keypair.label})
            self._repo.touch_case(self.number, at)
            store.record_action("evidence.accessed", resource,
                                {"evidence": evidence_id, "seq": seq, "key": fp,
                                 "purpose": purpose, "event_hash": event_hash}, who)
        return result

    def custody(self, evidence_id: str | None = None) -> pd.DataFrame:
        """The chain of custody: ``evidence_id, seq, event, at, actor, from, to, note,
        event_hash``, of one item or of all the case's items."""
        if evidence_id is not None:
            self._evidence_row(evidence_id)
        rows = [(r.evidence_id, r.seq, r.event, r.at, r.actor, r.from_holder, r.to_holder,
                 r.note, r.event_hash)
                for r in self._repo.custody_rows(self.number, evidence_id)]
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
        store, repo = self._store, self._repo
        with store.transaction():
            if self._current_status() == "archived":
                raise NexusError(f"case {self.number} is archived: cannot add milestones")
            seq = repo.next_milestone_seq(self.number)
            mid = f"M-{seq:03d}"
            at = now()
            repo.insert_milestone(MilestoneRow(self.number, mid, seq, title, due_at, at, who,
                                               at if done else None, who if done else None,
                                               note))
            repo.touch_case(self.number, at)
            store.record_action("milestone.added", f"case/{self.number}/milestone/{mid}",
                          {"milestone": mid, "title": title, "due": due_at, "done": bool(done),
                           "note": note}, who)
        return mid

    def complete_milestone(self, milestone_id: str, *, actor: str | None = None,
                           note: str = "") -> None:
        """Mark a milestone done (``milestone.done`` in the audit log)."""
        note = check_text(note, "note", empty=True)
        who = _audit_service.actor(actor)
        store, repo = self._store, self._repo
        with store.transaction():
            row = repo.milestone(self.number, milestone_id)
            if row is None:
                known = [m.milestone_id for m in repo.milestone_rows(self.number)]
                raise NexusError(f"case {self.number} has no milestone {milestone_id!r}; it "
                                 f"has {known or 'none'}")
            if row.done_at is not None:
                raise NexusError(f"milestone {milestone_id} of case {self.number} was done "
                                 f"at {row.done_at}")
            at = now()
            repo.complete_milestone(self.number, milestone_id, at=at, actor=who, note=note)
            repo.touch_case(self.number, at)
            store.record_action("milestone.done", f"case/{self.number}/milestone/{milestone_id}",
                          {"milestone": milestone_id, "note": note}, who)

    def milestones(self) -> pd.DataFrame:
        """``milestone_id, title, due, status`` (``open``, ``overdue`` or ``done``),
        ``created_at, created_by, done_at, done_by, note``."""
        rows = [(m.milestone_id, m.title, m.due, m.created_at, m.created_by, m.done_at,
                 m.done_by, m.note) for m in self._repo.milestone_rows(self.number)]
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
        return timeline_frame(self._repo, self.number)

    def verify(self, public: Any = None, keypair: KeyPair | None = None, *,
               strict: bool = True) -> VerifyReport:
        """Check this case's evidence and custody, and the store's audit log, from the
        files (see :func:`nexus_lab.cases.verify`; ``public`` defaults to the store's
        own key when it is open with its key pair)."""
        return self._store.verify(public, keypair, strict=strict, cases=[self.number])

    def summary(self) -> dict:
        """Number, title, status, dates, and counts of evidence, custody events and
        milestones."""
        row = self._row()
        ms = self.milestones()["status"].value_counts()
        return {
            "number": self.number, "title": row.title, "status": row.status,
            "opened_at": row.opened_at, "opened_by": row.opened_by,
            "updated_at": row.updated_at,
            "evidence": self._repo.count_evidence(self.number),
            "custody_events": self._repo.count_custody(self.number),
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
        return (f"<div class='nexus-case'><h4>Case {escape(self.number)}: "
                f"{escape(s['title'])} {badge(s['status'])}</h4>{kv(facts)}"
                f"<h5>Evidence</h5>{frame(ev, empty='no evidence yet')}"
                f"<h5>Milestones</h5>{frame(self.milestones(), empty='no milestones')}"
                f"<h5>Latest events</h5>{frame(tl)}</div>")

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Case({self.number!r}, title={s['title']!r}, status={s['status']!r}, "
                f"evidence={s['evidence']})")

    # ------------------------------------------------------------------ internals

    def _evidence_row(self, evidence_id: str) -> EvidenceRow:
        row = self._repo.evidence(self.number, evidence_id)
        if row is None:
            known = self._repo.evidence_ids(self.number)
            raise NexusError(f"case {self.number} has no evidence {evidence_id!r}; it has "
                             f"{known[:20] or 'none yet'}")
        return row

    def _custody(self, evidence_id: str, event: str, at: str, actor: str,
                 from_holder: str, to_holder: str, note: str, details: dict, *,
                 prev: str | None = None) -> tuple[str, int]:
        """Append one signed, chained custody event; return ``(event hash, seq)``."""
        if prev is None:
            last = self._repo.last_custody(self.number, evidence_id)
            if last is None:
                raise IntegrityError(f"case {self.number}, evidence {evidence_id}: its chain "
                                     "of custody is empty (the intake event is missing); run "
                                     "nexus_lab.cases.verify on the store")
            seq, prev = last[0] + 1, last[1]
        else:
            seq = 1
        body = canonical(custody_record(
            case=self.number, evidence=evidence_id, seq=seq, event=event, at=at, actor=actor,
            from_holder=from_holder, to_holder=to_holder, note=note, details=details,
            prev=prev))
        event_hash = sha256_hex(body)
        self._repo.insert_custody(CustodyRow(
            self.number, evidence_id, seq, event, at, actor, from_holder, to_holder, note,
            canonical(details).decode(), prev, event_hash, self._store.sign_record(body)))
        return event_hash, seq

    def _checked_record(self, evidence_id: str, row: EvidenceRow) -> dict:
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
        if sha256_hex(record_bytes) != row.record_sha256:
            raise IntegrityError(f"{where}: the intake record file differs from the one "
                                 "taken in (its SHA-256 changed)")
        signer = store.signer or store.require_writable()
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


def timeline_frame(repo: CaseRepository, number: str | None) -> pd.DataFrame:
    """Events of one case (or all) in time order; see :meth:`Case.timeline`."""
    rows: list[tuple] = []
    titles = {c.number: c.title for c in repo.cases()}
    for h in repo.status_history(number):
        if h.from_status is None:
            rows.append((h.at, h.case_number, "case", "case opened", "", h.actor,
                         titles.get(h.case_number, "")))
        else:
            detail = f"{h.from_status} → {h.to_status}" + (f": {h.note}" if h.note else "")
            rows.append((h.at, h.case_number, "case", "status changed", "", h.actor, detail))
    names = {(e.case_number, e.evidence_id): e.name for e in repo.evidence_rows(number)}
    for k in repo.custody_rows(number):
        name = names.get((k.case_number, k.evidence_id), "")
        if k.event == "intake":
            detail = f"{name}: received by {k.to_holder}; {k.note}"
        elif k.event == "transfer":
            detail = f"{name}: {k.from_holder} → {k.to_holder}; {k.note}"
        else:
            detail = f"{name}: opened ({k.note})"
        rows.append((k.at, k.case_number, "custody", k.event, k.evidence_id, k.actor, detail))
    for m in repo.milestone_rows(number):
        rows.append((m.created_at, m.case_number, "milestone", "milestone added",
                     m.milestone_id, m.created_by,
                     m.title + (f" (due {m.due[:10]})" if m.due else "")))
        if m.due:
            rows.append((m.due, m.case_number, "milestone", "milestone due", m.milestone_id,
                         "", m.title + (" (done)" if m.done_at else "")))
        if m.done_at:
            rows.append((m.done_at, m.case_number, "milestone", "milestone done",
                         m.milestone_id, m.done_by, m.title))
    df = pd.DataFrame(rows, columns=_TIMELINE)
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601")
    return df.sort_values("time", kind="stable").reset_index(drop=True)
