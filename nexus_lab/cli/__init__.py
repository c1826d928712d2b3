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
    nexus-lab demo [--out out/demo] [--no-track]
    nexus-lab data sample [--n 2000] [--seed 7] [--out data]
    nexus-lab --version

A mistake in the input (a missing file, a misnamed column, an amount that is
not a number) prints ``error: <what is wrong and how to fix it>`` and exits
with status 2; nothing is written. A failed integrity check (a signature, a sealed
file or an audit log that does not verify) prints ``FAILED: <what failed>`` and
exits with status 1.

A surface: each command group is a module here (``reconcile``, ``fraud``,
``recommend``, ``demo``, ``crypto``, ``audit``, ``cases``) that parses its arguments,
calls a service or a workflow, and prints what came back; ``_common`` holds what they
share.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from nexus_lab import __version__
from nexus_lab.cli import audit, cases, crypto, demo, fraud, recommend, reconcile
from nexus_lab.cli._common import EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["main"]

_GROUPS = (reconcile, fraud, recommend, demo, crypto, audit, cases)  # in --help's order


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexus-lab",
        description="NEXUS Lab: analytics for financial examination, from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"nexus-lab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        group.register(sub)
    return parser


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
