"""One notebook run under papermill, and its record in the store's ``notebook_runs``."""

from __future__ import annotations

import ast
import contextlib
import difflib
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit, auth, config
from nexus_lab._html import badge, escape, kv
from nexus_lab.errors import DependencyError, NexusError
from nexus_lab.files import atomic_file, record_output
from nexus_lab.store import Store, connect

log = logging.getLogger("nexus_lab")

#: What a run's ``status`` can be.
STATUSES = ("running", "succeeded", "failed")
_HEAD_LINES, _HEAD_CHARS = 5, 400  # how much of a failing cell's source is kept


class NotebookRunError(NexusError):
    """A notebook run failed: the message names the cell that raised, the error and the
    output notebook kept for debugging.

    Attributes
    ----------
    run_id : str
        The run's row in ``notebook_runs``.
    cell : int or None
        The failing cell's index in the notebook as written (from 0), when known.
    source : str or None
        The first lines of that cell.
    error : str
        ``"ValueError: ..."``: the exception the cell raised.
    output_notebook : pathlib.Path or None
        The executed notebook as it was when the run stopped.
    """

    def __init__(self, message: str, *, run_id: str, cell: int | None = None,
                 source: str | None = None, error: str = "",
                 output_notebook: Path | None = None) -> None:
        super().__init__(message)
        self.run_id, self.cell, self.source = run_id, cell, source
        self.error, self.output_notebook = error, output_notebook


@dataclass(frozen=True)
class NotebookRun:
    """A notebook run as the store records it (see :func:`run_notebook`)."""

    run_id: str
    notebook: str
    parameters: dict = field(default_factory=dict)
    status: str = "running"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    output_notebook: Path | None = None
    output_html: Path | None = None
    error: str | None = None
    failing_cell: int | None = None
    failing_source: str | None = None
    created_by: str = ""
    schedule_id: str | None = None

    def summary(self) -> dict:
        """The run's fields as plain values (paths as text)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    def to_frame(self) -> pd.DataFrame:
        """The run as a one-row DataFrame, columns as in ``notebook_runs``."""
        return pd.DataFrame([self.summary()])

    def _repr_html_(self) -> str:
        shown = {k: v for k, v in self.summary().items()
                 if v not in (None, "", {}) and k != "status"}
        return (f"<div class='nexus-run'><h4>Notebook run {escape(self.run_id)} "
                f"{badge('ok' if self.status == 'succeeded' else self.status)}</h4>"
                f"{kv(shown)}</div>")


def parse_parameter(text: str) -> Any:
    """A parameter's value from the text given for it, as papermill's ``-p`` reads it.

    ``True``, ``False`` and ``None`` are those; a number is a number (``3``, ``0.25``);
    text that starts like a JSON or Python literal (``[``, ``{``, a quote) is read as one
    when it is one; anything else stays text. The schedules keep parameters as text, in
    this form (jupyter-scheduler's job parameters are text).

    Examples
    --------
    >>> [parse_parameter(t) for t in ("3", "0.25", "True", "None", "fraud", "[1, 2]",
    ...                                '"007"', "{'account': 'card'}")]
    [3, 0.25, True, None, 'fraud', [1, 2], '007', {'account': 'card'}]
    """
    if not isinstance(text, str):
        return text
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    if text[:1] in ("[", "{", '"', "'", "("):
        with contextlib.suppress(ValueError):
            return json.loads(text)
        with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError):
            return ast.literal_eval(text)
    return text


def parameter_text(name: str, value: Any) -> str:
    """``value`` as text that :func:`parse_parameter` reads back as ``value``."""
    if isinstance(value, str):
        return value if parse_parameter(value) == value else json.dumps(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            pass
    raise NexusError(f"parameter {name!r}: a value of type {type(value).__name__} cannot be "
                     "kept as text; give text, a number, True/False/None, or a list or dict "
                     "of those")


def _lab() -> Any:
    """papermill, or a DependencyError that says how to install it."""
    try:
        import nbconvert  # noqa: F401
        import papermill
    except ImportError as err:
        raise DependencyError(f"running notebooks needs papermill and nbconvert ({err.name} "
                              "is missing): pip install 'nexus-lab[lab]'") from None
    return papermill


def _read_notebook(path: Path) -> Any:
    import nbformat

    if not path.is_file():
        raise NexusError(f"no notebook at {str(path)!r}; check the path (the workflow "
                         "notebooks are in notebooks/)")
    if path.suffix != ".ipynb":
        raise NexusError(f"{str(path)!r} is not a notebook: give an .ipynb file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several kinds for a damaged file
        raise NexusError(f"{str(path)!r} cannot be read as a notebook ({err}); open it in "
                         "JupyterLab and save it again") from None
    if not nb.metadata.get("kernelspec", {}).get("name"):
        raise NexusError(f"{path.name} names no kernel: open it in JupyterLab, choose a kernel "
                         "(Kernel > Change Kernel) and save it")
    return nb


def check_parameters(notebook: str | os.PathLike[str], parameters: Mapping[str, Any]
                     ) -> dict[str, Any]:
    """The notebook's parameters (papermill's ``inspect_notebook``): refuses a name the
    notebook's ``parameters`` cell does not set, listing those it does.

    Returns
    -------
    dict
        ``{name: {"default": ..., "inferred_type_name": ..., "help": ...}}``.
    """
    pm = _lab()
    path = Path(notebook)
    _read_notebook(path)
    known = pm.inspect_notebook(str(path))
    unknown = [name for name in parameters if name not in known]
    if not unknown:
        return known
    bad = unknown[0]
    if not known:
        raise NexusError(f"{path.name} has no parameters cell, so it takes no parameter "
                         f"({bad!r} given); tag the cell that sets its defaults "
                         "'parameters' (JupyterLab: Property Inspector > Cell Tags)")
    close = difflib.get_close_matches(bad, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise NexusError(f"{path.name} has no parameter {bad!r}{hint}; its parameters: "
                     f"{', '.join(known)}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def execute_and_record(source: Path, parameters: Mapping[str, Any] | None, *, notebook: str,
                       out: Path, run_id: str, store: Store | str | None,
                       timeout: float | None = None, schedule_id: str | None = None,
                       cwd: Path | None = None, actor: str | None = None,
                       next_run: datetime | None = None) -> NotebookRun:
    """Execute ``source`` with ``parameters``, keep its outputs in ``out`` and record the run.

    ``notebook`` is what the record calls it; ``cwd`` the folder it runs in (default: its
    own); ``next_run`` the schedule's next run, kept with the schedule's last run.
    """
    pm = _lab()
    params = dict(parameters or {})
    nb = _read_notebook(source)
    check_parameters(source, params)
    s = connect(store)
    who = auth.require("schedules.run", store=s, user=actor, resource=f"notebooks/{notebook}")
    stem = Path(notebook).stem or source.stem
    out_nb, out_html = out / f"{stem}.ipynb", out / f"{stem}.html"
    for target in (out_nb, out_html):
        if os.path.lexists(target):
            raise NexusError(f"{str(target)!r} exists; give another output folder, or move it "
                             "away (outputs are never overwritten)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NexusError(f"cannot make the output folder {str(out)!r}: "
                         f"{err.strerror or err}") from None
    run = NotebookRun(run_id=run_id, notebook=notebook, parameters=params, status="running",
                      started_at=_now(), created_by=who, schedule_id=schedule_id)
    _record_start(s, run)
    log.info("running %s as %s (run %s)", notebook, who, run_id)
    clock = time.monotonic()
    executed = _execute(pm, source, nb, params, out_nb, run_id, cwd or source.parent, timeout)
    failure = executed.failure
    kept = executed.nb is not None  # not when stopped (Ctrl-C): nothing half-done is kept
    html = _render_html(executed.nb, out_html) if kept else None
    injected = bool(params) and not any("injected-parameters" in c.metadata.get("tags", [])
                                        for c in nb.cells)
    cell, cell_source = (_failing_cell(executed.nb, injected) if failure and kept
                         else (None, None))
    done = NotebookRun(**{**asdict(run), "status": "failed" if failure else "succeeded",
                          "finished_at": _now(), "duration_s": time.monotonic() - clock,
                          "output_notebook": out_nb if kept else None, "output_html": html,
                          "error": _error_text(failure) if failure else None,
                          "failing_cell": cell, "failing_source": cell_source})
    _record_end(s, done, next_run)
    if failure is None:
        log.info("%s succeeded in %.1f s: %s", notebook, done.duration_s, out_nb)
        return done
    if not isinstance(failure, Exception):
        raise failure
    raise failed(done) from failure


def failed(run: NotebookRun) -> NotebookRunError:
    """The error that says where ``run`` failed, and where its output notebook is."""
    name = Path(run.notebook).name
    source = run.failing_source or ""
    where = (f"in cell {run.failing_cell} of {name} (counted from 0), which begins "
             f"`{source.splitlines()[0] if source else ''}`" if run.failing_cell is not None
             else f"before a cell of {name} ran")
    return NotebookRunError(
        f"{run.notebook} failed {where}: {run.error}; the output notebook is kept as it was "
        f"when it failed, with the traceback: {run.output_notebook}", run_id=run.run_id,
        cell=run.failing_cell, source=run.failing_source, error=run.error or "",
        output_notebook=run.output_notebook)


@dataclass
class _Executed:
    nb: Any
    failure: BaseException | None


def _execute(pm: Any, source: Path, nb: Any, params: dict, target: Path, run_id: str,
             cwd: Path, timeout: float | None) -> _Executed:
    """papermill's run, into a temporary notebook beside ``target`` that is renamed onto it
    at the end, also when the run fails (the partial notebook is what one debugs), but not
    when it is stopped (Ctrl-C, SIGTERM)."""
    import nbformat

    tmp = target.with_name(f".{target.stem}.{run_id}.ipynb")
    failure = None
    try:
        pm.execute_notebook(str(source), str(tmp), parameters=params, cwd=str(cwd),
                            progress_bar=False, log_output=False, execution_timeout=timeout)
    except BaseException as err:  # Ctrl-C too: the record says how the run ended
        failure = err
    if failure is not None and not isinstance(failure, Exception):  # stopped
        tmp.unlink(missing_ok=True)
        return _Executed(None, failure)
    try:
        executed = nbformat.read(tmp, as_version=4) if tmp.exists() else nb
        if not tmp.exists():  # papermill stopped before it wrote anything
            nbformat.write(nb, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    record_output(target)
    return _Executed(executed, failure)


def _render_html(nb: Any, path: Path) -> Path | None:
    """The full notebook (inputs and outputs) as HTML, written atomically."""
    from nbconvert import HTMLExporter

    try:
        body, _ = HTMLExporter().from_notebook_node(nb)
        with atomic_file(path) as tmp:
            tmp.write_text(body, encoding="utf-8")
    except Exception as err:  # a rendering fault must not hide the run's own result
        log.warning("could not render %s as HTML: %s", path.name, err)
        return None
    return path


def _failing_cell(nb: Any, injected: bool) -> tuple[int | None, str | None]:
    """The failing cell's index in the notebook as written (papermill's error banners and
    its injected-parameters cell left out) and the head of its source."""
    def written(cells: list) -> list:
        return [c for c in cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
                and not (injected and "injected-parameters" in c.metadata.get("tags", []))]

    def meta(cell: Any) -> dict:
        return cell.metadata.get("papermill", {})

    cells = written(nb.cells)
    for test in (lambda c: meta(c).get("exception") or meta(c).get("status") == "failed",
                 lambda c: meta(c).get("status") == "running",  # stopped in it
                 # a timeout: the interrupted cell is "completed", with an error output
                 lambda c: any(o.get("output_type") == "error" for o in c.get("outputs", []))):
        found = [i for i, cell in enumerate(cells) if test(cell)]
        if found:  # the last: the one the run stopped at
            lines = cells[found[-1]].source.splitlines()
            return found[-1], "\n".join(lines[:_HEAD_LINES])[:_HEAD_CHARS]
    return None, None


def _error_text(err: BaseException) -> str:
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _record_start(s: Store, run: NotebookRun) -> None:
    facts = {"notebook": run.notebook, "parameters": run.parameters,
             "schedule_id": run.schedule_id}
    with audit.change(s, "notebook.run_started", f"notebook_runs/{run.run_id}", facts,
                      actor=run.created_by, resource_type="notebook_run"):
        s.execute("insert into notebook_runs (run_id, notebook, parameters, status, started_at, "
                  "created_by, schedule_id) values (:r, :n, :p, 'running', :t, :u, :s)",
                  {"r": run.run_id, "n": run.notebook,
                   "p": json.dumps(run.parameters, default=str), "t": run.started_at,
                   "u": run.created_by, "s": run.schedule_id})


def _record_end(s: Store, run: NotebookRun, next_run: datetime | None) -> None:
    facts = {"duration_s": round(run.duration_s or 0.0, 3), "error": run.error,
             "failing_cell": run.failing_cell, "output_notebook": str(run.output_notebook)}
    with audit.change(s, f"notebook.run_{run.status}", f"notebook_runs/{run.run_id}", facts,
                      actor=run.created_by, resource_type="notebook_run"):
        s.execute("update notebook_runs set status = :st, finished_at = :t, duration_s = :d, "
                  "output_notebook = :o, output_html = :h, error = :e, failing_cell = :c, "
                  "failing_source = :src where run_id = :r",
                  {"st": run.status, "t": run.finished_at, "d": run.duration_s,
                   "o": str(run.output_notebook) if run.output_notebook else None,
                   "h": str(run.output_html) if run.output_html else None, "e": run.error,
                   "c": run.failing_cell, "src": run.failing_source, "r": run.run_id})
        if run.schedule_id is not None:  # what the dashboards show beside the schedule
            s.execute("update schedules set last_run = :t, last_status = :st, last_output = :o, "
                      "next_run = coalesce(:n, next_run) where schedule_id = :id",
                      {"t": run.finished_at, "st": run.status,
                       "o": str(run.output_html or run.output_notebook), "n": next_run,
                       "id": run.schedule_id})


def run_notebook(notebook: str | os.PathLike[str], parameters: Mapping[str, Any] | None = None,
                 *, out: str | os.PathLike[str] | None = None, store: Store | str | None = None,
                 timeout: float | None = None) -> NotebookRun:
    """Execute a workflow notebook with parameters under papermill, keep the executed
    notebook and its HTML rendering, and record the run in the store.

    The notebook runs in its own folder (its relative paths, such as
    ``../data/bank.csv``, mean what they mean in JupyterLab), on the kernel it names.
    The run is recorded in ``notebook_runs`` when it starts (``running``) and when it
    ends (``succeeded`` or ``failed``), each time with its audit record. The output
    notebook is written whatever happens: after a failure it is the notebook as it
    stood, with the traceback in the failing cell.

    Parameters
    ----------
    notebook : str or path-like
        An ``.ipynb`` file with a cell tagged ``parameters`` (the workflow notebooks in
        ``notebooks/`` have one).
    parameters : mapping, optional
        ``{name: value}``; each name must be set in the notebook's parameters cell.
    out : str or path-like, optional
        The folder for ``<notebook>.ipynb`` and ``<notebook>.html`` (default:
        ``runs/<run_id>/`` in the user's data folder). Files there are never
        overwritten.
    store : Store or str, optional
        Where the run is recorded (default: :func:`nexus_lab.store.connect`'s).
    timeout : float, optional
        The most seconds one cell may run (default: no limit).

    Returns
    -------
    NotebookRun
        ``status`` ``"succeeded"``, the outputs' paths, the duration.

    Raises
    ------
    NotebookRunError
        When a cell raises (or the kernel dies, or a cell runs past ``timeout``): the
        run is recorded as failed with the failing cell, and the message names it.
    NexusError
        For a parameter the notebook does not have (its parameters are listed), a
        missing notebook or one that names no kernel; nothing is recorded.
    PermissionDenied
        When the user may not ``schedules.run``.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> import nexus_lab as nx
    >>> from nexus_lab import runs
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3",
    ...     "display_name": "Python 3", "language": "python"}})
    >>> nb.cells = [nbformat.v4.new_code_cell("rate = 0.1", metadata={"tags": ["parameters"]}),
    ...             nbformat.v4.new_code_cell("print(f'{rate:.0%} of 250 is {250 * rate:g}')")]
    >>> nbformat.write(nb, folder / "interest.ipynb")
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> run = runs.run_notebook(folder / "interest.ipynb", {"rate": 0.2}, out=folder / "out",
    ...                         store=store)
    >>> run.status, run.output_notebook.name, run.output_html.name
    ('succeeded', 'interest.ipynb', 'interest.html')
    >>> "20% of 250 is 50" in run.output_html.read_text()
    True
    >>> try:
    ...     runs.run_notebook(folder / "interest.ipynb", {"rate": "ten"}, store=store)
    ... except runs.NotebookRunError as err:
    ...     print(err.cell, err.error)
    1 ValueError: Unknown format code '%' for object of type 'str'
    >>> runs.list_runs(store)["status"].tolist()
    ['failed', 'succeeded']
    >>> runs.run_notebook(folder / "interest.ipynb", {"rates": 0.2}, store=store)
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: interest.ipynb has no parameter 'rates' (did you mean 'rate'?); its parameters: rate
    """  # noqa: E501
    source = Path(notebook).absolute()
    run_id = uuid.uuid4().hex
    folder = Path(out) if out is not None else config.data_folder() / "runs" / run_id
    return execute_and_record(source, parameters, notebook=str(source), out=folder.absolute(),
                              run_id=run_id, store=store, timeout=timeout)


def list_runs(store: Store | str | None = None, *, limit: int | None = 50,
              schedule_id: str | None = None, status: str | None = None) -> pd.DataFrame:
    """The latest notebook runs in the store, newest first.

    Parameters
    ----------
    store : Store or str, optional
    limit : int or None, default 50
        At most this many runs (None: all).
    schedule_id : str, optional
        Only the runs of this schedule.
    status : {"running", "succeeded", "failed"}, optional

    Returns
    -------
    pandas.DataFrame
        The columns of ``notebook_runs``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import runs
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> runs.list_runs(store, status="failed").columns.tolist()[:4]
    ['run_id', 'notebook', 'parameters', 'status']
    """
    if status is not None and status not in STATUSES:
        raise NexusError(f"unknown status {status!r}; a run is {', '.join(STATUSES)}")
    where = {k: v for k, v in (("schedule_id", schedule_id), ("status", status))
             if v is not None}
    return connect(store).read("notebook_runs", where=where, order_by="-started_at",
                               limit=limit)


def load_run(store: Store, run_id: str) -> NotebookRun | None:
    """The run ``run_id`` as recorded, or None."""
    rows = store.read("notebook_runs", where={"run_id": run_id})
    if rows.empty:
        return None
    row = {k: (None if _missing(v) else v) for k, v in rows.iloc[0].to_dict().items()}
    for name in ("output_notebook", "output_html"):
        row[name] = Path(row[name]) if row[name] else None
    for name in ("started_at", "finished_at"):
        if row[name] is not None:
            row[name] = pd.Timestamp(row[name]).tz_localize("UTC").to_pydatetime()
    if row["failing_cell"] is not None:
        row["failing_cell"] = int(row["failing_cell"])
    row["parameters"] = row["parameters"] or {}
    return NotebookRun(**row)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, dict | list) and pd.isna(value))
