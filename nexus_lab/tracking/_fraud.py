"""Fraud detectors as registered MLflow models (logged from code, no pickle)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab.tracking._mlflow import CHAMPION, _load_pyfunc, _log_pyfunc, default_tracking_uri

FRAUD_EXPERIMENT = "nexus-fraud"
FRAUD_MODEL = "nexus-fraud"


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

    The model is logged from code (``nexus_lab/tracking/pyfunc/fraud_model.py``) with the
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
            "fraud", "fraud_model.py", {"detector": str(folder)}, example, output,
            {**detector.get_params(), "supervised": detector.supervised_,
             "history_rows": detector.n_history_, **(params or {})},
            metrics, compare_on=compare_on, register=register, uri=uri, experiment=experiment,
            model_name=model_name, run_name=run_name, source=source)


def load_fraud_model(model_uri: str = f"models:/{FRAUD_MODEL}@{CHAMPION}",
                     tracking_uri: str | None = None) -> Any:
    """Load a registered fraud model as an MLflow pyfunc (``.predict(frame)``)."""
    return _load_pyfunc(model_uri, tracking_uri, "nexus-lab fraud train DATA --labels is_fraud")
