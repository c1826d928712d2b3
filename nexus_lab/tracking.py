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
    "CHAMPION",
    "COMPRESS_EXPERIMENT",
    "FRAUD_EXPERIMENT",
    "FRAUD_MODEL",
    "RECONCILE_EXPERIMENT",
    "artifact_location",
    "default_tracking_uri",
    "load_fraud_model",
    "log_codec",
    "log_fraud_model",
    "log_reconcile_run",
    "train_fraud_model",
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
        _run_failed(client if run_id else None, run_id, err, uri, "the run",
                    "check MLFLOW_TRACKING_URI (or skip tracking, e.g. nexus-lab reconcile "
                    "--no-track)")
        raise
    log.info("logged run %s to %s (experiment %s)", run_id, uri, experiment)
    return run_id


def _run_failed(client: Any, run_id: str | None, err: BaseException, uri: str, what: str,
                fix: str) -> None:
    """Mark a run that broke off as failed (or killed), and turn a store's error into a
    :class:`NexusError` naming the store; other errors are the caller's to re-raise."""
    from mlflow.exceptions import MlflowException

    if run_id is not None:
        try:
            client.set_terminated(
                run_id, "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED")
        except Exception:  # the store is what failed; the first error is the one to show
            log.debug("could not mark run %s as failed", run_id, exc_info=True)
    if isinstance(err, MlflowException | OSError) or type(err).__module__.startswith(
            "sqlalchemy"):
        raise NexusError(f"could not log {what} to MLflow at {uri}: "
                         f"{str(err).strip()[:300]}; {fix}") from err


# ----------------------------------------------------------------------------- fraud models

FRAUD_EXPERIMENT = "nexus-fraud"
FRAUD_MODEL = "nexus-fraud"
CHAMPION = "champion"


class _TrackingTo:
    """Point MLflow's fluent API at ``uri`` for a block, then put back exactly what was there.

    ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into the
    environment; the block restores the URIs and those variables as they were,
    so logging a model never changes where the caller's own runs go.
    """

    _ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __enter__(self) -> Any:
        mlflow = _import_mlflow()
        import mlflow.tracking._model_registry.utils as registry
        import mlflow.tracking._tracking_service.utils as tracking

        self._old = (tracking._tracking_uri, registry._registry_uri,
                     {k: os.environ.get(k) for k in self._ENV})
        _client(self.uri)  # makes the folder of a SQLite store
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        return mlflow

    def __exit__(self, *exc: object) -> None:
        import mlflow
        import mlflow.tracking._model_registry.utils as registry

        old_tracking, old_registry, env = self._old
        mlflow.set_tracking_uri(old_tracking)
        registry._registry_uri = old_registry
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def log_fraud_model(
    detector: Any,
    *,
    input_example: Any,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, object] | None = None,
    compare_on: str = "holdout_auprc",
    register: bool = True,
    tracking_uri: str | None = None,
    experiment: str = FRAUD_EXPERIMENT,
    model_name: str = FRAUD_MODEL,
    run_name: str | None = None,
    source: str = "python",
) -> dict:
    """Log a fitted fraud detector as an MLflow pyfunc model and register it.

    The model is logged from code (``nexus_lab/_fraud_model.py``) with the
    detector saved as an artifact by :func:`nexus_lab.artifacts.save_fraud_detector`
    (no pickle), a signature and an input example. The new version becomes
    the alias ``champion`` only when it beats the current champion on
    ``compare_on`` (a metric logged with both runs), or when there is none.

    Parameters
    ----------
    detector : FraudDetector
        A fitted detector.
    input_example : DataFrame
        A few rows of the data it scores (their columns define the signature).
    metrics, params : mapping, optional
        What to log with the run (e.g. held-out AUPRC, the training rows).
    compare_on : str
        The metric that decides the champion (higher is better).
    register : bool
        Register the model as ``model_name`` (and decide the champion).
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.

    Returns
    -------
    dict
        ``run_id``, ``model_uri``, ``version`` (None when not registered),
        ``champion`` (bool: the alias moved to this version), ``previous``
        (the champion's version before, or None) and ``reason``.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> tx = nx.data.synth_transactions(1_000, seed=0)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> out = log_fraud_model(det, input_example=tx.head(3).drop(columns=["is_fraud", "pattern"]),
    ...                       metrics={"holdout_auprc": 0.5}, tracking_uri=uri)
    >>> out["version"], out["champion"]
    ('1', True)
    """
    import tempfile

    import pandas as pd

    from nexus_lab.artifacts import save_fraud_detector

    uri = tracking_uri or default_tracking_uri()
    metrics = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(float(v))}
    example = pd.DataFrame(input_example).head(5)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_fraud_detector(detector, Path(tmp) / "detector")
        output = pd.DataFrame(detector.score(example, keep_for_explain=False))
        output["flags"] = output["flags"].map("; ".join)
        output["reasons"] = output["reasons"].map(" | ".join)
        return _log_pyfunc(
            "fraud", "_fraud_model.py", {"detector": str(folder)}, example, output,
            {**detector.get_params(), "supervised": detector.supervised_,
             "history_rows": detector.n_history_, **(params or {})},
            metrics, compare_on=compare_on, register=register, uri=uri, experiment=experiment,
            model_name=model_name, run_name=run_name, source=source)


def _log_pyfunc(kernel: str, code: str, artifacts: Mapping[str, str], example: Any,
                output: Any, params: Mapping[str, object], metrics: Mapping[str, float], *,
                compare_on: str, register: bool, uri: str, experiment: str, model_name: str,
                run_name: str | None, source: str, signature_params: Mapping | None = None
                ) -> dict:
    """Log a run with a models-from-code pyfunc (``nexus_lab/<code>``), register, promote."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    try:
        with _TrackingTo(uri) as mlflow:
            client = mlflow.MlflowClient(uri)
            exp_id = _experiment_id(client, experiment, artifact_location(uri))
            signature = infer_signature(example, output, params=signature_params)
            with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
                mlflow.set_tags({"nexus_lab.kernel": kernel, "nexus_lab.source": source})
                mlflow.log_params({k: _param(v) for k, v in params.items()})
                if metrics:
                    mlflow.log_metrics(dict(metrics))
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=str(Path(__file__).with_name(code)),
                    artifacts=dict(artifacts), signature=signature, input_example=example,
                )
            out = {"run_id": run.info.run_id, "model_uri": info.model_uri, "version": None,
                   "champion": False, "previous": None, "reason": "not registered"}
            if register:
                version = mlflow.register_model(info.model_uri, model_name)
                out["version"] = str(version.version)
                out.update(_maybe_promote(client, model_name, out["version"],
                                          metrics.get(compare_on), compare_on))
                _record_registration(model_name, out, compare_on, metrics.get(compare_on))
    except MlflowException as err:
        raise NexusError(f"could not log the {kernel} model to MLflow at {uri}: "
                         f"{str(err).strip()[:300]}") from err
    log.info("%s model %s version %s (%s)", kernel, model_name, out["version"], out["reason"])
    return out


def _record_registration(name: str, out: Mapping[str, Any], metric: str,
                         value: float | None) -> None:
    """Append the registration (and the promotion, when the alias moved) to the audit log."""
    from nexus_lab import audit

    resource = f"models:/{name}/{out['version']}"
    facts = {"run_id": out["run_id"], "metric": metric,
             "value": None if value is None else float(value)}
    audit.record("model.registered", resource, facts)
    if out["champion"]:
        audit.record("model.promoted", resource,
                     {**facts, "alias": CHAMPION, "previous": out["previous"],
                      "reason": out["reason"]})


def _maybe_promote(client: Any, name: str, version: str, value: float | None,
                   metric: str) -> dict:
    """Move the champion alias to ``version`` when it is better (or the first)."""
    from mlflow.exceptions import MlflowException

    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, version)
        return {"champion": True, "previous": None, "reason": "first champion"}
    best = client.get_run(current.run_id).data.metrics.get(metric)
    if value is not None and (best is None or value > best):
        client.set_registered_model_alias(name, CHAMPION, version)
        return {"champion": True, "previous": str(current.version),
                "reason": f"{metric} {value:.4f} beats version {current.version}'s "
                          f"{best if best is None else round(best, 4)}"}
    return {"champion": False, "previous": str(current.version),
            "reason": f"{metric} {value if value is None else round(value, 4)} does not beat "
                      f"version {current.version}'s {best if best is None else round(best, 4)}"}


def load_fraud_model(model_uri: str = f"models:/{FRAUD_MODEL}@{CHAMPION}",
                     tracking_uri: str | None = None) -> Any:
    """Load a registered fraud model as an MLflow pyfunc (``.predict(frame)``)."""
    return _load_pyfunc(model_uri, tracking_uri, "nexus-lab fraud train DATA --labels is_fraud")


def _load_pyfunc(model_uri: str, tracking_uri: str | None, train_hint: str) -> Any:
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or default_tracking_uri()
    try:
        with _TrackingTo(uri) as mlflow:
            return mlflow.pyfunc.load_model(model_uri)
    except MlflowException as err:
        raise NexusError(
            f"could not load {model_uri} from {uri}: {str(err).strip()[:200]}; train one first "
            f"with: {train_hint}") from err


def train_fraud_model(
    data: Any,
    labels: Any = None,
    *,
    columns: Mapping[str, str] | None = None,
    holdout: float = 0.2,
    device: object = "auto",
    random_state: int = 0,
    register: bool = True,
    tracking_uri: str | None = None,
    source: str = "python",
    run_name: str | None = None,
) -> dict:
    """Train a fraud detector, measure it on held-out time, log and register it.

    The latest ``holdout`` share of the rows (by date) is held out; the
    detector learns from the earlier rows (with their labels when given) and
    is measured on the held-out ones: AUPRC, ROC-AUC and precision at a 1%
    false-positive rate (:func:`nexus_lab.fraud.evaluate`). The run, the model
    and these metrics go to MLflow (:func:`log_fraud_model`); the new version
    becomes the champion only when its held-out AUPRC is better.

    Parameters
    ----------
    data : DataFrame
        Transactions.
    labels : array-like or str, optional
        Fraud labels or the name of their column in ``data`` (that column is
        not given to the detector as data).
    columns : mapping, optional
        Column names, as for :class:`~nexus_lab.fraud.FraudDetector`.
    holdout : float
        Share of the latest rows held out, in (0, 0.5].

    Returns
    -------
    dict
        ``detector``, ``metrics``, ``holdout_scores`` (the scored held-out rows)
        and what :func:`log_fraud_model` returned (``run_id``, ``version``,
        ``champion``, ``reason``...), or ``run_id=None`` when ``register`` is
        False and nothing was logged.
    """
    import numpy as np
    import pandas as pd

    from nexus_lab.errors import SchemaError
    from nexus_lab.frames import to_pandas
    from nexus_lab.fraud import FraudDetector, evaluate
    from nexus_lab.fraud._inputs import prepare_labels, prepare_transactions

    if not 0 < holdout <= 0.5:
        raise SchemaError(f"holdout must be a share in (0, 0.5], got {holdout!r}")
    frame = to_pandas(data, "transactions").reset_index(drop=True)
    y = None
    if labels is not None:
        y = prepare_labels(labels, frame, len(frame), "transactions")
        if isinstance(labels, str):
            frame = frame.drop(columns=[labels])
    tx = prepare_transactions(frame, columns, "transactions")
    order = np.argsort(tx.ts, kind="stable")
    cut = round(len(frame) * (1 - holdout))
    train_rows, test_rows = np.sort(order[:cut]), np.sort(order[cut:])
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    det = FraudDetector(columns=columns, device=device, random_state=random_state)
    det.fit(train, y=None if y is None else y[train_rows])
    scored = det.score(test)
    metrics: dict[str, float] = {
        "train_rows": float(len(train)), "holdout_rows": float(len(test)),
        "seconds_fit": float(det.fit_seconds_), "seconds_score": float(det.score_seconds_),
        "holdout_flagged_share": float(scored.summary()["flagged"] / max(len(scored), 1)),
    }
    if y is not None and y[test_rows].any() and not y[test_rows].all():
        ev = evaluate(scored, y[test_rows])
        metrics.update({f"holdout_{k}": float(ev[k]) for k in (
            "auprc", "roc_auc", "precision_at_fpr", "recall_at_fpr", "fraud_rate")})
    out: dict = {"detector": det, "metrics": metrics, "holdout_scores": scored, "run_id": None}
    if register:
        example = pd.DataFrame(test.head(5))
        out.update(log_fraud_model(
            det, input_example=example, metrics=metrics,
            params={"holdout": holdout, "labels": labels if isinstance(labels, str) else
                    ("given" if labels is not None else "none"), "columns": columns or {}},
            tracking_uri=tracking_uri, source=source, run_name=run_name,
        ))
    return out


# ----------------------------------------------------------------------------- recommender

RECOMMEND_EXPERIMENT = "nexus-recommender"
RECOMMEND_MODEL = "nexus-recommender"


def log_recommender_model(
    model: Any,
    *,
    input_example: Any,
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, object] | None = None,
    compare_on: str = "test_ndcg",
    register: bool = True,
    tracking_uri: str | None = None,
    experiment: str = RECOMMEND_EXPERIMENT,
    model_name: str = RECOMMEND_MODEL,
    run_name: str | None = None,
    source: str = "python",
) -> dict:
    """Log a fitted recommender as an MLflow pyfunc (user ids in, top-k out) and register it.

    The model is logged from code (``nexus_lab/_recommend_model.py``) with the
    recommender saved by :func:`nexus_lab.artifacts.save_recommender` (no
    pickle), a signature (input ``user_id``; parameter ``k``) and an input
    example. The version becomes the alias ``champion`` only when it beats the
    current champion on ``compare_on``, or when there is none.

    Returns
    -------
    dict
        ``run_id, model_uri, version, champion, previous, reason`` (as
        :func:`log_fraud_model`).

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> data = nx.data.synth_interactions(200, 60, seed=0)
    >>> model = nx.recommend.EASE(regularization=20.0, device="cpu").fit(data)
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> out = log_recommender_model(model, input_example=data[["user_id"]].head(3),
    ...                             metrics={"test_ndcg": 0.3}, tracking_uri=uri)
    >>> out["version"], out["champion"]
    ('1', True)
    """
    import tempfile

    import pandas as pd

    from nexus_lab.artifacts import save_recommender

    uri = tracking_uri or default_tracking_uri()
    metrics = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(float(v))}
    example = pd.DataFrame(input_example)[["user_id"]].drop_duplicates().head(5)
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_recommender(model, Path(tmp) / "recommender")
        output = pd.DataFrame(model.recommend(example["user_id"].to_numpy(), k=10))
        learned = {"model": type(model).__name__, "users": len(model.users_),
                   "items": len(model.items_), "interactions": int(model.seen_.nnz)}
        if hasattr(model, "weights_"):
            learned["blend"] = model.weights_
        return _log_pyfunc(
            "recommend", "_recommend_model.py", {"recommender": str(folder)}, example, output,
            {**{k: v for k, v in model.get_params().items() if k != "candidates"},
             **learned, **(params or {})},
            metrics, compare_on=compare_on, register=register, uri=uri, experiment=experiment,
            model_name=model_name, run_name=run_name, source=source,
            signature_params={"k": 10})


def load_recommender_model(model_uri: str = f"models:/{RECOMMEND_MODEL}@{CHAMPION}",
                           tracking_uri: str | None = None) -> Any:
    """Load a registered recommender as an MLflow pyfunc (``.predict(users, params={"k": 10})``)."""
    return _load_pyfunc(model_uri, tracking_uri, "nexus-lab recommend train DATA")


RECOMMENDERS = ("hybrid", "als", "ease", "itemknn", "bpr", "content", "popularity")


def train_recommender(
    data: Any,
    model: str = "hybrid",
    *,
    columns: Mapping[str, str] | None = None,
    weight: str | None = None,
    test_ratio: float = 0.25,
    k: int = 10,
    seed: int = 42,
    device: object = "auto",
    random_state: int = 0,
    register: bool = True,
    tracking_uri: str | None = None,
    source: str = "python",
    run_name: str | None = None,
) -> dict:
    """Train a recommender, measure it on held-out interactions, log and register it.

    The interactions are split as the benchmark splits them (stratified by
    item, ``test_ratio`` held out, ``seed``); the model learns from the rest
    and is measured at ``k`` (precision, recall, nDCG, MAP); then it is
    refitted on all the interactions, and that model is logged and registered
    as ``nexus-recommender`` with the held-out metrics (``test_ndcg`` decides
    the champion).

    Parameters
    ----------
    data : DataFrame
        Interactions ``user_id, item_id[, rating, timestamp, item text...]``.
    model : str
        One of :data:`RECOMMENDERS` (default ``"hybrid"``, which tunes itself).

    Returns
    -------
    dict
        ``model`` (fitted on all the data), ``metrics``, ``recommendations``
        (top-k of a few users) and what :func:`log_recommender_model` returned.
    """
    import time

    from sklearn.base import clone

    from nexus_lab import recommend as rec
    from nexus_lab.errors import SchemaError
    from nexus_lab.frames import to_pandas

    classes = {"hybrid": rec.Hybrid, "als": rec.ALS, "ease": rec.EASE,
               "itemknn": rec.ItemKNN, "bpr": rec.BPR, "content": rec.Content,
               "popularity": rec.Popularity}
    if model not in classes:
        raise SchemaError(f"unknown recommender {model!r}: choose one of {list(classes)}")
    if not 0 < test_ratio < 1:
        raise SchemaError(f"test_ratio must be a share in (0, 1), got {test_ratio!r}")
    frame = to_pandas(data, "interactions")
    estimator = classes[model]()
    settings = {"columns": columns, "weight": weight, "device": device,
                "random_state": random_state}
    estimator.set_params(**{k: v for k, v in settings.items()
                            if k in estimator.get_params()})
    user_col = dict(columns or {}).get("user_id", "user_id")
    item_col = dict(columns or {}).get("item_id", "item_id")
    train, test = rec.stratified_split(frame, ratio=1 - test_ratio, filter_by="item",
                                       seed=seed, col_user=user_col, col_item=item_col)
    t = time.perf_counter()
    measured = clone(estimator).fit(train)
    fit_seconds = time.perf_counter() - t
    canonical = {user_col: "user_id", item_col: "item_id"}
    scores = rec.evaluate(measured, train.rename(columns=canonical),
                          test.rename(columns=canonical), k=k)
    metrics = {f"test_{m}": float(v) for m, v in scores.items()}
    metrics.update({"train_rows": float(len(train)), "test_rows": float(len(test)),
                    "seconds_fit": fit_seconds})
    final = clone(estimator).fit(frame)
    users = frame[user_col].drop_duplicates().head(5).to_numpy()
    out: dict = {"model": final, "metrics": metrics, "run_id": None,
                 "recommendations": final.recommend(users, k=k)}
    if register:
        out.update(log_recommender_model(
            final, input_example=frame[[user_col]].rename(columns=canonical).head(5),
            metrics=metrics, params={"kind": model, "k": k, "test_ratio": test_ratio,
                                     "split_seed": seed},
            tracking_uri=tracking_uri, source=source, run_name=run_name))
    return out


# ----------------------------------------------------------------------------- vector codecs

COMPRESS_EXPERIMENT = "nexus-compress"
_MSE_ROWS = 1 << 16  # rows whose reconstruction error is computed at a time
_BATCH = 1000  # MLflow takes at most 1,000 metrics and 100 parameters per log_batch


def _codec_files(codec: Any, folder: Path) -> list[Path]:
    """``codec.npz`` (every learned array, no pickle) and ``codec.json`` (class, params):
    :func:`nexus_lab.artifacts.codec_state`, which ``codec_from_state`` reads back."""
    import json

    import numpy as np

    from nexus_lab.artifacts import codec_state

    info, arrays = codec_state(codec)
    npz, js = folder / "codec.npz", folder / "codec.json"
    np.savez(npz, **arrays)
    js.write_text(json.dumps(info, indent=2))
    return [npz, js]


def log_codec(
    codec: Any,
    X: Any,
    queries: Any = None,
    *,
    experiment: str = COMPRESS_EXPERIMENT,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    source: str | None = None,
) -> str:
    """Measure a vector codec on ``X`` and log it to MLflow as one run.

    The run holds the codec's parameters (and its class, the vectors' count and
    dimension); the metrics ``bytes_per_vector``, ``compression_ratio`` (``4 * dim``
    bytes of float32 over the code's bytes), ``mse`` (mean squared distance between
    a vector and its decoded self) and, with ``queries``, ``recall_at_10``
    (:func:`nexus_lab.compress._metrics.recall_at_k` of the decoded ``X``); the
    seconds to encode and decode (and to fit, when the codec is fitted here);
    a codec with a ``history_`` (the neural codec's loss per epoch) logs it as
    the metric ``train_loss`` with ``step`` the epoch (from 1). The artifacts are
    ``codec.npz`` (every learned array, saved with ``np.savez``: no pickle) and
    ``codec.json`` (the class, the parameters and the other learned values).

    Parameters
    ----------
    codec : Codec
        A codec of :mod:`nexus_lab.compress`; fitted on ``X`` first when it is
        not fitted yet.
    X : array-like, (n, dim)
        The vectors to measure it on.
    queries : array-like, (n_queries, dim), optional
        Queries for the recall (by inner product; ``X`` needs at least 10 vectors).
    experiment : str
        The experiment's name; made when missing.
    run_name : str, optional
        Default: the codec's class and its bytes per vector, e.g. ``"RQ 16B"``.
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.
    source : str, optional
        What ran it (``"notebook"``, ``"cli"``...); default ``"python"``.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    SchemaError
        When ``X`` or ``queries`` are not vectors of the codec's dimension.
    NexusError
        When the tracking store cannot be reached or written; the message names it.

    Examples
    --------
    >>> import numpy as np, tempfile, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(1000, 16)).astype("float32")
    >>> codec = nx.compress.PQ(m=4, nbits=4, device="cpu", random_state=0)
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> run_id = log_codec(codec, X, X[:20], tracking_uri=uri)
    >>> from mlflow import MlflowClient
    >>> run = MlflowClient(uri).get_run(run_id)
    >>> run.data.metrics["bytes_per_vector"], run.data.metrics["compression_ratio"]
    (2.0, 32.0)
    """
    import tempfile

    import numpy as np

    from nexus_lab import __version__
    from nexus_lab.compress._base import check_vectors
    from nexus_lab.compress._metrics import recall_at_k

    uri = tracking_uri or default_tracking_uri()
    source = source or "python"
    arr = check_vectors(X)
    metrics: dict[str, float] = {}
    if not hasattr(codec, "code_size_"):
        started = time.perf_counter()
        codec.fit(arr)
        metrics["seconds_fit"] = time.perf_counter() - started
    elif isinstance(getattr(codec, "fit_seconds_", None), int | float):
        metrics["seconds_fit"] = float(codec.fit_seconds_)
    started = time.perf_counter()
    codes = codec.encode(arr)
    metrics["seconds_encode"] = time.perf_counter() - started
    started = time.perf_counter()
    decoded = codec.decode(codes)
    metrics["seconds_decode"] = time.perf_counter() - started
    n, dim = arr.shape
    nbytes = float(codec.code_size_ * codec.code_dtype.itemsize)
    sq = sum(float(np.square(decoded[lo:lo + _MSE_ROWS] - arr[lo:lo + _MSE_ROWS],
                             dtype=np.float64).sum()) for lo in range(0, n, _MSE_ROWS))
    metrics.update({"bytes_per_vector": nbytes, "compression_ratio": 4.0 * dim / nbytes,
                    "mse": sq / n})
    run_params = {"codec": type(codec).__name__, "n_vectors": n, "dim": dim,
                  **codec.get_params()}
    if queries is not None:
        q = check_vectors(queries, "queries")
        metrics["recall_at_10"] = recall_at_k(q, arr, decoded, k=10,
                                              device=getattr(codec, "device", "auto"))
        run_params["n_queries"] = len(q)
    history = [float(v) for v in getattr(codec, "history_", None) or []]
    now = int(time.time() * 1000)
    _import_mlflow()
    from mlflow.entities import Metric, Param, RunTag

    entries = [Metric(k, v, now, 0) for k, v in metrics.items() if math.isfinite(v)]
    entries += [Metric("train_loss", v, now, step) for step, v in enumerate(history, 1)
                if math.isfinite(v)]
    note = (f"{type(codec).__name__} at {nbytes:g} bytes per vector "
            f"({metrics['compression_ratio']:.1f}x) on {n:,} vectors of {dim} dimensions: "
            f"MSE {metrics['mse']:.4g}"
            + (f", 10-recall@10 {metrics['recall_at_10']:.3f}" if queries is not None else "")
            + ".")
    tags = {"nexus_lab.version": __version__, "nexus_lab.kernel": "compress",
            "nexus_lab.source": source, "mlflow.source.type": "LOCAL",
            "mlflow.source.name": f"nexus-lab {source}", "mlflow.note.content": note}
    run_id = None
    try:
        client = _client(uri)
        exp_id = _experiment_id(client, experiment, artifact_location(uri))
        run = client.create_run(exp_id, run_name=run_name or
                                f"{type(codec).__name__} {nbytes:g}B")
        run_id = run.info.run_id
        params = [Param(k, _param(v)) for k, v in run_params.items()]
        client.log_batch(run_id, params=params[:100], tags=[RunTag(k, v)
                                                            for k, v in tags.items()])
        for lo in range(100, len(params), 100):
            client.log_batch(run_id, params=params[lo:lo + 100])
        for lo in range(0, len(entries), _BATCH):
            client.log_batch(run_id, metrics=entries[lo:lo + _BATCH])
        with tempfile.TemporaryDirectory() as tmp:
            for path in _codec_files(codec, Path(tmp)):
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except BaseException as err:
        _run_failed(client if run_id else None, run_id, err, uri, "the codec run",
                    "check MLFLOW_TRACKING_URI or pass tracking_uri=")
        raise
    log.info("logged codec run %s to %s (experiment %s)", run_id, uri, experiment)
    return run_id
