"""MLflow tracking: every run's settings, figures and outputs, in one place.

MLflow is imported only when a run is logged (it is slow to import). Runs go to
``MLFLOW_TRACKING_URI`` when it is set, else to a local SQLite store,
``sqlite:///<cwd>/experiments/mlflow.db``, whose artifacts are kept beside it in
``experiments/mlartifacts/``. Look at them with::

    mlflow ui --backend-store-uri sqlite:///experiments/mlflow.db

Everything goes through an explicit :class:`mlflow.MlflowClient`: logging a
run neither changes MLflow's global tracking URI nor touches an active run the
caller may have open.
"""

from __future__ import annotations

import getpass
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab.errors import DependencyError, NexusError

__all__ = [
    "RECONCILE_EXPERIMENT",
    "artifact_location",
    "default_tracking_uri",
    "log_reconcile_run",
]

log = logging.getLogger("nexus_lab")

RECONCILE_EXPERIMENT = "nexus-reconcile"
_SETTINGS = ("amount_tolerance", "date_window", "device")
_MAX_PARAM = 6000  # MLflow's limit on a parameter value's length


def default_tracking_uri(root: str | os.PathLike[str] | None = None) -> str:
    """The tracking URI runs go to.

    Parameters
    ----------
    root : str or path-like, optional
        The folder holding ``experiments/`` (default: the current folder).

    Returns
    -------
    str
        ``MLFLOW_TRACKING_URI`` when set, else
        ``sqlite:///<root>/experiments/mlflow.db`` (an absolute path).

    Examples
    --------
    >>> import os
    >>> uri = default_tracking_uri("/srv/lab")
    >>> uri == "sqlite:////srv/lab/experiments/mlflow.db" or "MLFLOW_TRACKING_URI" in os.environ
    True
    """
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    base = os.path.abspath(root if root is not None else os.getcwd())
    return f"sqlite:///{Path(base, 'experiments', 'mlflow.db').as_posix()}"


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path).absolute() if path and path != ":memory:" else None


def artifact_location(uri: str) -> str | None:
    """Where the artifacts of a new experiment go for a tracking URI.

    For a SQLite store, ``mlartifacts/`` beside the database file (so the
    database and its artifacts move together); for anything else ``None``,
    which lets the store or the tracking server decide.

    Examples
    --------
    >>> artifact_location("sqlite:////srv/lab/experiments/mlflow.db")
    'file:///srv/lab/experiments/mlartifacts'
    >>> artifact_location("http://mlflow.internal:5000") is None
    True
    """
    db = _sqlite_path(uri)
    return (db.parent / "mlartifacts").as_uri() if db is not None else None


def _import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError as err:  # pragma: no cover - mlflow is a dependency
        raise DependencyError(
            f"tracking needs MLflow ({err}); install it with: pip install 'mlflow>=3'"
        ) from None
    return mlflow


def _client(uri: str) -> Any:
    mlflow = _import_mlflow()
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return mlflow.MlflowClient(tracking_uri=uri)


def _experiment_id(client: Any, name: str, location: str | None) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException:  # created meanwhile by another process
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return exp.experiment_id


def _param(value: object) -> str:
    if isinstance(value, Mapping):
        value = ",".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _metric_key(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_-./" else "_" for c in text.strip())


def reconcile_run_data(
    result: Any,
    *,
    params: Mapping[str, object] | None = None,
    inputs: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """The parameters and metrics :func:`log_reconcile_run` records for a result.

    Parameters are the settings (tolerance, window, device used), the facts
    the engine found (e.g. a flipped sign convention), the inputs (file name,
    rows, SHA-256) and ``params``. Metrics are the counts, the rate, the mean
    confidence, the open rows per reason, and the seconds spent per stage.

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
    for key, value in result.params.items():
        if key in _SETTINGS or isinstance(value, bool | str) or value is None:
            out_params[key] = _param(value)
        elif isinstance(value, int | float) or hasattr(value, "dtype"):
            metrics[_metric_key(key)] = float(value)
        else:
            out_params[key] = _param(value)
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
        Extra tags.

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
    from mlflow.exceptions import MlflowException

    run_params, metrics = reconcile_run_data(result, params=params, inputs=inputs)
    inputs = inputs or {}
    names = [str(inputs.get(side, {}).get("name", side)) for side in ("bank", "ledger")]
    s = result.summary()
    note = (
        f"Reconciled **{names[0]}** ({s['bank_rows']:,} rows) against **{names[1]}** "
        f"({s['ledger_rows']:,} rows): **{result.rate:.2%}** of the bank amount, "
        f"{s['matched_pairs']:,} matched pairs, {s['unmatched_bank']:,} bank and "
        f"{s['unmatched_ledger']:,} ledger rows open."
    )
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        user = "unknown"
    run_tags = {
        "nexus_lab.version": __version__,
        "nexus_lab.kernel": "reconcile",
        "nexus_lab.source": source,
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": f"nexus-lab {source}",
        "mlflow.user": user,
        "mlflow.note.content": note,
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
        run = client.create_run(exp_id, run_name=run_name or f"{names[0]} x {names[1]}")
        run_id = run.info.run_id
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
        if run_id is not None:
            try:
                client.set_terminated(
                    run_id, "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
                )
            except Exception:  # the store is what failed; the first error is the one to show
                log.debug("could not mark run %s as failed", run_id, exc_info=True)
        if isinstance(err, MlflowException | OSError) or type(err).__module__.startswith(
            "sqlalchemy"
        ):
            raise NexusError(
                f"could not log the run to MLflow at {uri}: {str(err).strip()[:300]}; check "
                "MLFLOW_TRACKING_URI (or skip tracking, e.g. nexus-lab reconcile --no-track)"
            ) from err
        raise
    log.info("logged run %s to %s (experiment %s)", run_id, uri, experiment)
    return run_id
