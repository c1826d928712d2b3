"""How independent the reconciliation engine's decisions are: the groups of rows that
can be decided apart from each other, stage by stage, on every generator profile.

A distributed ``reconcile`` that must give the single-machine result exactly can only
hand a worker a group of rows that no decision links to rows outside it. Two rows are
linked when a stage of the engine may pair them:

* ``exact``: the same amount (and currency) within the date window (the first stage:
  candidates, Fellegi-Sunter weights, one-to-one assignment);
* ``+ parties``: also the same counterparty (or name key) within the window, which the
  splits, payouts and tolerance stages look at, over every row;
* ``open, 60 days``: only the rows still open after the first stage, linked by
  counterparty or name key within the payment-run horizon (splits, payouts, tolerance);
* ``open, 400 days``: the same within the installment plans' horizon.

Groups are found by linking, per key (amount, counterparty or name key), the rows of both
sides in date order whenever two neighbours are within the window: this links at least
every pair the stage may compare (and some rows that no pair joins), so the groups
reported are at most as many, and the largest at least as large, as the stage's own.
For each graph the script reports the number of connected groups and the share of rows
in the largest: a share near 1 means that stage cannot be split without changing its
result; a small share means it can be decided group by group on many workers (with the
learned parts: sign, window, names, the match model, fees, split odds, computed over
all rows first). Rows open after the first stage are those not linked one-to-one at an
exact amount by ``nx.reconcile`` itself.

Usage::

    python experiments/reconcile_blocks.py --n 100000 [--profiles retail payables ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

import nexus_lab as nx
from nexus_lab.device import resolve_device
from nexus_lab.reconcile._prepare import (
    BANK_OPTIONAL,
    LEDGER_OPTIONAL,
    align_signs,
    partition_currencies,
    prepare_side,
    resolve_counterparties,
)
from nexus_lab.reconcile._windows import learn_window


def _chain(key: np.ndarray, day: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges between neighbours in (key, day) order of one key within ``horizon`` days
    (rows with a negative key have none)."""
    rows = np.flatnonzero(key >= 0)
    order = rows[np.lexsort((day[rows], key[rows]))]
    near = (key[order[1:]] == key[order[:-1]]) & (day[order[1:]] - day[order[:-1]] <= horizon)
    return order[:-1][near], order[1:][near]


def _groups(n: int, edges: list[tuple[np.ndarray, np.ndarray]],
            rows: np.ndarray | None = None) -> dict:
    """Connected groups of ``n`` rows (bank rows first, then ledger rows); ``rows`` (a
    mask) counts only those rows."""
    i = np.concatenate([e[0] for e in edges]).astype(np.int64)
    j = np.concatenate([e[1] for e in edges]).astype(np.int64)
    graph = sp.coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    if rows is not None:
        label = label[rows]
    sizes = np.bincount(label)
    sizes = sizes[sizes > 0]
    share = round(float(sizes.max() / sizes.sum()), 4)
    return {"rows": int(sizes.sum()), "groups": len(sizes), "largest": int(sizes.max()),
            "largest_share": share}


def _keyed(b, lg, horizon: int, keys: list[tuple[np.ndarray, np.ndarray]],
           open_rows: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Edges of rows sharing one of ``keys`` (bank's, ledger's) within ``horizon`` days."""
    day = np.r_[b.day, lg.day]
    out = []
    for key_b, key_l in keys:
        key = np.r_[key_b, key_l].astype(np.int64)
        if open_rows is not None:
            key = np.where(open_rows, key, -1)
        out.append(_chain(key, day, horizon))
    return out


def profile_blocks(profile: str, n: int, seed: int) -> dict:
    bank, ledger, _ = nx.datasets.synth_reconciliation(n, seed=seed, profile=profile)
    b = prepare_side(bank, "bank", BANK_OPTIONAL, {})
    lg = prepare_side(ledger, "ledger", LEDGER_OPTIONAL, {})
    partition_currencies(b, lg)
    align_signs(b, lg, "auto")
    window, _ = learn_window(b.cents, b.day, lg.cents, lg.day)
    resolve_counterparties(b, lg, resolve_device("cpu"))
    n_b, n_l = len(b), len(lg)
    n = n_b + n_l
    # one key for an amount of one currency partition
    span_p = int(max(b.part.max(), lg.part.max())) + 1
    amount = pd.factorize(np.r_[b.cents, lg.cents] * span_p + np.r_[b.part, lg.part])[0]
    exact = (amount[:n_b], amount[n_b:])
    parties = list(zip(b.keys, lg.keys, strict=True))
    out = {"profile": profile, "n_bank": n_b, "n_ledger": n_l, "window": window}
    out["exact"] = _groups(n, _keyed(b, lg, window, [exact]))
    out["+ parties"] = _groups(n, _keyed(b, lg, window, [exact, *parties]))
    res = nx.reconcile(bank, ledger, device="cpu")
    m = res.matches
    first = m[(m["match_type"] == "one_to_one") & (m["amount_difference"] == 0)]
    open_rows = np.r_[~pd.Index(b.ids).isin(first["bank_id"]),
                      ~pd.Index(lg.ids).isin(first["ledger_id"])]
    out["open_bank"], out["open_ledger"] = int(open_rows[:n_b].sum()), int(open_rows[n_b:].sum())
    for horizon in (60, 400):
        out[f"open, {horizon} days"] = _groups(
            n, [(np.zeros(0, np.int64),) * 2, *_keyed(b, lg, horizon, parties, open_rows)],
            open_rows)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profiles", nargs="+", default=list(nx.datasets.RECONCILIATION_PROFILES))
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    found = []
    print("| profile | bank rows | window | graph | groups | largest group | share of rows |")
    print("|---|---|---|---|---|---|---|")
    for profile in args.profiles:
        t = time.perf_counter()
        r = profile_blocks(profile, args.n, args.seed)
        found.append(r)
        for graph in ("exact", "+ parties", "open, 60 days", "open, 400 days"):
            g = r[graph]
            print(f"| {profile} | {r['n_bank']:,} | {r['window']} | {graph} ({g['rows']:,} rows) "
                  f"| {g['groups']:,} | {g['largest']:,} | {g['largest_share']:.1%} |",
                  flush=True)
        print(f"<!-- {profile}: {time.perf_counter() - t:.0f} s -->", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(found, fh, indent=1)


if __name__ == "__main__":
    main()
