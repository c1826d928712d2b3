"""Reconciliation runs in MLflow: settings, inputs, figures and outputs of one run."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab import audit
from nexus_lab.config import redact
from nexus_lab.errors import SchemaError
from nexus_lab.files import signals_held
from nexus_lab.tracking._mlflow import (
    _client,
    _experiment_id,
    _import_mlflow,
    _metric_key,
    _param,
    _run_failed,
    artifact_location,
    default_tracking_uri,
)

log = logging.getLogger("nexus_lab")

RECONCILE_EXPERIMENT = "nexus-reconcile"
_SETTINGS = ("amount_tolerance", "date_window", "device")
#: The run tag that holds the Dask dashboard's address of a run computed on Dask.
DASK_DASHBOARD_TAG = "nexus_lab.dask_dashboard"


def dask_facts(params: Mapping[str, object]) -> dict[str, object] | None:
    """Where a result was computed on Dask, from its ``params["dask"]`` (as
    :func:`nexus_lab.scale.reconcile` keeps it), checked, with any password in its
    addresses redacted; None for a result of one machine.

    Raises
    ------
    SchemaError
        When ``params["dask"]`` is not such a mapping, or a count is not a whole number.

    Examples
    --------
    >>> dask_facts({"dask": {"scheduler": "tls://u:pw@h:8786", "workers": 2,
    ...                      "partitions": 8, "dashboard": None}})["scheduler"]
    'tls://u:***@h:8786'
    >>> dask_facts({"device": "cpu"}) is None
    True
    """
    info = params.get("dask")
    if info is None:
        return None
    fix = ("it must be the mapping nexus_lab.scale.reconcile keeps: scheduler (an address), "
           "workers and partitions (whole numbers), dashboard (an address or None); set "
           "it so, or delete the entry for a result of one machine")
    if not isinstance(info, Mapping):
        raise SchemaError(f"result.params['dask'] is a {type(info).__name__}, not a mapping: "
                          f"{fix}")
    facts = dict(info)
    for key in ("workers", "partitions"):
        count = facts.get(key)
        if count is not None and (isinstance(count, bool) or not hasattr(count, "__index__")):
            raise SchemaError(f"result.params['dask'][{key!r}] is {count!r}: {fix}")
    for key in ("scheduler", "dashboard"):
        if facts.get(key) is not None:
            facts[key] = redact(str(facts[key]))
    return facts


def reconcile_run_data(
    result: Any,
    *,
    params: Mapping[str, object] | None = None,
    inputs: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """The parameters and metrics :func:`log_reconcile_run` records for a result.

    Parameters are the settings (tolerance, window, device used), the facts
    the engine found (e.g. a flipped sign convention), the inputs (file name,
    rows, SHA-256) and ``params``; for a result computed on Dask
    (``result.params["dask"]``), ``dask_scheduler``, ``dask_workers`` and
    ``dask_partitions`` (its dashboard is the run's tag ``nexus_lab.dask_dashboard``, see
    :func:`log_reconcile_run`), any password in an address redacted. Metrics are the
    counts, the rate, the mean confidence, the open rows per reason, and the seconds
    spent per stage.

    Raises
    ------
    NexusError
        When ``result.params["dask"]`` is not the mapping :mod:`nexus_lab.scale` keeps.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> p, m = reconcile_run_data(nx.reconcile(bank, ledger, device="cpu"))
    >>> p["date_window"], 0 < m["rate"] <= 1
    ('7', True)
    """
    summary = result.summary()
    out_params: dict[str, str] = {}
    metrics: dict[str, float] = {}
    dask = dask_facts(result.params)
    for key, value in result.params.items():
        if key == "dask":
            continue
        if key in _SETTINGS or isinstance(value, bool | str) or value is None:
            out_params[key] = _param(value)
        elif isinstance(value, int | float) or hasattr(value, "dtype"):
            metrics[_metric_key(key)] = float(value)
        else:
            out_params[key] = _param(value)
    if dask is not None:
        for key in ("scheduler", "workers", "partitions"):
            if dask.get(key) is not None:
                out_params[f"dask_{key}"] = _param(dask[key])
    for side, info in (inputs or {}).items():
        for field in ("name", "rows", "sha256"):
            if info.get(field) is not None:
                label = "file" if field == "name" else field
                out_params[f"{side}_{label}"] = _param(info[field])
    for key, value in (params or {}).items():
        out_params[str(key)] = _param(value)
    for key, value in summary.items():
        if key == "seconds":
            key = "seconds_total"
        metrics[_metric_key(key)] = float(value)
    for stage, seconds in result.timings.items():
        metrics[_metric_key(f"seconds_{stage}")] = float(seconds)
    for side, frame in (("bank", result.unmatched_bank), ("ledger", result.unmatched_ledger)):
        if "reason" in frame:
            for reason, count in frame["reason"].value_counts().items():
                metrics[_metric_key(f"open_{side}_{reason}")] = float(count)
    metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
    return out_params, metrics


def log_reconcile_run(
    result: Any,
    *,
    params: Mapping[str, object] | None = None,
    artifacts_dir: str | os.PathLike[str] | None = None,
    source: str = "python",
    inputs: Mapping[str, Mapping[str, object]] | None = None,
    tracking_uri: str | None = None,
    experiment: str = RECONCILE_EXPERIMENT,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log a reconciliation to MLflow as one run.

    Parameters
    ----------
    result : ReconcileResult
        What :func:`nexus_lab.reconcile` returned.
    params : mapping, optional
        Extra parameters, e.g. the requested device or column mappings.
    artifacts_dir : str or path-like, optional
        A folder whose files (not hidden ones, not sub-folders) are logged as
        the run's artifacts, e.g. the outputs the CLI writes.
    source : str
        What ran it: ``"cli"``, ``"demo"``, ``"notebook"``, ``"python"``.
    inputs : mapping, optional
        ``{"bank": {"name", "rows", "sha256"}, "ledger": {...}}`` as made by
        :func:`nexus_lab.files.describe_file` (plus ``rows``).
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.
    experiment : str
        The experiment's name; made (with its artifact location set
        explicitly, see :func:`artifact_location`) when missing.
    run_name : str, optional
        Default: ``"<bank file> x <ledger file>"``.
    tags : mapping, optional
        Extra tags. A result computed on Dask also gets ``nexus_lab.dask_dashboard``: its
        Dask dashboard's address (a password in it redacted), when it had one.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    NexusError
        When the tracking store cannot be reached or written; the message
        names the store.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> res = nx.reconcile(bank, ledger, device="cpu")
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> run_id = log_reconcile_run(res, tracking_uri=uri, source="doctest")
    >>> len(run_id)
    32
    """
    from nexus_lab import __version__

    uri = tracking_uri or default_tracking_uri()
    _import_mlflow()
    from mlflow.entities import Metric, Param, RunTag

    run_params, metrics = reconcile_run_data(result, params=params, inputs=inputs)
    dashboard = (dask_facts(result.params) or {}).get("dashboard")
    inputs = inputs or {}
    names = [str(inputs.get(side, {}).get("name", side)) for side in ("bank", "ledger")]
    s = result.summary()
    note = (
        f"Reconciled **{names[0]}** ({s['bank_rows']:,} rows) against **{names[1]}** "
        f"({s['ledger_rows']:,} rows): **{result.rate:.2%}** of the bank amount, "
        f"{s['matched_pairs']:,} matched pairs, {s['unmatched_bank']:,} bank and "
        f"{s['unmatched_ledger']:,} ledger rows open."
    )
    user = audit.actor()  # who acts in this context (a server serves many users)
    run_tags = {
        "nexus_lab.version": __version__,
        "nexus_lab.kernel": "reconcile",
        "nexus_lab.source": source,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": f"nexus-lab {source}",
        "mlflow.user": user,
        "mlflow.note.content": note,
        **({DASK_DASHBOARD_TAG: str(dashboard)} if dashboard else {}),
        **{str(k): str(v) for k, v in (tags or {}).items()},
    }
    files = []
    if artifacts_dir is not None:
        files = sorted(
            p for p in Path(artifacts_dir).iterdir() if p.is_file() and not p.name.startswith(".")
        )
    now = int(time.time() * 1000)
    run_id = None
    try:
        client = _client(uri)
        exp_id = _experiment_id(client, experiment, artifact_location(uri))
        with signals_held():  # a stop meanwhile comes once run_id names the run to mark
            run_id = client.create_run(
                exp_id, run_name=run_name or f"{names[0]} x {names[1]}").info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in run_params.items()],
            tags=[RunTag(k, v) for k, v in run_tags.items()],
        )
        for path in files:
            client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except BaseException as err:
        _run_failed(client if run_id else None, run_id, err, uri, "the run",
                    "check MLFLOW_TRACKING_URI (or skip tracking, e.g. nexus-lab reconcile "
                    "--no-track)")
        raise
    log.info("logged run %s to %s (experiment %s)", run_id, uri, experiment)
    return run_id
