"""The landing page, the login's next page, and the entry files served by `panel serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.dashboards._browser import ROOT, free_port, login, page_text, shot, wait_rendered

pytestmark = pytest.mark.slow


def test_each_point_of_view_lands_on_its_own_dashboard(page, dashboards):
    for user, home in (("aud", "/examine"), ("cora", "/quality"), ("pat", "/cases")):
        page.context.clear_cookies()
        login(page, dashboards, user)
        assert page.url.endswith(home), (user, page.url)


def test_the_landing_page_lists_what_the_user_may_open(page, dashboards):
    login(page, dashboards, "eve")
    page.goto(dashboards + "/")
    wait_rendered(page)
    text = page_text(page)
    assert "Welcome, eve" in text and "Executive overview" in text and "your view" in text
    assert "Reconciliation review" not in text  # the executive reads no financial detail
    shot(page, "landing-executive")
    page.goto(dashboards + "/review")  # typed by hand: refused, with the way back
    wait_rendered(page)
    assert "may not open Reconciliation review" in page_text(page)


def test_the_entry_files_serve_behind_the_login_module(workbench):
    port = free_port()
    login_module = ROOT / "nexus_lab" / "dashboards" / "login.py"
    proc = subprocess.Popen(
        [sys.executable, "-m", "panel", "serve", "dashboards/review.py", "dashboards/index.py",
         "--index", "index", "--port", str(port), "--auth-module", str(login_module),
         "--cookie-secret", workbench["env"]["NEXUS_LAB_COOKIE_SECRET"]],
        cwd=ROOT, env={**os.environ, **workbench["env"], "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        deadline = time.monotonic() + 60
        while True:
            try:
                opener.open(f"http://127.0.0.1:{port}/review")
            except urllib.error.HTTPError as err:
                assert err.code == 302 and "/login" in err.headers["Location"]
                break
            except OSError:
                assert time.monotonic() < deadline, "panel serve did not start"
                time.sleep(0.5)
            else:
                pytest.fail("/review was served without a login")
        with opener.open(f"http://127.0.0.1:{port}/login") as answer:
            assert b"NEXUS" in answer.read()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
