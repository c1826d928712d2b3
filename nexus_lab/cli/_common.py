"""What every command group of the CLI shares: exit statuses, column mappings, reading
input tables, keys and passwords, output paths that must not exist yet."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nexus_lab import config
from nexus_lab.errors import NexusError

EXIT_FAILED = 1  # an IntegrityError: a signature, seal or audit log does not verify
EXIT_INPUT = 2  # a NexusError: the input or the settings are wrong
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15
EXIT_PIPE = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE's 13
EXIT_REFUSED = 77  # PermissionDenied: the role does not permit it (sysexits' EX_NOPERM)
EXIT_BUG = 70  # anything else: a fault of the program, not of the input (sysexits' EX_SOFTWARE)
PASSWORD_ENV = "NEXUS_LAB_KEY_PASSWORD"


def mapping(text: str | None, flag: str) -> dict[str, str]:
    """``"amount=Amt,date=Posted"`` -> ``{"amount": "Amt", "date": "Posted"}``.

    Examples
    --------
    >>> mapping("amount=Amt, date=Posted", "--columns")
    {'amount': 'Amt', 'date': 'Posted'}
    """
    if not text:
        return {}
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise NexusError(
                f"{flag} {text!r}: write the mapping as canonical=yours, separated by commas, "
                f"e.g. {flag} amount=Amt,date=Posted"
            )
        out[key] = value
    return out


def read(path: str, name: str, columns: Mapping[str, str], sheet: str | None,
         **options: Any) -> Any:
    """Read an input table; ``sheet`` is a worksheet name or a 0-based position, for every
    input, or one per input by table name: ``bank=Data,ledger=Entries``."""
    from nexus_lab.files import read_table

    if sheet is not None and "=" in sheet:
        sheet = mapping(sheet, "--sheet").get(name)
    where: str | int = 0 if sheet is None else int(sheet) if sheet.isdigit() else sheet
    return read_table(path, name=name, columns=columns, sheet=where, **options)


def plain(frame: Any) -> Any:
    """A plain pandas DataFrame (subclasses with notebook views write as their base)."""
    import pandas as pd

    return pd.DataFrame(frame)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MLFLOW_LOG = logging.getLogger("nexus_lab.mlflow")


class _ToOurLog(logging.Handler):
    """Hands MLflow's log records to ``nexus_lab.mlflow`` at INFO, colour codes removed."""

    def emit(self, record: logging.LogRecord) -> None:
        _MLFLOW_LOG.info("%s: %s", record.name, _ANSI.sub("", record.getMessage()))


def _show_warning(message, category, filename, lineno, file=None, line=None,
                  _previous=warnings.showwarning) -> None:
    if f"{os.sep}mlflow{os.sep}" in str(filename):  # MLflow's hints: our log, plain text
        _MLFLOW_LOG.info("%s: %s", category.__name__, _ANSI.sub("", str(message)))
    else:
        _previous(message, category, filename, lineno, file, line)


def _mlflow_print(text: str) -> int:
    if text.strip():
        _MLFLOW_LOG.info("%s", _ANSI.sub("", text.strip()))
    return len(text)


def quiet_mlflow() -> None:
    """MLflow's own lines stay out of the command's output.

    Its progress lines, hints and warnings (some with raw colour codes) go to the
    ``nexus_lab.mlflow`` log at INFO, as plain text, which ``nexus-lab -v`` shows; what
    goes wrong still reaches the user as the command's ``error:`` line.
    """
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    from mlflow.utils import logging_utils  # MLflow sets up its loggers on import

    # its own prints ("Successfully registered model ...") go through this stream
    logging_utils.MLFLOW_LOGGING_STREAM.write = _mlflow_print
    logging_utils.MLFLOW_LOGGING_STREAM.flush = lambda: None
    handler = _ToOurLog()
    for name in ("mlflow", "alembic", "sqlalchemy.engine", "huey"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    warnings.showwarning = _show_warning


def run_settings(p: argparse.ArgumentParser) -> None:
    """The reconciliation settings shared by ``reconcile`` and ``demo``."""
    p.add_argument("--amount-tolerance", default=None, metavar="X",
                   help="largest amount difference accepted within a counterparty: an "
                   "amount (5), a share of it (1%%) or both (5,1%%); default 50,5%%")
    p.add_argument("--date-window", type=int, default=None, metavar="DAYS",
                   help="largest posting lag in days (default: learned from the books, "
                   "7 to 60)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--no-track", action="store_true", help="do not log the run to MLflow")
    p.add_argument("--sign", default="auto", choices=("auto", "as_is", "flip", "magnitude"),
                   help="how the bank's signs relate to the ledger's: learned (auto), as "
                   "written, the bank's flipped, or sizes only (default auto)")
    reading(p)


def reading(p: argparse.ArgumentParser) -> None:
    """How input files write money and dates (``--decimal``, ``--dayfirst``)."""
    p.add_argument("--decimal", default="auto", choices=("auto", ".", ","),
                   help="decimal mark of amounts written as text (default: decided per "
                   "column from all its values)")
    p.add_argument("--dayfirst", nargs="?", const="all", default=None, metavar="TABLE",
                   help="numeric dates are day/month/year (when no day above 12 settles it); "
                   "name a table (bank, ledger) to say it of that file only")
    p.add_argument("--monthfirst", nargs="?", const="all", default=None, metavar="TABLE",
                   help="numeric dates are month/day/year; a table name as for --dayfirst")


def on_cluster(p: argparse.ArgumentParser) -> None:
    """Where a job runs past one machine (``--scheduler``, ``--workers``)."""
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on Dask: 'local' for a cluster of this machine's cores, or "
                   "tcp://host:port of a running scheduler (default: one process, no Dask)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default: one per core)")


def day_order(args: argparse.Namespace, tables: tuple[str, ...] = ()) -> Any:
    """``--dayfirst``/``--monthfirst`` as the kernels take them: None, a bool, or one per
    table (``{"bank": True, "ledger": False}``)."""
    first, second = args.dayfirst, args.monthfirst
    if first is None and second is None:
        return None
    if first == second or (first is not None and second is not None and "all" in (first,
                                                                                 second)):
        raise NexusError("--dayfirst and --monthfirst name the same files; give one of them, "
                         "or one per file, e.g. --dayfirst bank --monthfirst ledger")
    if "all" in (first, second):
        return first == "all"
    out = {}
    for flag, table, order in (("--dayfirst", first, True), ("--monthfirst", second, False)):
        if table is not None:
            if table not in tables:
                raise NexusError(f"{flag} {table}: name one of {list(tables)}, or no table "
                                 "for every file")
            out[table] = order
    return out


_PYTHON_HINTS = (  # (pattern, the command line's words)
    (r"\bdecimal='([.,])'", r"--decimal \1"),
    (r"\bdecimal=(?=[\s,;)]|$)", "--decimal"),
    (r"\bdayfirst=True", "--dayfirst"),
    (r"\bdayfirst=False", "--monthfirst"),
    (r"\bdayfirst=(?=[\s,;)]|$)", "--dayfirst or --monthfirst"),
    (r"\bsign='(\w+)'", r"--sign \1"),
    (r"\bsheet='([^']*)'", r"--sheet '\1'"),
    (r"\bcheck_balance=False", "--no-balance-check"),
    (r"\blinked_to=\.\.\.", "--linked-to ID"),
    (r"\bdevice='auto' or 'cpu'", "--device auto or --device cpu"),
    (r"\bdevice='([^']*)'", r"--device \1"),
)


def for_the_command_line(message: str, table: str | None = None,
                         flags: Mapping[str, str] | None = None) -> str:
    """An error's advice in the command's own words: ``--columns amount=Amt`` for
    ``columns={'amount': 'Amt'}``, ``--dayfirst`` for ``dayfirst=True``...

    Examples
    --------
    >>> for_the_command_line("pass columns={'amount': 'Amt'} to map it", "bank",
    ...                      {"bank": "--bank-columns"})
    'pass --bank-columns amount=Amt to map it'
    >>> for_the_command_line("pass dayfirst=True (day/month/year) or dayfirst=False")
    'pass --dayfirst (day/month/year) or --monthfirst'
    """
    flag = (flags or {}).get(table or "", "--columns")

    def columns(m: re.Match) -> str:
        pairs = re.findall(r"'([^']*)':\s*'([^']*)'", m.group(1))
        return f"{flag} " + ",".join(f"{k}={v}" for k, v in pairs) if pairs else m.group(0)

    message = re.sub(r"columns=\{([^{}]*)\}", columns, message)
    for pattern, words in _PYTHON_HINTS:
        message = re.sub(pattern, words, message)
    return message


def fresh(path: Path) -> Path:
    """``path``, refused when something is there already (outputs are never overwritten)."""
    if os.path.lexists(path):  # a link too, even one that points nowhere
        raise NexusError(f"{str(path)!r} exists; choose another --out or move it away")
    return path


def password(prompt: str = "password: ", *, confirm: bool = False) -> str:
    """The key password: ``$NEXUS_LAB_KEY_PASSWORD``, else asked on the terminal."""
    env = config.settings().key_password
    if env:
        return env
    if not sys.stdin.isatty():
        raise NexusError(f"a password is needed: set {PASSWORD_ENV} or run in a terminal")
    pw = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != pw:
        raise NexusError("the two passwords differ; nothing was written")
    return pw


def load_key(path: str) -> Any:
    """A key file, opened with :func:`password`."""
    from nexus_lab.crypto import load_keypair

    return load_keypair(path, password=lambda: password(f"password for {path}: "))


def signing_key(path: str | None) -> Any:
    """The key a report is signed with: the key file ``path`` (``--key``); else None, for
    the workbench key made on first use with ``NEXUS_LAB_KEY_PASSWORD``; else, without that
    password, the workbench key file opened with a password asked on the terminal."""
    if path:
        return load_key(path)
    if not config.settings().key_password and config.signing_key().is_file():
        return load_key(str(config.signing_key()))
    return None


def load_public(path: str) -> Any:
    """A public bundle, or the public half of a key file (no password needed)."""
    from nexus_lab.crypto import PublicKey

    return PublicKey.load(path)
