"""Fraud detection quality on real data, against the anchors, in one run.

1. **Card transactions with fraud labels** (100k rows) shipped inside the
   ``evalml`` wheel (``evalml/demos/data/fraud_transactions.csv.gz``; install it
   with ``pip install --no-deps evalml==0.84.0``; the file is read from the
   installed package, never copied). 5-fold stratified cross-validation of
   ``nx.fraud.FraudDetector`` trained with labels, against, on the same folds:
   the amount alone as a score, and plain gradient boosting
   (scikit-learn's ``HistGradientBoostingClassifier``) on the raw columns.
   Metrics: AUPRC (average precision), ROC-AUC, precision at a 1% false
   positive rate, and calibration of the risk score (share of fraud per risk bin).
2. **Shuttle** (49k rows, real anomalies) shipped inside the ``river`` wheel
   (``river/datasets/shuttle.csv.gz``; ``pip install --no-deps river==0.26.1``):
   unsupervised AUPRC and ROC-AUC of ``nx.fraud.AnomalyDetector`` (its default,
   the forest; the autoencoder alone; their mean) against scikit-learn's
   ``IsolationForest``.

Usage::

    python experiments/eval_fraud.py [--folds 5] [--out results.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def packaged_file(package: str, relative: str, install: str) -> Path:
    """A data file inside an installed wheel, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{package} is not installed; install it with: {install}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        sys.exit(f"{path} is missing; reinstall with: {install}")
    return path


def load_card_fraud() -> pd.DataFrame:
    path = packaged_file("evalml", "demos/data/fraud_transactions.csv.gz",
                         "pip install --no-deps evalml==0.84.0")
    return pd.read_csv(path)


def load_shuttle() -> pd.DataFrame:
    path = packaged_file("river", "datasets/shuttle.csv.gz", "pip install --no-deps river==0.26.1")
    return pd.read_csv(path)


def precision_at_fpr(y: np.ndarray, score: np.ndarray, fpr: float = 0.01) -> float:
    """Precision among the rows above the score that lets ``fpr`` of negatives through."""
    neg = np.sort(score[~y])
    cut = neg[int(np.ceil((1 - fpr) * len(neg))) - 1] if len(neg) else np.inf
    pick = score > cut
    return float(y[pick].mean()) if pick.any() else float("nan")


def metrics(y: np.ndarray, score: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "auprc": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
        "precision_at_1pct_fpr": precision_at_fpr(y, score),
    }


def plain_boosting(train: pd.DataFrame, test: pd.DataFrame, y_train: np.ndarray, seed: int):
    """The anchor: gradient boosting on the raw columns, no feature work."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        t = pd.to_datetime(df["datetime"])
        out = df[["amount", "lat", "lng"]].astype(float).assign(
            customer_present=df["customer_present"].astype(float),
            hour=t.dt.hour, weekday=t.dt.dayofweek,
        )
        for col in ("provider", "currency", "country"):
            out[col] = df[col].astype("category")
        return out

    xtr, xte = frame(train), frame(test)
    for col in ("provider", "currency", "country"):
        cats = xtr[col].cat.categories
        xte[col] = pd.Categorical(xte[col], categories=cats)
    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=seed).fit(xtr, y_train)
    return model.predict_proba(xte)[:, 1]


CARD_COLUMNS = {"transaction_id": "id", "date": "datetime", "account": "card_id",
                "vendor": "store_id", "category": "provider"}


def card_fraud(folds: int, seed: int) -> dict:
    from sklearn.model_selection import StratifiedKFold

    import nexus_lab as nx

    df = load_card_fraud()
    y = df["fraud"].astype(bool).to_numpy()
    scores = {name: np.empty(len(df)) for name in ("nexus", "amount", "plain_boosting")}
    per_fold = {name: [] for name in scores}
    seconds = {"fit": [], "score": []}
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for f, (tr, te) in enumerate(splitter.split(df, y)):
        train, test = df.iloc[tr], df.iloc[te]
        t = time.perf_counter()
        det = nx.fraud.FraudDetector(columns=CARD_COLUMNS, device="cpu", random_state=seed)
        det.fit(train, y=y[tr])
        seconds["fit"].append(time.perf_counter() - t)
        t = time.perf_counter()
        scored = det.score(test)
        seconds["score"].append(time.perf_counter() - t)
        scores["nexus"][te] = scored["risk_score"].to_numpy()
        scores["amount"][te] = test["amount"].to_numpy()
        scores["plain_boosting"][te] = plain_boosting(train, test, y[tr], seed)
        for name in scores:
            per_fold[name].append(metrics(y[te], scores[name][te])["auprc"])
        print(f"fold {f}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in per_fold.items()),
              flush=True)
    out = {}
    for name in scores:
        out[name] = {
            "auprc_mean_of_folds": float(np.mean(per_fold[name])),
            "auprc_folds": [round(v, 4) for v in per_fold[name]],
            **{f"pooled_{k}": v for k, v in metrics(y, scores[name]).items()},
        }
    risk = scores["nexus"]
    bins = pd.cut(risk, [0, 10, 30, 50, 70, 90, 100], include_lowest=True)
    calib = pd.DataFrame({"risk": risk, "fraud": y}).groupby(bins, observed=True).agg(
        rows=("fraud", "size"), mean_risk=("risk", "mean"), percent_fraud=("fraud", "mean"))
    calib["percent_fraud"] *= 100
    calib.index = calib.index.astype(str).rename("risk_bin")
    out["nexus"]["calibration"] = calib.round(2).reset_index().to_dict("records")
    out["nexus"]["seconds_fit_mean"] = float(np.mean(seconds["fit"]))
    out["nexus"]["seconds_score_mean"] = float(np.mean(seconds["score"]))
    out["rows"] = len(df)
    out["fraud_rate"] = float(y.mean())
    return out


def shuttle(seed: int) -> dict:
    from sklearn.ensemble import IsolationForest

    import nexus_lab as nx

    df = load_shuttle()
    y = df.pop("anomaly").astype(bool).to_numpy()
    x = df.to_numpy(dtype=np.float64)
    t = time.perf_counter()
    ours = nx.fraud.AnomalyDetector(device="cpu", random_state=seed).fit(x)
    score = ours.score_samples(x)
    t_ours = time.perf_counter() - t
    forest_pct, ae_pct, _ = ours.score_parts(x)
    t = time.perf_counter()
    forest = IsolationForest(random_state=seed).fit(x)
    ref = -forest.score_samples(x)
    t_ref = time.perf_counter() - t
    return {
        "rows": len(df), "anomaly_rate": float(y.mean()),
        "nexus": {**metrics(y, score), "seconds": round(t_ours, 2)},
        "nexus_autoencoder_alone": metrics(y, ae_pct),
        "nexus_mean_of_both": metrics(y, 0.5 * (forest_pct + ae_pct)),
        "sklearn_isolation_forest": {**metrics(y, ref), "seconds": round(t_ref, 2)},
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-cards", action="store_true")
    ap.add_argument("--skip-shuttle", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = {"machine": platform.platform(), "python": sys.version.split()[0]}
    if not args.skip_cards:
        result["card_fraud"] = card_fraud(args.folds, args.seed)
        print(json.dumps(result["card_fraud"], indent=1), flush=True)
    if not args.skip_shuttle:
        result["shuttle"] = shuttle(args.seed)
        print(json.dumps(result["shuttle"], indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
