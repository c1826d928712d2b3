"""Schedules are jupyter-scheduler's job definitions: made from the CLI, listed in its own
database, run through its job creation and our execution manager, mirrored in the store."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
import tomllib

import nexus_lab as nx
from nexus_lab import auth, runs
from nexus_lab.cli import main
from nexus_lab.errors import NexusError, PermissionDenied

REPO = Path(__file__).resolve().parents[2]


def _scheduler_db(jupyter: Path):
    """jupyter-scheduler's own database, read through its own ORM."""
    from jupyter_scheduler.orm import create_session

    return create_session(f"sqlite:///{jupyter / 'scheduler.sqlite'}")


def _definitions(jupyter: Path) -> list:
    from jupyter_scheduler.orm import JobDefinition

    with _scheduler_db(jupyter)() as session:
        return session.query(JobDefinition).order_by(JobDefinition.create_time).all()


def _job(jupyter: Path, job_id: str):
    from jupyter_scheduler.orm import Job

    with _scheduler_db(jupyter)() as session:
        return session.query(Job).filter(Job.job_id == job_id).one()


def _staging(jupyter: Path, job_id: str) -> list[str]:
    return sorted(p.suffix for p in (jupyter / "scheduler_staging_area" / job_id).iterdir())


def test_cli_schedule_is_jupyter_schedulers_definition_and_runs_through_it(
        root, jupyter, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    where = ("--root-dir", str(root))
    code = main(["schedule", "add", "monday-interest", "nbs/interest.ipynb", "--cron",
                 "0 6 * * 1", "--timezone", "Europe/Madrid", "-p", "rate", "0.5", "-p",
                 "label", "007", *where, "--store", url])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    assert "scheduled nbs/interest.ipynb as 'monday-interest'" in shown.out
    assert "0 6 * * 1 Europe/Madrid, next run" in shown.out

    (definition,) = _definitions(jupyter)  # jupyter-scheduler's JupyterLab panel lists it
    assert definition.name == "monday-interest" and definition.active
    assert definition.schedule == "0 6 * * 1" and definition.timezone == "Europe/Madrid"
    assert definition.parameters == {"rate": "0.5", "label": "7"}  # as -p reads "007"
    assert definition.output_formats == ["ipynb", "html"]
    assert definition.input_filename == "interest.ipynb"
    sid = definition.job_definition_id
    store = nx.store.connect(url)
    (mirror,) = store.read("schedules").to_dict("records")
    assert mirror["schedule_id"] == sid and mirror["name"] == "monday-interest"
    assert mirror["notebook"] == "nbs/interest.ipynb" and mirror["cron"] == "0 6 * * 1"
    assert mirror["parameters"] == {"rate": 0.5, "label": 7}
    assert mirror["enabled"] and mirror["next_run"].hour == 5  # 6:00 in Madrid, in UTC
    assert mirror["next_run"].weekday() == 0

    assert main(["schedule", "list", *where]) == 0
    listed = capsys.readouterr().out
    assert f"monday-interest  ({sid})" in listed and "not run yet" in listed
    assert "label = 7" in listed and "(1 schedules)" in listed

    code = main(["schedule", "run", "monday-interest", *where])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    assert shown.out.startswith("succeeded in ")
    (row,) = store.read("notebook_runs").to_dict("records")
    job_id = row["run_id"]
    assert row["status"] == "succeeded" and row["schedule_id"] == sid
    assert row["parameters"] == {"rate": 0.5, "label": 7}
    assert row["notebook"] == str(root / "nbs" / "interest.ipynb")
    for path in (row["output_notebook"], row["output_html"]):
        assert Path(path).exists() and Path(path).parent.name == job_id
        assert str(Path(path)) in shown.out
    # the job is jupyter-scheduler's, done by our execution manager, its files where it
    # looks for them
    job = _job(jupyter, job_id)
    assert job.job_definition_id == sid and job.status == "COMPLETED" and job.end_time
    assert _staging(jupyter, job_id) == [".html", ".ipynb", ".ipynb"]  # outputs and input
    # in the notebook's own folder, with the parameters papermill's way: 0.5 a number
    assert (root / "nbs" / "interest.txt").read_text() == "int 7"
    executed = nbformat.read(row["output_notebook"], as_version=4)
    assert "7: 50% of 250 is 125" in json.dumps([c.outputs for c in executed.cells[2:]])
    (mirror,) = store.read("schedules").to_dict("records")
    assert mirror["last_status"] == "succeeded"
    assert mirror["last_output"] == row["output_html"]
    trail = store.read("audit_logs", order_by="id")["action"].tolist()
    assert trail == ["schedule.added", "notebook.run_started", "notebook.run_succeeded"]

    assert main(["schedule", "list", *where]) == 0
    assert "last completed" in capsys.readouterr().out

    assert main(["schedule", "remove", sid, *where, "--store", url]) == 0
    assert "removed 'monday-interest'" in capsys.readouterr().out
    assert _definitions(jupyter) == [] and store.read("schedules").empty
    assert len(store.read("notebook_runs")) == 1  # the run's record stays
    assert store.read("audit_logs")["action"].iloc[-1] == "schedule.removed"


def test_a_failing_schedule_records_the_failing_cell(root, jupyter, store, capsys):
    done = runs.add_schedule("nightly-check", "nbs/failing.ipynb", cron="30 2 * * *",
                             root_dir=root, store=store)
    with pytest.raises(runs.NotebookRunError) as caught:
        runs.run_schedule("nightly-check", root_dir=root)
    err = caught.value
    assert err.cell == 3 and err.error == "ValueError: the books do not balance"
    assert err.output_notebook.exists() and err.output_notebook.parent.name == err.run_id
    (row,) = store.read("notebook_runs").to_dict("records")
    assert row["status"] == "failed" and row["schedule_id"] == done.schedule_id
    assert row["failing_cell"] == 3 and row["failing_source"].startswith("if fail:")
    job = _job(jupyter, err.run_id)
    assert job.status == "FAILED" and "failed in cell 3 of failing.ipynb" in job.status_message
    assert _staging(jupyter, err.run_id) == [".html", ".ipynb", ".ipynb"]  # the partial one
    assert store.read("schedules")["last_status"].tolist() == ["failed"]

    code = main(["schedule", "run", done.schedule_id, "--root-dir", str(root)])
    assert code == 2 and "failed in cell 3 of failing.ipynb" in capsys.readouterr().err


def test_a_job_made_in_jupyterlabs_dialog_runs_through_the_manager(root, jupyter, store,
                                                                   monkeypatch):
    """What JupyterLab's *Create Job* dialog sends: the notebook and text parameters, none
    of ours; the run goes to the server's default store."""
    from jupyter_scheduler.environments import CondaEnvironmentManager
    from jupyter_scheduler.models import CreateJob
    from jupyter_scheduler.orm import create_tables
    from jupyter_scheduler.scheduler import Scheduler

    monkeypatch.setenv("NEXUS_LAB_STORE", store.url)
    db_url = f"sqlite:///{jupyter / 'scheduler.sqlite'}"
    create_tables(db_url)
    scheduler = Scheduler(root_dir=str(root), environments_manager=CondaEnvironmentManager(),
                          db_url=db_url)
    scheduler.execution_manager_class = runs.PapermillExecutionManager
    job_id = scheduler.create_job(CreateJob(
        input_uri="nbs/interest.ipynb", runtime_environment_name="python3", name="by hand",
        parameters={"rate": "0.25", "label": "'quoted'"}, output_formats=["ipynb", "html"]))
    pid = _job(jupyter, job_id).pid
    (process,) = [p for p in multiprocessing.active_children() if p.pid == pid]
    process.join(120)
    assert _job(jupyter, job_id).status == "COMPLETED"
    (row,) = store.read("notebook_runs").to_dict("records")
    assert row["run_id"] == job_id and row["schedule_id"] is None
    assert row["notebook"] == "interest.ipynb" and row["status"] == "succeeded"
    assert row["parameters"] == {"rate": 0.25, "label": "quoted"}
    # in its staging folder, as jupyter-scheduler's own executor runs it
    staged = jupyter / "scheduler_staging_area" / job_id
    assert (staged / "interest.txt").read_text() == "int quoted"
    assert _staging(jupyter, job_id) == [".html", ".ipynb", ".ipynb", ".txt"]


def test_cron_time_zone_name_and_notebook_are_checked_before_anything_is_written(
        root, jupyter, store, capsys):
    where = ("--root-dir", str(root))
    for args, message in (
            (["--cron", "every monday"], "'every monday' is not a cron expression: write five "
             "fields, minute hour day-of-month month day-of-week, e.g. '0 6 * * 1'"),
            (["--cron", "61 6 * * 1"], "'61 6 * * 1' is not a valid cron expression"),
            (["--cron", "0 6 * * 1", "--timezone", "Mars/Olympus"],
             "unknown time zone 'Mars/Olympus'"),
            (["--cron", "0 6 * * 1", "-p", "rates", "1"],
             "interest.ipynb has no parameter 'rates' (did you mean 'rate'?)")):
        code = main(["schedule", "add", "x", "nbs/interest.ipynb", *args, *where])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
    outside = root.parent / "elsewhere.ipynb"
    shutil.copy(root / "nbs" / "interest.ipynb", outside)
    code = main(["schedule", "add", "x", str(outside), "--cron", "0 6 * * 1", *where])
    assert code == 2 and "is outside the root folder" in capsys.readouterr().err
    assert not (jupyter / "scheduler.sqlite").exists() or _definitions(jupyter) == []

    runs.add_schedule("x", "nbs/interest.ipynb", cron="0 6 * * 1", root_dir=root, store=store)
    with pytest.raises(NexusError, match="a schedule named 'x' exists"):
        runs.add_schedule("x", "nbs/interest.ipynb", cron="0 7 * * 1", root_dir=root,
                          store=store)
    with pytest.raises(NexusError, match=r"no schedule named 'y' \(nor with that id\)"):
        runs.run_schedule("y", root_dir=root)
    assert len(_definitions(jupyter)) == 1 and len(store.read("schedules")) == 1


def test_a_schedule_name_that_would_write_on_the_terminal_is_refused(root, jupyter, store,
                                                                     capsys):
    for name in ("weekly\nFAKE line", "\x1b[2Jweekly", "a\tb"):
        with pytest.raises(NexusError, match="a schedule needs a name of 1 to 256 printable"):
            runs.add_schedule(name, "nbs/interest.ipynb", cron="0 6 * * 1", root_dir=root,
                              store=store)
    assert not (jupyter / "scheduler.sqlite").exists() or _definitions(jupyter) == []
    assert store.read("schedules").empty


def test_managing_needs_schedules_manage_and_running_schedules_run(root, jupyter, store):
    with auth.acting_as("lead"):
        auth.add_user("lead", role="admin", store=store)
        auth.add_user("ana", role="examiner", store=store)
        auth.add_user("jo", role="judge", store=store)
    for who in ("ana", "jo"):  # an examiner runs schedules, and manages none
        with auth.acting_as(who), pytest.raises(PermissionDenied, match=r"schedules\.manage"):
            runs.add_schedule("weekly", "nbs/interest.ipynb", cron="0 6 * * 1",
                              root_dir=root, store=store)
    assert _definitions(jupyter) == []
    with auth.acting_as("lead"):
        done = runs.add_schedule("weekly", "nbs/interest.ipynb", cron="0 6 * * 1",
                                 root_dir=root, store=store)
    assert done.created_by == "lead"
    with auth.acting_as("jo"), pytest.raises(PermissionDenied, match=r"schedules\.run"):
        runs.run_schedule("weekly", root_dir=root)
    with auth.acting_as("ana"):
        run = runs.run_schedule("weekly", root_dir=root)
        with pytest.raises(PermissionDenied, match=r"schedules\.manage"):
            runs.remove_schedule("weekly", root_dir=root)
    assert run.created_by == "ana" and run.schedule_id == done.schedule_id
    refused = store.read("audit_logs", where={"outcome": "refused"})
    assert refused["user_id"].tolist() == ["ana", "jo", "jo", "ana"]


def test_a_store_url_with_a_password_is_not_kept_in_jupyter_schedulers_database(
        root, jupyter, postgres_url):
    assert ":" in postgres_url.split("@")[0].removeprefix("postgresql://")
    nx.store.connect(postgres_url).migrate()
    with pytest.raises(NexusError, match="the store's URL holds a password"):
        runs.add_schedule("weekly", "nbs/interest.ipynb", cron="0 6 * * 1", root_dir=root,
                          store=postgres_url)
    assert _definitions(jupyter) == []


def test_report_schedule_runs_08_reports_with_its_parameters(root, jupyter, tmp_path, capsys):
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=lambda folder, names: [n for n in names if n != "08_reports.ipynb"])
    url = f"sqlite:///{tmp_path / 'books.db'}"
    code = main(["schedule", "add", "judges-weekly", "--report", "fraud", "--role", "judge",
                 "--format", "pdf", "--to", str(tmp_path / "drop"), "--cron", "0 7 * * 1",
                 "--root-dir", str(root), "--store", url])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    (definition,) = _definitions(jupyter)
    assert definition.input_filename == "08_reports.ipynb"
    assert definition.parameters == {
        "kind": "fraud", "role": "judge", "period": "None", "fmt": "pdf",
        "out": str(tmp_path / "drop"), "store_url": f"sqlite:///{tmp_path / 'books.db'}"}
    typed = {k: runs.parse_parameter(v) for k, v in definition.parameters.items()}
    assert typed["period"] is None
    import papermill as pm

    assert set(pm.inspect_notebook(str(root / "notebooks" / "08_reports.ipynb"))) == set(typed)
    listed = runs.list_schedules(root_dir=root)
    assert listed["notebook"].tolist() == ["notebooks/08_reports.ipynb"]

    for args, message in ((["--role", "jester"], "unknown role 'jester'"),
                          ([], "--report needs --role ROLE"),
                          (["--role", "judge", "-p", "kind", "x"], "leave -p out")):
        code = main(["schedule", "add", "other", "--report", "fraud", *args, "--cron",
                     "0 7 * * 1", "--root-dir", str(root)])
        assert code == 2 and message in capsys.readouterr().err
    code = main(["schedule", "add", "other", "nbs/interest.ipynb", "--role", "judge",
                 "--cron", "0 7 * * 1", "--root-dir", str(root)])
    assert code == 2 and "--role goes with --report KIND" in capsys.readouterr().err


def test_the_report_notebook_is_thin_and_parameterized():
    nb = nbformat.read(REPO / "notebooks" / "08_reports.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    scope: dict = {}
    exec(tagged[0].source, scope)
    assert {"kind", "role", "period", "fmt", "out", "store_url"} <= set(scope)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "reports.make_report(kind, role=role, period=period" in "".join(
        c.source for c in nb.cells)


def test_the_wheel_makes_the_jupyter_server_run_jobs_with_our_manager(tmp_path):
    """The configuration file the wheel installs into etc/jupyter, read by a real server."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    shared = project["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    target = "etc/jupyter/jupyter_jupyter_scheduler_config.json"
    (source,) = [s for s, t in shared.items() if t == target]
    config_dir = tmp_path / "etc-jupyter"
    config_dir.mkdir()
    shutil.copy(REPO / source, config_dir / Path(target).name)
    script = textwrap.dedent("""
        from jupyter_server.serverapp import ServerApp
        from traitlets.config import Config

        only = Config()  # the one extension, loaded as the server loads it
        only.ServerApp.jpserver_extensions = {"jupyter_scheduler": True}
        app = ServerApp(config=only)
        app.initialize(["--ServerApp.open_browser=False"], find_extensions=False,
                       new_httpserver=False)
        manager = app.web_app.settings["scheduler"].execution_manager_class
        print(manager.__module__, manager.__name__)
    """)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir)}
    for name in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(tmp_path / name.lower())
        Path(env[name]).mkdir()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    module, name = done.stdout.split()[-2:]
    assert f"{module.rsplit('.', 1)[0]}.{name}" == "nexus_lab.runs.PapermillExecutionManager"


def test_a_report_schedule_drops_a_signed_report_that_verifies(root, jupyter, tmp_path,
                                                               monkeypatch, capsys):
    from nexus_lab import auth, workflows

    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=lambda folder, names: [n for n in names if n != "08_reports.ipynb"])
    url = f"sqlite:///{tmp_path / 'books.db'}"
    s = nx.store.connect(url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        auth.add_user("ana", role="examiner", store=s)  # the schedule runs as lead, an admin
    bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=4)
    with auth.acting_as("ana"):
        s.ingest("bank_statements", bank)
        s.ingest("expenses", ledger)
        workflows.reconcile_from_store(s, device="cpu")
    s.close()
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "lead")
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "scheduled reports key")
    drop = tmp_path / "drop"
    assert main(["schedule", "add", "monthly-close", "--report", "reconciliation", "--role",
                 "judge", "--format", "pdf", "--to", str(drop), "--cron", "0 7 1 * *",
                 "--root-dir", str(root), "--store", url]) == 0
    assert main(["schedule", "run", "monthly-close", "--root-dir", str(root)]) == 0, \
        capsys.readouterr().err
    (report,) = drop.glob("reconciliation-judge-*.pdf")  # the judge's view, sent by lead
    (public,) = drop.glob("*.nxpub")
    capsys.readouterr()
    assert main(["verify", str(report), "--sig", f"{report}.sig", "--pub", str(public)]) == 0
    signed = nx.store.connect(url).query("select kind, created_by from reports")
    assert signed.to_dict("records") == [{"kind": "reconciliation", "created_by": "lead"}]
