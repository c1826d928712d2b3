"""Serving every dashboard, behind one login, from one process."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any

from nexus_lab import config
from nexus_lab.dashboards._catalog import DASHBOARDS
from nexus_lab.dashboards._session import shared_store
from nexus_lab.errors import NexusError

__all__ = ["app", "serve"]

log = logging.getLogger("nexus_lab")


def app(name: str) -> Any:
    """Build dashboard ``name`` (or ``"index"``, the landing page) for the signed-in user."""
    if name == "index":
        from nexus_lab.dashboards.landing import page
        return page()
    if name not in DASHBOARDS:
        raise NexusError(f"no dashboard {name!r}; the dashboards are {', '.join(DASHBOARDS)}")
    return importlib.import_module(f"nexus_lab.dashboards.{DASHBOARDS[name].module}").page()


def _warm() -> None:
    """Import what building a page needs before the first visitor waits for it (Tabulator
    loads pandas' Styler, which loads matplotlib: seconds, once)."""
    import bokeh.plotting  # noqa: F401
    import pandas.io.formats.style  # noqa: F401

    for d in DASHBOARDS.values():
        try:
            importlib.import_module(f"nexus_lab.dashboards.{d.module}")
        except ImportError as err:  # a dashboard that cannot load says so when opened
            log.warning("dashboard %s does not load: %s", d.name, err)


def _check_logins(store: Any, *, passwords: bool = True) -> None:
    """Refuse to serve a store nobody can sign in to: no active user (with a password,
    unless ``passwords`` is False: tickets sign users in without one)."""
    able = store.query("select count(*) as n from users where active = :t" +
                       (" and password_hash is not null" if passwords else ""),
                       {"t": True})["n"].iloc[0]
    if not able:
        raise NexusError(
            f"nobody can sign in to the store at {store.where}: add a user"
            f"{' with a password' if passwords else ''} first, e.g. `nexus-lab users add ana "
            "--role examiner` (it asks the password)")


def _free_port(address: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _prefix(prefix: str | None) -> str:
    """``prefix`` as Bokeh keeps it: ``""``, or ``/a/b`` (one leading slash, none after)."""
    if not prefix or not prefix.strip("/"):
        return ""
    if any(c in prefix for c in "?#\\") or any(c.isspace() for c in prefix) or \
            "//" in prefix.strip("/"):
        raise NexusError(f"the path prefix {prefix!r} is not a plain URL path: give one "
                         "like /user/ana/nexus-dashboards")
    return "/" + prefix.strip("/")


def serve(*, port: int = 5006, address: str = "127.0.0.1", store: str | None = None,
          allow_websocket_origin: list[str] | None = None, show: bool = False,
          start: bool = True, oauth_provider: str | None = None, threads: int = 0,
          prefix: str | None = None, **panel_options: Any) -> Any:
    """Serve every dashboard and a landing page at ``/`` (``PREFIX/`` with a ``prefix``),
    behind a login.

    Parameters
    ----------
    port : int, default 5006
        0 picks a free port (``server.port`` says which).
    allow_websocket_origin : list of str, optional
        The hosts (``host:port``) pages may be opened from (default: this machine).
    address : str, default "127.0.0.1"
        Where to listen; ``"0.0.0.0"`` for every interface (then pass
        ``allow_websocket_origin``).
    store : str, optional
        The system of record's URL (default :func:`nexus_lab.config.store_url`): the
        users who may sign in, their roles, and everything the dashboards show.
    oauth_provider : str, optional
        Sign in with an OAuth provider instead (``"github"``, ``"azure"``, ``"okta"``,
        ``"generic"``...), with Panel's usual options (``oauth_key``, ``oauth_secret``,
        ``oauth_redirect_uri``, ``oauth_extra_params``): the provider's user name must
        be a user of the store, whose roles apply.
    threads : int, default 0
        Threads that run the pages' callbacks, so that one user's long action (approving
        a million matches: seconds) does not hold up the others' pages; 0 runs them on
        the server's loop, one at a time.
    prefix : str, optional
        A path every URL of the server starts with (``/user/ana/nexus-dashboards``:
        the landing page is ``/user/ana/nexus-dashboards/``), to be served behind a
        proxy that passes the whole path on (jupyter-server-proxy's ``absolute_url``).
        The cookies are then kept to that path, and an active user without a password
        is enough to start: behind the Jupyter server, people come in with tickets.
    start : bool, default True
        Start the server's loop (blocks). False returns the server unstarted.
    **panel_options
        Passed to :func:`panel.serve`.

    Returns
    -------
    bokeh.server.server.Server
    """
    import panel as pn

    from nexus_lab.dashboards._auth import StoreAuthProvider, cookie_secret

    prefix = _prefix(prefix)
    if store:
        os.environ["NEXUS_LAB_STORE"] = store  # the sessions' store, and panel serve's
    s = shared_store(store or config.store_url())
    if oauth_provider is None:
        _check_logins(s, passwords=not prefix)
        here = Path(__file__).parent / "templates"
        panel_options["auth_provider"] = StoreAuthProvider(
            login_endpoint="/login", logout_endpoint="/logout",
            login_template=str(here / "login.html"), logout_template=str(here / "logout.html"))
    else:
        panel_options["oauth_provider"] = oauth_provider
    _warm()
    port = port or _free_port(address)
    origins = allow_websocket_origin or [f"localhost:{port}", f"127.0.0.1:{port}"]
    apps = {"/": lambda: app("index"),
            **{f"/{name}": (lambda n=name: app(n)) for name in DASHBOARDS}}
    pn.config.nthreads = threads or None
    server = pn.serve(
        apps, port=port, address=address, show=show, start=False,
        cookie_secret=cookie_secret(), title="NEXUS Lab", prefix=prefix,
        cookie_path=prefix + "/", websocket_origin=origins, **panel_options)
    log.info("dashboards at http://%s:%s%s/ (store %s)", address, server.port, prefix,
             s.where)
    if start:
        server.start()
        server.io_loop.start()
    return server
