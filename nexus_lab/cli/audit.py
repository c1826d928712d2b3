"""``nexus-lab audit verify|show``: check and read an audit log.

Commands::

    nexus-lab audit verify [LOG] [--pub PUB] [--witness PATH ...] [--require-witness]
                           [--anchors] [--web3 URL]
    nexus-lab audit show [LOG] [--last 20]

``LOG`` defaults to the log ``NEXUS_LAB_AUDIT_LOG`` names. ``verify`` prints one line
for each anchor receipt (in the log or a witness): checked on its chain, or not
checked and why; and one for each checkpoint whose automatic anchoring failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nexus_lab import config
from nexus_lab.cli._common import load_public
from nexus_lab.errors import NexusError


def register(sub: Any) -> None:
    """Register ``audit`` and its actions."""
    aud = sub.add_parser("audit", help="check and read an audit log")
    aud_sub = aud.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    av = aud_sub.add_parser(
        "verify", help="check the hash chain, checkpoints and anchors",
        description="Check an audit log: the hash chain, every signed checkpoint and every "
        "anchor receipt (in the log or a witness) against the entries and, when it can be "
        "reached, the chain. Names the first altered, removed or reordered entry, and every "
        "witness it can reach (the file LOG.witness beside it, those the log names, "
        "--witness): a witness catches entries removed from the end. Prints OK only when a "
        "witness proves the log complete, else what was proven, and each anchor checked or "
        "not checked on its chain; exit status 1 when the log fails (or, with "
        "--require-witness, is not proven complete; with --anchors, has an anchor not "
        "checked on its chain).")
    av.add_argument("log", nargs="?", default=None,
                    help="the audit log (default: $NEXUS_LAB_AUDIT_LOG)")
    av.add_argument("--pub", default=None, help="the key that must have signed checkpoints")
    av.add_argument("--witness", action="append", default=[], metavar="PATH",
                    help="another witness file or folder to check (repeatable)")
    av.add_argument("--require-witness", action="store_true",
                    help="exit status 1 unless a witness proves the log complete")
    av.add_argument("--store", default=None, metavar="URL",
                    help="also check the log against this store's audit_logs: every change "
                    "the store recorded must be in the log, identical (a rolled-back or "
                    "rewritten log fails)")
    av.add_argument("--anchors", action="store_true",
                    help="exit status 1 unless every anchor was checked on its chain")
    av.add_argument("--web3", default=None, metavar="URL",
                    help="JSON-RPC endpoint of the anchors' chain (default: "
                    "$NEXUS_LAB_WEB3_URL)")
    av.set_defaults(func=_cmd_audit_verify)
    ash = aud_sub.add_parser("show", help="print the latest entries")
    ash.add_argument("log", nargs="?", default=None,
                     help="the audit log (default: $NEXUS_LAB_AUDIT_LOG)")
    ash.add_argument("--last", type=int, default=20, help="how many entries (default 20)")
    ash.set_defaults(func=_cmd_audit_show)



def _audit_log(path: str | None, *, write: bool = False) -> Any:
    from nexus_lab.crypto import AuditLog

    path = path or config.settings().audit_log
    if not path:
        raise NexusError("name the audit log (nexus-lab audit verify LOG) or set "
                         "NEXUS_LAB_AUDIT_LOG")
    if not Path(path).exists():
        raise NexusError(f"audit log {path!r} does not exist")
    if not write:
        import sqlite3

        # looking never writes: the evidence file stays byte for byte as it was
        try:
            con = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True,
                                  check_same_thread=False)
        except sqlite3.Error as err:
            raise NexusError(f"cannot open the audit log {path!r}: {err}") from None
        try:
            return AuditLog(con)
        except NexusError:
            con.close()
            raise NexusError(f"{path!r} is not a NEXUS audit log, or tables of it were "
                             "removed (it was checked without writing to it)") from None
    return AuditLog(path)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    log = _audit_log(args.log)
    pub = load_public(args.pub) if args.pub else None
    report = log.verify(pub, web3=args.web3, witnesses=args.witness)
    print(f"OK: {report}" if report.complete else f"NOT PROVEN COMPLETE: {report}")
    if report.unsigned_tail:
        print(f"  {report.unsigned_tail} entries after the last checkpoint are chained but "
              "not yet signed")
    if pub is None and report.signers:
        print("  checkpoints signed by " + ", ".join(report.signers)
              + " (pass --pub to require a key)")
    if report.unreachable:
        print("  witnesses not reachable: " + ", ".join(report.unreachable))
    for line in report.chain_checked:
        print(f"  anchor checked on its chain: {line}")
    for line in report.chain_unchecked:
        print(f"  anchor NOT checked on a chain: {line}")
    for line in report.not_anchored:
        print(f"  NOT ANCHORED: {line}")
    if args.store is not None:
        from nexus_lab import audit, auth, store

        books = store.connect(args.store)
        auth.require(("audit.read", "audit.verify"), store=books, resource="audit_logs")
        seen = audit.check_store(log, books)
        print(f"  the store {books.where} witnesses {seen['checked']} changes: all in the "
              "log, identical" + (f" (up to entry {seen['latest']})" if seen["latest"] else ""))
    if args.require_witness and not report.complete:
        return 1
    return 1 if args.anchors and report.chain_unchecked else 0


def _cmd_audit_show(args: argparse.Namespace) -> int:
    log = _audit_log(args.log)
    entries = log.entries().tail(max(args.last, 0))
    for row in entries.itertuples(index=False):
        print(f"{row.seq:>6}  {row.created_at[:19]}  {row.actor:<16} {row.action:<26} "
              f"{row.resource}")
    print(f"({len(log)} entries)")
    return 0
