"""Files in and out: tables from CSV, Parquet or Excel, and writes that never half-happen.

Readers turn a file into a pandas DataFrame with errors that say what is wrong
with the file (missing, unknown kind, unreadable) and how to fix it. Writers go
to a temporary file in the target's folder and are renamed into place with
:func:`os.replace`, so a reader sees the old file or the new one, never a part.
:func:`atomic_dir` does the same for a whole folder of outputs.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_dir(tmp / "out") as work:
...     _ = write_frame(pd.DataFrame({"a": [1, 2]}), work / "a.csv")
>>> read_table(tmp / "out" / "a.csv", name="a").shape
(2, 1)
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.frames import MONEY_COLUMNS, find_column, read_money

__all__ = [
    "TEXT_COLUMNS",
    "atomic_dir",
    "atomic_file",
    "check_out_dir",
    "describe_file",
    "hash_file",
    "read_table",
    "record_output",
    "record_writes",
    "signals_held",
    "spreadsheet_safe",
    "write_frame",
    "write_json",
    "write_text",
]

log = logging.getLogger("nexus_lab")

#: Columns read as text when present, so ids and references keep their leading
#: zeros and are not turned into floats by a blank cell.
TEXT_COLUMNS = (
    "transaction_id",
    "reference",
    "account",
    "description",
    "vendor",
    "category",
    "currency",
    "bank_id",
    "ledger_id",
)

_CSV = (".csv", ".tsv", ".txt")
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
_PARQUET = (".parquet", ".pq")
_EXCEL = (".xlsx", ".xlsm")
_STATEMENTS = {".ofx": "ofx", ".qfx": "ofx", ".xml": "xml", ".sta": "mt940", ".mt940": "mt940",
               ".940": "mt940"}
_MARKER = ".nexus-lab"  # the manifest atomic_dir writes: the names of the files a run wrote


def _kind(path: Path) -> tuple[str, str]:
    """``(kind, extension)`` of a path, looking through a compression suffix."""
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-1] if suffixes else ""
    if ext in _COMPRESSED and len(suffixes) > 1 and suffixes[-2] in _CSV:
        return "csv", suffixes[-2] + ext
    if ext in _CSV:
        return "csv", ext
    if ext in _PARQUET:
        return "parquet", ext
    if ext in _EXCEL:
        return "excel", ext
    if ext in _STATEMENTS:
        return _STATEMENTS[ext], ext
    return "unknown", "".join(suffixes[-2:]) if suffixes else ""


def read_table(
    path: str | os.PathLike[str],
    *,
    name: str = "table",
    text_columns: Iterable[str] | None = TEXT_COLUMNS,
    columns: Mapping[str, str] | None = None,
    sheet: str | int = 0,
    check_balance: bool = True,
) -> pd.DataFrame:
    """Read a CSV, Parquet, Excel or bank statement file into a pandas DataFrame.

    The kind of file is taken from its extension: ``.csv`` (also ``.tsv``,
    ``.txt`` and compressed ``.csv.gz`` etc.), ``.parquet`` / ``.pq``, or
    ``.xlsx`` / ``.xlsm`` (read with openpyxl). CSV text is read as UTF-16
    when it starts with a UTF-16 byte-order mark (Excel's "Unicode text"),
    else as UTF-8 (a byte-order mark is dropped): a few bytes that are not
    UTF-8 in UTF-8 text are replaced by U+FFFD with a warning naming their
    lines, and text with no UTF-8 sequence at all is read as Windows-1252, or
    as Latin-1 (ISO 8859-1) when it holds a byte Windows-1252 leaves undefined.
    The field separator (``,`` ``;`` tab ``|``) is sniffed from the first lines,
    of compressed files (``.gz``, ``.bz2``, ``.xz``, ``.zip`` of one file,
    ``.zst`` with ``zstandard``) too.
    Column names are stripped of surrounding blanks; a heading the file
    repeats stays repeated (not ``amount.1``), so that using it is refused.

    Title lines above the header (``Account: 12345678``, a statement period,
    blank lines), as bank exports have, are skipped: the header is the first
    of the first 30 rows whose cells hold two or more known headings
    (``transaction_id``, ``date``, ``amount``, ``description``, ``debit``,
    ``credit``, ``reference``, ``account``, ``vendor``, ``category``,
    ``currency`` or a name in ``columns``, compared ignoring case, blanks and
    punctuation). A file with no such row is read from its first row. Lines
    below the table that are not transactions (``Total``, ``Closing balance
    ...``, a line of text after the last row) are dropped, with a warning that
    names them: the last rows whose date cell holds no date and that start
    with a total or balance word, or hold one cell only. In a workbook, a date column that
    holds spreadsheet day numbers (``45658``, as a number or as text) is read
    as those days (45658 is 2025-01-01).

    Bank statement files are read by :mod:`nexus_lab.bankfiles` into the bank
    statement contract (``transaction_id, date, amount, description, account,
    reference, currency, value_date, balance_after, type``; the statement's
    account, period and balances in ``df.attrs["statement"]``): OFX 1.x and
    2.x (``.ofx``, ``.qfx``), ISO 20022 camt.053 (``.xml``, known by its
    namespace; another XML file is refused) and SWIFT MT940 (``.sta``,
    ``.mt940``, ``.940``, or ``.txt`` whose text starts with the ``:20:``
    tag). Where a file gives an opening and a closing balance, the entries
    must add up to the difference (a cut-off file is refused).

    Parameters
    ----------
    path : str or path-like
        The file.
    name : str
        The table's name in error messages (``"bank"``, ``"ledger"``...).
    text_columns : iterable of str, optional
        Columns kept as text when present (CSV and Excel), so that ``"00123"``
        stays ``"00123"`` and a reference column with blanks is not read as
        floats. Defaults to :data:`TEXT_COLUMNS`; ``None`` lets pandas infer
        every column.
    columns : mapping, optional
        ``{canonical name: the file's name}`` as given to the kernels
        (``{"transaction_id": "Id"}``): text columns are looked up under the
        file's names.
    sheet : str or int, default 0
        The worksheet of an Excel workbook, by name or position. When the
        first sheet (the default) has no header row and another sheet has,
        the error names that sheet.
    check_balance : bool, default True
        For bank statement files: refuse a statement whose opening balance
        plus its entries is not its closing balance.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    NexusError
        When the file is missing, is a folder, has an extension that is not a
        table, or cannot be parsed (a statement file cut off, not well-formed,
        or an ``.xml`` file that is not a camt.053 statement).
    SchemaError
        When the file holds no table at all (empty, or no header row), or a
        statement's balances do not add up.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "bank.csv"
    >>> _ = p.write_text("transaction_id,amount\\n007,1.50\\n")
    >>> read_table(p, name="bank")["transaction_id"].tolist()
    ['007']
    """
    p = Path(path)
    kind, ext = _kind(p)
    if not p.exists():
        near = ""
        if p.parent.is_dir():
            same = sorted(q.name for q in p.parent.iterdir() if _kind(q)[0] != "unknown")[:5]
            if same:
                near = f"; tables in {p.parent}: {same}"
        raise NexusError(f"{name}: no such file {str(p)!r}{near}; check the path")
    if p.is_dir():
        raise NexusError(f"{name}: {str(p)!r} is a folder, not a file; give the table's file")
    if kind == "unknown":
        hint = " (old .xls workbooks: save as .xlsx first)" if ext == ".xls" else ""
        raise NexusError(
            f"{name}: cannot read {p.name!r}: unknown file type {ext or '(no extension)'!r}"
            f"{hint}; use .csv, .parquet or .xlsx, or a bank statement file (.ofx, .qfx, "
            "camt.053 .xml, MT940 .sta)"
        )
    if kind in ("ofx", "xml", "mt940") or ext == ".txt":
        statement = _read_statement(p, kind, ext, name, check_balance)
        if statement is not None:
            return statement
    names = dict(columns or {})
    text = sorted({names.get(c, c) for c in text_columns or ()})
    headings = [*_HEADINGS, *(v for v in names.values() if isinstance(v, str))]
    try:
        if kind == "csv":
            # money stays text too, so that its decimal mark is decided from the whole
            # column (nexus_lab.frames.read_money), not by the CSV parser cell by cell
            money = [names.get(c, c) for c in MONEY_COLUMNS] if text_columns is not None else []
            df = _read_csv(p, sorted({*text, *money}),
                           sep="\t" if ext.startswith(".tsv") else None, heads=headings)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            df = _read_excel(p, text, sheet, name, headings)
    except NexusError:
        raise
    except pd.errors.EmptyDataError:
        raise SchemaError(
            f"{name}: {p.name!r} is empty (no header row, no data); check the export",
            table=name,
        ) from None
    except pd.errors.ParserError as err:
        detail = str(err).strip().splitlines()[-1]
        raise NexusError(
            f"{name}: {p.name!r} is not a well-formed CSV file ({detail}); check the quoting "
            "and the number of fields on that line"
        ) from None
    except MemoryError:
        raise NexusError(f"{name}: {p.name!r} does not fit in memory") from None
    except Exception as err:  # pyarrow, openpyxl and zip errors have no common base
        what = {"parquet": "a Parquet file", "excel": "an Excel workbook", "csv": "a CSV file"}
        raise NexusError(
            f"{name}: cannot read {p.name!r} as {what[kind]} ({type(err).__name__}: "
            f"{str(err).strip()[:200]}); is the file complete and of the kind its extension "
            "says?"
        ) from None
    df.columns = [c.strip() if isinstance(c, str) else c for c in df.columns]
    if kind in ("csv", "excel"):
        df = _drop_footer(df, p.name)
    if kind == "excel":
        _excel_day_numbers(df, p.name)
    if kind == "csv" and text_columns is not None:
        _plain_money(df, [names.get(c, c) for c in MONEY_COLUMNS], name)
    if len(df.columns) == 0:
        raise SchemaError(f"{name}: {p.name!r} has no columns; check the export", table=name)
    log.info("read %s: %d rows x %d columns from %s", name, len(df), len(df.columns), p)
    return df


# a cell that starts a total or a balance line below a table
_FOOTER_WORDS = (r"(?i)^\s*(?:(?:grand\s+|sub-?\s*)?totals?\b|(?:opening|closing|ending|final|"
                 r"available|ledger|book|end)\s+balance\b|balance\b|end\s+of\b|"
                 r"(?:number|count)\s+of\b|sum\b|page\s+\d)")
# a cell that starts like a date (03/03/2025, 2025-03-03, Mar 3 2025, Mon 03/03/2025)
_DATE_START = r"^\s*(?:\d|[A-Za-z]{2,9}\.?,?\s+\d)"
_FOOTER_ROWS = 50  # the last rows looked at for lines that are not transactions


def _drop_footer(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """The table without the lines below it that are not transactions (logged).

    Only the last rows are looked at (at most ``_FOOTER_ROWS``), and a row goes only when
    its date cell (when the table has a date column) holds no date, and it is blank,
    starts with a total or balance word (``Total``, ``Closing balance``...), or holds
    one cell only (a line of text); without a date column, when it is blank or starts
    with such a word and fills at most half the cells. A transaction with a blank date
    keeps its row, to be refused with its row named.
    """
    if len(df) == 0 or df.shape[1] < 2:
        return df
    names = [str(c) for c in df.columns]
    date = find_column(names, "date")
    tail = df.iloc[-_FOOTER_ROWS:].astype(object)
    text = tail.where(tail.isna(), tail.astype(str).apply(lambda c: c.str.strip()))
    text = text.replace("", None)
    filled = text.notna().sum(axis=1).to_numpy()
    present = text.notna().to_numpy()
    first = pd.Series(  # a row's first cell that is not blank
        text.to_numpy(object)[np.arange(len(text)), present.argmax(axis=1)],
        index=text.index, dtype=object).where(present.any(axis=1))
    words = first.str.contains(_FOOTER_WORDS, regex=True, na=False).to_numpy(bool)
    if date is not None and names.count(date) == 1:
        at = names.index(date)
        kinds = tail.iloc[:, at].map(type)
        typed = tail.iloc[:, at].notna() & ~kinds.isin((str,))  # a number or a date
        dated = typed.to_numpy() | text.iloc[:, at].str.contains(
            _DATE_START, regex=True, na=False).to_numpy()
        footer = ~dated & ((filled <= 1) | words)
    else:
        footer = (filled == 0) | (words & (filled * 2 <= text.shape[1]))
    trailing = int(np.cumprod(footer[::-1]).sum())
    if trailing == 0:
        return df
    gone = text.iloc[len(tail) - trailing:]
    shown = [", ".join(v for v in row if isinstance(v, str)) for row in
             gone.itertuples(index=False)]
    shown = [r for r in shown if r]
    if shown:
        log.warning("%s: %d line%s below the table dropped, not transactions: %s", file,
                    len(shown), "s" if len(shown) > 1 else "", "; ".join(map(repr, shown[:5])))
    return df.iloc[:len(df) - trailing]


def _excel_day_numbers(df: pd.DataFrame, file: str) -> None:
    """Date columns of a workbook holding spreadsheet day numbers, as those days.

    A column is converted when its heading names a date and every cell is a day
    number (a number or numeric text from 20000 to 80000: 1954 to 2119) or a date the
    workbook stores as such; anything else leaves it as it is, for the kernels' date
    reader to read or refuse.
    """
    names = [str(c) for c in df.columns]
    dates = {find_column(names, "date")} | {c for c in names if "date" in c.lower()}
    for col in sorted(dates - {None}):
        if names.count(col) != 1 or df[col].dtype.kind in "Mb":
            continue
        values = df[col]
        numbers = pd.to_numeric(values, errors="coerce") if values.dtype.kind != "O" else \
            pd.to_numeric(values.where(values.map(type).isin((int, float, str))),
                          errors="coerce")
        serial = numbers.between(20_000, 80_000).to_numpy()
        if not serial.any():
            continue
        rest = values[values.notna().to_numpy() & ~serial]
        stamps = pd.to_datetime(rest.astype(str), errors="coerce", format="ISO8601")
        if stamps.isna().any():  # text that is not a day number: left to read_dates
            continue
        days = pd.Series(pd.to_datetime(numbers.where(serial), unit="D", origin="1899-12-30"),
                         index=values.index)
        days[rest.index] = stamps
        df[col] = days
        log.info("%s: %s holds spreadsheet day numbers; read as dates", file, col)


def _read_statement(path: Path, kind: str, ext: str, name: str,
                    check_balance: bool) -> pd.DataFrame | None:
    """A bank statement file read by :mod:`nexus_lab.bankfiles`; None for a ``.txt`` file
    that is not MT940 (then read as CSV)."""
    from nexus_lab import bankfiles

    try:
        found = bankfiles.statement_kind(path)
    except OSError as err:
        raise NexusError(f"{name}: cannot read {path.name!r}: {err.strerror or err}") from None
    if ext == ".txt" and found != "mt940":
        return None
    if kind == "xml" and found not in ("ofx", "camt.052", "camt.053", "camt.054"):
        raise NexusError(
            f"{name}: {path.name!r} is an XML file but not an ISO 20022 camt.053 bank statement "
            "(no camt.053 namespace in its first lines); export the table as CSV or Excel, or "
            "the statement as camt.053, OFX or MT940")
    if kind == "xml":
        reader = bankfiles.read_ofx if found == "ofx" else bankfiles.read_camt053
    else:
        reader = bankfiles.read_ofx if kind == "ofx" else bankfiles.read_mt940
    try:
        return reader(path, name=name, check_balance=check_balance)
    except NexusError:
        raise
    except Exception as err:  # an encoding or I/O fault the readers do not name
        raise NexusError(
            f"{name}: cannot read {path.name!r} as a bank statement ({type(err).__name__}: "
            f"{str(err).strip()[:200]}); is the file complete and of the kind its extension "
            "says?") from None


def _plain_money(df: pd.DataFrame, money: list[str], name: str) -> None:
    """Money columns read as text become numbers when the whole column reads as plain
    amounts with a decimal point and no currency; others stay text, for the kernels to
    decide (and report) their convention, or refuse them with the rows at fault."""
    heads = [str(c) for c in df.columns]
    for col in {find_column(heads, c) for c in money} - {None}:
        if heads.count(col) > 1 or df[col].dtype != object:  # a repeat: refused later
            continue
        try:
            cents, written = read_money(df[col].replace(r"^\s*$", None, regex=True).dropna(),
                                        table=name, column=col)
        except SchemaError:
            continue
        if written == {"decimal": ".", "currency": None}:
            x = pd.Series(np.nan, index=df.index)
            x[df[col].notna() & df[col].astype(str).str.strip().ne("")] = cents / 100
            df[col] = x


def _read_csv(path: Path, text: list[str], sep: str | None,
              heads: list[str]) -> pd.DataFrame:
    start = b""
    if _readable(path):
        with _open_binary(path) as f:
            start = f.read(2)
    if start in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text": UTF-16 with its BOM
        log.info("%s is UTF-16 text", path.name)
        return _csv_with(path, text, sep, heads, "utf-16")
    try:
        return _csv_with(path, text, sep, heads, "utf-8-sig")
    except UnicodeDecodeError:
        lines, utf8 = _utf8_faults(path)
    if utf8:
        log.warning("%s: bytes that are not UTF-8 on line%s %s of the file: read as UTF-8 "
                    "with them replaced by U+FFFD (\ufffd); check those rows", path.name,
                    "s" if len(lines) > 1 else "", ", ".join(map(str, lines)))
        return _csv_with(path, text, sep, heads, "utf-8-sig", errors="replace")
    try:
        df = _csv_with(path, text, sep, heads, "cp1252")
    except UnicodeDecodeError:  # a byte Windows-1252 leaves undefined (0x81, 0x8d...)
        log.warning("%s is not UTF-8 text; reading it as Latin-1 (ISO 8859-1)", path.name)
        return _csv_with(path, text, sep, heads, "latin-1")
    log.warning("%s is not UTF-8 text; reading it as Windows-1252", path.name)
    return df


# a valid UTF-8 sequence of two to four bytes (RFC 3629)
_UTF8_MULTI = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")


def _utf8_faults(path: Path, show: int = 5) -> tuple[list[int], bool]:
    """The first lines (1-based) of a file that are not UTF-8, and whether the file holds
    any valid multi-byte UTF-8 sequence (then it is UTF-8 text with a few stray bytes;
    otherwise another encoding). Reads the file once, a line at a time."""
    bad: list[int] = []
    utf8 = False
    with _open_binary(path) as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                if len(bad) < show:
                    bad.append(number)
            if not utf8 and not line.isascii():
                utf8 = _UTF8_MULTI.search(line) is not None
    return bad, utf8


_SEPARATORS = (",", ";", "\t", "|")
#: Headings that mark a table's header row (compared loosely, as
#: :func:`nexus_lab.frames.find_column` does), with those of a ``columns=`` mapping.
_HEADINGS = ("transaction_id", "date", "amount", "description", "debit", "credit",
             "reference", "account", "vendor", "category", "currency")
_HEADER_ROWS = 30  # the header row is looked for among this many first rows


def _header_row(rows: list[list[Any]], heads: list[str]) -> int | None:
    """The first of the rows whose cells hold at least two of the headings ``heads``
    (compared loosely), or None: bank exports put title lines above their header."""
    for i, row in enumerate(rows[:_HEADER_ROWS]):
        cells = [str(c).strip() for c in row if isinstance(c, str) and c.strip()]
        if len(cells) >= 2 and len({find_column(cells, h) for h in heads} - {None}) >= 2:
            return i
    return None


def _sniff_separator(path: Path, encoding: str, errors: str = "strict", *,
                     sep: str | None = None, heads: list[str] = ()) -> tuple[str, int]:
    """The field separator of a CSV file and the number of rows above its header.

    Of ``, ; tab |`` (or just ``sep`` when given): the one under which one of the first
    rows reads as a header (:func:`_header_row`), then the one that splits the lines from
    the header on into the same number (above one) of fields, the most fields winning.
    The first lines are read with the csv module, so title lines of fewer fields than
    the table do not fail as malformed.
    """
    import csv
    import io

    with _open_text(path, encoding, errors) as f:
        lines = "".join(f.readline() for _ in range(_HEADER_ROWS + 10))
    best, score = sep or ",", (False, False, 0)
    skip = 0
    for candidate in (sep,) if sep else _SEPARATORS:
        rows = list(csv.reader(io.StringIO(lines), delimiter=candidate))
        at = _header_row(rows, list(heads))
        counts = {len(r) for r in rows[at or 0:] if any(c.strip() for c in r)}
        n = max(counts, default=0)
        consistent = len(counts) == 1 and n > 1
        if (found := (at is not None, consistent, n if consistent else 0)) > score:
            best, score, skip = candidate, found, at or 0
    if best != "," and not sep:
        log.info("%s: fields separated by %r", path.name, best)
    if skip:
        log.info("%s: the header is on row %d; the %d rows above it are skipped", path.name,
                 skip + 1, skip)
    return best, skip


def _open_binary(path: Path) -> Any:
    """A binary handle on a CSV file's bytes, decompressed by its extension; None for a
    ``.zst`` file when ``zstandard`` is not installed."""
    import bz2
    import gzip
    import lzma

    ext = path.suffix.lower()
    if ext == ".zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise ValueError(f"the zip archive holds {len(members)} files {members[:5]}, "
                                 "not one; zip the CSV file alone")
            return archive.open(members[0])  # stays open once the archive is closed
    if ext == ".zst":
        try:
            import zstandard
        except ImportError:
            return None
        import io

        reader = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
        return io.BufferedReader(reader)  # lines, as the other openers give
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(ext)
    return open(path, "rb") if opener is None else opener(path, "rb")


def _open_text(path: Path, encoding: str, errors: str = "strict") -> Any:
    """A text handle on a CSV file, compressed or not (by its extension)."""
    import io

    return io.TextIOWrapper(_open_binary(path), encoding=encoding, errors=errors, newline="")


def _readable(path: Path) -> bool:
    """Whether this module can open the file's text itself (not a ``.zst`` file without
    ``zstandard``; pandas then says what is missing)."""
    if path.suffix.lower() != ".zst":
        return True
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


def _csv_with(path: Path, text: list[str], sep: str | None, heads: list[str],
              encoding: str, errors: str = "strict") -> pd.DataFrame:
    skip = 0
    if _readable(path):
        sep, skip = _sniff_separator(path, encoding, errors, sep=sep, heads=heads)
    sep = sep or ","
    options = {"encoding": encoding, "encoding_errors": errors, "skiprows": skip}
    header = pd.read_csv(path, sep=sep, nrows=0, **options).columns
    names = [str(c).strip() for c in header]
    wanted = set(text) | {find_column(names, c) for c in text} - {None}
    dtype = {c: str for c in header if str(c).strip() in wanted}
    # low_memory=False infers each column's type from all of it, so one bad cell deep in a
    # column makes it text everywhere instead of a mix of floats and strings
    df = pd.read_csv(path, sep=sep, dtype=dtype, low_memory=False, **options)
    if _readable(path):
        import csv
        import itertools

        with _open_text(path, encoding, errors) as f:
            own = next(itertools.islice(csv.reader(f, delimiter=sep), skip, None), [])
        df.columns = _own_headings(df.columns, own)
    return df


def _own_headings(columns: pd.Index, own: list[Any]) -> list[Any]:
    """The columns with the file's own headings put back where the file repeats one.

    pandas renames a repeated heading (``amount``, ``amount.1``), so that the first of
    the two would be used without a word; with the file's own names, a repeat is seen
    and refused (:func:`nexus_lab.frames.select_columns`). A file without repeats keeps
    pandas' names (a real heading ``amount.1`` stays, a blank one stays ``Unnamed: 3``).
    """
    heads = [str(h).strip() if h is not None and not pd.isna(h) else "" for h in own]
    if len(heads) != len(columns):
        return list(columns)
    repeated = {h for h in heads if h and heads.count(h) > 1}
    return [h if h in repeated else c for c, h in zip(columns, heads, strict=True)]


def _read_excel(path: Path, text: list[str], sheet: str | int, name: str,
                heads: list[str]) -> pd.DataFrame:
    try:
        top = _sheet_top(path, sheet)
    except (ValueError, IndexError) as err:
        if "not found" not in str(err) and "out of range" not in str(err):
            raise
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        sheets = wb.sheetnames
        wb.close()
        raise NexusError(
            f"{name}: {path.name!r} has no worksheet {sheet!r}; it has {sheets}"
        ) from None
    at = _header_row(top.values.tolist(), heads)
    if at is None and isinstance(sheet, int) and sheet == 0 and top.shape[1] >= 2:
        # a cover sheet first (a "Bank statement / Acme Bank" block), the table after it
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        others = wb.sheetnames[1:]
        wb.close()
        tables = [t for t in others if _header_row(_sheet_top(path, t).values.tolist(),
                                                   heads) is not None]
        if tables:
            raise _no_table(path, name, sheet, tables)
    own = top.iloc[at or 0].tolist() if len(top) > (at or 0) else []
    # text columns are read as the cells are ("007" stays "007"), found loosely by name
    cells = [str(c).strip() if isinstance(c, str) else "" for c in own]
    wanted = set(text) | {find_column(cells, c) for c in text} - {None, ""}
    keep = {i: _cell_text for i, c in enumerate(cells) if c in wanted}
    df = pd.read_excel(path, sheet_name=sheet, header=at or 0, engine="openpyxl",
                       converters=keep)
    if at:
        log.info("%s: the header is on row %d; the %d rows above it are skipped", path.name,
                 at + 1, at)
    if df.shape[1] < 2 or df.dropna(how="all").empty:
        tables = _no_table_hint(path, sheet)
        if tables is None and not df.dropna(how="all").empty:
            return _text_cells(df, text)  # a one-column table, the workbook's only one
        raise _no_table(path, name, sheet, tables or [])
    df.columns = _own_headings(df.columns, own)
    return _text_cells(df, text)


def _sheet_top(path: Path, sheet: str | int) -> pd.DataFrame:
    """The first rows of a worksheet as they are (no header)."""
    return pd.read_excel(path, sheet_name=sheet, header=None, nrows=_HEADER_ROWS,
                         engine="openpyxl")


def _shapes(path: Path) -> dict[str, tuple[int, int]]:
    """``{sheet: (rows below the first, columns)}`` of a workbook."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    shapes = {ws.title: (max((ws.max_row or 1) - 1, 0), ws.max_column or 0)
              for ws in wb.worksheets}
    wb.close()
    return shapes


def _no_table_hint(path: Path, sheet: str | int) -> list[str] | None:
    """The other sheets of a workbook that hold a table (two or more columns, rows), or
    None when there are none."""
    shapes = _shapes(path)
    here = sheet if isinstance(sheet, str) else list(shapes)[sheet]
    tables = [t for t, (r, c) in shapes.items() if t != here and c >= 2 and r > 0]
    return tables or None


def _no_table(path: Path, name: str, sheet: str | int, tables: list[str]) -> SchemaError:
    """The error for a worksheet that holds no table, naming the sheets that do."""
    shapes = _shapes(path)
    here = sheet if isinstance(sheet, str) else list(shapes)[sheet]
    hint = "; check the export"
    if tables:
        listed = ", ".join(f"{t!r} ({shapes[t][0]:,} rows x {shapes[t][1]} columns)"
                           for t in tables)
        hint = f"; the table is on another sheet: {listed}: choose it with sheet={tables[0]!r}"
    return SchemaError(f"{name}: worksheet {here!r} of {path.name!r} holds no table{hint}",
                       table=name)


def _text_cells(df: pd.DataFrame, text: list[str]) -> pd.DataFrame:
    heads = [str(c).strip() for c in df.columns]
    wanted = set(text) | {find_column(heads, c) for c in text} - {None}
    for i, col in enumerate(heads):  # by position: a heading may be repeated
        if col in wanted and df.dtypes.iloc[i].kind != "M":
            df.isetitem(i, df.iloc[:, i].map(_cell_text, na_action="ignore").astype(object))
    return df


def _cell_text(value: object) -> object:
    """A cell as text: whole numbers without a trailing ``.0``; blanks stay missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return np.nan
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def describe_file(path: str | os.PathLike[str]) -> dict:
    """Name, size and SHA-256 of a file, to record which input a run read.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    dict
        ``path`` (absolute), ``name``, ``bytes`` and ``sha256``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("abc")
    >>> describe_file(p)["sha256"][:12]
    'ba7816bf8f01'
    """
    p = Path(path).resolve()
    digest, size = hash_file(p)
    return {"path": str(p), "name": p.name, "bytes": size, "sha256": digest.hexdigest()}


def hash_file(path: str | os.PathLike[str], algorithm: str = "sha256") -> tuple[Any, int]:
    """A hashlib object fed a file's bytes, read in 1 MiB blocks, and the bytes read.

    ``OSError`` (a missing or unreadable file) is left to the caller, which knows what
    the file was for.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("abc")
    >>> h, n = hash_file(p)
    >>> h.hexdigest()[:12], n
    ('ba7816bf8f01', 3)
    """
    digest = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest, size


# ----------------------------------------------------------------------------- writers


#: The outputs completed in this context, when someone asked (see :func:`record_writes`).
_written: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar(
    "nexus_lab_written", default=None)


@contextlib.contextmanager
def record_writes() -> Iterator[list[Path]]:
    """Collect the outputs completed within the block: files and folders of outputs.

    Each file written with :func:`atomic_file` (and the writers built on it) and
    each folder finished by :func:`atomic_dir` is appended once it is in place;
    files written inside an :func:`atomic_dir` block count as part of their
    folder. A program that is interrupted can so say what it left behind.

    Yields
    ------
    list of pathlib.Path or str
        Filled as the outputs appear, in order: a file's path, or for a folder its path
        and the names of the files written into it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with record_writes() as done:
    ...     p = write_text("x", pathlib.Path(tempfile.mkdtemp()) / "a.txt")
    >>> done == [p]
    True
    """
    done: list[Path] = []
    token = _written.set(done)
    try:
        yield done
    finally:
        _written.reset(token)


def _record(path: Path | str) -> None:
    done = _written.get()
    if done is not None:
        done.append(path)


def record_output(what: str | os.PathLike[str]) -> None:
    """Note an output completed by other means than this module's writers (a database
    commit, say) for :func:`record_writes`, so that an interrupted program says it was
    done.

    Examples
    --------
    >>> with record_writes() as done:
    ...     record_output("3 rows into bank_statements of books.db")
    >>> done
    ['3 rows into bank_statements of books.db']
    """
    _record(what)  # type: ignore[arg-type]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[Path]:
    """A temporary file next to ``path``, renamed onto it when the block succeeds.

    The block writes the temporary file (its path is yielded); when it raises, the
    temporary file is removed and ``path`` is left as it was. ``private=True`` keeps
    the file readable by its owner only (key files).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> with atomic_file(target) as tmp:
    ...     _ = tmp.write_bytes(b"all or nothing")
    >>> target.read_bytes()
    b'all or nothing'
    """
    path = Path(path)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise NexusError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # the bytes are on disk before the name points at them
            os.fsync(fh.fileno())
        if not private:  # mkstemp makes files private; give the usual mode
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _record(path)


def write_frame(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame atomically, as Parquet or CSV by the file's extension.

    The table goes to a temporary file in the same folder first and is renamed
    onto ``path`` only once it is complete: an interrupted write leaves the old
    file (or none), never a partial one. The index is not written.

    CSV files are opened by spreadsheets, which run a cell that starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula. In a
    CSV every such text cell (and column name) gets a leading ``'``, as
    OWASP advises against CSV injection (``=HYPERLINK(...)`` is written
    ``'=HYPERLINK(...)``); numbers, and text that is just a number such as
    ``"-12.50"``, are written as they are. Parquet keeps every value as it is.

    Parameters
    ----------
    df : pandas.DataFrame
        The table.
    path : str or path-like
        Ends in ``.parquet`` (or ``.pq``) or ``.csv``; missing folders are made.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> write_frame(pd.DataFrame({"a": [1]}), p).name
    't.parquet'
    >>> t = pd.DataFrame({"d": ["=1+1", "-2"], "n": [-1.5, 2.0]})
    >>> c = write_frame(t, p.with_suffix(".csv"))
    >>> print(c.read_text())
    d,n
    '=1+1,-1.5
    -2,2.0
    <BLANKLINE>
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (*_PARQUET, ".csv"):
        raise NexusError(f"cannot write {p.name!r}: use a .parquet or .csv file name")
    with atomic_file(p) as tmp:
        if ext == ".csv":
            safe, cr = _spreadsheet_safe(df)
            # Python's csv module quotes a cell holding a carriage return only when the
            # lines end in one: otherwise the cell would split its row for every reader
            safe.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\r\n" if cr else "\n")
        else:
            _to_parquet(df, tmp)
    log.info("wrote %s (%d rows)", p, len(df))
    return p


#: What makes a spreadsheet read a cell as a formula (OWASP, CSV injection): ``= + - @``
#: (also full-width, and after blanks or zero-width characters a spreadsheet may drop),
#: or a tab, carriage return or line feed first.
_FORMULA = r"^(?:[\t\r\n]|[\s\u200b-\u200f\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20])"
_NUMBER = r"[+-]?(?:\d[\d,]*)?\.?\d+(?:[eE][+-]?\d+)?%?"


def _safe_cells(values: pd.Series) -> tuple[pd.Series, bool]:
    """``values`` with a leading ``'`` on each text cell a spreadsheet would run (a plain
    number such as ``-12.50`` stays as it is); and whether a text cell holds a CR."""
    text = values.astype(object)
    try:
        risky = (text.str.match(_FORMULA).eq(True)  # NaN (no text) is never True
                 & ~text.str.fullmatch(_NUMBER).eq(True))
        cr = bool(text.str.contains("\r", regex=False).eq(True).any())
    except AttributeError:  # no text in the column at all (numbers kept as objects)
        return values, False
    if not risky.any():
        return values, cr
    return text.where(~risky, "'" + text[risky]), cr


def _safe_cell(value: object) -> object:
    """One name or cell made safe as :func:`_safe_cells` does."""
    return _safe_cells(pd.Series([value], dtype=object))[0].iloc[0]


def _spreadsheet_safe(df: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """``df`` with every text cell and column name a spreadsheet would run as a formula
    neutralized (:func:`_safe_cells`), number columns left as they are; and whether a text
    cell holds a carriage return."""
    out, cr = df, False
    for i, dtype in enumerate(df.dtypes):
        if not (pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)):
            continue
        column = df.iloc[:, i]
        safe, has_cr = _safe_cells(column)
        cr = cr or has_cr
        if safe is not column:  # only a column with a cell to neutralize is copied
            if out is df:
                out = df.copy()
            out.isetitem(i, safe)
    names = [_safe_cell(c) for c in df.columns]
    if names != list(df.columns):
        out = out.set_axis(names, axis=1)
    return out, cr or any(isinstance(c, str) and "\r" in c for c in names)


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a leading ``'`` on every text cell and column name a spreadsheet would
    run as a formula, as :func:`write_frame` writes CSV files (numbers, and text that is
    just a number such as ``"-12.50"``, stay as they are); for writers of other files
    that spreadsheets open (Excel workbooks, CSV in a zip).

    Examples
    --------
    >>> import pandas as pd
    >>> spreadsheet_safe(pd.DataFrame({"v": ["=1+1", "@SUM(A1)", "-2", "ok"]}))["v"].tolist()
    ["'=1+1", "'@SUM(A1)", '-2', 'ok']
    """
    return _spreadsheet_safe(df)[0]


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    nested = [c for c, dt in df.dtypes.items() if isinstance(dt, pd.ArrowDtype)
              and pa.types.is_nested(dt.pyarrow_dtype)]
    if nested:
        # pandas cannot read back its own name for Arrow list dtypes: leave its metadata
        # out, and readers see plain Arrow lists
        table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path)
        return
    try:
        df.to_parquet(path, index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # object columns that mix numbers and text: store them as text (blanks stay null)
        fixed = df.copy()
        for col in fixed.columns[[dt.kind == "O" for dt in fixed.dtypes]]:
            values = fixed[col]
            fixed[col] = values.where(values.isna(), values.astype(str))
        log.info("%s: columns of mixed types written as text", path.name)
        fixed.to_parquet(path, index=False)


def write_text(text: str, path: str | os.PathLike[str], *, encoding: str = "utf-8") -> Path:
    """Write text to a file atomically (temporary file, then rename).

    Parameters
    ----------
    text : str
        The content.
    path : str or path-like
        The file; missing folders are made.
    encoding : str, default "utf-8"

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_text("hello", pathlib.Path(tempfile.mkdtemp()) / "a.txt")
    >>> p.read_text()
    'hello'
    """
    p = Path(path)
    with atomic_file(p) as tmp, open(tmp, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return p


def write_json(obj: object, path: str | os.PathLike[str]) -> Path:
    """Write an object as indented JSON, atomically.

    NaN and infinities become ``null`` (JSON has no NaN); NumPy scalars, paths
    and timestamps are written as plain values.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_json({"rate": float("nan")}, pathlib.Path(tempfile.mkdtemp()) / "s.json")
    >>> p.read_text()
    '{\\n  "rate": null\\n}\\n'
    """
    return write_text(json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n", path)


def _jsonable(obj: object) -> object:
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return str(obj)


@contextlib.contextmanager
def atomic_dir(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder of outputs that appears complete or not at all.

    The block writes into a temporary sibling folder; when it ends without an
    error the folder is renamed to ``out_dir``. If the block raises (or is
    interrupted), the temporary folder is removed and nothing changes at
    ``out_dir``; folders made above it are removed too when left empty.

    The folder records what the run wrote in a manifest, the hidden file
    ``.nexus-lab`` (JSON: ``{"files": [names]}``). A later run into the same
    folder replaces exactly those files and folders and keeps everything else
    (notes, signatures, a later step's sub-folder) as it is; it refuses, and
    changes nothing, when one of its outputs would replace a file it did not
    write. A folder holding files but no manifest is never written into, so a
    mistyped ``--out`` never touches someone's folder.

    Parameters
    ----------
    out_dir : str or path-like
        Where the outputs go.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.

    Raises
    ------
    NexusError
        When ``out_dir`` is a file, a folder that holds files nexus-lab did
        not write, a folder that cannot be replaced (a mount point, a
        read-only parent), or when an output would replace a file nexus-lab
        did not write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> try:
    ...     with atomic_dir(out) as work:
    ...         _ = write_text("half", work / "a.txt")
    ...         raise RuntimeError("interrupted")
    ... except RuntimeError:
    ...     pass
    >>> out.exists()
    False
    >>> with atomic_dir(out) as work:
    ...     _ = write_text("result", work / "a.txt")
    >>> _ = (out / "notes.txt").write_text("mine")
    >>> with atomic_dir(out) as work:
    ...     _ = write_text("new result", work / "a.txt")
    >>> sorted(p.name for p in out.iterdir())
    ['.nexus-lab', 'a.txt', 'notes.txt']
    """
    out = Path(out_dir).absolute()
    check_out_dir(out)
    made = [d for d in [out.parent, *out.parent.parents] if not d.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        work = Path(tempfile.mkdtemp(dir=out.parent,
                                     prefix=f".{out.name}.partial-{os.getpid()}-"))
    except OSError as err:
        _remove_empty(made)
        raise NexusError(f"cannot write to {str(out.parent)!r}: {err.strerror or err}") from None
    token = _written.set(None)  # the block's own writes are part of this folder
    try:
        try:
            yield work
        finally:
            _written.reset(token)
        os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes folders private
        check_out_dir(out)
        with signals_held():  # the swap and its record are one step: a stop waits for it
            names = _commit(work, out)
            # the files themselves: a folder that later steps write into is not complete
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6
                                             else "")
            _record(f"{out}{os.sep} ({shown})" if names else out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        _remove_empty(made)
        raise
    log.info("wrote %s", out)


def _remove_stale(out: Path) -> None:
    """Remove the half-built folders of runs into ``out`` whose process is gone (killed
    outright, say, so that they could not clean up): their names carry the process id."""
    for stale in out.parent.glob(f".{glob_escape(out.name)}.partial-*-*"):
        pid = stale.name[len(out.name) + 10:].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block: one that comes meanwhile is raised again
    when the block ends, so a step such as a folder swap or a database write is never
    cut in the middle.

    The signals are held in Python, not masked in the kernel: a signal sent to the
    process may be taken by any of its threads (MLflow and SQLAlchemy start some), and
    Python runs its handler in the main thread whichever took it. Outside the main
    thread, where no handler can be set, the block runs as it is.

    Examples
    --------
    >>> with signals_held():
    ...     pass  # a Ctrl-C here is raised after the block
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not None]
    before = {s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(pending):
            signal.raise_signal(s)  # to the handlers that were there before


def _commit(work: Path, out: Path) -> list[str]:
    """Put ``work`` in place of ``out`` with one rename, carrying over what ``out`` holds
    that the previous run did not write; return the names of the files ``work`` brought."""
    written = sorted(e.name for e in work.iterdir() if e.name != _MARKER)
    ours: set[str] | None = set()
    if out.exists():
        ours = _manifest(out)
        if ours is None:  # a manifest of an earlier version: it did not list its files
            ours = set(written)
        have = {e.name for e in out.iterdir() if e.name != _MARKER}
        clash = sorted(have & set(written) - ours)
        if clash:
            raise NexusError(
                f"{str(out)!r} holds {clash[:5]}, not written by nexus-lab, and this run "
                "writes files of the same names; move them away or choose another output "
                "folder")
        # only what this run writes anew is replaced: the rest stays, a person's files
        # and another command's outputs alike (still listed, for the run that wrote them)
        keep = sorted(have - set(written))
        earlier = sorted(ours & set(keep))
        mode = out.stat()
        os.chmod(work, stat.S_IMODE(mode.st_mode))  # a private folder stays private
        with contextlib.suppress(OSError):
            os.chown(work, -1, mode.st_gid)
    (work / _MARKER).write_text(json.dumps({
        "written_by": "nexus-lab",
        "note": "the files runs wrote here; a run replaces those it writes again and keeps "
                "the rest",
        "files": sorted({*written, *(earlier if out.exists() else [])}),
    }, indent=1) + "\n", encoding="utf-8")
    if not out.exists():
        _rename(work, out, out)
        return written
    for name in keep:  # linked, not moved: they stay in place until the new folder is
        _link_tree(out / name, work / name)
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    try:
        _rename(out, old / out.name, out)
    except BaseException:
        old.rmdir()
        raise
    try:
        _rename(work, out, out)
    except BaseException:
        os.replace(old / out.name, out)
        old.rmdir()
        raise
    for entry in (old / out.name).iterdir():  # put there while this run was writing
        if entry.name not in ours and entry.name != _MARKER and not os.path.lexists(
                out / entry.name):
            os.replace(entry, out / entry.name)
    shutil.rmtree(old, ignore_errors=True)
    return written


def _manifest(out: Path) -> set[str] | None:
    """The names the last run wrote into ``out`` (empty when it has no manifest); ``None``
    for a manifest that does not list them."""
    try:
        text = (out / _MARKER).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except OSError as err:
        raise NexusError(f"cannot read {str(out / _MARKER)!r}: {err.strerror or err}") from None
    try:
        files = json.loads(text)["files"]
    except (ValueError, KeyError, TypeError):
        return None
    return {name for name in files if isinstance(name, str)}


def _link_tree(src: Path, dst: Path) -> None:
    """``src`` at ``dst`` as hard links (copies where a link cannot be made)."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(src, dst)


def _link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _rename(src: Path, dst: Path, out: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError as err:
        raise NexusError(
            f"cannot replace the output folder {str(out)!r}: {err.strerror or err} (a mount "
            f"point, or a folder whose parent {str(out.parent)!r} is read-only, cannot be "
            "renamed); choose another output folder, e.g. a new folder inside it"
        ) from None


def check_out_dir(out_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder that :func:`atomic_dir` would not write.

    Call it before long work to fail early; :func:`atomic_dir` checks again.

    Raises
    ------
    NexusError
        When ``out_dir`` is a file, a folder holding files but no nexus-lab
        manifest, a mount point, or a folder whose parent is read-only.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> check_out_dir(pathlib.Path(tempfile.mkdtemp()) / "new")  # fine: nothing there yet
    """
    out = Path(out_dir)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir() or out.is_symlink():
        raise NexusError(
            f"{str(out)!r} exists and is not a plain folder (a file or a link); choose another "
            "output folder"
        )
    entries = [e.name for e in out.iterdir()]
    if entries and _MARKER not in entries:
        raise NexusError(
            f"{str(out)!r} already holds files that nexus-lab did not write ({sorted(entries)[:5]}"
            f"{' ...' if len(entries) > 5 else ''}); choose a new or empty output folder"
        )
    if os.path.ismount(out):
        raise NexusError(
            f"{str(out)!r} is a mount point: it cannot be replaced as a whole; choose another "
            "output folder, e.g. a new folder inside it"
        )
    parent = out.absolute().parent
    if not os.access(parent, os.W_OK | os.X_OK) or not os.access(out, os.W_OK):
        raise NexusError(
            f"{str(out)!r} cannot be replaced: {str(parent)!r} (or the folder itself) is "
            "read-only; make it writable or choose another output folder"
        )


def _remove_empty(made: list[Path]) -> None:
    for d in made:  # deepest first
        with contextlib.suppress(OSError):
            d.rmdir()
