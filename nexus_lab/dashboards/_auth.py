"""Signing in to the dashboards: Panel's basic auth, checked against the store's users.

Passwords are never kept in a file of plain text (Panel's own ``--basic-auth`` file):
``nexus-lab users add NAME --role ROLE`` keeps an scrypt hash in the store, and the login
form is checked against it. The session cookie is signed with the cookie secret
(:func:`cookie_secret`). Every sign-in, and every failed one, is in the audit log.
Bokeh asks the provider for the user on every page *and* websocket, so nothing is served
without a login, and nothing to a user who is no longer active (the cookie of one made
inactive opens nothing more).

A failed sign-in answers after a pause, without holding up the server; after five
failures in a row a name is locked for a while (longer with each further failure),
whether or not it is a user's (:class:`nexus_lab.auth.SignInThrottle`, the process's
:data:`nexus_lab.auth.sign_ins`). A sign-in goes on only to a dashboard of this server.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import urllib.parse
from typing import Any

from panel.auth import BasicAuthProvider, BasicLoginHandler
from panel.config import config as panel_config
from panel.io.resources import CDN_DIST
from panel.io.state import state

from nexus_lab import auth, config
from nexus_lab.dashboards._catalog import DASHBOARDS, home_of
from nexus_lab.dashboards._session import shared_store

__all__ = ["StoreAuthProvider", "StoreLoginHandler", "cookie_secret"]

_FAILED_PAUSE = auth.sign_ins.pause
_MESSAGES = {"invalid": "Invalid username or password",
             "locked": "Too many failed sign-ins for this name: wait a few minutes, then "
                       "try again"}
_THROTTLE = auth.sign_ins  # the process's, shared with every other login form


def dashboard_of(next_url: str | None) -> str | None:
    r"""The dashboard a sign-in's ``next`` asks for (``""``: the landing page), or None
    when it is no page of this server (another site, ``///host``, a backslash...).

    Examples
    --------
    >>> [dashboard_of(u) for u in ("/fraud", "/", "///evil.example/x", "https://x.org/",
    ...                            "/\\x.org", "/etc/passwd")]
    ['fraud', '', None, None, None, None]
    """
    if not next_url or "\\" in next_url:
        return None
    parts = urllib.parse.urlsplit(next_url)
    base = state.base_url or "/"
    if parts.scheme or parts.netloc or not parts.path.startswith(base) or \
            parts.path.startswith("//"):
        return None
    name = parts.path[len(base):].strip("/")
    return name if name == "" or name in DASHBOARDS else None


def _active(user: str) -> bool:
    return not shared_store().read("users", where={"user_id": user, "active": True},
                                   columns=["user_id"]).empty


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

    def get(self) -> None:
        wanted = dashboard_of(self.get_argument("next", ""))
        if wanted is None:
            self.clear_cookie("next_url")
        else:
            self.set_cookie("next_url", "/" + wanted, httponly=True)
        self.write(self._login_template.render(
            login_endpoint=self._login_endpoint, PANEL_CDN=CDN_DIST,
            errormessage=_MESSAGES.get(self.get_argument("error", ""), "")))

    def _validate(self, username: str, password: str) -> bool:
        store = shared_store()
        ok = bool(username) and auth.check_password(username, password, store=store)
        self._record(username, ok)
        return ok

    def _record(self, username: str, ok: bool, **facts: Any) -> None:
        auth.record_sign_in(username, ok, store=shared_store(),
                            remote=self.request.remote_ip, **facts)

    async def post(self) -> None:
        username = self.get_argument("username", "")
        password = self.get_argument("password", "")
        loop = asyncio.get_running_loop()
        locked = _THROTTLE.begin(username)
        if locked:
            await loop.run_in_executor(None, lambda: self._record(
                username, False, locked_for_s=round(locked)))
            ok = False
        else:  # scrypt and the store off the server's loop: other visitors do not wait
            ok = await loop.run_in_executor(None, self._validate, username, password)
        if not ok:
            await asyncio.sleep(_FAILED_PAUSE)
            self.redirect(self.request.uri.split("?")[0] + "?error=" +
                          ("locked" if locked else "invalid"))
            return
        _THROTTLE.succeeded(username)
        self.set_current_user(username)
        wanted = dashboard_of(self.get_cookie("next_url", None))
        roles = await loop.run_in_executor(None, lambda: auth.roles(username,
                                                                    store=shared_store()))
        self.clear_cookie("next_url")
        self.redirect("./" + (wanted or home_of(roles)))


class StoreAuthProvider(BasicAuthProvider):
    """Panel's basic-auth provider whose login form checks the store's users, and whose
    cookie opens nothing once its user is no longer an active user of the store."""

    @property
    def get_user(self) -> Any:
        signed_in = super().get_user

        def get_user(request_handler: Any) -> str | None:
            raw = request_handler.get_secure_cookie("user",
                                                    max_age_days=panel_config.oauth_expiry)
            if raw and not _active(raw.decode("utf-8", "replace")):
                return None
            return signed_in(request_handler)

        return get_user

    @property
    def login_handler(self) -> type[StoreLoginHandler]:
        StoreLoginHandler._login_endpoint = self._login_endpoint
        StoreLoginHandler._login_template = self._login_template
        return StoreLoginHandler
