"""Users, roles and permissions: who may change what.

A service, above the audit trail and the store.

The seeds' six points of view (financial examiner, prosecutor, judge, executive,
compliance officer, auditor) and an administrator are roles; what each may do is a
table of the store (``role_permissions``, written by the store's migrations and listed
in the README), so the matrix is data, versioned with the schema. Users and their
roles are rows of ``users`` and ``role_assignments``.

Who acts comes from where the user is: the logged-in user of a dashboard or of
JupyterLab (the server sets it with :func:`acting_as`), else ``NEXUS_LAB_ACTOR``, else
the operating system's login name (a notebook, the CLI). Every service that changes
state calls :func:`require` first; a refusal raises :class:`PermissionDenied` naming
the user, their roles and the permission, and is itself recorded in the store's
``audit_logs`` (outcome ``refused``) and in the signed audit log when one is in use.

A store where no one holds a role yet is single-user: whoever may open it may do
everything, as the owner of a SQLite file can anyway (each action is still recorded,
with its actor). The first role granted ends that, and it must be ``admin``: from then
on every action needs a permission, only an administrator (``users.manage``) grants
and revokes roles, and the last administrator cannot be revoked. A team's PostgreSQL
store is set up by granting roles before it is shared.

Examples
--------
>>> import tempfile, pathlib
>>> import nexus_lab as nx
>>> from nexus_lab import auth
>>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
>>> _ = store.migrate()
>>> auth.require("reconciliation.approve", store=store, user="ana")  # no roles yet: single-user
'ana'
>>> auth.add_user("lead", role="admin", store=store)
'lead'
>>> with auth.acting_as("lead"):
...     auth.add_user("ana", role="examiner", store=store)
...     auth.add_user("jo", role="judge", store=store)
'ana'
'jo'
>>> with auth.acting_as("ana"):
...     auth.require("reconciliation.approve", store=store)
'ana'
>>> with auth.acting_as("jo"):
...     auth.require("reconciliation.approve", store=store)
Traceback (most recent call last):
...
nexus_lab.errors.PermissionDenied: jo (judge) may not reconciliation.approve: ...
>>> store.read("audit_logs", where={"outcome": "refused"})["user_id"].tolist()
['jo']
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os

import pandas as pd

from nexus_lab import audit
from nexus_lab.auth._sign_ins import SignInThrottle, record_sign_in, sign_ins
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.store import Store, connect

__all__ = ["ROLES", "PermissionDenied", "SignInThrottle", "acting_as", "add_user",
           "check_password", "current_user", "grant", "matrix", "permissions",
           "record_sign_in", "require", "revoke", "roles", "sign_ins", "users"]

#: The role names, in the order the seeds give them.
ROLES = ("examiner", "prosecutor", "judge", "executive", "compliance_officer", "auditor",
         "admin")


def current_user() -> str:
    """Who acts in this context (see the module docstring)."""
    return audit.actor()


acting_as = audit.acting_as


def roles(user: str | None = None, *, store: Store | None = None) -> list[str]:
    """The roles ``user`` (default: the current user) holds, sorted; none while the user
    is inactive (``users.active`` false): their grants stay, and count again when the
    user is active again."""
    who = user or current_user()
    s = connect(store)
    if not s.read("users", where={"user_id": who, "active": False}, columns=["user_id"]).empty:
        return []
    found = s.read("role_assignments", where={"user_id": who}, columns=["role"])
    return sorted(found["role"])


def permissions(user: str | None = None, *, store: Store | None = None) -> set[str]:
    """Everything ``user`` (default: the current user) may do, through all their roles."""
    s = connect(store)
    return _granted(s, roles(user, store=s))


def _granted(s: Store, held: list[str]) -> set[str]:
    """The permissions the roles ``held`` give."""
    return set(s.read("role_permissions", where={"role": held})["permission"]) if held else set()


def matrix(*, store: Store | None = None) -> pd.DataFrame:
    """The permission matrix: one row per permission, one column per role, True where
    the role has it."""
    grants = connect(store).read("role_permissions")
    table = pd.crosstab(grants["permission"], grants["role"]).astype(bool)
    return table.reindex(columns=[r for r in ROLES if r in table.columns])


def require(permission: str | tuple[str, ...], *, store: Store | None = None,
            user: str | None = None, resource: str = "") -> str:
    """Go on only if the current user (or ``user``) has ``permission``.

    Call it before the unit of work that it guards: a refusal is recorded in a
    transaction of its own.

    Parameters
    ----------
    permission : str or tuple of str
        As in the matrix: ``"reconciliation.approve"``, ``"fraud.review"``...; a tuple
        is satisfied by any one of its permissions.
    store : Store, optional
        Where roles are kept (default: :func:`nexus_lab.store.connect`'s).
    user : str, optional
        Who acts (default: :func:`current_user`).
    resource : str, optional
        What the action is on, for the record of a refusal.

    Returns
    -------
    str
        The user, who may go on.

    Raises
    ------
    PermissionDenied
        Naming the user, their roles and the permission; recorded in the audit trail.
    """
    s = connect(store)
    who = user or current_user()
    if _single_user(s):
        return who
    held = roles(who, store=s)
    wanted = (permission,) if isinstance(permission, str) else tuple(permission)
    if _granted(s, held) & set(wanted):
        return who
    known = set(s.read("role_permissions", columns=["permission"])["permission"])
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise NexusError(f"unknown permission {unknown[0]!r}; the permissions are "
                         f"{', '.join(sorted(known))}")
    able = sorted(set(s.read("role_permissions", where={"permission": list(wanted)})["role"]))
    permission = " or ".join(wanted)
    hint = (f"it needs the role {' or '.join(able)}" if held else
            f"{who} has no role in this store; an administrator grants one with: nexus-lab "
            f"users add {who} --role {able[0] if able else 'ROLE'}")
    if held:
        hint += (f"; an administrator grants it with: nexus-lab users grant {who} "
                 f"{able[0] if able else 'ROLE'}")
    audit.record("permission.denied", resource or permission,
                 {"permission": permission, "roles": held}, actor=who, store=s,
                 resource_type="permission", outcome="refused")
    raise PermissionDenied(who, held, permission, hint)


def _single_user(s: Store) -> bool:
    """True while no one holds a role in the store."""
    return s.read("role_assignments", columns=["user_id"], limit=1).empty


def _manage(s: Store, what: str, role: str | None = None) -> str:
    """``users.manage`` is needed, except on a store where no one holds a role yet: there
    the first role granted must be ``admin`` (so that someone can manage the rest)."""
    if _single_user(s):
        if role != "admin":
            raise NexusError(
                "this store has no administrator yet: make one first (nexus-lab users add "
                "NAME --role admin), then grant the other roles as that administrator")
        return current_user()
    return require("users.manage", store=s, resource=what)


def add_user(user: str, *, role: str | None = None, display_name: str | None = None,
             password: str | None = None, store: Store | None = None) -> str:
    """Add a user (or update their name or password), and grant ``role`` if given.

    Parameters
    ----------
    user : str
        The login name.
    role : str, optional
        One of :data:`ROLES`.
    display_name : str, optional
        The name shown in the dashboards.
    password : str, optional
        For the dashboards' login; kept as a salted scrypt hash, never as text.
    store : Store, optional

    Returns
    -------
    str
        The user.
    """
    s = connect(store)
    if not isinstance(user, str) or not user.strip():
        raise NexusError("a user name cannot be blank")
    if len(user) > 128 or user != user.strip() or any(not c.isprintable() for c in user):
        raise NexusError(f"a user name is at most 128 printable characters with no blanks "
                         f"around it, not {user[:40]!r}{'...' if len(user) > 40 else ''}")
    if role is not None:
        _check_role(role)
    who = _manage(s, f"users/{user}", role)
    hashed = _hash_password(password) if password is not None else None
    with audit.change(s, "user.added", f"users/{user}", {"display_name": display_name,
                                                          "password_set": hashed is not None},
                      actor=who, resource_type="user"):
        exists = len(s.read("users", where={"user_id": user})) > 0
        if exists:
            sets = {k: v for k, v in (("display_name", display_name),
                                      ("password_hash", hashed)) if v is not None}
            if sets:
                s.execute(f"update users set {', '.join(f'{k} = :{k}' for k in sets)} "
                          "where user_id = :u", {**sets, "u": user})
        else:
            s.execute("insert into users (user_id, display_name, password_hash) values "
                      "(:u, :d, :p)", {"u": user, "d": display_name, "p": hashed})
        if role is not None:
            _grant(s, user, role, who)
    return user


def grant(user: str, role: str, *, store: Store | None = None) -> None:
    """Give ``user`` the ``role`` (an administrator's action)."""
    s = connect(store)
    _check_role(role)
    who = _manage(s, f"users/{user}", role)
    if len(s.read("users", where={"user_id": user})) == 0:
        raise NexusError(f"no user {user!r} in the store; add them first: nexus-lab users add "
                         f"{user} --role {role}")
    with audit.change(s, "role.granted", f"users/{user}", {"role": role}, actor=who,
                      resource_type="user"):
        _grant(s, user, role, who)


def _grant(s: Store, user: str, role: str, who: str) -> None:
    s.execute("insert into role_assignments (user_id, role, granted_by) values (:u, :r, :w) "
              "on conflict (user_id, role) do nothing", {"u": user, "r": role, "w": who})


def revoke(user: str, role: str, *, store: Store | None = None) -> None:
    """Take ``role`` from ``user`` (an administrator's action)."""
    s = connect(store)
    _check_role(role)
    who = _manage(s, f"users/{user}", "revoke")
    if role not in roles(user, store=s):
        raise NexusError(f"{user} does not hold the role {role}; their roles: "
                         f"{', '.join(roles(user, store=s)) or 'none'}")
    if role == "admin" and len(s.read("role_assignments", where={"role": "admin"})) == 1:
        raise NexusError(f"{user} is the store's only administrator: make another one first "
                         "(nexus-lab users grant NAME admin), so that roles can still be "
                         "managed")
    with audit.change(s, "role.revoked", f"users/{user}", {"role": role}, actor=who,
                      resource_type="user"):
        s.execute("delete from role_assignments where user_id = :u and role = :r",
                  {"u": user, "r": role})


def users(*, store: Store | None = None) -> pd.DataFrame:
    """The users with their roles (``user_id, display_name, active, roles``)."""
    s = connect(store)
    people = s.read("users", columns=["user_id", "display_name", "active"])
    grants = s.read("role_assignments", columns=["user_id", "role"])
    held = grants.groupby("user_id")["role"].agg(lambda r: ", ".join(sorted(r)))
    people["roles"] = people["user_id"].map(held).fillna("")
    return people


def check_password(user: str, password: str, *, store: Store | None = None) -> bool:
    """True when ``password`` is ``user``'s, an active user's (compared in constant time).

    A name that is no user, an inactive user or one without a password costs the same
    hashing as a wrong password, so the time a refusal takes tells no one which names
    are users.
    """
    found = connect(store).read("users", where={"user_id": user, "active": True},
                               columns=["password_hash"])
    if len(found) == 0 or not found["password_hash"].iloc[0]:
        _verify_password(password, _decoy_hash())
        return False
    return _verify_password(password, found["password_hash"].iloc[0])


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise NexusError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def _hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < 8:
        raise NexusError("a password must have at least 8 characters")
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


@functools.cache
def _decoy_hash() -> str:
    """A hash no password is checked against in earnest (it costs what a real one does)."""
    return _hash_password(os.urandom(16).hex())


def _verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)
