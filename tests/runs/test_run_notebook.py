"""A notebook run now: papermill with parameters, its outputs kept, the run recorded."""

from __future__ import annotations

import nbformat
import pytest

import nexus_lab as nx
from nexus_lab import auth, runs
from nexus_lab.cli import main
from nexus_lab.errors import NexusError, PermissionDenied
from tests.runs._notebooks import write_notebook


def test_run_keeps_the_notebook_and_its_html_and_records_the_run(root, store, tmp_path):
    out = tmp_path / "out"
    run = runs.run_notebook(root / "nbs" / "interest.ipynb",
                            {"rate": 0.2, "principal": 300, "label": "fee"},
                            out=out, store=store)
    assert run.status == "succeeded" and run.failing_cell is None
    assert run.output_notebook == out / "interest.ipynb"
    assert run.output_html == out / "interest.html"
    executed = nbformat.read(run.output_notebook, as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "fee: 20% of 300 is 60" in printed
    html = run.output_html.read_text()
    assert "fee: 20% of 300 is 60" in html  # the outputs...
    assert html.count('class="jp-Cell jp-CodeCell') == 4  # ...and the inputs: the full notebook
    assert "interest.txt" in html
    # it ran in its own folder, and the parameters kept their types
    assert (root / "nbs" / "interest.txt").read_text() == "int fee"
    assert sorted(p.name for p in out.iterdir()) == ["interest.html", "interest.ipynb"]

    rows = runs.list_runs(store)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["run_id"] == run.run_id and row["status"] == "succeeded"
    assert row["parameters"] == {"rate": 0.2, "principal": 300, "label": "fee"}
    assert row["output_notebook"] == str(run.output_notebook)
    assert row["output_html"] == str(run.output_html)
    assert row["notebook"] == str(root / "nbs" / "interest.ipynb")
    assert row["duration_s"] > 0 and row["finished_at"] >= row["started_at"]
    assert row["created_by"] == auth.current_user() and row["schedule_id"] is None
    trail = store.read("audit_logs", order_by="id")
    assert trail["action"].tolist() == ["notebook.run_started", "notebook.run_succeeded"]
    assert set(trail["resource_id"]) == {f"notebook_runs/{run.run_id}"}


def test_a_failure_is_recorded_with_its_cell_and_the_partial_notebook_kept(root, store,
                                                                          tmp_path):
    out = tmp_path / "out"
    with pytest.raises(runs.NotebookRunError) as caught:
        runs.run_notebook(root / "nbs" / "failing.ipynb", {"fail": True}, out=out,
                          store=store)
    err = caught.value
    assert isinstance(err, NexusError)
    assert err.cell == 3 and err.source.startswith("if fail:")  # markdown, parameters, 2 cells
    assert err.error == "ValueError: the books do not balance"
    assert "in cell 3 of failing.ipynb (counted from 0), which begins `if fail:`" in str(err)
    assert str(out / "failing.ipynb") in str(err)

    kept = nbformat.read(out / "failing.ipynb", as_version=4)
    failing = [c for c in kept.cells if c.metadata.get("papermill", {}).get("exception")]
    assert [o["ename"] for o in failing[0].outputs if o["output_type"] == "error"] == [
        "ValueError"]
    assert "the books do not balance" in (out / "failing.html").read_text()

    row = runs.list_runs(store).iloc[0]
    assert row["status"] == "failed" and row["run_id"] == err.run_id
    assert row["failing_cell"] == 3 and row["failing_source"].startswith("if fail:\n    raise")
    assert row["error"] == "ValueError: the books do not balance"
    assert row["output_notebook"] == str(out / "failing.ipynb")
    assert store.read("audit_logs", order_by="id")["action"].tolist() == [
        "notebook.run_started", "notebook.run_failed"]


def test_a_cell_past_the_timeout_fails_the_run_at_that_cell(tmp_path, store):
    slow = write_notebook(tmp_path / "slow.ipynb", "seconds = 30",
                          "import time", "time.sleep(seconds)")
    with pytest.raises(runs.NotebookRunError) as caught:
        runs.run_notebook(slow, out=tmp_path / "out", store=store, timeout=1)
    assert caught.value.cell == 3 and caught.value.source == "time.sleep(seconds)"
    assert "Timeout" in caught.value.error
    assert runs.list_runs(store)["status"].tolist() == ["failed"]


def test_unknown_parameters_are_refused_with_the_known_ones_and_nothing_runs(root, store,
                                                                           tmp_path):
    with pytest.raises(NexusError, match=r"interest.ipynb has no parameter 'rates' \(did you "
                       r"mean 'rate'\?\); its parameters: rate, principal, label"):
        runs.run_notebook(root / "nbs" / "interest.ipynb", {"rates": 1}, store=store,
                          out=tmp_path / "out")
    bare = write_notebook(tmp_path / "bare.ipynb", "", "x = 1")
    nb = nbformat.read(bare, as_version=4)
    nb.cells[1].metadata["tags"] = []
    nbformat.write(nb, bare)
    with pytest.raises(NexusError, match=r"bare\.ipynb has no parameters cell"):
        runs.run_notebook(bare, {"x": 2}, store=store)
    with pytest.raises(NexusError, match="no notebook at"):
        runs.run_notebook(tmp_path / "missing.ipynb", store=store)
    assert runs.list_runs(store).empty and not (tmp_path / "out").exists()


def test_outputs_are_never_overwritten(root, store, tmp_path):
    out = tmp_path / "out"
    runs.run_notebook(root / "nbs" / "interest.ipynb", out=out, store=store)
    before = (out / "interest.ipynb").read_bytes()
    with pytest.raises(NexusError, match="exists; give another output folder"):
        runs.run_notebook(root / "nbs" / "interest.ipynb", out=out, store=store)
    assert (out / "interest.ipynb").read_bytes() == before and len(runs.list_runs(store)) == 1


def test_the_default_output_folder_is_runs_run_id_in_the_data_folder(root, store):
    run = runs.run_notebook(root / "nbs" / "interest.ipynb", store=store)
    assert run.output_notebook == nx.config.data_folder() / "runs" / run.run_id / (
        "interest.ipynb")
    assert run.output_html.exists()


def test_running_needs_schedules_run(root, store, tmp_path):
    with auth.acting_as("lead"):
        auth.add_user("lead", role="admin", store=store)
        auth.add_user("ana", role="examiner", store=store)
        auth.add_user("jo", role="judge", store=store)
    with auth.acting_as("jo"), pytest.raises(PermissionDenied, match=r"jo \(judge\) may not "
                                             r"schedules\.run"):
        runs.run_notebook(root / "nbs" / "interest.ipynb", store=store, out=tmp_path / "jo")
    assert not (tmp_path / "jo").exists()
    with auth.acting_as("ana"):
        run = runs.run_notebook(root / "nbs" / "interest.ipynb", store=store,
                                out=tmp_path / "ana")
    assert run.created_by == "ana"
    refused = store.read("audit_logs", where={"outcome": "refused"})
    assert refused["user_id"].tolist() == ["jo"]


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("-2", -2), ("0.25", 0.25), ("1e3", 1000.0), ("True", True), ("False", False),
    ("None", None), ("fraud", "fraud"), ("2025-Q1", "2025-Q1"), ("[1, 2]", [1, 2]),
    ('{"account": "card"}', {"account": "card"}), ("'quoted'", "quoted"), ('"007"', "007"),
    ("[not a list", "[not a list"), ("", ""),
])
def test_parameters_are_read_as_papermills_p_reads_them(text, value):
    assert runs.parse_parameter(text) == value
    assert type(runs.parse_parameter(text)) is type(value)


def test_cli_run_prints_the_outputs_and_exits_2_naming_the_failing_cell(root, tmp_path,
                                                                        capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code = main(["run", str(root / "nbs" / "interest.ipynb"), "-p", "rate", "0.5", "-p",
                 "principal", "80", "-p", "label", "tax", "--out", str(tmp_path / "a"),
                 "--store", url])
    shown = capsys.readouterr()
    assert code == 0, shown.err
    assert shown.out.startswith("succeeded in ")
    assert f"notebook: {tmp_path / 'a' / 'interest.ipynb'}" in shown.out
    assert f"html:     {tmp_path / 'a' / 'interest.html'}" in shown.out
    assert (root / "nbs" / "interest.txt").read_text() == "int tax"  # 80 became a number

    code = main(["run", str(root / "nbs" / "failing.ipynb"), "--out", str(tmp_path / "b"),
                 "--store", url])
    shown = capsys.readouterr()
    assert code == 2
    assert shown.err.startswith("error: ")
    assert "failed in cell 3 of failing.ipynb" in shown.err
    assert "ValueError: the books do not balance" in shown.err
    assert str(tmp_path / "b" / "failing.ipynb") in shown.err

    code = main(["run", str(root / "nbs" / "interest.ipynb"), "-p", "rte", "1", "--store",
                 url])
    assert code == 2 and "its parameters: rate, principal, label" in capsys.readouterr().err
    code = main(["run", str(root / "nbs" / "interest.ipynb"), "-p", "rate", "1", "-p", "rate",
                 "2", "--store", url])
    assert code == 2 and "-p rate is given twice" in capsys.readouterr().err
    recorded = nx.store.connect(url).read("notebook_runs", order_by="started_at")
    assert recorded["status"].tolist() == ["succeeded", "failed"]
    assert recorded["parameters"].iloc[0] == {"rate": 0.5, "principal": 80, "label": "tax"}
