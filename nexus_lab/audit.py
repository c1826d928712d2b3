"""The workbench's audit trail: where services record their state-changing actions.

Services (case management, model promotion, reconciliation approval, fraud review)
call :func:`record` with what they did. It appends to the current
:class:`~nexus_lab.crypto.AuditLog`: the one given with ``audit=``, else the one set
with :func:`use`, else the SQLite file named by the ``NEXUS_LAB_AUDIT_LOG``
environment variable (checkpoints signed by the key file in ``NEXUS_LAB_AUDIT_KEY``
with the password in ``NEXUS_LAB_AUDIT_PASSWORD``, when set). With none of these,
nothing is recorded and a debug message says so.

The actor is the given one, else ``NEXUS_LAB_ACTOR``, else the login name.

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
import getpass
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

from nexus_lab.crypto._audit import AuditEntry, AuditLog

__all__ = ["actor", "current", "record", "use", "using"]

log = logging.getLogger("nexus_lab")
_CURRENT: AuditLog | None = None
_FROM_ENV: dict[str, AuditLog] = {}


def use(audit_log: AuditLog | str | os.PathLike[str] | None, *, signer: Any = None) -> None:
    """Make ``audit_log`` (or a SQLite file) the current log; ``None`` unsets it."""
    global _CURRENT
    if audit_log is None or isinstance(audit_log, AuditLog):
        _CURRENT = audit_log
    else:
        _CURRENT = AuditLog(audit_log, signer=signer)


@contextlib.contextmanager
def using(audit_log: AuditLog | str | os.PathLike[str], *, signer: Any = None
          ) -> Iterator[AuditLog]:
    """Make ``audit_log`` current inside a ``with`` block."""
    global _CURRENT
    before = _CURRENT
    use(audit_log, signer=signer)
    try:
        yield _CURRENT  # type: ignore[misc]
    finally:
        _CURRENT = before


def current() -> AuditLog | None:
    """The log :func:`record` appends to, or None."""
    if _CURRENT is not None:
        return _CURRENT
    path = os.environ.get("NEXUS_LAB_AUDIT_LOG")
    if not path:
        return None
    if path not in _FROM_ENV:
        signer = None
        key = os.environ.get("NEXUS_LAB_AUDIT_KEY")
        if key:
            from nexus_lab.crypto._keys import load_keypair

            signer = load_keypair(key, password=os.environ.get("NEXUS_LAB_AUDIT_PASSWORD", ""))
        _FROM_ENV[path] = AuditLog(path, signer=signer)
    return _FROM_ENV[path]


def actor(name: str | None = None) -> str:
    """Who acts: ``name``, else ``NEXUS_LAB_ACTOR``, else the login name."""
    return _who(name)


def _who(name: str | None) -> str:
    if name:
        return name
    env = os.environ.get("NEXUS_LAB_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


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

