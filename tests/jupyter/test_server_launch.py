"""The launcher routes on a real Jupyter server: the cards, a notebook made from a card's
template with its parameters, a table opened as a DataFrame, and their refusals."""

from __future__ import annotations

import json

import nbformat

import nexus_lab as nx
from tests.jupyter.test_server import _get, _post


async def test_the_launchers_are_the_workflows_cards(jp_fetch):
    code, got = await _get(jp_fetch, "nexus", "api", "launchers")
    assert code == 200
    cards = {w["name"]: w for w in got["workflows"]}
    assert {"reconcile", "fraud", "case", "audit"} <= set(cards)
    assert cards["reconcile"]["title"] == "Reconcile a statement"
    kinds = {p["name"]: p["kind"] for p in cards["reconcile"]["parameters"]}
    assert kinds["bank_path"] == "path" and kinds["amount_tolerance"] == "number"


async def test_a_card_makes_a_notebook_with_its_parameters(jp_fetch, jp_root_dir):
    bank, ledger, _ = nx.datasets.synth_reconciliation(50, seed=3)
    (jp_root_dir / "in").mkdir(exist_ok=True)
    (jp_root_dir / "work").mkdir(exist_ok=True)
    bank.to_csv(jp_root_dir / "in" / "bank.csv", index=False)
    ledger.to_csv(jp_root_dir / "in" / "ledger.csv", index=False)
    body = {"workflow": "reconcile", "folder": "work",
            "parameters": {"bank_path": "in/bank.csv", "ledger_path": "in/ledger.csv",
                           "date_window": 5}}
    code, got = await _post(jp_fetch, "nexus", "api", "notebooks", body=body)
    assert code == 201, got
    assert got["path"].startswith("work/") and got["path"].endswith(".ipynb")
    nb = nbformat.read(jp_root_dir / got["path"], as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "date_window = 5" in injected[0].source
    again = await _post(jp_fetch, "nexus", "api", "notebooks", body=body)
    assert again[0] == 201 and again[1]["path"] != got["path"]  # never overwritten


async def test_a_cards_notebook_works_on_the_servers_stores(jp_fetch, jp_root_dir, workbench,
                                                           monkeypatch):
    # the kernels would find other stores by themselves (the server's come from its
    # configuration, c.NexusLab.store_url and tracking_uri)
    monkeypatch.delenv("NEXUS_LAB_STORE")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    for workflow, name, value in (("report", "store_url", workbench["store"]),
                                  ("fraud", "tracking_uri", workbench["tracking_uri"])):
        body = {"workflow": workflow, "parameters": {"data_path": "reconcile-out/x.csv"}
                if workflow == "fraud" else {}}
        if workflow == "fraud":
            (jp_root_dir / "reconcile-out" / "x.csv").write_text("transaction_id\n")
        code, got = await _post(jp_fetch, "nexus", "api", "notebooks", body=body)
        assert code == 201, got
        nb = nbformat.read(jp_root_dir / got["path"], as_version=4)
        (cell,) = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert f"{name} = {value!r}".replace("'", '"') in cell.source, cell.source


async def test_a_bad_card_request_is_a_json_error(jp_fetch):
    code, got = await _post(jp_fetch, "nexus", "api", "notebooks",
                            body={"workflow": "embezzle", "parameters": {}})
    assert code == 400 and "reconcile" in got["message"]
    code, got = await _post(jp_fetch, "nexus", "api", "notebooks",
                            body={"workflow": "reconcile", "parameters": {"nope": 1}})
    assert code == 400 and "nope" in got["message"]
    code, got = await _post(jp_fetch, "nexus", "api", "notebooks", body={"workflow": 3})
    assert code == 400 and "workflow" in got["message"]


async def test_a_table_opens_as_a_dataframe_notebook(jp_fetch, jp_root_dir):
    code, got = await _post(jp_fetch, "nexus", "api", "data", "bank_statements", "notebook",
                            body={"folder": ""})
    assert code == 201, got
    text = json.dumps(nbformat.read(jp_root_dir / got["path"], as_version=4))
    assert "bank_statements" in text
    code, got = await _post(jp_fetch, "nexus", "api", "data", "salaries", "notebook")
    assert code == 400 and "bank_statements" in got["message"]


async def test_only_the_data_tables_open_as_notebooks(jp_fetch, jp_root_dir):
    # the store's other tables (its users' password hashes, roles, audit log...) are no
    # data to load
    before = sorted(jp_root_dir.glob("*.ipynb"))
    for table in ("users", "role_assignments", "audit_logs", "notebook_runs"):
        code, got = await _post(jp_fetch, "nexus", "api", "data", table, "notebook")
        assert code == 400, (table, got)
        assert got["message"].startswith(f"{table!r} is not one of the data tables")
        assert "bank_statements" in got["message"] and "users," not in got["message"]
    assert sorted(jp_root_dir.glob("*.ipynb")) == before
