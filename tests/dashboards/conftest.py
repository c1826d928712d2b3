"""A real workbench for the dashboards' tests: a SQLite store filled by the kernels, a
user for every point of view, ``nexus-lab dashboards serve`` in a process of its own,
and Debian's chromium driven by Playwright (never a downloaded browser).

Screenshots go to ``out/dashboards/`` of the checkout, to be looked at.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.dashboards._browser import ROOT, chromium, fill_workbench, free_port


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright launches Debian's chromium (installed by .ci/run)."""
    path = chromium()
    if path is None:
        pytest.skip("no chromium on this machine: install Debian's `chromium` package "
                    "(.ci/run does)")
    return {"executable_path": path, "args": ["--no-sandbox", "--disable-gpu"],
            "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1500, "height": 1000}}


# Playwright, and its browser, for one module at a time (pytest-playwright keeps them for
# the session): its sync API leaves an asyncio loop running in this thread while it is
# started, and the Jupyter tests that run after these (pytest-jupyter) need the thread's
# loop to themselves.
@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **options: browser_type.launch(**{**browser_type_launch_args, **options})


@pytest.fixture(scope="module")
def browser(launch_browser):
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """A filled store and the settings that go with it (one per test module)."""
    return fill_workbench(tmp_path_factory.mktemp("workbench"))


@pytest.fixture(scope="module")
def dashboards(workbench):
    """``nexus-lab dashboards serve`` on a free port; yields its base URL."""
    yield from served(workbench)


@pytest.fixture(scope="module")
def prefixed_dashboards(workbench):
    """``nexus-lab dashboards serve --prefix /user/ana/nexus-dashboards``, as behind a
    proxy; yields its base URL (the prefix included)."""
    yield from served(workbench, "/user/ana/nexus-dashboards")


def served(workbench, prefix: str = ""):
    """Run the dashboards server (under ``prefix``) until the generator is closed; yields
    ``http://127.0.0.1:PORT`` + prefix."""
    port = free_port()
    log = open(workbench["folder"] / f"server{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nexus_lab.cli", "dashboards", "serve", "--port", str(port),
         "--store", workbench["store"], *(["--prefix", prefix] if prefix else [])],
        env={**os.environ, **workbench["env"], "PYTHONPATH": str(ROOT)}, stdout=log,
        stderr=subprocess.STDOUT, cwd=workbench["folder"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError("the dashboards server stopped:\n" +
                               (workbench["folder"] / f"server{port}.log").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}{prefix}"
    finally:  # closing the generator stops the server too
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
