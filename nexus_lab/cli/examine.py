"""``nexus-lab examine``: the battery of audit tests on a general ledger, recorded.

Commands::

    nexus-lab examine GL --out DIR [--tests all] [--period-end YYYY-MM-DD]
                      [--columns ours=theirs ...] [--events FILE] [--store URL]
                      [--key KEYFILE] [--no-sign]
    nexus-lab examine GL --replay RECORD_ID [--columns ...] [--store URL]

The tests run through :func:`nexus_lab.workflows.examine_ledger`, which records each one
in the store (who, when, the data's fingerprint, the parameters, the result) and writes
``--out`` whole or not at all: the signed workpaper (``workpaper.html``,
``workpaper.xlsx``, each with its ``.sig``, and the signer's ``.nxpub``), every table of
every test under ``tables/<test>/`` as CSV and Parquet, and ``summary.json``.
``--replay`` runs one recorded test again on the file given and says whether it gives
the recorded result (status 1 when it does not). A role that may not run examinations
is refused with status 77.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from nexus_lab.cli._common import mapping, signing_key
from nexus_lab.errors import IntegrityError, NexusError


def register(sub: Any) -> None:
    """Register ``examine``."""
    from nexus_lab.examine import EXAMINE_TESTS

    p = sub.add_parser(
        "examine", help="run the audit tests on a general ledger and sign the workpaper",
        description="Run the standard battery of audit tests on a general ledger (Benford's "
        "digit tests, gaps in the entry numbers, exact and near duplicates, stratification, "
        "ageing, totals per account, the journal-entry tests and, with --events, "
        "segregation of duties), record each test in the store, and write the signed "
        "workpaper (HTML and Excel), every table (CSV and Parquet) and summary.json to "
        "--out, all at once.")
    p.add_argument("gl", metavar="GL",
                   help="the general ledger: a file nx.read_table reads (CSV, Parquet, "
                   "Excel) with entry_id, line, date, account, amount[, posted_by, "
                   "posted_at, source, description, approved_by, entity]")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (required unless --replay)")
    p.add_argument("--tests", default="all", metavar="NAMES",
                   help=f"all (default), or some of {', '.join(EXAMINE_TESTS)}, separated by "
                   "commas")
    p.add_argument("--period-end", default=None, metavar="YYYY-MM-DD",
                   help="the period's last day: the ageing cutoff and the journal-entry "
                   "tests' period end (default: the ledger's latest date)")
    p.add_argument("--columns", nargs="+", default=None, metavar="OURS=THEIRS",
                   help="the file's names for the ledger's columns, e.g. --columns "
                   "entry_id=JE amount=Amt (or amount=Amt,date=Posted)")
    p.add_argument("--events", default=None, metavar="FILE",
                   help="the ERP's event log (who created, changed, approved or paid what), "
                   "for the segregation-of-duties test")
    p.add_argument("--store", default=None, metavar="URL",
                   help="where the tests are recorded: sqlite:///path.db, "
                   "postgresql://user:password@host/db or a .db path (default: "
                   "NEXUS_LAB_STORE, else nexus.db in the user's data folder)")
    p.add_argument("--key", default=None, metavar="KEYFILE",
                   help="the key file that signs the workpaper (default: the workbench key, "
                   "NEXUS_LAB_SIGNING_KEY)")
    p.add_argument("--no-sign", action="store_true",
                   help="write the workpaper unsigned (and file no report)")
    p.add_argument("--replay", default=None, metavar="RECORD_ID",
                   help="run the recorded test RECORD_ID again on GL and say whether it gives "
                   "the recorded result (status 1 when it does not)")
    p.set_defaults(func=_examine, column_flags={"general ledger": "--columns"})


def _columns(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or ():
        out.update(mapping(value, "--columns"))
    return out


def _tests(text: str) -> Any:
    from nexus_lab.examine import EXAMINE_TESTS

    if text.strip() == "all":
        return "all"
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in EXAMINE_TESTS]
    if unknown or not names:
        raise NexusError(f"--tests {text!r}: name all, or some of {', '.join(EXAMINE_TESTS)}, "
                         "separated by commas")
    return names


def _examine(args: argparse.Namespace) -> int:
    from nexus_lab.cli.records import open_store

    columns = _columns(args.columns)
    if args.replay is not None:
        return _replay(args, columns, open_store(args.store))
    if args.out is None:
        raise NexusError("--out DIR is needed: the folder the workpaper and the tables go to")
    from nexus_lab.files import check_out_dir
    from nexus_lab.workflows import examine_ledger

    check_out_dir(args.out)  # before the work, not after it
    tests = _tests(args.tests)
    s = open_store(args.store)
    key = None if args.no_sign else signing_key(args.key)
    run = examine_ledger(args.gl, period_end=args.period_end, tests=tests, columns=columns,
                         events=args.events, out=args.out, store=s, sign=not args.no_sign,
                         key=key)
    print_run(run, args.gl)
    return 0


def print_run(run: Any, name: str) -> None:
    """Print what :func:`~nexus_lab.workflows.examine_ledger` did, on one screen."""
    import pandas as pd

    summary = run.summary()
    gl = run.data["gl"]
    print(f"Examined {os.path.basename(str(name))} ({gl['rows']:,} lines, sha256 "
          f"{gl['sha256'][:12]}...) for the period ending {summary.get('period_end')}: "
          f"{summary['tests']} tests, {len(summary['with_findings'])} with findings")
    table = run.battery.to_frame()
    width = max([len(n) for n in table["name"]] + [4])
    print(f"  {'test':<{width}}  {'verdict':<14} {'findings':>9}  key facts")
    for row in table.itertuples(index=False):
        found = "–" if pd.isna(row.findings) else f"{int(row.findings):,}"
        facts = row.facts if len(row.facts) <= 60 else row.facts[:57] + "..."
        warned = f"  ({row.warnings} warning{'s' * (row.warnings != 1)})" if row.warnings else ""
        print(f"  {row.name:<{width}}  {row.verdict or '–':<14} {found:>9}  {facts}{warned}")
    for test, why in run.battery.skipped.items():
        print(f"  {test:<{width}}  not run: {why}")
    print(f"recorded in {run.store} as battery {run.battery_id[:12]} by {run.created_by}; "
          f"replay a test: nexus-lab examine {name} --replay RECORD_ID (the records: "
          "summary.json)")
    for paper in run.workpapers:
        path = getattr(paper, "path", paper)
        if hasattr(paper, "verify_command"):
            print(f"  workpaper: {path} (signed by {paper.signer})")
        else:
            print(f"  workpaper: {path} (not signed)")
    signed = [p for p in run.workpapers if hasattr(p, "verify_command")]
    if signed:
        print(f"  check it:  {signed[0].verify_command}")
    if run.folder is not None:
        print(f"  outputs:   {run.folder}{os.sep} (tables{os.sep}<test>{os.sep}*.csv and "
              ".parquet, summary.json)")


def _replay(args: argparse.Namespace, columns: dict[str, str], s: Any) -> int:
    from nexus_lab.workflows import replay_examination

    if args.out is not None:
        raise NexusError("--replay writes nothing: leave --out out")
    replay = replay_examination(args.replay, args.gl, store=s, columns=columns)
    print(f"{replay.name} ({replay.test}), record {replay.record_id}: {replay.verdict}")
    print(f"  data: {'the recorded data' if replay.data_matches else 'NOT the recorded data'}"
          f" (sha256 {replay.recorded['data_sha256'][:12]}... recorded); tables "
          f"{'identical' if replay.tables_match else 'differ'}")
    for fact, (before, now) in list(replay.differences.items())[:10]:
        print(f"  {fact}: recorded {before!r}, now {now!r}")
    if not replay.matches:
        raise IntegrityError(f"examination {replay.record_id} ({replay.name}) gives another "
                             f"result than recorded on {args.gl}" +
                             ("" if replay.data_matches else
                              ": the data is not the data it was recorded on"))
    return 0
