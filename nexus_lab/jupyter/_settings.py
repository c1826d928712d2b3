"""The server's settings (``c.NexusLab.*``), the store it serves, and who acts.

One :class:`Workbench` per Jupyter server, kept in the server's web settings under
``"nexus_lab"``: the store every handler shares, the MLflow tracking store, the server's
owner, and the rule that names the acting user of a request.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable

from nexus_lab import config, dashboards

__all__ = ["DEMO_STORE", "NexusLab", "Workbench", "store_url"]

log = logging.getLogger("nexus_lab.jupyter")

#: Where ``make demo`` leaves its store, under the checkout (see ``records_step``).
DEMO_STORE = Path("out") / "demo" / "store" / "books.db"
# the demo's administrator (``records_step`` makes lead, ana and jo)
_DEMO_ADMIN = "lead"


class NexusLab(Configurable):
    """NEXUS Lab's settings in a Jupyter configuration file (``c.NexusLab.store_url``...)."""

    store_url = Unicode(
        None, allow_none=True, config=True,
        help="The store the server serves: sqlite:///path or postgresql://... (default: "
             "NEXUS_LAB_STORE; else, in a NEXUS Lab checkout where `make demo` ran, the "
             "demo's store; else nexus.db in the user's data folder).")
    user = Unicode(
        None, allow_none=True, config=True,
        help="Who acts for the server's own token or password (its owner) when the Jupyter "
             "identity is no user of the store (default: NEXUS_LAB_ACTOR; on the demo's "
             "store its administrator, lead; else the login name).")
    tracking_uri = Unicode(
        None, allow_none=True, config=True,
        help="The MLflow tracking URI (default: MLFLOW_TRACKING_URI, else "
             "experiments/mlflow.db of the checkout the root folder is in, else mlflow.db "
             "in the user's data folder).")


def _demo_store(root_dir: str | os.PathLike[str] | None) -> Path | None:
    """The demo's store of the checkout ``root_dir`` is in, when ``make demo`` wrote one."""
    found = config.checkout(root_dir)
    if found is None or not (found / DEMO_STORE).is_file():
        return None
    return found / DEMO_STORE


def store_url(root_dir: str | os.PathLike[str] | None = None, *,
              configured: str | None = None) -> str:
    """The store a Jupyter server serves, and the reason in the log.

    Parameters
    ----------
    root_dir : str or path-like, optional
        The server's root folder (default: the current folder).
    configured : str, optional
        ``c.NexusLab.store_url``.

    Returns
    -------
    str
        ``configured``, else ``NEXUS_LAB_STORE``; else, when ``root_dir`` is in a NEXUS
        Lab checkout that holds ``out/demo/store/books.db`` (what ``make demo`` writes),
        that store; else :func:`nexus_lab.config.store_url`.

    Examples
    --------
    >>> import os, tempfile
    >>> url = store_url(tempfile.mkdtemp(), configured="sqlite:////srv/lab/books.db")
    >>> url
    'sqlite:////srv/lab/books.db'
    """
    return _choose_store(root_dir, configured)[0]


def _choose_store(root_dir: str | os.PathLike[str] | None,
                  configured: str | None) -> tuple[str, bool]:
    """``(url, whether it is the demo's store)``, the choice logged with its reason."""
    env = config.settings().store_url
    demo = _demo_store(root_dir)
    if configured:
        url, why = configured, "c.NexusLab.store_url"
    elif env:
        url, why = env, "NEXUS_LAB_STORE"
    elif demo is not None:
        url, why = f"sqlite:///{demo.as_posix()}", (
            f"the demo's store: the root folder is in the checkout {demo.parents[3]} where "
            "`make demo` ran; set c.NexusLab.store_url or NEXUS_LAB_STORE for another")
    else:
        url, why = config.store_url(), (
            "the default store in the user's data folder: neither c.NexusLab.store_url nor "
            "NEXUS_LAB_STORE is set, and no demo's store is in a checkout around the root "
            "folder")
    log.info("NEXUS Lab serves the store %s (%s)", config.redact(url), why)
    is_demo = demo is not None and url == f"sqlite:///{demo.as_posix()}"
    return url, is_demo


def _owner_by_token(handler: Any) -> bool:
    """True when the request's identity is the server's own token or password (Jupyter
    Server's own identity providers): whoever holds those owns the server."""
    from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

    provider = getattr(handler, "identity_provider", None)
    return type(provider) in (IdentityProvider, PasswordIdentityProvider)


class Workbench:
    """What one Jupyter server serves: the store, the tracking store, its owner.

    Parameters
    ----------
    store_url : str
        The store (see :func:`store_url`); opened and migrated here.
    tracking_uri : str, optional
        Default: MLflow's (``MLFLOW_TRACKING_URI``, else the checkout's around
        ``root_dir``, else the user data folder's).
    owner : str, optional
        Who acts for the server's own token or password when the Jupyter identity is no
        user of the store (default: ``NEXUS_LAB_ACTOR``, else ``lead`` on the demo's
        store, else the login name).
    root_dir : str or path-like, optional
        The server's root folder (default: the current folder).
    demo : bool, default False
        Whether the store is the demo's.

    Attributes
    ----------
    store_url, store, tracking_uri, owner, root_dir, demo
        As given (``store`` the open :class:`~nexus_lab.store.Store`).
    metrics : object or None
        The server's Prometheus metrics, once the extension set them up.
    """

    def __init__(self, store_url: str, *, tracking_uri: str | None = None,
                 owner: str | None = None, root_dir: str | os.PathLike[str] | None = None,
                 demo: bool = False) -> None:
        self.root_dir = Path(root_dir if root_dir is not None else os.getcwd()).absolute()
        self.store_url = store_url
        if not config.settings().store_url and store_url == config.store_url():
            config.data_folder().mkdir(parents=True, exist_ok=True)  # as connect() does
        self.store = dashboards.shared_store(store_url)  # the process's pool for the URL
        self.demo = demo
        if tracking_uri:
            self.tracking_uri = tracking_uri
        else:
            found = config.checkout(self.root_dir)
            self.tracking_uri = config.tracking_uri(found) if found else config.tracking_uri()
        self.owner = (owner or config.settings().actor or (_DEMO_ADMIN if demo else None)
                      or config.login_name())
        self.metrics: Any = None

    @classmethod
    def from_server(cls, serverapp: Any) -> Workbench:
        """The workbench of a Jupyter server, from its ``c.NexusLab`` settings."""
        settings = NexusLab(parent=serverapp)
        url, demo = _choose_store(serverapp.root_dir, settings.store_url)
        bench = cls(url, tracking_uri=settings.tracking_uri, owner=settings.user,
                    root_dir=serverapp.root_dir, demo=demo)
        log.info("NEXUS Lab: tracking at %s; the server's owner acts as %s",
                 config.redact(bench.tracking_uri), bench.owner)
        return bench

    def known(self, user: str) -> bool:
        """True when ``user`` is an active user of the store."""
        found = self.store.read("users", where={"user_id": user, "active": True},
                                columns=["user_id"])
        return not found.empty

    def acting_user(self, handler: Any) -> str:
        """Who acts for a request (reads the store: call it off the server's loop).

        The Jupyter identity (``handler.current_user.username``) when the store has that
        active user. Otherwise, when the identity is the server's own token or password
        (Jupyter Server's ``IdentityProvider`` or ``PasswordIdentityProvider``, whoever
        holds it owns the server), the server's :attr:`owner`. Under any other identity
        provider (JupyterHub...) the identity's name as it is: it holds no role in the
        store, so every service refuses it. A request with no identity is no one's
        (``"anonymous"``), never the owner's.
        """
        identity = handler.current_user
        name = getattr(identity, "username", None) or (
            identity if isinstance(identity, str) else None)
        if name and self.known(name):
            return name
        if name and _owner_by_token(handler):
            return self.owner
        return name or "anonymous"
