"""One signed-in browser session: who it is, what they may do, and how views act for them.

Views never check a permission to decide whether an action is allowed: they ask
:meth:`Session.can` only to decide what to *show*, and every action goes through a
service under :meth:`Session.act`, which runs it as the signed-in user. The service
checks the permission and records the action (or the refusal) in the audit log, so a
forged request from the browser is refused exactly as the same call from a notebook.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nexus_lab import audit, auth, config
from nexus_lab.dashboards._catalog import DASHBOARDS, home_of, primary_role, theme_of
from nexus_lab.errors import NexusError, PermissionDenied

__all__ = ["LoginRequired", "Session", "shared_store"]

log = logging.getLogger("nexus_lab")
T = TypeVar("T")

_STORES: dict[str, Any] = {}
_STORES_LOCK = threading.Lock()


class LoginRequired(NexusError):
    """A page was asked for without a signed-in user (served without a login)."""


def shared_store(url: str | None = None) -> Any:
    """The process's open store for ``url`` (default :func:`nexus_lab.config.store_url`),
    migrated once: every session shares its connection pool."""
    from nexus_lab.store import connect

    url = url or config.store_url()
    with _STORES_LOCK:
        if url not in _STORES:
            store = connect(url)
            store.migrate()
            _STORES[url] = store
        return _STORES[url]


class Session:
    """A signed-in user's view of the workbench.

    Parameters
    ----------
    user : str
        The signed-in user (Panel's ``pn.state.user``).
    store : Store, optional
        Default: the process's shared store.
    """

    def __init__(self, user: str, store: Any = None) -> None:
        if not user:
            raise LoginRequired("sign in first: the dashboards are served only behind a "
                                "login (`nexus-lab dashboards serve`)")
        self.user = user
        self.store = store if store is not None else shared_store()
        with audit.acting_as(user):
            self.roles = auth.roles(user, store=self.store)
            self.permissions = auth.permissions(user, store=self.store)
        self.role = primary_role(self.roles)
        self.theme, self.accent, self.header = theme_of(self.roles)

    @classmethod
    def current(cls) -> Session:
        """The session of the browser tab being served (Panel's signed-in user)."""
        import panel as pn

        return cls(pn.state.user)

    # ---- what to show -------------------------------------------------------------
    def can(self, *permission: str) -> bool:
        """Whether the user holds any of ``permission`` (for showing, never for allowing)."""
        return bool(self.permissions & set(permission))

    @property
    def home(self) -> str:
        """The dashboard this user lands on."""
        return home_of(self.roles)

    def dashboards(self) -> list:
        """The dashboards this user may open, in the catalog's order."""
        return [d for d in DASHBOARDS.values() if self.can(*d.permission)]

    @property
    def where(self) -> str:
        """The store, fit to show (its password hidden)."""
        return self.store.where

    # ---- doing -----------------------------------------------------------------------
    def act(self, action: Callable[..., T], *args: Any, done: str | None = None,
            **kwargs: Any) -> T | None:
        """Run a service call as this user; show its refusal or error instead of raising.

        Parameters
        ----------
        action : callable
            A service function; it gets ``store=`` this session's store.
        done : str, optional
            A message shown when it succeeds.

        Returns
        -------
        Whatever ``action`` returned, or None when it was refused or failed (the
        message is shown to the user; a refusal is in the audit log already).
        """
        with audit.acting_as(self.user):
            try:
                result = action(*args, store=self.store, **kwargs)
            except PermissionDenied as err:
                self.notify(f"Refused: {err}", "error")
                return None
            except NexusError as err:
                self.notify(str(err), "warning")
                return None
        if done:
            self.notify(done, "success")
        return result

    def read(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service read as this user (its refusal raises: a view shows it)."""
        with audit.acting_as(self.user):
            return query(*args, store=self.store, **kwargs)

    @staticmethod
    def notify(message: str, kind: str = "info") -> None:
        """Show ``message`` as a toast (info, success, warning, error); log it too.

        The toast shows the message as text: messages quote what the store keeps
        (transaction ids, names, a period typed in), which markup must not run from.
        """
        import panel as pn

        log.info("dashboard %s: %s", kind, message)
        notes = getattr(pn.state, "notifications", None)
        if notes is not None:  # Panel's toasts take HTML
            getattr(notes, kind)(html.escape(message), duration=8000 if kind in
                                 ("error", "warning") else 4000)
