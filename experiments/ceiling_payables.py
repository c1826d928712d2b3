"""How many payment runs of the ``payables`` profile can be identified at all.

A payment-run debit whose text lists no invoice number names only the vendor and
the total. Any set of that vendor's open invoices with the same total in cents is
then an equally good answer: amounts, dates and names cannot tell them apart
(the generator draws each invoice's day uniformly within the vendor's billing
cycle, so dates carry no order either).

For a sample of runs this script counts the subsets of the vendor's invoices,
issued within ``--horizon`` days before the debit and not paid by an earlier debit
(an oracle: it knows which invoices earlier runs consumed, so the count is a lower
bound on the real ambiguity), whose total equals the debit exactly (a dynamic
programme over cents). A matcher without other evidence picks the true set among
``c`` equal ones with probability ``1/c``; listed runs count as found. The
resulting batch-recall ceiling, and the F1 ceiling over all links that follows from
it with every other link found and nothing wrong, are printed per seed.

Usage::

    python experiments/ceiling_payables.py --n 20000 --seeds 0 1 2 --sample 200
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

import nexus_lab as nx


def _days(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy().astype("datetime64[D]").astype(np.int64)


def _subsets_with_total(values: np.ndarray, total: int) -> float:
    """Number of subsets of ``values`` (cents, any sign) whose sum is ``total``."""
    lo, hi = int(values[values < 0].sum()), int(values[values > 0].sum())
    if not lo <= total <= hi:
        return 0.0
    count = np.zeros(hi - lo + 1)
    count[-lo] = 1.0
    for x in values:
        if x > 0:
            count[x:] += count[:-x].copy()
        elif x < 0:
            count[:x] += count[-x:].copy()
    return float(count[total - lo])


def ceiling(n: int, seed: int, sample: int, horizon: int) -> dict:
    bank, ledger, truth = nx.data.synth_reconciliation(n, seed=seed, profile="payables")
    l_cents = (ledger["amount"] * 100).round().astype(np.int64).to_numpy()
    b_cents = (bank["amount"].abs() * 100).round().astype(np.int64).to_numpy()
    l_day, b_day = _days(ledger["date"]), _days(bank["date"])
    l_pos = pd.Series(np.arange(len(ledger)), index=ledger["transaction_id"])
    b_pos = pd.Series(np.arange(len(bank)), index=bank["transaction_id"])
    links = truth.dropna(subset=["bank_id", "ledger_id"])
    paid = np.full(len(ledger), np.iinfo(np.int64).max)
    paid[l_pos[links["ledger_id"]].to_numpy()] = b_day[b_pos[links["bank_id"]].to_numpy()]
    vendor = ledger["vendor"].to_numpy()
    batch = links[links["kind"] == "batch"]
    groups = batch["group_id"].unique()
    np.random.default_rng(seed).shuffle(groups)
    rows = []
    for g in groups[:sample]:
        part = batch[batch["group_id"] == g]
        b = b_pos[part["bank_id"].iloc[0]]
        own = l_pos[part["ledger_id"]].to_numpy()
        text = bank["description"].iloc[b]
        listed = any(r in text for r in ledger["reference"].iloc[own].astype(str))
        pool = np.flatnonzero((vendor == vendor[own[0]]) & (l_day <= b_day[b])
                              & (l_day >= b_day[b] - horizon) & (paid >= b_day[b]))
        found = np.isin(own, pool).all()
        rows.append((listed, len(own), len(pool), found,
                     _subsets_with_total(l_cents[pool], int(b_cents[b])) if found else 0.0))
    r = pd.DataFrame(rows, columns=["listed", "size", "pool", "in_pool", "subsets"])
    unlisted = r[~r["listed"]]
    pick = np.where(unlisted["subsets"] >= 1, 1 / np.maximum(unlisted["subsets"], 1), 0.0)
    # recall over batch *links* (ledger lines), the way the evaluation counts them
    found_links = r.loc[r["listed"], "size"].sum() + (unlisted["size"] * pick).sum()
    batch_recall = found_links / r["size"].sum()
    share = len(batch) / len(links)
    recall_all = 1 - share * (1 - batch_recall)
    return {
        "seed": seed, "runs": len(r), "listed": round(r["listed"].mean(), 3),
        "unlisted_pool_median": float(unlisted["pool"].median()),
        "unlisted_ambiguous": round((unlisted["subsets"] >= 2).mean(), 3),
        "batch_link_share": round(share, 3),
        "batch_recall_ceiling": round(batch_recall, 3),
        "f1_all_ceiling": round(2 * recall_all / (1 + recall_all), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--horizon", type=int, default=120)
    a = ap.parse_args()
    out = pd.DataFrame([ceiling(a.n, s, a.sample, a.horizon) for s in a.seeds])
    print(out.to_string(index=False))


if __name__ == "__main__":
    main()
