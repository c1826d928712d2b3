"""``%load_ext nexus_lab``: the ``%nexus`` and ``%%nexus`` magics in a real IPython shell, and
in a notebook run by papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nexus_lab as nx
from nexus_lab import workflows
from nexus_lab.errors import NexusError
from nexus_lab.files import read_table
from nexus_lab.jupyter._widget import ReviewWidget
from nexus_lab.reports import OUTPUT_FILES
from tests.notebooks.test_notebooks import html_outputs, text_outputs


@pytest.fixture(scope="module")
def shell():
    """IPython's shell, with the extension loaded through the package's own hook."""
    ip = InteractiveShell.instance()
    done = ip.run_cell("%load_ext nexus_lab")
    assert done.success
    return ip


@pytest.fixture
def files(tmp_path, tables) -> dict[str, Path]:
    """A bank statement (its amount column called Amt), a ledger and transactions."""
    bank, ledger, _ = tables
    paths = {"bank": tmp_path / "bank.csv", "ledger": tmp_path / "ledger.csv",
             "tx": tmp_path / "tx.csv"}
    bank.rename(columns={"amount": "Amt"}).to_csv(paths["bank"], index=False)
    ledger.to_csv(paths["ledger"], index=False)
    nx.datasets.synth_transactions(600, seed=5, days=30).rename(
        columns={"account": "card"}).to_csv(paths["tx"], index=False)
    return paths


def run(shell, cell: str):
    """Run ``cell``; what it returned (its error raised)."""
    done = shell.run_cell(cell)
    if not done.success:
        raise done.error_in_exec or done.error_before_exec
    return done.result


def html(shell, obj) -> str:
    data, _ = shell.display_formatter.format(obj)
    return data["text/html"]


def expected(files, **kwargs):
    bank = read_table(files["bank"], name="bank", columns={"amount": "Amt"})
    ledger = read_table(files["ledger"], name="ledger")
    return nx.reconcile(bank, ledger, columns={"bank": {"amount": "Amt"}}, device="cpu",
                        **kwargs)


def test_reconcile_line_magic_returns_and_keeps_the_rich_result(shell, files):
    res = run(shell, f"%nexus reconcile {files['bank']} {files['ledger']} --device cpu "
                     "--bank-columns amount=Amt --amount-tolerance 4 --date-window 5 "
                     "--as march")
    assert shell.user_ns["_nexus"] is res and shell.user_ns["march"] is res
    want = expected(files, amount_tolerance=4.0, date_window=5)
    pd.testing.assert_frame_equal(res.matches, want.matches)
    assert "of the bank amount reconciled" in html(shell, res)


def test_a_cell_of_name_value_lines_is_the_same_command(shell, files, tmp_path):
    out = tmp_path / "out"
    res = run(shell, f"""%%nexus reconcile
bank: {files['bank']}
ledger: {files['ledger']}
bank-columns: {{amount: Amt}}
amount_tolerance: 4
device: cpu
out: {out}
track: false
as: from_cell
""")
    assert shell.user_ns["from_cell"] is res is shell.user_ns["_nexus"]
    pd.testing.assert_frame_equal(res.matches, expected(files, amount_tolerance=4.0).matches)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        OUTPUT_FILES)


def test_fraud_magic_scores_every_row(shell, files):
    scored = run(shell, f"%nexus fraud {files['tx']} --columns account=card --device cpu")
    assert shell.user_ns["_nexus"] is scored
    assert len(scored) == len(pd.read_csv(files["tx"]))
    assert scored["risk_score"].between(0, 100).all()
    assert "Fraud risk" in html(shell, scored)


def test_review_magic_gives_the_widget(shell, tmp_path):
    store = nx.store.connect(tmp_path / "books.db")
    store.migrate()
    bank, ledger, _ = nx.datasets.synth_reconciliation(120, seed=2)
    store.ingest("bank_statements", bank)
    store.ingest("expenses", ledger)
    _, run_id = workflows.reconcile_from_store(store, device="cpu")
    widget = run(shell, f"%nexus review {run_id} --store sqlite:///{tmp_path / 'books.db'} "
                        "--user ana --page-size 4")
    assert isinstance(widget, ReviewWidget) and shell.user_ns["_nexus"] is widget
    assert (widget.user, len(widget.rows)) == ("ana", min(4, widget.total))


def test_help_lists_the_commands_and_their_options(shell, capsys):
    run(shell, "%nexus help")
    listing = capsys.readouterr().out
    assert all(f"  {c} " in listing for c in ("reconcile", "fraud", "review"))
    run(shell, "%nexus help fraud")
    assert "--model URI" in capsys.readouterr().out


@pytest.mark.parametrize(("cell", "message"), [
    ("%nexus reconcile bank.csv",
     r"(?s)usage: %nexus reconcile .*\n%nexus reconcile: the following arguments are required: "
     r"ledger"),
    ("%nexus reconcile a.csv b.csv --date-window soon",
     r"argument --date-window: invalid int value: 'soon'"),
    ("%nexus reconcile a.csv b.csv --device tpu", r"argument --device: invalid choice: 'tpu'"),
    ("%nexus reconcile a.csv b.csv --bank-columns amount",
     r"--bank-columns 'amount': write the column names as canonical=yours"),
    ("%nexus reconcile a.csv b.csv --as 2nd", r"--as '2nd': give a Python variable name"),
    ("%nexus recon a.csv", r"%nexus recon: no such command; the commands are reconcile, fraud, "
                           r"review and help"),
    ("%nexus help bogus", r"%nexus help bogus: no such command"),
    ("%%nexus reconcile\nbank: a.csv\ntolerance: 4\n",
     r"%%nexus reconcile: 'tolerance' is not one of its options; they are bank, ledger, "
     r"amount_tolerance"),
    ("%%nexus reconcile\njust some words\n", r"write one `name: value` per line of the cell"),
    ("%%nexus reconcile\nbank: [unclosed\n", r"the cell is not `name: value` lines"),
    ("%%nexus reconcile\nbank: a.csv\nledger: b.csv\ntrack: maybe\n",
     r"track is true or false, not 'maybe'"),
    ("%nexus reconcile 'my bank.csv ledger.csv",
     r"%nexus reconcile: No closing quotation in \"'my bank.csv ledger.csv\"; close the "
     r"quote"),
])
def test_bad_commands_get_a_usage_error(shell, cell, message):
    with pytest.raises(UsageError, match=message):
        run(shell, cell)


def test_bad_input_is_the_package_error(shell, files, tmp_path):
    with pytest.raises(NexusError, match=r"nope\.csv"):
        run(shell, f"%nexus reconcile {tmp_path / 'nope.csv'} {files['ledger']}")


def test_a_notebook_using_the_magics_runs_under_papermill(files, tmp_path):
    import papermill as pm

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (
        "%load_ext nexus_lab",
        "%nexus reconcile bank.csv ledger.csv --bank-columns amount=Amt --device cpu --as rec",
        "%%nexus fraud\ndata: tx.csv\ncolumns: {account: card}\ndevice: cpu",
        "print(type(rec).__name__, type(_nexus).__name__, len(_nexus))",
    )]
    source = tmp_path / "magics.ipynb"
    nbformat.write(nb, source)
    pm.execute_notebook(str(source), str(tmp_path / "done.ipynb"), kernel_name="python3",
                        cwd=str(tmp_path), progress_bar=False)
    done = nbformat.read(tmp_path / "done.ipynb", as_version=4)
    shown = html_outputs(done)
    assert any("of the bank amount reconciled" in h for h in shown)
    assert any("Fraud risk" in h for h in shown)
    rows = len(pd.read_csv(files["tx"]))
    assert f"ReconcileResult ScoredTransactions {rows}" in text_outputs(done)
