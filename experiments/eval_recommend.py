"""Recommender quality on MovieLens-100k, by the Microsoft ``recommenders`` benchmark protocol.

Protocol (``recommenders/examples/06_benchmarks``): ``python_stratified_split(ratio=0.75,
filter_by="item", seed=42)``, top-10, items seen in training removed, every test
interaction relevant, their precision@k, recall@k, nDCG@k and MAP
(``nx.recommend.stratified_split`` and ``ranking_metrics`` reproduce both exactly;
``tests/test_recommend.py`` checks them against the package).

Every hyperparameter is chosen on a validation split cut from the training split
(stratified by item, 75/25, seeded): never on the test split. For each of 5 seeds
(the validation split's and the models' seed) the script reports:

* ``nexus ALS``: ``nx.recommend.tune`` over a grid of regularization and unobserved weight;
* ``nexus EASE``: ``tune`` over its regularization;
* ``nexus hybrid``: ``nx.recommend.Hybrid(random_state=seed)``, which tunes itself;
* ``implicit ALS`` (the reference, same run): ``implicit.als.AlternatingLeastSquares``
  tuned on the same validation split over factors, regularization and alpha;
* item-kNN, BPR, content and popularity with their defaults.

Then a cold-start test: 100 users of the training split are hidden from fitting;
each shows 3 of their interactions (the earliest), or none, at recommendation time,
with their profile (age, gender, occupation, zip code) for the models that read it,
and is judged on their other interactions.

Needs: ``pip install --no-deps recbole==1.2.1`` (the data) and ``pip install implicit``.
Usage: ``python experiments/eval_recommend.py [--seeds 5] [--out results.json]``.
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

import nexus_lab as nx

rec = nx.recommend


def implicit_candidates():
    return [dict(factors=f, regularization=r, alpha=a)
            for f in (32, 64, 128) for r in (0.1, 1.0, 10.0) for a in (1.0, 5.0)]


def fit_implicit(train: pd.DataFrame, params: dict, seed: int):
    """implicit's ALS on the binary user x item matrix; returns (model, users, items, matrix)."""
    import implicit
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    users = pd.Index(pd.unique(train["user_id"]))
    items = pd.Index(pd.unique(train["item_id"]))
    m = sp.csr_matrix((np.ones(len(train), np.float32),
                       (users.get_indexer(train["user_id"]), items.get_indexer(train["item_id"]))),
                      shape=(len(users), len(items)))
    m.data[:] = 1.0
    with threadpool_limits(1, "blas"):  # implicit asks for it: its own threads do the work
        model = implicit.cpu.als.AlternatingLeastSquares(
            **params, iterations=15, random_state=seed)
        model.fit(m, show_progress=False)
    return model, users, items, m


def implicit_recs(fitted, user_ids, k=10):
    model, users, items, m = fitted
    codes = users.get_indexer(user_ids)
    user_ids = np.asarray(user_ids)[codes >= 0]
    codes = codes[codes >= 0]
    ids, _ = model.recommend(codes, m[codes], N=k, filter_already_liked_items=True)
    return pd.DataFrame({"user_id": np.repeat(user_ids, k),
                         "item_id": items.to_numpy()[ids.ravel()],
                         "rank": np.tile(np.arange(1, k + 1), len(user_ids))})


def tune_implicit(train, seed, k=10):
    inner, val = rec.stratified_split(train, ratio=0.75, filter_by="item", seed=seed)
    best = None
    for params in implicit_candidates():
        fitted = fit_implicit(inner, params, seed)
        users = pd.unique(val["user_id"])
        score = rec.ranking_metrics(val, implicit_recs(fitted, users, k), k)["ndcg"]
        if best is None or score > best[0]:
            best = (score, params)
    return best[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    data = rec.datasets.movielens_100k()
    train, test = rec.stratified_split(data, ratio=0.75, filter_by="item", seed=42)
    test_users = pd.unique(test["user_id"])
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "train_rows": len(train), "test_rows": len(test), "runs": []}

    def record(name, seed, metrics, seconds, chosen=""):
        row = {"method": name, "seed": seed, **{m: round(v, 4) for m, v in metrics.items()},
               "fit_seconds": round(seconds, 2), "chosen": chosen}
        result["runs"].append(row)
        print(json.dumps(row), flush=True)

    for seed in range(args.seeds):
        t = time.perf_counter()
        als, _ = rec.tune([rec.ALS(regularization=r, unobserved_weight=a, device="cpu",
                                   random_state=seed)
                           for r in (0.01, 0.03, 0.1) for a in (0.1, 0.3, 1.0)],
                          train, random_state=seed)
        record("nexus ALS", seed, rec.evaluate(als, train, test), time.perf_counter() - t,
               repr(als))
        t = time.perf_counter()
        ease, _ = rec.tune([rec.EASE(regularization=r, device="cpu")
                            for r in (100.0, 200.0, 400.0, 800.0)], train, random_state=seed)
        record("nexus EASE", seed, rec.evaluate(ease, train, test), time.perf_counter() - t,
               repr(ease))
        t = time.perf_counter()
        hybrid = rec.Hybrid(device="cpu", random_state=seed).fit(train)
        record("nexus hybrid", seed, rec.evaluate(hybrid, train, test), time.perf_counter() - t,
               json.dumps({n: round(w, 2) for n, w in hybrid.weights_.items()}))
        t = time.perf_counter()
        params = tune_implicit(train, seed)
        fitted = fit_implicit(train, params, seed)
        record("implicit ALS (reference)", seed,
               rec.ranking_metrics(test, implicit_recs(fitted, test_users), 10),
               time.perf_counter() - t, json.dumps(params))
        for name, model in (("nexus item-kNN", rec.ItemKNN(device="cpu")),
                            ("nexus BPR", rec.BPR(device="cpu", random_state=seed)),
                            ("nexus content", rec.Content(device="cpu")),
                            ("popularity", rec.Popularity())):
            t = time.perf_counter()
            model.fit(train)
            record(name, seed, rec.evaluate(model, train, test), time.perf_counter() - t)

    runs = pd.DataFrame(result["runs"])
    summary = runs.groupby("method", sort=False)[["ndcg", "map", "precision", "recall"]].agg(
        ["mean", "std"]).round(4)
    print(summary.to_string())
    result["summary"] = {m: {f"{c}_{s}": float(v) for (c, s), v in row.items()}
                         for m, row in summary.iterrows()}

    # cold start: 100 users hidden from fitting; they show their 3 earliest interactions,
    # or nothing, and their profile (age, gender, occupation, zip code)
    people = rec.datasets.movielens_100k_users()
    rng = np.random.default_rng(0)
    hidden = rng.choice(pd.unique(train["user_id"]), 100, replace=False)
    fit_on = train[~train["user_id"].isin(hidden)]
    theirs = data[data["user_id"].isin(hidden)].sort_values(["user_id", "timestamp"],
                                                             kind="stable")
    shown = theirs.groupby("user_id").head(3)
    judged = theirs.drop(shown.index)
    profiles = people[people["user_id"].isin(hidden)]
    cold = {}
    for name, model, with_users in (
            ("popularity", rec.Popularity(), False), ("content", rec.Content(device="cpu"), False),
            ("EASE", rec.EASE(device="cpu"), False), ("ALS", rec.ALS(device="cpu"), False),
            ("demographic", rec.Demographic(device="cpu"), True),
            ("hybrid", rec.Hybrid(device="cpu"), True)):
        model.fit(fit_on, **({"users": people} if with_users else {}))
        for label, hist, truth in (("3 shown", shown, judged), ("nothing shown", None, theirs)):
            recs = model.recommend(hidden, k=10, history=hist,
                                   **({"users": profiles} if with_users else {}))
            row = {m: round(v, 4) for m, v in rec.ranking_metrics(truth, recs, 10).items()}
            if hasattr(model, "cold_weights_"):
                row["blend"] = model.cold_weights_
            cold[f"{name}, {label}"] = row
            print("cold start", name, label, row, flush=True)
    result["cold_start"] = cold
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
