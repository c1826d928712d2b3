"""Train, measure on held-out data, log and register: one call per kernel."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError

__all__ = ["RECOMMENDERS", "train_fraud_model", "train_recommender"]


def train_fraud_model(
    data: Any,
    labels: Any = None,
    *,
    columns: Mapping[str, str] | None = None,
    holdout: float = 0.2,
    device: DeviceLike = "auto",
    random_state: int = 0,
    register: bool = True,
    tracking_uri: str | None = None,
    source: str = "python",
    run_name: str | None = None,
    decimal: str = "auto",
    dayfirst: bool | None = None,
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
    decimal, dayfirst
        How the data writes amounts and dates, as for :class:`~nexus_lab.fraud.FraudDetector`.
    holdout : float
        Share of the latest rows held out, in (0, 0.5].

    Returns
    -------
    dict
        ``detector``, ``metrics``, ``holdout_scores`` (the scored held-out rows),
        ``holdout_transactions`` (those rows as given) and what
        :func:`log_fraud_model` returned (``run_id``, ``version``,
        ``champion``, ``reason``...), or ``run_id=None`` when ``register`` is
        False and nothing was logged.
    """
    import pandas as pd

    from nexus_lab.fraud import FraudDetector, evaluate
    from nexus_lab.fraud import time_split as split
    from nexus_lab.tracking import log_fraud_model

    train, test, y_train, y_test = split(data, labels, holdout=holdout, columns=columns,
                                         dayfirst=dayfirst)
    det = FraudDetector(columns=columns, device=device, random_state=random_state,
                        decimal=decimal, dayfirst=dayfirst)
    det.fit(train, y=y_train)
    scored = det.score(test)
    metrics: dict[str, float] = {
        "train_rows": float(len(train)), "holdout_rows": float(len(test)),
        "seconds_fit": float(det.fit_seconds_), "seconds_score": float(det.score_seconds_),
        "holdout_flagged_share": float(scored.summary()["flagged"] / max(len(scored), 1)),
    }
    if y_test is not None and y_test.any() and not y_test.all():
        ev = evaluate(scored, y_test)
        metrics.update({f"holdout_{k}": float(ev[k]) for k in (
            "auprc", "roc_auc", "precision_at_fpr", "recall_at_fpr", "fraud_rate")})
    out: dict = {"detector": det, "metrics": metrics, "holdout_scores": scored,
                 "holdout_transactions": test, "run_id": None}
    if register:
        example = pd.DataFrame(test.head(5))
        out.update(log_fraud_model(
            det, input_example=example, metrics=metrics,
            params={"holdout": holdout, "labels": labels if isinstance(labels, str) else
                    ("given" if labels is not None else "none"), "columns": columns or {}},
            tracking_uri=tracking_uri, source=source, run_name=run_name,
        ))
    return out


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
    device: DeviceLike = "auto",
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
    from sklearn.base import clone

    from nexus_lab import recommend as rec
    from nexus_lab.frames import to_pandas
    from nexus_lab.tracking import log_recommender_model

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
    if len(test) == 0:
        raise SchemaError(
            f"nothing was held out to measure the recommender: {len(frame):,} interactions "
            f"({frame[user_col].nunique():,} users, {frame[item_col].nunique():,} items) "
            f"leave no item with interactions to spare for a {test_ratio:g} held-out share; "
            "give more interactions per item (its scores would be measured on nothing)")
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
