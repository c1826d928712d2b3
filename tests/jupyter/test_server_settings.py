"""Which store a server serves and why, who its token acts as, and the configuration file
the wheel installs to enable the extension."""

from __future__ import annotations

import html
import io
import json
import logging
import re
import secrets
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from nexus_lab.jupyter._settings import Workbench, store_url
from tests.jupyter.test_server import _audit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A NEXUS Lab checkout where `make demo` ran (its store an empty file: only its place
    matters here), and no store or actor in the environment."""
    lab = tmp_path / "lab"
    (lab / "notebooks").mkdir(parents=True)
    (lab / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    demo = lab / "out" / "demo" / "store" / "books.db"
    demo.parent.mkdir(parents=True)
    demo.touch()
    for name in ("NEXUS_LAB_STORE", "NEXUS_LAB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    return lab


@pytest.fixture
def logged():
    """What ``nexus_lab.jupyter`` logs, as the JSON lines it writes."""
    from nexus_lab.jupyter._logs import json_handler

    handler, buffer = json_handler(), io.StringIO()
    before = handler.setStream(buffer)
    yield lambda: [json.loads(line)["message"] for line in buffer.getvalue().splitlines()]
    handler.setStream(before)


def test_the_store_is_the_configured_then_the_environments_then_the_demos(
        checkout, monkeypatch, tmp_path, logged):
    demo = f"sqlite:///{(checkout / 'out' / 'demo' / 'store' / 'books.db').as_posix()}"
    assert store_url(checkout / "notebooks") == demo
    assert "the demo's store" in logged()[-1] and str(checkout) in logged()[-1]
    monkeypatch.setenv("NEXUS_LAB_STORE", "sqlite:////srv/team/books.db")
    assert store_url(checkout / "notebooks") == "sqlite:////srv/team/books.db"
    assert logged()[-1].endswith("(NEXUS_LAB_STORE)")
    configured = "postgresql://lab:secret@db/books"
    assert store_url(checkout, configured=configured) == configured
    assert logged()[-1] == ("NEXUS Lab serves the store postgresql://lab:***@db/books "
                            "(c.NexusLab.store_url)")  # its password never in the log
    monkeypatch.delenv("NEXUS_LAB_STORE")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "fresh-data"))
    default = store_url(outside)
    assert default.endswith("/fresh-data/nexus-lab/nexus.db")  # the user data folder's
    assert "the default store" in logged()[-1]
    assert Workbench(default).store.read("users").empty  # its folder made, as connect() does


def test_the_owner_is_the_configured_then_the_actor_then_the_demos_administrator(
        tmp_path, monkeypatch):
    monkeypatch.delenv("NEXUS_LAB_ACTOR", raising=False)
    url = f"sqlite:///{tmp_path / 'books.db'}"
    assert Workbench(url, owner="ana", demo=True).owner == "ana"
    assert Workbench(url, demo=True).owner == "lead"
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "examiner-7")
    assert Workbench(url, demo=True).owner == "examiner-7"
    monkeypatch.delenv("NEXUS_LAB_ACTOR")
    monkeypatch.setattr("getpass.getuser", lambda: "someone")
    bench = Workbench(url, root_dir=tmp_path)
    assert bench.owner == "someone" and bench.store.read("users").empty  # migrated


class TestTheDemosStore:
    """A server started in a checkout where `make demo` ran serves the demo's store, its
    token acting as the demo's administrator, with nothing configured."""

    @pytest.fixture
    def jp_root_dir(self, checkout, workbench) -> Path:
        shutil.copy(Path(workbench["store"].removeprefix("sqlite:///")),
                    checkout / "out" / "demo" / "store" / "books.db")
        return checkout / "notebooks"

    @pytest.fixture
    def jp_server_config(self) -> dict:
        return {"ServerApp": {"jpserver_extensions": {"nexus_lab": True}}}

    async def test_whoami(self, jp_fetch, checkout):
        me = json.loads((await jp_fetch("nexus", "api", "whoami")).body)
        assert me["store"].endswith("/lab/out/demo/store/books.db")
        assert (me["user"], me["role"]) == ("lead", "admin")


class TestTheShippedConfiguration:
    """The file the wheel installs in etc/jupyter/jupyter_server_config.d enables the
    extension by itself."""

    @pytest.fixture
    def jp_server_config(self, jp_env_config_path, workbench) -> dict:
        folder = jp_env_config_path / "jupyter_server_config.d"
        folder.mkdir()
        shutil.copy(REPO / "jupyter-config" / "server-config" / "nexus_lab.json", folder)
        return {"NexusLab": {"store_url": workbench["store"], "user": "ana"}}

    async def test_the_extension_is_enabled(self, jp_fetch, jp_serverapp):
        assert jp_serverapp.jpserver_extensions.get("nexus_lab") is True
        me = json.loads((await jp_fetch("nexus", "api", "whoami")).body)
        assert me["user"] == "ana"

    def test_the_wheel_installs_it(self):
        import tomllib

        project = tomllib.loads((REPO / "pyproject.toml").read_text())
        shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
        assert shared["jupyter-config/server-config"] == "etc/jupyter/jupyter_server_config.d"
        assert json.loads((REPO / "jupyter-config" / "server-config" / "nexus_lab.json")
                          .read_text()) == {"ServerApp": {"jpserver_extensions":
                                                          {"nexus_lab": True}}}


def test_the_logger_writes_to_its_own_handler_only():
    logger = logging.getLogger("nexus_lab.jupyter")
    from nexus_lab.jupyter._logs import json_handler

    assert json_handler() is json_handler()  # added once
    assert not any(type(h.formatter).__name__ == "JsonFormatter"
                   for h in logging.getLogger().handlers)
    assert sum(type(h.formatter).__name__ == "JsonFormatter" for h in logger.handlers) == 1


class TestSigningInWithAStoreAccount:
    """``StoreIdentityProvider``: the login form checks the store's users; the signed-in
    user acts as themselves; the server's token acts as no one of the store."""

    @pytest.fixture
    def identity_provider(self) -> type:
        from nexus_lab.jupyter import StoreIdentityProvider

        return StoreIdentityProvider

    async def _sign_in(self, jp_fetch, user: str, password: str, params: dict | None = None):
        xsrf = secrets.token_hex(16)
        return await jp_fetch(
            "login", method="POST", raise_error=False, follow_redirects=False,
            headers={"Authorization": "", "Cookie": f"_xsrf={xsrf}",
                     "Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode({"username": user, "password": password, "_xsrf": xsrf}),
            params=params or {})

    async def test_a_store_user_signs_in_and_acts_as_themselves(self, jp_fetch):
        page = await jp_fetch("login", headers={"Authorization": ""})
        assert b'name="username"' in page.body and b'name="password"' in page.body
        assert (await self._sign_in(jp_fetch, "ana", "wrong password")).code == 401
        signed = await self._sign_in(jp_fetch, "ana", "ana-passphrase")
        assert signed.code == 302
        cookie = "; ".join(c.split(";", 1)[0] for c in signed.headers.get_list("Set-Cookie"))
        me = json.loads((await jp_fetch("nexus", "api", "whoami",
                                        headers={"Authorization": "", "Cookie": cookie})).body)
        assert (me["user"], me["role"]) == ("ana", "examiner")

    async def test_failed_sign_ins_lock_the_name_a_while_known_or_not(self, jp_fetch, store):
        for name in ("pat", "nobody-here"):
            tries = [await self._sign_in(jp_fetch, name, "not the password") for _ in range(5)]
            assert [t.code for t in tries] == [401] * 5
            assert all(b"Invalid credentials" in t.body for t in tries)
            late = await self._sign_in(jp_fetch, name, f"{name}-passphrase")  # locked
            assert late.code == 429 and b"Too many failed sign-ins" in late.body
        failed = [r for r in _audit(store, "login.failed") if r[0] == "pat"]
        assert failed == [("pat", "users/pat", "refused")] * 6
        assert (await self._sign_in(jp_fetch, "ana", "ana-passphrase")).code == 302
        assert _audit(store, "login")[-1] == ("ana", "users/ana", "done")

    async def test_a_sign_in_goes_on_to_the_page_asked_for_and_no_other_site(
            self, jp_fetch, jp_base_url):
        wanted = f"{jp_base_url}lab/tree/Q1 & Q2.ipynb#top"
        page = (await jp_fetch("login", params={"next": wanted},
                               headers={"Authorization": ""})).body.decode()
        action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])
        assert parse_qs(urlsplit(action).query) == {"next": [wanted]}
        signed = await self._sign_in(jp_fetch, "ana", "ana-passphrase", {"next": wanted})
        assert (signed.code, signed.headers["Location"]) == (302, wanted)
        for elsewhere in ("https://evil.example/", "//evil.example", "/\\evil.example"):
            signed = await self._sign_in(jp_fetch, "ana", "ana-passphrase", {"next": elsewhere})
            assert (signed.code, signed.headers["Location"]) == (302, jp_base_url)

    async def test_the_identities_the_token_made_are_remembered_a_bounded_number(
            self, jp_fetch, monkeypatch):
        # each request with the token and no cookie is a new identity (a Prometheus scrape)
        monkeypatch.setattr("nexus_lab.jupyter._identity._TOKEN_USERS", 2)
        cookies = []
        for _ in range(3):
            answer = await jp_fetch("nexus", "api", "whoami")
            cookies.append("; ".join(c.split(";", 1)[0]
                                     for c in answer.headers.get_list("Set-Cookie")))

        async def opens(cookie: str) -> int:
            return (await jp_fetch("nexus", "api", "whoami", raise_error=False,
                                   headers={"Authorization": "", "Cookie": cookie})).code
        assert [await opens(c) for c in cookies] == [403, 200, 200]  # the oldest forgotten

    async def test_the_token_acts_as_no_one_of_the_store(self, jp_fetch):
        me = json.loads((await jp_fetch("nexus", "api", "whoami")).body)
        assert me["user"] != "lead" and me["roles"] == [] and me["permissions"] == []
        response = await jp_fetch("nexus", "api", "cases", raise_error=False)
        assert response.code == 403



class TestSigningInToAClosedServer:
    """A server that answers nothing unauthenticated but its login page
    (``c.ServerApp.allow_unauthenticated_access = False``) still takes a sign-in."""

    @pytest.fixture
    def identity_provider(self) -> type:
        from nexus_lab.jupyter import StoreIdentityProvider

        return StoreIdentityProvider

    @pytest.fixture
    def jp_server_config(self, jp_server_config) -> dict:
        jp_server_config["ServerApp"]["allow_unauthenticated_access"] = False
        return jp_server_config

    async def test_a_store_user_signs_in(self, jp_fetch):
        sign_in = TestSigningInWithAStoreAccount._sign_in
        assert (await sign_in(self, jp_fetch, "ana", "wrong password")).code == 401
        signed = await sign_in(self, jp_fetch, "ana", "ana-passphrase")
        assert signed.code == 302
        cookie = "; ".join(c.split(";", 1)[0] for c in signed.headers.get_list("Set-Cookie"))
        me = json.loads((await jp_fetch("nexus", "api", "whoami",
                                        headers={"Authorization": "", "Cookie": cookie})).body)
        assert me["user"] == "ana"
