"""The login as an adversary tries it, over plain HTTP against a real server and store:
where a sign-in may send the browser, how failed sign-ins are paced, and what becomes of
the cookie of a user who is no longer active."""

from __future__ import annotations

import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

import nexus_lab as nx
from nexus_lab import auth
from tests.dashboards._browser import Client, audit_rows, password

pytestmark = pytest.mark.slow


def _store(workbench):
    return nx.store.connect(workbench["store"])


@pytest.mark.parametrize("elsewhere", ["///evil.example/x", "////evil.example",
                                       "//evil.example", "https://evil.example/",
                                       "/\\evil.example", "/%2F%2Fevil.example",
                                       "/\t/evil.example/x"])
def test_a_sign_in_never_sends_the_browser_to_another_site(dashboards, elsewhere):
    b = Client(dashboards)
    status, _, body = b.open("/login?" + urllib.parse.urlencode({"next": elsewhere}))
    assert status == 200 and 'name="password"' in body  # the form, not an error page
    status, where, _ = b.sign_in("ana", next_url=elsewhere)
    assert (status, where) == (302, "./review")  # her own dashboard


def test_a_sign_in_goes_on_to_the_dashboard_asked_for(dashboards):
    status, where, _ = Client(dashboards).sign_in("ana", next_url="/fraud")
    assert (status, where) == (302, "./fraud")


def test_a_failed_sign_in_holds_up_no_one_else(dashboards):
    slow = [Client(dashboards) for _ in range(6)]
    with ThreadPoolExecutor(len(slow)) as pool:
        tries = [pool.submit(b.open, "/login", {"username": f"guess{i}", "password": "x" * 9})
                 for i, b in enumerate(slow)]
        time.sleep(0.2)
        start = time.perf_counter()
        status, _, _ = Client(dashboards).open("/login")
        waited = time.perf_counter() - start
        assert all(t.result()[0] == 302 for t in tries)
    assert status == 200 and waited < 0.4, waited


def test_failed_sign_ins_in_a_row_lock_the_name_a_while_known_or_not(dashboards, workbench):
    for name in ("cora", "nobody-at-all"):
        b = Client(dashboards)
        answers = [b.sign_in(name, "not the password")[1] for _ in range(5)]
        assert all("error=" in a for a in answers)
        status, where, _ = b.sign_in(name)  # the right password, too late: locked
        assert status == 302 and "error=" in where
        status, _, body = b.open(where)
        assert "Too many failed sign-ins" in body
    failed = [r for r in audit_rows(workbench["store"], "login.failed")
              if r["user_id"] == "cora"]
    assert len(failed) == 6 and {r["outcome"] for r in failed} == {"refused"}
    assert Client(dashboards).sign_in("ana")[1] == "./review"  # others sign in as before


def test_the_login_shows_only_its_own_messages(dashboards):
    _, _, body = Client(dashboards).open("/login?error=" + urllib.parse.quote(
        "Your account is suspended: call +1 555 0100"))
    assert "call +1 555" not in body


def test_the_cookie_of_a_user_made_inactive_opens_nothing(dashboards, workbench):
    b = Client(dashboards)
    assert b.sign_in("eve")[:2] == (302, "./overview")
    assert b.open("/overview")[0] == 200
    s = _store(workbench)
    try:
        s.execute("update users set active = :f where user_id = 'eve'", {"f": False})
        status, where, _ = b.open("/overview")
        assert status == 302 and "/login" in where
        assert b.sign_in("eve")[1].startswith("/login?error=")
    finally:
        s.execute("update users set active = :t where user_id = 'eve'", {"t": True})
        s.close()
    assert b.open("/overview")[0] == 200


def test_a_user_without_a_role_lands_on_the_landing_page(dashboards, workbench):
    s = _store(workbench)
    with auth.acting_as("lead"):
        auth.add_user("nora", password=password("nora"), store=s)
    s.close()
    status, where, _ = Client(dashboards).sign_in("nora")
    assert (status, where) == (302, "./")
