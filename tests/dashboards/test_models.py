"""The models dashboard in a real browser, on a real MLflow store with a registered fraud
model in two versions: the administrator promotes one; an examiner cannot."""

from __future__ import annotations

import pytest

import nexus_lab as nx
from nexus_lab import auth, tracking, workflows
from tests.dashboards._browser import (
    audit_rows,
    bokeh_click,
    fill_workbench,
    login,
    page_text,
    shot,
    wait_rendered,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The filled workbench, and in its MLflow store a reconciliation run and a fraud model
    trained twice by the examiner, version 2 made champion by the administrator."""
    bench = fill_workbench(tmp_path_factory.mktemp("workbench"))
    uri = bench["env"]["MLFLOW_TRACKING_URI"]
    s = nx.store.connect(bench["store"])
    try:
        with auth.acting_as("ana"):
            bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=1)
            tracking.log_reconcile_run(nx.reconcile(bank, ledger, device="cpu"),
                                       tracking_uri=uri, run_name="bank x ledger, March")
            for seed in (2, 4):  # their held-out weeks hold fraud: both have an AUPRC
                tx = nx.datasets.synth_transactions(300, seed=seed, days=30)
                workflows.train_fraud_model(tx.drop(columns=["pattern"]), "is_fraud",
                                            device="cpu", random_state=seed, tracking_uri=uri,
                                            run_name=f"fraud, seed {seed}")
        if _champion(uri) != "2":
            with auth.acting_as("lead"):
                tracking.promote(tracking.FRAUD_MODEL, 2, note="set up", store=s,
                                 tracking_uri=uri)
    finally:
        s.close()
    return bench


def _champion(uri: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(
        tracking.FRAUD_MODEL, tracking.CHAMPION).version)


def test_the_administrator_promotes_version_1(page, dashboards, workbench):
    uri = workbench["env"]["MLFLOW_TRACKING_URI"]
    assert _champion(uri) == "2"
    login(page, dashboards, "lead")
    assert page.url.endswith("/models")  # the administrator lands on the models
    text = page_text(page)
    assert "version 2" in text and "★ champion" in text
    version = page.get_by_role("combobox").filter(has_text="version 1")
    version.select_option(label=version.locator("option", has_text="version 1")
                          .first.text_content())
    page.get_by_placeholder("e.g. better on March data").fill("steadier on new vendors")
    page.get_by_role("button", name="Make champion").click()
    page.wait_for_timeout(1500)
    wait_rendered(page)

    assert _champion(uri) == "1"  # the alias MLflow serves moved
    promoted = audit_rows(workbench["store"], "model.promoted")
    assert [(r["user_id"], r["resource_id"], r["outcome"]) for r in promoted][-1] == (
        "lead", f"models:/{tracking.FRAUD_MODEL}/1", "done")
    text = page_text(page)
    assert "steadier on new vendors" in text  # the history, read back from the audit log
    shot(page, "models-admin")

    page.locator(".bk-tab", has_text="Recent runs").click()
    page.wait_for_timeout(500)
    text = page_text(page)
    assert "Reconciliation" in text and "Fraud detection" in text
    assert "ana" in text  # who ran them, from the runs' user tag
    shot(page, "models-runs")


def test_the_examiner_cannot_promote_and_a_forged_click_is_refused(page, dashboards,
                                                                   workbench):
    uri = workbench["env"]["MLFLOW_TRACKING_URI"]
    before_alias = _champion(uri)
    login(page, dashboards, "ana", "models")
    assert "Champion" in page_text(page)  # models.read: the examiner sees the registry
    assert page.get_by_role("button", name="Make champion").count() == 0
    shot(page, "models-examiner")
    before = len(audit_rows(workbench["store"], "permission.denied"))
    promoted = len(audit_rows(workbench["store"], "model.promoted"))
    bokeh_click(page, "nx-promote")  # the click the page never offered
    page.wait_for_timeout(1500)
    refused = audit_rows(workbench["store"], "permission.denied")
    assert len(refused) == before + 1
    assert (refused[-1]["user_id"], refused[-1]["outcome"]) == ("ana", "refused")
    assert refused[-1]["resource_id"].startswith(f"models:/{tracking.FRAUD_MODEL}/")
    assert _champion(uri) == before_alias
    assert len(audit_rows(workbench["store"], "model.promoted")) == promoted


def test_the_executive_may_not_open_the_models(page, dashboards, workbench):
    login(page, dashboards, "eve", "models")
    assert "may not open Models" in page_text(page)
