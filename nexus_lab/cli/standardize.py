"""``nexus-lab standardize``: a bank statement or ledger made standard, and its quality.

Command::

    nexus-lab standardize FILE [--kind bank|ledger] [--rules rules.yaml] [--out DIR]
                          [--columns amount=Amt,...] [--currency EUR] [--sheet NAME]
                          [--decimal auto] [--dayfirst | --monthfirst] [--device auto]
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_lab.cli._common import day_order, mapping, reading


def register(sub: Any) -> None:
    """Register ``standardize``."""
    p = sub.add_parser(
        "standardize",
        help="standardize a bank statement or ledger and score its data quality",
        description="Bring a table (CSV, Parquet or Excel) into the bank or ledger contract "
        "(amounts in cents, ISO dates, a currency per row, clean descriptions), find "
        "suspected duplicates with the record linker, score completeness, validity, "
        "uniqueness, consistency and timeliness (0-100), and print the score and the number "
        "of changes per rule; with --out write standardized.csv, changes.csv, duplicates.csv, "
        "quality.html and rules.json, all at once.",
    )
    p.add_argument("file", help="the table: .csv, .parquet or .xlsx")
    p.add_argument("--kind", default="bank", choices=("bank", "ledger"),
                   help="the data contract the table follows (default bank)")
    p.add_argument("--rules", default=None, metavar="YAML",
                   help="quality rules (a YAML list of {column, check, ...}); default: the "
                   "contract's built-in rules")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder")
    p.add_argument("--columns", metavar="MAP",
                   help="column names, e.g. amount=Amt,date=Posted,transaction_id=Id")
    p.add_argument("--currency", default=None, metavar="CODE",
                   help="ISO code of rows whose currency nothing else tells, e.g. EUR")
    p.add_argument("--sheet", default=None, help="worksheet of an .xlsx file (default: first)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    reading(p)
    p.set_defaults(func=_standardize, column_flags={"bank": "--columns", "ledger": "--columns"})


def _standardize(args: argparse.Namespace) -> int:
    from nexus_lab.workflows import standardize_table

    sheet: str | int = 0 if args.sheet is None else (
        int(args.sheet) if args.sheet.isdigit() else args.sheet)
    run = standardize_table(
        args.file, args.kind, columns=mapping(args.columns, "--columns") or None,
        currency=args.currency, rules=args.rules, out=args.out, device=args.device,
        decimal=None if args.decimal == "auto" else args.decimal,
        dayfirst=day_order(args, (args.kind,)), sheet=sheet)
    s, q = run.result.summary(), run.quality.summary()
    print(f"Standardized {args.file} ({s['rows']:,} {args.kind} rows): quality "
          f"{q['overall']:.1f} / 100")
    print("  " + ", ".join(f"{d} {'n/a' if q[d] is None else format(q[d], '.1f')}"
                           for d in ("completeness", "validity", "uniqueness", "consistency",
                                     "timeliness")))
    print(f"  changes: {s['changes']:,} ("
          + ", ".join(f"{rule} {n:,}" for rule, n in s["changes_by_rule"].items()) + ")")
    print(f"  suspected duplicate pairs: {s['duplicate_pairs']:,}; failing quality rules: "
          f"{q['failing_rules']} of {q['rules']}")
    if run.folder is not None:
        print(f"  outputs: {run.folder} (standardized.csv, changes.csv, duplicates.csv, "
              "rules.json)")
        print(f"  report:  {run.folder / 'quality.html'}")
    return 0
