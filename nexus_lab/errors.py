"""Errors raised by NEXUS Lab.

Every error a user can cause is a :class:`NexusError`. Its message names what is
wrong (the column, the first offending rows) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ClusterError", "DependencyError", "DeviceError", "IntegrityError", "NexusError",
           "NotFittedError", "SchemaError"]


class NexusError(Exception):
    """Base class of every error NEXUS Lab raises on purpose."""


class SchemaError(NexusError, ValueError):
    """A table does not have the columns, types or values a kernel needs.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    table : str, optional
        The name of the table (``"bank"``, ``"ledger"``...).
    column : str, optional
        The offending column.
    rows : sequence, optional
        The first offending row labels (positions or ids).

    Examples
    --------
    >>> err = SchemaError("amount is not numeric", table="bank", column="amount", rows=[3])
    >>> err.column, err.rows
    ('amount', [3])
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        rows: Sequence[object] | None = None,
    ) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
        self.rows = list(rows) if rows is not None else []


class IntegrityError(NexusError):
    """Stored or signed data fails a consistency or integrity check.

    The message names what failed. Checks that can point further attach it: an audit
    log's ``verify`` sets ``entry`` (the sequence number of the first altered, removed
    or reordered entry); a case store's ``verify`` sets ``report`` (the full
    :class:`~nexus_lab.cases.VerifyReport`) and ``problems`` (every failed check).
    """


class ClusterError(NexusError, ConnectionError):
    """A Dask scheduler cannot be reached, or a cluster job cannot run; the message names
    the address and what to check."""


class DeviceError(NexusError, RuntimeError):
    """The requested compute device is not available."""


class NotFittedError(NexusError, ValueError, AttributeError):
    """An estimator was used (scored, encoded, saved...) before it was fitted.

    Like scikit-learn's ``NotFittedError`` it is a ``ValueError`` and an
    ``AttributeError``, so code written for scikit-learn estimators catches it. Raised
    by :func:`nexus_lab._estimator.check_is_fitted`, whose message names the class and
    the ``fit`` call to make first.

    Examples
    --------
    >>> err = NotFittedError("this PQ is not fitted yet: call fit(X) first")
    >>> isinstance(err, NexusError) and isinstance(err, ValueError)
    True
    """


class DependencyError(NexusError, ImportError):
    """An optional dependency is missing; the message names the install command."""


class PermissionDenied(NexusError, PermissionError):
    """A user tried what none of their roles permits (see :mod:`nexus_lab.auth`); the
    refusal is recorded in the audit trail."""

    def __init__(self, user: str, roles: list[str], permission: str, hint: str) -> None:
        self.user, self.roles, self.permission = user, list(roles), permission
        held = ", ".join(roles) if roles else "no role"
        super().__init__(f"{user} ({held}) may not {permission}: {hint}")
