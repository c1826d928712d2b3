"""``nexus-lab report KIND``: a signed report of the store, as one role sees it.

Commands::

    nexus-lab report KIND --role ROLE [--period P] [--run RUN_ID] [--case CASE_ID]
                     [--format html|pdf|xlsx|csv] [--out DIR] [--store URL] [--key KEYFILE]

KIND is ``reconciliation``, ``fraud``, ``case``, ``executive`` or ``audit_trail``; the
period is ``2025-11``, ``2025-Q4``, ``2025`` or ``2025-11-01..2025-11-30`` (everything
when left out). The report is signed by ``--key`` (its password from
``NEXUS_LAB_KEY_PASSWORD`` or the terminal), else by the workbench key
(``NEXUS_LAB_SIGNING_KEY``, made on first use); it is written under ``--out`` (else
``NEXUS_LAB_REPORTS``) with ``FILE.sig`` and the signer's ``.nxpub`` beside it, and
``nexus-lab verify FILE --sig FILE.sig --pub PUB`` checks it. A role the user does not
hold, or that may not read what the kind shows, is refused with exit status 77.
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_lab.cli._common import signing_key
from nexus_lab.cli.records import open_store


def register(sub: Any) -> None:
    """Register ``report``."""
    from nexus_lab.auth import ROLES
    from nexus_lab.reports import REPORT_FORMATS, REPORT_KINDS

    p = sub.add_parser(
        "report", help="a signed report of the store for one point of view",
        description="Render what the store holds as one role sees it (the role's sections, "
        "its fields masked), sign it and record it in the store.")
    p.add_argument("kind", choices=list(REPORT_KINDS),
                   help="reconciliation, fraud, case, executive or audit_trail")
    p.add_argument("--role", required=True, choices=list(ROLES),
                   help="the point of view: one of your roles")
    p.add_argument("--period", default=None, metavar="P",
                   help="2025-11, 2025-Q4, 2025 or 2025-11-01..2025-11-30 (default: "
                   "everything)")
    p.add_argument("--run", default=None, dest="run_id", metavar="RUN_ID",
                   help="one reconciliation or fraud run instead of the period's")
    p.add_argument("--case", default=None, dest="case_id", metavar="CASE_ID",
                   help="the case of a case report (a row of the store's cases table)")
    p.add_argument("--format", default="html", choices=list(REPORT_FORMATS), dest="fmt",
                   help="html (default), pdf, xlsx, or csv (a zip of one CSV per section)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the folder (default: NEXUS_LAB_REPORTS, else reports in the user's "
                   "data folder)")
    p.add_argument("--store", default=None, metavar="URL",
                   help="sqlite:///path.db, postgresql://user:password@host/db or a .db path "
                   "(default: NEXUS_LAB_STORE, else nexus.db in the user's data folder)")
    p.add_argument("--key", default=None, metavar="KEYFILE",
                   help="the key file that signs (default: the workbench key, "
                   "NEXUS_LAB_SIGNING_KEY)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from nexus_lab.reports import make_report

    s = open_store(args.store)
    key = signing_key(args.key)
    done = make_report(args.kind, role=args.role, period=args.period, store=s,
                       run_id=args.run_id, case_id=args.case_id, fmt=args.fmt, out=args.out,
                       key=key)
    period = "everything" if done.period == "all" else f"period {done.period}"
    print(f"wrote {done.path} ({done.kind.replace('_', ' ')} for the "
          f"{done.role.replace('_', ' ')}, {period}; sections: {', '.join(done.sections)})")
    print(f"  signed by {done.signer}: {done.signature}")
    print(f"  check it: {done.verify_command}")
    return 0
