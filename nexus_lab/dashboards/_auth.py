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

Signed in elsewhere (JupyterLab), a user comes in with a ticket instead of a password
(``login?ticket=...``, see :mod:`nexus_lab.dashboards._tickets`): good once, for a
minute, for an active user, recorded in the audit log like a sign-in with a password
(``method`` "jupyter ticket"); a ticket that is refused is recorded as a failed sign-in.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler
from panel.config import config as panel_config
from panel.io.resources import CDN_DIST
from panel.io.state import state

from nexus_lab import auth
from nexus_lab.dashboards._catalog import DASHBOARDS, home_of
from nexus_lab.dashboards._session import shared_store
from nexus_lab.dashboards._tickets import TicketRefused, cookie_secret, redeem_ticket

__all__ = ["StoreAuthProvider", "StoreLoginHandler", "StoreLogoutHandler", "cookie_secret"]

_FAILED_PAUSE = auth.sign_ins.pause
_MESSAGES = {"invalid": "Invalid username or password",
             "locked": "Too many failed sign-ins for this name: wait a few minutes, then "
                       "try again",
             "ticket": "That link has expired or was already used: open the dashboard "
                       "again from JupyterLab, or sign in here"}
_THROTTLE = auth.sign_ins  # the process's, shared with every other login form


def dashboard_of(next_url: str | None, prefix: str = "") -> str | None:
    r"""The dashboard a sign-in's ``next`` asks for (``""``: the landing page), or None
    when it is no page of this server (another site, ``///host``, a backslash, a path
    outside the server's path ``prefix``...).

    Examples
    --------
    >>> [dashboard_of(u) for u in ("/fraud", "/", "///evil.example/x", "https://x.org/",
    ...                            "/\\x.org", "/etc/passwd")]
    ['fraud', '', None, None, None, None]
    >>> [dashboard_of(u, "/user/ana/dash") for u in ("/user/ana/dash/cases", "/cases",
    ...                                             "/user/ana/dashcases")]
    ['cases', None, None]
    """
    if not next_url or "\\" in next_url:
        return None
    parts = urllib.parse.urlsplit(next_url)
    base = prefix.rstrip("/") + "/" if prefix else (state.base_url or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith(base) or \
            parts.path.startswith("//"):
        return None
    name = parts.path[len(base):].strip("/")
    return name if name == "" or name in DASHBOARDS else None


def _active(user: str) -> bool:
    return not shared_store().read("users", where={"user_id": user, "active": True},
                                   columns=["user_id"]).empty


class StoreLoginHandler(BasicLoginHandler):
    """Panel's login form, checked against the password hashes in the store; or, with
    ``?ticket=``, a ticket (:func:`nexus_lab.dashboards.ticket`) instead of a password."""

    async def get(self) -> None:
        ticket = self.get_argument("ticket", None)
        if ticket is not None:
            await self._take(ticket)
            return
        wanted = dashboard_of(self.get_argument("next", ""), self.application.prefix)
        if wanted is None:
            self.clear_cookie("next_url", path=panel_config.cookie_path)
        else:
            self.set_cookie("next_url", "/" + wanted, httponly=True,
                            path=panel_config.cookie_path)
        self.write(self._login_template.render(
            login_endpoint=self._login_endpoint, PANEL_CDN=CDN_DIST,
            errormessage=_MESSAGES.get(self.get_argument("error", ""), "")))

    async def _take(self, ticket: str) -> None:
        """Sign in with a ticket, once; go on to the dashboard it was made for."""
        loop = asyncio.get_running_loop()
        next_url = self.get_argument("next", None)
        try:
            user, dashboard = redeem_ticket(ticket, secret=panel_config.cookie_secret)
            if next_url is not None and \
                    dashboard_of(next_url, self.application.prefix) != dashboard:
                raise TicketRefused("elsewhere", "the ticket was made for another page",
                                    user)
            if not await loop.run_in_executor(None, _active, user):
                raise TicketRefused("inactive", f"{user} is not an active user", user)
        except TicketRefused as refused:
            claimed, reason = refused.user or "(ticket)", refused.reason
            await loop.run_in_executor(None, lambda: self._record(
                claimed, False, method="jupyter ticket", reason=reason))
            await asyncio.sleep(_FAILED_PAUSE)
            self.redirect(self.request.path + "?error=ticket")
            return
        await loop.run_in_executor(None, lambda: self._record(user, True,
                                                              method="jupyter ticket"))
        self.set_current_user(user)
        self.clear_cookie("next_url", path=panel_config.cookie_path)
        self.redirect("./" + dashboard)

    def _validate(self, username: str, password: str) -> bool:
        store = shared_store()
        ok = bool(username) and auth.check_password(username, password, store=store)
        self._record(username, ok, method="password")
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
            self.redirect(self.request.path + "?error=" + ("locked" if locked else "invalid"))
            return
        _THROTTLE.succeeded(username)
        self.set_current_user(username)
        wanted = dashboard_of(self.get_cookie("next_url", None))
        roles = await loop.run_in_executor(None, lambda: auth.roles(username,
                                                                    store=shared_store()))
        self.clear_cookie("next_url", path=panel_config.cookie_path)
        self.redirect("./" + (wanted or home_of(roles)))


class StoreLogoutHandler(LogoutHandler):
    """Panel's sign-out, clearing the cookies where they were set (under the server's
    path prefix when it has one)."""

    def get(self) -> None:
        for name in ("user", "id_token", "next_url", "is_guest"):
            self.clear_cookie(name, path=panel_config.cookie_path)
        self.write(self._logout_template.render(PANEL_CDN=CDN_DIST,
                                                LOGIN_ENDPOINT=self._login_endpoint))


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

    @property
    def logout_handler(self) -> type[StoreLogoutHandler]:
        StoreLogoutHandler._logout_template = self._logout_template
        StoreLogoutHandler._login_endpoint = self._login_endpoint
        return StoreLogoutHandler
