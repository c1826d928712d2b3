"""``nexus-lab run | schedule``: workflow notebooks run now, or on a schedule.

Commands::

    nexus-lab run NOTEBOOK [-p NAME VALUE ...] [--out DIR] [--store URL] [--timeout S]
    nexus-lab schedule add NAME NOTEBOOK --cron "0 6 * * 1" [-p NAME VALUE ...]
                       [--timezone UTC] [--root-dir DIR] [--store URL]
    nexus-lab schedule add NAME --report KIND --role ROLE [--format html] [--to FOLDER]
                       [--period P] --cron ... [--timezone UTC] [--root-dir DIR]
    nexus-lab schedule list [--root-dir DIR]
    nexus-lab schedule remove NAME_OR_ID [--root-dir DIR] [--store URL]
    nexus-lab schedule run NAME_OR_ID [--root-dir DIR] [--store URL] [--timeout S]

``-p NAME VALUE`` reads values as papermill's ``-p`` does: ``3`` and ``0.25`` are
numbers, ``True``/``False``/``None`` are those, anything else is text. A run that fails
prints the failing cell and the output notebook kept for debugging, and exits with
status 2. The schedules are jupyter-scheduler's job definitions, the ones JupyterLab's
*Notebook Jobs* panel lists; ``--root-dir`` is the folder the Jupyter server serves,
which notebooks are relative to (default: the current folder).
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_lab.cli.records import open_store
from nexus_lab.errors import NexusError


def _parameters(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                   default=[], metavar=("NAME", "VALUE"),
                   help="a parameter of the notebook (repeatable); numbers become numbers, "
                   "True/False/None those, anything else text")


def _store(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--store", default=None, metavar="URL",
                   help=f"{what} (default: NEXUS_LAB_STORE, else nexus.db in the user's data "
                   "folder)")


def _root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root-dir", default=None, metavar="DIR",
                   help="the folder the Jupyter server serves, which notebooks are relative to "
                   "(default: the server's configured root_dir, else the current folder)")


def _timeout(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=what)


def register(sub: Any) -> None:
    """Register ``run`` and ``schedule``."""
    run = sub.add_parser(
        "run", help="run a workflow notebook with parameters",
        description="Run a notebook under papermill with parameters, keep the executed "
        "notebook and its HTML rendering, and record the run in the store. A failure prints "
        "the failing cell; its output notebook is kept for debugging.")
    run.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb file to run")
    _parameters(run)
    run.add_argument("--out", default=None, metavar="DIR",
                     help="the folder for the outputs (default: runs/RUN_ID in the user's "
                     "data folder)")
    _store(run, "where the run is recorded")
    _timeout(run, "the most seconds one cell may run (default: no limit)")
    run.set_defaults(func=_run)

    sch = sub.add_parser("schedule", help="notebooks on a schedule (jupyter-scheduler's jobs)")
    ss = sch.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    add = ss.add_parser(
        "add", help="schedule a notebook, or a signed report",
        description="Add a job definition to jupyter-scheduler (JupyterLab's Notebook Jobs "
        "panel lists it; the Jupyter server runs it on its schedule) and to the store's "
        "schedules. With --report, the notebook is notebooks/08_reports.ipynb, which renders "
        "the report, signs it and drops it into --to.")
    add.add_argument("name", metavar="NAME", help="the schedule's name")
    add.add_argument("notebook", metavar="NOTEBOOK", nargs="?", default=None,
                     help="the notebook, relative to --root-dir (with --report: default "
                     "notebooks/08_reports.ipynb)")
    add.add_argument("--cron", required=True,
                     help="when: five fields, minute hour day-of-month month day-of-week, "
                     "e.g. '0 6 * * 1' for 6:00 every Monday")
    add.add_argument("--timezone", default="UTC",
                     help="the time zone of --cron (default UTC), e.g. Europe/Madrid")
    _parameters(add)
    add.add_argument("--report", default=None, metavar="KIND",
                     help="schedule a signed report of this kind instead of a notebook of "
                     "your own")
    add.add_argument("--role", default=None,
                     help="with --report: the point of view it is written for (examiner, "
                     "prosecutor, judge, executive, compliance_officer, auditor)")
    add.add_argument("--format", dest="fmt", default="html", metavar="FMT",
                     help="with --report: html or pdf (default html)")
    add.add_argument("--to", default=None, metavar="FOLDER",
                     help="with --report: the folder it is dropped into (default: "
                     "NEXUS_LAB_REPORTS, else reports in the user's data folder)")
    add.add_argument("--period", default=None,
                     help="with --report: the period it covers (default: the report's own)")
    _root(add)
    _store(add, "the store that lists the schedule and records its runs")
    add.set_defaults(func=_add)

    ls = ss.add_parser("list", help="the schedules, their next and last runs")
    _root(ls)
    ls.set_defaults(func=_list)

    rm = ss.add_parser("remove", help="remove a schedule and its jobs")
    rm.add_argument("schedule", metavar="NAME_OR_ID", help="the schedule's name or id")
    _root(rm)
    _store(rm, "the store that lists the schedule")
    rm.set_defaults(func=_remove)

    now = ss.add_parser("run", help="run a schedule now, and wait for it",
                        description="Run a schedule now as the Jupyter server would: a job of "
                        "jupyter-scheduler made from its definition, run through papermill "
                        "and recorded in the store.")
    now.add_argument("schedule", metavar="NAME_OR_ID", help="the schedule's name or id")
    _root(now)
    _store(now, "where the run is recorded (default: the schedule's store)")
    _timeout(now, "the most seconds to wait for it (default: until it ends)")
    now.set_defaults(func=_run_now)


def _store_given(url: str | None) -> Any:
    """The store at ``url``, migrated; None for the default store (migrated too), so that a
    schedule keeps no URL and its runs go to the Jupyter server's default store."""
    store = open_store(url)
    return store if url is not None else None


def _values(pairs: list[list[str]]) -> dict[str, Any]:
    from nexus_lab.runs import parse_parameter

    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise NexusError(f"-p {name} is given twice; give each parameter once")
        out[name] = parse_parameter(value)
    return out


def _print_run(run: Any) -> None:
    print(f"{run.status} in {run.duration_s:.1f} s (run {run.run_id})")
    print(f"  notebook: {run.output_notebook}")
    print(f"  html:     {run.output_html}")


def _run(args: argparse.Namespace) -> int:
    from nexus_lab import runs

    store = open_store(args.store)
    _print_run(runs.run_notebook(args.notebook, _values(args.parameters), out=args.out,
                                 store=store, timeout=args.timeout))
    return 0


def _add(args: argparse.Namespace) -> int:
    from nexus_lab import config, runs

    store = _store_given(args.store)
    if args.report is None:
        stray = [f for f, v in (("--role", args.role), ("--to", args.to),
                                ("--period", args.period)) if v is not None]
        if stray:
            raise NexusError(f"{stray[0]} goes with --report KIND; leave it out, or add --report")
        if args.notebook is None:
            raise NexusError("give the NOTEBOOK to schedule (or --report KIND for a report)")
        done = runs.add_schedule(args.name, args.notebook, cron=args.cron,
                                 parameters=_values(args.parameters), timezone=args.timezone,
                                 root_dir=args.root_dir, store=store)
    else:
        if args.parameters:
            raise NexusError("--report sets the report notebook's parameters; leave -p out")
        if args.role is None:
            raise NexusError("--report needs --role ROLE: the point of view it is written for")
        done = runs.add_report_schedule(
            args.name, args.report, role=args.role, fmt=args.fmt,
            to=args.to or config.reports_folder(), period=args.period, cron=args.cron,
            timezone=args.timezone, notebook=args.notebook or runs.REPORT_NOTEBOOK,
            root_dir=args.root_dir, store=store)
    print(f"scheduled {done.notebook} as {done.name!r} ({done.schedule_id}): {done.cron} "
          f"{done.timezone or 'UTC'}, next run {done.next_run:%Y-%m-%d %H:%M} UTC")
    for name, value in done.parameters.items():
        print(f"  {name} = {value!r}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from nexus_lab import runs

    table = runs.list_schedules(root_dir=args.root_dir)
    for row in table.itertuples(index=False):
        coming = f"next {row.next_run:%Y-%m-%d %H:%M} UTC" if row.next_run else "paused"
        last = (f"last {row.last_status} {row.last_run:%Y-%m-%d %H:%M}" if row.last_status
                else "not run yet")
        print(f"{row.name}  ({row.schedule_id})")
        print(f"  {row.notebook}  {row.cron} {row.timezone or 'UTC'}; {coming}; {last}")
        for name, value in row.parameters.items():
            print(f"  {name} = {value!r}")
    print(f"({len(table)} schedules)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from nexus_lab import runs

    store = _store_given(args.store)
    gone = runs.remove_schedule(args.schedule, root_dir=args.root_dir, store=store)
    print(f"removed {gone.name!r} ({gone.schedule_id}) and its jobs")
    return 0


def _run_now(args: argparse.Namespace) -> int:
    from nexus_lab import runs

    store = _store_given(args.store)
    _print_run(runs.run_schedule(args.schedule, root_dir=args.root_dir, store=store,
                                 timeout=args.timeout))
    return 0
