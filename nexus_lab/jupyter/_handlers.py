"""The REST API under ``/nexus/api`` (the contract: ``extensions/API.md``).

Every handler is an authenticated Jupyter ``APIHandler`` (the token, or the login cookie
and the XSRF token; no CORS header but those the server's own ``allow_origin`` settings
ask for). It parses the request, calls a service
as the acting user in a thread of its own (so a slow call never holds the server's loop)
and answers JSON. The services check the permissions and record the actions; a refusal
is a 403 whose body says who may not do what. Errors are ``{"error", "message"}`` with
400 (bad input), 403 (refused), 404 (no such thing), 409 (a state that forbids it), 413
(a body over 1 MiB) or 500 (anything else: the class of the error, never a traceback).

:class:`NexusHandler` is the base of every handler of the extension; :data:`HANDLERS`
lists ``(route, handler class)`` and :func:`register` adds such lists to a server.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from http.client import responses
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from nexus_lab import audit, auth, cases, config, dashboards, runs, tracking, workflows
from nexus_lab.errors import IntegrityError, NexusError, PermissionDenied
from nexus_lab.jupyter import _launch
from nexus_lab.jupyter._logs import log
from nexus_lab.jupyter._settings import Workbench

__all__ = ["DATA_TABLES", "HANDLERS", "ApiError", "NexusHandler", "jsonable", "register"]

T = TypeVar("T")

#: The store's tables ``/nexus/api/data`` lists: what a notebook may load.
DATA_TABLES = ("bank_statements", "expenses", "reconciliation_runs", "reconciliation_matches",
               "open_items", "fraud_runs", "fraud_scores", "cases", "projects",
               "project_milestones", "trading_operations")

#: The workflow each MLflow experiment of :data:`nexus_lab.tracking.EXPERIMENTS` records
#: (a run's ``workflow``; not the launcher's cards, :data:`nexus_lab.jupyter.WORKFLOWS`).
EXPERIMENT_WORKFLOWS = {tracking.RECONCILE_EXPERIMENT: "reconciliation",
             tracking.FRAUD_EXPERIMENT: "fraud",
             tracking.RECOMMEND_EXPERIMENT: "recommendation",
             tracking.COMPRESS_EXPERIMENT: "compression"}
_REPORT = "report.html"  # the run's report among its MLflow artifacts (export_reconcile's)
_MAX_BODY = 1 << 20  # bytes of a request's JSON: far more than any form sends


# ---- answers ----------------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: times as ISO 8601 (UTC), NaN and NaT as null, NumPy
    scalars and arrays as numbers and lists, frames as lists of records, paths as text.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> jsonable({"n": np.int64(3), "x": float("nan"), "at": pd.Timestamp("2025-03-01 12:00")})
    {'n': 3, 'x': None, 'at': '2025-03-01T12:00:00Z'}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.to_dict("records")]
    if isinstance(value, pd.Series):
        return jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [jsonable(v) for v in value]
    if value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):  # pandas' Timestamp too; the store's times are UTC
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


class ApiError(web.HTTPError):
    """An answer other than 200: ``{"error": error, "message": message}`` with
    ``status_code``.

    Parameters
    ----------
    status_code : int
        400, 403, 404, 409, 413 or 500.
    message : str
        What is wrong and how to fix it.
    error : str, optional
        The error's class name (default: by the status, ``BadRequest``...).
    """

    def __init__(self, status_code: int, message: str, error: str | None = None) -> None:
        super().__init__(status_code)
        self.message = message
        self.error = error or responses.get(status_code, "Error").replace(" ", "")

    @classmethod
    def of(cls, err: NexusError, status_code: int | None = None) -> ApiError:
        """The answer to a service's error: 403 for a refusal, 409 for data that fails an
        integrity check, else 400 (or ``status_code``)."""
        if status_code is None:
            status_code = (403 if isinstance(err, PermissionDenied) else
                           409 if isinstance(err, IntegrityError) else 400)
        return cls(status_code, str(err), type(err).__name__)


def _route_pattern(route: str) -> str:
    """A route of API.md (``/nexus/api/cases/{case_id}/verify``) as the pattern tornado
    matches (each ``{name}`` one path segment, passed as ``name=``)."""
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route)


# ---- the base of every handler ----------------------------------------------------------

class NexusHandler(APIHandler):
    """The base of the extension's handlers.

    It resolves the acting user once per request (:meth:`Workbench.acting_user`, off the
    loop), runs services as that user in a thread (:meth:`call`), answers JSON
    (:meth:`reply`), turns errors into ``{"error", "message"}``, and writes one JSON log
    line and the request's metrics when the request ends.

    Attributes
    ----------
    route : str
        The route it serves, as :data:`HANDLERS` names it (the log's and the metrics'
        ``route``).
    """

    route = ""
    _acting: str | None = None

    def initialize(self, route: str | None = None) -> None:
        if route:
            self.route = route

    @property
    def workbench(self) -> Workbench:
        """The server's :class:`~nexus_lab.jupyter._settings.Workbench`."""
        return self.settings["nexus_lab"]

    @property
    def user(self) -> str:
        """Who acts for this request (see :meth:`Workbench.acting_user`)."""
        if self._acting is None:
            self._acting = self.workbench.acting_user(self)
        return self._acting

    async def prepare(self) -> None:
        await super().prepare()
        if self.current_user and self._acting is None:
            self._acting = await asyncio.to_thread(self.workbench.acting_user, self)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a service call as :attr:`user` in a thread, with ``store=`` the workbench's
        store (unless ``store`` is given).

        Raises
        ------
        tornado.web.HTTPError
            403 for a request with no identity (whatever the route's decorators).
        ApiError
            For a :class:`~nexus_lab.errors.NexusError`: 403 for a refusal (already in the
            audit trail), 409 for an integrity failure, else 400.
        """
        if not self.current_user:
            raise web.HTTPError(403)
        kwargs.setdefault("store", self.workbench.store)
        user = self.user

        def run() -> T:
            with audit.acting_as(user):
                return fn(*args, **kwargs)

        try:
            return await asyncio.to_thread(run)
        except NexusError as err:
            raise ApiError.of(err) from err

    def reply(self, obj: Any, status: int = 200) -> None:
        """Answer ``obj`` as JSON (made JSON-safe by :func:`jsonable`) with ``status``."""
        self.set_status(status)
        self.finish(json.dumps(jsonable(obj)))

    def body(self) -> dict:
        """The request's JSON object (an empty body is ``{}``; one over 1 MiB a 413)."""
        if not self.request.body:
            return {}
        if len(self.request.body) > _MAX_BODY:
            raise ApiError(413, f"the body is {len(self.request.body):,} bytes; the API takes "
                           "at most 1 MiB")
        try:
            got = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError(400, f"the body is not JSON ({err}): send a JSON object") from None
        if not isinstance(got, dict):
            raise ApiError(400, f"the body is a JSON {type(got).__name__}: send an object")
        return got

    def set_cors_headers(self) -> None:
        # Jupyter Server lets any site read a token-authenticated answer by default (it
        # echoes the request's Origin); the API adds no CORS header but those the server's
        # own settings ask for (ServerApp.allow_origin, allow_origin_pat)
        if self.allow_origin or self.allow_origin_pat:
            super().set_cors_headers()

    # ---- errors, the log line and the metrics -------------------------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        err = (kwargs.get("exc_info") or (None, None, None))[1]
        if isinstance(err, ApiError):
            error, message = err.error, err.message
        elif isinstance(err, web.HTTPError):
            error = responses.get(status_code, "Error").replace(" ", "")
            message = (err.log_message % err.args if err.log_message and err.args else
                       err.log_message) or err.reason or responses.get(status_code, "")
        elif err is not None:
            error, message = type(err).__name__, (
                f"the server could not answer ({type(err).__name__}); its log has the details")
        else:
            error = responses.get(status_code, "Error").replace(" ", "")
            message = responses.get(status_code, "")
        self.finish(json.dumps({"error": error, "message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):  # an answer, not a fault of the server
            log.debug("%s %s: %s %s", self.request.method, self.request.path,
                      value.status_code, value.message)
            return
        super().log_exception(typ, value, tb)

    def on_finish(self) -> None:
        super().on_finish()
        status, seconds = self.get_status(), self.request.request_time()
        route = self.route or self.request.path
        log.info("%s %s %s", self.request.method, route, status,
                 extra={"user": self._acting or getattr(self.current_user, "username", None),
                        "method": self.request.method, "route": route, "status": status,
                        "ms": round(seconds * 1000, 1)})
        bench = self.settings.get("nexus_lab")
        if bench is not None and bench.metrics is not None:
            bench.metrics.observe(route, self.request.method or "", status, seconds)


# ---- the services, as the API answers them ---------------------------------------------

def _permissions(user: str, store: Any) -> set[str]:
    """What ``user`` may do; on a store where no one holds a role yet (single-user), every
    permission there is, as :func:`nexus_lab.auth.require` allows."""
    if store.read("role_assignments", columns=["user_id"], limit=1).empty:
        return set(store.read("role_permissions", columns=["permission"])["permission"])
    return auth.permissions(user, store=store)


def _whoami(identity: Any, *, store: Any, bench: Workbench) -> dict:
    user = audit.actor()
    held = auth.roles(user, store=store)
    found = store.read("users", where={"user_id": user}, columns=["display_name"])
    shown = found["display_name"].iloc[0] if len(found) else None
    if not shown and getattr(identity, "username", None) == user:
        shown = getattr(identity, "display_name", None)
    return {"user": user, "display_name": shown or user,
            "roles": held, "role": dashboards.primary_role(held),
            "permissions": sorted(_permissions(user, store)),
            "store": config.redact(bench.store_url), "store_kind": store.dialect,
            "tracking": config.redact(bench.tracking_uri)}


def _mlflow(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _has_report(client: Any, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return any(a.path == _REPORT for a in client.list_artifacts(run_id))
    except (MlflowException, OSError):
        return False


def _web_address(address: object) -> str | None:
    """``address`` when it is an ``http(s)`` address the browser may open, else None."""
    text = address.strip() if isinstance(address, str) else ""
    return text if text.lower().startswith(("http://", "https://")) else None


def _runs(limit: int, *, store: Any, tracking_uri: str) -> dict:
    found = tracking.recent_runs(limit, store=store, tracking_uri=tracking_uri)
    client = _mlflow(tracking_uri)
    return {"runs": [
        {"run_id": r.run_id, "workflow": EXPERIMENT_WORKFLOWS.get(r.experiment, r.experiment),
         "experiment": r.experiment, "status": r.status, "started": r.started,
         "user": r.user, "metrics": r.key_metrics,
         "has_report": _has_report(client, r.run_id),
         "dask_dashboard": _web_address(r.dask_dashboard)}
        for r in found.itertuples(index=False)]}


def _report(run_id: str, *, store: Any, tracking_uri: str) -> str:
    from mlflow.exceptions import MlflowException

    auth.require("models.read", store=store, resource=f"mlflow/runs/{run_id}")
    client = _mlflow(tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException:
        raise ApiError(404, f"no run {run_id!r} at {config.redact(tracking_uri)}: "
                       "/nexus/api/runs lists the runs") from None
    if not _has_report(client, run_id):
        raise ApiError(404, f"run {run_id} has no report (no {_REPORT} among its artifacts)")
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, _REPORT, tmp)
        return Path(path).read_text(encoding="utf-8")


def _models(*, store: Any, tracking_uri: str) -> dict:
    versions = tracking.registry(store=store, tracking_uri=tracking_uri)
    history = tracking.promotions(store=store)
    models = []
    for name in dict.fromkeys(versions["model"]):
        mine = versions[versions["model"] == name]
        champion = mine.loc[mine["champion"], "version"]
        moves = history[history["model"] == name]
        models.append({
            "name": name, "champion": champion.iloc[0] if len(champion) else None,
            "versions": [{"version": v.version, "run_id": v.run_id, "created": v.registered,
                          "status": v.status, "metrics": {v.metric: v.value}}
                         for v in mine.itertuples(index=False)],
            "history": [{"version": m.version, "by": m.promoted_by, "at": m.promoted_at,
                         "note": m.note} for m in moves.itertuples(index=False)]})
    return {"models": models}


def _promotion_problem(name: str, version: Any, *, store: Any, tracking_uri: str) -> int:
    """Why a promotion failed, as a status: 400 (not a version number), 404 (no such model
    or version), 409 (the champion already), else 400."""
    text = str(version).strip()
    if isinstance(version, bool) or not text.isdigit() or int(text) < 1:
        return 400
    try:
        versions = tracking.registry(store=store, tracking_uri=tracking_uri)
    except NexusError:
        return 400
    mine = versions[versions["model"] == name]
    if mine.empty or str(int(text)) not in set(mine["version"]):
        return 404
    if str(int(text)) in set(mine.loc[mine["champion"], "version"]):
        return 409
    return 400


def _case_listed(case_id: str, *, store: Any) -> bool:
    return not store.read("cases", where={"case_id": case_id}, columns=["case_id"]).empty


def _cases(*, store: Any) -> dict:
    found = cases.store_cases(store=store)
    keys = ["case_id", "title", "status", "last_activity", "evidence", "created_by", "found"]
    return {"cases": found[keys]}


def _verify(case_id: str, *, store: Any) -> dict:
    got = cases.verify_case(case_id, store=store)
    return {"case_id": case_id, **{k: got[k] for k in ("ok", "verdict", "first_problem",
                                                         "summary")}}


def _timeline(case_id: str, *, store: Any) -> dict:
    detail = cases.case_detail(case_id, store=store)
    events = detail["timeline"]
    return {"case_id": case_id, "title": detail["case"]["title"],
            "status": detail["case"]["status"],
            "timeline": [{"at": e.time, "actor": e.actor, "event": e.event, "detail": e.detail}
                         for e in events.itertuples(index=False)]}


def _data(*, store: Any) -> dict:
    sources = workflows.source_quality(store, limit=20)  # financial.read
    counts = dict(store.tables().itertuples(index=False, name=None))
    tables = []
    for table in DATA_TABLES:
        mine = sources[sources["table"] == table]
        scored = mine[mine["rows_written"] > 0]
        latest = scored.iloc[0] if len(scored) else mine.iloc[0] if len(mine) else None
        tables.append({"table": table, "rows": counts.get(table, 0),
                       "source": None if latest is None else latest["source"],
                       "quality": None if latest is None else latest["score"]})
    return {"tables": tables}


def _dashboards(base_url: str, *, store: Any) -> dict:
    allowed = _permissions(audit.actor(), store)
    return {"dashboards": [
        {"name": d.name, "title": d.title, "description": d.purpose,
         "url": url_path_join(base_url, "nexus", "dashboards", d.name)}
        for d in dashboards.DASHBOARDS.values() if allowed & set(d.permission)]}


def _relative_to_root(path: Any, root: Path) -> str | None:
    """``path`` relative to the root folder, or None when it is not under it."""
    if path is None or (isinstance(path, float) and math.isnan(path)) or path == "":
        return None
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _schedules(*, store: Any, root_dir: Path) -> dict:
    auth.require(("schedules.run", "schedules.manage"), store=store, resource="schedules")
    found = runs.list_schedules(root_dir=root_dir)
    out = []
    for s in found.itertuples(index=False):
        last = runs.list_runs(store, limit=1, schedule_id=s.schedule_id)
        out.append({"schedule_id": s.schedule_id, "name": s.name, "notebook": s.notebook,
                    "cron": s.cron, "next_run": s.next_run, "last_status": s.last_status,
                    "last_run": s.last_run,
                    "output": _relative_to_root(last["output_notebook"].iloc[0], root_dir)
                    if len(last) else None})
    return {"schedules": out}


def _schedule_listed(name: str, *, store: Any, root_dir: Path) -> bool:
    found = runs.list_schedules(root_dir=root_dir)
    return bool((found["name"] == name).any() or (found["schedule_id"] == name).any())


def _run_schedule(name: str, *, store: Any, root_dir: Path) -> dict:
    try:
        run = runs.run_schedule(name, root_dir=root_dir, store=store)
    except runs.NotebookRunError as err:  # the run is recorded as failed, its notebook kept
        return {"schedule": name, "status": "failed",
                "output": _relative_to_root(err.output_notebook, root_dir)}
    return {"schedule": name, "status": run.status,
            "output": _relative_to_root(run.output_notebook, root_dir)}


# ---- the handlers -------------------------------------------------------------------------

class WhoAmIHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_whoami, self.current_user, bench=self.workbench))


class RunsHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        text = self.get_argument("limit", "20")
        try:
            limit = int(text)
        except ValueError:
            raise ApiError(400, f"limit={text!r}: give how many runs to list, 1 to 1000"
                           ) from None
        self.reply(await self.call(_runs, limit, tracking_uri=self.workbench.tracking_uri))


class RunReportHandler(NexusHandler):
    @property
    def content_security_policy(self) -> str:
        # the report is a page of its own: no script runs, nothing is fetched, and it is
        # kept away from the server's origin (a sandbox)
        return ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "frame-ancestors 'self'")

    @web.authenticated
    async def get(self, run_id: str) -> None:
        page = await self.call(_report, run_id, tracking_uri=self.workbench.tracking_uri)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(page, set_content_type="text/html; charset=UTF-8")


class ModelsHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_models, tracking_uri=self.workbench.tracking_uri))


class PromoteHandler(NexusHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        body = self.body()
        if "version" not in body:
            raise ApiError(400, 'give the version to make champion: {"version": 2, '
                           '"note": "why"}')
        version, note = body["version"], body.get("note") or ""
        if not isinstance(version, int | str) or not isinstance(note, str):
            raise ApiError(400, "version is a number (or its text) and note is text")
        uri = self.workbench.tracking_uri
        try:
            done = await self.call(tracking.promote, name, version, note=note,
                                   tracking_uri=uri)
        except ApiError as err:
            if err.status_code == 400:
                err.status_code = await self.call(_promotion_problem, name, version,
                                                  tracking_uri=uri)
            raise
        self.reply({"name": done["model"], "version": done["version"],
                    "previous": done["previous"]})


class CasesHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_cases))


class _CaseHandler(NexusHandler):
    async def about(self, fn: Callable[..., dict], case_id: str) -> None:
        """Answer ``fn(case_id)``; 404 when the store lists no such case."""
        try:
            self.reply(await self.call(fn, case_id))
        except ApiError as err:
            if err.status_code == 400 and not await self.call(_case_listed, case_id):
                err.status_code = 404
            raise


class VerifyCaseHandler(_CaseHandler):
    @web.authenticated
    async def post(self, case_id: str) -> None:
        await self.about(_verify, case_id)


class TimelineHandler(_CaseHandler):
    @web.authenticated
    async def get(self, case_id: str) -> None:
        await self.about(_timeline, case_id)


class DataHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_data))


class DashboardsHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_dashboards, self.base_url))


class SchedulesHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(await self.call(_schedules, root_dir=self.workbench.root_dir))


class RunScheduleHandler(NexusHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        root = self.workbench.root_dir
        try:
            self.reply(await self.call(_run_schedule, name, root_dir=root))
        except ApiError as err:
            if err.status_code == 400 and not await self.call(_schedule_listed, name,
                                                              root_dir=root):
                err.status_code = 404
            raise


def _table_notebook(table: str, folder: str, *, store: Any, store_url: str,
                    root_dir: str) -> dict:
    if table not in DATA_TABLES:  # not the store's users, roles, audit log...
        raise NexusError(f"{table!r} is not one of the data tables; they are "
                         f"{', '.join(DATA_TABLES)} (GET /nexus/api/data lists them)")
    auth.require("financial.read", store=store, resource=table)
    return {"path": _launch.table_notebook(table, store_url=store_url, root_dir=root_dir,
                                           folder=folder)}


def _folder(body: dict) -> str:
    folder = body.get("folder") or ""
    if not isinstance(folder, str):
        raise ApiError(400, "folder is the path of a folder under the server's root, as text")
    return folder


class LaunchersHandler(NexusHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply(_launch.launchers())


class NotebooksHandler(NexusHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.body()
        workflow, parameters = body.get("workflow"), body.get("parameters") or {}
        if not isinstance(workflow, str) or not isinstance(parameters, dict):
            raise ApiError(400, 'name the workflow and its parameters: {"workflow": '
                           '"reconcile", "parameters": {...}, "folder": ""}')
        bench = self.workbench
        try:
            path = await asyncio.to_thread(
                _launch.create_notebook, workflow, parameters, root_dir=str(bench.root_dir),
                folder=_folder(body), store_url=bench.store_url,
                tracking_uri=bench.tracking_uri)
        except NexusError as err:
            raise ApiError.of(err) from err
        self.reply({"path": path}, status=201)


class TableNotebookHandler(NexusHandler):
    @web.authenticated
    async def post(self, table: str) -> None:
        bench = self.workbench
        self.reply(await self.call(_table_notebook, table, _folder(self.body()),
                                   store_url=bench.store_url, root_dir=str(bench.root_dir)),
                   status=201)


#: The API's routes (relative to the server's ``base_url``) and their handlers.
HANDLERS: list[tuple[str, type]] = [
    ("/nexus/api/whoami", WhoAmIHandler),
    ("/nexus/api/runs", RunsHandler),
    ("/nexus/api/runs/{run_id}/report", RunReportHandler),
    ("/nexus/api/models", ModelsHandler),
    ("/nexus/api/models/{name}/promote", PromoteHandler),
    ("/nexus/api/cases", CasesHandler),
    ("/nexus/api/cases/{case_id}/verify", VerifyCaseHandler),
    ("/nexus/api/cases/{case_id}/timeline", TimelineHandler),
    ("/nexus/api/data", DataHandler),
    ("/nexus/api/data/{table}/notebook", TableNotebookHandler),
    ("/nexus/api/launchers", LaunchersHandler),
    ("/nexus/api/notebooks", NotebooksHandler),
    ("/nexus/api/dashboards", DashboardsHandler),
    ("/nexus/api/schedules", SchedulesHandler),
    ("/nexus/api/schedules/{name}/run", RunScheduleHandler),
]


def register(serverapp: Any, handlers: Iterable[tuple]) -> None:
    """Add ``handlers`` (``(route, class)`` or ``(route, class, kwargs)``) to the server,
    under its ``base_url``.

    A route is a path of API.md, where ``{name}`` is one path segment passed to the
    handler as ``name``, or a tornado pattern. A :class:`NexusHandler` learns its route
    (for the log and the metrics).
    """
    base = serverapp.web_app.settings["base_url"]
    rules = []
    for route, cls, *rest in handlers:
        kwargs = dict(rest[0]) if rest else {}
        if issubclass(cls, NexusHandler):
            kwargs.setdefault("route", route)
        rules.append((url_path_join(base, _route_pattern(route)), cls, kwargs))
    serverapp.web_app.add_handlers(".*$", rules)

