"""A tamper-evident audit log: append-only, hash-chained, with signed checkpoints.

Each entry ``(created_at, actor, action, resource, details)`` is chained to the one
before it::

    entry_hash = SHA-256(b"NEXUS-Lab audit v1" || 0x00 || prev_hash || body)
    body       = canonical JSON of [created_at, actor, action, resource, details]
                 (sorted keys, no spaces, UTF-8); prev_hash of entry 1 = 32 zero bytes

so changing, removing or moving any entry breaks the chain at that entry. A
checkpoint signs, with the log's key pair, the statement::

    b"NEXUS-Lab audit checkpoint v1" || 0x00 || u64 upto || head || root

where ``head`` is the hash of entry ``upto`` (which commits to every entry before it)
and ``root`` the Merkle root (:class:`~nexus_lab.crypto.MerkleTree`) over the entry
hashes 1..upto, so one entry can be shown to be in a signed checkpoint with a short
proof, and the root can be anchored on a blockchain. A rewritten chain (every hash
recomputed after an edit) no longer matches the signed heads.

A log cannot prove its own tail: deleting the newest entries together with every
checkpoint that signed them leaves a shorter log that chains and verifies. So each
checkpoint (by default one after every entry) is also published to *witnesses*
outside the log file (:mod:`nexus_lab.crypto._witness`): by default the file
``<log file>.witness`` beside it, and any file or folder named with ``witnesses=``
(remembered in the log, so :meth:`AuditLog.verify` finds them again). ``verify``
checks the log against every witness it can reach; when none holds a head covering
the whole log it says how far the log is proven and that anything after the last
witnessed head could have been removed.

A chain can be a witness too: :meth:`AuditLog.anchor` writes a checkpoint's Merkle
root into a transaction (:mod:`nexus_lab.crypto._anchor`), by hand or automatically
(``anchor_every``, ``anchor_on_close``), and the receipt is kept in the log and in
every witness file; ``verify`` checks each receipt against the entries and, when it
can reach it, the chain.

Storage: a SQLite file (tables ``audit_log``, ``audit_checkpoint`` (with the anchor
receipt), ``audit_witness`` (the witnesses named) and ``audit_unanchored`` (failed
automatic anchorings), written in WAL mode, one transaction per append, so
concurrent writers serialize. Logs written before witnesses existed read
as they are (reported as not witnessed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import os
import sqlite3
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_lab._html import escape, frame, kv
from nexus_lab.canonical import canonical_json, utc_now
from nexus_lab.crypto._keys import KeyPair, PublicKey, need_keypair
from nexus_lab.crypto._merkle import MerkleProof, MerkleTree, _Frontier, leaf_hash
from nexus_lab.crypto._sign import Signature, _check, _sign_message, signing_input
from nexus_lab.crypto._witness import _FileWitness, _witness
from nexus_lab.errors import IntegrityError, NexusError

log = logging.getLogger("nexus_lab")

__all__ = ["AuditEntry", "AuditLog", "AuditReport"]

_DOMAIN = b"NEXUS-Lab audit v1\x00"
_CHECKPOINT = b"NEXUS-Lab audit checkpoint v1\x00"
_GENESIS = bytes(32)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq        INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    resource   TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    entry_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoint (
    upto       INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    head       BLOB NOT NULL,
    root       BLOB NOT NULL,
    signer     BLOB NOT NULL,
    signature  BLOB NOT NULL,
    anchor     TEXT
);
"""
_WITNESS_TABLE = "CREATE TABLE IF NOT EXISTS audit_witness (spec TEXT PRIMARY KEY)"
_UNANCHORED_TABLE = ("CREATE TABLE IF NOT EXISTS audit_unanchored (upto INTEGER PRIMARY KEY, "
                     "at TEXT NOT NULL, error TEXT NOT NULL)")


@dataclass(frozen=True)
class AuditEntry:
    """One entry of an :class:`AuditLog`."""

    seq: int
    created_at: str
    actor: str
    action: str
    resource: str
    details: dict
    entry_hash: bytes

    def record(self) -> bytes:
        """The bytes hashed for this entry (without the chain link)."""
        return _body(self.created_at, self.actor, self.action, self.resource, self.details)


@dataclass
class AuditReport:
    """What :meth:`AuditLog.verify` checked (it raises on the first failure).

    ``anchored`` counts the anchor receipts found (in the log and in its witnesses);
    ``chain_checked`` describes those the chain confirmed, ``chain_unchecked`` those
    it could not be asked about, and why (each was still checked against the log's
    entries); ``not_anchored`` the checkpoints whose automatic anchoring failed.
    """

    entries: int
    checkpoints: int
    signed_upto: int
    anchored: int
    signers: list[str] = field(default_factory=list)
    signed_at: str = ""
    witnessed_upto: int = 0
    witnessed_at: str = ""
    witnesses: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    chain_checked: list[str] = field(default_factory=list)
    chain_unchecked: list[str] = field(default_factory=list)
    not_anchored: list[str] = field(default_factory=list)

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last signed checkpoint."""
        return self.entries - self.signed_upto

    @property
    def complete(self) -> bool:
        """True when a witness holds a signed head of every entry: none can have been
        removed from the end unseen. False means only entries ``1..witnessed_upto``
        are proven complete (see :attr:`proven`)."""
        # an empty log is complete only when a witness was reached and holds no head:
        # an emptied file with its witnesses out of reach proves nothing
        return self.witnessed_upto >= self.entries and (self.entries > 0
                                                        or bool(self.witnesses))

    @property
    def proven(self) -> str:
        """What the check proved, in words."""
        if self.complete:
            return f"complete through entry {self.entries}, witnessed by " + ", ".join(
                self.witnesses)
        if not self.entries:
            return ("the log is empty and no witness of it was reached: if it held entries, "
                    "they could all have been removed")
        if self.witnessed_upto:
            return (f"complete through entry {self.witnessed_upto}, witnessed at "
                    f"{self.witnessed_at} by {', '.join(self.witnesses)}; anything after the "
                    "last witnessed head could have been removed")
        said = (f"intact up to entry {self.signed_upto} signed at {self.signed_at}"
                if self.signed_upto else
                f"{self.entries} entries chained, but no checkpoint signs them")
        why = (f"no witness holds a head of it ({', '.join(self.witnesses)} reached)"
               if self.witnesses else "no witness was reachable")
        return (f"{said}; {why}: anything after the last witnessed head could have been "
                "removed")

    def summary(self) -> dict:
        return {"entries": self.entries, "checkpoints": self.checkpoints,
                "signed_upto": self.signed_upto, "unsigned_tail": self.unsigned_tail,
                "anchored": self.anchored, "signers": list(self.signers),
                "signed_at": self.signed_at, "witnessed_upto": self.witnessed_upto,
                "witnessed_at": self.witnessed_at, "complete": self.complete,
                "witnesses": list(self.witnesses), "unreachable": list(self.unreachable),
                "chain_checked": list(self.chain_checked),
                "chain_unchecked": list(self.chain_unchecked),
                "not_anchored": list(self.not_anchored), "proven": self.proven}

    def _repr_html_(self) -> str:
        mark = "&#10003;" if self.complete else "&#9888;"
        return f"<h4>{mark} {escape(str(self))}</h4>{kv(self.summary())}"

    def __str__(self) -> str:
        counts = (f"{self.entries} entries, {self.checkpoints} signed checkpoints (through "
                  f"entry {self.signed_upto}), {self.anchored} anchored")
        if self.anchored:
            counts += (f" ({len(self.chain_checked)} checked on a chain, "
                       f"{len(self.chain_unchecked)} not)")
        if self.not_anchored:
            counts += f", {len(self.not_anchored)} not anchored (anchoring failed)"
        if self.complete:
            return f"audit log intact: {counts}; {self.proven}"
        return f"audit log {self.proven} ({counts})"


class AuditLog:
    """An append-only, hash-chained audit log with signed checkpoints, in SQLite.

    Parameters
    ----------
    path : str, path-like or sqlite3.Connection
        The SQLite file (made when missing) or an open connection.
    signer : KeyPair, optional
        Signs checkpoints. Without one the log is still chained but cannot be
        checkpointed, and :meth:`verify` checks existing checkpoints against the
        public key given to it.
    checkpoint_every : int, default 1
        With a signer, a checkpoint is signed and published to the witnesses after
        every this many entries: by default after each one (each state change), so
        no entry can be removed unseen. Signing costs about a millisecond and the
        Merkle root is kept up to date as entries are added; a log of many small
        entries may take 100, at the price of that many unwitnessed entries at a
        time (:meth:`close` checkpoints the rest).
    witnesses : iterable of str or path-like, optional
        Files or folders (a folder holds one witness file per log) that keep a copy
        of every signed head outside the log file. They are added to those the log
        remembers, and :meth:`verify` checks each it can reach. The file
        ``<log file>.witness`` beside a log file is always one; put another on
        other storage (a share, a removable disk) so that whoever can rewrite the
        log's folder cannot also rewrite every witness.
    anchor_every : int, optional
        With a signer, also anchor the checkpoint's Merkle root on the chain
        (:meth:`anchor`) after every this many entries. Default None: only as
        ``anchor_on_close`` says.
    anchor_on_close : bool, optional
        Anchor the last checkpoint when the log is closed (unless it is anchored
        already). Default: True when a chain is configured (``web3`` given, or
        ``NEXUS_LAB_WEB3_URL`` set when the log is opened) and the log has a
        signer, else False; so a configured chain is a witness without a call to
        :meth:`anchor`, and no node is contacted when none is configured.
    web3 : web3.Web3 or str, optional
        The chain to anchor on and to :meth:`verify` against (see
        :func:`~nexus_lab.crypto.anchor`); None: ``NEXUS_LAB_WEB3_URL``, else this
        process's in-process chain. It is not stored in the log.

    Notes
    -----
    An automatic anchoring that fails (the node unreachable, the transaction
    refused) never loses an entry: the entry is written, the failure is logged and
    stored in the log, and :meth:`verify` reports it in
    :attr:`AuditReport.not_anchored` until a later anchor covers it. Every receipt
    is published to the witnesses as well as kept in the log.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> kp = nx.crypto.generate_keypair("examiner")
    >>> log = nx.crypto.AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.db", signer=kp)
    >>> _ = log.append("alice", "reconciliation.approved", "run/2026-11", {"rate": 0.97})
    >>> _ = log.append("bob", "fraud.flag_cleared", "tx/T-1042", {"reason": "invoice seen"})
    >>> print(log.verify().proven)  # doctest: +ELLIPSIS
    complete through entry 2, witnessed by .../audit.db.witness
    """

    def __init__(self, path: str | os.PathLike[str] | sqlite3.Connection, *,
                 signer: KeyPair | None = None, checkpoint_every: int = 1,
                 witnesses: Iterable[str | os.PathLike[str]] | None = None,
                 anchor_every: int | None = None, anchor_on_close: bool | None = None,
                 web3: Any = None) -> None:
        if signer is not None:
            need_keypair(signer, "signing the audit log's checkpoints")
        checkpoint_every = _count("checkpoint_every", checkpoint_every)
        if anchor_every is not None:
            anchor_every = _count("anchor_every", anchor_every)
        _check_web3(web3)
        if anchor_on_close is None:
            from nexus_lab.crypto._anchor import _url_configured

            anchor_on_close = signer is not None and (web3 is not None or _url_configured())
        if signer is None and (anchor_every is not None or anchor_on_close):
            raise NexusError("anchoring needs a signer: open the log with "
                             "AuditLog(path, signer=keypair), or leave anchor_every and "
                             "anchor_on_close unset")
        self.anchor_every = anchor_every
        self.anchor_on_close = bool(anchor_on_close)
        if isinstance(witnesses, (str, os.PathLike)):
            witnesses = [witnesses]
        named = [_witness(w) for w in (witnesses or [])]
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self._tree = _Frontier()  # the Merkle root of entries 1..count, kept up to date
        self._first: bytes | None = None  # entry 1's hash: names the log to its witnesses
        self._head: bytes = _GENESIS
        # one log object may be shared by many threads (a server's default log): its
        # writes take turns on the one connection
        self._lock = threading.RLock()
        if isinstance(path, sqlite3.Connection):
            self.path = None
            self._db = path
        else:
            self.path = Path(path)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                           check_same_thread=False)
            except (OSError, sqlite3.Error) as err:
                raise NexusError(f"cannot open the audit log {str(self.path)!r}: {err}") \
                    from None
        try:
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise NexusError(f"{self._where()} is not a NEXUS audit log: {err}") from None
        self._witnesses = self._known_witnesses(named)
        self._web3: Any = web3

    def _known_witnesses(self, named: list[_FileWitness]) -> list[_FileWitness]:
        """The default witness beside the file, those remembered, and ``named`` (which
        are remembered from now on)."""
        try:
            self._db.execute(_WITNESS_TABLE)
            for w in named:
                self._db.execute("INSERT OR IGNORE INTO audit_witness VALUES (?)", (w.spec,))
            stored = [r[0] for r in self._db.execute("SELECT spec FROM audit_witness")]
        except sqlite3.OperationalError as err:  # read-only and written before witnesses
            if named and "readonly" not in str(err):
                raise NexusError(f"cannot record the witnesses in {self._where()}: {err}") \
                    from None
            stored = []
        out: dict[str, _FileWitness] = {}
        db_file = self._file()
        if db_file is not None:
            w = _witness(db_file.with_name(db_file.name + ".witness"))
            out[w.spec] = w
        for w in [*named, *(_witness(spec) for spec in stored)]:
            out.setdefault(w.spec, w)
        return list(out.values())

    def _file(self) -> Path | None:
        """The log's SQLite file (None in memory)."""
        if self.path is not None:
            return self.path.absolute()
        for _, name, file in self._db.execute("PRAGMA database_list"):
            if name == "main" and file:
                return Path(file)
        return None

    @property
    def witnesses(self) -> list[str]:
        """Where the signed heads are published (files, or folders ending in ``/``)."""
        return [w.name for w in self._witnesses]

    # ------------------------------------------------------------------ writing

    def append(self, actor: str, action: str, resource: str,
               details: Mapping[str, Any] | None = None) -> AuditEntry:
        """Append one entry (one transaction) and return it.

        Parameters
        ----------
        actor : str
            Who did it (a user name, a service).
        action : str
            What was done, as ``"area.verb"`` (``"evidence.added"``).
        resource : str
            What it was done to (``"case/C-7/evidence/3"``).
        details : mapping, optional
            JSON-serializable facts (amounts, hashes, reasons). Never put secrets here.
        """
        for name, value in (("actor", actor), ("action", action), ("resource", resource)):
            if not isinstance(value, str) or not value:
                raise NexusError(f"audit entry {name} must be a non-empty string, got "
                                 f"{value!r}")
        det = dict(details or {})
        try:
            canonical_json(det)
        except (TypeError, ValueError) as err:
            raise NexusError(f"audit entry details must be JSON-serializable: {err}") from None
        created = utc_now()
        body = _body(created, actor, action, resource, det)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                last = cur.execute(
                    "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, _GENESIS)
                h = _entry_hash(prev, body)
                cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (seq, created, actor, action, resource,
                             canonical_json(det).decode(), prev, h))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        if self.signer is not None and seq % self.checkpoint_every == 0:
            self.checkpoint()
        if self.anchor_every is not None and seq % self.anchor_every == 0:
            self._auto_anchor()
        return AuditEntry(seq, created, actor, action, resource, det, h)

    def _auto_anchor(self) -> None:
        """Anchor the log as it is now on the configured chain, unless its last
        checkpoint is anchored already; a failure is logged and stored, not raised."""
        upto = len(self)
        try:
            cp = self.checkpoint()
            if cp is None or cp["anchor"] is not None:
                return
            upto = cp["upto"]
            self.anchor()
        except NexusError as err:
            log.warning("audit log %s: entries 1..%d are not anchored: %s", self._where(),
                        upto, err)
            try:
                with self._lock:
                    self._db.execute(_UNANCHORED_TABLE)
                    self._db.execute("INSERT OR REPLACE INTO audit_unanchored VALUES "
                                     "(?, ?, ?)", (upto, utc_now(), str(err)))
            except sqlite3.Error as db_err:
                log.warning("audit log %s: the failed anchoring could not be recorded: %s",
                            self._where(), db_err)

    def _unanchored(self) -> list[tuple[int, str, str]]:
        """The failed automatic anchorings ``(upto, when, why)``, oldest first."""
        try:
            return self._db.execute("SELECT upto, at, error FROM audit_unanchored "
                                    "ORDER BY upto").fetchall()
        except sqlite3.OperationalError:  # no anchoring ever failed
            return []

    def checkpoint(self) -> dict | None:
        """Sign the log as it is now (returns the checkpoint, or None when empty)."""
        if self.signer is None:
            raise NexusError("this audit log has no signer: open it with "
                             "AuditLog(path, signer=keypair) to write checkpoints")
        with self._lock:
            upto = len(self)
            if not upto:
                return None
            done = self._db.execute("SELECT upto FROM audit_checkpoint WHERE upto = ?",
                                    (upto,)).fetchone()
            self._catch_up()
            if done is None:  # the entries changed since: sign the new head
                upto, head, root = self._tree.count, self._head, self._tree.root
                sig = _sign_message(signing_input(_statement(upto, head, root)), self.signer)
                self._db.execute(
                    "INSERT OR IGNORE INTO audit_checkpoint VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    (upto, utc_now(), head, root, self.signer.public.to_bytes(),
                     sig.to_bytes()))
            cp = self.checkpoints()[-1]
            self._publish(cp)
            return cp

    def _catch_up(self) -> None:
        """Bring the running Merkle root up to the entries in the file."""
        rows = self._db.execute("SELECT seq, CAST(entry_hash AS BLOB) FROM audit_log "
                                "WHERE seq > ? ORDER BY seq", (self._tree.count,)).fetchall()
        gap = bool(rows) and rows[0][0] != self._tree.count + 1
        moved = self._tree.count > 0 and not self._db.execute(
            "SELECT 1 FROM audit_log WHERE seq = ? AND entry_hash = ?",
            (self._tree.count, self._head)).fetchone()
        if gap or moved:
            # entries were removed or replaced since: start again from entry 1
            self._tree, self._first, self._head = _Frontier(), None, _GENESIS
            rows = self._db.execute("SELECT seq, CAST(entry_hash AS BLOB) FROM audit_log "
                                    "ORDER BY seq").fetchall()
        for _, h in rows:
            h = bytes(h)
            self._tree.add_leaf(leaf_hash(h))
            self._first = self._first or h
            self._head = h

    def _publish(self, cp: dict) -> None:
        """Give the signed head ``cp`` to every witness (one that fails is logged)."""
        assert self._first is not None
        reached = 0
        for w in self._witnesses:
            try:
                w.publish(self._first, cp)
                reached += 1
            except OSError as err:
                log.warning("audit log %s: witness %s could not be written (%s); entries "
                            "after its last head are unwitnessed", self._where(), w.name, err)
        if not reached:
            log.warning("audit log %s: no witness could be written: checkpoint %d is in the "
                        "log only", self._where(), cp["upto"])

    def anchor(self, web3: Any = None, **kwargs: Any) -> Any:
        """Checkpoint, then write the checkpoint's Merkle root to a chain.

        The receipt (:class:`~nexus_lab.crypto.AnchorReceipt`) is stored with the
        checkpoint and published to every witness (so deleting it from the log does
        not delete the evidence); :meth:`verify` checks it. ``web3`` defaults to the
        chain the log was opened with; other keywords go to
        :func:`~nexus_lab.crypto.anchor`.
        """
        from nexus_lab.crypto._anchor import anchor

        cp = self.checkpoint()
        if cp is None:
            raise NexusError("the audit log is empty: nothing to anchor")
        receipt = anchor(cp["root"], web3 if web3 is not None else self._web3, **kwargs)
        with self._lock:
            self._db.execute("UPDATE audit_checkpoint SET anchor = ? WHERE upto = ?",
                             (json.dumps(receipt.to_dict()), cp["upto"]))
            self._publish_anchor(cp["upto"], receipt.to_dict())
        return receipt

    def _publish_anchor(self, upto: int, receipt: dict) -> None:
        """Give the anchor receipt of checkpoint ``upto`` to every witness, so that
        deleting it from the log does not delete the evidence."""
        assert self._first is not None
        for w in self._witnesses:
            try:
                w.publish_anchor(self._first, upto, receipt)
            except OSError as err:
                log.warning("audit log %s: witness %s could not be written (%s); the anchor "
                            "of checkpoint %d is in the log only", self._where(), w.name,
                            err, upto)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]

    def entries(self):
        """All entries as a DataFrame (``seq, created_at, actor, action, resource,
        details, entry_hash``)."""
        import pandas as pd

        rows = self._db.execute(
            "SELECT seq, created_at, actor, action, resource, details, entry_hash "
            "FROM audit_log ORDER BY seq").fetchall()
        df = pd.DataFrame(rows, columns=["seq", "created_at", "actor", "action", "resource",
                                         "details", "entry_hash"])
        df["details"] = [json.loads(d) for d in df["details"]]
        df["entry_hash"] = [bytes(h).hex() for h in df["entry_hash"]]
        return df

    def checkpoints(self) -> list[dict]:
        """The signed checkpoints, oldest first."""
        rows = self._db.execute(
            "SELECT upto, created_at, CAST(head AS BLOB), CAST(root AS BLOB), "
            "CAST(signer AS BLOB), CAST(signature AS BLOB), anchor "
            "FROM audit_checkpoint ORDER BY upto").fetchall()
        return [{"upto": r[0], "created_at": r[1], "head": bytes(r[2]), "root": bytes(r[3]),
                 "signer": bytes(r[4]), "signature": bytes(r[5]),
                 "anchor": json.loads(r[6]) if r[6] else None} for r in rows]

    def prove(self, seq: int) -> dict:
        """An entry with its Merkle proof into the latest checkpoint that covers it.

        Returns ``{"record", "proof", "root", "upto"}``: anyone holding the checkpoint
        root checks ``verify_proof(record, proof, root, upto)`` where ``record`` is the entry
        hash (32 bytes).
        """
        cps = [c for c in self.checkpoints() if c["upto"] >= seq]
        if not cps:
            raise NexusError(f"entry {seq} is not covered by a checkpoint yet: call "
                             "checkpoint() first")
        cp = cps[-1]
        hashes = [r[0] for r in self._db.execute(
            "SELECT entry_hash FROM audit_log WHERE seq <= ? ORDER BY seq", (cp["upto"],))]
        proof: MerkleProof = MerkleTree(hashes).proof(seq - 1)
        return {"record": hashes[seq - 1], "proof": proof, "root": cp["root"],
                "upto": cp["upto"]}

    # ------------------------------------------------------------------ checking

    def verify(self, public: PublicKey | KeyPair | None = None, *,
               anchors: bool | None = None, web3: Any = None,
               witnesses: Iterable[str | os.PathLike[str]] | None = None) -> AuditReport:
        """Check the whole log; raise :class:`IntegrityError` at the first problem.

        The log is checked against every witness it can reach (the one beside the
        file, those it remembers, and ``witnesses``): each head a witness holds must
        be in the log, signed. The report says how far that proves the log complete
        (:attr:`AuditReport.complete`, :attr:`AuditReport.proven`): with no witness
        reachable only what the log signs itself is proven, and anything after the
        last witnessed head could have been removed.

        Every anchor receipt, in the log or in a witness, is checked too: the log must
        still hold the ``upto`` entries it anchored (a receipt beyond the log's end is
        a rollback) with the anchored Merkle root, and the chain is asked
        (:func:`~nexus_lab.crypto.verify_anchor`) when it can be reached. A receipt
        the chain could not be asked about is listed, with the reason, in
        :attr:`AuditReport.chain_unchecked`, never counted as checked.

        Parameters
        ----------
        public : PublicKey or KeyPair, optional
            Whose checkpoints to trust. Default: the log's signer; without either,
            the signer recorded in each checkpoint (which shows tampering but not who
            signed: pin the key when you can).
        anchors : bool, optional
            None (default): ask the chain about each receipt when it can be reached.
            True: every receipt must be checked on its chain (raise
            :class:`~nexus_lab.errors.NexusError` when one cannot be). False: do not
            ask the chain (receipts are still checked against the entries).
        web3 : optional
            The chain to ask (see :func:`~nexus_lab.crypto.anchor`). Default: the one
            the log was opened with, else ``$NEXUS_LAB_WEB3_URL``, else (for receipts
            made on it) this process's in-process chain.
        witnesses : iterable of str or path-like, optional
            More witness files or folders to check (nothing is written to them).

        Raises
        ------
        IntegrityError
            Naming the first altered, removed or reordered entry (``err.entry`` is its
            sequence number), the checkpoint that fails, or the witness that holds a
            head the log no longer has (entries removed: a rollback), or the anchor
            receipt whose entries the log no longer holds, or that the chain
            contradicts.
        """
        _check_web3(web3)
        pinned = public.public if isinstance(public, KeyPair) else public
        if pinned is None and self.signer is not None:
            pinned = self.signer.public
        rows = self._db.execute(
            "SELECT seq, created_at, actor, action, resource, details, CAST(prev_hash AS BLOB), "
            "CAST(entry_hash AS BLOB) FROM audit_log ORDER BY seq").fetchall()
        hashes = _check_chain(rows)
        cps = self.checkpoints()
        signers: list[str] = []
        for i, cp in enumerate(cps):
            upto = cp["upto"]
            if upto > len(hashes):
                raise _fail(f"entries from {len(hashes) + 1} on were removed: checkpoint "
                            f"{upto} signed {upto} entries, the log has {len(hashes)}",
                            len(hashes) + 1)
            if hashes[upto - 1] != cp["head"]:
                start = cps[i - 1]["upto"] + 1 if i else 1
                raise _fail(f"entries {start}..{upto} differ from what checkpoint {upto} "
                            "signed: one was altered and the chain recomputed", start)
            try:
                signer_key = PublicKey.from_bytes(cp["signer"])
                sig = Signature.from_bytes(cp["signature"])
            except IntegrityError as err:
                raise IntegrityError(f"checkpoint {upto} is corrupted: {err}") from None
            if pinned is not None and signer_key != pinned:
                raise IntegrityError(
                    f"checkpoint {upto} was signed by {signer_key.label or 'a key'} "
                    f"({signer_key.fingerprint_hex}), not by the expected key "
                    f"({pinned.fingerprint_hex})")
            last = i == len(cps) - 1
            if last or cp["anchor"] is not None:
                if MerkleTree(hashes[:upto]).root != cp["root"]:
                    raise IntegrityError(f"checkpoint {upto}'s Merkle root does not match "
                                         "its entries: the checkpoint was altered")
            try:
                _check(signing_input(_statement(upto, cp["head"], cp["root"])), sig,
                       signer_key)
            except IntegrityError as err:
                raise IntegrityError(f"checkpoint {upto}'s signature fails: {err}") from None
            if signer_key.fingerprint_hex not in signers:
                signers.append(signer_key.fingerprint_hex)
        if public is not None and hashes and not cps:
            raise IntegrityError(
                f"no checkpoint of this log is signed by the expected key "
                f"({pinned.fingerprint_hex}): its {len(hashes)} entries were not written by "
                "that key's holder, or the log was replaced or its checkpoints removed")
        report = AuditReport(len(hashes), len(cps), cps[-1]["upto"] if cps else 0, 0,
                             signers, signed_at=cps[-1]["created_at"] if cps else "")
        if isinstance(witnesses, (str, os.PathLike)):
            witnesses = [witnesses]
        extra = [_witness(w) for w in (witnesses or [])]
        seen = {w.spec for w in self._witnesses}
        every = [*self._witnesses, *(w for w in extra if w.spec not in seen)]
        receipts = _receipts(cps, every, hashes[0] if hashes else None)
        self._check_anchors(receipts, hashes, anchors, web3, report)
        for w in every:
            self._check_witness(w, hashes, pinned, report)
        return report

    def _check_anchors(self, receipts: list[tuple[int, Any, str]], hashes: list[bytes],
                       anchors: bool | None, web3: Any, report: AuditReport) -> None:
        """Check every anchor receipt against the log's entries, then on its chain."""
        from nexus_lab.crypto._anchor import _check_on_chain

        report.anchored = len(receipts)
        covered = max((upto for upto, _, _ in receipts), default=0)
        report.not_anchored = [f"entries 1..{upto}: anchoring failed at {at}: {why}"
                               for upto, at, why in self._unanchored() if upto > covered]
        for upto, r, where in sorted(receipts, key=lambda x: -x[0]):  # newest names most
            if upto > len(hashes):
                raise _fail(f"entries {len(hashes) + 1}..{upto} were removed: {where} holds "
                            f"the receipt of an anchor of entries 1..{upto} (tx {r.tx_hash}, "
                            f"block {r.block_number} at {r.block_time_iso}), and the log ends "
                            f"at entry {len(hashes)}", len(hashes) + 1)
        tree, chain = _Frontier(), web3 if web3 is not None else self._web3
        asked: dict[str, str] = {}  # network -> why it could not be asked
        for upto, r, where in sorted(receipts, key=lambda x: x[0]):
            while tree.count < upto:
                tree.add_leaf(leaf_hash(hashes[tree.count]))
            what = (f"entries 1..{upto}: tx {r.tx_hash}, block {r.block_number} at "
                    f"{r.block_time_iso} on chain {r.chain_id} ({r.network})")
            if tree.root.hex() != r.root:
                raise IntegrityError(
                    f"entries 1..{upto} differ from what was anchored in tx {r.tx_hash} at "
                    f"{r.block_time_iso} ({where}): their Merkle root is "
                    f"{tree.root.hex()[:16]}…, the anchored root {r.root[:16]}…; entries "
                    "were altered or replaced and the chain rewritten, or the receipt was "
                    "altered")
            if anchors is False:
                why: str | None = "the chain was not asked (anchors=False)"
            elif r.network in asked:
                why = asked[r.network]
            else:
                try:
                    why = _check_on_chain(tree.root, r, chain)
                except IntegrityError as err:
                    raise IntegrityError(f"the anchor of entries 1..{upto} ({where}) fails "
                                         f"on the chain: {err}") from None
                if why is not None and "cannot reach" in why:
                    asked[r.network] = why
            if why is None:
                report.chain_checked.append(what)
            elif anchors:
                raise NexusError(f"the anchor of {what} could not be checked on a chain: "
                                 f"{why}")
            else:
                report.chain_unchecked.append(f"{what}: {why}")

    def _check_witness(self, w: _FileWitness, hashes: list[bytes], pinned: PublicKey | None,
                       report: AuditReport) -> None:
        """Check the log against every head witness ``w`` holds; note what it proves."""
        heads = w.heads(hashes[0] if hashes else None)
        if heads is None:
            report.unreachable.append(w.name)
            return
        report.witnesses.append(w.name)
        best = None
        for h in sorted(heads, key=lambda h: -h["upto"]):  # the newest names the most
            upto, where = h["upto"], f"witness {w.name} (line {h['line']})"
            try:
                key = PublicKey.from_bytes(h["signer"])
                sig = Signature.from_bytes(h["signature"])
                _check(signing_input(_statement(upto, h["head"], h["root"])), sig, key)
            except IntegrityError as err:
                raise IntegrityError(f"{where}: its head of entry {upto} is not validly "
                                     f"signed ({err}): the witness was altered") from None
            if pinned is not None and key != pinned:
                raise IntegrityError(f"{where}: its head of entry {upto} was signed by "
                                     f"{key.fingerprint_hex}, not by the expected key "
                                     f"({pinned.fingerprint_hex})")
            if upto > len(hashes):
                raise _fail(f"entries {len(hashes) + 1}..{upto} were removed: {where} holds "
                            f"the head of entry {upto}, signed at {h['created_at']}, and the "
                            f"log ends at entry {len(hashes)}", len(hashes) + 1)
            if hashes[upto - 1] != h["head"]:
                raise _fail(f"the log up to entry {upto} differs from what {where} saw "
                            f"signed at {h['created_at']}: entries were removed or replaced "
                            "and the chain rewritten", upto)
            if best is None or upto > best["upto"]:
                best = h
        if best is not None:
            if MerkleTree(hashes[:best["upto"]]).root != best["root"]:
                raise IntegrityError(f"witness {w.name}: the Merkle root of entry "
                                     f"{best['upto']}'s head does not match the log's entries")
            if best["upto"] > report.witnessed_upto:
                report.witnessed_upto, report.witnessed_at = best["upto"], best["created_at"]

    def backup(self, path: str | os.PathLike[str]) -> Path:
        """Copy the log, consistent as of now, to the SQLite file ``path``.

        Uses SQLite's online backup, so the log can be written to meanwhile (the copy
        holds the entries and checkpoints committed when it ends). The copy is written
        to a temporary file renamed onto ``path`` at the end: ``path`` is replaced
        whole or not at all. It is an audit log like the original (open it with
        :class:`AuditLog` and :meth:`verify` it); the witness beside the log is copied
        beside it too (``path.witness``, its heads up to the copy's last entry).

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced when it exists; its folder is made).

        Returns
        -------
        pathlib.Path
            ``path``.

        Examples
        --------
        >>> import nexus_lab as nx, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> log = nx.crypto.AuditLog(folder / "audit.db")
        >>> _ = log.append("alice", "report.signed", "report/2026-11")
        >>> copy = nx.crypto.AuditLog(log.backup(folder / "copy.db"))
        >>> len(copy), copy.verify().entries
        (1, 1)
        """
        from nexus_lab.files import atomic_file

        target = Path(path)
        with atomic_file(target) as tmp:
            try:
                dst = sqlite3.connect(tmp)
            except sqlite3.Error as err:
                raise NexusError(f"cannot write {str(target)!r}: {err}") from None
            try:
                self._db.backup(dst)
                copied = dst.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
            finally:
                dst.close()
        self._copy_witness(target, copied)
        return target

    def _copy_witness(self, target: Path, upto: int) -> None:
        """The witness beside the log, up to entry ``upto``, beside its copy ``target``:
        the copy then proves itself complete as the log did when it was copied."""
        from nexus_lab.files import atomic_file

        source = self._file()
        if source is None:
            return
        try:
            lines = source.with_name(source.name + ".witness").read_bytes().splitlines()
        except FileNotFoundError:
            return
        kept = []
        for line in lines:
            try:
                if json.loads(line)["upto"] <= upto:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line is not carried over
        with atomic_file(target.with_name(target.name + ".witness")) as tmp:
            tmp.write_bytes(b"".join(line + b"\n" for line in kept))

    def close(self) -> None:
        """Checkpoint the entries not yet signed (with a signer), anchor them when
        ``anchor_on_close``, then close."""
        try:
            if self.signer is not None and self.checkpoint_every > 1 and len(self):
                self.checkpoint()
            if self.anchor_on_close and len(self):
                self._auto_anchor()
        except sqlite3.ProgrammingError:  # closed already
            pass
        finally:
            self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self) -> str:
        return repr(str(self.path)) if self.path else "the connection"

    def __repr__(self) -> str:
        return f"AuditLog({self._where()}, entries={len(self)})"

    def _repr_html_(self) -> str:
        cps = self.checkpoints()
        head = (f"<h4>Audit log {escape(self._where())}: {len(self):,} entries, "
                f"{len(cps)} signed checkpoints, "
                f"{sum(c['anchor'] is not None for c in cps)} anchored</h4>")
        tail = self.entries().tail(10)
        tail["details"] = [_short(json.dumps(d, sort_keys=True)) for d in tail["details"]]
        tail["entry_hash"] = [h[:16] + "…" for h in tail["entry_hash"]]
        return head + frame(tail, empty="no entries yet")


def _check_chain(rows: list[tuple]) -> list[bytes]:
    """Walk the chain; raise naming the first altered, removed or reordered entry."""
    by_hash = {bytes(r[7]): r[0] for r in rows}
    prev, hashes = _GENESIS, []
    for pos, (seq, created, actor, action, resource, details, stored_prev, stored) in \
            enumerate(rows, start=1):
        stored, stored_prev = bytes(stored), bytes(stored_prev)
        try:
            det = json.loads(details)
            body = _body(created, actor, action, resource, det)
        except (TypeError, ValueError):
            raise _fail(f"entry {seq} was altered: its details are not valid JSON", seq) \
                from None
        if _entry_hash(stored_prev, body) != stored:
            raise _fail(f"entry {seq} was altered: its content no longer matches its hash",
                        seq)
        if seq != pos:
            raise _fail(f"entry {pos} was removed: the log goes from entry {pos - 1} to "
                        f"{seq}", pos)
        if stored_prev != prev:
            follows = by_hash.get(stored_prev)
            if follows is None and stored_prev != _GENESIS:
                raise _fail(f"an entry before entry {seq} was removed: entry {seq} follows "
                            "an entry that is no longer in the log", seq)
            where = "the start of the log" if follows is None else f"entry {follows}"
            raise _fail(f"entry {seq} is out of order: it was written after {where}", seq)
        prev = stored
        hashes.append(stored)
    return hashes


def _receipts(cps: list[dict], witnesses: list[_FileWitness],
              log_id: bytes | None) -> list[tuple[int, Any, str]]:
    """Every distinct anchor receipt in the log and its witnesses, as ``(upto,
    AnchorReceipt, where it was found)``; a malformed one raises."""
    from nexus_lab.crypto._anchor import AnchorReceipt

    found: dict[tuple[int, str], tuple[int, Any, str]] = {}
    held = [(cp["upto"], cp["anchor"], None, f"checkpoint {cp['upto']} in the log")
            for cp in cps if cp["anchor"] is not None]
    for w in witnesses:
        for a in w.anchors(log_id) or []:
            held.append((a["upto"], a["receipt"], a["root"],
                         f"witness {w.name} (line {a['line']})"))
    for upto, data, root, where in held:
        try:
            r = AnchorReceipt.from_dict(data)
        except IntegrityError as err:
            raise IntegrityError(f"{where}: its anchor receipt is malformed ({err}): it was "
                                 "altered") from None
        if root is not None and root.hex() != r.root:
            raise IntegrityError(f"{where}: the root it names differs from its receipt's: "
                                 "the witness was altered")
        found.setdefault((upto, json.dumps(r.to_dict(), sort_keys=True)), (upto, r, where))
    return list(found.values())


def _check_web3(web3: Any) -> None:
    """Refuse a ``web3`` string that is not an http(s) URL before any work is done."""
    if isinstance(web3, str):
        from urllib.parse import urlsplit

        scheme = urlsplit(web3).scheme
        if scheme not in ("http", "https"):
            raise NexusError("web3 must be an http(s):// JSON-RPC URL, a web3.Web3 "
                             f"instance or None; got a str with scheme {scheme!r}")


def _count(name: str, value: object) -> int:
    """``value`` as a positive count of entries, or a NexusError naming ``name``."""
    try:
        count = -1 if isinstance(value, bool) else operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        count = -1
    if count < 1:
        extra = ", or None" if name == "anchor_every" else ""
        raise NexusError(f"{name}={value!r}: give a positive count of entries{extra}")
    return count


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _fail(message: str, seq: int) -> IntegrityError:
    err = IntegrityError(message)
    err.entry = seq  # type: ignore[attr-defined]
    return err


def _statement(upto: int, head: bytes, root: bytes) -> bytes:
    return _CHECKPOINT + struct.pack(">Q", upto) + head + root


def _body(created: str, actor: str, action: str, resource: str, details: dict) -> bytes:
    return canonical_json([created, actor, action, resource, details])


def _entry_hash(prev: bytes, body: bytes) -> bytes:
    return hashlib.sha256(_DOMAIN + prev + body).digest()

