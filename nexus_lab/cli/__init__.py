"""The ``nexus-lab`` command line.

Commands::

    nexus-lab reconcile BANK LEDGER --out DIR [--amount-tolerance 5] [--date-window 7]
                        [--device auto] [--bank-columns amount=Amt,date=Posted]
                        [--ledger-columns ...] [--columns ...] [--sheet NAME] [--no-track]
    nexus-lab standardize FILE [--kind bank|ledger] [--rules rules.yaml] [--out DIR]
    nexus-lab fraud train DATA [--labels is_fraud] [--columns account=card_id,...]
                       [--holdout 0.2] [--device auto] [--out DIR] [--no-register]
    nexus-lab fraud score DATA --out DIR [--model models:/nexus-fraud@champion]
    nexus-lab recommend train DATA [--model hybrid] [--columns user_id=customer,...]
                           [--weight rating] [--k 10] [--out DIR] [--no-register]
    nexus-lab recommend serve (--users ID ... | --users-file FILE) [--k 10] [--out FILE]
                           [--model models:/nexus-recommender@champion]
    nexus-lab examine GL --out DIR [--tests all] [--period-end YYYY-MM-DD]
                      [--columns ours=theirs ...] [--events FILE] [--store URL] [--no-sign]
    nexus-lab examine GL --replay RECORD_ID [--store URL]
    nexus-lab keys new|show ...; seal|open|sign|verify FILE ...; audit verify|show [LOG]
    nexus-lab case new|list|show|add|transfer|status|timeline|verify ...
    nexus-lab report KIND --role ROLE [--period 2025-11] [--run RUN_ID] [--case CASE_ID]
                     [--format html|pdf|xlsx|csv] [--out DIR] [--store URL] [--key KEYFILE]
    nexus-lab dashboards serve [--port 5006] [--store URL] | dashboards list
    nexus-lab run NOTEBOOK [-p NAME VALUE ...] [--out DIR] [--store URL]
    nexus-lab schedule add NAME NOTEBOOK --cron "0 6 * * 1" [-p NAME VALUE ...] [--timezone UTC]
    nexus-lab schedule add NAME --report KIND --role ROLE [--format html] [--to FOLDER] --cron ...
    nexus-lab schedule list | remove NAME_OR_ID | run NAME_OR_ID [--root-dir DIR]
    nexus-lab demo [--out out/demo] [--no-track]
    nexus-lab data sample [--n 2000] [--seed 7] [--out data]
    nexus-lab --version

A mistake in the input (a missing file, a misnamed column, an amount that is
not a number) prints ``error: <what is wrong and how to fix it>`` and exits
with status 2; nothing is written. A failed integrity check (a signature, a sealed
file or an audit log that does not verify) prints ``FAILED: <what failed>`` and
exits with status 1. Ctrl-C (SIGINT) and SIGTERM stop a command the same way: the
output under way is removed, an MLflow run under way is marked KILLED, and a line says
which outputs were complete before the stop (or that nothing was written); the status
is 130 after SIGINT, 143 after SIGTERM.

A surface: each command group is a module here (``reconcile``, ``standardize``, ``fraud``,
``recommend``, ``examine``, ``runs``, ``dashboards``, ``demo``, ``crypto``, ``audit``, ``cases``,
``records``, ``report``) that parses its arguments, calls a service or a workflow, and
prints what came back; ``_common`` holds what they share.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from nexus_lab import __version__
from nexus_lab.cli import (
    audit,
    cases,
    crypto,
    dashboards,
    demo,
    examine,
    fraud,
    recommend,
    reconcile,
    records,
    report,
    runs,
    standardize,
)
from nexus_lab.cli._common import (
    EXIT_BUG,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    EXIT_REFUSED,
    EXIT_TERMINATED,
    for_the_command_line,
)
from nexus_lab.errors import IntegrityError, NexusError, PermissionDenied
from nexus_lab.files import record_writes

__all__ = ["main"]

# in --help's order
_GROUPS = (reconcile, records, standardize, fraud, recommend, examine, runs, dashboards, demo,
           crypto, audit, cases, report)


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
        (``error: ...``), 130 when interrupted (SIGINT), 143 when terminated
        (SIGTERM), 77 when the user's role does not permit the action (``refused:
        ...``), 70 for a fault of the program itself (a traceback and
        ``internal error: ...``).

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
    with _sigterm_as_interrupt(), record_writes() as written:
        try:
            return int(args.func(args))
        except IntegrityError as err:
            print(f"FAILED: {err}", file=sys.stderr)
            return EXIT_FAILED
        except PermissionDenied as err:
            print(f"refused: {err}", file=sys.stderr)
            return EXIT_REFUSED
        except NexusError as err:
            flags = getattr(args, "column_flags", None)
            print(f"error: {for_the_command_line(str(err), getattr(err, 'table', None), flags)}",
                  file=sys.stderr)
            return EXIT_INPUT
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as on SIGPIPE
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_PIPE
        except KeyboardInterrupt as err:
            terminated = isinstance(err, _Terminated)
            print(_stopped("terminated" if terminated else "interrupted", written),
                  file=sys.stderr)
            return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        except Exception:  # a fault of the program: never an exit status that blames the input
            traceback.print_exc()
            print("internal error: a fault of nexus-lab, not of your input (the traceback "
                  f"above says where); {_stopped('it stopped', written)}", file=sys.stderr)
            return EXIT_BUG


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it cleans up as after Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not stop the cleanup
    raise _Terminated


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`_Terminated` (a ``KeyboardInterrupt``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _stopped(how: str, written: list[Path]) -> str:
    """The line that says what a stopped command left behind."""
    if not written:
        return f"{how}: nothing was written"
    names = "; ".join(str(p) for p in dict.fromkeys(written))
    return (f"{how}: written in full before it stopped: {names}; what was under way was not "
            "written")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
