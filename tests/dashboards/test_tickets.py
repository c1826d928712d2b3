"""Tickets into the dashboards: made as the Jupyter server makes them, taken by a real
dashboards server under a path prefix (as behind jupyter-server-proxy), over plain HTTP.

A ticket lets its user in once, within its time, to the page it was made for; an
expired, forged, altered, replayed or misdirected ticket, or one for a user who is no
longer active, lets no one in and is recorded as a failed sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse

import pytest

import nexus_lab as nx
import nexus_lab.dashboards as nd
from nexus_lab import auth
from nexus_lab.errors import NexusError
from tests.dashboards._browser import ROOT, Client, free_port, store_query, workbench_env
from tests.dashboards.conftest import served

pytestmark = pytest.mark.slow

PREFIX = "/user/ana/nexus-dashboards"
SECRET = "a-secret-of-this-test-" + "y" * 24


def _signed(claims: dict, secret: str) -> str:
    """A ticket made by hand from the format its module documents."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), b"nexus-lab dashboards ticket v1\x00" + payload.encode(),
                   hashlib.sha256).digest()
    return f"v1.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _claims(**changes) -> dict:
    return {"u": "ana", "d": "review", "e": int(time.time()) + 60, "n": "0" * 32, **changes}


# ---- the ticket itself, in this process -----------------------------------------------

def test_a_ticket_is_taken_once():
    t = nd.ticket("ana", "fraud", secret=SECRET)
    assert nd.redeem_ticket(t, secret=SECRET) == ("ana", "fraud")
    with pytest.raises(nd.TicketRefused, match="already used") as err:
        nd.redeem_ticket(t, secret=SECRET)
    assert (err.value.reason, err.value.user) == ("replayed", "ana")


def test_the_documented_format_is_the_one_taken():
    claims = _claims(n="1" * 32)
    assert nd.redeem_ticket(_signed(claims, SECRET), secret=SECRET) == ("ana", "review")


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: _signed(_claims(e=int(time.time()) - 1, n="2" * 32), SECRET), "expired"),
    (lambda: _signed(_claims(n="3" * 32), "another secret of the same length, or not"),
     "forged"),
    (lambda: _tamper(nd.ticket("ana", "review", secret=SECRET), u="lead"), "forged"),
    (lambda: _tamper(nd.ticket("ana", "review", secret=SECRET), d="models"), "forged"),
    (lambda: "v1.e30.AAAA", "forged"),
    (lambda: "not a ticket", "malformed"),
    (lambda: "v2." + nd.ticket("ana", "review", secret=SECRET)[3:], "malformed"),
    (lambda: _signed({"u": "ana", "d": "review"}, SECRET), "malformed"),
    (lambda: "v1." + "A" * 5000 + ".x", "malformed"),
    (lambda: "v1.é.x", "malformed"),
])
def test_a_bad_ticket_is_refused_and_says_why(make, reason):
    with pytest.raises(nd.TicketRefused) as err:
        nd.redeem_ticket(make(), secret=SECRET)
    assert err.value.reason == reason


def _tamper(token: str, **changes) -> str:
    """``token`` with its claims changed and its signature kept."""
    version, payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{version}.{payload}.{mac}"


@pytest.mark.parametrize(("args", "words"), [
    (("", "review"), "the user it signs in"),
    (("ana", "payroll"), "no dashboard 'payroll'"),
])
def test_a_ticket_is_made_only_for_a_user_and_a_dashboard(args, words):
    with pytest.raises(NexusError, match=words):
        nd.ticket(*args, secret=SECRET)


# ---- against a real dashboards server under a prefix ------------------------------------

def _login(ticket: str, next_url: str | None = None) -> str:
    query = {"ticket": ticket, **({"next": next_url} if next_url is not None else {})}
    return "/login?" + urllib.parse.urlencode(query)


def _ticket(workbench, user: str = "ana", dashboard: str = "review") -> str:
    return nd.ticket(user, dashboard, secret=workbench["env"]["NEXUS_LAB_COOKIE_SECRET"])


def _last_sign_in(workbench) -> dict:
    row = store_query(workbench, "select user_id, action, outcome, details from audit_logs "
                      "where action like 'login%' order by id desc limit 1").iloc[0]
    return {**row.to_dict(), "details": json.loads(row["details"])}


def test_a_ticket_signs_in_and_opens_its_dashboard(prefixed_dashboards, workbench):
    b = Client(prefixed_dashboards)
    assert b.open("/review")[:2] == (302, f"./login?next={urllib.parse.quote(PREFIX, '')}"
                                                 "%2Freview")
    status, where, _ = b.open(_login(_ticket(workbench), f"{PREFIX}/review"))
    assert (status, where) == (302, "./review")
    cookie = {c.name: c for c in b.jar}["user"]
    assert cookie.path == PREFIX + "/"  # kept to the dashboards' path behind the proxy
    status, _, body = b.open("/review")
    assert status == 200 and "Bokeh" in body
    row = _last_sign_in(workbench)
    assert (row["user_id"], row["action"], row["outcome"]) == ("ana", "login", "done")
    assert row["details"]["method"] == "jupyter ticket"
    assert b.open("/logout")[0] == 200  # signing out clears the cookie where it was set
    assert "user" not in {c.name for c in b.jar}
    assert b.open("/review")[0] == 302


def test_without_next_the_ticket_goes_to_its_own_dashboard(prefixed_dashboards, workbench):
    status, where, _ = Client(prefixed_dashboards).open(_login(_ticket(workbench, "jo", "")))
    assert (status, where) == (302, "./")


@pytest.mark.parametrize("case", ["replayed", "expired", "forged", "elsewhere", "another"])
def test_a_refused_ticket_lets_no_one_in_and_is_recorded(prefixed_dashboards, workbench, case):
    secret = workbench["env"]["NEXUS_LAB_COOKIE_SECRET"]
    next_url = f"{PREFIX}/review"
    if case == "replayed":
        token = _ticket(workbench)
        assert Client(prefixed_dashboards).open(_login(token, next_url))[1] == "./review"
    elif case == "expired":
        token = _signed(_claims(e=int(time.time()) - 5, n="4" * 32), secret)
    elif case == "forged":
        token = _tamper(_ticket(workbench, "eve"), u="lead")
    elif case == "elsewhere":
        token, next_url = _ticket(workbench), "https://evil.example/review"
    else:  # made for the review, sent on to the models
        token, next_url = _ticket(workbench), f"{PREFIX}/models"
    b = Client(prefixed_dashboards)
    status, where, _ = b.open(_login(token, next_url))
    assert (status, where) == (302, f"{PREFIX}/login?error=ticket")
    assert "user" not in {c.name for c in b.jar}
    assert b.open("/review")[0] == 302
    assert "has expired or was already used" in b.open(where[len(PREFIX):])[2]
    row = _last_sign_in(workbench)
    expected_user = "lead" if case == "forged" else "ana"
    assert (row["user_id"], row["action"], row["outcome"]) == \
        (expected_user, "login.failed", "refused")
    assert row["details"] == {"remote": "127.0.0.1", "method": "jupyter ticket",
                              "reason": "forged" if case == "forged" else
                              "elsewhere" if case in ("elsewhere", "another") else case}


def test_a_ticket_for_a_user_no_longer_active_is_refused(prefixed_dashboards, workbench):
    token = _ticket(workbench, "cora", "quality")
    s = nx.store.connect(workbench["store"])
    try:
        s.execute("update users set active = :f where user_id = 'cora'", {"f": False})
        status, where, _ = Client(prefixed_dashboards).open(_login(token))
        assert (status, where) == (302, f"{PREFIX}/login?error=ticket")
        row = _last_sign_in(workbench)
        assert (row["user_id"], row["details"]["reason"]) == ("cora", "inactive")
    finally:
        s.execute("update users set active = :t where user_id = 'cora'", {"t": True})
        s.close()


def test_a_password_sign_in_works_under_the_prefix(prefixed_dashboards):
    b = Client(prefixed_dashboards)
    assert b.sign_in("pat", next_url=f"{PREFIX}/cases")[:2] == (302, "./cases")
    assert b.open("/cases")[0] == 200
    assert Client(prefixed_dashboards.removesuffix(PREFIX)).open("/cases")[0] == 404


def test_behind_a_proxy_a_user_without_a_password_comes_in_with_a_ticket(tmp_path):
    env = workbench_env(tmp_path)
    s = nx.store.connect(env["NEXUS_LAB_STORE"])
    s.migrate()
    auth.add_user("solo", role="admin", store=s)  # no password
    s.close()
    alone = subprocess.run(
        [sys.executable, "-m", "nexus_lab.cli", "dashboards", "serve", "--port",
         str(free_port())], env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120)
    assert alone.returncode != 0 and "add a user with a password first" in alone.stderr
    server = served({"folder": tmp_path, "env": env, "store": env["NEXUS_LAB_STORE"]},
                    PREFIX)
    try:
        b = Client(next(server))
        token = nd.ticket("solo", "models", secret=env["NEXUS_LAB_COOKIE_SECRET"])
        assert b.open(_login(token))[:2] == (302, "./models")
        assert b.open("/models")[0] == 200
    finally:
        server.close()


@pytest.mark.parametrize("prefix", ["/a b", "/x?y", "/a//b", "/a#b"])
def test_a_prefix_is_a_plain_path(prefix):
    with pytest.raises(NexusError, match="not a plain URL path"):
        nd.serve(prefix=prefix, start=False)
