"""Signing in to a team's Jupyter server with a store account.

With ``c.ServerApp.identity_provider_class = "nexus_lab.jupyter.StoreIdentityProvider"``
the login page asks for a user name and a password, checked against the store's users
(:func:`nexus_lab.auth.check_password`: ``nexus-lab users add NAME --role ROLE
--password``); the signed-in user then acts as themselves in the API. A user made
inactive in the store is signed out at their next request (within ``recheck_seconds``).

The server's token (or its own password) still opens the server, but acts as no one of
the store: it holds no role there, so every service refuses it (the metrics still
answer it).

Failed sign-ins are paced and locked per name as the dashboards' are (the process's
:data:`nexus_lab.auth.sign_ins`; a locked name is answered 429), checked off the server's
loop, and every sign-in, and every failed one, is in the store's audit log.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import OrderedDict
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.utils import url_path_join
from tornado.escape import url_escape
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


_TOKEN_USERS = 10_000  # identities of the token or password remembered (the oldest forgotten)
_LOCKED = "Too many failed sign-ins for this name: wait a few minutes, then try again"


class StoreLoginHandler(LoginFormHandler):
    """The login page: a user name and a password of the store (without a user name, the
    server's token or password, as Jupyter's own page takes them)."""

    def _render(self, message: Any = None) -> None:
        error = message.get("error") if isinstance(message, dict) else None
        action = url_path_join(self.base_url, "login") + "?next=" + url_escape(
            self.get_argument("next", default=self.base_url))
        self.write(_PAGE.format(
            message=f'<p class="error">{html.escape(error)}</p>' if error else "",
            action=html.escape(action, quote=True), xsrf=self.xsrf_form_html()))

    @allow_unauthenticated
    async def post(self) -> None:
        name = self.get_argument("username", default="").strip()
        provider = self.identity_provider
        if not name or not isinstance(provider, StoreIdentityProvider):
            return super().post()
        password = self.get_argument("password", default="")
        locked = auth.sign_ins.begin(name)
        user = None
        if locked:
            await asyncio.to_thread(provider.record, self, name, False,
                                    locked_for_s=round(locked))
        else:  # scrypt and the store off the server's loop: no one else waits
            user = await asyncio.to_thread(provider.check, self, name, password)
        if user is None:
            await asyncio.sleep(auth.sign_ins.pause)
            self.set_status(429 if locked else 401)
            self._render(message={"error": _LOCKED if locked else "Invalid credentials"})
            return
        auth.sign_ins.succeeded(name)
        self.current_user = user
        self.log.info("%s signed in", user.username)
        provider.set_login_cookie(self, user)
        self._redirect_safe(self.get_argument("next", default=self.base_url))


class StoreIdentityProvider(PasswordIdentityProvider):
    """Jupyter users are the store's users: they sign in with their store password.

    Identities the server's token or password opens (Jupyter's anonymous users) stay
    valid until the server stops, the latest 10,000 of them (each request with the token
    and no cookie, a scrape of the metrics, makes one); a signed-in store user must still
    be an active user of the store, checked again every ``recheck_seconds``.
    """

    recheck_seconds = Float(30.0, config=True,
                            help="How long a check that a signed-in user is still active "
                                 "holds (seconds).")

    @default("login_handler_class")
    def _default_login_handler(self) -> type:
        return StoreLoginHandler

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the anonymous users the token or password made, the latest used last
        self._by_token: OrderedDict[str, None] = OrderedDict()
        self._checked: dict[str, tuple[float, bool]] = {}

    def generate_anonymous_user(self, handler: Any) -> User:
        user = super().generate_anonymous_user(handler)
        self._by_token[user.username] = None
        while len(self._by_token) > _TOKEN_USERS:
            self._by_token.popitem(last=False)
        return user

    async def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        user = await self._get_user(handler)
        if user is None:
            return None
        if user.username in self._by_token:
            self._by_token.move_to_end(user.username)
            return user
        if await self._active(handler, user.username):
            return user
        self.log.info("%s is no active user of the store any more: signed out", user.username)
        self.clear_login_cookie(handler)
        return None

    async def _active(self, handler: Any, name: str) -> bool:
        now = time.monotonic()
        until, ok = self._checked.get(name, (0.0, False))
        if now < until:
            return ok
        bench = handler.settings.get("nexus_lab")
        ok = bench is not None and await asyncio.to_thread(bench.known, name)
        self._checked[name] = (time.monotonic() + self.recheck_seconds, ok)
        return ok

    def process_login_form(self, handler: Any) -> User | None:
        """A store user whose password matches; without a user name, the server's token or
        password (an identity with no role in the store). The login page paces and locks
        failed sign-ins before it asks."""
        name = handler.get_argument("username", default="").strip()
        if not name:
            return super().process_login_form(handler)
        return self.check(handler, name, handler.get_argument("password", default=""))

    def check(self, handler: Any, name: str, password: str) -> User | None:
        """The store user ``name`` when ``password`` is theirs (an active user's), else
        None; either way recorded in the store's audit log (reads the store and hashes:
        call it off the server's loop)."""
        bench = handler.settings.get("nexus_lab")
        if bench is None:
            self.log.error("the nexus_lab server extension is not loaded: no store to "
                           "check %s's password against", name)
            return None
        ok = auth.check_password(name, password, store=bench.store)
        self.record(handler, name, ok)
        if not ok:
            self.log.warning("failed sign-in as %r from %s", name, handler.request.remote_ip)
            return None
        found = bench.store.read("users", where={"user_id": name}, columns=["display_name"])
        shown = (found["display_name"].iloc[0] if len(found) else None) or name
        self._checked[name] = (time.monotonic() + self.recheck_seconds, True)
        return User(username=name, name=shown, display_name=shown)

    def record(self, handler: Any, name: str, ok: bool, **facts: Any) -> None:
        """Record a sign-in as ``name`` (or a failed one) in the store's audit log."""
        bench = handler.settings.get("nexus_lab")
        if bench is not None:
            auth.record_sign_in(name, ok, store=bench.store, remote=handler.request.remote_ip,
                                via="jupyter", **facts)
