"""Suspected duplicates in a bank statement: precision and recall on planted near-duplicates.

For every reconciliation profile (each its own generator), the bank table's own look-alike
payments (the same amount within five days) are left out, then ``--share`` of the rows are
copied back in three ways, a third each: the description retyped (lower case, a suffix),
the date 1-2 days later, and both. Three finders run on the same tables in this process:

* ``nexus``: :func:`nexus_lab.workflows.standardize_table`'s finder, ``nx.link`` within the
  table on date, amount in cents and description (confidence >= 80);
* ``plain``: what an analyst writes by hand: a self-merge on the exact amount, dates at
  most 3 days apart, rapidfuzz ``token_set_ratio`` >= 90 on the descriptions;
* ``exact``: :func:`nexus_lab.standardize.standardize` without a finder (same date, amount,
  currency and normalized description).

The threshold of ``nexus`` was chosen on the ``retail`` profile; the others were not looked
at before the figures below were taken.

Usage::

    python experiments/eval_standardize.py [--n 2000] [--seeds 0 1] [--share 0.05]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

import nexus_lab as nx
from nexus_lab.workflows import link_duplicates


def planted(profile: str, n: int, seed: int, share: float
            ) -> tuple[pd.DataFrame, set[tuple[int, int]], dict[tuple[int, int], str]]:
    bank, _, _ = nx.datasets.synth_reconciliation(n, seed=seed, profile=profile)
    s = bank.sort_values(["amount", "date"])
    near = s["amount"].diff().eq(0) & s["date"].diff().dt.days.le(5)
    bank = bank.drop(index=s.index[near | near.shift(-1, fill_value=False)])
    bank = bank.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    k = max(3, int(share * len(bank)))
    src = np.sort(rng.choice(len(bank), k, replace=False))
    dup = bank.iloc[src].copy()
    how = np.array(["description", "date", "both"])[np.arange(k) % 3]
    text = how != "date"
    dup.loc[text, "description"] = dup.loc[text, "description"].str.lower() + " ref"
    later = how != "description"
    dup.loc[later, "date"] = dup.loc[later, "date"] + pd.to_timedelta(
        rng.integers(1, 3, int(later.sum())), "D")
    dup["transaction_id"] = [f"DUP{i}" for i in range(k)]
    table = pd.concat([bank, dup], ignore_index=True)
    pairs = [(int(a), len(bank) + i) for i, a in enumerate(src)]
    return table, set(pairs), dict(zip(pairs, how, strict=True))


def plain(frame: pd.DataFrame) -> set[tuple[int, int]]:
    t = frame[["date", "amount_cents", "description"]].assign(row=np.arange(len(frame)))
    m = t.merge(t, on="amount_cents", suffixes=("_l", "_r"))
    m = m[(m["row_l"] < m["row_r"])
          & ((m["date_l"] - m["date_r"]).abs() <= pd.Timedelta(days=3))]
    score = process.cpdist(m["description_l"].str.lower().tolist(),
                           m["description_r"].str.lower().tolist(),
                           scorer=fuzz.token_set_ratio, workers=1)
    keep = m[score >= 90]
    return set(zip(keep["row_l"].tolist(), keep["row_r"].tolist(), strict=True))


def measure(found: set, truth: set, kinds: dict) -> dict:
    tp = found & truth
    out = {"found": len(found), "precision": len(tp) / len(found) if found else float("nan"),
           "recall": len(tp) / len(truth)}
    for kind in ("description", "date", "both"):
        want = {p for p, h in kinds.items() if h == kind}
        out[f"recall {kind}"] = len(want & found) / len(want)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--share", type=float, default=0.05)
    args = ap.parse_args()
    rows = []
    finder = link_duplicates(80.0, device="cpu")
    for profile in nx.datasets.RECONCILIATION_PROFILES:
        for seed in args.seeds:
            table, truth, kinds = planted(profile, args.n, seed, args.share)
            for method in ("nexus", "plain", "exact"):
                t0 = time.perf_counter()
                if method == "exact":
                    res = nx.standardize(table, currency="USD")
                    d = res.duplicates
                    found = set(zip(d["left_row"], d["right_row"], strict=True))
                elif method == "nexus":
                    res = nx.standardize(table, currency="USD", duplicates=finder)
                    d = res.duplicates
                    found = set(zip(d["left_row"], d["right_row"], strict=True))
                else:
                    found = plain(nx.standardize(table, currency="USD").frame)
                rows.append({"profile": profile, "seed": seed, "method": method,
                             "rows": len(table), "planted": len(truth),
                             "seconds": time.perf_counter() - t0,
                             **measure(found, truth, kinds)})
    df = pd.DataFrame(rows)
    by = df.groupby(["profile", "method"], sort=False).agg(
        rows=("rows", "mean"), planted=("planted", "sum"), found=("found", "sum"),
        precision=("precision", "mean"), recall=("recall", "mean"),
        recall_description=("recall description", "mean"), recall_date=("recall date", "mean"),
        recall_both=("recall both", "mean"), seconds=("seconds", "mean"))
    print(by.round(3).to_string())
    print()
    print(df.groupby("method", sort=False)[["precision", "recall"]].mean().round(3)
          .to_string())


if __name__ == "__main__":
    main()
