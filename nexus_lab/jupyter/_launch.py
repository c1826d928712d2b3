"""The launcher: workflow cards, and new notebooks made from their templates.

Each card (:data:`WORKFLOWS`) is one of the papermill-parameterized notebooks of the
repository's ``notebooks/`` folder (shipped in the wheel as ``nexus_lab/_notebooks``) and the
parameters a person may set in the launcher's form. :func:`create_notebook` checks what
the form sent against the card and writes a new notebook whose first run uses it:
papermill's ``injected-parameters`` cell follows the template's ``parameters`` cell, as in
a scheduled run. :func:`table_notebook` writes a notebook that loads one table of the
store.

Paths in a form are relative to the Jupyter server's root, and must stay under it; in the
notebook they are written relative to the notebook's own folder (where its kernel starts),
as the templates expect.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_lab import config
from nexus_lab.errors import NexusError

__all__ = ["DEVICES", "WORKFLOWS", "Parameter", "Workflow", "create_notebook", "launchers",
           "table_notebook"]

_KINDS = ("text", "path", "number", "date", "choice")
#: The devices a workflow runs on (``device=``).
DEVICES = ("auto", "cpu", "cuda")
# the report kinds, points of view and formats nexus_lab.reports.make_report takes
# (tests/jupyter/test_launch.py checks them against the service's own tuples)
_REPORT_KINDS = ("reconciliation", "fraud", "case", "executive", "audit_trail")
_ROLES = ("examiner", "prosecutor", "judge", "executive", "compliance_officer", "auditor",
          "admin")
_REPORT_FORMATS = ("html", "pdf", "xlsx", "csv")
_SAMPLE_HINT = "the sample data is written there by `nexus-lab data sample --out data`"


@dataclass(frozen=True)
class Parameter:
    """One field of a launcher card: a variable of the template's ``parameters`` cell.

    Attributes
    ----------
    name : str
        The variable's name in the template.
    label : str
        What the form calls it.
    kind : {"text", "path", "number", "date", "choice"}
        ``path``: relative to the server's root, under it; ``date``: ``YYYY-MM-DD``.
    default : object
        The form's initial value; an empty value (``""`` or None) means "not given".
    choices : tuple of str, optional
        The values a ``choice`` takes.
    required : bool, default True
        False: left empty, the notebook gets None (the template's "not given").
    integer : bool, default False
        A ``number`` that must be whole.
    must_exist : bool, default False
        A ``path`` naming a file that is read (an input), not a folder written to.
    """

    name: str
    label: str
    kind: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    required: bool = True
    integer: bool = False
    must_exist: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise NexusError(f"parameter {self.name}: kind {self.kind!r} is not one of "
                             f"{', '.join(_KINDS)}")
        if (self.kind == "choice") != bool(self.choices):
            raise NexusError(f"parameter {self.name}: a choice, and only a choice, has "
                             "choices")

    def to_dict(self) -> dict:
        """``{name, label, kind, default, choices}`` (``choices`` is None unless a choice)."""
        return {"name": self.name, "label": self.label, "kind": self.kind,
                "default": self.default,
                "choices": list(self.choices) if self.choices is not None else None}


@dataclass(frozen=True)
class Workflow:
    """A launcher card: a template notebook and the parameters its form sets.

    Attributes
    ----------
    name : str
        Its id (``"reconcile"``), as :func:`create_notebook` takes it.
    title : str
        The card's title; new notebooks are named after it.
    description, category : str
    template : str
        The template's file name in ``notebooks/``.
    parameters : tuple of Parameter
    store : bool, default False
        The template works on the system of record its ``store_url`` names (None: the
        kernel's own): a new notebook is given the server's.
    """

    name: str
    title: str
    description: str
    category: str
    template: str
    parameters: tuple[Parameter, ...] = field(default=())
    store: bool = False

    def to_dict(self) -> dict:
        """The card as ``/nexus/api/launchers`` sends it."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "category": self.category,
                "parameters": [p.to_dict() for p in self.parameters]}


def _device() -> Parameter:
    return Parameter("device", "Device", "choice", "auto", DEVICES)


def _out(folder: str) -> Parameter:
    return Parameter("out_dir", "Output folder", "path", folder)


def _transactions() -> Parameter:
    return _input("data_path", "Transactions (CSV, Parquet or Excel)", "data/transactions.csv")


def _input(name: str, label: str, default: str = "", *, required: bool = True) -> Parameter:
    return Parameter(name, label, "path", default, required=required, must_exist=True)


#: The launcher's cards, in the order it shows them.
WORKFLOWS: tuple[Workflow, ...] = (
    Workflow(
        "reconcile", "Reconcile a statement",
        "Match a bank statement against the ledger, explain every match and what is left "
        "open, and write the matches, open items and an HTML report; the run is logged to "
        "MLflow.",
        "Reconciliation", "01_reconcile.ipynb", (
            _input("bank_path", "Bank statement (CSV, Parquet, Excel, OFX, CAMT.053, MT940)",
                   "data/bank.csv"),
            _input("ledger_path", "Ledger (CSV, Parquet or Excel)", "data/ledger.csv"),
            Parameter("amount_tolerance", "Amount tolerance (currency units)", "number", 5.0),
            Parameter("date_window", "Date window (days)", "number", 7, integer=True),
            _device(), _out("out/reconcile"))),
    Workflow(
        "fraud", "Fraud review",
        "Train the fraud detector on the earlier transactions, score the latest ones 0-100 "
        "with the reasons for each flag, explain the riskiest, and register the model in "
        "MLflow (champion only when it beats the current one).",
        "Fraud", "02_fraud.ipynb", (
            _transactions(),
            Parameter("label_column", "Column of fraud labels (empty: learn without labels)",
                      "text", "is_fraud", required=False),
            Parameter("holdout", "Share of the latest rows held out (0 to 0.5)", "number",
                      0.2),
            _device(), _out("out/fraud"))),
    Workflow(
        "case", "Build a case",
        "Score transactions into the system of record (or take a fraud run kept there) and "
        "escalate the riskiest flags into one case: their rows are sealed and signed as "
        "evidence; the case's timeline and a check of its evidence follow.",
        "Cases", "09_case.ipynb", (
            _input("data_path", "Transactions to score (empty: a fraud run of the store)",
                   "data/transactions.csv", required=False),
            Parameter("fraud_run", "Fraud run of the store (empty: the latest)", "text", "",
                      required=False),
            Parameter("min_risk", "Escalate flags at this risk or more (0-100)", "number",
                      80.0),
            Parameter("max_items", "At most this many flags", "number", 3, integer=True),
            Parameter("title", "Case title (empty: from the first transaction)", "text", "",
                      required=False),
            Parameter("note", "Why they are escalated", "text",
                      "flagged transactions taken in for investigation"),
            _device()), store=True),
    Workflow(
        "audit", "Audit analytics",
        "Run the standard audit tests on a general ledger (Benford's digit tests, gaps in "
        "the entry numbers, exact and near duplicates, strata, ageing, totals per account, "
        "the journal-entry tests, segregation of duties), record each test in the store and "
        "write the signed workpaper (HTML and Excel) with every table.",
        "Audit", "07_examine.ipynb", (
            _input("data_path", "General ledger (CSV, Parquet or Excel)", "data/gl.csv"),
            Parameter("period_end", "Period end (empty: the ledger's latest date)", "date",
                      None, required=False),
            Parameter("tests", "Tests (all, or names separated by commas)", "text", "all"),
            _input("events_path", "ERP event log (empty: no segregation-of-duties test)",
                   "data/erp_events.csv", required=False),
            _out("out/examine")), store=True),
    Workflow(
        "signals", "Fraud signals",
        "Test the amounts' first digits against Benford's law, then every rule and "
        "statistic of the fraud detector (duplicates, thresholds, round amounts, velocity, "
        "off hours, new vendors, Benford per vendor and account, outliers), each with its "
        "rows and reasons.",
        "Audit", "10_audit.ipynb", (
            _transactions(),
            Parameter("min_amount", "Benford: amounts from", "number", 10.0),
            Parameter("show", "Rows listed per test", "number", 10, integer=True),
            _device(), _out("out/audit"))),
    Workflow(
        "records", "Ingest, reconcile and review the books",
        "Ingest a bank statement and the books into a store, reconcile them there and "
        "review the run: open items resolved, the period approved, each change checked "
        "against the actor's role and kept in the audit log.",
        "Records", "07_records.ipynb", (
            Parameter("store_url", "Store URL (empty: a new SQLite store in the output folder)",
                      "text", "", required=False),
            _input("bank_path", "Bank statement", "data/bank.csv"),
            _input("ledger_path", "Ledger", "data/ledger.csv"),
            Parameter("account", "Account (for files without an account column)", "text", "",
                      required=False),
            _device(), _out("out/records"))),
    Workflow(
        "report", "A signed report",
        "Render one report for one point of view from the system of record, sign it with "
        "the workbench's key and file it.",
        "Reports", "08_reports.ipynb", (
            Parameter("kind", "Report", "choice", "reconciliation", _REPORT_KINDS),
            Parameter("role", "Point of view", "choice", "examiner", _ROLES),
            Parameter("period", "Period (e.g. 2025-11, 2025-Q4, 2025; empty: all)", "text",
                      "", required=False),
            Parameter("fmt", "Format", "choice", "html", _REPORT_FORMATS),
            Parameter("out", "Folder the report is filed in", "path", "out/reports")),
        store=True),
    Workflow(
        "projects", "Project variance",
        "Compare each milestone's plan with what was booked on it, project the cost at "
        "completion, and list the milestones at risk and why (without files: generated "
        "projects).",
        "Projects", "06_projects.ipynb", (
            _input("projects_path", "Projects (empty: none)", required=False),
            _input("milestones_path", "Milestones (empty: generate the tables)",
                   required=False),
            _input("operations_path", "Operations (income and expense)", required=False),
            Parameter("as_of", "As of (empty: the latest operation)", "date", None,
                      required=False),
            Parameter("tolerance", "Share over plan that is not yet a risk", "number", 0.05),
            _out("out/projects"))),
)


def launchers() -> dict:
    """The launcher's cards, as ``GET /nexus/api/launchers`` answers.

    Returns
    -------
    dict
        ``{"workflows": [{name, title, description, category, parameters: [{name, label,
        kind, default, choices}]}]}``.

    Examples
    --------
    >>> cards = launchers()["workflows"]
    >>> cards[0]["title"], [p["name"] for p in cards[0]["parameters"]][:2]
    ('Reconcile a statement', ['bank_path', 'ledger_path'])
    """
    return {"workflows": [w.to_dict() for w in WORKFLOWS]}


def create_notebook(workflow: str, parameters: Mapping[str, Any] | None = None, *,
                    root_dir: str | os.PathLike[str], folder: str = "",
                    store_url: str | None = None, tracking_uri: str | None = None) -> str:
    """Write a new notebook from a workflow's template, its parameters filled in.

    Parameters
    ----------
    workflow : str
        A card's name (:data:`WORKFLOWS`: ``"reconcile"``, ``"fraud"``, ...).
    parameters : mapping, optional
        Values of the card's parameters; the others keep the card's defaults. Paths are
        relative to ``root_dir``.
    root_dir : str or path-like
        The Jupyter server's root: nothing is read or written outside it.
    folder : str, default ""
        Where the notebook goes, relative to ``root_dir`` (an existing folder).
    store_url : str, optional
        The system of record the Jupyter server serves, for the cards that work on one
        (``case``, ``report``). Default: the kernel's own (``NEXUS_LAB_STORE``...).
    tracking_uri : str, optional
        The MLflow tracking store the server lists the runs of. Default:
        :func:`nexus_lab.config.tracking_uri`.

    Returns
    -------
    str
        The new notebook's path relative to ``root_dir`` (``/``-separated), named after the
        card and numbered: ``Reconcile a statement 1.ipynb``, then ``... 2.ipynb``; an
        existing notebook is never overwritten. A store the kernel finds by itself
        (``NEXUS_LAB_STORE``, ``MLFLOW_TRACKING_URI``, which kernels inherit) is not
        written in.

    Raises
    ------
    NexusError
        An unknown workflow or parameter, a value of the wrong kind, a missing input file,
        a path outside ``root_dir``; the message names the parameter and the fix. A
        store's URL that holds a password, which a notebook must not keep.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> create_notebook("projects", {"tolerance": 0.1}, root_dir=root)
    'Project variance 1.ipynb'
    >>> create_notebook("projects", {"tolerance": "a lot"}, root_dir=root)
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: tolerance: 'a lot' is not a number; give one such as 0.05
    """
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    card = _workflow(workflow)
    root = _root(root_dir)
    where = _folder(root, folder)
    values = _values(card, parameters, root, where)
    template = _templates() / card.template
    nb = load_notebook_node(str(template))  # as papermill reads it: every cell has its tags
    names = _template_names(nb)
    if "tracking_uri" in names:  # else the kernel looks beside the template
        kept = _for_kernel(tracking_uri or config.tracking_uri(),
                           config.settings().tracking_uri, "tracking store",
                           "MLFLOW_TRACKING_URI")
        if kept is not None:
            values["tracking_uri"] = kept
    if card.store and "store_url" in names:
        kept = _for_kernel(store_url, config.store_url(), "store", "NEXUS_LAB_STORE")
        if kept is not None:
            values["store_url"] = kept
    nb = parameterize_notebook(nb, values)
    nb.metadata["nexus_lab"] = {"workflow": card.name}
    return _write_new(nb, where, card.title, root)


def table_notebook(table: str, *, store_url: str | None, root_dir: str | os.PathLike[str],
                   folder: str = "") -> str:
    """Write a new notebook that opens the store and loads one of its tables as a DataFrame.

    Parameters
    ----------
    table : str
        One of the store's tables (:meth:`nexus_lab.store.Store.tables`).
    store_url : str or None
        The store (None: :func:`nexus_lab.config.store_url`). The notebook keeps None when
        it is the kernel's default store too (``NEXUS_LAB_STORE``, which kernels inherit),
        so no URL is written into it; a URL holding a password is never written.
    root_dir : str or path-like
        The Jupyter server's root.
    folder : str, default ""
        Where the notebook goes, relative to ``root_dir``.

    Returns
    -------
    str
        The new notebook's path relative to ``root_dir``: ``<table> 1.ipynb``, then
        ``<table> 2.ipynb``...

    Raises
    ------
    NexusError
        An unknown table (the message lists the store's tables), a folder outside
        ``root_dir``, or a store URL with a password that is not the kernels' default.
    """
    import nbformat

    from nexus_lab.store import connect

    root = _root(root_dir)
    where = _folder(root, folder)
    url = str(store_url) if store_url else config.store_url()
    kept = _for_kernel(url, config.store_url(), "store", "NEXUS_LAB_STORE")
    with connect(url) as store:
        known = store.tables()["table"].tolist()
    if table not in known:
        raise NexusError(f"no table {table!r} in the store at {config.redact(url)}; its tables: "
                         f"{', '.join(known) or 'none (run nexus-lab store migrate)'}")
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python",
                                       "name": "python3"},
                        "language_info": {"name": "python"}, "nexus_lab": {"table": table}})
    params = nbformat.v4.new_code_cell(
        "# Parameters (papermill replaces this cell's values)\n"
        f"store_url = {kept!r}  # None: NEXUS_LAB_STORE, else nexus.db in the user's data "
        "folder\n"
        f"table = {table!r}\n"
        "limit = None  # at most this many rows; None: all of them")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# The store's table `{table}`\n\nRead through the store "
            "(`nexus_lab.store.connect(...).read`): dates as dates, money as integer cents "
            "(`amount_cents`), JSON as Python objects."),
        params,
        nbformat.v4.new_code_cell(
            "import nexus_lab as nx\n\n"
            "store = nx.store.connect(store_url)\n"
            "frame = store.read(table, limit=limit)\n"
            "print(f\"{len(frame):,} rows of {table} from {store.where}\")\n"
            "frame"),
    ]
    return _write_new(nb, where, table, root)


# ---- checking what a form sent ---------------------------------------------------------

def _workflow(name: Any) -> Workflow:
    for card in WORKFLOWS:
        if card.name == name:
            return card
    raise NexusError(f"no workflow {name!r}; the workflows are "
                     f"{', '.join(w.name for w in WORKFLOWS)}")


def _root(root_dir: str | os.PathLike[str]) -> Path:
    root = Path(root_dir).expanduser().resolve()
    if not root.is_dir():
        raise NexusError(f"the server's root {str(root)!r} is not a folder")
    return root


def _under(root: Path, value: str) -> Path | None:
    """``value`` (relative to ``root``, or absolute) resolved, or None when outside it."""
    path = (root / value).resolve()
    return path if path == root or path.is_relative_to(root) else None


def _folder(root: Path, folder: Any) -> Path:
    if folder is None:
        folder = ""
    if not isinstance(folder, str):
        raise NexusError(f"folder: give a folder's path relative to the server's root as "
                         f"text, not {type(folder).__name__}")
    where = _under(root, _text("folder", folder))
    if where is None:
        raise NexusError(f"folder: {folder!r} is outside the server's root; give a folder "
                         "under it, relative to it")
    if not where.is_dir():
        raise NexusError(f"folder: there is no folder {folder!r} under the server's root; "
                         "create it first, or give an existing one")
    return where


def _values(card: Workflow, given: Mapping[str, Any] | None, root: Path,
            where: Path) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise NexusError(f"parameters: give an object of parameter names and values, not "
                         f"{type(given).__name__}")
    names = [p.name for p in card.parameters]
    unknown = [k for k in given if k not in names]
    if unknown:
        raise NexusError(f"{unknown[0]!r} is not a parameter of {card.title!r}; its "
                         f"parameters are {', '.join(names)}")
    return {p.name: _value(p, given.get(p.name, p.default), root, where)
            for p in card.parameters}


def _value(p: Parameter, value: Any, root: Path, where: Path) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        if p.required:
            hint = f" ({_SAMPLE_HINT})" if p.must_exist and p.default else ""
            raise NexusError(f"{p.name}: a value is required ({p.label}); e.g. "
                             f"{p.default or _example(p)!r}{hint}")
        return None
    if p.kind == "number":
        return _number(p, value)
    if not isinstance(value, str):
        raise NexusError(f"{p.name}: give text, not {type(value).__name__} ({value!r})")
    value = _text(p.name, value).strip()
    if p.kind == "choice":
        if value not in (p.choices or ()):
            raise NexusError(f"{p.name}: {value!r} is not one of the choices; choose one of "
                             f"{', '.join(p.choices or ())}")
        return value
    if p.kind == "date":
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise NexusError(f"{p.name}: {value!r} is not a date; write it as YYYY-MM-DD, "
                             "e.g. 2025-06-30") from None
    if p.kind == "path":
        return _path(p, value, root, where)
    return value


def _text(name: str, value: str) -> str:
    """``value``, when it can be written as UTF-8 (JSON may send a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NexusError(f"{name}: {value!r} is not text (a lone surrogate); give it as "
                         "text") from None
    return value


def _example(p: Parameter) -> str:
    return {"path": "data/file.csv", "date": "2025-06-30"}.get(p.kind, "...")


def _number(p: Parameter, value: Any) -> int | float:
    kind = "a whole number" if p.integer else "a number"
    example = p.default if p.default is not None else 1
    if isinstance(value, bool):
        raise NexusError(f"{p.name}: {value!r} is not {kind}; give one such as {example}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise NexusError(f"{p.name}: {value!r} is not {kind}; give one such as "
                         f"{example}") from None
    if not math.isfinite(number) or (p.integer and not number.is_integer()):
        raise NexusError(f"{p.name}: {value!r} is not {kind}; give one such as {example}")
    return int(number) if p.integer else number


def _path(p: Parameter, value: str, root: Path, where: Path) -> str:
    path = _under(root, value)
    if path is None:
        raise NexusError(f"{p.name}: {value!r} is outside the server's root; give a path "
                         "under it, relative to it (e.g. data/bank.csv)")
    if p.must_exist and not path.is_file():
        hint = f"; {_SAMPLE_HINT}" if value == p.default else ""
        raise NexusError(f"{p.name}: there is no file {value!r} under the server's root; give "
                         f"the path of an existing file, relative to the root{hint}")
    return Path(os.path.relpath(path, where)).as_posix()


def _for_kernel(url: str | None, own: str | None, what: str, variable: str) -> str | None:
    """``url`` as a notebook keeps it: None when it is the kernel's ``own`` (what
    ``variable``, which kernels inherit, gives) or not given.

    Raises
    ------
    NexusError
        When ``url`` must be kept and holds a password.
    """
    if not url or url == own:
        return None
    if config.redact(url) != url:
        raise NexusError(f"the {what}'s URL {config.redact(url)} holds a password, which a "
                         f"notebook must not keep: set {variable} to it in the Jupyter "
                         "server's environment (its kernels inherit it)")
    return url


# ---- templates and new files -----------------------------------------------------------

def _templates() -> Path:
    """The templates' folder: ``nexus_lab/_notebooks`` of a wheel, else the checkout's
    ``notebooks/`` (an editable install, a clone)."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "_notebooks", package.parent / "notebooks"):
        if (folder / WORKFLOWS[0].template).is_file():
            return folder
    raise NexusError(f"the notebook templates are missing from {package}: reinstall "
                     "nexus-lab (its wheel carries them in nexus_lab/_notebooks)")


def _template_names(nb: Any) -> set[str]:
    """The variables the template's ``parameters`` cell assigns."""
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
    return set()


def _write_new(nb: Any, where: Path, stem: str, root: Path) -> str:
    """Write ``nb`` as ``<stem> <n>.ipynb`` in ``where`` with the first free ``n``: the
    bytes go to a hidden file first, linked under the new name only if no file has it."""
    import nbformat

    data = nbformat.writes(nb).encode()
    staging = where / f".{stem}.{uuid.uuid4().hex}.ipynb.tmp"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        n = 1
        while True:
            target = where / f"{stem} {n}.ipynb"
            try:
                os.link(staging, target)
            except FileExistsError:
                n += 1
                continue
            return target.relative_to(root).as_posix()
    finally:
        staging.unlink(missing_ok=True)
