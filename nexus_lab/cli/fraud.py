"""``nexus-lab fraud train|score``: train, register and apply the fraud detector.

Commands::

    nexus-lab fraud train DATA [--labels is_fraud] [--columns account=card_id,...]
                       [--holdout 0.2] [--device auto] [--out DIR] [--no-register]
    nexus-lab fraud score DATA --out DIR [--model models:/nexus-fraud@champion]
                          [--store URL] [--scheduler local|tcp://host:port] [--workers N]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab.cli._common import day_order, mapping, on_cluster, quiet_mlflow, read, reading
from nexus_lab.config import redact
from nexus_lab.errors import NexusError


def register(sub: Any) -> None:
    """Register ``fraud`` and its actions."""
    fraud = sub.add_parser("fraud", help="train and apply the fraud detector")
    fraud_sub = fraud.add_subparsers(dest="fraud_command", metavar="ACTION", required=True)
    train = fraud_sub.add_parser(
        "train", help="train a fraud detector, measure it, log and register it in MLflow",
        description="Train nx.fraud.FraudDetector on DATA (CSV, Parquet or Excel). The latest "
        "--holdout share of the rows (by date) is held out and scored; with --labels the "
        "held-out AUPRC, ROC-AUC and precision at 1% false positives are measured. The model "
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
    reading(train)
    train.set_defaults(func=_train)
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
    score.add_argument("--store", default=None, metavar="URL",
                       help="also keep the scores in this store, flagged rows open for "
                       "review (default: not kept)")
    reading(score)
    on_cluster(score)
    score.set_defaults(func=_score)


def _train(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir
    from nexus_lab.reports import export_fraud
    from nexus_lab.tracking import default_tracking_uri
    from nexus_lab.workflows import train_fraud_model

    if args.out:
        check_out_dir(args.out)
    columns = mapping(args.columns, "--columns")
    data = read(args.data, "transactions", columns, args.sheet)
    if not args.no_register:
        quiet_mlflow()
    res = train_fraud_model(data, args.labels, columns=columns or None, holdout=args.holdout,
                            device=args.device, register=not args.no_register, source="cli",
                            run_name=Path(args.data).name, decimal=args.decimal,
                            dayfirst=day_order(args))
    print_training(res, Path(args.data).name, default_tracking_uri())
    if args.out:
        export_fraud(res["holdout_scores"], args.out, transactions=res["holdout_transactions"],
                     columns=columns or None,
                     extra={"metrics": res["metrics"], "model_version": res.get("version")})
        print(f"  outputs: {args.out}{os.sep} (scored held-out rows, summary.json, report.html)")
    return 0


def print_training(res: Mapping[str, Any], name: str, uri: str) -> None:
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
              f" MLflow run {res['run_id']} at {redact(uri)}")


def _score(args: argparse.Namespace) -> int:
    from nexus_lab.files import check_out_dir
    from nexus_lab.reports import export_fraud
    from nexus_lab.tracking import default_tracking_uri, load_fraud_model

    check_out_dir(args.out)
    kept = None
    if args.store is not None:  # before the work: a store the user may not write is named now
        from nexus_lab import auth
        from nexus_lab.cli.records import open_store

        kept = open_store(args.store)
        auth.require("fraud.run", store=kept, resource="fraud_runs")
    columns = mapping(args.columns, "--columns")
    data = read(args.data, "transactions", columns, args.sheet)
    quiet_mlflow()
    model = load_fraud_model(args.model)
    detector = model.unwrap_python_model().detector
    if columns and dict(detector.columns or {}) != columns:
        raise NexusError(f"--columns {columns} differ from the model's {detector.columns}: the "
                         "model reads the column names it was trained with")
    # this file's own way of writing amounts and dates, not the training file's
    detector.set_params(decimal=args.decimal, dayfirst=day_order(args))
    if args.scheduler or args.workers is not None:
        from nexus_lab import scale

        with scale.cluster(scheduler=args.scheduler, workers=args.workers) as client:
            print(f"On Dask: {scale.dashboard_link(client) or 'no dashboard'}", flush=True)
            scored = scale.score_fraud(data, detector, client)
    else:
        scored = detector.score(data)
    store = redact(default_tracking_uri())
    export_fraud(scored, args.out, transactions=data, columns=detector.columns,
                 extra={"model": args.model, "tracking_uri": store})
    s = scored.summary()
    print(f"Scored {s['rows']:,} transactions of {Path(args.data).name} with {args.model} "
          f"from {store}: {s['flagged']:,} flagged, {s['risk_at_least_80']:,} at risk >= 80")
    if s["per_flag"]:
        print("  flags: " + ", ".join(f"{k} {v:,}" for k, v in s["per_flag"].items()))
    if kept is not None:
        from nexus_lab.workflows import save_fraud_scores

        # the detector explains the rows of its own last score call: not those scored on
        # the workers
        run_id = save_fraud_scores(scored, data, store=kept, model=args.model,
                                   detector=None if "dask" in scored.attrs else detector)
        print(f"  kept in {kept.where} as fraud run {run_id}, flagged rows open for review")
    print(f"  outputs: {args.out}{os.sep} (scored.parquet, scored.csv, summary.json, "
          "report.html)")
    return 0
