"""Reconcile, export and track: a bank statement against a ledger, into an output folder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError

__all__ = ["ReconcileRun", "reconcile_and_export"]


@dataclass
class ReconcileRun:
    """What :func:`reconcile_and_export` did: the result, the export and the inputs."""

    result: Any
    export: Any
    inputs: dict[str, dict[str, object]]


def reconcile_and_export(
    bank: Any,
    ledger: Any,
    out: str | Path,
    *,
    amount_tolerance: float | str | tuple | None = None,
    date_window: int | None = None,
    device: DeviceLike = "auto",
    sources: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
    settings: Mapping[str, object] | None = None,
    track: bool = True,
    source: str = "python",
    sign: str = "auto",
    decimal: str = "auto",
    dayfirst: bool | None = None,
    names: Mapping[str, str] | None = None,
    client: Any = None,
) -> ReconcileRun:
    """Reconcile ``bank`` against ``ledger``, write every output to ``out`` at once, and log
    the run to MLflow (unless ``track`` is False).

    Parameters
    ----------
    bank, ledger : DataFrame
        The tables, as read (column mappings are given with ``sources``).
    out : str or path-like
        The output folder (see :func:`nexus_lab.reports.export_reconcile`).
    sources : mapping, optional
        ``{"bank": (path, column mapping), "ledger": (...)}`` for tables read from files:
        the files are described (name, size, SHA-256) in the run, and a bad row is named
        by its line in a CSV file.
    settings : mapping, optional
        What else to record with the run (e.g. the requested device).
    sign, decimal, dayfirst
        How the tables write money and dates, as in :func:`nexus_lab.reconcile`.
    names : mapping, optional
        ``{"bank": name, "ledger": name}`` for tables not read from files (e.g. read
        from the store), shown in the report and the run.
    client : distributed.Client, optional
        Run on this Dask cluster (:func:`nexus_lab.scale.reconcile`: the same result,
        with where it ran in ``params["dask"]``).

    Returns
    -------
    ReconcileRun

    Raises
    ------
    SchemaError
        Bad input, naming the file's lines where it can.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=0)
    >>> run = reconcile_and_export(bank, ledger, pathlib.Path(tempfile.mkdtemp()) / "out",
    ...                            device="cpu", track=False)
    >>> sorted(p.name for p in run.export.folder.glob("*.html"))
    ['report.html']
    """
    from nexus_lab.files import describe_file
    from nexus_lab.reconcile import reconcile
    from nexus_lab.reports import export_reconcile

    sources = dict(sources or {})
    columns = {side: dict(mapping) for side, (_, mapping) in sources.items() if mapping}
    try:
        given = {} if amount_tolerance is None else {"amount_tolerance": amount_tolerance}
        if client is not None:
            from nexus_lab import scale

            given.update(client=client, progress=None)
            run = scale.reconcile
        else:
            run = reconcile
        res = run(bank, ledger, date_window=date_window, device=device,
                  columns=columns or None, sign=sign, decimal=decimal, dayfirst=dayfirst,
                  **given)
    except SchemaError as err:
        raise _with_lines(err, sources, {"bank": bank, "ledger": ledger}) from None
    inputs: dict[str, dict[str, object]] = {}
    for side, frame in (("bank", bank), ("ledger", ledger)):
        info: dict[str, object] = {"rows": len(frame)}
        if side in sources:
            info = {**describe_file(sources[side][0]), **info}
        else:
            info["name"] = (names or {}).get(side) or f"sample {side} (generated)"
        inputs[side] = info
    export = export_reconcile(res, out, inputs=inputs, settings=dict(settings or {}),
                              track=track, source=source)
    return ReconcileRun(res, export, inputs)


def _with_lines(err: SchemaError, sources: Mapping[str, tuple[str, Mapping[str, str]]],
                frames: Mapping[str, Any]) -> SchemaError:
    """``err`` with the CSV lines of its rows added, when they can be told for sure."""
    where = sources.get(err.table or "")
    frame = frames.get(err.table or "")
    if where is None or frame is None or not err.rows:
        return err
    lines = _csv_lines(where[0], frame, err.rows, where[1].get("transaction_id",
                                                               "transaction_id"))
    if not lines:
        return err
    return SchemaError(f"{err} (in {Path(where[0]).name}: {lines})", table=err.table,
                       column=err.column, rows=err.rows)


def _csv_lines(path: str, frame: Any, rows: Sequence[int], id_col: str) -> str:
    """The file lines of data rows of a CSV, when each line holds the row's id."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return ""
    want = {int(r) + 2: str(frame[id_col].iloc[int(r)]) for r in rows[:3]
            if id_col in frame and int(r) < len(frame)}
    if not want:
        return ""
    found = []
    last = max(want)
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if number in want:
                if want[number] not in line:
                    return ""  # blank or multi-line rows: line numbers would mislead
                found.append(number)
            if number >= last:
                break
    if len(found) != len(want):
        return ""
    return ("line " if len(found) == 1 else "lines ") + ", ".join(f"{n:,}" for n in found)
