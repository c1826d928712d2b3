"""Reconciliation on unseen books: every generator profile, several sizes and seeds.

For each profile of ``nexus_lab.datasets.synth_reconciliation`` (retail,
payables, installments, fx, messy, signs, dense, marketplace), each size (rows per side,
roughly: ``n`` is the number of bank rows) and each seed, the tables are
reconciled the way a new user would: ``nx.reconcile(bank, ledger,
device="cpu")`` with the default settings and no ``columns=`` mapping. A run
that raises is reported as an error, not a crash. Each run is scored with
``nx.reconcile.evaluate`` against the planted truth.

The table gives, per profile and size, the mean over seeds of F1 on all links,
on one-to-one links (kinds one_to_one, tolerance, decoy) and on split links
(batch, installment), precision and recall on all links, the expected
calibration error, the share of bank rows the engine linked against the share
that should be linked, and the seconds per stage of ``result.timings``. The
JSON (``--json OUT``) also keeps every run, recall per planted kind and the
fitted match weights.

Usage::

    python experiments/eval_reconcile_profiles.py                     # everything
    python experiments/eval_reconcile_profiles.py --profiles fx messy --sizes 1000 --seeds 1
    python experiments/eval_reconcile_profiles.py --seeds-large 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

STAGES = ("prepare", "candidates", "scoring", "assignment", "splits", "tolerance", "output")
LINK_KINDS = ("one_to_one", "tolerance", "decoy", "batch", "installment")


class _Timeout(Exception):
    pass


class _Collect(logging.Handler):
    """Keeps the warnings the engine logs, to show whether it said anything."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:300])


def _alarm(signum, frame):  # pragma: no cover - only when a run overruns
    raise _Timeout()


def one_run(profile: str, n: int, seed: int, timeout: int) -> dict:
    """Generate, reconcile with the defaults, evaluate: one row of figures."""
    import nexus_lab as nx

    t0 = time.perf_counter()
    bank, ledger, truth = nx.datasets.synth_reconciliation(n, seed, profile=profile)
    row = {"profile": profile, "n": n, "seed": seed, "bank_rows": len(bank),
           "ledger_rows": len(ledger), "generate_s": round(time.perf_counter() - t0, 3)}
    links = truth.dropna(subset=["bank_id", "ledger_id"])
    links = links[links["kind"].isin(LINK_KINDS)]
    row["truth_linked_bank_share"] = round(links["bank_id"].nunique() / len(bank), 4)
    old = signal.signal(signal.SIGALRM, _alarm) if timeout else None
    if timeout:
        signal.alarm(timeout)
    collect = _Collect()
    logging.getLogger("nexus_lab").addHandler(collect)
    t0 = time.perf_counter()
    try:
        res = nx.reconcile(bank, ledger, device="cpu")
    except _Timeout:
        row["error"] = f"timeout after {timeout}s"
        return row
    except Exception as exc:  # a new user's run: report it, go on
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        row["traceback"] = traceback.format_exc(limit=3)
        return row
    finally:
        if timeout:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        logging.getLogger("nexus_lab").removeHandler(collect)
        row["warnings"] = collect.messages
    row["seconds"] = round(time.perf_counter() - t0, 3)
    report = nx.reconcile.evaluate(res, truth)
    for part in ("all", "one_to_one", "split"):
        for key in ("f1", "precision", "recall"):
            row[f"{key}_{part}"] = round(report[part][key], 4)
        row[f"predicted_{part}"] = report[part]["predicted"]
        row[f"true_{part}"] = report[part]["true"]
    row["ece"] = round(report["ece"], 4)
    row["linked_bank_share"] = round(res.matches["bank_id"].nunique() / len(bank), 4)
    row["stages"] = {k: round(float(v), 3) for k, v in res.timings.items()}
    # recall per planted kind: which structures the engine finds
    found = set(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    pairs = list(zip(links["bank_id"], links["ledger_id"]))
    hit = np.array([p in found for p in pairs], dtype=bool)
    row["recall_by_kind"] = {
        k: round(float(hit[(links["kind"] == k).to_numpy()].mean()), 4)
        for k in LINK_KINDS if (links["kind"] == k).any()
    }
    row["params"] = {k: v for k, v in res.params.items() if k != "device"}
    row["model"] = res.model.to_frame().round(4).to_dict(orient="records")
    return row


def summarize(rows: list[dict]) -> pd.DataFrame:
    """Seed means per profile and size."""
    out = []
    for (profile, n), group in pd.DataFrame(rows).groupby(["profile", "n"], sort=False):
        ok = group[group["error"].isna()] if "error" in group.columns else group
        rec = {"profile": profile, "n": n, "seeds": len(group), "errors": len(group) - len(ok),
               "bank_rows": int(group["bank_rows"].mean()),
               "ledger_rows": int(group["ledger_rows"].mean())}
        if len(ok):
            for col in ("f1_all", "f1_one_to_one", "f1_split", "precision_all", "recall_all",
                        "ece", "linked_bank_share", "truth_linked_bank_share", "seconds"):
                rec[col] = float(ok[col].mean())
            stages = pd.DataFrame(list(ok["stages"]))
            for s in STAGES:
                rec[f"t_{s}"] = float(stages[s].mean()) if s in stages else float("nan")
            rec["f1_all_by_seed"] = "/".join(f"{x:.2f}" for x in ok["f1_all"])
            rec["warned"] = int(sum(bool(w) for w in ok["warnings"]))
            kinds = pd.DataFrame(list(ok["recall_by_kind"]))
            for k in LINK_KINDS:
                rec[f"recall_{k}"] = float(kinds[k].mean()) if k in kinds else float("nan")
        if rec["errors"]:
            err = group["error"].dropna()
            rec["error"] = err.iloc[0]
        out.append(rec)
    return pd.DataFrame(out)


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def markdown(summary: pd.DataFrame) -> str:
    """One table per profile, as in experiments/RESULTS.md."""
    blocks = []
    for profile, t in summary.groupby("profile", sort=False):
        lines = [
            f"**{profile}**",
            "",
            "| rows/side | seeds | F1 all | F1 all by seed | F1 1:1 | F1 split | precision "
            "| recall | ECE | bank linked (true) | warned | prepare | candidates | scoring "
            "| assignment | splits | tolerance | output | total s |",
            "|" + "---|" * 19,
        ]
        for r in t.to_dict(orient="records"):
            n = f"{r['n']:,}"
            if "f1_all" not in r or not np.isfinite(r.get("f1_all", np.nan)):
                lines.append(f"| {n} | {r['seeds']} | error: {r.get('error', '?')} |"
                             + " |" * 16)
                continue
            errors = int(r["errors"])
            seeds = f"{r['seeds']}" + (f" ({errors} failed)" if errors else "")
            lines.append(
                f"| {n} | {seeds} | {_fmt(r['f1_all'])} | {r['f1_all_by_seed']} | "
                f"{_fmt(r['f1_one_to_one'])} | {_fmt(r['f1_split'])} | "
                f"{_fmt(r['precision_all'])} | {_fmt(r['recall_all'])} | {_fmt(r['ece'])} | "
                f"{r['linked_bank_share']:.0%} ({r['truth_linked_bank_share']:.0%}) | "
                f"{int(r['warned'])}/{r['seeds'] - errors} | "
                + " | ".join(_fmt(r[f"t_{s}"], 2) for s in STAGES)
                + f" | {_fmt(r['seconds'], 2)} |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def kinds_markdown(summary: pd.DataFrame) -> str:
    """Recall per planted link kind at each profile's largest size."""
    head = "| profile | rows/side | " + " | ".join(LINK_KINDS) + " |"
    lines = [head, "|" + "---|" * (len(LINK_KINDS) + 2)]
    for r in summary.to_dict(orient="records"):
        if "recall_one_to_one" not in r or not np.isfinite(r.get("f1_all", np.nan)):
            continue
        lines.append(f"| {r['profile']} | {r['n']:,} | "
                     + " | ".join(_fmt(r[f"recall_{k}"]) for k in LINK_KINDS) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    from nexus_lab.datasets import RECONCILIATION_PROFILES

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", nargs="+", default=list(RECONCILIATION_PROFILES),
                    choices=list(RECONCILIATION_PROFILES))
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 5000, 20000])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..SEEDS-1 per size")
    ap.add_argument("--seeds-large", type=int, default=None,
                    help="fewer seeds for sizes >= --large (default: --seeds)")
    ap.add_argument("--large", type=int, default=20000)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run (0: none)")
    ap.add_argument("--json", type=Path, default=None, help="write every run and the means here")
    args = ap.parse_args(argv)

    import torch

    rows = []
    t_all = time.perf_counter()
    for profile in args.profiles:
        for n in args.sizes:
            seeds = args.seeds
            if args.seeds_large is not None and n >= args.large:
                seeds = args.seeds_large
            for seed in range(seeds):
                row = one_run(profile, n, seed, args.timeout)
                rows.append(row)
                brief = {k: row.get(k) for k in ("profile", "n", "seed", "f1_all", "f1_one_to_one",
                                                 "f1_split", "ece", "seconds", "error")}
                print(json.dumps(brief), flush=True)
    summary = summarize(rows)
    print()
    print(markdown(summary))
    print()
    print(kinds_markdown(summary))
    print(f"\ntotal {time.perf_counter() - t_all:.0f}s")
    if args.json:
        result = {
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "command": " ".join(sys.argv),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "summary": summary.to_dict(orient="records"), "runs": rows,
        }
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
