"""Schedules: jupyter-scheduler's job definitions, managed from Python and the CLI, and
mirrored into the store's ``schedules``."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import multiprocessing
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit, auth, config
from nexus_lab.errors import DependencyError, NexusError
from nexus_lab.runs._cron import check_cron, next_run
from nexus_lab.runs._notebook import (
    NotebookRun,
    check_parameters,
    failed,
    load_run,
    parameter_text,
    parse_parameter,
)
from nexus_lab.store import Store, connect

log = logging.getLogger("nexus_lab")

#: The notebook that renders, signs and files a report (``nexus-lab schedule add --report``),
#: under the Jupyter root.
REPORT_NOTEBOOK = "notebooks/08_reports.ipynb"
_OUTPUT_FORMATS = ["ipynb", "html"]
_MANAGER = "nexus_lab.runs.PapermillExecutionManager"


@dataclass(frozen=True)
class Schedule:
    """A schedule: a job definition of jupyter-scheduler (see :func:`add_schedule`)."""

    schedule_id: str
    name: str
    notebook: str
    cron: str | None
    timezone: str | None
    parameters: dict = field(default_factory=dict)
    active: bool = True
    next_run: datetime | None = None
    created_by: str | None = None
    store: str | None = None


@dataclass
class _Jupyter:
    """jupyter-scheduler as the Jupyter server's extension sets it up."""

    scheduler: Any
    root_dir: Path
    configured: type  # the execution manager the server's configuration names


def _jupyter(root_dir: str | os.PathLike[str] | None) -> _Jupyter:
    """A jupyter-scheduler ``Scheduler`` over the database, staging folder and root folder
    the Jupyter server would use: its configuration files are read as the server reads
    them (``SchedulerApp.db_url``, ``Scheduler.staging_path``...), ``root_dir`` (else the
    configured ``ServerApp.root_dir``, else the current folder) is the root."""
    try:
        from jupyter_scheduler.extension import SchedulerApp
        from jupyter_scheduler.orm import create_tables
        from jupyter_scheduler.scheduler import Scheduler
        from jupyter_server.serverapp import ServerApp
    except ImportError as err:
        raise DependencyError(f"schedules need jupyter-scheduler ({err.name} is missing): pip "
                              "install 'nexus-lab[lab]'") from None

    from nexus_lab.runs._executor import PapermillExecutionManager

    server = ServerApp()
    server.load_config_file()
    if root_dir is not None:
        root = Path(root_dir).absolute()
        if not root.is_dir():
            raise NexusError(f"the root folder {str(root)!r} does not exist; give the folder "
                             "JupyterLab serves (--root-dir)")
    else:
        root = Path(server.root_dir).absolute()
    app = SchedulerApp()
    app.serverapp = server
    app.load_config_file()
    app.update_config(server.config)
    settings = copy.deepcopy(app.config)
    settings.Scheduler.task_runner_class = None  # the server's task runner schedules, not we
    if app.db_url.startswith("sqlite:///"):
        Path(app.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    create_tables(app.db_url)
    scheduler = Scheduler(root_dir=str(root), environments_manager=app.environment_manager_class(),
                          db_url=app.db_url, config=settings)
    configured = scheduler.execution_manager_class
    scheduler.execution_manager_class = PapermillExecutionManager
    return _Jupyter(scheduler, root, configured)


def _check_manager(j: _Jupyter) -> None:
    from nexus_lab.runs._executor import PapermillExecutionManager

    if not issubclass(j.configured, PapermillExecutionManager):
        log.warning(
            "the Jupyter server runs scheduled jobs with %s.%s, which does not read "
            "parameters as papermill does nor record runs in the store; set "
            "Scheduler.execution_manager_class to %s (see nexus_lab.runs)",
            j.configured.__module__, j.configured.__qualname__, _MANAGER)


def _tell_running_servers(what: str) -> None:
    """A running Jupyter server's task runner reads the definitions when it starts."""
    try:
        from jupyter_server.serverapp import list_running_servers

        servers = list(list_running_servers())
    except Exception:  # looking is a courtesy: never a reason to fail
        return
    for info in servers:
        log.warning("the Jupyter server at %s (process %s) schedules the job definitions it "
                    "read when it started: restart it so that it %s", info.get("url"),
                    info.get("pid"), what)


def _definitions(j: _Jupyter) -> list[Any]:
    from jupyter_scheduler.orm import JobDefinition

    with j.scheduler.db_session() as session:
        return session.query(JobDefinition).order_by(JobDefinition.create_time).all()


def _find(j: _Jupyter, name_or_id: str) -> Any:
    """The job definition with this id, else the one with this name."""
    everything = _definitions(j)
    for d in everything:
        if d.job_definition_id == name_or_id:
            return d
    named = [d for d in everything if d.name == name_or_id]
    if len(named) == 1:
        return named[0]
    if named:
        raise NexusError(f"{len(named)} schedules are named {name_or_id!r}; give one's id: "
                         f"{', '.join(d.job_definition_id for d in named)}")
    known = ", ".join(d.name for d in everything) or "none yet"
    raise NexusError(f"no schedule named {name_or_id!r} (nor with that id) in "
                     f"{j.scheduler.db_url}; the schedules: {known} (nexus-lab schedule list)")


def _schedule(d: Any) -> Schedule:
    from nexus_lab.runs._executor import ACTOR_KEY, NOTEBOOK_KEY, STORE_KEY

    extra = d.runtime_environment_parameters or {}
    coming = None
    if d.schedule and d.active:
        with contextlib.suppress(NexusError):
            coming = next_run(d.schedule, d.timezone)
    return Schedule(
        schedule_id=d.job_definition_id, name=d.name or "",
        notebook=extra.get(NOTEBOOK_KEY) or d.input_filename, cron=d.schedule,
        timezone=d.timezone, active=bool(d.active), next_run=coming,
        parameters={k: parse_parameter(v) for k, v in (d.parameters or {}).items()},
        created_by=extra.get(ACTOR_KEY), store=extra.get(STORE_KEY))


def _under_root(notebook: str | os.PathLike[str], root: Path) -> str:
    """The notebook's path under the root folder, as jupyter-scheduler names it."""
    path = Path(notebook)
    full = (path if path.is_absolute() else root / path).resolve()
    try:
        return full.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise NexusError(f"{str(full)!r} is outside the root folder {str(root)!r}: the Jupyter "
                         "server runs only notebooks under its root; give --root-dir a folder "
                         "that holds it") from None


def _kept_url(s: Store) -> str:
    """The store's URL, to keep in the definition (never one that holds a password)."""
    if config.redact(s.url) != s.url:
        raise NexusError("the store's URL holds a password, which a schedule would keep in "
                         "jupyter-scheduler's database: give the URL without it (PostgreSQL "
                         "reads PGPASSWORD or ~/.pgpass), or set NEXUS_LAB_STORE for the "
                         "Jupyter server and leave --store out")
    return s.url


def add_schedule(name: str, notebook: str | os.PathLike[str], *, cron: str,
                 parameters: Mapping[str, Any] | None = None, timezone: str | None = "UTC",
                 root_dir: str | os.PathLike[str] | None = None,
                 store: Store | str | None = None) -> Schedule:
    """Schedule a notebook: a job definition of jupyter-scheduler, which JupyterLab's
    *Notebook Jobs* panel lists and the Jupyter server runs on its cron schedule (through
    :class:`~nexus_lab.runs.PapermillExecutionManager`), mirrored into the store's
    ``schedules``.

    Parameters
    ----------
    name : str
        The schedule's name, unique among the definitions.
    notebook : str or path-like
        The notebook, relative to ``root_dir`` (or absolute, under it).
        jupyter-scheduler runs the copy it takes now: schedule it again after changing it.
    cron : str
        Five fields, minute hour day-of-month month day-of-week: ``"0 6 * * 1"`` is 6:00
        every Monday.
    parameters : mapping, optional
        Papermill parameters for every run; kept as text (:func:`parse_parameter` reads
        them back).
    timezone : str, default "UTC"
        The time zone of ``cron`` (an IANA name).
    root_dir : str or path-like, optional
        The folder the Jupyter server serves (default: its configured ``root_dir``, else
        the current folder).
    store : Store or str, optional
        The store of the mirror and of the runs' records (default:
        :func:`nexus_lab.store.connect`'s; the runs then go to the server's default
        store).

    Returns
    -------
    Schedule

    Raises
    ------
    NexusError
        For a bad cron expression or time zone, a name in use, a notebook outside the
        root or a parameter the notebook does not have.
    PermissionDenied
        When the user may not ``schedules.manage``.

    Examples
    --------
    >>> import os, tempfile, pathlib, nbformat
    >>> import nexus_lab as nx
    >>> from nexus_lab import runs
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
    ...     os.environ[name] = str(folder / name.lower())  # a Jupyter of its own
    >>> root = folder / "lab"; root.mkdir()
    >>> nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3",
    ...     "display_name": "Python 3", "language": "python"}})
    >>> nb.cells = [nbformat.v4.new_code_cell("role = 'examiner'",
    ...                                       metadata={"tags": ["parameters"]})]
    >>> nbformat.write(nb, root / "report.ipynb")
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> done = runs.add_schedule("weekly", "report.ipynb", cron="0 6 * * 1",
    ...                          parameters={"role": "judge"}, root_dir=root, store=store)
    >>> runs.list_schedules(root_dir=root)[["name", "cron", "parameters"]].values.tolist()
    [['weekly', '0 6 * * 1', {'role': 'judge'}]]
    >>> store.read("schedules")["schedule_id"].tolist() == [done.schedule_id]
    True
    >>> runs.remove_schedule("weekly", root_dir=root).name
    'weekly'
    >>> for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR"):
    ...     del os.environ[name]
    """
    from jupyter_scheduler.models import CreateJobDefinition

    from nexus_lab.runs._executor import ACTOR_KEY, NOTEBOOK_KEY, STORE_KEY

    if not isinstance(name, str) or not name.strip() or len(name) > 256 or \
            not name.isprintable():  # listed on terminals and in JupyterLab
        raise NexusError(f"a schedule needs a name of 1 to 256 printable characters (no line "
                         f"break, tab or control character), not {str(name)[:40]!r}")
    cron = check_cron(cron, timezone)
    params = dict(parameters or {})
    texts = {k: parameter_text(k, v) for k, v in params.items()}
    j = _jupyter(root_dir)
    relative = _under_root(notebook, j.root_dir)
    check_parameters(j.root_dir / relative, params)
    s = connect(store)
    kept = _kept_url(s) if store is not None else None
    who = auth.require("schedules.manage", store=s, resource=f"schedules/{name}")
    if any(d.name == name for d in _definitions(j)):
        raise NexusError(f"a schedule named {name!r} exists; choose another name, or remove it "
                         f"first (nexus-lab schedule remove {name!r})")
    extra: dict[str, Any] = {NOTEBOOK_KEY: relative, ACTOR_KEY: who}
    if kept is not None:
        extra[STORE_KEY] = kept
    env = j.scheduler.environments_manager.list_environments()[0].name
    model = CreateJobDefinition(
        input_uri=relative, runtime_environment_name=env, runtime_environment_parameters=extra,
        output_formats=_OUTPUT_FORMATS, parameters=texts, name=name, schedule=cron,
        timezone=timezone)
    definition_id = j.scheduler.create_job_definition(model)
    coming = next_run(cron, timezone)
    try:
        with audit.change(s, "schedule.added", f"schedules/{definition_id}",
                          {"name": name, "notebook": relative, "cron": cron,
                           "timezone": timezone, "parameters": params}, actor=who,
                          resource_type="schedule"):
            s.execute("insert into schedules (schedule_id, name, notebook, parameters, cron, "
                      "enabled, next_run, created_by) values (:i, :n, :nb, :p, :c, :e, :t, :u)",
                      {"i": definition_id, "n": name, "nb": relative,
                       "p": json.dumps(params, default=str), "c": cron, "e": True,
                       "t": coming, "u": who})
    except BaseException:  # both or neither: the definition goes too
        with contextlib.suppress(Exception):
            j.scheduler.delete_job_definition(definition_id)
        raise
    _check_manager(j)
    _tell_running_servers(f"runs {name!r} on its schedule")
    log.info("scheduled %s (%s, %s %s) as %s", relative, name, cron, timezone, definition_id)
    return Schedule(schedule_id=definition_id, name=name, notebook=relative, cron=cron,
                    timezone=timezone, parameters=params, next_run=coming, created_by=who,
                    store=extra.get(STORE_KEY))


def add_report_schedule(name: str, kind: str, *, role: str, fmt: str, to: str | os.PathLike[str],
                        cron: str, period: str | None = None, timezone: str | None = "UTC",
                        notebook: str | os.PathLike[str] = REPORT_NOTEBOOK,
                        root_dir: str | os.PathLike[str] | None = None,
                        store: Store | str | None = None) -> Schedule:
    """Schedule a signed report: ``notebooks/08_reports.ipynb``, which renders a report
    with :func:`nexus_lab.reports.make_report`, signs it and drops it into ``to``.

    Parameters
    ----------
    name : str
        The schedule's name.
    kind : str
        The report (``make_report``'s ``kind``).
    role : str
        The point of view it is written for (one of :data:`nexus_lab.auth.ROLES`).
    fmt : str
        Its format (``"html"``, ``"pdf"``).
    to : str or path-like
        The folder the signed report is dropped into (kept as an absolute path).
    cron, timezone, root_dir, store
        As for :func:`add_schedule`; ``store`` is also the store the report reads.
    period : str, optional
        The period it covers (``make_report``'s ``period``).
    notebook : str or path-like, default ``"notebooks/08_reports.ipynb"``
        The report notebook, under the root folder.

    Returns
    -------
    Schedule
    """
    if role not in auth.ROLES:
        raise NexusError(f"unknown role {role!r}; the roles are {', '.join(auth.ROLES)}")
    for label, value in (("kind", kind), ("format", fmt)):
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise NexusError(f"a report schedule needs a {label}, not {value!r}")
    folder = Path(to).expanduser().absolute()
    url = connect(store).url if store is not None else None
    parameters = {"kind": kind, "role": role, "period": period, "fmt": fmt,
                  "out": str(folder), "store_url": url}
    return add_schedule(name, notebook, cron=cron, parameters=parameters, timezone=timezone,
                        root_dir=root_dir, store=store)


def list_schedules(*, root_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The schedules jupyter-scheduler holds (its JupyterLab panel lists the same), with
    their latest job.

    Returns
    -------
    pandas.DataFrame
        ``schedule_id, name, notebook, cron, timezone, active, next_run, parameters,
        created_by, last_status, last_run`` (times in UTC).
    """
    from jupyter_scheduler.orm import Job

    j = _jupyter(root_dir)
    rows = []
    with j.scheduler.db_session() as session:
        for d in _definitions(j):
            latest = (session.query(Job.status, Job.create_time)
                      .filter(Job.job_definition_id == d.job_definition_id)
                      .order_by(Job.create_time.desc()).first())
            one = _schedule(d)
            rows.append({
                "schedule_id": one.schedule_id, "name": one.name, "notebook": one.notebook,
                "cron": one.cron, "timezone": one.timezone, "active": one.active,
                "next_run": one.next_run, "parameters": one.parameters,
                "created_by": one.created_by,
                "last_status": str(latest[0]).lower() if latest else None,
                "last_run": (datetime.fromtimestamp(latest[1] / 1e3, timezone.utc)
                             if latest else None)})
    columns = ["schedule_id", "name", "notebook", "cron", "timezone", "active", "next_run",
               "parameters", "created_by", "last_status", "last_run"]
    return pd.DataFrame(rows, columns=columns)


def remove_schedule(name_or_id: str, *, root_dir: str | os.PathLike[str] | None = None,
                    store: Store | str | None = None) -> Schedule:
    """Remove a schedule: its job definition, its jobs (jupyter-scheduler deletes their
    staged files) and its row in the store's ``schedules``. The store's records of its
    runs, and their outputs in ``runs/``, stay.

    Returns
    -------
    Schedule
        What was removed.
    """
    j = _jupyter(root_dir)
    d = _find(j, name_or_id)
    gone = _schedule(d)
    s = connect(store if store is not None else gone.store)
    who = auth.require("schedules.manage", store=s, resource=f"schedules/{gone.schedule_id}")
    with audit.change(s, "schedule.removed", f"schedules/{gone.schedule_id}",
                      {"name": gone.name, "notebook": gone.notebook}, actor=who,
                      resource_type="schedule"):
        s.execute("delete from schedules where schedule_id = :i", {"i": gone.schedule_id})
        j.scheduler.delete_job_definition(gone.schedule_id)  # last: it cannot be undone
    _tell_running_servers(f"stops running {gone.name!r}")
    return gone


def run_schedule(name_or_id: str, *, root_dir: str | os.PathLike[str] | None = None,
                 store: Store | str | None = None, timeout: float | None = None
                 ) -> NotebookRun:
    """Run a schedule now, as the Jupyter server runs it on schedule: a job of
    jupyter-scheduler made from its definition (``Scheduler.create_job``, in a process of
    its own) and executed by :class:`~nexus_lab.runs.PapermillExecutionManager`; waits
    for it.

    Parameters
    ----------
    name_or_id : str
        The schedule's name or id.
    root_dir : str or path-like, optional
        As for :func:`add_schedule`.
    store : Store or str, optional
        Where the run is recorded (default: the schedule's store, else
        :func:`nexus_lab.store.connect`'s).
    timeout : float, optional
        The most seconds to wait (default: until it ends).

    Returns
    -------
    NotebookRun
        The run, its ``run_id`` the job's id and its ``schedule_id`` the definition's.

    Notes
    -----
    jupyter-scheduler starts the job's process with ``spawn``, which imports the main
    module of the program again: in a script, call this under ``if __name__ ==
    "__main__":`` (the ``nexus-lab`` command and notebooks need nothing).

    Raises
    ------
    NotebookRunError
        When the notebook fails: the run is recorded as failed with the failing cell.
    PermissionDenied
        When the user may not ``schedules.run``.
    """
    from jupyter_scheduler.models import CreateJob
    from jupyter_scheduler.orm import Job

    from nexus_lab.runs._executor import ACTOR_KEY, STORE_KEY

    j = _jupyter(root_dir)
    d = _find(j, name_or_id)
    plan = _schedule(d)
    s = connect(store if store is not None else plan.store)
    who = auth.require("schedules.run", store=s, resource=f"schedules/{plan.schedule_id}")
    definition = j.scheduler.get_job_definition(plan.schedule_id)
    extra = {**(definition.runtime_environment_parameters or {}), ACTOR_KEY: who}
    if store is not None:
        extra[STORE_KEY] = _kept_url(s)
    attributes = definition.dict(exclude={"schedule", "timezone"}, exclude_none=True)
    job_id = j.scheduler.create_job(CreateJob(**{
        **attributes, "runtime_environment_parameters": extra,
        "input_uri": j.scheduler.get_staging_paths(definition)["input"]}))
    log.info("running schedule %s now as job %s", plan.name, job_id)
    with j.scheduler.db_session() as session:
        pid = session.query(Job.pid).filter(Job.job_id == job_id).scalar()
    process = next((p for p in multiprocessing.active_children() if p.pid == pid), None)
    if process is not None:
        process.join(timeout)
        if process.is_alive():
            raise NexusError(f"the run of {plan.name!r} (job {job_id}) is still running after "
                             f"{timeout:g} s; JupyterLab's Notebook Jobs panel follows it")
    with j.scheduler.db_session() as session:
        status, message = session.query(Job.status, Job.status_message).filter(
            Job.job_id == job_id).one()
    run = load_run(s, job_id)
    if run is None:
        code = f", exit status {process.exitcode}" if process is not None else ""
        raise NexusError(f"the run of {plan.name!r} (job {job_id}) ended before it was "
                         f"recorded ({status}{code}): {message or 'no message'}")
    if run.status == "failed":
        raise failed(run)
    return run
