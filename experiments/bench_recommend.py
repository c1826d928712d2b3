"""Recommender speed: fit time against implicit, single-user latency, streamed batch top-k.

* Fit on MovieLens-100k's training split (the benchmark's 75/25 split): nexus ALS
  and implicit's ALS with the same factors (64) and iterations (15), in one run;
  EASE and item-kNN too.
* Top-10 for one user: ``model.recommend([user], k=10)`` called for 2,000 random
  users, one at a time; p50 and p99 of the wall time per call.
* Batch top-10 for every user of a synthetic set (``--users`` x ``--items``):
  streamed in blocks of users, so the users x items score matrix never exists
  whole; seconds and peak memory against the size that matrix would have.
* On CUDA (``--device cuda``): the time of one ALS iteration at 256 factors on a
  synthetic set of ``--gpu-interactions`` interactions.

Usage::

    python experiments/bench_recommend.py [--device cpu] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import nexus_lab as nx

rec = nx.recommend


def _best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--gpu-interactions", type=int, default=20_000_000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import torch

    out = {"machine": platform.platform(), "python": sys.version.split()[0],
           "torch_threads": torch.get_num_threads(), "device": args.device}
    data = rec.datasets.movielens_100k(items=False)
    train, _ = rec.stratified_split(data, ratio=0.75, filter_by="item", seed=42)

    # fit time against implicit
    fits = {}
    fits["nexus ALS"] = _best_of(lambda: rec.ALS(factors=64, iterations=15,
                                                 device=args.device).fit(train))
    try:
        import implicit
        import scipy.sparse as sp
        from threadpoolctl import threadpool_limits

        users = pd.Index(pd.unique(train["user_id"]))
        items = pd.Index(pd.unique(train["item_id"]))
        m = sp.csr_matrix((np.ones(len(train), np.float32),
                           (users.get_indexer(train["user_id"]),
                            items.get_indexer(train["item_id"]))))

        def implicit_fit():
            with threadpool_limits(1, "blas"):
                implicit.cpu.als.AlternatingLeastSquares(
                    factors=64, iterations=15, random_state=0).fit(m, show_progress=False)

        fits["implicit ALS (reference)"] = _best_of(implicit_fit)
    except ImportError:
        print("implicit is not installed (pip install implicit): no reference", flush=True)
    fits["nexus EASE"] = _best_of(lambda: rec.EASE(device=args.device).fit(train))
    fits["nexus item-kNN"] = _best_of(lambda: rec.ItemKNN(device=args.device).fit(train))
    out["fit_seconds_ml100k"] = {k: round(v, 3) for k, v in fits.items()}
    if "implicit ALS (reference)" in fits:
        out["als_fit_ratio_to_implicit"] = round(
            fits["nexus ALS"] / fits["implicit ALS (reference)"], 2)
    print(json.dumps(out, indent=1), flush=True)

    # one user at a time
    latency = {}
    rng = np.random.default_rng(0)
    for name, model in (("ALS", rec.ALS(device=args.device)),
                        ("EASE", rec.EASE(device=args.device))):
        model.fit(train)
        ids = rng.choice(model.users_.to_numpy(), 2_000)
        for u in ids[:50]:  # warm-up
            model.recommend([u], k=10)
        times = np.empty(len(ids))
        for n, u in enumerate(ids):
            t = time.perf_counter()
            model.recommend([u], k=10)
            times[n] = time.perf_counter() - t
        latency[name] = {"p50_ms": round(1e3 * float(np.percentile(times, 50)), 3),
                         "p99_ms": round(1e3 * float(np.percentile(times, 99)), 3)}
    out["one_user_top10"] = latency
    print(json.dumps(latency), flush=True)

    # every user, streamed
    big = nx.data.synth_interactions(args.users, args.items, per_user=20, seed=0, metadata=False)
    als = rec.ALS(factors=64, iterations=5, device=args.device).fit(big)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    recs = als.recommend(None, k=10)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["all_users_top10"] = {
        "users": args.users, "items": args.items, "interactions": len(big),
        "seconds": round(seconds, 2), "users_per_second": round(args.users / seconds),
        "rows": len(recs), "peak_rss_gb": round(peak / 2**20, 2),
        "peak_growth_gb": round((peak - before) / 2**20, 2),
        "full_score_matrix_gb": round(args.users * args.items * 4 / 2**30, 2)}
    print(json.dumps(out["all_users_top10"]), flush=True)

    if args.device.startswith("cuda"):
        n_items = 200_000
        n_users = args.gpu_interactions // 100
        big = nx.data.synth_interactions(n_users, n_items, per_user=100, seed=0,
                                         metadata=False)
        model = rec.ALS(factors=256, iterations=1, device=args.device).fit(big.head(1000))
        t = time.perf_counter()
        model = rec.ALS(factors=256, iterations=3, device=args.device).fit(big)
        torch.cuda.synchronize()
        total = time.perf_counter() - t
        out["gpu_als"] = {"interactions": len(big), "factors": 256,
                          "seconds_3_iterations_with_setup": round(total, 3)}
        print(json.dumps(out["gpu_als"]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
