"""The launcher: every card's template becomes a new notebook whose first run uses the
form's values, and runs; what a form may not send is refused; a store's table opens as a
notebook; the wheel carries the templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth, config, workflows
from nexus_lab.errors import NexusError
from nexus_lab.jupyter._launch import WORKFLOWS, create_notebook, launchers, table_notebook
from tests.notebooks.test_notebooks import (
    NOTEBOOKS,
    check_thin_and_parameterized,
    html_outputs,
    text_outputs,
)

ROOT = NOTEBOOKS.parent


@pytest.fixture
def lab(tmp_path, tables) -> Path:
    """The Jupyter server's root: small sample files in data/, a folder work/."""
    root = tmp_path / "lab"
    (root / "data").mkdir(parents=True)
    (root / "work").mkdir()
    bank, ledger, _ = tables
    bank.to_csv(root / "data" / "bank.csv", index=False)
    ledger.to_csv(root / "data" / "ledger.csv", index=False)
    nx.datasets.synth_transactions(1200, seed=2, days=45).to_csv(
        root / "data" / "transactions.csv", index=False)
    gl, _, _ = nx.datasets.synth_general_ledger(2_000, profile="misstated", seed=3)
    gl.to_csv(root / "data" / "gl.csv", index=False)
    nx.datasets.synth_erp_events(1_500, seed=3)[0].to_csv(root / "data" / "erp_events.csv",
                                                          index=False)
    return root


def execute(root: Path, path: str) -> nbformat.NotebookNode:
    """Run the notebook at ``root/path`` as it is (no parameters given: the injected ones
    stay), from its own folder, as its first run in Jupyter would; the executed notebook."""
    import papermill as pm

    notebook = root / path
    executed = root.parent / f"{notebook.stem} (executed).ipynb"
    pm.execute_notebook(str(notebook), str(executed), kernel_name="python3",
                        cwd=str(notebook.parent), progress_bar=False)
    return nbformat.read(executed, as_version=4)


def injected(root: Path, path: str) -> dict:
    """The values of the notebook's injected-parameters cell (it follows the template's)."""
    nb = nbformat.read(root / path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    assert "parameters" in tags[at - 1]
    scope: dict = {}
    exec(nb.cells[at].source, scope)
    return {k: v for k, v in scope.items() if not k.startswith("__")}


def _store(url: str, *, people: dict[str, str] | None = None):
    store = nx.store.connect(url)
    store.migrate()
    if people:
        auth.add_user("lead", role="admin", store=store)
        with auth.acting_as("lead"):
            for user, role in people.items():
                auth.add_user(user, role=role, store=store)
    return store


# ---- the cards ----------------------------------------------------------------------------

def test_cards_follow_the_rest_contract():
    cards = json.loads(json.dumps(launchers()))["workflows"]  # JSON as the server sends it
    assert [c["name"] for c in cards] == [w.name for w in WORKFLOWS]
    assert len({c["name"] for c in cards}) == len(cards)
    titles = {c["title"] for c in cards}
    assert {"Reconcile a statement", "Fraud review", "Build a case", "Audit analytics",
            "Fraud signals"} <= titles
    for card in cards:
        assert set(card) == {"name", "title", "description", "category", "parameters"}
        assert all(isinstance(card[k], str) and card[k] for k in set(card) - {"parameters"})
        for p in card["parameters"]:
            assert set(p) == {"name", "label", "kind", "default", "choices"}
            assert p["kind"] in ("text", "path", "number", "date", "choice")
            if p["kind"] == "choice":
                assert p["default"] in p["choices"]
            else:
                assert p["choices"] is None


def test_cards_name_their_templates_variables():
    for card in WORKFLOWS:
        names = tuple(p.name for p in card.parameters)
        check_thin_and_parameterized(NOTEBOOKS / card.template, names)
        for p in card.parameters:  # in a checkout, the defaults are the repository's files
            if p.must_exist and p.default:
                assert (ROOT / p.default).is_file(), (card.name, p.name)


def test_report_choices_are_the_services():
    from nexus_lab.reports import REPORT_FORMATS, REPORT_KINDS

    report = {p.name: p for p in next(w for w in WORKFLOWS if w.name == "report").parameters}
    assert report["kind"].choices == tuple(REPORT_KINDS)
    assert report["fmt"].choices == tuple(REPORT_FORMATS)
    assert report["role"].choices == auth.ROLES


# ---- every card's notebook runs, with the form's values ----------------------------------

def _reconcile(lab, tracking_uri, monkeypatch):
    params = {"bank_path": "data/bank.csv", "ledger_path": "data/ledger.csv",
              "amount_tolerance": "4", "date_window": 5, "device": "cpu"}

    def check(path, done):
        from mlflow import MlflowClient

        assert injected(lab, path)["bank_path"] == "../data/bank.csv"
        summary = json.loads((lab / "work" / "out" / "reconcile" / "summary.json").read_text())
        assert (summary["params"]["amount_tolerance"], summary["params"]["date_window"]) == (
            4.0, 5)
        assert any("of the bank amount reconciled" in h for h in html_outputs(done))
        client = MlflowClient(tracking_uri=tracking_uri)
        runs = client.search_runs([client.get_experiment_by_name("nexus-reconcile")
                                   .experiment_id])
        assert [r.data.tags["nexus_lab.source"] for r in runs] == ["notebook"]

    return {**params, "out_dir": "work/out/reconcile"}, check


def _fraud(lab, tracking_uri, monkeypatch):
    rows = len(pd.read_csv(lab / "data" / "transactions.csv"))

    def check(path, done):
        assert injected(lab, path)["label_column"] is None  # left empty: learn without labels
        summary = json.loads((lab / "out" / "fraud" / "summary.json").read_text())
        held = summary["metrics"]["holdout_rows"]
        assert held == len(pd.read_parquet(lab / "out" / "fraud" / "scored.parquet"))
        assert abs(held - 0.25 * rows) <= 3  # the form's holdout, not the template's 0.2
        assert any("Fraud risk" in h for h in html_outputs(done))

    return {"data_path": "data/transactions.csv", "label_column": "", "holdout": 0.25,
            "device": "cpu"}, check


def _case(lab, tracking_uri, monkeypatch):
    url = f"sqlite:///{lab.parent / 'books.db'}"
    _store(url, people={"ana": "examiner"}).close()
    monkeypatch.setenv("NEXUS_LAB_STORE", url)  # the kernel inherits the server's settings
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "ana")
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "evidence room password")
    monkeypatch.setenv("NEXUS_LAB_CASES", str(lab.parent / "cases"))
    monkeypatch.setenv("NEXUS_LAB_CASES_KEY", str(lab.parent / "evidence-room.nxkey"))

    def check(path, done):
        store = nx.store.connect(url)
        cases = store.read("cases")
        assert cases["title"].tolist() == ["Vendor pattern"]
        escalated = store.read("fraud_scores", where={"review_state": "escalated"})
        assert len(escalated) == 2 and set(escalated["reviewed_by"]) == {"ana"}
        assert set(escalated["review_note"]) == {"same vendor, odd hours"}
        assert (escalated["risk_score"] >= 50).all()
        assert f"case {cases['case_id'].iloc[0]}: PASS" in text_outputs(done)
        store.close()

    return {"data_path": "data/transactions.csv", "min_risk": 50, "max_items": 2,
            "title": "Vendor pattern", "note": "same vendor, odd hours", "device": "cpu"}, check


def _examine(lab, tracking_uri, monkeypatch):
    url = f"sqlite:///{lab.parent / 'books.db'}"
    _store(url, people={"aud": "auditor"}).close()
    monkeypatch.setenv("NEXUS_LAB_STORE", url)  # the kernel inherits the server's settings
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "aud")
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "workbench key password")
    monkeypatch.setenv("NEXUS_LAB_SIGNING_KEY", str(lab.parent / "workbench.nxkey"))

    def check(path, done):
        values = injected(lab, path)
        assert (values["data_path"], values["events_path"]) == ("data/gl.csv", None)
        assert values["tests"] == "benford,gaps,journal_entries"
        out = lab / "out" / "examine"
        summary = json.loads((out / "summary.json").read_text())
        assert summary["period_end"] == "2025-09-30" and summary["created_by"] == "aud"
        assert set(summary["records"]) == {*(f"benford_{t}" for t in nx.examine.BENFORD_TESTS),
                                           "gaps", "journal_entries"}
        store = nx.store.connect(url)
        rows = store.read("examinations")
        assert sorted(rows["examination_id"]) == sorted(summary["records"].values())
        assert set(rows["data_source"]) == {str(lab / "data" / "gl.csv")}
        assert len(store.read("reports", where={"kind": "examination"})) == 2
        store.close()
        assert any("Audit battery" in h for h in html_outputs(done))
        assert "verified: True" in text_outputs(done)
        assert "reproduced: " in text_outputs(done)

    return {"data_path": "data/gl.csv", "period_end": "2025-09-30",
            "tests": "benford,gaps,journal_entries", "events_path": ""}, check


def _signals(lab, tracking_uri, monkeypatch):
    tx = pd.read_csv(lab / "data" / "transactions.csv")

    def check(path, done):
        summary = json.loads((lab / "out" / "audit" / "summary.json").read_text())
        assert summary["rows"] == len(tx)
        assert summary["benford"]["amounts"] == int((tx["amount"].abs() >= 100).sum())
        benford = pd.read_csv(lab / "out" / "audit" / "benford.csv")
        assert benford["rows"].sum() == summary["benford"]["amounts"]
        assert "Benford: " in text_outputs(done)
        shown = [o for c in done.cells for o in c.get("outputs", [])
                 if "text/markdown" in o.get("data", {})]
        assert len(shown) == len(summary["per_flag"]) > 0  # one list per test that fired

    return {"data_path": "data/transactions.csv", "min_amount": 100, "show": 3,
            "device": "cpu"}, check


def _records(lab, tracking_uri, monkeypatch):
    def check(path, done):
        store = nx.store.connect(lab / "out" / "records" / "books.db")
        run = store.read("reconciliation_runs").iloc[0]
        assert (run["status"], run["approved_by"]) == ("approved", "ana")
        assert "refused: jo (judge) may not reconciliation.approve" in text_outputs(done)
        store.close()

    return {"bank_path": "data/bank.csv", "ledger_path": "data/ledger.csv",
            "device": "cpu"}, check


def _report(lab, tracking_uri, monkeypatch):
    url = f"sqlite:///{lab.parent / 'books.db'}"
    store = _store(url)  # no roles yet: any point of view
    bank, ledger, _ = nx.datasets.synth_reconciliation(150, seed=1)
    store.ingest("bank_statements", bank)
    store.ingest("expenses", ledger)
    workflows.reconcile_from_store(store, device="cpu")
    store.close()
    monkeypatch.setenv("NEXUS_LAB_STORE", url)
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "workbench key password")
    monkeypatch.setenv("NEXUS_LAB_SIGNING_KEY", str(lab.parent / "workbench.nxkey"))

    def check(path, done):
        filed = sorted(p.name for p in (lab / "reports").iterdir())
        report = next(n for n in filed if n.endswith(".html"))
        assert report.startswith("reconciliation-judge-") and f"{report}.sig" in filed
        assert "reconciliation report for the judge, html" in text_outputs(done)
        store = nx.store.connect(url)
        filed_row = store.read("reports").iloc[0]
        assert filed_row["kind"] == "reconciliation" and filed_row["path"].endswith(report)
        store.close()

    return {"kind": "reconciliation", "role": "judge", "fmt": "html", "out": "reports"}, check


def _projects(lab, tracking_uri, monkeypatch):
    def check(path, done):
        p, m, o = nx.datasets.synth_projects(20, seed=0)
        expected = nx.projects.variance(m, o, projects=p, as_of="2025-05-31",
                                        tolerance=0.1).summary()
        got = json.loads((lab / "out" / "projects" / "summary.json").read_text())
        assert got == json.loads(json.dumps(expected))

    return {"as_of": "2025-05-31", "tolerance": 0.1}, check


CARDS = {"reconcile": _reconcile, "fraud": _fraud, "case": _case, "audit": _examine,
         "signals": _signals,
         "records": _records, "report": _report, "projects": _projects}


def test_every_card_is_run_below():
    assert set(CARDS) == {w.name for w in WORKFLOWS}


@pytest.mark.parametrize("name", [w.name for w in WORKFLOWS])
def test_each_cards_notebook_runs_with_its_parameters(name, lab, tracking_uri, monkeypatch):
    params, check = CARDS[name](lab, tracking_uri, monkeypatch)
    folder = "work" if name == "reconcile" else ""
    path = create_notebook(name, params, root_dir=lab, folder=folder)
    title = next(w.title for w in WORKFLOWS if w.name == name)
    assert path == f"{folder}/{title} 1.ipynb".lstrip("/")
    check(path, execute(lab, path))


# ---- what is written ----------------------------------------------------------------------

def test_values_are_injected_after_the_templates_and_paths_follow_the_notebook(
        lab, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////somewhere/mlflow.db")
    (lab / "work" / "deep").mkdir()
    path = create_notebook("reconcile", {"amount_tolerance": 4, "date_window": "5",
                                         "device": "cpu", "out_dir": "out/march"},
                           root_dir=lab, folder="work/deep")
    assert path == "work/deep/Reconcile a statement 1.ipynb"
    values = injected(lab, path)
    assert values == {"bank_path": "../../data/bank.csv", "ledger_path": "../../data/ledger.csv",
                      "amount_tolerance": 4.0, "date_window": 5, "device": "cpu",
                      "out_dir": "../../out/march"}
    assert isinstance(values["date_window"], int)
    nb = nbformat.read(lab / path, as_version=4)
    assert nb.metadata["nexus_lab"] == {"workflow": "reconcile"}
    assert nb.metadata["papermill"]["parameters"] == values
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")

    # without MLFLOW_TRACKING_URI the kernel is told the server's tracking store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    path = create_notebook("reconcile", {}, root_dir=lab)
    assert injected(lab, path)["tracking_uri"] == config.tracking_uri()


def test_a_notebook_works_on_the_servers_store_and_tracking_store(lab, monkeypatch):
    # a server that serves stores of its own (c.NexusLab..., the demo's) other than those
    # its kernels would find by themselves
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////kernels/own/mlflow.db")
    monkeypatch.setenv("NEXUS_LAB_STORE", "sqlite:////kernels/own/books.db")
    server = {"store_url": "sqlite:////srv/lab/books.db",
              "tracking_uri": "sqlite:////srv/lab/mlflow.db"}
    case = injected(lab, create_notebook("case", {"data_path": ""}, root_dir=lab, **server))
    assert case["store_url"] == "sqlite:////srv/lab/books.db"
    report = injected(lab, create_notebook("report", {}, root_dir=lab, **server))
    assert report["store_url"] == "sqlite:////srv/lab/books.db"
    recon = injected(lab, create_notebook("reconcile", {}, root_dir=lab, **server))
    assert recon["tracking_uri"] == "sqlite:////srv/lab/mlflow.db"
    # a card whose store is a field of its form, or whose template means something else
    # by store_url, keeps its own
    assert "store_url" not in injected(lab, create_notebook("projects", {}, root_dir=lab,
                                                            **server))
    records = create_notebook("records", {}, root_dir=lab, **server)
    assert injected(lab, records)["store_url"] is None

    # the kernels' own stores are not written in
    same = {"store_url": "sqlite:////kernels/own/books.db",
            "tracking_uri": "sqlite:////kernels/own/mlflow.db"}
    assert set(injected(lab, create_notebook("case", {"data_path": ""}, root_dir=lab,
                                             **same))) == {
        "data_path", "fraud_run", "min_risk", "max_items", "title", "note", "device"}
    assert "tracking_uri" not in injected(lab, create_notebook("reconcile", {}, root_dir=lab,
                                                               **same))


def test_a_notebook_keeps_no_password_of_the_servers_stores(lab, monkeypatch):
    before = sorted(lab.rglob("*"))
    with pytest.raises(NexusError, match=r"the store's URL postgresql://ana:\*\*\*@db/books "
                                         r"holds a password.*set NEXUS_LAB_STORE") as err:
        create_notebook("report", {}, root_dir=lab,
                        store_url="postgresql://ana:s3cret-pw@db/books")
    assert "s3cret-pw" not in str(err.value)
    with pytest.raises(NexusError, match=r"the tracking store's URL .* holds a password.*"
                                         r"set MLFLOW_TRACKING_URI"):
        create_notebook("fraud", {}, root_dir=lab,
                        tracking_uri="postgresql://ml:s3cret-pw@db/mlflow")
    assert sorted(lab.rglob("*")) == before


def test_a_notebook_is_never_overwritten(lab):
    mine = lab / "Project variance 1.ipynb"
    mine.write_text("my own notebook")
    made = [create_notebook("projects", {}, root_dir=lab) for _ in range(2)]
    assert made == ["Project variance 2.ipynb", "Project variance 3.ipynb"]
    assert mine.read_text() == "my own notebook"
    assert not [p for p in lab.iterdir() if p.name.startswith(".")]  # no staging file left


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file next to the server's root, outside it."""
    path = tmp_path / "outside.csv"
    path.write_text("transaction_id,date,amount\nX1,2025-01-01,1.00\n")
    return path


BAD = [
    ("reconcile-all", {}, "", r"no workflow 'reconcile-all'; the workflows are reconcile, fraud"),
    ("reconcile", {"tolerance": 1}, "",
     r"'tolerance' is not a parameter of 'Reconcile a statement'; its parameters are "
     r"bank_path, ledger_path, amount_tolerance"),
    ("reconcile", ["bank_path"], "", r"parameters: give an object of parameter names"),
    ("reconcile", {"amount_tolerance": "five"}, "",
     r"amount_tolerance: 'five' is not a number; give one such as 5.0"),
    ("reconcile", {"amount_tolerance": True}, "", r"amount_tolerance: True is not a number"),
    ("reconcile", {"amount_tolerance": "nan"}, "", r"amount_tolerance: 'nan' is not a number"),
    ("reconcile", {"date_window": 2.5}, "",
     r"date_window: 2.5 is not a whole number; give one such as 7"),
    ("reconcile", {"device": "tpu"}, "",
     r"device: 'tpu' is not one of the choices; choose one of auto, cpu, cuda"),
    ("projects", {"as_of": "31/05/2025"}, "",
     r"as_of: '31/05/2025' is not a date; write it as YYYY-MM-DD"),
    ("case", {"note": 5}, "", r"note: give text, not int"),
    ("case", {"note": "  "}, "", r"note: a value is required \(Why they are escalated\)"),
    ("case", {"title": "Q1 \udcff"}, "",  # a lone surrogate: JSON may send one
     r"title: 'Q1 \\udcff' is not text \(a lone surrogate\); give it as text"),
    ("reconcile", {"bank_path": "data/\ud800.csv"}, "", r"bank_path: .* is not text"),
    ("reconcile", {"bank_path": "../outside.csv"}, "",
     r"bank_path: '../outside.csv' is outside the server's root; give a path under it"),
    ("reconcile", {"ledger_path": "OUTSIDE"}, "", r"ledger_path: '.*outside.csv' is outside"),
    ("reconcile", {"bank_path": "data/link.csv"}, "",
     r"bank_path: 'data/link.csv' is outside the server's root"),
    ("reconcile", {"bank_path": "data/nope.csv"}, "",
     r"bank_path: there is no file 'data/nope.csv' under the server's root"),
    ("reconcile", {"bank_path": "data"}, "", r"bank_path: there is no file 'data'"),
    ("reconcile", {"out_dir": "../../elsewhere"}, "", r"out_dir: '../../elsewhere' is outside"),
    ("reconcile", {}, "../", r"folder: '../' is outside the server's root"),
    ("reconcile", {}, "nope", r"folder: there is no folder 'nope' under the server's root"),
    ("reconcile", {}, "work/\udcff", r"folder: .* is not text"),
]


@pytest.mark.parametrize(("workflow", "params", "folder", "message"), BAD,
                         ids=[f"{w}-{m[:30]}" for w, _, _, m in BAD])
def test_what_a_form_may_not_send_is_refused(workflow, params, folder, message, lab, outside):
    (lab / "data" / "link.csv").symlink_to(outside)  # inside by name, outside in fact
    if params == {"ledger_path": "OUTSIDE"}:
        params = {"ledger_path": str(outside)}
    before = sorted(lab.rglob("*"))
    with pytest.raises(NexusError, match=message):
        create_notebook(workflow, params, root_dir=lab, folder=folder)
    assert sorted(lab.rglob("*")) == before  # nothing written


def test_a_missing_sample_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(NexusError, match=r"data_path: there is no file 'data/transactions.csv'"
                                         r".*nexus-lab data sample --out data"):
        create_notebook("fraud", {}, root_dir=tmp_path)


# ---- a table of the store as a notebook ---------------------------------------------------

def test_table_notebook_loads_the_table_and_shows_its_rows(lab, tables, monkeypatch):
    url = f"sqlite:///{lab.parent / 'books.db'}"
    store = _store(url)
    bank = tables[0]
    store.ingest("bank_statements", bank)
    store.close()
    monkeypatch.delenv("NEXUS_LAB_STORE", raising=False)

    path = table_notebook("bank_statements", store_url=url, root_dir=lab, folder="work")
    assert path == "work/bank_statements 1.ipynb"
    nb = nbformat.read(lab / path, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert f"store_url = {url!r}" in params.source
    done = execute(lab, path)
    assert f"{len(bank):,} rows of bank_statements from " in text_outputs(done)
    shown = html_outputs(done)[-1]
    assert bank["transaction_id"].iloc[0] in shown and bank["transaction_id"].iloc[-1] in shown

    # the kernels' own store (NEXUS_LAB_STORE, which they inherit) is not written in
    monkeypatch.setenv("NEXUS_LAB_STORE", url)
    again = table_notebook("bank_statements", store_url=url, root_dir=lab, folder="work")
    assert again == "work/bank_statements 2.ipynb"
    params = next(c for c in nbformat.read(lab / again, as_version=4).cells
                  if "parameters" in c.metadata.get("tags", []))
    assert "store_url = None" in params.source


def test_table_notebook_refuses_unknown_tables_and_passwords(lab, monkeypatch):
    url = f"sqlite:///{lab.parent / 'books.db'}"
    _store(url).close()
    with pytest.raises(NexusError, match=r"no table 'bank' in the store at .*; its tables: "
                                         r".*bank_statements"):
        table_notebook("bank", store_url=url, root_dir=lab)
    monkeypatch.delenv("NEXUS_LAB_STORE", raising=False)
    secret = "postgresql://ana:s3cret-pw@db.internal:5432/books"
    with pytest.raises(NexusError, match=r"holds a password, which a notebook must not keep: "
                                         r"set NEXUS_LAB_STORE") as err:
        table_notebook("bank_statements", store_url=secret, root_dir=lab)
    assert "s3cret-pw" not in str(err.value)
    with pytest.raises(NexusError, match=r"folder: '\.\./\.\.' is outside"):
        table_notebook("bank_statements", store_url=url, root_dir=lab, folder="../..")
    assert not list(lab.glob("*.ipynb"))


# ---- the wheel -----------------------------------------------------------------------------

def test_the_wheel_carries_the_templates_and_they_are_found_there(tmp_path):
    env = {**os.environ, "HATCH_BUILD_NO_HOOKS": "true"}  # the package only
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d",
                    str(tmp_path / "dist")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("nexus_lab-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for card in WORKFLOWS:
            assert f"nexus_lab/_notebooks/{card.template}" in names
        z.extractall(tmp_path / "site")
    (tmp_path / "lab").mkdir()
    code = ("from nexus_lab.jupyter._launch import _templates, create_notebook\n"
            "print(_templates())\n"
            f"print(create_notebook('projects', root_dir={str(tmp_path / 'lab')!r}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [str(tmp_path / "site" / "nexus_lab" / "_notebooks"),
                                          "Project variance 1.ipynb"]
