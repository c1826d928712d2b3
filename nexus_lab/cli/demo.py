"""``nexus-lab demo`` and ``nexus-lab data sample``: the bundled sample data.

Commands::

    nexus-lab demo [--out out/demo] [--no-track]
    nexus-lab data sample [--n 2000] [--seed 7] [--out data]

The steps are :mod:`nexus_lab.workflows`'; this module only prints what they found.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from nexus_lab.cli._common import day_order, quiet_mlflow, run_settings
from nexus_lab.cli.fraud import print_training
from nexus_lab.cli.recommend import print_recommender
from nexus_lab.cli.reconcile import print_summary
from nexus_lab.config import redact
from nexus_lab.workflows import SAMPLE


def register(sub: Any) -> None:
    """Register ``demo`` and ``data sample``."""
    demo = sub.add_parser(
        "demo", help="run every kernel on the bundled sample data",
        description="Reconcile the bundled sample data (data/bank.csv against data/ledger.csv), "
        "then train and register a fraud detector on data/transactions.csv and score its "
        "latest weeks, then train and register the self-tuning recommender on "
        "data/interactions.csv, compress the transactions and the item embeddings, run the "
        "audit tests on data/gl.csv and sign their workpaper, and "
        "finally approve, seal, sign and take in the results as evidence of a case, with "
        "every action in a signed audit log anchored on an in-process Ethereum chain; write "
        "the outputs and reports, and log the runs to the local MLflow store.",
    )
    demo.add_argument("--out", default="out/demo", metavar="DIR",
                      help="output folder (default: out/demo)")
    run_settings(demo)
    demo.set_defaults(func=_demo)

    data = sub.add_parser("data", help="sample data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    sample = data_sub.add_parser(
        "sample", help="write the sample bank statement, ledger, true links, transactions and "
        "general ledger",
        description="Write bank.csv, ledger.csv and truth.csv made by "
        "nexus_lab.datasets.synth_reconciliation, transactions.csv (fraud patterns planted, "
        "labelled) made by nexus_lab.datasets.synth_transactions, interactions.csv (users "
        "and a catalogue with titles and genres) made by "
        "nexus_lab.datasets.synth_interactions, and gl.csv (a year's journal entries with "
        "misstatements planted) and erp_events.csv (its ERP's user log) made by "
        "nexus_lab.datasets.synth_general_ledger and synth_erp_events; the same --n and "
        "--seed give the same files.",
    )
    sample.add_argument("--n", type=int, default=SAMPLE.n, help="about this many bank rows")
    sample.add_argument("--seed", type=int, default=SAMPLE.seed,
                        help=f"random seed; the same seed gives the same files (default "
                        f"{SAMPLE.seed})")
    sample.add_argument("--out", default="data", metavar="DIR",
                        help="folder to write to (default: data)")
    sample.set_defaults(func=_sample)


def _demo(args: argparse.Namespace) -> int:
    from nexus_lab import workflows as wf
    from nexus_lab.auth import acting_as
    from nexus_lab.files import check_out_dir
    from nexus_lab.tracking import default_tracking_uri

    check_out_dir(args.out)
    out, track = Path(args.out), not args.no_track
    sample = wf.load_sample()
    if sample.generated:
        print(f"{wf.DATA} has no sample data; generating it in memory "
              f"(n={SAMPLE.n}, seed={SAMPLE.seed})")
    if track:
        quiet_mlflow()
    uri = default_tracking_uri()
    with wf.demo_trail() as trail:  # every step's state changes go to one signed audit log
        run = wf.reconcile_and_export(
            sample.bank, sample.ledger, out, amount_tolerance=args.amount_tolerance,
            date_window=args.date_window, device=args.device, sources=wf.sources_of(sample),
            sign=args.sign, decimal=args.decimal, dayfirst=day_order(args, ("bank", "ledger")),
            settings={"device_requested": args.device, "data": "sample"}, track=track,
            source="demo")
        print_summary(run, sample.truth)

        print()
        records = wf.records_step(sample, out, device=args.device)
        _print_records(records)

        print()
        _print_examine(wf.examine_step(sample, out, records["store"]))

        print()
        fraud = wf.fraud_step(sample.transactions, out, device=args.device, track=track)
        print_training(fraud, "transactions.csv", uri)
        print(f"  outputs: {fraud['folder']}{os.sep} (scored held-out rows, summary.json, "
              "report.html)")
        with acting_as("ana"):
            fraud_run = wf.save_fraud_scores(fraud["holdout_scores"],
                                             fraud.get("holdout_transactions"),
                                             store=str(records["store"]), model="demo")
        print(f"  the scores kept in {records['store']} for review (fraud run "
              f"{fraud_run[:12]})")
        case = wf.case_step(records["store"], fraud_run)
        sealed = ", ".join(case["evidence"]) or "held already"
        print(f"  ana escalated its riskiest flag into case {case['case_id']} (evidence: "
              f"{sealed}; case store {case['path']})")

        print()
        rec = wf.recommend_step(sample.interactions, out, device=args.device, track=track)
        print_recommender(rec, "hybrid", "interactions.csv", 10, uri)
        print(f"  outputs: {rec['folder']}{os.sep} (every user's top 10: recommendations.csv; "
              "metrics.json)")

        print("\ncompress: the sample transactions and the recommender's item embeddings")
        _print_compress(wf.compress_step(sample.transactions, sample.interactions, out,
                                         device=args.device))

        print("\nprovenance: post-quantum keys, sealed evidence, a signed audit trail on a "
              "chain")
        _print_provenance(wf.demo_provenance(out, trail, {"result": run.result,
                                                          "scored": fraud["holdout_scores"]}))
    if track:
        print(f"\nOpen the report in a browser; see every run with:\n"
              f"  mlflow ui --backend-store-uri {redact(uri)}")
    return 0


def _print_records(r: dict[str, Any]) -> None:
    bank, ledger = r["ingested"]["bank_statements"], r["ingested"]["expenses"]
    print(f"system of record: {r['store']} (SQLite; PostgreSQL with --store postgresql://...)")
    print(f"  ingested {bank[0]:,} bank rows and {ledger[0]:,} ledger rows; ingested again: "
          f"{bank[1] + ledger[1]} rows written")
    print(f"  ana (examiner) reconciled the store's books: {r['rate']:.1%} of the bank amount, "
          f"run {r['run_id'][:12]}, {r['open_items']} open items")
    print(f"  jo (judge) tried to approve it: refused ({r['refused']})")
    print(f"  ana (examiner) approved it; the store's audit log holds "
          f"{r['audit'].get('done', 0)} changes and {r['audit'].get('refused', 0)} refusal(s)")
    report = r["report"]
    print(f"  ana's signed report: {report.path} (check it: {report.verify_command})")
    print(f"  see them: NEXUS_LAB_ACTOR=ana nexus-lab review runs --store {r['store']}")
    print(f"  or in the dashboards: nexus-lab dashboards serve --store {r['store']} and sign "
          "in as ana (password demo-ana-pass) or jo (demo-jo-pass)")


def _print_examine(run: Any) -> None:
    gl, summary = run.data["gl"], run.battery.summary()
    name = os.path.basename(gl["source"] or "") or "the sample general ledger"
    print(f"audit analytics: {run.created_by} (examiner) ran {summary['tests']} audit tests on "
          f"{name} ({gl['rows']:,} lines) for the period ending {summary['period_end']}; "
          f"{len(summary['with_findings'])} found something to follow up:")
    table = run.battery.to_frame().set_index("name")
    for test in summary["with_findings"]:
        print(f"  {test} ({table.loc[test, 'verdict']}): {table.loc[test, 'facts']}")
    print(f"  each test recorded in {run.store} (battery {run.battery_id[:12]}), with the "
          "data's SHA-256 and its parameters: replay one with nexus-lab examine "
          f"{gl['source'] or 'GL'} --replay RECORD_ID --store {run.store}")
    html = run.workpapers[0]
    print(f"  the signed workpaper: {html.path} and {run.workpapers[1].path.name} (check it: "
          f"{html.verify_command})")
    print(f"  outputs: {run.folder}{os.sep} (tables{os.sep}<test>{os.sep}, summary.json); "
          "in the dashboards: Audit analytics")


def _print_compress(c: dict[str, Any]) -> None:
    tx, emb = c["transactions"], c["item_embeddings"]
    print(f"  {tx['rows']:,} transactions: {tx['container_bytes']:,} bytes in the container "
          f"({tx['csv_bytes'] / tx['container_bytes']:.1f}x smaller than CSV, "
          f"{tx['parquet_zstd_bytes'] / tx['container_bytes']:.2f}x smaller than "
          "Parquet+zstd), lossless")
    print(f"  {emb['items']:,} item embeddings ({emb['dim']} floats, {emb['dim'] * 4} bytes "
          f"each) as {emb['bytes_per_vector']:.0f}-byte {emb['codec_name']} codes: "
          f"{emb['similar_items_recall_at_11']:.1%} of each item's 10 most similar items "
          "found on the codes")
    print(f"  outputs: {c['folder']}{os.sep} (transactions.nxcf, item_codes.npy, summary.json)")


def _print_provenance(p: dict[str, Any]) -> None:
    batch, receipt, folder = p["batch"], p["receipt"], p["folder"]
    print(f"  keys: examiner, prosecutor, judge (ML-KEM-768 + X25519, ML-DSA-65 + Ed25519); "
          f"examiner {p['examiner']}")
    print(f"  audit log: {p['entries']} signed, hash-chained entries ("
          + ", ".join(f"{a} {n}" for a, n in p["actions"].items()) + ")")
    print(f"  case DEMO-1: {p['evidence_rows']} flagged rows and the report sealed for the "
          "prosecutor and the judge, signed at intake, custody passed to the prosecutor")
    print(f"  {batch.count:,} scored rows signed with one ML-DSA-65 signature (Merkle root "
          f"{batch.root.hex()[:16]}...), each verifiable alone")
    print(f"  anchored on an in-process Ethereum chain: block {receipt.block_number}, "
          f"tx {receipt.tx_hash[:18]}...; verified: {p['audit']}")
    print(f"  {p['cases']}")
    print(f"  outputs: {folder}{os.sep} (cases/, audit.db, keys/ with demo keys, "
          f"password {p['password']!r}; report.html.sig, scored.batchsig, anchor.json)")
    print(f"  check them: nexus-lab case verify {folder / 'cases'}; "
          f"nexus-lab audit verify {folder / 'audit.db'}")


def _sample(args: argparse.Namespace) -> int:
    from nexus_lab.workflows import write_sample

    rows = write_sample(args.out, n=args.n, seed=args.seed, progress=True)  # on stderr
    out = Path(args.out)
    print(f"wrote {out / 'bank.csv'} ({rows['bank.csv']:,} rows), {out / 'ledger.csv'} "
          f"({rows['ledger.csv']:,} rows), {out / 'truth.csv'} ({rows['truth.csv']:,} links), "
          f"{out / 'transactions.csv'} ({rows['transactions.csv']:,} rows), "
          f"{out / 'interactions.csv'} ({rows['interactions.csv']:,} rows), "
          f"{out / 'gl.csv'} ({rows['gl.csv']:,} journal lines) and {out / 'erp_events.csv'} "
          f"({rows['erp_events.csv']:,} events) with n={args.n}, seed={args.seed}")
    return 0
