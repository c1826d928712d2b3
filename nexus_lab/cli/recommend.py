"""``nexus-lab recommend train|serve``: train, register and serve recommenders.

Commands::

    nexus-lab recommend train DATA [--model hybrid] [--columns user_id=customer,...]
                           [--weight rating] [--k 10] [--out DIR] [--no-register]
    nexus-lab recommend serve (--users ID ... | --users-file FILE) [--k 10] [--out FILE]
                           [--model models:/nexus-recommender@champion]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab.cli._common import mapping, plain, quiet_mlflow
from nexus_lab.config import redact
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.workflows import RECOMMENDERS


def register(sub: Any) -> None:
    """Register ``recommend`` and its actions."""
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
                        choices=RECOMMENDERS,
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
    rtrain.set_defaults(func=_train)
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
    serve.set_defaults(func=_serve)


def _train(args: argparse.Namespace) -> int:
    from nexus_lab.files import atomic_dir, check_out_dir, read_table, write_frame, write_json
    from nexus_lab.tracking import default_tracking_uri
    from nexus_lab.workflows import train_recommender

    if args.out:
        check_out_dir(args.out)
    columns = mapping(args.columns, "--columns")
    data = read_table(args.data, name="interactions", text_columns=None)
    if not args.no_register:
        quiet_mlflow()
    res = train_recommender(data, args.model, columns=columns or None, weight=args.weight,
                            test_ratio=args.test_ratio, k=args.k, device=args.device,
                            register=not args.no_register, source="cli",
                            run_name=Path(args.data).name)
    print_recommender(res, args.model, Path(args.data).name, args.k, default_tracking_uri())
    if args.out:

        recs = res["model"].recommend(None, k=args.k)
        with atomic_dir(args.out) as tmp:
            write_frame(plain(recs), tmp / "recommendations.parquet")
            write_frame(plain(recs), tmp / "recommendations.csv")
            write_json({**res["metrics"], "model": args.model,
                        "model_version": res.get("version")}, tmp / "metrics.json")
        print(f"  outputs: {args.out}{os.sep} (every user's top {args.k}: "
              "recommendations.parquet and .csv; metrics.json)")
    return 0


def print_recommender(res: Mapping[str, Any], kind: str, name: str, k: int, uri: str) -> None:
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
              f"({res['reason']}); MLflow run {res['run_id']} at {redact(uri)}")


def _serve(args: argparse.Namespace) -> int:
    import numpy as np

    from nexus_lab.files import read_table, write_frame
    from nexus_lab.tracking import default_tracking_uri, load_recommender_model

    if bool(args.users) == bool(args.users_file):
        raise NexusError("give the users either with --users ID ... or with --users-file FILE "
                         "(a table with a user_id column), not both and not neither")
    if args.k < 1:
        raise NexusError(f"--k {args.k}: ask for at least one item per user")
    quiet_mlflow()
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
    recs = plain(recommender.recommend(users, k=args.k))
    store = redact(default_tracking_uri())
    if args.out:
        write_frame(recs, args.out)
        print(f"wrote the top {args.k} of {len(users):,} users to {args.out} ({args.model} "
              f"from {store})")
    else:  # the lists alone on stdout; where the model came from on stderr
        print(f"{args.model} from {store}", file=sys.stderr)
        print(recs.to_string(index=False))
    return 0
