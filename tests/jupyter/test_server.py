"""The server extension's REST API on a real Jupyter server over a real workbench: every
route's answer, who acts, the refusals the services make (and record), errors as JSON,
the token and the XSRF check Jupyter enforces, and no CORS header."""

from __future__ import annotations

import json
import secrets

import pytest
from mlflow import MlflowClient

from nexus_lab import tracking
from tests.jupyter.conftest import CASE_TITLE, DASK, SCHEDULE, HeaderIdentityProvider

ROUTES = [  # every route of the extension, as a request that would succeed
    ("GET", "nexus/api/whoami"), ("GET", "nexus/api/runs"),
    ("GET", "nexus/api/runs/RUN/report"), ("GET", "nexus/api/models"),
    ("POST", "nexus/api/models/nexus-fraud/promote"), ("GET", "nexus/api/cases"),
    ("POST", "nexus/api/cases/CASE/verify"), ("GET", "nexus/api/cases/CASE/timeline"),
    ("GET", "nexus/api/data"), ("GET", "nexus/api/dashboards"),
    ("GET", "nexus/api/schedules"), ("POST", f"nexus/api/schedules/{SCHEDULE}/run"),
    ("GET", "nexus/api/launchers"), ("POST", "nexus/api/notebooks"),
    ("POST", "nexus/api/data/bank_statements/notebook"),
    ("GET", "nexus/metrics"),
]


def _path(path: str, workbench: dict) -> str:
    return path.replace("RUN", workbench["recon_run"]).replace("CASE", workbench["case_id"])


async def _get(jp_fetch, *parts, **kwargs):
    response = await jp_fetch(*parts, raise_error=False, **kwargs)
    return response.code, json.loads(response.body or b"null")


async def _post(jp_fetch, *parts, body=None, **kwargs):
    response = await jp_fetch(*parts, method="POST", raise_error=False,
                              body=json.dumps(body or {}), **kwargs)
    return response.code, json.loads(response.body or b"null")


def _champion(uri: str) -> str:
    return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(
        tracking.FRAUD_MODEL, tracking.CHAMPION).version)


async def _promote_the_other(jp_fetch, uri: str, note: str = "") -> tuple[str, str, int, dict]:
    """Ask to make the version that is not the champion champion: ``(champion before,
    that version, status, answer)``."""
    before = _champion(uri)
    other = "2" if before == "1" else "1"
    code, got = await _post(jp_fetch, "nexus", "api", "models", "nexus-fraud", "promote",
                            body={"version": int(other), "note": note})
    return before, other, code, got


def _audit(store, action: str) -> list[tuple]:
    rows = store.query("select user_id, resource_id, outcome from audit_logs where action = :a "
                       "order by id", {"a": action})
    return list(rows.itertuples(index=False, name=None))


# ---- who acts ---------------------------------------------------------------------------

async def test_the_token_acts_as_the_servers_owner(jp_fetch, workbench):
    code, me = await _get(jp_fetch, "nexus", "api", "whoami")
    assert code == 200
    assert me["user"] == "lead" and me["roles"] == ["admin"] and me["role"] == "admin"
    assert me["display_name"] == "lead"  # not the name Jupyter gave the token's user
    assert {"models.promote", "users.manage", "case.read"} <= set(me["permissions"])
    assert "fraud.review" not in me["permissions"]
    assert me["store"] == workbench["store"] and me["store_kind"] == "sqlite"
    assert me["tracking"] == workbench["tracking_uri"]


@pytest.mark.parametrize("identity_provider", [HeaderIdentityProvider])
async def test_a_store_user_acts_as_themselves(jp_fetch):
    code, me = await _get(jp_fetch, "nexus", "api", "whoami", headers={"X-Test-User": "ana"})
    assert code == 200
    assert (me["user"], me["display_name"], me["roles"], me["role"]) == (
        "ana", "Ana", ["examiner"], "examiner")
    assert "fraud.review" in me["permissions"] and "models.promote" not in me["permissions"]


@pytest.mark.parametrize("identity_provider", [HeaderIdentityProvider])
async def test_an_unknown_name_of_another_identity_provider_holds_no_role(jp_fetch, store):
    headers = {"X-Test-User": "mallory"}
    code, me = await _get(jp_fetch, "nexus", "api", "whoami", headers=headers)
    assert code == 200  # not the server's owner, whatever c.NexusLab.user says
    assert (me["user"], me["roles"], me["role"], me["permissions"]) == (
        "mallory", [], None, [])
    code, refused = await _get(jp_fetch, "nexus", "api", "cases", headers=headers)
    assert code == 403 and refused["error"] == "PermissionDenied"
    assert "mallory has no role in this store" in refused["message"]
    assert ("mallory", "cases", "refused") in _audit(store, "permission.denied")
    code, listed = await _get(jp_fetch, "nexus", "api", "dashboards", headers=headers)
    assert code == 200 and listed == {"dashboards": []}


async def test_a_request_without_an_identity_acts_as_no_one(jp_fetch, jp_serverapp):
    from nexus_lab import audit
    from nexus_lab.jupyter._handlers import NexusHandler, register

    class Unguarded(NexusHandler):  # a route whose handler forgot @web.authenticated
        async def get(self) -> None:
            self.reply({"user": await self.call(lambda *, store: audit.actor())})

    register(jp_serverapp, [("/nexus/api/unguarded", Unguarded)])
    code, got = await _get(jp_fetch, "nexus", "api", "unguarded")
    assert (code, got) == (200, {"user": "lead"})  # the token: the server's owner
    code, got = await _get(jp_fetch, "nexus", "api", "unguarded",
                           headers={"Authorization": ""})
    assert code == 403 and got["error"] == "Forbidden", got  # not the owner


# ---- the routes ------------------------------------------------------------------------

async def test_runs_are_mlflows_with_their_figures_and_reports(jp_fetch, workbench):
    code, got = await _get(jp_fetch, "nexus", "api", "runs")
    assert code == 200
    by_id = {r["run_id"]: r for r in got["runs"]}
    recon = by_id[workbench["recon_run"]]
    logged = MlflowClient(tracking_uri=workbench["tracking_uri"]).get_run(
        workbench["recon_run"])
    assert recon["workflow"] == "reconciliation" and recon["experiment"] == "nexus-reconcile"
    assert recon["status"] == "FINISHED" and recon["user"] == "ana"
    assert recon["metrics"]["rate"] == pytest.approx(logged.data.metrics["rate"])
    assert recon["started"].endswith("Z") and recon["has_report"] is True
    fraud = [r for r in got["runs"] if r["workflow"] == "fraud"]
    assert sorted(r["metrics"]["holdout_auprc"] for r in fraud) == [0.64, 0.71]
    assert not any(r["has_report"] for r in fraud)
    # where a run computed on Dask ran: its dashboard (the tag), null for every other run
    on_dask = by_id[workbench["dask_run"]]
    assert on_dask["dask_dashboard"] == DASK["dashboard"]
    assert on_dask["workflow"] == "reconciliation" and on_dask["has_report"] is False
    assert by_id[workbench["forged_run"]]["dask_dashboard"] is None  # javascript: is no link
    assert all(r["dask_dashboard"] is None for r in got["runs"]
               if r["run_id"] != workbench["dask_run"])

    code, one = await _get(jp_fetch, "nexus", "api", "runs", params={"limit": "1"})
    assert code == 200 and len(one["runs"]) == 1
    for bad in ("many", "0"):
        code, err = await _get(jp_fetch, "nexus", "api", "runs", params={"limit": bad})
        assert code == 400 and "1 to 1000" in err["message"], err


async def test_a_runs_report_is_its_html_page_kept_away_from_the_server(jp_fetch, workbench):
    response = await jp_fetch("nexus", "api", "runs", workbench["recon_run"], "report")
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert page.lstrip().lower().startswith("<!doctype html") and "reconciliation" in page
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    code, err = await _get(jp_fetch, "nexus", "api", "runs", "no-such-run", "report")
    assert code == 404 and "no run 'no-such-run'" in err["message"]
    code, runs = await _get(jp_fetch, "nexus", "api", "runs")
    fraud = next(r["run_id"] for r in runs["runs"] if r["workflow"] == "fraud")
    code, err = await _get(jp_fetch, "nexus", "api", "runs", fraud, "report")
    assert code == 404 and "has no report" in err["message"]


async def test_models_list_versions_champion_and_history(jp_fetch, workbench):
    code, got = await _get(jp_fetch, "nexus", "api", "models")
    assert code == 200
    (model,) = got["models"]
    assert model["name"] == "nexus-fraud"
    assert model["champion"] == _champion(workbench["tracking_uri"])
    assert [v["version"] for v in model["versions"]] == ["2", "1"]
    assert [v["metrics"] for v in model["versions"]] == [{"holdout_auprc": 0.64},
                                                       {"holdout_auprc": 0.71}]
    assert all(v["status"] == "READY" and v["run_id"] and v["created"].endswith("Z")
               for v in model["versions"])
    assert isinstance(model["history"], list)


async def test_the_administrator_promotes_and_the_history_says_who(jp_fetch, workbench,
                                                                  store):
    uri = workbench["tracking_uri"]
    before, other, code, done = await _promote_the_other(jp_fetch, uri, "steadier on March")
    assert code == 200, done
    assert done == {"name": "nexus-fraud", "version": other, "previous": before}
    assert _champion(uri) == other
    assert _audit(store, "model.promoted")[-1] == (
        "lead", f"models:/nexus-fraud/{other}", "done")
    code, got = await _get(jp_fetch, "nexus", "api", "models")
    latest = got["models"][0]["history"][0]
    assert got["models"][0]["champion"] == other
    assert (latest["version"], latest["by"], latest["note"]) == (
        other, "lead", "steadier on March")
    assert latest["at"].endswith("Z")

    code, err = await _post(jp_fetch, "nexus", "api", "models", "nexus-fraud", "promote",
                            body={"version": other})
    assert code == 409 and "champion already" in err["message"], err


@pytest.mark.parametrize("owner", ["jo"])
async def test_a_judge_may_not_promote_and_the_refusal_is_recorded(jp_fetch, workbench,
                                                                  store):
    uri = workbench["tracking_uri"]
    before, other, code, err = await _promote_the_other(jp_fetch, uri)
    assert code == 403
    assert err["error"] == "PermissionDenied"
    assert err["message"].startswith("jo (judge) may not models.promote")
    assert _champion(uri) == before
    assert _audit(store, "permission.denied")[-1] == (
        "jo", f"models:/nexus-fraud/{other}", "refused")


@pytest.mark.parametrize(("name", "body", "status", "says"), [
    ("nexus-fraud", {"version": "two"}, 400, "give a registered version's number"),
    ("nexus-fraud", {"version": 0}, 400, "give a registered version's number"),
    ("nexus-fraud", {"version": 99}, 404, "has no version 99"),
    ("no-such-model", {"version": 1}, 404, "no registered model 'no-such-model'"),
    ("nexus-fraud", {"note": "no version"}, 400, "give the version"),
    ("nexus-fraud", [1], 400, "send an object"),
])
async def test_bad_promotions_are_json_errors(jp_fetch, name, body, status, says):
    code, err = await _post(jp_fetch, "nexus", "api", "models", name, "promote", body=body)
    assert code == status and says in err["message"], err
    assert set(err) == {"error", "message"} and "Traceback" not in err["message"]


async def test_a_body_too_large_is_refused_unparsed(jp_fetch):
    big = {"workflow": "projects", "parameters": {"note": "x" * (2 << 20)}}
    code, err = await _post(jp_fetch, "nexus", "api", "notebooks", body=big)
    assert code == 413 and err["error"] == "RequestEntityTooLarge"
    assert err["message"].startswith("the body is 2,097,") and "1 MiB" in err["message"]


async def test_cases_list_the_escalated_flag(jp_fetch, workbench):
    code, got = await _get(jp_fetch, "nexus", "api", "cases")
    assert code == 200
    (case,) = got["cases"]
    assert case["case_id"] == workbench["case_id"] and case["title"] == CASE_TITLE
    assert case["status"] == "open" and case["created_by"] == "ana"
    assert case["evidence"] == 2 and case["found"] is True
    assert case["last_activity"].endswith("Z")


async def test_a_case_verifies_and_the_check_is_recorded(jp_fetch, workbench, store):
    case_id = workbench["case_id"]
    code, got = await _post(jp_fetch, "nexus", "api", "cases", case_id, "verify")
    assert code == 200, got
    assert (got["case_id"], got["ok"], got["verdict"], got["first_problem"]) == (
        case_id, True, "PASS", None)
    assert (got["summary"]["cases"], got["summary"]["evidence"]) == (1, 2)
    assert _audit(store, "case.verified")[-1] == ("lead", f"cases/{case_id}", "done")
    code, err = await _post(jp_fetch, "nexus", "api", "cases", "NO-SUCH-CASE", "verify")
    assert code == 404 and "no case 'NO-SUCH-CASE'" in err["message"], err


async def test_a_cases_timeline(jp_fetch, workbench):
    case_id = workbench["case_id"]
    code, got = await _get(jp_fetch, "nexus", "api", "cases", case_id, "timeline")
    assert code == 200
    assert (got["case_id"], got["title"], got["status"]) == (case_id, CASE_TITLE, "open")
    events = [e["event"] for e in got["timeline"]]
    assert events[0] == "case opened" and events.count("intake") == 2
    assert {e["actor"] for e in got["timeline"]} == {"ana"}
    assert all(set(e) == {"at", "actor", "event", "detail"} for e in got["timeline"])
    code, err = await _get(jp_fetch, "nexus", "api", "cases", "NO-SUCH-CASE", "timeline")
    assert code == 404 and err["error"] == "NexusError"


async def test_data_lists_the_tables_with_rows_source_and_quality(jp_fetch, store):
    code, got = await _get(jp_fetch, "nexus", "api", "data")
    assert code == 200
    tables = {t["table"]: t for t in got["tables"]}
    counts = dict(store.tables().itertuples(index=False, name=None))
    for name in ("bank_statements", "expenses", "open_items", "fraud_scores", "cases"):
        assert tables[name]["rows"] == counts[name] > 0
    batches = store.read("ingest_batches")
    bank = tables["bank_statements"]
    assert bank["source"] == batches.loc[batches["table_name"] == "bank_statements",
                                         "source"].iloc[-1]
    assert 0 <= bank["quality"] <= 100
    assert tables["projects"] == {"table": "projects", "rows": 0, "source": None,
                                  "quality": None}


@pytest.mark.parametrize("owner", ["pat"])
async def test_dashboards_are_those_the_user_may_open(jp_fetch, jp_base_url):
    code, got = await _get(jp_fetch, "nexus", "api", "dashboards")
    assert code == 200
    assert got["dashboards"] == [{
        "name": "cases", "title": "Cases",
        "description": "cases, their timeline, evidence and chain of custody, and whether "
                       "they verify", "url": f"{jp_base_url}nexus/dashboards/cases"}]


async def test_the_administrator_sees_every_dashboard(jp_fetch):
    code, got = await _get(jp_fetch, "nexus", "api", "dashboards")
    assert code == 200
    assert [d["name"] for d in got["dashboards"]] == [
        "review", "fraud", "cases", "overview", "models", "quality", "examine"]


async def test_schedules_list_and_run(jp_fetch, workbench):
    code, got = await _get(jp_fetch, "nexus", "api", "schedules")
    assert code == 200
    (schedule,) = got["schedules"]
    assert (schedule["name"], schedule["notebook"], schedule["cron"]) == (
        SCHEDULE, "nbs/interest.ipynb", "0 6 * * 1")
    assert schedule["next_run"].endswith("Z") and schedule["schedule_id"]

    code, ran = await _post(jp_fetch, "nexus", "api", "schedules", SCHEDULE, "run",
                            request_timeout=120)
    assert code == 200, ran
    assert ran["schedule"] == SCHEDULE and ran["status"] == "succeeded"
    assert ran["output"].endswith(".ipynb")
    assert (workbench["folder"] / ran["output"]).is_file()  # relative to the root
    code, got = await _get(jp_fetch, "nexus", "api", "schedules")
    assert got["schedules"][0]["last_status"] == "completed"
    assert got["schedules"][0]["output"] == ran["output"]
    code, err = await _post(jp_fetch, "nexus", "api", "schedules", "no-such", "run")
    assert code == 404 and "no schedule named 'no-such'" in err["message"], err


@pytest.mark.parametrize("owner", ["jo"])
async def test_a_judge_may_not_see_the_schedules(jp_fetch):
    code, err = await _get(jp_fetch, "nexus", "api", "schedules")
    assert code == 403 and "jo (judge) may not schedules.run or schedules.manage" in \
        err["message"]


# ---- what Jupyter enforces ---------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_token_no_answer(jp_fetch, workbench, method, path):
    response = await jp_fetch(*_path(path, workbench).split("/"), method=method,
                              headers={"Authorization": ""}, raise_error=False,
                              body=None if method == "GET" else b"{}")
    assert response.code == 403
    assert workbench["case_id"].encode() not in response.body


async def test_a_cookie_post_needs_the_xsrf_token(jp_fetch, jp_serverapp, workbench):
    token = jp_serverapp.identity_provider.token
    # a browser signs in with the token in the URL and keeps the login cookie
    signed = await jp_fetch("nexus", "api", "whoami", params={"token": token},
                            headers={"Authorization": ""})
    cookie = "; ".join(c.split(";", 1)[0] for c in signed.headers.get_list("Set-Cookie"))
    assert cookie
    verify = ("nexus", "api", "cases", workbench["case_id"], "verify")
    response = await jp_fetch(*verify, method="POST", body=b"", raise_error=False,
                              headers={"Authorization": "", "Cookie": cookie})
    assert response.code == 403 and b"_xsrf" in response.body
    xsrf = secrets.token_hex(16)
    response = await jp_fetch(*verify, method="POST", body=b"", raise_error=False,
                              headers={"Authorization": "", "X-XSRFToken": xsrf,
                                       "Cookie": f"{cookie}; _xsrf={xsrf}"})
    assert response.code == 200, response.body


async def test_no_cors_header_is_ever_added(jp_fetch, workbench):
    # Jupyter Server itself would echo a token-authenticated request's origin; a POST of
    # {} promotes nothing (400)
    for method, path in [r for r in ROUTES if r[0] == "GET" or "promote" in r[1]]:
        for origin in (None, "https://elsewhere.example"):
            headers = {"Origin": origin} if origin else {}
            response = await jp_fetch(*_path(path, workbench).split("/"), method=method,
                                      headers=headers, raise_error=False,
                                      body=None if method == "GET" else b"{}")
            assert "Access-Control-Allow-Origin" not in response.headers



async def test_a_fault_of_the_server_answers_500_without_its_details(jp_fetch, monkeypatch):
    def broken(**_):
        raise RuntimeError("internals of /srv/secret")

    monkeypatch.setattr("nexus_lab.cases.store_cases", broken)
    code, err = await _get(jp_fetch, "nexus", "api", "cases")
    assert code == 500
    assert err == {"error": "RuntimeError", "message": "the server could not answer "
                   "(RuntimeError); its log has the details"}
