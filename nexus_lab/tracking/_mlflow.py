"""MLflow plumbing shared by every kernel's runs and models: clients, experiments,
parameters, models logged from code, registration and the champion alias."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab import config
from nexus_lab.errors import DependencyError, NexusError
from nexus_lab.files import signals_held

log = logging.getLogger("nexus_lab")

CHAMPION = "champion"
_MAX_PARAM = 6000  # MLflow's limit on a parameter value's length
_PYFUNC = Path(__file__).with_name("pyfunc")


def default_tracking_uri(root: str | os.PathLike[str] | None = None) -> str:
    """The tracking URI runs go to: :func:`nexus_lab.config.tracking_uri`.

    Examples
    --------
    >>> import os
    >>> uri = default_tracking_uri("/srv/lab")
    >>> uri == "sqlite:////srv/lab/experiments/mlflow.db" or "MLFLOW_TRACKING_URI" in os.environ
    True
    """
    return config.tracking_uri(root)


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


class _WholeCalls:
    """An ``MlflowClient`` whose every call runs with SIGINT and SIGTERM held.

    A stop that comes while the store writes is raised once the call returns, so no
    write is cut in the middle: a half-done write would keep the SQLite store locked,
    and the run could then not be marked KILLED (it would stay RUNNING for ever).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def whole(*args: Any, **kwargs: Any) -> Any:
            with signals_held():
                return attr(*args, **kwargs)

        return whole


def _client(uri: str) -> Any:
    mlflow = _import_mlflow()
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return _WholeCalls(mlflow.MlflowClient(tracking_uri=uri))


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


def _log_pyfunc(kernel: str, code: str, artifacts: Mapping[str, str], example: Any,
                output: Any, params: Mapping[str, object], metrics: Mapping[str, float], *,
                compare_on: str, register: bool, uri: str, experiment: str, model_name: str,
                run_name: str | None, source: str, signature_params: Mapping | None = None
                ) -> dict:
    """Log a run with a models-from-code pyfunc (``tracking/pyfunc/<code>``), register,
    promote."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    from nexus_lab import audit

    # the audit log (and its signing key) is opened before anything is registered: a
    # mistake in its settings stops the run here, not after a model became champion
    trail = audit.current() if register else None
    try:
        with _TrackingTo(uri) as mlflow:
            client = mlflow.MlflowClient(uri)
            exp_id = _experiment_id(client, experiment, artifact_location(uri))
            signature = infer_signature(example, output, params=signature_params)
            with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
                # who trained it: the acting user (a server trains for many), not the login
                mlflow.set_tags({"nexus_lab.kernel": kernel, "nexus_lab.source": source,
                                 "mlflow.user": audit.actor()})
                mlflow.log_params({k: _param(v) for k, v in params.items()})
                if metrics:
                    mlflow.log_metrics(dict(metrics))
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=str(_PYFUNC / code),
                    artifacts=dict(artifacts), signature=signature, input_example=example,
                )
            out = {"run_id": run.info.run_id, "model_uri": info.model_uri, "version": None,
                   "champion": False, "previous": None, "reason": "not registered"}
            if register:
                version = mlflow.register_model(info.model_uri, model_name)
                out["version"] = str(version.version)
                out.update(_maybe_promote(client, model_name, out["version"],
                                          metrics.get(compare_on), compare_on))
                _record_registration(model_name, out, compare_on, metrics.get(compare_on),
                                     trail)
    except MlflowException as err:
        raise NexusError(f"could not log the {kernel} model to MLflow at {uri}: "
                         f"{str(err).strip()[:300]}") from err
    log.info("%s model %s version %s (%s)", kernel, model_name, out["version"], out["reason"])
    return out


def _record_registration(name: str, out: Mapping[str, Any], metric: str,
                         value: float | None, trail: Any = None) -> None:
    """Append the registration (and the promotion, when the alias moved) to the audit log
    ``trail`` (the current one when None)."""
    from nexus_lab import audit

    resource = f"models:/{name}/{out['version']}"
    facts = {"run_id": out["run_id"], "metric": metric,
             "value": None if value is None else float(value)}
    audit.record("model.registered", resource, facts, audit=trail)
    if out["champion"]:
        audit.record("model.promoted", resource,
                     {**facts, "alias": CHAMPION, "previous": out["previous"],
                      "reason": out["reason"]}, audit=trail)


#: the metrics models are compared on, as people name them
_SAID = {"holdout_auprc": "held-out AUPRC", "test_ndcg": "test nDCG"}


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
    said = _SAID.get(metric, metric.replace("_", " "))
    if value is not None and (best is None or value > best):
        client.set_registered_model_alias(name, CHAMPION, version)
        return {"champion": True, "previous": str(current.version),
                "reason": f"{said} {value:.4f} beats version {current.version}'s "
                          f"{best if best is None else round(best, 4)}"}
    return {"champion": False, "previous": str(current.version),
            "reason": f"{said} {value if value is None else round(value, 4)} does not beat "
                      f"version {current.version}'s {best if best is None else round(best, 4)}"}


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
