"""``%nexus`` and ``%%nexus``: the workflows from a notebook's cell.

Load them with ``%load_ext nexus_lab``, then::

    %nexus reconcile bank.csv ledger.csv --amount-tolerance 4 --out out/march
    %nexus fraud transactions.csv --columns account=card_id
    %nexus review RUN_ID
    %nexus help reconcile

or give the options as the body of a ``%%nexus`` cell, one ``name: value`` per line
(YAML; a mapping such as ``columns`` may be written as a YAML mapping)::

    %%nexus reconcile
    bank: bank.csv
    ledger: ledger.csv
    amount_tolerance: 4

A command's result is the cell's output (shown with its rich HTML) and is kept in the
notebook's variable ``_nexus`` (and in ``--as NAME``'s too). The work is the package's:
:func:`nexus_lab.read_table`, :func:`nexus_lab.reconcile`,
:func:`nexus_lab.workflows.reconcile_and_export`, :class:`nexus_lab.fraud.FraudDetector`,
and for ``review`` the :class:`~nexus_lab.jupyter.ReviewWidget`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from IPython.core import magic_arguments as ma
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.utils.process import arg_split

from nexus_lab.jupyter._launch import DEVICES

__all__ = ["NexusMagics", "load_ipython_extension"]

#: The notebook variable every command's result is kept in.
RESULT = "_nexus"


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%nexus`` and ``%%nexus`` magics (``%load_ext nexus_lab``).

    Parameters
    ----------
    ipython : IPython.core.interactiveshell.InteractiveShell
    """
    ipython.register_magics(NexusMagics)


def _columns(text: str | None, flag: str) -> dict[str, str]:
    """``"amount=Amt,date=Posted"`` as ``{"amount": "Amt", "date": "Posted"}``."""
    pairs = [part.partition("=") for part in (text or "").split(",") if part.strip()]
    if any(not sep or not k.strip() or not v.strip() for k, sep, v in pairs):
        raise UsageError(f"{flag} {text!r}: write the column names as canonical=yours, "
                         f"separated by commas, e.g. {flag} amount=Amt,date=Posted")
    return {k.strip(): v.strip() for k, _, v in pairs}


_as = ma.argument("--as", dest="name", metavar="NAME",
                  help=f"also keep the result in this variable (it is always in {RESULT})")


@ma.magic_arguments(name="nexus reconcile")
@ma.argument("bank", help="the bank statement: a file nx.read_table reads (CSV, Parquet, "
             "Excel, OFX, CAMT.053, MT940)")
@ma.argument("ledger", help="the ledger: a file, as the bank's")
@ma.argument("--amount-tolerance", type=float, default=None, metavar="UNITS",
             help="largest amount difference within a counterparty (default: the engine's)")
@ma.argument("--date-window", type=int, default=None, metavar="DAYS",
             help="largest posting lag in days (default: the engine's)")
@ma.argument("--device", default="auto", choices=DEVICES, help="default auto")
@ma.argument("--bank-columns", metavar="MAP",
             help="the bank file's column names, e.g. amount=Amt,date=Posted")
@ma.argument("--ledger-columns", metavar="MAP", help="the ledger's, as above")
@ma.argument("--out", metavar="DIR", help="also write the matches, the open items, "
             "summary.json and report.html here, all at once (as nexus-lab reconcile does)")
@ma.argument("--track", action="store_true", help="with --out: log the run to MLflow")
@_as
def _reconcile(args: Any) -> Any:
    """Reconcile a bank statement against a ledger; the result shows its rate, what is
    matched and why the rest is open."""
    from nexus_lab.files import read_table

    maps = {"bank": _columns(args.bank_columns, "--bank-columns"),
            "ledger": _columns(args.ledger_columns, "--ledger-columns")}
    bank = read_table(args.bank, name="bank", columns=maps["bank"])
    ledger = read_table(args.ledger, name="ledger", columns=maps["ledger"])
    given = {} if args.amount_tolerance is None else {"amount_tolerance": args.amount_tolerance}
    if args.out:
        from nexus_lab.workflows import reconcile_and_export

        run = reconcile_and_export(
            bank, ledger, args.out, date_window=args.date_window, device=args.device,
            sources={"bank": (args.bank, maps["bank"]), "ledger": (args.ledger, maps["ledger"])},
            settings={"device_requested": args.device}, track=args.track, source="notebook",
            **given)
        print(f"report: {run.export.report}")
        return run.result
    from nexus_lab.reconcile import reconcile

    columns = {side: m for side, m in maps.items() if m}
    return reconcile(bank, ledger, date_window=args.date_window, device=args.device,
                     columns=columns or None, **given)


@ma.magic_arguments(name="nexus fraud")
@ma.argument("data", help="transactions: a file nx.read_table reads")
@ma.argument("--model", metavar="URI", help="score with this registered MLflow model (e.g. "
             "models:/nexus-fraud@champion) instead of a detector learned from DATA")
@ma.argument("--columns", metavar="MAP",
             help="the file's column names, e.g. account=card_id,date=datetime")
@ma.argument("--device", default="auto", choices=DEVICES, help="default auto")
@_as
def _fraud(args: Any) -> Any:
    """Score every transaction 0-100 for fraud risk, each flag with its reason: with a
    detector learned from DATA itself (without labels), or with a registered model."""
    from nexus_lab.files import read_table

    columns = _columns(args.columns, "--columns")
    data = read_table(args.data, name="transactions", columns=columns)
    if args.model:
        from nexus_lab.tracking import load_fraud_model

        detector = load_fraud_model(args.model).unwrap_python_model().detector
    else:
        from nexus_lab.fraud import FraudDetector

        detector = FraudDetector(columns=columns or None, device=args.device,
                                 random_state=0).fit(data)
    return detector.score(data)


@ma.magic_arguments(name="nexus review")
@ma.argument("run_id", help="a reconciliation run kept in the store "
             "(nexus_lab.review.runs() lists them)")
@ma.argument("--store", metavar="URL", help="the store (default: NEXUS_LAB_STORE, else "
             "nexus.db in the user's data folder)")
@ma.argument("--user", help="act as this user (default: the current one)")
@ma.argument("--page-size", type=int, default=10, metavar="N", help="open items per page")
@_as
def _review(args: Any) -> Any:
    """Review a reconciliation run's open items: accept or reject each suggested link."""
    from nexus_lab.jupyter._widget import ReviewWidget

    return ReviewWidget(args.run_id, store=args.store, user=args.user,
                        page_size=args.page_size)


_COMMANDS: dict[str, Callable[[Any], Any]] = {
    "reconcile": _reconcile, "fraud": _fraud, "review": _review}


@magics_class
class NexusMagics(Magics):
    """The ``%nexus`` line magic and ``%%nexus`` cell magic."""

    @line_cell_magic
    def nexus(self, line: str, cell: str | None = None) -> Any:
        """Run a NEXUS Lab command: ``%nexus help`` lists them."""
        command, _, rest = line.strip().partition(" ")
        if command in ("", "help", "-h", "--help"):
            print(_help(rest.strip()))
            return None
        func = _COMMANDS.get(command)
        if func is None:
            raise UsageError(f"%nexus {command}: no such command; the commands are "
                             f"{', '.join(_COMMANDS)} and help")
        args = _parse(func, rest, cell)
        result = func(args)
        self.shell.user_ns[RESULT] = result
        if args.name:
            self.shell.user_ns[args.name] = result
        return result


def _help(command: str) -> str:
    if not command:
        lines = ["%nexus COMMAND [options], or %%nexus COMMAND with one `name: value` per "
                 "line of the cell", ""]
        lines += [f"  {name:<10} {' '.join((func.parser.description or '').split())}"
                  for name, func in _COMMANDS.items()]
        lines += ["", f"The result is the cell's output and is kept in {RESULT}; "
                  "%nexus help COMMAND describes a command's options."]
        return "\n".join(lines)
    func = _COMMANDS.get(command)
    if func is None:
        raise UsageError(f"%nexus help {command}: no such command; the commands are "
                         f"{', '.join(_COMMANDS)}")
    return _plain(func.parser.format_help())


def _plain(text: str) -> str:
    """IPython's help text without its reStructuredText ``::`` opening."""
    return text.replace("::", "", 1).strip()


def _parse(func: Any, rest: str, cell: str | None) -> Any:
    """The command's options from the line and, for ``%%nexus``, from the cell's body."""
    parser = func.parser
    try:
        argv = arg_split(rest)
    except ValueError as err:  # shlex: an unclosed quote
        raise UsageError(f"%{parser.prog}: {err} in {rest.strip()!r}; close the quote"
                         ) from None
    if cell is not None and cell.strip():
        argv += _cell_argv(parser, cell)
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        raise UsageError(f"usage: {_plain(parser.format_usage())}\n%{parser.prog}: {err}"
                         ) from None
    if args.name is not None and not args.name.isidentifier():
        raise UsageError(f"--as {args.name!r}: give a Python variable name")
    return args


def _cell_argv(parser: Any, cell: str) -> list[str]:
    """A ``%%nexus`` cell's ``name: value`` lines as command-line arguments."""
    import yaml

    try:
        body = yaml.safe_load(cell)
    except yaml.YAMLError as err:
        raise UsageError(f"%%{parser.prog}: the cell is not `name: value` lines ({err})"
                         ) from None
    if body is None:
        return []
    if not isinstance(body, Mapping):
        raise UsageError(f"%%{parser.prog}: write one `name: value` per line of the cell, "
                         "e.g. `bank: bank.csv`")
    # an option by its name: the positional's, or the long flag's (``--as`` is ``as``)
    actions = {(a.option_strings[-1].lstrip("-") if a.option_strings else a.dest)
               .replace("-", "_"): a for a in parser._actions}
    positional: list[str] = []
    optional: list[str] = []
    for key, value in body.items():
        action = actions.get(str(key).replace("-", "_"))
        if action is None:
            raise UsageError(f"%%{parser.prog}: {key!r} is not one of its options; they are "
                             f"{', '.join(actions)}")
        if value is None:
            continue
        if isinstance(value, Mapping):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        if not action.option_strings:
            positional.append(str(value))
        elif action.nargs == 0:  # a flag: true sets it
            if not isinstance(value, bool):
                raise UsageError(f"%%{parser.prog}: {key} is true or false, not {value!r}")
            optional += [action.option_strings[-1]] if value else []
        else:
            optional += [action.option_strings[-1], str(value)]
    return positional + optional

