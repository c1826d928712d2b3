"""A reconciliation's outputs as a folder: tables, summary, report, and its MLflow run."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_lab.files import atomic_dir, write_frame, write_json, write_text
from nexus_lab.reports._html import dask_facts, reconcile_html

__all__ = ["OUTPUT_FILES", "Export", "export_reconcile", "reconcile_summary", "save_reconcile"]

log = logging.getLogger("nexus_lab")

#: The files :func:`save_reconcile` writes.
OUTPUT_FILES = (
    "matches.parquet",
    "matches.csv",
    "unmatched_bank.parquet",
    "unmatched_bank.csv",
    "unmatched_ledger.parquet",
    "unmatched_ledger.csv",
    "match_weights.csv",
    "summary.json",
    "report.html",
)


@dataclass
class Export:
    """Where :func:`export_reconcile` put a run's outputs.

    Attributes
    ----------
    folder : pathlib.Path
        The output folder.
    files : dict
        ``{file name: path}`` of every file written.
    run_id : str or None
        The MLflow run, when tracked.
    tracking_uri : str or None
        The MLflow store the run went to.
    """

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    run_id: str | None = None
    tracking_uri: str | None = None

    @property
    def report(self) -> Path:
        """The HTML report."""
        return self.folder / "report.html"


def reconcile_summary(
    result: Any,
    *,
    inputs: Mapping[str, Mapping[str, object]] | None = None,
    settings: Mapping[str, object] | None = None,
) -> dict:
    """What ``summary.json`` holds: counts, rate, open rows by reason, settings, inputs.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> s = reconcile_summary(nx.reconcile(bank, ledger, device="cpu"))
    >>> sorted(s)[:3]
    ['created_utc', 'inputs', 'kernel']
    """
    from nexus_lab import __version__

    reasons = result.reasons()
    return {
        "kernel": "reconcile",
        "nexus_lab_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "summary": result.summary(),
        "unmatched_by_reason": {
            side: {str(k): int(v) for k, v in reasons[side].items() if v}
            for side in ("bank", "ledger") if side in reasons
        },
        "params": _params(result.params),
        "settings": dict(settings or {}),
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
        "inputs": {k: dict(v) for k, v in (inputs or {}).items()},
    }


def _params(params: Mapping[str, object]) -> dict:
    """A result's params for ``summary.json``: ``dask`` with its addresses redacted."""
    out = dict(params)
    facts = dask_facts(out)
    if facts is not None:
        out["dask"] = facts
    return out


def save_reconcile(
    result: Any,
    folder: str | os.PathLike[str],
    *,
    inputs: Mapping[str, Mapping[str, object]] | None = None,
    settings: Mapping[str, object] | None = None,
    title: str = "Bank reconciliation",
) -> dict[str, Path]:
    """Write a result's tables, ``summary.json`` and ``report.html`` into a folder.

    Each file is written atomically; for the folder as a whole to appear at
    once, use :func:`export_reconcile` (or write inside
    :func:`nexus_lab.files.atomic_dir`).

    Parameters
    ----------
    result : ReconcileResult
        What :func:`nexus_lab.reconcile` returned.
    folder : str or path-like
        Where the files go (made when missing).
    inputs : mapping, optional
        ``{"bank": {...}, "ledger": {...}}``: file name, path, rows and SHA-256
        of the inputs, recorded in the summary and the report.
    settings : mapping, optional
        Settings to record besides the result's own (e.g. the requested device).
    title : str
        The report's title.

    Returns
    -------
    dict
        ``{file name: path}`` for each of :data:`OUTPUT_FILES`.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> files = save_reconcile(nx.reconcile(bank, ledger, device="cpu"), tempfile.mkdtemp())
    >>> sorted(files)[:2]
    ['match_weights.csv', 'matches.csv']
    """
    out = Path(folder)
    files: dict[str, Path] = {}
    tables = {
        "matches": result.matches,
        "unmatched_bank": result.unmatched_bank,
        "unmatched_ledger": result.unmatched_ledger,
    }
    for stem, frame in tables.items():
        for ext in ("parquet", "csv"):
            files[f"{stem}.{ext}"] = write_frame(frame, out / f"{stem}.{ext}")
    files["match_weights.csv"] = write_frame(result.model.to_frame(), out / "match_weights.csv")
    files["summary.json"] = write_json(
        reconcile_summary(result, inputs=inputs, settings=settings), out / "summary.json"
    )
    files["report.html"] = write_text(
        reconcile_html(result, title=title, inputs=inputs, settings=settings),
        out / "report.html",
    )
    return files


def export_reconcile(
    result: Any,
    out_dir: str | os.PathLike[str],
    *,
    inputs: Mapping[str, Mapping[str, object]] | None = None,
    settings: Mapping[str, object] | None = None,
    track: bool = True,
    source: str = "python",
    tracking_uri: str | None = None,
    title: str = "Bank reconciliation",
) -> Export:
    """Write a reconciliation's outputs to a folder, all at once, and track the run.

    The files of :func:`save_reconcile` are written into a temporary folder;
    when ``track`` is true the run is logged to MLflow with those files as
    artifacts (see :func:`nexus_lab.tracking.log_reconcile_run`); only then is
    the folder renamed to ``out_dir``. If anything fails, nothing appears at
    ``out_dir``.

    Parameters
    ----------
    result : ReconcileResult
        What :func:`nexus_lab.reconcile` returned.
    out_dir : str or path-like
        The output folder (replaced if an earlier run made it).
    inputs, settings, title
        As for :func:`save_reconcile`; ``settings`` are also logged as MLflow
        parameters.
    track : bool, default True
        Log the run to MLflow.
    source : str
        What ran it (``"cli"``, ``"notebook"``...), recorded as a tag.
    tracking_uri : str, optional
        Default: :func:`nexus_lab.tracking.default_tracking_uri`.

    Returns
    -------
    Export

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> res = nx.reconcile(bank, ledger, device="cpu")
    >>> export_reconcile(res, tempfile.mkdtemp() + "/out", track=False).run_id is None
    True
    """
    out = Path(out_dir)
    run_id = uri = None
    with atomic_dir(out) as work:
        save_reconcile(result, work, inputs=inputs, settings=settings, title=title)
        if track:
            from nexus_lab.tracking import default_tracking_uri, log_reconcile_run

            uri = tracking_uri or default_tracking_uri()
            run_id = log_reconcile_run(
                result, params=settings, artifacts_dir=work, source=source, inputs=inputs,
                tracking_uri=uri,
            )
    files = {name: out / name for name in OUTPUT_FILES}
    return Export(folder=out, files=files, run_id=run_id, tracking_uri=uri)
