"""What MLflow holds of the workflows, read for people (runs, registered versions, the
champion), and the promotion of a version to champion, gated by role and recorded.

MLflow keeps no history of an alias: each promotion made here is recorded in the store's
audit log (action ``model.promoted``, with the version before), and the history of the
champion is read back from there.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd

from nexus_lab import audit, auth
from nexus_lab.errors import NexusError
from nexus_lab.store import Store, connect
from nexus_lab.tracking._compress import COMPRESS_EXPERIMENT
from nexus_lab.tracking._fraud import FRAUD_EXPERIMENT, FRAUD_MODEL
from nexus_lab.tracking._mlflow import CHAMPION, _client, default_tracking_uri
from nexus_lab.tracking._recommend import RECOMMEND_EXPERIMENT, RECOMMEND_MODEL
from nexus_lab.tracking._reconcile import DASK_DASHBOARD_TAG, RECONCILE_EXPERIMENT

__all__ = ["EXPERIMENTS", "MODELS", "promote", "promotions", "recent_runs", "registry"]

log = logging.getLogger("nexus_lab")

#: The workflows' experiments and the metrics that say most about their runs, first first.
EXPERIMENTS = {
    RECONCILE_EXPERIMENT: ("rate", "matched_pairs", "mean_confidence"),
    FRAUD_EXPERIMENT: ("holdout_auprc", "holdout_roc_auc", "holdout_flagged_share"),
    RECOMMEND_EXPERIMENT: ("test_ndcg", "test_precision", "test_recall"),
    COMPRESS_EXPERIMENT: ("compression_ratio", "recall_at_10", "mse"),
}
#: The registered models and the metric that decides their champion.
MODELS = {FRAUD_MODEL: "holdout_auprc", RECOMMEND_MODEL: "test_ndcg"}
_RUN_COLUMNS = ["experiment", "run_id", "run_name", "status", "started", "seconds", "user",
                "source", "key_metrics", "metrics", "dask_dashboard"]
_VERSION_COLUMNS = ["model", "version", "champion", "aliases", "run_id", "registered",
                    "status", "metric", "value", "trained_by"]
_PROMOTION_COLUMNS = ["promoted_at", "model", "version", "previous", "promoted_by", "note"]


def _mlflow_error(err: Exception, uri: str, what: str) -> NexusError:
    return NexusError(f"could not {what} at {uri}: {str(err).strip()[:300]}; check "
                      "MLFLOW_TRACKING_URI")


def _when(ms: Any) -> pd.Timestamp | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC")


def recent_runs(limit: int = 50, *, store: Store | str | None = None,
                tracking_uri: str | None = None) -> pd.DataFrame:
    """The workflows' latest MLflow runs, newest first (``models.read``).

    Parameters
    ----------
    limit : int, default 50
        At most this many runs (1 to 1000), over every experiment of :data:`EXPERIMENTS`.
    store : Store or str, optional
        Where roles are kept.
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.

    Returns
    -------
    pandas.DataFrame
        ``experiment, run_id, run_name, status, started`` (UTC), ``seconds`` (run time,
        NaN while running), ``user`` (the run's ``mlflow.user`` tag: who ran it),
        ``source`` (the ``nexus_lab.source`` tag: ``python``, ``cli``...),
        ``key_metrics`` (a dict: the metrics of :data:`EXPERIMENTS` the run has),
        ``metrics`` (a dict: all of them) and ``dask_dashboard`` (for a run computed on
        Dask, its dashboard's address, the ``nexus_lab.dask_dashboard`` tag; else None).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import tracking
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> uri = f"sqlite:///{folder}/mlflow.db"
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = tracking.log_reconcile_run(nx.reconcile(bank, ledger, device="cpu"),
    ...                                tracking_uri=uri)
    >>> runs = tracking.recent_runs(store=store, tracking_uri=uri)
    >>> runs[["experiment", "status"]].values.tolist(), sorted(runs["key_metrics"][0])
    ([['nexus-reconcile', 'FINISHED']], ['matched_pairs', 'mean_confidence', 'rate'])
    """
    from mlflow.exceptions import MlflowException

    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise NexusError(f"limit={limit!r}: give how many runs to list, 1 to 1000")
    s = connect(store)
    auth.require("models.read", store=s, resource="mlflow/runs")
    uri = tracking_uri or default_tracking_uri()
    client = _client(uri)
    try:
        found = {e.experiment_id: e.name for e in
                 (client.get_experiment_by_name(n) for n in EXPERIMENTS) if e is not None}
        runs = client.search_runs(list(found), max_results=limit,
                                  order_by=["attributes.start_time DESC"]) if found else []
    except MlflowException as err:
        raise _mlflow_error(err, uri, "read the runs") from err
    rows = []
    for run in runs:
        info, data = run.info, run.data
        name = found.get(info.experiment_id, "")
        started, ended = _when(info.start_time), _when(info.end_time)
        rows.append({
            "experiment": name, "run_id": info.run_id, "run_name": info.run_name or "",
            "status": info.status, "started": started,
            "seconds": (ended - started).total_seconds() if started is not None and ended
            is not None else float("nan"),
            "user": data.tags.get("mlflow.user", ""),
            "source": data.tags.get("nexus_lab.source", ""),
            "key_metrics": {k: data.metrics[k] for k in EXPERIMENTS.get(name, ())
                            if k in data.metrics},
            "metrics": dict(data.metrics),
            "dask_dashboard": data.tags.get(DASK_DASHBOARD_TAG) or None})
    return pd.DataFrame(rows, columns=_RUN_COLUMNS)


def registry(*, store: Store | str | None = None, tracking_uri: str | None = None,
             limit: int = 100) -> pd.DataFrame:
    """The registered versions of the workflows' models, newest first, and which is the
    champion (``models.read``).

    Parameters
    ----------
    store : Store or str, optional
        Where roles are kept.
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.
    limit : int, default 100
        At most this many versions per model.

    Returns
    -------
    pandas.DataFrame
        ``model, version`` (text, as MLflow names it), ``champion`` (bool), ``aliases``
        (list), ``run_id, registered`` (UTC), ``status``, ``metric`` (the one that
        decides the champion, :data:`MODELS`) and its ``value`` in the version's run,
        ``trained_by`` (the run's ``mlflow.user``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import tracking
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> tracking.registry(store=store, tracking_uri=f"sqlite:///{tempfile.mkdtemp()}/m.db"
    ...                   ).columns[:3].tolist()
    ['model', 'version', 'champion']
    """
    from mlflow.exceptions import MlflowException

    s = connect(store)
    auth.require("models.read", store=s, resource="mlflow/registry")
    uri = tracking_uri or default_tracking_uri()
    client = _client(uri)
    rows = []
    try:
        for name, metric in MODELS.items():
            versions = client.search_model_versions(f"name = '{name}'",
                                                    max_results=int(limit))
            if not versions:
                continue
            # a search leaves a version's aliases out: the model lists them
            held: dict[str, list[str]] = {}
            for alias, number in (client.get_registered_model(name).aliases or {}).items():
                held.setdefault(str(number), []).append(alias)
            runs: dict[str, Any] = {}
            for v in versions:
                if v.run_id and v.run_id not in runs:
                    try:
                        runs[v.run_id] = client.get_run(v.run_id).data
                    except MlflowException:  # the run was deleted: the version stays
                        runs[v.run_id] = None
                data = runs.get(v.run_id)
                aliases = sorted(held.get(str(v.version), []))
                rows.append({
                    "model": name, "version": str(v.version), "champion": CHAMPION in aliases,
                    "aliases": aliases, "run_id": v.run_id or "",
                    "registered": _when(v.creation_timestamp), "status": v.status,
                    "metric": metric,
                    "value": float("nan") if data is None else
                    float(data.metrics.get(metric, float("nan"))),
                    "trained_by": "" if data is None else data.tags.get("mlflow.user", "")})
    except MlflowException as err:
        raise _mlflow_error(err, uri, "read the model registry") from err
    out = pd.DataFrame(rows, columns=_VERSION_COLUMNS)
    order = out["version"].astype(int) if len(out) else out["version"]
    return (out.assign(_n=order).sort_values(["model", "_n"], ascending=[True, False])
            .drop(columns="_n").reset_index(drop=True))


def _model_range(model_name: str) -> dict[str, str]:
    # the promotions of one model, as a range of resource ids the audit index serves
    prefix = f"models:/{model_name}/"
    return {"lo": prefix, "hi": prefix + "\U0010ffff"}


def promotions(model_name: str | None = None, *, limit: int = 100,
               store: Store | str | None = None) -> pd.DataFrame:
    """Who made which version champion, and when, newest first (``models.read``).

    Read from the store's audit log: the promotions made with :func:`promote`.

    Parameters
    ----------
    model_name : str, optional
        One model's promotions (default: every model's).
    limit : int, default 100
    store : Store or str, optional

    Returns
    -------
    pandas.DataFrame
        ``promoted_at, model, version, previous`` (the champion before, None for the
        first), ``promoted_by, note``.
    """
    s = connect(store)
    auth.require("models.read", store=s, resource="audit_logs/model.promoted")
    where, params = ["action = 'model.promoted'", "outcome = 'done'",
                     "resource_type = 'model'"], {"l": int(limit)}
    if model_name is not None:
        where.append("resource_id >= :lo and resource_id < :hi")
        params.update(_model_range(model_name))
    found = s.query(f"select created_at, user_id, resource_id, details from audit_logs where "
                    f"{' and '.join(where)} order by id desc limit :l", params)
    rows = []
    for r in found.itertuples(index=False):
        facts = r.details if isinstance(r.details, dict) else json.loads(r.details or "{}")
        rows.append({"promoted_at": pd.Timestamp(r.created_at), "model": facts.get("model"),
                     "version": facts.get("version"), "previous": facts.get("previous"),
                     "promoted_by": r.user_id, "note": facts.get("note", "")})
    return pd.DataFrame(rows, columns=_PROMOTION_COLUMNS)


def promote(model_name: str, version: str | int, *, note: str = "",
            store: Store | str | None = None, tracking_uri: str | None = None) -> dict:
    """Make ``version`` of a registered model its champion (``models.promote``).

    The alias :data:`CHAMPION` moves to the version, in one unit of work with the store's
    audit record (``model.promoted``: the model, the version, the champion before, the
    note, who): when the record cannot be written, the alias is put back.

    Parameters
    ----------
    model_name : str
        A registered model (:data:`MODELS`: ``nexus-fraud``, ``nexus-recommender``).
    version : str or int
        Its version number.
    note : str, optional
        Why (kept in the record).
    store : Store or str, optional
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.

    Returns
    -------
    dict
        ``model, version, previous, promoted_by, note``.

    Raises
    ------
    PermissionDenied
        Without ``models.promote`` (an administrator's); recorded as refused.
    NexusError
        An unknown model or version, or a version that is the champion already.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import tracking
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> uri = f"sqlite:///{folder}/mlflow.db"
    >>> tx = nx.datasets.synth_transactions(300, seed=0).drop(columns=["is_fraud", "pattern"])
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> for auprc in (0.6, 0.5):  # version 2 is worse: version 1 stays champion
    ...     _ = tracking.log_fraud_model(det, input_example=tx.head(3),
    ...                                  metrics={"holdout_auprc": auprc}, tracking_uri=uri)
    >>> tracking.promote("nexus-fraud", 2, note="better on March", store=store,
    ...                  tracking_uri=uri)["previous"]
    '1'
    >>> tracking.promotions(store=store)[["version", "previous"]].values.tolist()
    [['2', '1']]
    """
    from mlflow.exceptions import MlflowException

    version = _version(version)
    s = connect(store)
    resource = f"models:/{model_name}/{version}"
    who = auth.require("models.promote", store=s, resource=resource)
    uri = tracking_uri or default_tracking_uri()
    client = _client(uri)
    try:
        chosen = _find_version(client, model_name, version, uri)
        try:
            previous = str(client.get_model_version_by_alias(model_name, CHAMPION).version)
        except MlflowException:
            previous = None
    except MlflowException as err:
        raise _mlflow_error(err, uri, "read the model registry") from err
    if previous == version:
        raise NexusError(f"version {version} of {model_name} is the champion already")
    facts = {"model": model_name, "version": version, "previous": previous,
             "alias": CHAMPION, "note": note, "run_id": chosen.run_id}
    moved = False
    try:
        with audit.change(s, "model.promoted", resource, facts, actor=who,
                          resource_type="model"):
            client.set_registered_model_alias(model_name, CHAMPION, version)
            moved = True
    except BaseException:
        if moved:  # the record failed: the alias goes back to where it was
            _put_back(client, model_name, previous)
        raise
    log.info("%s made version %s of %s champion (was %s)", who, version, model_name, previous)
    return {"model": model_name, "version": version, "previous": previous,
            "promoted_by": who, "note": note}


def _version(version: str | int) -> str:
    text = str(version).strip()
    if isinstance(version, bool) or not text.isdigit() or int(text) < 1:
        raise NexusError(f"version={version!r}: give a registered version's number (1, 2, ...)")
    return str(int(text))


def _find_version(client: Any, model_name: str, version: str, uri: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException:
        known = sorted(m.name for m in client.search_registered_models())
        raise NexusError(f"no registered model {model_name!r} at {uri}; the models: "
                         f"{', '.join(known) or 'none yet (train one first)'}") from None
    try:
        return client.get_model_version(model_name, version)
    except MlflowException:
        have = sorted(int(v.version) for v in
                       client.search_model_versions(f"name = '{model_name}'"))
        raise NexusError(f"{model_name} has no version {version}; its versions: "
                         f"{', '.join(map(str, have)) or 'none'}") from None


def _put_back(client: Any, model_name: str, previous: str | None) -> None:
    try:
        if previous is None:
            client.delete_registered_model_alias(model_name, CHAMPION)
        else:
            client.set_registered_model_alias(model_name, CHAMPION, previous)
    except Exception:  # the first error is the one to show
        log.warning("could not put the %s alias of %s back on version %s", CHAMPION,
                    model_name, previous, exc_info=True)
