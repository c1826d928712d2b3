"""The workbench's audit trail: where services record their state-changing actions.

A service, the lowest: every other service may record through it.

Services (case management, model promotion, reconciliation approval, fraud review)
call :func:`record` with what they did. It appends to the current
:class:`~nexus_lab.crypto.AuditLog`: the one given with ``audit=``, else the one set
with :func:`use`, else the SQLite file named by the ``NEXUS_LAB_AUDIT_LOG``
environment variable (checkpoints signed by the key file in ``NEXUS_LAB_AUDIT_KEY``
with the password in ``NEXUS_LAB_AUDIT_PASSWORD``, when set). With none of these,
nothing is recorded and a debug message says so.

The actor is the given one, else the one set with :func:`acting_as`, else
``NEXUS_LAB_ACTOR``, else the login name.

The current log and the current actor are per context (:mod:`contextvars`), not
per process: one Jupyter or Panel server serves many users at once, each in a
thread or task of their own, and what one of them sets never reaches another's
records. A new thread starts with neither set (the environment's defaults apply).
A server that runs requests on pooled threads should use the ``with`` forms
(:func:`using`, :func:`acting_as`), which undo themselves; :func:`use` is for a
notebook or a script, where what it sets should last.

Examples
--------
>>> import nexus_lab as nx, tempfile, pathlib
>>> from nexus_lab import audit
>>> log = nx.crypto.AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.db")
>>> with audit.using(log):
...     entry = audit.record("model.promoted", "models:/nexus-fraud/3", {"auprc": 0.91},
...                          actor="ds-team")
>>> entry.seq, entry.action
(1, 'model.promoted')
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from nexus_lab import config
from nexus_lab.crypto import AuditEntry, AuditLog, load_keypair
from nexus_lab.files import record_output

__all__ = ["acting_as", "actor", "change", "check_store", "current", "record", "use", "using",
           "workbench_keypair"]

log = logging.getLogger("nexus_lab")
_CURRENT: ContextVar[AuditLog | None] = ContextVar("nexus_lab_audit_log", default=None)
_ACTOR: ContextVar[str | None] = ContextVar("nexus_lab_actor", default=None)
_FROM_ENV: dict[str, AuditLog] = {}  # the log NEXUS_LAB_AUDIT_LOG names, opened once
_FROM_ENV_LOCK = threading.Lock()


def _open(audit_log: AuditLog | str | os.PathLike[str] | None, signer: Any) -> AuditLog | None:
    if audit_log is None or isinstance(audit_log, AuditLog):
        return audit_log
    return AuditLog(audit_log, signer=signer)


def use(audit_log: AuditLog | str | os.PathLike[str] | None, *, signer: Any = None) -> None:
    """Make ``audit_log`` (or a SQLite file) the current log of this context; ``None``
    unsets it."""
    _CURRENT.set(_open(audit_log, signer))


@contextlib.contextmanager
def using(audit_log: AuditLog | str | os.PathLike[str], *, signer: Any = None
          ) -> Iterator[AuditLog]:
    """Make ``audit_log`` current inside a ``with`` block (this context only)."""
    token = _CURRENT.set(_open(audit_log, signer))
    try:
        yield _CURRENT.get()  # type: ignore[misc]
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def acting_as(name: str) -> Iterator[str]:
    """Record the actions inside a ``with`` block as ``name``'s (this context only).

    Examples
    --------
    >>> from nexus_lab import audit
    >>> with audit.acting_as("judge-2"):
    ...     audit.actor()
    'judge-2'
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"acting_as needs a non-empty name, got {name!r}")
    token = _ACTOR.set(name)
    try:
        yield name
    finally:
        _ACTOR.reset(token)


def current() -> AuditLog | None:
    """The log :func:`record` appends to in this context, or None."""
    mine = _CURRENT.get()
    if mine is not None:
        return mine
    env = config.settings()
    if not env.audit_log:
        return None
    with _FROM_ENV_LOCK:
        if env.audit_log not in _FROM_ENV:
            signer = None
            if env.audit_key:
                signer = load_keypair(env.audit_key, password=env.audit_password or "")
            _FROM_ENV[env.audit_log] = AuditLog(env.audit_log, signer=signer)
        return _FROM_ENV[env.audit_log]


_KEYS: dict[tuple[str, str], Any] = {}
_KEYS_LOCK = threading.Lock()


def workbench_keypair(path: str | os.PathLike[str], label: str, *, create: bool = True) -> Any:
    """The workbench's key pair kept at ``path`` (the reports' signing key, the evidence
    room's key): read with ``NEXUS_LAB_KEY_PASSWORD``, made there on first use.

    A made key is saved readable by its owner only, with its public bundle beside it
    (``.nxpub``) for whoever checks what it signed. Keys read once are kept for the
    process.

    Parameters
    ----------
    path : str or path-like
        The key file (see :func:`nexus_lab.config.signing_key`,
        :func:`nexus_lab.config.cases_key`).
    label : str
        The label a new key gets.
    create : bool, default True
        Make the key when the file is missing (else raise).

    Raises
    ------
    NexusError
        ``NEXUS_LAB_KEY_PASSWORD`` is not set, or the file is missing and ``create`` is
        False.
    IntegrityError
        The password does not open the key file.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> os.environ["NEXUS_LAB_KEY_PASSWORD"] = "correct horse"
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "keys" / "workbench.nxkey"
    >>> workbench_keypair(path, "workbench").label
    'workbench'
    >>> sorted(p.name for p in path.parent.iterdir())
    ['workbench.nxkey', 'workbench.nxpub']
    >>> del os.environ["NEXUS_LAB_KEY_PASSWORD"]
    """
    from nexus_lab.crypto import generate_keypair
    from nexus_lab.errors import NexusError

    p = os.path.abspath(path)
    password = config.settings().key_password
    with _KEYS_LOCK:
        if (p, password or "") in _KEYS:
            return _KEYS[(p, password or "")]
        if not password:
            raise NexusError(f"the workbench key {p} needs a password: set "
                             "NEXUS_LAB_KEY_PASSWORD (the same one every time: it opens the "
                             "key file)")
        if os.path.exists(p):
            key = load_keypair(p, password=password)
        elif not create:
            raise NexusError(f"no key file at {p}: make one with `nexus-lab keys new`, or "
                             "point the setting at the right file")
        else:
            os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
            key = generate_keypair(label)
            key.save(p, password=password)
            key.public.save(os.path.splitext(p)[0] + ".nxpub")
            log.info("made the key %s (%s) at %s", label, key.public.fingerprint_hex, p)
        _KEYS[(p, password)] = key
        return key


def actor(name: str | None = None) -> str:
    """Who acts: ``name``, else this context's :func:`acting_as`, else ``NEXUS_LAB_ACTOR``,
    else the login name."""
    return _who(name)


def _who(name: str | None) -> str:
    return name or _ACTOR.get() or config.login_name()


def record(action: str, resource: str, details: Mapping[str, Any] | None = None, *,
           actor: str | None = None, audit: AuditLog | None = None, store: Any = None,
           resource_type: str | None = None, outcome: str = "done") -> AuditEntry | None:
    """Append one action to the current audit log (see the module docstring), and to the
    ``audit_logs`` table of ``store`` when one is given.

    The store's row is written in the store's current transaction when there is one,
    else in one of its own.

    Parameters
    ----------
    action, resource : str
        What was done (``"reconciliation.approved"``) and to what.
    details : mapping, optional
        Facts of the action (JSON-able).
    actor : str, optional
        Who did it (default: :func:`actor`).
    audit : AuditLog, optional
        The log to append to (default: :func:`current`).
    store : Store, optional
        A store (:mod:`nexus_lab.store`) whose ``audit_logs`` gets the row too.
    resource_type : str, optional
        The row's ``resource_type`` (default: the part of ``resource`` before ``/``).
    outcome : str, default "done"
        ``"done"``, or ``"refused"`` for a refused attempt.

    Returns
    -------
    AuditEntry or None
        None when no audit log is configured.
    """
    target = audit if audit is not None else current()
    who = _who(actor)
    entry = None
    if target is None:
        log.debug("no audit log configured; not recorded: %s %s %s", who, action, resource)
    else:
        entry = target.append(who, action, resource, details)
    if store is not None:
        _store_row(store, entry, who, action, resource, details, resource_type, outcome)
    return entry


def _store_row(store: Any, entry: AuditEntry | None, who: str, action: str, resource: str,
               details: Mapping[str, Any] | None, resource_type: str | None,
               outcome: str) -> None:
    import json

    kind = resource_type or (resource.split("/", 1)[0] if "/" in resource else action
                             .split(".", 1)[0])
    store.execute(
        "insert into audit_logs (user_id, action, resource_type, resource_id, details, "
        "outcome, chain_seq, chain_hash) values (:u, :a, :t, :r, :d, :o, :s, :h)",
        {"u": who, "a": action, "t": kind, "r": resource,
         "d": json.dumps(dict(details or {}), default=str), "o": outcome,
         "s": entry.seq if entry is not None else None,
         "h": entry.entry_hash.hex() if entry is not None else None})


@contextlib.contextmanager
def change(store: Any, action: str, resource: str, details: Mapping[str, Any] | None = None,
           *, actor: str | None = None, audit: AuditLog | None = None,
           resource_type: str | None = None) -> Iterator[dict]:
    """One unit of work: the block's writes to ``store`` and the record of them, both or
    neither.

    The block runs in a store transaction; when it ends well, the action is appended to
    the signed audit log (when one is in use) and to the store's ``audit_logs`` in the
    same transaction, which then commits. When the block raises, nothing is recorded
    and its writes are undone. When the record or the commit fails after the signed
    log took the entry, an ``<action>.rolled_back`` entry follows it there, so the
    signed log never claims a change the store does not hold.

    Yields
    ------
    dict
        The details to record; the block may add to them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import audit
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> with audit.change(store, "config.set", "system_config/fiscal_year") as facts:
    ...     n = store.execute("insert into system_config (config_key, config_value) "
    ...                       "values ('fiscal_year', '2025')")
    ...     facts["value"] = 2025
    >>> store.read("audit_logs")[["action", "resource_id"]].values.tolist()
    [['config.set', 'system_config/fiscal_year']]
    """
    target = audit if audit is not None else current()
    who = _who(actor)
    facts = dict(details or {})
    entry = None
    nested = store.in_transaction  # then the change commits with the outer transaction
    try:
        with store.transaction():
            yield facts
            if target is not None:
                entry = target.append(who, action, resource, facts)
            _store_row(store, entry, who, action, resource, facts, resource_type, "done")
        if not nested:  # for a program that is stopped later, to say this was done
            record_output(f"{action} of {resource} in {store.where}")
    except BaseException as err:
        if entry is not None and target is not None:
            try:
                target.append(who, f"{action}.rolled_back", resource,
                              {"seq": entry.seq, "error": type(err).__name__})
            except Exception:  # the first error is the one to show
                log.warning("could not record that %s on %s was rolled back", action, resource,
                            exc_info=True)
        raise


def check_store(log: AuditLog, store: Any) -> dict:
    """Check the signed audit log against the store's ``audit_logs``: the store is a
    witness that the log was not rolled back or rewritten.

    Every change the store records with the log's sequence number and entry hash must
    be in the log, identical. A log cut back to an earlier state, or an entry rewritten
    (even with a valid chain and fresh signatures), fails here, since the store kept
    the hashes the log had when the changes were made.

    Parameters
    ----------
    log : AuditLog
    store : Store
        The store the services recorded into.

    Returns
    -------
    dict
        ``checked`` (store rows compared) and ``latest`` (the highest sequence number
        the store witnesses, or None).

    Raises
    ------
    IntegrityError
        Naming the first entry the log lacks or holds differently.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import audit
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> log = nx.crypto.AuditLog(folder / "audit.db")
    >>> with audit.using(log), audit.change(store, "config.set", "system_config/x"):
    ...     n = store.execute("insert into system_config (config_key) values ('x')")
    >>> audit.check_store(log, store)
    {'checked': 1, 'latest': 1}
    """
    from nexus_lab.errors import IntegrityError

    rows = store.query("select id, action, resource_id, chain_seq, chain_hash, created_at "
                       "from audit_logs where chain_seq is not null order by chain_seq")
    if rows.empty:
        return {"checked": 0, "latest": None}
    entries = log.entries().set_index("seq")
    have = {int(seq): (h.hex() if isinstance(h, bytes | bytearray | memoryview) else str(h))
            for seq, h in entries["entry_hash"].items()}
    for row in rows.itertuples(index=False):
        seq = int(row.chain_seq)
        if seq not in have:
            raise IntegrityError(
                f"the store records entry {seq} of the audit log ({row.action} of "
                f"{row.resource_id} at {row.created_at}), which the log does not hold (it "
                f"ends at entry {max(have) if have else 0}): the log was rolled back or "
                "replaced")
        if have[seq] != row.chain_hash:
            raise IntegrityError(
                f"entry {seq} of the audit log differs from what the store recorded when "
                f"it was made ({row.action} of {row.resource_id} at {row.created_at}): "
                "the log was rewritten from there on")
    return {"checked": len(rows), "latest": int(rows["chain_seq"].max())}
