"""``nexus-lab reconcile``: a bank statement against a ledger, from files or the store.

Command::

    nexus-lab reconcile [BANK LEDGER] --out DIR [--store URL] [--account A]
                        [--from DATE] [--to DATE] [--amount-tolerance 5] [--date-window 7]
                        [--device auto] [--bank-columns amount=Amt,date=Posted]
                        [--ledger-columns ...] [--columns ...] [--sheet NAME] [--no-track]
                        [--sign auto] [--decimal auto] [--dayfirst | --monthfirst]
                        [--scheduler local|tcp://host:port] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from nexus_lab.cli._common import (
    day_order,
    mapping,
    on_cluster,
    quiet_mlflow,
    read,
    run_settings,
)
from nexus_lab.config import redact
from nexus_lab.errors import NexusError


def register(sub: Any) -> None:
    """Register ``reconcile``."""
    rec = sub.add_parser(
        "reconcile",
        help="reconcile a bank statement against a ledger",
        description="Reconcile a bank statement against a ledger (CSV, Parquet or Excel) and "
        "write the matches, the open items with reasons, summary.json and report.html to "
        "--out, all at once; the run is logged to MLflow unless --no-track.",
    )
    rec.add_argument("bank", nargs="?", default=None,
                     help="bank statement: a file nx.read_table reads (CSV, Parquet, Excel, "
                     "OFX, CAMT.053, MT940); none: the store's")
    rec.add_argument("ledger", nargs="?", default=None,
                     help="ledger: a file, as the bank's; none: the store's")
    rec.add_argument("--out", required=True, metavar="DIR", help="output folder")
    rec.add_argument("--store", default=None, metavar="URL",
                     help="read the tables from this store when no files are given, and keep "
                     "the result there for review (default with no files: NEXUS_LAB_STORE, "
                     "else nexus.db in the user's data folder)")
    rec.add_argument("--account", default=None, help="the store's account to reconcile")
    rec.add_argument("--from", dest="start", default=None, metavar="DATE",
                     help="the period's first day (rows of the store)")
    rec.add_argument("--to", dest="end", default=None, metavar="DATE",
                     help="the period's last day (rows of the store)")
    run_settings(rec)
    rec.add_argument("--bank-columns", metavar="MAP",
                     help="bank column names, e.g. amount=Amt,date=Posted,transaction_id=Id")
    rec.add_argument("--ledger-columns", metavar="MAP", help="ledger column names, as above")
    rec.add_argument("--columns", metavar="MAP", help="column names shared by both tables")
    rec.add_argument("--sheet", default=None,
                     help="worksheet of .xlsx inputs: a name or 0-based position for both, "
                     "or one per file, e.g. bank=Data,ledger=Entries (default: the first)")
    on_cluster(rec)
    rec.set_defaults(func=_reconcile, column_flags={"bank": "--bank-columns",
                                                    "ledger": "--ledger-columns"})



def _reconcile(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir
    from nexus_lab.workflows import reconcile_and_export

    check_out_dir(args.out)  # before the work, not after it
    if (args.bank is None) != (args.ledger is None):
        raise NexusError("give both files (BANK LEDGER), or neither to reconcile the store's")
    store = None
    if args.bank is None or args.store is not None:
        from nexus_lab import auth
        from nexus_lab.cli.records import open_store

        store = open_store(args.store)
        auth.require("reconciliation.run", store=store, resource="reconciliation_runs")
    shared = mapping(args.columns, "--columns")
    bank_map = {**shared, **mapping(args.bank_columns, "--bank-columns")}
    ledger_map = {**shared, **mapping(args.ledger_columns, "--ledger-columns")}
    if args.bank is None:
        from nexus_lab.workflows import load_books

        bank, ledger = load_books(store, account=args.account, start=args.start, end=args.end)
        sources = None
        names = {"bank": f"bank_statements of {store.where}"
                 + (f" (account {args.account})" if args.account else ""),
                 "ledger": f"expenses of {store.where}"}
    else:
        names = None
        bank = read(args.bank, "bank", bank_map, args.sheet)
        ledger = read(args.ledger, "ledger", ledger_map, args.sheet)
        sources = {"bank": (args.bank, bank_map), "ledger": (args.ledger, ledger_map)}
    settings: dict[str, object] = {"device_requested": args.device}
    if bank_map:
        settings["bank_columns"] = bank_map
    if ledger_map:
        settings["ledger_columns"] = ledger_map
    if not args.no_track:
        quiet_mlflow()
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler or args.workers is not None:
            from nexus_lab import scale

            client = stack.enter_context(scale.cluster(scheduler=args.scheduler,
                                                       workers=args.workers))
            print(f"On Dask: {scale.dashboard_link(client) or 'no dashboard'}", flush=True)
        run = reconcile_and_export(
            bank, ledger, args.out, amount_tolerance=args.amount_tolerance,
            date_window=args.date_window, device=args.device,
            sources=sources, names=names, settings=settings, track=not args.no_track,
            source="cli", sign=args.sign, decimal=args.decimal,
            dayfirst=day_order(args, ("bank", "ledger")), client=client)
    print_summary(run)
    if store is not None:
        from nexus_lab.workflows import save_reconciliation

        run_id = save_reconciliation(
            run.result, store=store, account=args.account or "",
            start=args.start or bank["date"].min(), end=args.end or bank["date"].max(),
            mlflow_run_id=getattr(run.export, "run_id", None))
        print(f"kept in {store.where} as run {run_id}; approve it with: nexus-lab review "
              f"approve {run_id}")
    return 0


def print_summary(run: Any, truth: Any = None) -> None:
    """Print what a :func:`~nexus_lab.workflows.reconcile_and_export` run found."""
    res, inputs, export = run.result, run.inputs, run.export
    s = res.summary()
    names = [str(inputs[side].get("name", side)) for side in ("bank", "ledger")]
    reasons = res.reasons()
    open_parts = []
    for reason, row in reasons.iterrows():
        total = int(row.sum())
        open_parts.append(f"{reason} {total:,}")
    dask = res.params.get("dask")
    where = (f" (Dask: {dask['workers']} worker{'s' * (dask['workers'] != 1)}, "
             f"{dask['partitions']} shards)" if isinstance(dask, dict) else "")
    print(
        f"Reconciled {names[0]} ({s['bank_rows']:,} rows) against {names[1]} "
        f"({s['ledger_rows']:,} rows) on {res.params.get('device', '?')}{where} in "
        f"{s['seconds']:.1f} s"
    )
    mean = "" if not s["matched_pairs"] else f", mean confidence {s['mean_confidence']:.1f}"
    groups = [f"{n:,} {kind} group{'s' if n != 1 else ''}"
              for n, kind in ((s["batch_groups"], "batch"), (s["installment_groups"],
                                                              "installment")) if n]
    rest = f", the rest in {' and '.join(groups)}" if groups else ""
    print(f"  {res.rate:.1%} of the bank amount reconciled: {s['matched_pairs']:,} matched pairs "
          f"({s['one_to_one']:,} one-to-one{rest}){mean}")
    print(f"  open: {s['unmatched_bank']:,} bank rows, {s['unmatched_ledger']:,} ledger rows"
          + (f" ({', '.join(open_parts)})" if open_parts else ""))
    if truth is not None:
        from nexus_lab.reconcile import evaluate

        ev = evaluate(res, truth)
        print(f"  against the planted truth: one-to-one F1 {ev['one_to_one']['f1']:.3f}, "
              f"split F1 {ev['split']['f1']:.3f}")
    for warning in res.warnings:
        print(f"  WARNING: the learned model is suspect: {warning}; review the matches")
    print(f"  outputs: {export.folder}{os.sep} (matches, unmatched_bank, unmatched_ledger as "
          ".parquet and .csv; match_weights.csv; summary.json)")
    print(f"  report:  {export.report}")
    if export.run_id:
        print(f"  tracked: MLflow run {export.run_id} in experiment 'nexus-reconcile' at "
              f"{redact(export.tracking_uri)}")
