"""The case store: a folder holding cases, sealed evidence, custody chains and an audit log."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from nexus_lab import audit as _audit_service
from nexus_lab.cases._case import Case, timeline_frame
from nexus_lab.cases._html import frame, kv
from nexus_lab.cases._records import STATUSES, STORE_FORMAT, check_name, check_text, now
from nexus_lab.cases._verify import VerifyReport, verify
from nexus_lab.crypto._audit import AuditLog
from nexus_lab.crypto._keys import KeyPair, PublicKey
from nexus_lab.crypto._sign import sign
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["CaseStore"]

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cases (
    number TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
    status TEXT NOT NULL, opened_at TEXT NOT NULL, opened_by TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE status_history (
    case_number TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
    from_status TEXT, to_status TEXT NOT NULL, note TEXT NOT NULL,
    PRIMARY KEY (case_number, seq));
CREATE TABLE evidence (
    case_number TEXT NOT NULL, evidence_id TEXT NOT NULL, seq INTEGER NOT NULL,
    name TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, sealed_sha256 TEXT NOT NULL,
    sealed_size INTEGER NOT NULL, record_sha256 TEXT NOT NULL, recipients TEXT NOT NULL,
    received_at TEXT NOT NULL, received_by TEXT NOT NULL, holder TEXT NOT NULL,
    PRIMARY KEY (case_number, evidence_id));
CREATE TABLE custody (
    case_number TEXT NOT NULL, evidence_id TEXT NOT NULL, seq INTEGER NOT NULL,
    event TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
    from_holder TEXT NOT NULL, to_holder TEXT NOT NULL, note TEXT NOT NULL,
    details TEXT NOT NULL, prev_hash TEXT NOT NULL, event_hash TEXT NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (case_number, evidence_id, seq));
CREATE TABLE milestones (
    case_number TEXT NOT NULL, milestone_id TEXT NOT NULL, seq INTEGER NOT NULL,
    title TEXT NOT NULL, due TEXT, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    done_at TEXT, done_by TEXT, note TEXT NOT NULL,
    PRIMARY KEY (case_number, milestone_id));
"""


class CaseStore:
    """A folder of cases: their evidence sealed and signed, custody chains, an audit log.

    Everything needed to check the store later is in the folder::

        cases.db                      SQLite: cases, status history, evidence, custody
                                      events (hash-chained and signed), milestones
        audit.db                      the audit log (hash-chained, checkpoints signed by
                                      the store's key after every action)
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
                 create: bool = False) -> None:
        if keypair is not None and not isinstance(keypair, KeyPair):
            raise NexusError(f"keypair must be the store's KeyPair (load it with "
                             f"nx.crypto.load_keypair), got {type(keypair).__name__}")
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
            _create(self.folder, keypair)
        self._kp = keypair
        self._db = _connect(self.folder / "cases.db", readonly=keypair is None)
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise NexusError(f"{str(self.folder / 'cases.db')!r} is not a case database "
                             f"({err})") from None
        if meta.get("format") != STORE_FORMAT:
            self._db.close()
            raise NexusError(f"{str(self.folder)!r} holds a case store of format "
                             f"{meta.get('format')!r}; this NEXUS Lab reads {STORE_FORMAT!r}: "
                             "upgrade nexus-lab")
        self.created_at: str = meta.get("created_at", "")
        signer_fp = meta.get("signer", "")
        if keypair is not None and keypair.fingerprint.hex() != signer_fp:
            self._db.close()
            given = keypair.label or "the given key pair"
            raise NexusError(
                f"this case store is signed by key {signer_fp[:32]}; {given} "
                f"({keypair.public.fingerprint_hex}) is another key: open the store with its "
                "own key pair, or without one (read-only)")
        self.signer: PublicKey | None = self.key(signer_fp)
        self._audit = _audit_log(self.folder / "audit.db", keypair)

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
        with self._write() as cur:
            if number is None:
                number = self._next_number(cur)
            else:
                check_name(number, "case number")
                old = cur.execute("SELECT opened_at, opened_by FROM cases WHERE number = ?",
                                  (number,)).fetchone()
                if old is not None:
                    raise NexusError(f"case {number} already exists (opened {old[0]} by "
                                     f"{old[1]}); choose another number, or use "
                                     f"store.case({number!r})")
            at = now()
            cur.execute("INSERT INTO cases VALUES (?, ?, ?, 'open', ?, ?, ?)",
                        (number, title, description, at, who, at))
            cur.execute("INSERT INTO status_history VALUES (?, 1, ?, ?, NULL, 'open', ?)",
                        (number, at, who, ""))
            self._record("case.opened", f"case/{number}",
                         {"title": title, "to": "open"}, who)
        return Case(self, number)

    def case(self, number: str) -> Case:
        """The case with this number (NexusError naming the known ones when missing)."""
        row = self._db.execute("SELECT number FROM cases WHERE number = ?",
                               (number,)).fetchone()
        if row is None:
            known = [r[0] for r in self._db.execute(
                "SELECT number FROM cases ORDER BY opened_at LIMIT 10")]
            raise NexusError(f"no case {number!r} in {str(self.folder)!r}; cases: "
                             f"{known or 'none yet'}")
        return Case(self, number)

    def cases(self) -> pd.DataFrame:
        """Every case: ``number, title, status, opened_at, opened_by, updated_at, evidence,
        custody_events, milestones_open``."""
        rows = self._db.execute(
            "SELECT c.number, c.title, c.status, c.opened_at, c.opened_by, c.updated_at, "
            "(SELECT COUNT(*) FROM evidence e WHERE e.case_number = c.number), "
            "(SELECT COUNT(*) FROM custody k WHERE k.case_number = c.number), "
            "(SELECT COUNT(*) FROM milestones m WHERE m.case_number = c.number "
            " AND m.done_at IS NULL) "
            "FROM cases c ORDER BY c.opened_at, c.number").fetchall()
        df = pd.DataFrame(rows, columns=["number", "title", "status", "opened_at", "opened_by",
                                         "updated_at", "evidence", "custody_events",
                                         "milestones_open"])
        for col in ("opened_at", "updated_at"):
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
        return df

    def timeline(self) -> pd.DataFrame:
        """Every event of every case in time order (see :meth:`Case.timeline`)."""
        return timeline_frame(self, None)

    def audit_log(self) -> pd.DataFrame:
        """The store's audit log entries (``seq, created_at, actor, action, resource,
        details, entry_hash``)."""
        return self._audit.entries()

    # ------------------------------------------------------------------ checking

    def verify(self, public: Any = None, keypair: KeyPair | None = None, *,
               strict: bool = True) -> VerifyReport:
        """Check the whole store from its files: see :func:`nexus_lab.cases.verify`.

        ``public`` defaults to the store's own key when it is open with its key pair.
        """
        return verify(self.folder, self._pin(public), keypair, strict=strict)

    def summary(self) -> dict:
        """Counts: cases by status, evidence items, custody events, audit entries."""
        by_status = dict(self._db.execute(
            "SELECT status, COUNT(*) FROM cases GROUP BY status").fetchall())
        one = self._db.execute
        return {
            "folder": str(self.folder),
            "signer": self.signer.label if self.signer else "",
            "signer_fingerprint": self.signer.fingerprint_hex if self.signer else "",
            "writable": self._kp is not None,
            "cases": sum(by_status.values()),
            "by_status": {s: by_status.get(s, 0) for s in STATUSES if by_status.get(s)},
            "evidence": one("SELECT COUNT(*) FROM evidence").fetchone()[0],
            "custody_events": one("SELECT COUNT(*) FROM custody").fetchone()[0],
            "milestones_open": one("SELECT COUNT(*) FROM milestones WHERE done_at IS NULL"
                                   ).fetchone()[0],
            "audit_entries": len(self._audit),
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        head = {k: v for k, v in s.items() if k != "by_status"}
        head["by_status"] = ", ".join(f"{k}: {v}" for k, v in s["by_status"].items()) or "-"
        cases = self.cases()
        cases["status"] = cases["status"].str.replace("_", " ")
        return (f"<div class='nexus-cases'><h4>Case store {html.escape(str(self.folder))}</h4>"
                f"{kv(head)}<h5>Cases</h5>{frame(cases, empty='no cases yet')}</div>")

    def __repr__(self) -> str:
        s = self.summary()
        mode = "" if s["writable"] else ", read-only"
        return (f"CaseStore({str(self.folder)!r}, cases={s['cases']}, "
                f"evidence={s['evidence']}{mode})")

    def close(self) -> None:
        """Close the database connections."""
        self._db.close()
        self._audit.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

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

    def _save_keys(self, keys: Iterable[PublicKey]) -> None:
        for pub in keys:
            path = self.folder / "keys" / f"{pub.fingerprint_hex}.nxpub"
            if not path.exists():
                pub.save(path)

    def _pin(self, public: Any) -> Any:
        if public is None and self._kp is not None:
            return self._kp.public
        return public

    def _writable(self) -> KeyPair:
        if self._kp is None:
            raise NexusError(f"the case store {str(self.folder)!r} is open read-only: open it "
                             "with its key pair, CaseStore(folder, keypair), to change it")
        return self._kp

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One transaction of cases.db (the audit entry is appended inside it)."""
        self._writable()
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _record(self, action: str, resource: str, details: Mapping[str, Any],
                actor: str) -> None:
        _audit_service.record(action, resource, details, actor=actor, audit=self._audit)

    def _sign(self, data: bytes) -> bytes:
        return sign(data, self._writable()).to_bytes()

    def _next_number(self, cur: sqlite3.Cursor) -> str:
        year = dt.datetime.now(dt.timezone.utc).year
        n = cur.execute("SELECT COUNT(*) FROM cases WHERE number LIKE ?",
                        (f"C-{year}-%",)).fetchone()[0] + 1
        while cur.execute("SELECT 1 FROM cases WHERE number = ?",
                          (f"C-{year}-{n:04d}",)).fetchone():
            n += 1
        return f"C-{year}-{n:04d}"


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        if not path.is_file():
            raise NexusError(f"{str(path)!r} is missing: the case store is incomplete")
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA synchronous=FULL")
    return db


def _audit_log(path: Path, keypair: KeyPair | None, *, create: bool = False) -> AuditLog:
    """The store's audit log: checkpointed after every entry, in one file.

    The connection is made here so that the file keeps SQLite's rollback journal
    (AuditLog's own default is WAL): every commit lands in ``audit.db`` itself, so a
    copy of the folder is complete, and opening it read-only leaves no side files.
    """
    if keypair is None:
        return AuditLog(_connect(path, readonly=True))
    if not create and not path.is_file():
        raise NexusError(f"{str(path)!r} is missing: the case store is incomplete (run "
                         "nexus_lab.cases.verify on the folder)")
    return AuditLog(_connect(path, readonly=False), signer=keypair, checkpoint_every=1)


def _create(folder: Path, keypair: KeyPair) -> None:
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
        db = sqlite3.connect(work / "cases.db")
        try:
            db.executescript(_SCHEMA)
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("format", STORE_FORMAT), ("signer", keypair.fingerprint.hex()),
                ("created_at", at)])
            db.commit()
        finally:
            db.close()
        with _audit_log(work / "audit.db", keypair, create=True) as log:
            _audit_service.record("store.created", "store",
                                  {"signer": keypair.fingerprint.hex(), "label": keypair.label},
                                  audit=log)
        if folder.exists():
            folder.rmdir()
        os.replace(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

