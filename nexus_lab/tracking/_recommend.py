"""Recommenders as registered MLflow models (logged from code, no pickle)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab.tracking._mlflow import CHAMPION, _load_pyfunc, _log_pyfunc, default_tracking_uri

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

    The model is logged from code (``nexus_lab/tracking/pyfunc/recommender_model.py``) with the
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
            "recommend", "recommender_model.py", {"recommender": str(folder)}, example, output,
            {**{k: v for k, v in model.get_params().items() if k != "candidates"},
             **learned, **(params or {})},
            metrics, compare_on=compare_on, register=register, uri=uri, experiment=experiment,
            model_name=model_name, run_name=run_name, source=source,
            signature_params={"k": 10})


def load_recommender_model(model_uri: str = f"models:/{RECOMMEND_MODEL}@{CHAMPION}",
                           tracking_uri: str | None = None) -> Any:
    """Load a registered recommender as an MLflow pyfunc (``.predict(users, params={"k": 10})``)."""
    return _load_pyfunc(model_uri, tracking_uri, "nexus-lab recommend train DATA")
