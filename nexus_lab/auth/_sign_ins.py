"""Sign-ins with a password: failed ones paced and locked per name, every one recorded.

Every login form of the package (the dashboards', a Jupyter server's) goes through the
same :data:`sign_ins` of the process, so that guessing is as slow through one as through
the other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from nexus_lab import audit
from nexus_lab.errors import NexusError

__all__ = ["SignInThrottle", "record_sign_in", "sign_ins"]

log = logging.getLogger("nexus_lab")
_LOCK_AFTER = 5  # failed sign-ins in a row that lock a name
_LOCK_FIRST, _LOCK_MOST = 30.0, 900.0  # seconds locked, doubling with each failure past it
_REMEMBERED = 10_000  # names whose failures are kept (the oldest forgotten first)


class SignInThrottle:
    """Failed sign-ins per name, in this process.

    After five failures in a row a name is locked for 30 seconds, doubling with each
    further failure up to 15 minutes, whether or not it is a user's, so that guessing is
    slow and tells no one which names are users. An attempt counts as failed from the
    moment it starts until it succeeds, so that attempts sent at once cannot outrun the
    lock.

    Attributes
    ----------
    pause : float
        Seconds a login form waits before it answers a failed sign-in (on top of
        scrypt's own cost), without holding up the server.

    Examples
    --------
    >>> throttle = SignInThrottle()
    >>> [throttle.begin("mallory") for _ in range(5)] == [0.0] * 5
    True
    >>> throttle.begin("mallory") > 0  # locked: the seconds to wait
    True
    >>> throttle.begin("ana")
    0.0
    """

    pause = 0.5

    def __init__(self) -> None:
        self._failed: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, name: str) -> float:
        """0 when ``name`` may try now (the try is counted), else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            failures, until = self._failed.pop(name, (0, 0.0))
            if until > now:
                self._failed[name] = (failures, until)
                return until - now
            failures += 1
            if failures >= _LOCK_AFTER:
                until = now + min(_LOCK_FIRST * 2 ** (failures - _LOCK_AFTER), _LOCK_MOST)
            self._failed[name] = (failures, until)
            while len(self._failed) > _REMEMBERED:
                self._failed.popitem(last=False)
            return 0.0

    def succeeded(self, name: str) -> None:
        """Forget ``name``'s failures: it signed in."""
        with self._lock:
            self._failed.pop(name, None)


#: The process's throttle, shared by every login form.
sign_ins = SignInThrottle()


def record_sign_in(user: str, ok: bool, *, store: Any, **facts: Any) -> None:
    """Record a sign-in (``login``) or a failed one (``login.failed``, outcome
    ``refused``) in the store's audit log, as ``user`` (the name given, cut to 200
    characters; ``(blank)`` for none), with ``facts`` (``remote``: the address...).

    A record that cannot be written is logged, not raised: a sign-in does not hinge on it.
    """
    try:
        audit.record("login" if ok else "login.failed", f"users/{user}"[:200], facts,
                     actor=user[:200] or "(blank)", store=store, resource_type="user",
                     outcome="done" if ok else "refused")
    except NexusError as err:
        log.warning("could not record the sign-in of %s: %s", user[:200], err)
