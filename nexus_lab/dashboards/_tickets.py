"""The cookie secret, and tickets: a signed pass, good once for a minute, that lets a user
already signed in elsewhere (the Jupyter server) into the dashboards without a password.

A ticket is ASCII, safe in a URL: ``v1.<payload>.<mac>``, where ``payload`` is the
base64url (no padding) of the JSON ``{"u": user, "d": dashboard, "e": expiry (Unix
seconds), "n": nonce (32 hex digits)}`` and ``mac`` the base64url of HMAC-SHA256 over
``b"nexus-lab dashboards ticket v1\\0" + payload``, keyed by the cookie secret (the
process that makes a ticket and the dashboards server that takes it read the same
secret: :func:`cookie_secret`). The dashboards' login takes a ticket once: this process
remembers every nonce it has taken until its ticket expires.

No Panel here: the Jupyter server makes tickets without loading it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
import time

from nexus_lab import config
from nexus_lab.dashboards._catalog import DASHBOARDS
from nexus_lab.errors import NexusError

__all__ = ["TicketRefused", "cookie_secret", "redeem_ticket", "ticket"]

_VERSION = "v1"
_CONTEXT = b"nexus-lab dashboards ticket v1\x00"
_MAX_LENGTH = 2048  # characters: anything longer is no ticket of ours
TICKET_SECONDS = 60.0


class TicketRefused(NexusError, PermissionError):
    """A ticket that does not let anyone in: malformed, forged or tampered with, expired,
    already used, or for a user who may not sign in.

    Attributes
    ----------
    reason : str
        ``"malformed"``, ``"forged"``, ``"expired"``, ``"replayed"``, ``"inactive"`` or
        ``"elsewhere"`` (its ``next`` is not the dashboard it was made for).
    user : str or None
        The user the ticket names (None when it could not be read).
    """

    def __init__(self, reason: str, message: str, user: str | None = None) -> None:
        self.reason, self.user = reason, user
        super().__init__(message)


def cookie_secret() -> str:
    """``NEXUS_LAB_COOKIE_SECRET``, else a random secret made once and kept (owner-only)
    in ``dashboards/cookie_secret`` in the data folder, so sign-ins outlive a restart.

    Two processes that ask at once for the first time get the same secret: the file is
    linked into place only when it is not there yet.
    """
    env = config.settings().cookie_secret
    if env:
        return env
    path = config.data_folder() / "dashboards" / "cookie_secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".cookie_secret.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails when another process was first: theirs is kept
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), _CONTEXT + payload.encode("ascii"),
                         hashlib.sha256).digest())


def ticket(user: str, dashboard: str, *, seconds: float = TICKET_SECONDS,
           secret: str | None = None) -> str:
    """A ticket that signs ``user`` in to the dashboards and opens ``dashboard``, once,
    within ``seconds``.

    Whoever calls this vouches for ``user``: the dashboards' login takes the ticket
    instead of a password (the user must still be an active user of the store).

    Parameters
    ----------
    user : str
        The user of the store to sign in.
    dashboard : str
        One of :data:`DASHBOARDS` (``"review"``...), or ``""`` for the landing page.
    seconds : float, default 60
        How long the ticket is good for.
    secret : str, optional
        The key (default :func:`cookie_secret`, the one the dashboards server reads).

    Returns
    -------
    str
        The ticket, for the login's ``?ticket=`` (URL-safe).

    Examples
    --------
    >>> t = ticket("ana", "review", secret="s" * 32)
    >>> redeem_ticket(t, secret="s" * 32)
    ('ana', 'review')
    """
    if not isinstance(user, str) or not user.strip():
        raise NexusError(f"a ticket needs the user it signs in, got {user!r}")
    if dashboard != "" and dashboard not in DASHBOARDS:
        raise NexusError(f"no dashboard {dashboard!r} to make a ticket for; the dashboards "
                         f"are {', '.join(DASHBOARDS)} (or '' for the landing page)")
    if not seconds > 0:
        raise NexusError(f"a ticket must be good for some seconds, got seconds={seconds!r}")
    claims = {"u": user, "d": dashboard, "e": int(time.time() + seconds + 0.999),
              "n": secrets.token_hex(16)}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{_VERSION}.{payload}.{_mac(payload, secret or cookie_secret())}"


class _Spent:
    """The nonces of tickets taken in this process, each kept until its ticket expires."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, nonce: str, expiry: float) -> bool:
        """True the first time ``nonce`` is taken, False after."""
        now = time.time()
        with self._lock:
            if nonce in self._until:
                return False
            for old in [n for n, until in self._until.items() if until < now]:
                del self._until[old]
            self._until[nonce] = expiry
            return True


_SPENT = _Spent()


def _claims(token: str, secret: str) -> dict:
    """The claims of a ticket whose MAC checks out, else TicketRefused."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= _MAX_LENGTH \
        and token.isascii() else []
    if len(parts) != 3 or parts[0] != _VERSION:
        raise TicketRefused("malformed", "this is not a dashboards ticket: open the "
                            "dashboard again from JupyterLab")
    payload, mac = parts[1], parts[2]
    try:
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        claims = None
    claimed = claims.get("u") if isinstance(claims, dict) else None
    claimed = claimed if isinstance(claimed, str) else None
    if not hmac.compare_digest(_mac(payload, secret), mac):
        raise TicketRefused("forged", "the ticket's signature does not check out (forged, "
                            "altered, or made with another secret): open the dashboard "
                            "again from JupyterLab", claimed)
    if not (isinstance(claims, dict) and isinstance(claimed, str)
            and isinstance(claims.get("d"), str) and isinstance(claims.get("e"), int)
            and isinstance(claims.get("n"), str)):
        raise TicketRefused("malformed", "the ticket lacks its user, dashboard, expiry or "
                            "nonce", claimed)
    return claims


def redeem_ticket(token: str, *, secret: str | None = None) -> tuple[str, str]:
    """Take a ticket made by :func:`ticket`: ``(user, dashboard)`` the first time it is
    taken in this process within its time, else :class:`TicketRefused`.

    Whether the user may still sign in is the caller's to check.

    Parameters
    ----------
    token : str
        The ticket.
    secret : str, optional
        The key (default :func:`cookie_secret`).

    Raises
    ------
    TicketRefused
        Malformed, forged or altered, expired, or already taken.
    """
    claims = _claims(token, secret or cookie_secret())
    user, expiry = claims["u"], claims["e"]
    if expiry < time.time():
        raise TicketRefused("expired", "the ticket has expired (they are good for a "
                            "minute): open the dashboard again from JupyterLab", user)
    if not _SPENT.take(claims["n"], expiry):
        raise TicketRefused("replayed", "the ticket was already used (each is good "
                            "once): open the dashboard again from JupyterLab", user)
    return user, claims["d"]
