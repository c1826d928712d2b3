"""The ``nexus-lab`` command line.

Commands::

    nexus-lab reconcile BANK LEDGER --out DIR [--amount-tolerance 5] [--date-window 7]
                        [--device auto] [--bank-columns amount=Amt,date=Posted]
                        [--ledger-columns ...] [--columns ...] [--sheet NAME] [--no-track]
    nexus-lab fraud train DATA [--labels is_fraud] [--columns account=card_id,...]
                       [--holdout 0.2] [--device auto] [--out DIR] [--no-register]
    nexus-lab fraud score DATA --out DIR [--model models:/nexus-fraud@champion]
    nexus-lab recommend train DATA [--model hybrid] [--columns user_id=customer,...]
                           [--weight rating] [--k 10] [--out DIR] [--no-register]
    nexus-lab recommend serve (--users ID ... | --users-file FILE) [--k 10] [--out FILE]
                           [--model models:/nexus-recommender@champion]
    nexus-lab keys new|show ...; seal|open|sign|verify FILE ...; audit verify|show [LOG]
    nexus-lab case new|list|show|add|transfer|status|timeline|verify ...
                           (see nexus_lab/_cli_crypto.py and nexus_lab/_cli_cases.py)
    nexus-lab demo [--out out/demo] [--no-track]
    nexus-lab data sample [--n 2000] [--seed 7] [--out data]
    nexus-lab --version

A mistake in the input (a missing file, a misnamed column, an amount that is
not a number) prints ``error: <what is wrong and how to fix it>`` and exits
with status 2; nothing is written. A failed integrity check (a signature, a sealed
file or an audit log that does not verify) prints ``FAILED: <what failed>`` and
exits with status 1.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nexus_lab import __version__
from nexus_lab.errors import IntegrityError, NexusError, SchemaError

__all__ = ["main"]

log = logging.getLogger("nexus_lab")

EXIT_FAILED = 1  # an IntegrityError: a signature, seal or audit log does not verify
EXIT_INPUT = 2  # a NexusError: the input or the settings are wrong
EXIT_INTERRUPTED = 130
SAMPLE_N, SAMPLE_SEED = 2_000, 7  # how data/ was made
SAMPLE_TX = 5_000  # rows of data/transactions.csv (same seed)
SAMPLE_USERS, SAMPLE_ITEMS = 600, 300  # data/interactions.csv (same seed)
_DATA = Path(__file__).resolve().parents[1] / "data"



# ----------------------------------------------------------------------------- parsing


def _mapping(text: str | None, flag: str) -> dict[str, str]:
    """``"amount=Amt,date=Posted"`` -> ``{"amount": "Amt", "date": "Posted"}``."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise NexusError(
                f"{flag} {text!r}: write the mapping as canonical=yours, separated by commas, "
                f"e.g. {flag} amount=Amt,date=Posted"
            )
        out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexus-lab",
        description="NEXUS Lab: analytics for financial examination, from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"nexus-lab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    rec = sub.add_parser(
        "reconcile",
        help="reconcile a bank statement against a ledger",
        description="Reconcile a bank statement against a ledger (CSV, Parquet or Excel) and "
        "write the matches, the open items with reasons, summary.json and report.html to "
        "--out, all at once; the run is logged to MLflow unless --no-track.",
    )
    rec.add_argument("bank", help="bank statement: .csv, .parquet or .xlsx")
    rec.add_argument("ledger", help="ledger: .csv, .parquet or .xlsx")
    rec.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _settings(rec)
    rec.add_argument("--bank-columns", metavar="MAP",
                     help="bank column names, e.g. amount=Amt,date=Posted,transaction_id=Id")
    rec.add_argument("--ledger-columns", metavar="MAP", help="ledger column names, as above")
    rec.add_argument("--columns", metavar="MAP", help="column names shared by both tables")
    rec.add_argument("--sheet", default=None,
                     help="worksheet of .xlsx inputs (name or 0-based position; default first)")
    rec.set_defaults(func=_cmd_reconcile)

    fraud = sub.add_parser("fraud", help="train and apply the fraud detector")
    fraud_sub = fraud.add_subparsers(dest="fraud_command", metavar="ACTION", required=True)
    train = fraud_sub.add_parser(
        "train", help="train a fraud detector, measure it, log and register it in MLflow",
        description="Train nx.fraud.FraudDetector on DATA (CSV, Parquet or Excel). The latest "
        "--holdout share of the rows (by date) is held out and scored; with --labels the "
        "held-out AUPRC, ROC-AUC and precision at 1%% false positives are measured. The model "
        "is logged to MLflow, registered as 'nexus-fraud', and becomes the alias 'champion' "
        "only when its held-out AUPRC beats the current champion's.",
    )
    train.add_argument("data", help="transactions: .csv, .parquet or .xlsx")
    train.add_argument("--labels", metavar="COLUMN",
                       help="column of fraud labels (True/False or 1/0); without it the "
                       "detector learns unsupervised")
    train.add_argument("--columns", metavar="MAP",
                       help="column names, e.g. account=card_id,date=datetime,transaction_id=id")
    train.add_argument("--holdout", type=float, default=0.2,
                       help="share of the latest rows held out (default 0.2)")
    train.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    train.add_argument("--out", metavar="DIR",
                       help="also write the held-out scores and report here")
    train.add_argument("--no-register", action="store_true",
                       help="train and measure only: log and register nothing")
    train.add_argument("--sheet", default=None, help="worksheet of an .xlsx input")
    train.set_defaults(func=_cmd_fraud_train)
    score = fraud_sub.add_parser(
        "score", help="score transactions with a registered fraud model",
        description="Score DATA with an MLflow fraud model (default: the registered "
        "champion, models:/nexus-fraud@champion) and write scored.parquet, scored.csv, "
        "summary.json and report.html to --out, all at once.",
    )
    score.add_argument("data", help="transactions: .csv, .parquet or .xlsx")
    score.add_argument("--out", required=True, metavar="DIR", help="output folder")
    score.add_argument("--model", default="models:/nexus-fraud@champion",
                       help="MLflow model URI (default models:/nexus-fraud@champion)")
    score.add_argument("--columns", metavar="MAP", help="column names, as for train")
    score.add_argument("--sheet", default=None, help="worksheet of an .xlsx input")
    score.set_defaults(func=_cmd_fraud_score)

    recommend = sub.add_parser("recommend", help="train and serve recommenders")
    rec_sub = recommend.add_subparsers(dest="recommend_command", metavar="ACTION",
                                       required=True)
    rtrain = rec_sub.add_parser(
        "train", help="train a recommender, measure it, log and register it in MLflow",
        description="Train a recommender on the interactions in DATA (CSV, Parquet or Excel: "
        "user_id, item_id[, rating, timestamp, title, genres...]). A quarter of the "
        "interactions, stratified by item, is held out to measure precision, recall, nDCG and "
        "MAP at --k; the model is then refitted on all of them, logged to MLflow, registered "
        "as 'nexus-recommender', and becomes the alias 'champion' only when its held-out "
        "nDCG beats the current champion's.",
    )
    rtrain.add_argument("data", help="interactions: .csv, .parquet or .xlsx")
    rtrain.add_argument("--model", default="hybrid",
                        choices=("hybrid", "als", "ease", "itemknn", "bpr", "content",
                                 "popularity"),
                        help="which recommender (default hybrid: it tunes itself)")
    rtrain.add_argument("--columns", metavar="MAP",
                        help="your column names, e.g. user_id=customer,item_id=product")
    rtrain.add_argument("--weight", default=None,
                        help="column whose values weigh the interactions (default: each "
                        "counts once)")
    rtrain.add_argument("--k", type=int, default=10, help="list length measured (default 10)")
    rtrain.add_argument("--test-ratio", type=float, default=0.25,
                        help="share held out to measure (default 0.25)")
    rtrain.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    rtrain.add_argument("--out", metavar="DIR",
                        help="also write every user's top-k (recommendations.parquet/.csv) "
                        "and metrics.json here")
    rtrain.add_argument("--no-register", action="store_true",
                        help="measure only: log nothing to MLflow")
    rtrain.add_argument("--sheet", default=None, help="worksheet of an .xlsx input")
    rtrain.set_defaults(func=_cmd_recommend_train)
    serve = rec_sub.add_parser(
        "serve", help="top-k items for users, from a registered recommender",
        description="Load an MLflow recommender (default: the registered champion, "
        "models:/nexus-recommender@champion) and write the top --k items of each user given "
        "with --users or in the user_id column of --users-file. Unknown users get the "
        "cold-start list (the most popular items).",
    )
    serve.add_argument("--model", default="models:/nexus-recommender@champion",
                       help="MLflow model URI (default models:/nexus-recommender@champion)")
    serve.add_argument("--users", nargs="+", metavar="ID", help="user ids")
    serve.add_argument("--users-file", metavar="FILE",
                       help="a table with a user_id column (.csv, .parquet, .xlsx)")
    serve.add_argument("--k", type=int, default=10, help="items per user (default 10)")
    serve.add_argument("--out", metavar="FILE",
                       help="write the lists here (.csv or .parquet) instead of printing them")
    serve.set_defaults(func=_cmd_recommend_serve)

    demo = sub.add_parser(
        "demo", help="reconcile the bundled sample data",
        description="Reconcile the bundled sample data (data/bank.csv against data/ledger.csv), "
        "then train and register a fraud detector on data/transactions.csv and score its "
        "latest weeks, then train and register the self-tuning recommender on "
        "data/interactions.csv, compress the transactions and the item embeddings, and "
        "finally approve, seal, sign and take in the results as evidence of a case, with "
        "every action in a signed audit log anchored on an in-process Ethereum chain; write "
        "the outputs and reports, and log the runs to the local MLflow store.",
    )
    demo.add_argument("--out", default="out/demo", metavar="DIR",
                      help="output folder (default: out/demo)")
    _settings(demo)
    demo.set_defaults(func=_cmd_demo)

    data = sub.add_parser("data", help="sample data")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    sample = data_sub.add_parser(
        "sample", help="write the sample bank statement, ledger, true links and transactions",
        description="Write bank.csv, ledger.csv and truth.csv made by "
        "nexus_lab.data.synth_reconciliation, transactions.csv (fraud patterns planted, "
        "labelled) made by nexus_lab.data.synth_transactions, and interactions.csv (users "
        "and a catalogue with titles and genres) made by nexus_lab.data.synth_interactions; "
        "the same --n and --seed give the same files.",
    )
    sample.add_argument("--n", type=int, default=SAMPLE_N, help="about this many bank rows")
    sample.add_argument("--seed", type=int, default=SAMPLE_SEED)
    sample.add_argument("--out", default="data", metavar="DIR",
                        help="folder to write to (default: data)")
    sample.set_defaults(func=_cmd_sample)

    from nexus_lab._cli_crypto import add_commands

    add_commands(sub)
    return parser


def _settings(p: argparse.ArgumentParser) -> None:
    p.add_argument("--amount-tolerance", type=float, default=5.0, metavar="X",
                   help="largest amount difference accepted within a counterparty (default 5)")
    p.add_argument("--date-window", type=int, default=7, metavar="DAYS",
                   help="largest posting lag in days (default 7)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--no-track", action="store_true", help="do not log the run to MLflow")


# ----------------------------------------------------------------------------- commands


def _read(path: str, name: str, mapping: Mapping[str, str], sheet: str | None) -> Any:
    from nexus_lab.files import read_table

    where: str | int = 0 if sheet is None else int(sheet) if sheet.isdigit() else sheet
    return read_table(path, name=name, columns=mapping, sheet=where)


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir

    check_out_dir(args.out)  # before the work, not after it
    shared = _mapping(args.columns, "--columns")
    bank_map = {**shared, **_mapping(args.bank_columns, "--bank-columns")}
    ledger_map = {**shared, **_mapping(args.ledger_columns, "--ledger-columns")}
    bank = _read(args.bank, "bank", bank_map, args.sheet)
    ledger = _read(args.ledger, "ledger", ledger_map, args.sheet)
    settings: dict[str, object] = {"device_requested": args.device}
    if bank_map:
        settings["bank_columns"] = bank_map
    if ledger_map:
        settings["ledger_columns"] = ledger_map
    return _run(
        bank, ledger, args,
        sources={"bank": (args.bank, bank_map), "ledger": (args.ledger, ledger_map)},
        settings=settings, source="cli",
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir, read_table

    check_out_dir(args.out)

    bank_path, ledger_path, truth_path = (_DATA / f for f in ("bank.csv", "ledger.csv",
                                                              "truth.csv"))
    if bank_path.exists() and ledger_path.exists():
        bank = read_table(bank_path, name="bank")
        ledger = read_table(ledger_path, name="ledger")
        truth = read_table(truth_path, name="truth") if truth_path.exists() else None
        sources = {"bank": (str(bank_path), {}), "ledger": (str(ledger_path), {})}
    else:  # an installed package without the repository's data/ folder
        from nexus_lab.data import synth_reconciliation

        print(f"{_DATA} has no sample data; generating it in memory "
              f"(n={SAMPLE_N}, seed={SAMPLE_SEED})")
        bank, ledger, truth = synth_reconciliation(SAMPLE_N, seed=SAMPLE_SEED)
        sources = {}
    from nexus_lab._demo_provenance import demo_provenance, demo_trail

    kept: dict[str, Any] = {}
    with demo_trail() as trail:  # every step's state changes go to one signed audit log
        code = _run(bank, ledger, args, sources=sources,
                    settings={"device_requested": args.device, "data": "sample"},
                    source="demo", truth=truth, keep=kept)
        if code == 0:
            code = _demo_fraud(args, kept)
        if code == 0:
            code = _demo_recommend(args)
        if code == 0:
            code = _demo_compress(args)
        if code == 0:
            code = demo_provenance(Path(args.out), trail, kept)
    if code == 0 and not args.no_track:
        uri = os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///experiments/mlflow.db"
        print(f"\nOpen the report in a browser; see every run with:\n"
              f"  mlflow ui --backend-store-uri {uri}")
    return code


def _demo_fraud(args: argparse.Namespace, kept: dict[str, Any] | None = None) -> int:
    """The demo's fraud step: train on the sample transactions, score the latest weeks."""
    from nexus_lab.files import read_table
    from nexus_lab.reports import export_fraud
    from nexus_lab.tracking import default_tracking_uri, train_fraud_model

    path = _DATA / "transactions.csv"
    if path.exists():
        tx = read_table(path, name="transactions")
    else:  # an installed package without the repository's data/ folder
        from nexus_lab.data import synth_transactions

        tx = synth_transactions(SAMPLE_TX, seed=SAMPLE_SEED)
    print()
    res = train_fraud_model(tx.drop(columns=["pattern"], errors="ignore"), "is_fraud",
                            device=args.device, register=not args.no_track, source="demo",
                            run_name="demo: sample transactions")
    _print_training(res, path.name, default_tracking_uri())
    if kept is not None:
        kept["scored"] = res["holdout_scores"]
    out = Path(args.out) / "fraud"
    export_fraud(res["holdout_scores"], out, extra={"metrics": res["metrics"],
                                                    "model_version": res.get("version")})
    print(f"  outputs: {out}{os.sep} (scored held-out rows, summary.json, report.html)")
    return 0


def _demo_recommend(args: argparse.Namespace) -> int:
    """The demo's recommender step: the self-tuning hybrid on the sample catalogue."""
    import json

    from nexus_lab.files import atomic_dir, read_table, write_frame
    from nexus_lab.tracking import default_tracking_uri, train_recommender

    path = _DATA / "interactions.csv"
    if path.exists():
        data = read_table(path, name="interactions", text_columns=None)
    else:  # an installed package without the repository's data/ folder
        from nexus_lab.data import synth_interactions

        data = synth_interactions(SAMPLE_USERS, SAMPLE_ITEMS, seed=SAMPLE_SEED)
    print()
    res = train_recommender(data, "hybrid", device=args.device, register=not args.no_track,
                            source="demo", run_name="demo: sample catalogue")
    _print_recommender(res, "hybrid", path.name, 10, default_tracking_uri())
    recs = _plain(res["model"].recommend(None, k=10))
    out = Path(args.out) / "recommend"
    with atomic_dir(out) as tmp:
        write_frame(recs, tmp / "recommendations.csv")
        (tmp / "metrics.json").write_text(json.dumps(
            {**res["metrics"], "blend": res["model"].weights_,
             "model_version": res.get("version")}, indent=1))
    print(f"  outputs: {out}{os.sep} (every user's top 10: recommendations.csv; metrics.json)")
    return 0


def _demo_compress(args: argparse.Namespace) -> int:
    """The demo's compression step: the sample transactions in a checksummed container,
    and the recommender's item embeddings as searchable 16-byte codes."""
    import json

    import numpy as np
    import pandas as pd

    from nexus_lab import compress, recommend
    from nexus_lab.files import atomic_dir, read_table

    tx_path, rec_path = _DATA / "transactions.csv", _DATA / "interactions.csv"
    if tx_path.exists() and rec_path.exists():
        tx = read_table(tx_path, name="transactions")
        data = read_table(rec_path, name="interactions", text_columns=None)
    else:  # an installed package without the repository's data/ folder
        from nexus_lab.data import synth_interactions, synth_transactions

        tx = synth_transactions(SAMPLE_TX, seed=SAMPLE_SEED)
        data = synth_interactions(SAMPLE_USERS, SAMPLE_ITEMS, seed=SAMPLE_SEED)
    print("\ncompress: the sample transactions and the recommender's item embeddings")
    blob = compress.compress_frame(tx)
    pd.testing.assert_frame_equal(compress.decompress_frame(blob), tx)
    csv_bytes = len(tx.to_csv(index=False).encode())
    parquet = io.BytesIO()
    tx.to_parquet(parquet, compression="zstd")
    print(f"  {len(tx):,} transactions: {len(blob):,} bytes in the container "
          f"({csv_bytes / len(blob):.1f}x smaller than CSV, "
          f"{len(parquet.getvalue()) / len(blob):.2f}x smaller than Parquet+zstd), lossless")

    model = recommend.ALS(factors=64, device=args.device, random_state=SAMPLE_SEED).fit(data)
    items = model.item_factors_.detach().cpu().numpy()
    items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
    codec = compress.fit(items, bytes_per_vector=16, device=args.device, random_state=0)
    codes = codec.encode(items)
    ids, _ = compress.search(codec, codes, items, k=11)
    truth = np.argsort(-(items @ items.T), axis=1)[:, :11]
    found = float((ids[:, :, None] == truth[:, None, :]).any(-1).mean())
    print(f"  {len(items):,} item embeddings ({items.shape[1]} floats, {items.shape[1] * 4} "
          f"bytes each) as {codec.bytes_per_vector:.0f}-byte {type(codec).__name__} codes: "
          f"{found:.1%} of each item's 10 most similar items found on the codes")
    out = Path(args.out) / "compress"
    with atomic_dir(out) as tmp:
        (tmp / "transactions.nxcf").write_bytes(blob)
        np.save(tmp / "item_codes.npy", codes)
        (tmp / "summary.json").write_text(json.dumps({
            "transactions": {"rows": len(tx), "container_bytes": len(blob),
                             "csv_bytes": csv_bytes, "parquet_zstd_bytes":
                             len(parquet.getvalue())},
            "item_embeddings": {"items": len(items), "dim": int(items.shape[1]),
                                "codec": repr(codec), "bytes_per_vector":
                                codec.bytes_per_vector, "similar_items_recall_at_11": found},
        }, indent=1))
    print(f"  outputs: {out}{os.sep} (transactions.nxcf, item_codes.npy, summary.json)")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from nexus_lab.data import synth_interactions, synth_reconciliation, synth_transactions
    from nexus_lab.files import write_frame

    if args.n < 10:
        raise NexusError(f"--n {args.n} is too small: ask for at least 10 bank rows")
    out = Path(args.out)
    bank, ledger, truth = synth_reconciliation(args.n, seed=args.seed)
    n_tx = max(SAMPLE_TX * args.n // SAMPLE_N, 1_000)
    tx = synth_transactions(n_tx, seed=args.seed)
    scale = args.n / SAMPLE_N
    interactions = synth_interactions(max(round(SAMPLE_USERS * scale), 50),
                                      max(round(SAMPLE_ITEMS * scale), 30), seed=args.seed)
    for name, frame in (("bank", bank), ("ledger", ledger), ("truth", truth),
                        ("transactions", tx), ("interactions", interactions)):
        if "amount" in frame:  # as a statement shows money: two decimals
            frame = frame.assign(amount=frame["amount"].map("{:.2f}".format))
        write_frame(frame, out / f"{name}.csv")
    print(f"wrote {out / 'bank.csv'} ({len(bank):,} rows), {out / 'ledger.csv'} "
          f"({len(ledger):,} rows), {out / 'truth.csv'} ({len(truth):,} links), "
          f"{out / 'transactions.csv'} ({len(tx):,} rows) and {out / 'interactions.csv'} "
          f"({len(interactions):,} rows) with n={args.n}, seed={args.seed}")
    return 0


def _cmd_fraud_train(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir
    from nexus_lab.reports import export_fraud
    from nexus_lab.tracking import default_tracking_uri, train_fraud_model

    if args.out:
        check_out_dir(args.out)
    columns = _mapping(args.columns, "--columns")
    data = _read(args.data, "transactions", columns, args.sheet)
    if not args.no_register:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    res = train_fraud_model(data, args.labels, columns=columns or None, holdout=args.holdout,
                            device=args.device, register=not args.no_register, source="cli",
                            run_name=Path(args.data).name)
    _print_training(res, Path(args.data).name, default_tracking_uri())
    if args.out:
        export_fraud(res["holdout_scores"], args.out, extra={"metrics": res["metrics"],
                                                             "model_version": res.get("version")})
        print(f"  outputs: {args.out}{os.sep} (scored held-out rows, summary.json, report.html)")
    return 0


def _print_training(res: Mapping[str, Any], name: str, uri: str) -> None:
    det, m = res["detector"], res["metrics"]
    kind = "with labels" if det.supervised_ else "without labels"
    print(f"Trained a fraud detector {kind} on {int(m['train_rows']):,} rows of {name} in "
          f"{m['seconds_fit']:.1f} s; scored the latest {int(m['holdout_rows']):,} rows")
    if "holdout_auprc" in m:
        print(f"  held out: AUPRC {m['holdout_auprc']:.3f}, ROC-AUC {m['holdout_roc_auc']:.3f}, "
              f"precision at 1% false positives {m['holdout_precision_at_fpr']:.3f} "
              f"(fraud rate {m['holdout_fraud_rate']:.2%})")
    print(f"  flagged: {m['holdout_flagged_share']:.1%} of the held-out rows")
    if res.get("run_id"):
        champion = "is now the champion" if res["champion"] else "stays a challenger"
        print(f"  registered: nexus-fraud version {res['version']} {champion} ({res['reason']});"
              f" MLflow run {res['run_id']} at {uri}")


def _cmd_recommend_train(args: argparse.Namespace) -> int:
    from nexus_lab.files import atomic_dir, check_out_dir, read_table, write_frame
    from nexus_lab.tracking import default_tracking_uri, train_recommender

    if args.out:
        check_out_dir(args.out)
    columns = _mapping(args.columns, "--columns")
    data = read_table(args.data, name="interactions", text_columns=None)
    if not args.no_register:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    res = train_recommender(data, args.model, columns=columns or None, weight=args.weight,
                            test_ratio=args.test_ratio, k=args.k, device=args.device,
                            register=not args.no_register, source="cli",
                            run_name=Path(args.data).name)
    _print_recommender(res, args.model, Path(args.data).name, args.k, default_tracking_uri())
    if args.out:
        import json

        recs = res["model"].recommend(None, k=args.k)
        with atomic_dir(args.out) as tmp:
            write_frame(_plain(recs), tmp / "recommendations.parquet")
            write_frame(_plain(recs), tmp / "recommendations.csv")
            (tmp / "metrics.json").write_text(json.dumps(
                {**res["metrics"], "model": args.model, "model_version": res.get("version")},
                indent=1))
        print(f"  outputs: {args.out}{os.sep} (every user's top {args.k}: "
              "recommendations.parquet and .csv; metrics.json)")
    return 0


def _plain(frame: Any) -> Any:
    """A plain pandas DataFrame (subclasses with notebook views write as their base)."""
    import pandas as pd

    return pd.DataFrame(frame)


def _print_recommender(res: Mapping[str, Any], kind: str, name: str, k: int, uri: str) -> None:
    m, model = res["metrics"], res["model"]
    print(f"Trained a {kind} recommender on {int(m['train_rows']):,} interactions of {name} "
          f"in {m['seconds_fit']:.1f} s; measured on {int(m['test_rows']):,} held out")
    print(f"  held out, top {k}: nDCG {m['test_ndcg']:.3f}, MAP {m['test_map']:.3f}, "
          f"precision {m['test_precision']:.3f}, recall {m['test_recall']:.3f}")
    if getattr(model, "weights_", None):
        print("  blend: " + ", ".join(f"{n} {w:g}" for n, w in model.weights_.items()))
    print(f"  refitted on all {model.seen_.nnz:,} user-item pairs ({len(model.users_):,} users, "
          f"{len(model.items_):,} items)")
    if res.get("run_id"):
        champion = "is now the champion" if res["champion"] else "stays a challenger"
        print(f"  registered: nexus-recommender version {res['version']} {champion} "
              f"({res['reason']}); MLflow run {res['run_id']} at {uri}")


def _cmd_recommend_serve(args: argparse.Namespace) -> int:
    import numpy as np

    from nexus_lab.files import read_table, write_frame
    from nexus_lab.tracking import load_recommender_model

    if bool(args.users) == bool(args.users_file):
        raise NexusError("give the users either with --users ID ... or with --users-file FILE "
                         "(a table with a user_id column), not both and not neither")
    if args.k < 1:
        raise NexusError(f"--k {args.k}: ask for at least one item per user")
    model = load_recommender_model(args.model)
    recommender = model.unwrap_python_model().recommender
    if args.users_file:
        table = read_table(args.users_file, name="users", text_columns=None)
        if "user_id" not in table:
            raise SchemaError(f"{args.users_file} has no user_id column (it has "
                              f"{list(table.columns)})", table="users", column="user_id")
        users = table["user_id"].to_numpy()
    else:
        numbers = recommender.users_.dtype.kind in "iu"  # then "7" on the line means 7
        users = np.asarray([int(u) if numbers and u.lstrip("-").isdigit() else u
                            for u in args.users], dtype=object)
    recs = _plain(recommender.recommend(users, k=args.k))
    if args.out:
        write_frame(recs, args.out)
        print(f"wrote the top {args.k} of {len(users):,} users to {args.out} ({args.model})")
    else:
        print(recs.to_string(index=False))
    return 0


def _cmd_fraud_score(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir
    from nexus_lab.reports import export_fraud
    from nexus_lab.tracking import default_tracking_uri, load_fraud_model

    check_out_dir(args.out)
    columns = _mapping(args.columns, "--columns")
    data = _read(args.data, "transactions", columns, args.sheet)
    model = load_fraud_model(args.model)
    detector = model.unwrap_python_model().detector
    if columns and dict(detector.columns or {}) != columns:
        raise NexusError(f"--columns {columns} differ from the model's {detector.columns}: the "
                         "model reads the column names it was trained with")
    scored = detector.score(data)
    export_fraud(scored, args.out, extra={"model": args.model,
                                          "tracking_uri": default_tracking_uri()})
    s = scored.summary()
    print(f"Scored {s['rows']:,} transactions of {Path(args.data).name} with {args.model}: "
          f"{s['flagged']:,} flagged, {s['risk_at_least_80']:,} at risk >= 80")
    if s["per_flag"]:
        print("  flags: " + ", ".join(f"{k} {v:,}" for k, v in s["per_flag"].items()))
    print(f"  outputs: {args.out}{os.sep} (scored.parquet, scored.csv, summary.json, "
          "report.html)")
    return 0


def _run(
    bank: Any, ledger: Any, args: argparse.Namespace, *,
    sources: Mapping[str, tuple[str, Mapping[str, str]]], settings: dict[str, object],
    source: str, truth: Any = None, keep: dict[str, Any] | None = None,
) -> int:
    from nexus_lab.files import describe_file
    from nexus_lab.reconcile import reconcile
    from nexus_lab.reports import export_reconcile

    columns = {
        side: dict(mapping) for side, (_, mapping) in sources.items() if mapping
    }
    try:
        res = reconcile(bank, ledger, amount_tolerance=args.amount_tolerance,
                        date_window=args.date_window, device=args.device,
                        columns=columns or None)
    except SchemaError as err:
        where = sources.get(err.table or "")
        frame = {"bank": bank, "ledger": ledger}.get(err.table or "")
        if where is None or frame is None or not err.rows:
            raise
        id_col = where[1].get("transaction_id", "transaction_id")
        lines = _csv_lines(where[0], frame, err.rows, id_col)
        if not lines:
            raise
        raise SchemaError(f"{err} (in {Path(where[0]).name}: {lines})", table=err.table,
                          column=err.column, rows=err.rows) from None
    inputs = {}
    for side, frame in (("bank", bank), ("ledger", ledger)):
        info: dict[str, object] = {"rows": len(frame)}
        if side in sources:
            info = {**describe_file(sources[side][0]), **info}
        else:
            info["name"] = f"sample {side} (generated)"
        inputs[side] = info
    if not args.no_track:
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    export = export_reconcile(res, args.out, inputs=inputs, settings=settings,
                              track=not args.no_track, source=source)
    _print_summary(res, inputs, export, truth)
    if keep is not None:
        keep["result"] = res
    return 0


def _csv_lines(path: str, frame: Any, rows: Sequence[int], id_col: str) -> str:
    """The file lines of data rows of a CSV, when each line holds the row's id."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return ""
    want = {int(r) + 2: str(frame[id_col].iloc[int(r)]) for r in rows[:3]
            if id_col in frame and int(r) < len(frame)}
    if not want:
        return ""
    found = []
    last = max(want)
    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if number in want:
                if want[number] not in line:
                    return ""  # blank or multi-line rows: line numbers would mislead
                found.append(number)
            if number >= last:
                break
    if len(found) != len(want):
        return ""
    return ("line " if len(found) == 1 else "lines ") + ", ".join(f"{n:,}" for n in found)


def _print_summary(res: Any, inputs: Mapping[str, Mapping[str, object]], export: Any,
                   truth: Any) -> None:
    s = res.summary()
    names = [str(inputs[side].get("name", side)) for side in ("bank", "ledger")]
    reasons = res.reasons()
    open_parts = []
    for reason, row in reasons.iterrows():
        total = int(row.sum())
        open_parts.append(f"{reason} {total:,}")
    print(
        f"Reconciled {names[0]} ({s['bank_rows']:,} rows) against {names[1]} "
        f"({s['ledger_rows']:,} rows) on {res.params.get('device', '?')} in "
        f"{s['seconds']:.1f} s"
    )
    mean = "" if not s["matched_pairs"] else f", mean confidence {s['mean_confidence']:.1f}"
    print(f"  {res.rate:.1%} of the bank amount reconciled: {s['matched_pairs']:,} matched pairs "
          f"({s['one_to_one']:,} one-to-one, {s['batch_groups']:,} batch groups, "
          f"{s['installment_groups']:,} installment groups){mean}")
    print(f"  open: {s['unmatched_bank']:,} bank rows, {s['unmatched_ledger']:,} ledger rows"
          + (f" ({', '.join(open_parts)})" if open_parts else ""))
    if truth is not None:
        from nexus_lab.reconcile import evaluate

        ev = evaluate(res, truth)
        print(f"  against the planted truth: one-to-one F1 {ev['one_to_one']['f1']:.3f}, "
              f"split F1 {ev['split']['f1']:.3f}")
    print(f"  outputs: {export.folder}{os.sep} (matches, unmatched_bank, unmatched_ledger as "
          ".parquet and .csv; match_weights.csv; summary.json)")
    print(f"  report:  {export.report}")
    if export.run_id:
        print(f"  tracked: MLflow run {export.run_id} in experiment 'nexus-reconcile' at "
              f"{export.tracking_uri}")


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nexus-lab`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 when an integrity check fails
        (``FAILED: ...`` on stderr), 2 when the input or the settings are wrong
        (``error: ...``), 130 when interrupted.

    Examples
    --------
    >>> main(["data", "sample", "--n", "50", "--out", __import__("tempfile").mkdtemp()])
    ... # doctest: +ELLIPSIS
    wrote ...
    0
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except IntegrityError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return EXIT_FAILED
    except NexusError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
