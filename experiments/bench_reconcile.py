"""Reconciliation benchmark: nexus_lab against the plain approach, in one run.

For each size, synthetic bank and ledger tables with every case planted
(``nexus_lab.data.synth_reconciliation``) are reconciled by

* ``nexus``: ``nexus_lab.reconcile`` (device as given);
* ``plain``: what an analyst would write by hand: a pandas merge on the exact
  amount, filtered to the date window, descriptions scored with rapidfuzz's
  ``token_set_ratio``, then a greedy one-to-one pick (best score first);

and both are scored against the ground truth (F1 on one-to-one and on split
links). Every run goes in its own process so that peak memory is its own.
FEBRL record linkage (``nx.link`` against the ``recordlinkage`` toolkit) is
measured by ``experiments/febrl.py`` and included when ``--febrl`` is given.

With ``--profiles``, the tables come from those generator profiles of
``synth_reconciliation`` (``retail`` is the default one), and every row says which;
the table then also gives each stage's seconds for ``nexus``.

Usage::

    python experiments/bench_reconcile.py --sizes 100000 1000000 [--device cuda] [--febrl]
    python experiments/bench_reconcile.py --sizes 200000 --profiles retail payables dense
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import queue
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import markdown  # experiments/_tables.py, beside this script

HERE = Path(__file__).resolve().parent


def _rss_gb() -> float:
    """Current resident set size of this process in GB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e9


def plain_reconcile(bank: pd.DataFrame, ledger: pd.DataFrame, window: int = 7) -> pd.DataFrame:
    """The hand-written baseline: exact-amount merge, date window, fuzzy text, greedy."""
    from rapidfuzz import fuzz
    from rapidfuzz.process import cpdist

    b = bank.assign(cents=(bank["amount"] * 100).round().astype("int64"))
    lg = ledger.assign(cents=(ledger["amount"] * 100).round().astype("int64"))
    cols = ["transaction_id", "cents", "date", "description"]
    # one merge per day of lag on (amount, date): a merge on the amount alone would pair
    # every $20.00 with every other $20.00 of the year
    parts = []
    for lag in range(-window, window + 1):
        shifted = b[cols].assign(date=b["date"] - pd.Timedelta(days=lag))
        parts.append(
            shifted.merge(lg[cols], on=["cents", "date"], suffixes=("_b", "_l")).assign(lag=lag)
        )
    pairs = pd.concat(parts, ignore_index=True)
    lag = pairs["lag"]
    text = cpdist(
        pairs["description_b"].str.lower().tolist(), pairs["description_l"].str.lower().tolist(),
        scorer=fuzz.token_set_ratio, workers=-1,
    )
    pairs = pairs.assign(score=text - 2.0 * lag.abs())
    pairs = pairs[text >= 50].sort_values("score", ascending=False, kind="stable")
    # greedy: the best remaining pair first, each row used once
    pairs = pairs.drop_duplicates("transaction_id_b").drop_duplicates("transaction_id_l")
    return pd.DataFrame({
        "bank_id": pairs["transaction_id_b"].to_numpy(),
        "ledger_id": pairs["transaction_id_l"].to_numpy(),
        "confidence": np.clip(pairs["score"].to_numpy(), 0, 100),
        "match_type": "one_to_one",
    })


class _Frame:
    def __init__(self, matches):
        self.matches = matches


def _one_run(method: str, n: int, seed: int, device: str, out, profile: str = "retail"
             ) -> None:
    import torch

    import nexus_lab as nx

    torch.set_num_threads(max(1, torch.get_num_threads()))
    bank, ledger, truth = nx.data.synth_reconciliation(n, seed=seed, profile=profile)
    base = _rss_gb()
    t0 = time.perf_counter()
    if method == "nexus":
        res = nx.reconcile(bank, ledger, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        stages = {k: round(v, 3) for k, v in res.timings.items()}
    else:
        res = _Frame(plain_reconcile(bank, ledger))
        seconds = time.perf_counter() - t0
        stages = {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    report = nx.reconcile.evaluate(res, truth)
    out.put({
        "profile": profile, "method": method, "rows_per_side": n, "bank_rows": len(bank),
        "ledger_rows": len(ledger), "seconds": round(seconds, 3),
        "rows_per_second": round((len(bank) + len(ledger)) / seconds),
        "peak_rss_gb": round(peak, 2), "rss_before_gb": round(base, 2),
        "f1_one_to_one": round(report["one_to_one"]["f1"], 4),
        "f1_split": round(report["split"]["f1"], 4),
        "f1_all": round(report["all"]["f1"], 4),
        "ece": round(report["ece"], 4), "stages": stages,
    })


def run(sizes, device: str, seed: int, methods, profiles=("retail",)) -> list[dict]:
    ctx = mp.get_context("spawn")
    rows = []
    for profile in profiles:
        for n in sizes:
            for method in methods:
                q = ctx.Queue()
                p = ctx.Process(target=_one_run, args=(method, n, seed, device, q, profile))
                p.start()
                row = None
                while row is None and (p.is_alive() or not q.empty()):
                    try:
                        row = q.get(timeout=2)
                    except queue.Empty:
                        continue
                p.join()
                if row is None:  # the run died (out of memory, say): say so, go on
                    row = {"profile": profile, "method": method, "rows_per_side": n,
                           "error": f"the run ended with exit code {p.exitcode}",
                           "stages": {}}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", default=["nexus", "plain"])
    ap.add_argument("--profiles", nargs="+", default=["retail"],
                    help="generator profiles of synth_reconciliation (default: retail)")
    ap.add_argument("--febrl", action="store_true", help="also run experiments/febrl.py")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    rows = run(args.sizes, args.device, args.seed, args.methods, args.profiles)
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "device": args.device, "rows": rows}
    if args.febrl:
        sys.path.insert(0, str(HERE))
        from febrl import run_febrl

        result["febrl"] = run_febrl()
        print(json.dumps(result["febrl"], indent=1, default=str))
    table = pd.DataFrame(rows)
    stages = pd.DataFrame([r["stages"] for r in rows]).round(2)
    table = pd.concat([table.drop(columns=["stages"]), stages], axis=1).fillna("")
    print(markdown(table))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
