"""Signing in to a team's Jupyter server with a store account.

With ``c.ServerApp.identity_provider_class = "nexus_lab.jupyter.StoreIdentityProvider"``
the login page asks for a user name and a password, checked against the store's users
(:func:`nexus_lab.auth.check_password`: ``nexus-lab users add NAME --role ROLE
--password``); the signed-in user then acts as themselves in the API. A user made
inactive in the store is signed out at their next request (within ``recheck_seconds``).

The server's token (or its own password) still opens the server, but acts as no one of
the store: it holds no role there, so every service refuses it (the metrics still
answer it).
"""

from __future__ import annotations

import html
import time
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from traitlets import Float, default

from nexus_lab import auth

__all__ = ["StoreIdentityProvider", "StoreLoginHandler"]

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>NEXUS Lab: sign in</title>
<style>body{{font:15px system-ui,sans-serif;margin:10vh auto;max-width:22em}}
label,input,button{{display:block;width:100%;margin:.3em 0}}input{{padding:.4em}}
.error{{color:#b00020}}</style></head>
<body><h1>NEXUS Lab</h1>{message}
<form action="{action}" method="post">{xsrf}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form>
<p><small>Your NEXUS Lab account (nexus-lab users add NAME --password).</small></p>
</body></html>"""


class StoreLoginHandler(LoginFormHandler):
    """The login page: a user name and a password of the store."""

    def _render(self, message: Any = None) -> None:
        error = message.get("error") if isinstance(message, dict) else None
        action = self.base_url + "login?next=" + html.escape(
            self.get_argument("next", default=self.base_url), quote=True)
        self.write(_PAGE.format(
            message=f'<p class="error">{html.escape(error)}</p>' if error else "",
            action=html.escape(action, quote=True), xsrf=self.xsrf_form_html()))


class StoreIdentityProvider(PasswordIdentityProvider):
    """Jupyter users are the store's users: they sign in with their store password.

    Identities the server's token or password opens (Jupyter's anonymous users) stay
    valid until the server stops; a signed-in store user must still be an active user of
    the store, checked again every ``recheck_seconds``.
    """

    recheck_seconds = Float(30.0, config=True,
                            help="How long a check that a signed-in user is still active "
                                 "holds (seconds).")

    @default("login_handler_class")
    def _default_login_handler(self) -> type:
        return StoreLoginHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._by_token: set[str] = set()  # the anonymous users the token or password made
        self._checked: dict[str, tuple[float, bool]] = {}

    def generate_anonymous_user(self, handler: Any) -> User:
        user = super().generate_anonymous_user(handler)
        self._by_token.add(user.username)
        return user

    async def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        user = await self._get_user(handler)
        if user is None or user.username in self._by_token or self._active(handler,
                                                                           user.username):
            return user
        self.log.info("%s is no active user of the store any more: signed out", user.username)
        self.clear_login_cookie(handler)
        return None

    def _active(self, handler: Any, name: str) -> bool:
        now = time.monotonic()
        until, ok = self._checked.get(name, (0.0, False))
        if now < until:
            return ok
        bench = handler.settings.get("nexus_lab")
        ok = bench is not None and bench.known(name)
        self._checked[name] = (now + self.recheck_seconds, ok)
        return ok

    def process_login_form(self, handler: Any) -> User | None:
        """A store user whose password matches; without a user name, the server's token or
        password (an identity with no role in the store)."""
        name = handler.get_argument("username", default="").strip()
        if not name:
            return super().process_login_form(handler)
        bench = handler.settings.get("nexus_lab")
        if bench is None:
            self.log.error("the nexus_lab server extension is not loaded: no store to "
                           "check %s's password against", name)
            return None
        password = handler.get_argument("password", default="")
        if not auth.check_password(name, password, store=bench.store):
            self.log.warning("failed sign-in as %r from %s", name, handler.request.remote_ip)
            return None
        found = bench.store.read("users", where={"user_id": name}, columns=["display_name"])
        shown = (found["display_name"].iloc[0] if len(found) else None) or name
        self._checked[name] = (time.monotonic() + self.recheck_seconds, True)
        return User(username=name, name=shown, display_name=shown)
