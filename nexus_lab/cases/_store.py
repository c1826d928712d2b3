"""The case store: a folder holding cases, sealed evidence, custody chains and an audit log."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit as _audit_service
from nexus_lab._html import escape, frame, kv
from nexus_lab.cases._case import Case, timeline_frame
from nexus_lab.cases._records import (
    STATUSES,
    STORE_FORMAT,
    check_name,
    check_text,
    now,
)
from nexus_lab.cases._repository import CaseRepository, CaseRow, StatusChange, connect
from nexus_lab.cases._verify import VerifyReport, verify
from nexus_lab.crypto import AuditLog, KeyPair, PublicKey, need_keypair, sign
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["CaseStore"]


class CaseStore:
    """A folder of cases: their evidence sealed and signed, custody chains, an audit log.

    Everything needed to check the store later is in the folder::

        cases.db                      SQLite: cases, status history, evidence, custody
                                      events (hash-chained and signed), milestones
                                      (schema: nexus_lab.cases._repository)
        audit.db                      the audit log (hash-chained, checkpoints signed by
                                      the store's key after every action)
        audit.db.witness              every signed checkpoint head again, outside the
                                      log: removing the latest actions shows
        keys/<fingerprint>.nxpub       public bundles: the store's signing key and every
                                      recipient evidence was sealed for
        evidence/<case>/<id>.nxs      the sealed evidence (only its recipients open it)
        evidence/<case>/<id>.json     its intake record (canonical JSON)
        evidence/<case>/<id>.sig      the store key's signature of the intake record

    The store's key pair signs every record and checkpoint, and is always a recipient
    of the evidence sealed in it. Without a key pair the store opens read-only: list,
    view and verify, but not change.

    Parameters
    ----------
    folder : str or path-like
        The store's folder.
    keypair : KeyPair, optional
        The store's key pair (the one it was made with); needed to change anything.
    create : bool, default False
        Make the store when ``folder`` holds none (``folder`` must then be missing or
        empty; it is built aside and renamed into place, readable by its owner only).
    witnesses : iterable of str or path-like, optional
        More witness files or folders for the audit log's signed heads (besides
        ``audit.db.witness``), best on other storage than the store: the log
        remembers them and :func:`~nexus_lab.cases.verify` checks each it can reach.

    Raises
    ------
    NexusError
        No store in ``folder`` (and ``create`` not set), ``folder`` holds other files,
        or ``keypair`` is not the store's key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nexus_lab.cases import CaseStore
    >>> from nexus_lab.crypto import generate_keypair
    >>> key = generate_keypair("evidence-room")
    >>> store = CaseStore(pathlib.Path(tempfile.mkdtemp()) / "store", key, create=True)
    >>> case = store.new_case("Vendor kickbacks", number="2025-FR-001", actor="examiner")
    >>> store.cases()[["number", "title", "status"]].values.tolist()
    [['2025-FR-001', 'Vendor kickbacks', 'open']]
    """

    def __init__(self, folder: str | os.PathLike[str], keypair: KeyPair | None = None, *,
                 create: bool = False,
                 witnesses: Iterable[str | os.PathLike[str]] | None = None) -> None:
        if keypair is not None:
            need_keypair(keypair, "changing a case store (and making one)")
        self.folder = Path(folder)
        if not (self.folder / "cases.db").is_file():
            if not create:
                raise NexusError(
                    f"no case store in {str(self.folder)!r} (no cases.db); check the path, or "
                    "make one with CaseStore(folder, keypair, create=True)")
            if keypair is None:
                raise NexusError("making a case store needs its key pair: "
                                 "CaseStore(folder, nx.crypto.generate_keypair(...), "
                                 "create=True); save the key pair somewhere safe")
            _create(self.folder, keypair, witnesses)
        self._kp = keypair
        self._repo = CaseRepository(self.folder / "cases.db", readonly=keypair is None)
        try:
            meta = self._repo.meta()
        except sqlite3.DatabaseError as err:
            self._repo.close()
            raise NexusError(f"{str(self.folder / 'cases.db')!r} is not a case database "
                             f"({err})") from None
        if meta.get("format") != STORE_FORMAT:
            self._repo.close()
            raise NexusError(f"{str(self.folder)!r} holds a case store of format "
                             f"{meta.get('format')!r}; this NEXUS Lab reads {STORE_FORMAT!r}: "
                             "upgrade nexus-lab")
        self.created_at: str = meta.get("created_at", "")
        signer_fp = meta.get("signer", "")
        if keypair is not None and keypair.fingerprint.hex() != signer_fp:
            self._repo.close()
            given = keypair.label or "the given key pair"
            raise NexusError(
                f"this case store is signed by key {signer_fp[:32]}; {given} "
                f"({keypair.public.fingerprint_hex}) is another key: open the store with its "
                "own key pair, or without one (read-only)")
        self.signer: PublicKey | None = self.key(signer_fp)
        self._audit = _audit_log(self.folder / "audit.db", keypair, witnesses=witnesses)

    # ------------------------------------------------------------------ cases

    def new_case(self, title: str, *, number: str | None = None, description: str = "",
                 actor: str | None = None) -> Case:
        """Open a new case (status ``"open"``).

        Parameters
        ----------
        title : str
            What the case is about.
        number : str, optional
            The case (docket) number: letters, digits, ``.``, ``_`` and ``-``. Default:
            the next free ``C-<year>-<nnnn>``.
        description : str, optional
        actor : str, optional
            Who opens it; default :func:`nexus_lab.audit.actor` (``NEXUS_LAB_ACTOR``, then
            the login name).

        Returns
        -------
        Case

        Examples
        --------
        >>> import tempfile
        >>> from nexus_lab.cases import CaseStore
        >>> from nexus_lab.crypto import generate_keypair
        >>> store = CaseStore(tempfile.mkdtemp() + "/s", generate_keypair(), create=True)
        >>> store.new_case("Payroll ghosts", actor="examiner").number.startswith("C-")
        True
        """
        title = check_text(title, "title")
        description = check_text(description, "description", empty=True)
        who = _audit_service.actor(actor)
        repo = self._repo
        with self.transaction():
            if number is None:
                number = self._next_number()
            else:
                check_name(number, "case number")
                old = repo.case(number)
                if old is not None:
                    raise NexusError(f"case {number} already exists (opened {old.opened_at} "
                                     f"by {old.opened_by}); choose another number, or use "
                                     f"store.case({number!r})")
            at = now()
            repo.insert_case(CaseRow(number, title, description, "open", at, who, at))
            repo.insert_status(StatusChange(number, 1, at, who, None, "open", ""))
            self.record_action("case.opened", f"case/{number}",
                               {"title": title, "to": "open"}, who)
        return Case(self, number)

    def case(self, number: str) -> Case:
        """The case with this number (NexusError naming the known ones when missing)."""
        if self._repo.case_status(number) is None:
            known = self._repo.case_numbers(limit=10)
            raise NexusError(f"no case {number!r} in {str(self.folder)!r}; cases: "
                             f"{known or 'none yet'}")
        return Case(self, number)

    def cases(self) -> pd.DataFrame:
        """Every case: ``number, title, status, opened_at, opened_by, updated_at, evidence,
        custody_events, milestones_open``."""
        df = pd.DataFrame(self._repo.case_overview(),
                          columns=["number", "title", "status", "opened_at", "opened_by",
                                   "updated_at", "evidence", "custody_events",
                                   "milestones_open"])
        for col in ("opened_at", "updated_at"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        return df

    def timeline(self) -> pd.DataFrame:
        """Every event of every case in time order (see :meth:`Case.timeline`)."""
        return timeline_frame(self._repo, None)

    def audit_log(self) -> pd.DataFrame:
        """The store's audit log entries (``seq, created_at, actor, action, resource,
        details, entry_hash``)."""
        return self._audit.entries()

    # ------------------------------------------------------------------ checking

    def verify(self, public: Any = None, keypair: KeyPair | None = None, *,
               strict: bool = True, cases: Iterable[str] | None = None) -> VerifyReport:
        """Check the whole store (or some ``cases``) from its files: see
        :func:`nexus_lab.cases.verify`.

        ``public`` defaults to the store's own key when it is open with its key pair.
        """
        if public is None and self._kp is not None:
            public = self._kp.public
        return verify(self.folder, public, keypair, strict=strict, cases=cases)

    def summary(self) -> dict:
        """Counts: cases by status, evidence items, custody events, audit entries."""
        repo = self._repo
        by_status = repo.status_counts()
        return {
            "folder": str(self.folder),
            "signer": self.signer.label if self.signer else "",
            "signer_fingerprint": self.signer.fingerprint_hex if self.signer else "",
            "writable": self._kp is not None,
            "cases": sum(by_status.values()),
            "by_status": {s: by_status.get(s, 0) for s in STATUSES if by_status.get(s)},
            "evidence": repo.count_evidence(),
            "custody_events": repo.count_custody(),
            "milestones_open": repo.count_open_milestones(),
            "audit_entries": len(self._audit),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        head = {k: v for k, v in s.items() if k != "by_status"}
        head["by_status"] = ", ".join(f"{k}: {v}" for k, v in s["by_status"].items()) or "-"
        cases = self.cases()
        cases["status"] = cases["status"].str.replace("_", " ")
        return (f"<div class='nexus-cases'><h4>Case store {escape(str(self.folder))}</h4>"
                f"{kv(head)}<h5>Cases</h5>{frame(cases, empty='no cases yet')}</div>")

    def __repr__(self) -> str:
        s = self.summary()
        mode = "" if s["writable"] else ", read-only"
        return (f"CaseStore({str(self.folder)!r}, cases={s['cases']}, "
                f"evidence={s['evidence']}{mode})")

    def close(self) -> None:
        """Close the database connections."""
        self._repo.close()
        self._audit.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ for cases

    @property
    def repository(self) -> CaseRepository:
        """The store's records (``cases.db``): every read and write goes through it."""
        return self._repo

    @property
    def writable(self) -> bool:
        """Whether the store is open with its key pair (and so can be changed)."""
        return self._kp is not None

    def require_writable(self) -> PublicKey:
        """The store's signing key (public half), or NexusError when open read-only.

        Examples
        --------
        >>> import tempfile
        >>> from nexus_lab.cases import CaseStore
        >>> from nexus_lab.crypto import generate_keypair
        >>> key = generate_keypair("room")
        >>> folder = tempfile.mkdtemp() + "/s"
        >>> CaseStore(folder, key, create=True).require_writable() == key.public
        True
        >>> CaseStore(folder).require_writable()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nexus_lab.errors.NexusError: the case store ... is open read-only: open it with its key pair, ...
        """  # noqa: E501
        return self._writable().public

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction of ``cases.db``; the audit entries :meth:`record_action`
        appends inside it are part of it (when one fails, nothing is written).

        Raises
        ------
        NexusError
            The store is open read-only.
        """
        self._writable()
        with self._repo.transaction():
            yield

    def record_action(self, action: str, resource: str, details: Mapping[str, Any],
                      actor: str) -> None:
        """Append an entry to the store's audit log (checkpointed and signed at once)."""
        _audit_service.record(action, resource, details, actor=actor, audit=self._audit)

    def sign_record(self, data: bytes) -> bytes:
        """The store key's signature of ``data`` (``NXSG`` bytes, see
        :func:`nexus_lab.crypto.sign`); NexusError when open read-only."""
        return sign(data, self._writable()).to_bytes()

    def save_keys(self, keys: Iterable[PublicKey]) -> None:
        """Keep these public bundles in ``keys/`` (those already there stay as they are)."""
        for pub in keys:
            path = self.folder / "keys" / f"{pub.fingerprint_hex}.nxpub"
            if not path.exists():
                pub.save(path)

    def key(self, fingerprint: str | bytes) -> PublicKey | None:
        """The public key in ``keys/`` with this fingerprint (hex or bytes), or None."""
        fp = fingerprint.hex() if isinstance(fingerprint, bytes) else str(fingerprint)
        path = self.folder / "keys" / f"{fp[:32]}.nxpub"
        if not path.is_file():
            return None
        try:
            pub = PublicKey.load(path)
        except (IntegrityError, NexusError):
            return None
        return pub if pub.fingerprint.hex().startswith(fp) else None

    # ------------------------------------------------------------------ internals

    def _writable(self) -> KeyPair:
        if self._kp is None:
            raise NexusError(f"the case store {str(self.folder)!r} is open read-only: open it "
                             "with its key pair, CaseStore(folder, keypair), to change it")
        return self._kp

    def _next_number(self) -> str:
        year = dt.datetime.now(dt.timezone.utc).year
        n = self._repo.count_cases_with_prefix(f"C-{year}-") + 1
        while self._repo.case_status(f"C-{year}-{n:04d}") is not None:
            n += 1
        return f"C-{year}-{n:04d}"


def _audit_log(path: Path, keypair: KeyPair | None, *, create: bool = False,
               witnesses: Iterable[str | os.PathLike[str]] | None = None) -> AuditLog:
    """The store's audit log: checkpointed after every entry, in one file.

    The connection is made here so that the file keeps SQLite's rollback journal
    (AuditLog's own default is WAL): every commit lands in ``audit.db`` itself, so a
    copy of the folder is complete, and opening it read-only leaves no side files.
    """
    if keypair is None:
        return AuditLog(connect(path, readonly=True), witnesses=witnesses)
    if not create and not path.is_file():
        raise NexusError(f"{str(path)!r} is missing: the case store is incomplete (run "
                         "nexus_lab.cases.verify on the folder)")
    return AuditLog(connect(path, readonly=False), signer=keypair, checkpoint_every=1,
                    witnesses=witnesses)


def _create(folder: Path, keypair: KeyPair,
            witnesses: Iterable[str | os.PathLike[str]] | None) -> None:
    """Build a new store aside and rename it into place (missing or empty ``folder``)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise NexusError(f"{str(folder)!r} is not empty and holds no case store; make the "
                         "store in a new or empty folder")
    parent = folder.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.partial-"))
    except OSError as err:
        raise NexusError(f"cannot make a case store in {str(parent)!r}: "
                         f"{err.strerror or err}") from None
    try:
        (work / "evidence").mkdir()
        keypair.public.save(work / "keys" / f"{keypair.public.fingerprint_hex}.nxpub")
        at = now()
        CaseRepository.create(work / "cases.db", {
            "format": STORE_FORMAT, "signer": keypair.fingerprint.hex(), "created_at": at})
        with _audit_log(work / "audit.db", keypair, create=True, witnesses=witnesses) as log:
            _audit_service.record("store.created", "store",
                                  {"signer": keypair.fingerprint.hex(), "label": keypair.label},
                                  audit=log)
        if folder.exists():
            folder.rmdir()
        os.replace(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

