"""The case repository: ``cases.db``, its schema, its connection and every SQL statement.

The rules of a case store (who may change what, signing, sealing, the audit log) live
in :mod:`nexus_lab.cases._store` and :mod:`nexus_lab.cases._case`; they read and write
the records only through :class:`CaseRepository`. Rows come back as named tuples whose
fields are the table's columns, in the table's order.

The schema (SQLite, format ``nexus-lab case store v1``; the file is read by
:func:`nexus_lab.cases.verify` years later, so it does not change)::

    meta            key, value                  format, signer (fingerprint hex),
                                                created_at
    cases           number, title, description, status, opened_at, opened_by,
                    updated_at
    status_history  case_number, seq, at, actor, from_status (NULL when opened),
                    to_status, note
    evidence        case_number, evidence_id, seq, name, kind, description, size,
                    sha256, sealed_sha256, sealed_size, record_sha256,
                    recipients (JSON list of fingerprints), received_at, received_by,
                    holder
    custody         case_number, evidence_id, seq, event, at, actor, from_holder,
                    to_holder, note, details (canonical JSON), prev_hash, event_hash,
                    signature (NXSG bytes)
    milestones      case_number, milestone_id, seq, title, due, created_at,
                    created_by, done_at, done_by, note

Writes happen in :meth:`CaseRepository.transaction` (one ``BEGIN IMMEDIATE`` ...
``COMMIT``); the connection is in autocommit mode otherwise, with
``synchronous=FULL`` when writable.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from nexus_lab.errors import NexusError

__all__ = [
    "CaseRepository",
    "CaseRow",
    "CustodyRow",
    "EvidenceRow",
    "MilestoneRow",
    "StatusChange",
    "connect",
]

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


class CaseRow(NamedTuple):
    """A row of ``cases``."""

    number: str
    title: str
    description: str
    status: str
    opened_at: str
    opened_by: str
    updated_at: str


class StatusChange(NamedTuple):
    """A row of ``status_history`` (``from_status`` is None for the opening)."""

    case_number: str
    seq: int
    at: str
    actor: str
    from_status: str | None
    to_status: str
    note: str


class EvidenceRow(NamedTuple):
    """A row of ``evidence`` (``recipients`` is a JSON list of fingerprints)."""

    case_number: str
    evidence_id: str
    seq: int
    name: str
    kind: str
    description: str
    size: int
    sha256: str
    sealed_sha256: str
    sealed_size: int
    record_sha256: str
    recipients: str
    received_at: str
    received_by: str
    holder: str


class CustodyRow(NamedTuple):
    """A row of ``custody`` (``details`` canonical JSON, ``signature`` NXSG bytes)."""

    case_number: str
    evidence_id: str
    seq: int
    event: str
    at: str
    actor: str
    from_holder: str
    to_holder: str
    note: str
    details: str
    prev_hash: str
    event_hash: str
    signature: bytes


class MilestoneRow(NamedTuple):
    """A row of ``milestones`` (``due``, ``done_at``, ``done_by`` may be None)."""

    case_number: str
    milestone_id: str
    seq: int
    title: str
    due: str | None
    created_at: str
    created_by: str
    done_at: str | None
    done_by: str | None
    note: str


def _columns(row: type[NamedTuple]) -> str:
    return ", ".join(row._fields)


def _marks(row: type[NamedTuple]) -> str:
    return ", ".join("?" * len(row._fields))


_CASE = _columns(CaseRow)
_STATUS = _columns(StatusChange)
_EVIDENCE = _columns(EvidenceRow)
_CUSTODY = _columns(CustodyRow)
_MILESTONE = _columns(MilestoneRow)


def connect(path: str | os.PathLike[str], *, readonly: bool) -> sqlite3.Connection:
    """A connection to a case store's SQLite file (``cases.db`` or ``audit.db``).

    Autocommit mode (transactions are explicit); read-only opens the existing file
    with ``mode=ro`` (NexusError when it is missing), writable sets
    ``synchronous=FULL`` and keeps SQLite's rollback journal, so every commit lands
    in the file itself and a copy of the folder is complete.
    """
    path = Path(path)
    if readonly:
        if not path.is_file():
            raise NexusError(f"{str(path)!r} is missing: the case store is incomplete")
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA synchronous=FULL")
    return db


class CaseRepository:
    """``cases.db`` of a case store: every read and write of its records.

    Parameters
    ----------
    path : str or path-like
        The ``cases.db`` file.
    readonly : bool
        Open it read-only (``mode=ro``): the file must exist and nothing can be
        written.

    Notes
    -----
    Reads raise :class:`sqlite3.DatabaseError` when the file is not a case database;
    the callers turn that into a message for the user.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cases.db"
    >>> CaseRepository.create(path, {"format": "nexus-lab case store v1"})
    >>> with CaseRepository(path, readonly=False) as repo, repo.transaction():
    ...     repo.insert_case(CaseRow("C-1", "Ghost vendors", "", "open", "2025-01-02",
    ...                              "examiner", "2025-01-02"))
    >>> with CaseRepository(path, readonly=True) as repo:
    ...     repo.case("C-1").title, repo.case_status("C-2")
    ('Ghost vendors', None)
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._db = connect(self.path, readonly=readonly)

    @staticmethod
    def create(path: str | os.PathLike[str], meta: Mapping[str, str]) -> None:
        """Make a new ``cases.db`` at ``path`` with the schema and the ``meta`` rows."""
        db = sqlite3.connect(path)
        try:
            db.executescript(_SCHEMA)
            db.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
            db.commit()
        finally:
            db.close()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> CaseRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``): committed when the block
        succeeds, rolled back when it raises."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, args).fetchall()

    def _scalar(self, sql: str, args: tuple = ()) -> int:
        return self._db.execute(sql, args).fetchone()[0]

    # ------------------------------------------------------------------ meta

    def meta(self) -> dict[str, str]:
        """The ``meta`` table as a dict (``format``, ``signer``, ``created_at``)."""
        return dict(self._all("SELECT key, value FROM meta"))

    # ------------------------------------------------------------------ cases

    def case(self, number: str) -> CaseRow | None:
        """The case ``number``, or None."""
        row = self._one(f"SELECT {_CASE} FROM cases WHERE number = ?", (number,))
        return None if row is None else CaseRow(*row)

    def case_status(self, number: str) -> str | None:
        """The status of case ``number``, or None when there is no such case."""
        row = self._one("SELECT status FROM cases WHERE number = ?", (number,))
        return None if row is None else row[0]

    def cases(self) -> list[CaseRow]:
        """Every case, in the order they were opened."""
        return [CaseRow(*r) for r in self._all(
            f"SELECT {_CASE} FROM cases ORDER BY opened_at, number")]

    def case_numbers(self, limit: int) -> list[str]:
        """The numbers of the first ``limit`` cases opened."""
        return [r[0] for r in self._all("SELECT number FROM cases ORDER BY opened_at LIMIT ?",
                                        (limit,))]

    def count_cases_with_prefix(self, prefix: str) -> int:
        """How many case numbers start with ``prefix`` (SQL ``LIKE``, so case-blind)."""
        return self._scalar("SELECT COUNT(*) FROM cases WHERE number LIKE ?", (f"{prefix}%",))

    def case_overview(self) -> list[tuple]:
        """Every case with its counts: ``number, title, status, opened_at, opened_by,
        updated_at, evidence, custody events, open milestones``."""
        return self._all(
            "SELECT c.number, c.title, c.status, c.opened_at, c.opened_by, c.updated_at, "
            "(SELECT COUNT(*) FROM evidence e WHERE e.case_number = c.number), "
            "(SELECT COUNT(*) FROM custody k WHERE k.case_number = c.number), "
            "(SELECT COUNT(*) FROM milestones m WHERE m.case_number = c.number "
            " AND m.done_at IS NULL) "
            "FROM cases c ORDER BY c.opened_at, c.number")

    def status_counts(self) -> dict[str, int]:
        """How many cases have each status."""
        return dict(self._all("SELECT status, COUNT(*) FROM cases GROUP BY status"))

    def insert_case(self, row: CaseRow) -> None:
        self._db.execute(f"INSERT INTO cases ({_CASE}) VALUES ({_marks(CaseRow)})", row)

    def set_case_status(self, number: str, status: str, at: str) -> None:
        self._db.execute("UPDATE cases SET status = ?, updated_at = ? WHERE number = ?",
                         (status, at, number))

    def touch_case(self, number: str, at: str) -> None:
        """Set the case's ``updated_at``."""
        self._db.execute("UPDATE cases SET updated_at = ? WHERE number = ?", (at, number))

    # ------------------------------------------------------------------ status history

    def next_status_seq(self, number: str) -> int:
        return self._scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM status_history "
                            "WHERE case_number = ?", (number,))

    def insert_status(self, row: StatusChange) -> None:
        self._db.execute(f"INSERT INTO status_history ({_STATUS}) VALUES "
                         f"({_marks(StatusChange)})", row)

    def status_history(self, number: str | None = None) -> list[StatusChange]:
        """The status changes of one case (or all), each case's in order."""
        where, args = _where(number)
        return [StatusChange(*r) for r in self._all(
            f"SELECT {_STATUS} FROM status_history {where} ORDER BY case_number, seq", args)]

    # ------------------------------------------------------------------ evidence

    def evidence(self, number: str, evidence_id: str) -> EvidenceRow | None:
        """One evidence item, or None."""
        row = self._one(f"SELECT {_EVIDENCE} FROM evidence WHERE case_number = ? AND "
                        "evidence_id = ?", (number, evidence_id))
        return None if row is None else EvidenceRow(*row)

    def evidence_rows(self, number: str | None = None) -> list[EvidenceRow]:
        """The evidence of one case (or all), in intake order per case."""
        where, args = _where(number)
        return [EvidenceRow(*r) for r in self._all(
            f"SELECT {_EVIDENCE} FROM evidence {where} ORDER BY case_number, seq", args)]

    def evidence_ids(self, number: str) -> list[str]:
        return [r[0] for r in self._all("SELECT evidence_id FROM evidence WHERE "
                                        "case_number = ? ORDER BY seq", (number,))]

    def evidence_overview(self, number: str) -> list[tuple]:
        """A case's evidence with counts: ``evidence_id, name, kind, description, size,
        sha256, sealed_sha256, received_at, received_by, holder, custody events``."""
        return self._all(
            "SELECT e.evidence_id, e.name, e.kind, e.description, e.size, e.sha256, "
            "e.sealed_sha256, e.received_at, e.received_by, e.holder, "
            "(SELECT COUNT(*) FROM custody k WHERE k.case_number = e.case_number "
            " AND k.evidence_id = e.evidence_id) "
            "FROM evidence e WHERE e.case_number = ? ORDER BY e.seq", (number,))

    def max_evidence_seq(self, number: str) -> int:
        """The highest evidence sequence number of the case (0 when none)."""
        return self._scalar("SELECT COALESCE(MAX(seq), 0) FROM evidence WHERE "
                            "case_number = ?", (number,))

    def count_evidence(self, number: str | None = None) -> int:
        where, args = _where(number)
        return self._scalar(f"SELECT COUNT(*) FROM evidence {where}", args)

    def insert_evidence(self, row: EvidenceRow) -> None:
        self._db.execute(f"INSERT INTO evidence ({_EVIDENCE}) VALUES "
                         f"({_marks(EvidenceRow)})", row)

    def set_holder(self, number: str, evidence_id: str, holder: str) -> None:
        self._db.execute("UPDATE evidence SET holder = ? WHERE case_number = ? AND "
                         "evidence_id = ?", (holder, number, evidence_id))

    # ------------------------------------------------------------------ custody

    def last_custody(self, number: str, evidence_id: str) -> tuple[int, str] | None:
        """``(seq, event_hash)`` of the item's latest custody event, or None."""
        return self._one("SELECT seq, event_hash FROM custody WHERE case_number = ? AND "
                         "evidence_id = ? ORDER BY seq DESC LIMIT 1", (number, evidence_id))

    def insert_custody(self, row: CustodyRow) -> None:
        self._db.execute(f"INSERT INTO custody ({_CUSTODY}) VALUES ({_marks(CustodyRow)})",
                         row)

    def custody_rows(self, number: str | None = None,
                     evidence_id: str | None = None) -> list[CustodyRow]:
        """Custody events of one item, one case or all, in chain order per item."""
        where, args = _where(number)
        if evidence_id is not None:
            where += " AND evidence_id = ?"
            args += (evidence_id,)
        return [CustodyRow(*r) for r in self._all(
            f"SELECT {_CUSTODY} FROM custody {where} ORDER BY case_number, evidence_id, seq",
            args)]

    def count_custody(self, number: str | None = None, evidence_id: str | None = None) -> int:
        where, args = _where(number)
        if evidence_id is not None:
            where += " AND evidence_id = ?"
            args += (evidence_id,)
        return self._scalar(f"SELECT COUNT(*) FROM custody {where}", args)

    # ------------------------------------------------------------------ milestones

    def next_milestone_seq(self, number: str) -> int:
        return self._scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM milestones WHERE "
                            "case_number = ?", (number,))

    def insert_milestone(self, row: MilestoneRow) -> None:
        self._db.execute(f"INSERT INTO milestones ({_MILESTONE}) VALUES "
                         f"({_marks(MilestoneRow)})", row)

    def milestone(self, number: str, milestone_id: str) -> MilestoneRow | None:
        row = self._one(f"SELECT {_MILESTONE} FROM milestones WHERE case_number = ? AND "
                        "milestone_id = ?", (number, milestone_id))
        return None if row is None else MilestoneRow(*row)

    def milestone_rows(self, number: str | None = None) -> list[MilestoneRow]:
        """The milestones of one case (or all), in the order they were added."""
        where, args = _where(number)
        return [MilestoneRow(*r) for r in self._all(
            f"SELECT {_MILESTONE} FROM milestones {where} ORDER BY seq", args)]

    def complete_milestone(self, number: str, milestone_id: str, *, at: str, actor: str,
                           note: str) -> None:
        """Mark a milestone done; an empty ``note`` keeps the one it has."""
        self._db.execute("UPDATE milestones SET done_at = ?, done_by = ?, note = CASE WHEN "
                         "? = '' THEN note ELSE ? END WHERE case_number = ? AND "
                         "milestone_id = ?", (at, actor, note, note, number, milestone_id))

    def count_open_milestones(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM milestones WHERE done_at IS NULL")


def _where(number: str | None) -> tuple[str, tuple]:
    return ("WHERE case_number = ?", (number,)) if number is not None else ("WHERE 1", ())
