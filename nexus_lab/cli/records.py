"""``nexus-lab ingest | store | users | review``: the system of record from the command line.

Commands::

    nexus-lab ingest FILE [FILE ...] [--table bank_statements] [--to URL] [--account A]
                     [--columns amount=Amt,...] [--no-balance-check]
    nexus-lab store migrate [--store URL]
    nexus-lab store tables [--store URL]
    nexus-lab users add NAME --role ROLE [--display-name TEXT] [--password-stdin] [--store URL]
    nexus-lab users password NAME [--password-stdin] [--store URL]
    nexus-lab users grant NAME ROLE | users revoke NAME ROLE [--store URL]
    nexus-lab users list | users roles [--store URL]
    nexus-lab review runs [--store URL]
    nexus-lab review approve RUN_ID [--note TEXT] [--store URL]
    nexus-lab review items RUN_ID [--all] [--store URL]
    nexus-lab review resolve ITEM_ID RESOLUTION [--linked-to ID] [--note TEXT]

The store is ``--store`` (``--to`` for ``ingest``), else ``NEXUS_LAB_STORE``, else
``nexus.db`` in the user's data folder; a new store is made and migrated on first use.
Who acts is ``NEXUS_LAB_ACTOR``, else the login name; an action that person's roles do
not permit is refused with exit status 77.
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_lab.cli._common import day_order, mapping, plain


def _store_arg(p: argparse.ArgumentParser, flag: str = "--store") -> None:
    p.add_argument(flag, dest="store", default=None, metavar="URL",
                   help="sqlite:///path.db, postgresql://user:password@host/db or a .db path "
                   "(default: NEXUS_LAB_STORE, else nexus.db in the user's data folder)")


def open_store(url: str | None) -> Any:
    """The store at ``url`` (or the default one), migrated to this version's schema."""
    from nexus_lab import store

    s = store.connect(url)
    s.migrate()
    return s


def register(sub: Any) -> None:
    """Register ``ingest``, ``store``, ``users`` and ``review``."""
    from nexus_lab.store import NATURAL_KEYS

    ing = sub.add_parser("ingest", help="read bank statements or books into the store",
                         description="Read files (CSV, Excel, Parquet, OFX, CAMT.053, MT940) "
                         "into the store. Re-ingesting a file changes nothing.")
    ing.add_argument("files", nargs="+", metavar="FILE", help="the files to read in")
    ing.add_argument("--table", default="bank_statements", choices=list(NATURAL_KEYS),
                     help="what the files hold (default bank_statements; the books: expenses)")
    _store_arg(ing, "--to")
    ing.add_argument("--account", default=None,
                     help="the account of files that have no account column")
    ing.add_argument("--sheet", default=0, help="the worksheet of Excel files")
    ing.add_argument("--columns", metavar="MAP", default=None,
                     help="the files' names for the table's columns, e.g. "
                     "amount=Amt,date=Posted,transaction_id=Id")
    ing.add_argument("--no-balance-check", action="store_true",
                     help="read bank statement files whose balances do not add up (cut off) "
                     "as they are")
    ing.add_argument("--decimal", default="auto", choices=("auto", ".", ","),
                     help="decimal mark of amounts written as text (default: per column)")
    ing.add_argument("--dayfirst", nargs="?", const="all", default=None, metavar="TABLE",
                     help="numeric dates are day/month/year (when no day above 12 settles it)")
    ing.add_argument("--monthfirst", nargs="?", const="all", default=None, metavar="TABLE",
                     help="numeric dates are month/day/year")
    ing.set_defaults(func=_ingest)

    st = sub.add_parser("store", help="the system of record: migrate, list tables")
    ss = st.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    p = ss.add_parser("migrate", help="bring the schema up to this version's")
    _store_arg(p)
    p.set_defaults(func=_migrate)
    p = ss.add_parser("tables", help="the tables and their row counts")
    _store_arg(p)
    p.set_defaults(func=_tables)

    us = sub.add_parser("users", help="users and their roles")
    uss = us.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    p = uss.add_parser("add", help="add a user with a role")
    p.add_argument("name", help="the user's login name")
    p.add_argument("--role", required=True, help="examiner, prosecutor, judge, executive, "
                   "compliance_officer, auditor or admin")
    p.add_argument("--display-name", default=None, help="the name the dashboards show")
    _password_args(p)
    _store_arg(p)
    p.set_defaults(func=_add_user)
    p = uss.add_parser("password", help="set a user's password (to sign in to the dashboards)")
    p.add_argument("name", help="the user's login name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    _store_arg(p)
    p.set_defaults(func=_set_password, password=True)
    for name, func, help in (("grant", _grant, "give a user a role"),
                             ("revoke", _revoke, "take a role from a user")):
        p = uss.add_parser(name, help=help)
        p.add_argument("name", help="the user's login name")
        p.add_argument("role", help="the role")
        _store_arg(p)
        p.set_defaults(func=func)
    p = uss.add_parser("list", help="the users and their roles")
    _store_arg(p)
    p.set_defaults(func=_list_users)
    p = uss.add_parser("roles", help="the permission matrix: what each role may do")
    _store_arg(p)
    p.set_defaults(func=_roles)

    rv = sub.add_parser("review", help="approve reconciliations, resolve open items")
    rvs = rv.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    p = rvs.add_parser("runs", help="the reconciliation runs in the store")
    _store_arg(p)
    p.set_defaults(func=_runs)
    p = rvs.add_parser("approve", help="approve a reconciliation run (examiners)")
    p.add_argument("run_id", help="the run (nexus-lab review runs lists them)")
    p.add_argument("--note", default="", help="the approver's note")
    _store_arg(p)
    p.set_defaults(func=_approve)
    p = rvs.add_parser("items", help="a run's open items")
    p.add_argument("run_id", help="the run (nexus-lab review runs lists them)")
    p.add_argument("--all", action="store_true", help="resolved ones too")
    _store_arg(p)
    p.set_defaults(func=_items)
    p = rvs.add_parser("resolve", help="resolve an open item")
    p.add_argument("item_id", type=int, help="the open item (review items lists them)")
    p.add_argument("resolution", choices=("linked", "timing", "written_off", "accepted"),
                   help="linked by hand, a timing difference, written off, or accepted")
    p.add_argument("--linked-to", default=None,
                   help="the other side's transaction id (default: the suggested one)")
    p.add_argument("--note", default="", help="why")
    _store_arg(p)
    p.set_defaults(func=_resolve)


def _ingest(args: argparse.Namespace) -> int:
    from nexus_lab import auth
    from nexus_lab.files import record_output
    from nexus_lab.workflows import ingest_file

    s = open_store(args.store)
    auth.require("financial.ingest", store=s, resource=args.table)
    dayfirst = day_order(args)
    columns = mapping(args.columns, "--columns")
    done = []
    with s.transaction():  # every file, or none
        for path in args.files:
            done.append(ingest_file(
                path, args.table, store=s, account=args.account,
                dayfirst=dayfirst if not isinstance(dayfirst, dict) else None,
                decimal=args.decimal, sheet=args.sheet, columns=columns or None,
                check_balance=not args.no_balance_check))
    record_output(f"{', '.join(args.files)} into {args.table} of {s.where}")
    for path, one in zip(args.files, done, strict=True):
        kept = one["rows_read"] - one["rows_written"]
        print(f"{path}: {one['rows_written']:,} of {one['rows_read']:,} rows written to "
              f"{args.table}" + (f" ({kept:,} were there already)" if kept else "")
              + f" in {s.where}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    s = open_store(args.store)
    print(f"{s.where}: schema at revision {s.revision()}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    s = open_store(args.store)
    print(plain(s.tables()).to_string(index=False))
    return 0


def _password_args(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    how.add_argument("--no-password", dest="password", action="store_false",
                     help="no password: the user acts from the command line and notebooks "
                     "but cannot sign in to the dashboards")


def _read_password(args: argparse.Namespace) -> str | None:
    """The new password: from stdin's first line, else asked twice on a terminal."""
    import getpass
    import sys

    from nexus_lab.errors import NexusError

    if not getattr(args, "password", True):
        return None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise NexusError("the two passwords differ; nothing was changed")
    else:
        raise NexusError("no terminal to ask the password on: pass --password-stdin and "
                         "give it on standard input, or --no-password")
    if len(password) < 8:
        raise NexusError("a password needs at least 8 characters; nothing was changed")
    return password


def _add_user(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    password = _read_password(args)
    s = open_store(args.store)
    auth.add_user(args.name, role=args.role, display_name=args.display_name,
                  password=password, store=s)
    signs_in = "" if password else " (no password: cannot sign in to the dashboards)"
    print(f"{args.name}: {', '.join(auth.roles(args.name, store=s))}{signs_in}")
    return 0


def _set_password(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    password = _read_password(args)
    s = open_store(args.store)
    if args.name not in set(auth.users(store=s)["user_id"]):
        from nexus_lab.errors import NexusError
        raise NexusError(f"no user {args.name!r} in the store at {s.where}; add them with "
                         f"nexus-lab users add {args.name} --role ROLE")
    auth.add_user(args.name, password=password, store=s)
    print(f"{args.name}: password set")
    return 0


def _grant(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    s = open_store(args.store)
    auth.grant(args.name, args.role, store=s)
    print(f"{args.name}: {', '.join(auth.roles(args.name, store=s))}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    s = open_store(args.store)
    auth.revoke(args.name, args.role, store=s)
    print(f"{args.name}: {', '.join(auth.roles(args.name, store=s)) or 'no role'}")
    return 0


def _list_users(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    s = open_store(args.store)
    auth.require(("users.manage", "audit.read"), store=s, resource="users")
    people = auth.users(store=s)
    print(plain(people).to_string(index=False) if len(people) else "no users yet; add one: "
          "nexus-lab users add NAME --role examiner")
    return 0


def _roles(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    table = auth.matrix(store=open_store(args.store))
    print(table.replace({True: "x", False: ""}).to_string())
    return 0


def _runs(args: argparse.Namespace) -> int:
    from nexus_lab import auth

    s = open_store(args.store)
    auth.require("financial.read", store=s, resource="reconciliation_runs")
    runs = s.read("reconciliation_runs", columns=[
        "run_id", "account", "period_start", "period_end", "rate", "matched_pairs",
        "open_items", "status", "created_by", "approved_by"], order_by="-created_at")
    still = s.query("select run_id, count(*) as n from open_items where status = 'open' "
                    "group by run_id")
    runs["open_items"] = runs["run_id"].map(dict(zip(still["run_id"], still["n"],
                                                     strict=True))).fillna(0).astype(int)
    runs["account"] = runs["account"].replace("", "(all)")
    print(plain(runs).to_string(index=False) if len(runs) else "no reconciliation runs yet")
    return 0


def _approve(args: argparse.Namespace) -> int:
    from nexus_lab import review

    s = open_store(args.store)
    done = review.approve_run(args.run_id, note=args.note, store=s)
    print(f"run {done['run_id']} approved by {done['approved_by']} "
          f"({done['open_items']} open items acknowledged)")
    return 0


def _items(args: argparse.Namespace) -> int:
    from nexus_lab import auth
    from nexus_lab.errors import NexusError

    s = open_store(args.store)
    auth.require("financial.read", store=s, resource=f"reconciliation_runs/{args.run_id}")
    if s.read("reconciliation_runs", where={"run_id": args.run_id}, columns=["run_id"]).empty:
        raise NexusError(f"no reconciliation run {args.run_id!r} in {s.where}; nexus-lab "
                         "review runs lists them")
    where = {"run_id": args.run_id} if args.all else {"run_id": args.run_id, "status": "open"}
    items = s.read("open_items", where=where, columns=[
        "id", "side", "transaction_id", "date", "amount_cents", "reason", "suggested",
        "status", "resolution"])
    print(plain(items).to_string(index=False) if len(items) else "no open items")
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from nexus_lab import review

    done = review.resolve_open_item(args.item_id, args.resolution, linked_to=args.linked_to,
                                    note=args.note, store=open_store(args.store))
    print(f"open item {done['id']} resolved ({done['resolution']}) by {done['resolved_by']}")
    return 0
