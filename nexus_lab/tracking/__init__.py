"""MLflow tracking: every run's settings, figures and outputs, in one place.

A service. The MLflow plumbing (clients, experiments, models logged from code, the
champion alias) is in ``_mlflow``; each kernel's runs and registered models in a module
of its own; the pyfunc wrappers MLflow runs on loading a model in ``pyfunc/``.

MLflow is imported only when a run is logged (it is slow to import). Runs go to
``MLFLOW_TRACKING_URI`` when it is set, else to one local SQLite store whatever the
current folder (:func:`nexus_lab.config.tracking_uri`: ``experiments/mlflow.db`` of the
checkout, else ``mlflow.db`` in the user's data folder), whose artifacts are kept beside
it in ``mlartifacts/``. In a checkout, look at them with::

    mlflow ui --backend-store-uri sqlite:///experiments/mlflow.db

Everything goes through an explicit :class:`mlflow.MlflowClient`: logging a
run neither changes MLflow's global tracking URI nor touches an active run the
caller may have open.

What people read of it goes through the store's roles: :func:`recent_runs` and
:func:`registry` (``models.read``), and the champion moves only by :func:`promote`
(``models.promote``), which records who moved it, from which version, in the store's audit
log, where :func:`promotions` reads the champion's history back.
"""

from nexus_lab.tracking._compress import COMPRESS_EXPERIMENT, log_codec
from nexus_lab.tracking._fraud import (
    FRAUD_EXPERIMENT,
    FRAUD_MODEL,
    load_fraud_model,
    log_fraud_model,
)
from nexus_lab.tracking._mlflow import CHAMPION, artifact_location, default_tracking_uri
from nexus_lab.tracking._recommend import (
    RECOMMEND_EXPERIMENT,
    RECOMMEND_MODEL,
    load_recommender_model,
    log_recommender_model,
)
from nexus_lab.tracking._reconcile import (
    DASK_DASHBOARD_TAG,
    RECONCILE_EXPERIMENT,
    dask_facts,
    log_reconcile_run,
    reconcile_run_data,
)
from nexus_lab.tracking._registry import (
    EXPERIMENTS,
    MODELS,
    promote,
    promotions,
    recent_runs,
    registry,
)

__all__ = [
    "CHAMPION",
    "COMPRESS_EXPERIMENT",
    "DASK_DASHBOARD_TAG",
    "EXPERIMENTS",
    "FRAUD_EXPERIMENT",
    "FRAUD_MODEL",
    "MODELS",
    "RECOMMEND_EXPERIMENT",
    "RECOMMEND_MODEL",
    "RECONCILE_EXPERIMENT",
    "artifact_location",
    "dask_facts",
    "default_tracking_uri",
    "load_fraud_model",
    "load_recommender_model",
    "log_codec",
    "log_fraud_model",
    "log_recommender_model",
    "log_reconcile_run",
    "promote",
    "promotions",
    "recent_runs",
    "reconcile_run_data",
    "registry",
]


_MOVED = {"train_fraud_model": "nexus_lab.workflows", "train_recommender": "nexus_lab.workflows",
          "RECOMMENDERS": "nexus_lab.workflows"}


def __getattr__(name: str):
    # train-and-register moved up a layer, to the workflows that put tracking to use
    if name in _MOVED:
        raise ImportError(f"{name} moved from nexus_lab.tracking to {_MOVED[name]}: write "
                          f"`from {_MOVED[name]} import {name}`", name=name)
    raise AttributeError(f"module 'nexus_lab.tracking' has no attribute {name!r}")
