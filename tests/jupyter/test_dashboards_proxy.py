"""The dashboards behind a real Jupyter server, as JupyterLab opens them.

``/nexus/dashboards/NAME`` (the extension's route) against pytest-jupyter's server; and,
end to end, a ``jupyter server`` process of its own with the ``nexus_lab`` extension and
jupyter-server-proxy, over the workbench's store, driven by Debian's chromium: the
review dashboard opens signed in as the acting user with no second login, its websocket
answers, nothing opens without Jupyter's token, and the dashboards server listens on
127.0.0.1 only.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomllib
from tornado.httpclient import HTTPClientError

import nexus_lab.dashboards as nd
from tests.dashboards._browser import (
    ROOT,
    chromium,
    free_port,
    page_text,
    rows_sent,
    shot,
    store_query,
    wait_rendered,
)

pytestmark = pytest.mark.slow

GROUP = "jupyter_serverproxy_servers"
TOKEN = "token-of-the-dashboards-proxy-test"


# ---- the route, on pytest-jupyter's server ----------------------------------------------

@pytest.mark.parametrize(("path", "dashboard"), [("/review", "review"), ("", "")])
async def test_the_route_hands_the_acting_user_a_ticket(jp_fetch, jp_base_url, workbench,
                                                        path, dashboard):
    answer = await jp_fetch("nexus", "dashboards" + path, follow_redirects=False,
                            raise_error=False)
    assert answer.code == 302 and answer.headers["Cache-Control"] == "no-store"
    where = urllib.parse.urlsplit(answer.headers["Location"])
    proxied = f"{jp_base_url}nexus-dashboards"
    assert where.path == f"{proxied}/login" and not where.netloc
    query = dict(urllib.parse.parse_qsl(where.query))
    assert query["next"] == f"{proxied}/{dashboard}"
    secret = workbench["env"]["NEXUS_LAB_COOKIE_SECRET"]
    assert nd.redeem_ticket(query["ticket"], secret=secret) == ("lead", dashboard)


async def test_an_unknown_dashboard_is_a_404_naming_the_dashboards(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("nexus", "dashboards", "payroll", follow_redirects=False)
    assert err.value.code == 404
    assert "review, fraud" in json.loads(err.value.response.body)["message"]


@pytest.mark.parametrize("owner", ["someone-not-in-the-store"])
async def test_no_ticket_for_who_is_no_user_of_the_store(jp_fetch, owner):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("nexus", "dashboards", "review", follow_redirects=False)
    assert err.value.code == 403
    assert "nexus-lab users add someone-not-in-the-store" in \
        json.loads(err.value.response.body)["message"]


async def test_no_ticket_without_jupyters_token(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("nexus", "dashboards", "review", follow_redirects=False,
                       headers={"Authorization": ""})
    assert err.value.code == 403


def test_jupyter_server_proxy_takes_the_entry_point():
    from jupyter_server_proxy.config import ServerProcess

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = declared["entry-points"][GROUP]["nexus-dashboards"]
    module, _, name = target.partition(":")
    described = getattr(importlib.import_module(module), name)()
    process = ServerProcess(name="nexus-dashboards", **described)
    assert process.absolute_url and not process.launcher_entry.enabled
    assert "--prefix" in process.command and "127.0.0.1" in process.command


# ---- end to end: jupyter server, the proxy, the dashboards server, chromium --------------

def _in_chromium(scenario):
    """``scenario(page)`` in Debian's chromium, headless, in a thread of its own: Playwright's
    sync API leaves its asyncio loop running in the thread it starts in, where
    pytest-jupyter's tests that follow need to run theirs."""
    from playwright.sync_api import sync_playwright

    path = chromium()
    if path is None:
        pytest.skip("no chromium on this machine: install Debian's `chromium` package")

    def run():
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=path, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            try:
                return scenario(browser.new_page(viewport={"width": 1500, "height": 1000}))
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _entry_points(folder: Path) -> list[str]:
    """Folders for PYTHONPATH that make Python see pyproject's jupyter-server-proxy entry
    point: none when the installed package declares it already, else one holding the
    distribution metadata an install writes for it."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"][GROUP]
    if set(declared) <= {e.name for e in importlib.metadata.entry_points(group=GROUP)}:
        return []
    dist = folder / "entry-points" / "nexus_lab_entry_points-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nexus-lab-entry-points\n"
                                   "Version: 0\n")
    (dist / "entry_points.txt").write_text(
        f"[{GROUP}]\n" + "".join(f"{k} = {v}\n" for k, v in declared.items()))
    return [str(dist.parent)]


@pytest.fixture(scope="module")
def jupyter(workbench, tmp_path_factory):
    """``jupyter server`` with the extension on a free port, its token :data:`TOKEN`, acting
    as ana, serving the workbench's store; yields ``(base URL, process)``."""
    folder = tmp_path_factory.mktemp("jupyter-proxy")
    port = free_port()
    env = {**os.environ, **workbench["env"],
           # the server's store is c.NexusLab.store_url: the dashboards must serve that one
           "NEXUS_LAB_STORE": f"sqlite:///{(folder / 'not-the-servers.db').as_posix()}",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *_entry_points(folder)]),
           "JUPYTER_CONFIG_DIR": str(folder / "config"),
           "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    log = open(folder / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1",
         "--no-browser", "--allow-root", f"--IdentityProvider.token={TOKEN}",
         "--ServerApp.jpserver_extensions=nexus_lab=True",
         "--ServerApp.jpserver_extensions=jupyter_server_proxy=True",
         f"--ServerApp.root_dir={workbench['folder']}", "--NexusLab.user=ana",
         f"--NexusLab.store_url={workbench['store']}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            raise RuntimeError("jupyter server did not start:\n" +
                               (folder / "jupyter.log").read_text())
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                break
        except OSError:
            time.sleep(0.3)
    yield base, proc
    import psutil

    children = psutil.Process(proc.pid).children(recursive=True)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    for child in children:  # jupyter-server-proxy stops its process; whatever it left
        if child.is_running():
            child.kill()
    log.close()


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str) -> tuple[int, str]:
    try:
        with urllib.request.build_opener(_Stay).open(url, timeout=60) as answer:
            return answer.status, answer.headers.get("Location", "")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", "")


def test_nothing_opens_without_jupyters_token(jupyter):
    base, _ = jupyter
    assert _status(f"{base}/nexus/dashboards/review")[0] == 403
    status, where = _status(f"{base}/nexus-dashboards/review")
    assert status == 302 and where.startswith("/login?")  # Jupyter's login, not Panel's
    assert _status(f"{base}/nexus-dashboards/review?token=not-the-token")[0] == 302


def test_jupyterlab_opens_the_review_signed_in_as_the_acting_user(jupyter, workbench):
    base, _ = jupyter

    def review(page):
        page.goto(f"{base}/nexus/dashboards/review?token={TOKEN}", timeout=120_000)
        wait_rendered(page, timeout=120_000)
        assert page.url == f"{base}/nexus-dashboards/review"  # the ticket is gone from it
        assert "ana (examiner)" in page_text(page)
        assert page.locator("input[name=password]").count() == 0  # no second login
        # the websocket, through the proxy: the server pages the matches and filters them
        page.locator(".bk-tab", has_text="Matches").click()
        first_page = page.locator(".nx-table-matches-status").get_by_text("rows 1–50 of")
        first_page.wait_for()
        assert rows_sent(page, "matches") == 50
        page.get_by_placeholder("B0001234 or its start").fill("B000001")
        page.keyboard.press("Enter")
        first_page.wait_for(state="detached")  # the server answered with other rows
        wait_rendered(page)
        assert 0 < rows_sent(page, "matches") <= 10
        shot(page, "jupyter-review")

    _in_chromium(review)
    signed_in = store_query(workbench, "select user_id, outcome, details from audit_logs "
                            "where action = 'login' order by id desc limit 1").iloc[0]
    assert (signed_in["user_id"], signed_in["outcome"]) == ("ana", "done")
    assert json.loads(signed_in["details"])["method"] == "jupyter ticket"


def test_the_dashboards_server_listens_on_this_machine_only(jupyter):
    import psutil

    base, proc = jupyter
    assert _status(f"{base}/nexus-dashboards/?token={TOKEN}")[0] in (200, 302)  # running
    served = [p for p in psutil.Process(proc.pid).children(recursive=True)
              if "dashboards" in p.cmdline() and "serve" in p.cmdline()]
    assert len(served) == 1
    listening = [c.laddr for c in served[0].net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {a.ip for a in listening} == {"127.0.0.1"}
    outside = [a.address for found in psutil.net_if_addrs().values() for a in found
               if a.family == socket.AF_INET and not a.address.startswith("127.")]
    for address in outside:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, listening[0].port), timeout=5).close()
