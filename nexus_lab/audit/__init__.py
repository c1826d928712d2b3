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

__all__ = ["acting_as", "actor", "current", "record", "use", "using"]

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


def actor(name: str | None = None) -> str:
    """Who acts: ``name``, else this context's :func:`acting_as`, else ``NEXUS_LAB_ACTOR``,
    else the login name."""
    return _who(name)


def _who(name: str | None) -> str:
    return name or _ACTOR.get() or config.login_name()


def record(action: str, resource: str, details: Mapping[str, Any] | None = None, *,
           actor: str | None = None, audit: AuditLog | None = None) -> AuditEntry | None:
    """Append one action to the current audit log (see the module docstring).

    Returns
    -------
    AuditEntry or None
        None when no audit log is configured.
    """
    target = audit if audit is not None else current()
    who = _who(actor)
    if target is None:
        log.debug("no audit log configured; not recorded: %s %s %s", who, action, resource)
        return None
    return target.append(who, action, resource, details)
