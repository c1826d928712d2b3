"""Signing in to the dashboards: Panel's basic auth, checked against the store's users.

Passwords are never kept in a file of plain text (Panel's own ``--basic-auth`` file):
``nexus-lab users add NAME --role ROLE`` keeps an scrypt hash in the store, and the login
form is checked against it. The session cookie is signed with the cookie secret
(:func:`cookie_secret`). Every sign-in, and every failed one, is in the audit log.
Bokeh asks the provider for the user on every page *and* websocket, so nothing is served
without a login.
"""

from __future__ import annotations

import logging
import os
import secrets
import time

import tornado.escape
from panel.auth import BasicAuthProvider, BasicLoginHandler, _validate_next_url
from panel.io.state import state

from nexus_lab import audit, auth, config
from nexus_lab.dashboards._catalog import home_of
from nexus_lab.dashboards._session import shared_store
from nexus_lab.errors import NexusError

__all__ = ["StoreAuthProvider", "StoreLoginHandler", "cookie_secret"]

log = logging.getLogger("nexus_lab")
_FAILED_PAUSE = 0.5  # seconds a failed sign-in waits, on top of scrypt's own cost


def cookie_secret() -> str:
    """``NEXUS_LAB_COOKIE_SECRET``, else a random secret made once and kept (owner-only)
    in ``dashboards/cookie_secret`` in the data folder, so sign-ins outlive a restart."""
    env = config.settings().cookie_secret
    if env:
        return env
    path = config.data_folder() / "dashboards" / "cookie_secret"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret)
    os.replace(tmp, path)
    return secret


class StoreLoginHandler(BasicLoginHandler):
    """Panel's login form, checked against the password hashes in the store."""

    def _validate(self, username: str, password: str) -> bool:
        store = shared_store()
        ok = bool(username) and auth.check_password(username, password, store=store)
        try:
            audit.record("login" if ok else "login.failed", f"users/{username}"[:200],
                         {"remote": self.request.remote_ip}, actor=username or "(blank)",
                         store=store, resource_type="user",
                         outcome="done" if ok else "refused")
        except NexusError as err:  # the login must not hinge on the record of it
            log.warning("could not record the sign-in of %s: %s", username, err)
        if not ok:
            time.sleep(_FAILED_PAUSE)
        return ok

    def post(self) -> None:
        username = self.get_argument("username", "")
        password = self.get_argument("password", "")
        if not self._validate(username, password):
            self.redirect(self.request.uri.split("?")[0] + "?error=" + tornado.escape.url_escape(
                "Invalid username or password"))
            return
        self.set_current_user(username)
        next_url = _validate_next_url(self.get_cookie("next_url", None))
        if not next_url or next_url.rstrip("/") in ("", state.base_url.rstrip("/")):
            next_url = "./" + home_of(auth.roles(username, store=shared_store()))
        self.clear_cookie("next_url")
        self.redirect(next_url)


class StoreAuthProvider(BasicAuthProvider):
    """Panel's basic-auth provider whose login form checks the store's users."""

    @property
    def login_handler(self) -> type[StoreLoginHandler]:
        StoreLoginHandler._login_endpoint = self._login_endpoint
        StoreLoginHandler._login_template = self._login_template
        return StoreLoginHandler
