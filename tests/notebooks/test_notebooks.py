"""The workflow notebooks run end to end under papermill, as a scheduled run would."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd

import nexus_lab as nx
from nexus_lab.files import read_table
from nexus_lab.reports import OUTPUT_FILES

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
RECONCILE = NOTEBOOKS / "01_reconcile.ipynb"


def execute(notebook: Path, tmp_path: Path, parameters: dict) -> nbformat.NotebookNode:
    """Run ``notebook`` under papermill from its folder; the executed notebook."""
    import papermill as pm

    executed = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(notebook), str(executed), kernel_name="python3",
                        cwd=str(NOTEBOOKS), progress_bar=False, parameters=parameters)
    return nbformat.read(executed, as_version=4)


def html_outputs(nb: nbformat.NotebookNode) -> list[str]:
    return [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]


def text_outputs(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_reconcile_notebook_is_parameterized_and_thin():
    nb = nbformat.read(RECONCILE, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = tagged[0].source
    for name in ("bank_path", "ledger_path", "amount_tolerance", "date_window", "device",
                 "out_dir", "track"):
        assert f"\n{name} = " in f"\n{params}", name
    # the defaults point at the bundled sample data, relative to the notebook's folder
    scope: dict = {}
    exec(params, scope)
    assert (NOTEBOOKS / scope["bank_path"]).resolve() == (NOTEBOOKS.parent / "data" / "bank.csv")
    assert (NOTEBOOKS / scope["bank_path"]).exists()
    assert (NOTEBOOKS / scope["ledger_path"]).exists()
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert sum(c.cell_type == "code" for c in nb.cells) <= 10


def test_reconcile_notebook_runs_under_papermill(tables, tmp_path, write_tables, tracking_uri):
    from mlflow import MlflowClient

    bank_path, ledger_path = write_tables(*tables[:2], tmp_path / "in", "csv")
    out = tmp_path / "out"
    done = execute(RECONCILE, tmp_path, {
        "bank_path": str(bank_path), "ledger_path": str(ledger_path), "out_dir": str(out),
        "device": "cpu", "amount_tolerance": 4.0, "track": True
    })
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        OUTPUT_FILES
    )
    res = nx.reconcile(read_table(bank_path, name="bank"), read_table(ledger_path, name="ledger"),
                       amount_tolerance=4.0, device="cpu")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "matches.parquet"), res.matches)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["amount_tolerance"] == 4.0
    assert summary["inputs"]["bank"]["name"] == "bank.csv"

    html = html_outputs(done)
    assert any("of the bank amount reconciled" in h for h in html)  # the rich result

    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name("nexus-reconcile").experiment_id]
    )
    assert len(runs) == 1 and runs[0].data.tags["nexus_lab.source"] == "notebook"
    assert runs[0].data.params["amount_tolerance"] == "4.0"
    assert not (NOTEBOOKS / "experiments").exists()


FRAUD = NOTEBOOKS / "02_fraud.ipynb"


def check_thin_and_parameterized(path: Path, names: tuple[str, ...] = ("data_path",)) -> None:
    """One parameters cell with ``names`` (its data_path, if any, exists), at most 10 code
    cells, no outputs kept, no classes and no function over 3 lines: logic is in the package."""
    import ast

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and sum(c.cell_type == "code" for c in nb.cells) <= 10
    scope: dict = {}
    exec(tagged[0].source, scope)
    assert set(names) <= set(scope), set(names) - set(scope)
    if "data_path" in names:
        assert (NOTEBOOKS / scope["data_path"]).exists()
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    for c in nb.cells:
        if c.cell_type == "code":
            for node in ast.walk(ast.parse(c.source)):
                assert not isinstance(node, ast.ClassDef)
                if isinstance(node, ast.FunctionDef):
                    assert node.end_lineno - node.lineno <= 2, node.name


def test_fraud_notebook_runs_under_papermill(tmp_path, tracking_uri):
    from mlflow import MlflowClient

    check_thin_and_parameterized(FRAUD)

    data = nx.data.synth_transactions(3_000, seed=4).rename(columns={"account": "card"})
    path = tmp_path / "tx.parquet"
    data.to_parquet(path, index=False)
    out = tmp_path / "out"
    done = execute(FRAUD, tmp_path, {
        "data_path": str(path), "out_dir": str(out), "device": "cpu",
        "columns": {"account": "card"}, "holdout": 0.25
    })
    scored = pd.read_parquet(out / "scored.parquet")
    assert len(scored) == 750
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["holdout_rows"] == 750
    html = html_outputs(done)
    assert any("Fraud risk" in h for h in html)  # the rich result
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("nexus-fraud").experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["nexus_lab.source"] == "notebook"
    assert not (NOTEBOOKS / "experiments").exists()


RECOMMEND = NOTEBOOKS / "03_recommend.ipynb"


def test_recommend_notebook_runs_under_papermill(tmp_path, tracking_uri):
    from mlflow import MlflowClient

    check_thin_and_parameterized(RECOMMEND)

    data = nx.data.synth_interactions(200, 80, seed=4).rename(columns={"user_id": "customer"})
    path = tmp_path / "interactions.parquet"
    data.to_parquet(path, index=False)
    out = tmp_path / "out"
    done = execute(RECOMMEND, tmp_path, {
        "data_path": str(path), "out_dir": str(out), "device": "cpu",
        "columns": {"user_id": "customer"}, "model": "ease", "k": 5
    })
    recs = pd.read_parquet(out / "recommendations.parquet")
    assert recs.groupby("user_id").size().eq(5).all() and recs["user_id"].nunique() == 200
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "ease" and metrics["test_ndcg"] > 0
    html = html_outputs(done)
    assert any("newcomer" in h for h in html)  # the folded-in newcomer's list is shown
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("nexus-recommender").experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["nexus_lab.source"] == "notebook"


COMPRESS = NOTEBOOKS / "04_compress.ipynb"


def test_compress_notebook_runs_under_papermill(tmp_path):
    import re

    # it makes its own data, so there is no data_path to check
    check_thin_and_parameterized(COMPRESS, ("n_vectors", "dim", "bytes_per_vector", "n_rows",
                                            "seed", "device", "out_dir"))

    out = tmp_path / "out"
    done = execute(COMPRESS, tmp_path, {
        "n_vectors": 1500, "n_queries": 50, "dim": 32, "bytes_per_vector": 8, "n_rows": 3_000,
        "seed": 3, "device": "cpu", "out_dir": str(out)
    })
    blob = (out / "transactions.nxcf").read_bytes()
    pd.testing.assert_frame_equal(nx.compress.decompress_frame(blob),
                                  nx.data.synth_transactions(3_000, seed=3))

    html = html_outputs(done)
    assert any(all(s in h for s in ("ScalarInt8", "OPQ", "RQ", "recall@10")) for h in html)
    assert any("Parquet (zstd)" in h for h in html)
    text = text_outputs(done)
    found = re.search(r"recall@10 ([\d.]+) on the codes, ([\d.]+) re-ranked", text)
    assert found, text
    on_codes, reranked = map(float, found.groups())
    assert 0 < on_codes <= reranked and reranked >= 0.9
    assert "largest error" in text


PROVENANCE = NOTEBOOKS / "05_provenance.ipynb"


def test_provenance_notebook_runs_under_papermill(tmp_path):
    import re

    check_thin_and_parameterized(PROVENANCE, ("n_rows", "n_bank", "seed", "password",
                                              "key_cost", "device", "out_dir"))

    out = tmp_path / "out"
    done = execute(PROVENANCE, tmp_path, {
        "n_rows": 1_500, "n_bank": 120, "seed": 2, "password": "test only", "key_cost": 10,
        "device": "cpu", "out_dir": str(out)
    })
    # everything is checked from the files the notebook left, with the examiner's public key
    examiner = nx.crypto.PublicKey.load(out / "examiner.nxpub")
    assert nx.crypto.load_keypair(out / "examiner.nxkey", password="test only").public == examiner

    log = nx.crypto.AuditLog(out / "audit.db")
    try:
        report = log.verify(examiner)
        entries = log.entries()
        checkpoint = log.checkpoints()[-1]
    finally:
        log.close()
    assert (report.entries, report.signed_upto, report.anchored) == (2, 2, 1)
    assert entries["action"].tolist() == ["reconciliation.approved", "fraud.flag_cleared"]
    assert entries["actor"].eq("examiner").all()
    assert checkpoint["anchor"]["root"] == checkpoint["root"].hex()  # its receipt, kept

    assert nx.crypto.verify(out / "findings.txt", (out / "findings.sig").read_bytes(), examiner)
    records = (out / "scored.jsonl").read_text().splitlines()
    assert len(records) >= 1_500 and all(json.loads(r)["transaction_id"] for r in records)
    assert nx.crypto.verify_batch(records, (out / "scored.nxbatch").read_bytes(), examiner)
    info = nx.crypto.sealed_info(out / "flagged.nxs")
    assert info["kind"] == "dataframe" and len(info["recipients"]) == 2
    assert examiner.fingerprint_hex not in info["recipients"]  # sealed for prosecutor and judge

    cases = nx.cases.verify(out / "cases", public=examiner)
    assert cases.ok and len(cases.items) == 2, cases.problems

    text = text_outputs(done)
    assert re.search(r"outsider refused: this sealed object is sealed for 2 other keys", text)
    assert "dilithium-py (FIPS 204) verifies: True" in text
    assert re.search(r"all [\d,]+ rows: True", text)
    assert re.search(r"audit log intact: 2 entries, \d+ signed checkpoints .*, 1 anchored", text)
    found = re.search(r"tampering detected at entry (\d+): entry \1 was altered", text)
    assert found and found.group(1) == "2", text


PROJECTS = NOTEBOOKS / "06_projects.ipynb"


def test_projects_notebook_runs_under_papermill(tmp_path):
    check_thin_and_parameterized(PROJECTS, ("projects_path", "milestones_path",
                                            "operations_path", "columns", "store_url",
                                            "as_of", "out_dir"))

    # the tables as files, with the milestones' money under another name
    projects, milestones, operations = nx.datasets.synth_projects(8, seed=5)
    milestones = milestones.rename(columns={"planned_amount": "Planned"})
    paths = {}
    for name, table in (("projects", projects), ("milestones", milestones),
                        ("operations", operations)):
        paths[f"{name}_path"] = str(tmp_path / f"{name}.csv")
        table.to_csv(paths[f"{name}_path"], index=False)
    out = tmp_path / "out"
    done = execute(PROJECTS, tmp_path, {**paths, "columns": {"planned_amount": "Planned"},
                                        "as_of": "2025-05-31", "out_dir": str(out)})
    res = nx.projects.variance(read_table(paths["milestones_path"], name="milestones"),
                               read_table(paths["operations_path"], name="operations"),
                               projects=read_table(paths["projects_path"], name="projects"),
                               as_of="2025-05-31", columns={"planned_amount": "Planned"})
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [f"{n}.{e}" for n in ("milestones", "projects", "burn") for e in ("csv", "parquet")]
        + ["summary.json", "burn.png"])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "milestones.parquet"), res.milestones,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "projects.parquet"), res.projects,
                                  check_dtype=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["as_of"] == "2025-05-31"
    assert summary["milestones_at_risk"] == int(res.milestones["at_risk"].sum()) > 0
    html = html_outputs(done)
    assert any("Project variance as of 2025-05-31" in h for h in html)  # the rich result
    assert any("risk_reason" in h for h in html)  # the at-risk milestones
    assert any("image/png" in o.get("data", {}) for c in done.cells
               for o in c.get("outputs", []))

    # from the system of record: the same tables ingested into a store
    store = nx.store.connect(tmp_path / "books.db")
    store.migrate()
    p, m, o = nx.datasets.synth_projects(8, seed=5)
    for table, frame in (("projects", p), ("project_milestones", m),
                         ("trading_operations", o)):
        store.ingest(table, frame)
    out = tmp_path / "from-store"
    execute(PROJECTS, tmp_path, {"store_url": f"sqlite:///{tmp_path / 'books.db'}",
                                 "as_of": "2025-05-31", "out_dir": str(out)})
    expected = nx.projects.variance(m, o, projects=p, as_of="2025-05-31").summary()
    assert json.loads((out / "summary.json").read_text()) == json.loads(
        json.dumps(expected))

    # without files it generates the tables
    out = tmp_path / "generated"
    execute(PROJECTS, tmp_path, {"n_projects": 6, "seed": 1, "out_dir": str(out)})
    p, m, o = nx.datasets.synth_projects(6, seed=1)
    expected = nx.projects.variance(m, o, projects=p).summary()
    assert json.loads((out / "summary.json").read_text()) == json.loads(
        json.dumps(expected))


RECORDS = NOTEBOOKS / "07_records.ipynb"


def test_records_notebook_runs_on_both_engines(store_url, tmp_path):
    check_thin_and_parameterized(RECORDS, ("store_url", "bank_path", "ledger_path", "account",
                                           "examiner", "judge", "device", "out_dir"))
    done = execute(RECORDS, tmp_path, {"store_url": store_url, "device": "cpu",
                                       "out_dir": str(tmp_path / "out")})
    text = text_outputs(done)
    assert "refused: jo (judge) may not reconciliation.approve" in text
    store = nx.store.connect(store_url)
    run = store.read("reconciliation_runs").iloc[0]
    assert (run["status"], run["approved_by"]) == ("approved", "ana")
    bank = read_table(NOTEBOOKS.parent / "data" / "bank.csv", name="bank")
    assert len(store.read("bank_statements")) == len(bank)  # ingested twice, kept once
    resolved = store.read("open_items", where={"status": "resolved"})
    assert len(resolved) > 0 and set(resolved["resolution"]) == {"timing"}
    trail = store.read("audit_logs", order_by="id")
    assert trail.loc[trail["outcome"] == "refused", "user_id"].tolist() == ["jo"]
    assert any("of the bank amount reconciled" in h for h in html_outputs(done))


EXAMINE = NOTEBOOKS / "07_examine.ipynb"


def test_examine_notebook_records_the_battery_and_signs_the_workpaper(tmp_path, monkeypatch):
    check_thin_and_parameterized(EXAMINE, ("data_path", "period_end", "columns", "tests",
                                           "events_path", "store_url", "sign", "out_dir"))
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "workbench key password")
    monkeypatch.setenv("NEXUS_LAB_SIGNING_KEY", str(tmp_path / "keys" / "workbench.nxkey"))
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "aud")
    gl = nx.datasets.synth_general_ledger(2_500, profile="services", seed=5)[0]
    gl = gl.rename(columns={"entry_id": "JE Number", "amount": "Amount"})
    path = tmp_path / "gl.parquet"
    gl.to_parquet(path, index=False)
    url = f"sqlite:///{tmp_path / 'books.db'}"
    out = tmp_path / "out"
    done = execute(EXAMINE, tmp_path, {
        "data_path": str(path), "period_end": "2025-06-30", "tests": "benford,gaps,summarize",
        "columns": {"entry_id": "JE Number", "amount": "Amount"}, "events_path": None,
        "store_url": url, "out_dir": str(out)})
    summary = json.loads((out / "summary.json").read_text())
    assert summary["period_end"] == "2025-06-30" and summary["created_by"] == "aud"
    assert set(summary["records"]) == {*(f"benford_{t}" for t in nx.examine.BENFORD_TESTS),
                                       "gaps", "summarize"}
    store = nx.store.connect(url)
    rows = store.read("examinations")
    assert sorted(rows["examination_id"]) == sorted(summary["records"].values())
    assert set(rows["data_source"]) == {str(path)}
    assert rows.set_index("name").loc["summarize", "params"]["columns"] == {
        "account": "account", "amount": "Amount"}
    assert len(store.read("reports", where={"kind": "examination"})) == 2
    store.close()
    for name in ("workpaper.html", "workpaper.xlsx"):
        key = nx.crypto.PublicKey.load(next(out.glob("*.nxpub")))
        assert nx.crypto.verify(out / name, (out / f"{name}.sig").read_bytes(), key)
    html = html_outputs(done)
    assert any("Audit battery" in h for h in html)  # the battery's rich view
    assert sum("<svg" in h for h in html) >= len(summary["records"]) - 1  # each test's plot
    text = text_outputs(done)
    assert "verified: True" in text and "reproduced: benford_first" in text


def test_scale_notebook_reconciles_on_a_local_cluster_as_one_machine(tmp_path):
    """11_scale on the bundled sample: the result says where it ran, with the dashboard,
    and equals the single-machine reconciliation (the notebook checks it)."""
    nb = execute(NOTEBOOKS / "11_scale.ipynb", tmp_path, {"workers": 2})
    html = "".join(html_outputs(nb))
    assert "Computed on Dask: 2 workers" in html and "Dask dashboard" in html
    text = text_outputs(nb)
    assert "Dask dashboard: http" in text
    assert "equal to one machine:" in text
