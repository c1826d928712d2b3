"""Notebook runs: workflow notebooks executed with parameters, now or on a schedule.

A service, above the reports (a schedule may render and sign one) and below the
workflows.

:func:`run_notebook` executes a notebook under papermill with parameters (a name its
``parameters`` cell does not set is refused, with the ones it does listed), keeps the
executed notebook and its full HTML rendering, and records the run in the store's
``notebook_runs`` (``running``, then ``succeeded`` or ``failed`` with the failing cell),
each step with its audit record. :func:`list_runs` reads the records. Running needs the
permission ``schedules.run``.

Schedules are jupyter-scheduler's job definitions, the ones JupyterLab's *Notebook
Jobs* panel lists and the Jupyter server runs on their cron schedule:
:func:`add_schedule`, :func:`list_schedules`, :func:`remove_schedule` and
:func:`run_schedule` (now) work on its database, found as the server finds it (its
configuration files: ``SchedulerApp.db_url``, ``Scheduler.staging_path``; by default
``scheduler.sqlite`` in the Jupyter data folder), and mirror each definition into the
store's ``schedules`` (``schedule_id`` is the definition's id) so that the dashboards
list them without jupyter-scheduler. Adding and removing need ``schedules.manage``.
:func:`add_report_schedule` schedules ``notebooks/08_reports.ipynb``, which renders,
signs and files a report. A running Jupyter server reads the definitions when it
starts: restart it after adding or removing one from here, so that its task runner
knows.

The server runs each job with :class:`PapermillExecutionManager`, which reads the job's
parameters as papermill parameters and records the run here (the job's id is its
``run_id``, the definition's its ``schedule_id``). The wheel installs the setting that
says so, ``etc/jupyter/jupyter_jupyter_scheduler_config.json`` in the environment: the
configuration file jupyter-scheduler's server extension reads. (A file in
``jupyter_server_config.d/`` would not do: the server reads only the list of extensions
to enable from those.) To set it by hand, e.g. for a server of another environment, put
this in ``~/.jupyter/jupyter_jupyter_scheduler_config.json`` (or in the ``Scheduler``
section of ``jupyter_server_config.json``)::

    {"Scheduler": {"execution_manager_class": "nexus_lab.runs.PapermillExecutionManager"}}

or start the server with ``jupyter lab
--Scheduler.execution_manager_class=nexus_lab.runs.PapermillExecutionManager``. The
server's process needs ``NEXUS_LAB_STORE`` (or a schedule made with a store) to record
runs in the team's store.

Examples
--------
A run's record, and parameters given as text (as on the command line, and as
jupyter-scheduler keeps them); :func:`run_notebook` shows a run:

>>> import tempfile, pathlib
>>> import nexus_lab as nx
>>> from nexus_lab import runs
>>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
>>> _ = store.migrate()
>>> runs.list_runs(store).empty
True
>>> {name: runs.parse_parameter(text) for name, text in
...  [("holdout", "0.25"), ("track", "False"), ("device", "cpu")]}
{'holdout': 0.25, 'track': False, 'device': 'cpu'}
"""

from typing import Any

from nexus_lab.runs._notebook import (
    NotebookRun,
    NotebookRunError,
    list_runs,
    parse_parameter,
    run_notebook,
)
from nexus_lab.runs._schedules import (
    REPORT_NOTEBOOK,
    Schedule,
    add_report_schedule,
    add_schedule,
    list_schedules,
    remove_schedule,
    run_schedule,
)

__all__ = ["REPORT_NOTEBOOK", "NotebookRun", "NotebookRunError", "PapermillExecutionManager",
           "Schedule", "add_report_schedule", "add_schedule", "list_runs", "list_schedules",
           "parse_parameter", "remove_schedule", "run_notebook", "run_schedule"]


def __getattr__(name: str) -> Any:
    # jupyter-scheduler (and the Jupyter server under it) loads only when it is used
    if name == "PapermillExecutionManager":
        from nexus_lab.runs._executor import PapermillExecutionManager

        return PapermillExecutionManager
    raise AttributeError(f"module 'nexus_lab.runs' has no attribute {name!r}")
