"""Fraud scoring speed: nexus_lab against pandas rules + scikit-learn, in one run.

Synthetic transactions (``nexus_lab.data.synth_transactions``, every pattern
planted) are split in time: the first half is the history a detector is fitted
on, the second half (``--rows``) is scored. Reported, for each method: seconds
and rows/s of fitting and of scoring, rows/s per stage, and AUPRC of the scores.

* ``nexus``: ``nx.fraud.FraudDetector(device=...)``, fitted without labels;
  ``score()`` stages from ``score_timings_``.
* ``baseline``: what an analyst writes by hand: pandas rules (amount over the
  limit, exact duplicates within 72 h with ``groupby().diff()``, velocity with
  ``rolling("1h")`` per account, off hours, round amounts) plus scikit-learn's
  ``IsolationForest`` on amount, hour and the rule columns, combined by adding
  the rule hits and the forest's score.

Usage::

    python experiments/bench_fraud.py --rows 1000000 [--device cuda] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def baseline_fit_score(history: pd.DataFrame, tx: pd.DataFrame, seed: int):
    """pandas rules + IsolationForest, as commonly written; returns (scores, stages)."""
    from sklearn.ensemble import IsolationForest

    stages = {}

    def rules(df: pd.DataFrame) -> pd.DataFrame:
        df = df.sort_values(["account", "date"])
        out = pd.DataFrame(index=df.index)
        out["over_limit"] = (df["amount"].abs() >= 10_000).astype(float)
        gap = df.groupby(["account", "vendor", "amount"])["date"].diff()
        out["duplicate"] = (gap <= pd.Timedelta(hours=72)).astype(float)
        counts = (df.set_index("date").groupby("account")["amount"]
                  .rolling("1h").count().to_numpy())
        out["velocity"] = (counts >= 6).astype(float)
        hour = df["date"].dt.hour
        out["off_hours"] = ((hour < 6) | (hour >= 22)).astype(float)
        out["round"] = ((df["amount"] % 100 == 0) & (df["amount"] >= 100)).astype(float)
        out["log_amount"] = np.log1p(df["amount"].abs())
        out["hour"] = hour
        return out.loc[df.index].sort_index()

    t = time.perf_counter()
    hist_rules = rules(history)
    forest = IsolationForest(random_state=seed, n_jobs=-1).fit(hist_rules.to_numpy())
    stages["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    tx_rules = rules(tx)
    stages["rules"] = time.perf_counter() - t
    t = time.perf_counter()
    anomaly = -forest.score_samples(tx_rules.to_numpy())
    stages["isolation forest"] = time.perf_counter() - t
    score = tx_rules[["over_limit", "duplicate", "velocity", "off_hours", "round"]].sum(1) \
        + anomaly
    return score.to_numpy(), stages


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows scored (history: as many)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    import nexus_lab as nx

    data = nx.data.synth_transactions(2 * args.rows, seed=args.seed)
    history, tx = data.iloc[: args.rows], data.iloc[args.rows :].reset_index(drop=True)
    y = tx["is_fraud"].to_numpy()
    history = history.drop(columns=["is_fraud", "pattern"])
    tx = tx.drop(columns=["is_fraud", "pattern"])
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "torch_threads": torch.get_num_threads(), "device": args.device,
              "rows_scored": len(tx), "history_rows": len(history)}

    det = nx.fraud.FraudDetector(device=args.device, random_state=args.seed)
    t = time.perf_counter()
    det.fit(history)
    fit_s = time.perf_counter() - t
    det.score(tx.head(1_000))  # warm-up: first-call costs (torch, joblib) are not scoring
    t = time.perf_counter()
    scored = det.score(tx)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    score_s = time.perf_counter() - t
    result["nexus"] = {
        "fit_seconds": round(fit_s, 2),
        "score_seconds": round(score_s, 3),
        "score_rows_per_second": round(len(tx) / score_s),
        "stages_rows_per_second": {k: round(len(tx) / max(v, 1e-9))
                                   for k, v in det.score_timings_.items()},
        "stages_seconds": {k: round(v, 3) for k, v in det.score_timings_.items()},
        "auprc": round(nx.fraud.evaluate(scored, y)["auprc"], 4),
    }
    print(json.dumps(result["nexus"], indent=1), flush=True)
    if not args.skip_baseline:
        t = time.perf_counter()
        score, stages = baseline_fit_score(history, tx, args.seed)
        total = time.perf_counter() - t - stages["fit"]
        result["baseline"] = {
            "fit_seconds": round(stages["fit"], 2),
            "score_seconds": round(total, 3),
            "score_rows_per_second": round(len(tx) / total),
            "stages_seconds": {k: round(v, 3) for k, v in stages.items() if k != "fit"},
            "auprc": round(nx.fraud.evaluate(score, y)["auprc"], 4),
        }
        print(json.dumps(result["baseline"], indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
