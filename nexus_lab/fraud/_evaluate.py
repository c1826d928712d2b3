"""Scores against labels: ranking quality, precision at a false-positive rate, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError


def precision_at_fpr(y: np.ndarray, score: np.ndarray, fpr: float = 0.01) -> float:
    """Precision among the rows scored above the cut that lets ``fpr`` of negatives through."""
    neg = np.sort(score[~y])
    if not len(neg):
        return float("nan")
    cut = neg[min(len(neg) - 1, int(np.ceil((1 - fpr) * len(neg))) - 1)]
    pick = score > cut
    return float(y[pick].mean()) if pick.any() else float("nan")


def evaluate(scored: object, labels: object, fpr: float = 0.01) -> dict:
    """How well risk scores separate fraud from the rest.

    Parameters
    ----------
    scored : DataFrame or array-like
        What :meth:`FraudDetector.score` returned (its ``risk_score`` is used),
        or the scores themselves.
    labels : array-like of bool
        The truth, one per row, in the same order.
    fpr : float
        The false-positive rate at which precision is reported.

    Returns
    -------
    dict
        ``auprc`` (average precision), ``roc_auc``, ``precision_at_fpr``,
        ``recall_at_fpr``, ``fraud_rate`` and ``calibration`` (a DataFrame of
        rows, mean risk and percent fraud per risk bin).

    Examples
    --------
    >>> import numpy as np
    >>> ev = evaluate(np.array([90.0, 80, 10, 5]), np.array([True, False, False, False]))
    >>> ev["auprc"], ev["roc_auc"]
    (1.0, 1.0)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    score = np.asarray(scored["risk_score"] if isinstance(scored, pd.DataFrame) else scored,
                       dtype=float)
    y = np.asarray(labels).astype(bool)
    if len(y) != len(score):
        raise SchemaError(f"{len(y)} labels for {len(score)} scores: give one label per row")
    if y.all() or not y.any():
        raise SchemaError("labels hold one class only: AUPRC and ROC-AUC need both fraud and "
                          "non-fraud rows")
    neg = np.sort(score[~y])
    cut = neg[min(len(neg) - 1, int(np.ceil((1 - fpr) * len(neg))) - 1)]
    bins = pd.cut(score, [-0.001, 10, 30, 50, 70, 90, 100.001],
                  labels=["0-10", "10-30", "30-50", "50-70", "70-90", "90-100"])
    calib = pd.DataFrame({"risk": score, "fraud": y}).groupby(bins, observed=True).agg(
        rows=("fraud", "size"), mean_risk=("risk", "mean"), percent_fraud=("fraud", "mean"))
    calib["percent_fraud"] *= 100
    return {
        "auprc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "precision_at_fpr": precision_at_fpr(y, score, fpr),
        "recall_at_fpr": float((score[y] > cut).mean()),
        "fraud_rate": float(y.mean()),
        "calibration": calib.rename_axis("risk_bin").reset_index(),
    }
