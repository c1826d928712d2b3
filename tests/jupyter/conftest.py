"""Real Jupyter servers with the ``nexus_lab`` extension, over a real workbench.

pytest-jupyter's server fixtures (``jp_fetch``...) are brought in here, for the tests of
this folder only: its autouse fixtures (an event loop per test) then stay out of the
rest of the suite.

The workbench is made once per session: a SQLite store with every point of view's user,
a reconciliation and fraud scores from the real kernels (``fill_workbench``), a flag
escalated into a case, an MLflow SQLite store with a reconciliation run (its report among
its artifacts), one computed on Dask (its dashboard tagged) and a registered fraud model in
two versions, and a schedule of jupyter-scheduler. Each test gets a server of its own over it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupyter_core.paths
import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from pytest_jupyter.jupyter_server import *  # noqa: F403

import nexus_lab as nx
from nexus_lab import auth, reports, review, runs, tracking, workflows
from tests.dashboards._browser import fill_workbench
from tests.runs._notebooks import write_notebook

SCHEDULE = "interest-weekly"
CASE_TITLE = "Vendor paid twice"
#: Where the workbench's reconciliation computed on Dask ran (``params["dask"]``).
DASK = {"scheduler": "tcp://127.0.0.1:40123", "workers": 2, "partitions": 8,
        "dashboard": "http://127.0.0.1:8787/status"}


def _log_dask_runs(uri: str) -> tuple[str, str]:
    """A reconciliation computed on Dask, tracked (its result as the distributed
    reconciliation returns it: ``params["dask"]`` set), and a run whose dashboard tag is
    no web address (a ``javascript:`` one, set by hand): their run ids."""
    from mlflow import MlflowClient

    bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=0)
    on_dask = nx.reconcile(bank, ledger, device="cpu")
    on_dask.params["dask"] = dict(DASK)
    dask_run = tracking.log_reconcile_run(on_dask, tracking_uri=uri, source="test",
                                          run_name="on Dask")
    client = MlflowClient(tracking_uri=uri)
    forged = client.create_run(
        client.get_experiment_by_name(tracking.RECONCILE_EXPERIMENT).experiment_id,
        tags={"mlflow.user": "ana", tracking.DASK_DASHBOARD_TAG: "javascript:alert(1)"},
        run_name="forged dashboard").info.run_id
    client.set_terminated(forged)
    return dask_run, forged


def _register_fraud_versions(uri: str) -> None:
    """Two versions of the fraud model in the registry, each from a run of its own that
    the examiner made (version 1, the better, champion)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(tracking.FRAUD_EXPERIMENT,
                                          artifact_location=tracking.artifact_location(uri))
    client.create_registered_model(tracking.FRAUD_MODEL)
    for auprc in (0.71, 0.64):
        run = client.create_run(experiment, tags={"mlflow.user": "ana"},
                                run_name=f"fraud, AUPRC {auprc}")
        client.log_metric(run.info.run_id, "holdout_auprc", auprc)
        client.set_terminated(run.info.run_id)
        client.create_model_version(tracking.FRAUD_MODEL, f"{run.info.artifact_uri}/model",
                                    run_id=run.info.run_id)
    client.set_registered_model_alias(tracking.FRAUD_MODEL, tracking.CHAMPION, "1")


@pytest.fixture(scope="session")
def workbench(tmp_path_factory, _mlflow_template) -> dict:
    """The workbench the servers serve (see the module docstring); the workbench's folder
    is the servers' root folder and holds the user data folder, so that a scheduled run's
    output notebook is under the root."""
    bench = fill_workbench(tmp_path_factory.mktemp("jupyter-workbench"))
    folder, env = bench["folder"], bench["env"]
    env = {**env, "JUPYTER_DATA_DIR": str(folder / "jupyter-data")}
    uri = env["MLFLOW_TRACKING_URI"]
    shutil.copy(_mlflow_template, folder / "mlflow.db")
    write_notebook(folder / "nbs" / "interest.ipynb", "rate = 0.1\nprincipal = 250",
                   "print(f'{rate:.0%} of {principal} is {principal * rate:g}')")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        s = nx.store.connect(bench["store"])
        try:
            with auth.acting_as("ana"):
                flag = review.fraud_queue_page(bench["fraud_run"], limit=1, store=s)[0]
                case = workflows.escalate_to_case(int(flag["id"].iloc[0]), "paid twice",
                                                  title=CASE_TITLE, store=s)
                bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=1)
                exported = reports.export_reconcile(
                    nx.reconcile(bank, ledger, device="cpu"), folder / "reconcile-out",
                    tracking_uri=uri)
                dask_run, forged_run = _log_dask_runs(uri)
            _register_fraud_versions(uri)
            with auth.acting_as("lead"):
                runs.add_schedule(SCHEDULE, "nbs/interest.ipynb", cron="0 6 * * 1",
                                  parameters={"rate": 0.25}, root_dir=folder, store=s)
        finally:
            s.close()
    return {**bench, "env": env, "case_id": case["case_id"], "recon_run": exported.run_id,
            "dask_run": dask_run, "forged_run": forged_run, "tracking_uri": uri}


@pytest.fixture(autouse=True)
def _workbench_settings(workbench, monkeypatch):
    """The workbench's settings (keys, cases, data folder...) for each test."""
    for name, value in workbench["env"].items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def jp_data_dir(workbench) -> Path:
    """Jupyter's data folder is the workbench's: jupyter-scheduler's database is there."""
    return Path(workbench["env"]["JUPYTER_DATA_DIR"])


@pytest.fixture
def jp_nbconvert_templates(jp_data_dir):
    """As pytest-jupyter's (nbconvert's templates in Jupyter's data folder), once: the data
    folder is the session's."""
    target = jp_data_dir / "nbconvert" / "templates"
    found = [p for p in jupyter_core.paths.jupyter_path("nbconvert", "templates")
             if Path(p).is_dir()]
    if found and not target.exists():
        shutil.copytree(found[0], target)


@pytest.fixture
def jp_root_dir(workbench) -> Path:
    return workbench["folder"]


@pytest.fixture
def owner() -> str:
    """Who the server's token acts as (``c.NexusLab.user``); a test parametrizes it."""
    return "lead"


@pytest.fixture
def identity_provider() -> type | None:
    """The server's identity provider class (None: Jupyter Server's own)."""
    return None


@pytest.fixture
def jp_server_config(workbench, owner, identity_provider) -> dict:
    config = {"ServerApp": {"jpserver_extensions": {"nexus_lab": True}},
              "NexusLab": {"store_url": workbench["store"], "user": owner,
                           "tracking_uri": workbench["tracking_uri"]}}
    if identity_provider is not None:
        config["ServerApp"]["identity_provider_class"] = identity_provider
    return config


class HeaderIdentityProvider(IdentityProvider):
    """An identity provider of another kind (as JupyterHub's is): the token-authenticated
    request's user is named by the ``X-Test-User`` header."""

    async def get_user(self, handler):
        user = await self._get_user(handler)
        name = handler.request.headers.get("X-Test-User")
        return User(username=name, name=name) if user is not None and name else user


@pytest.fixture
def store(workbench):
    """A connection of the test's own to the workbench's store."""
    s = nx.store.connect(workbench["store"])
    yield s
    s.close()
