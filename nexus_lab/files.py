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
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.frames import find_column, read_money

__all__ = [
    "TEXT_COLUMNS",
    "atomic_dir",
    "atomic_file",
    "check_out_dir",
    "describe_file",
    "hash_file",
    "read_table",
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

_MONEY_TEXT = ("amount", "debit", "credit")
_CSV = (".csv", ".tsv", ".txt")
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
_PARQUET = (".parquet", ".pq")
_EXCEL = (".xlsx", ".xlsm")
_MARKER = ".nexus-lab"  # written into every folder atomic_dir creates


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
    return "unknown", "".join(suffixes[-2:]) if suffixes else ""


def read_table(
    path: str | os.PathLike[str],
    *,
    name: str = "table",
    text_columns: Iterable[str] | None = TEXT_COLUMNS,
    columns: Mapping[str, str] | None = None,
    sheet: str | int = 0,
) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file into a pandas DataFrame.

    The kind of file is taken from its extension: ``.csv`` (also ``.tsv``,
    ``.txt`` and compressed ``.csv.gz`` etc.), ``.parquet`` / ``.pq``, or
    ``.xlsx`` / ``.xlsm`` (read with openpyxl). CSV text is read as UTF-8 (a
    byte-order mark is dropped) and, failing that, as Windows-1252. Column
    names are stripped of surrounding blanks.

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
        The worksheet of an Excel workbook, by name or position.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    NexusError
        When the file is missing, is a folder, has an extension that is not a
        table, or cannot be parsed.
    SchemaError
        When the file holds no table at all (empty, or no header row).

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
            f"{hint}; use .csv, .parquet or .xlsx"
        )
    names = dict(columns or {})
    text = sorted({names.get(c, c) for c in text_columns or ()})
    try:
        if kind == "csv":
            # money stays text too, so that its decimal mark is decided from the whole
            # column (nexus_lab.frames.read_money), not by the CSV parser cell by cell
            money = [names.get(c, c) for c in _MONEY_TEXT] if text_columns is not None else []
            df = _read_csv(p, sorted({*text, *money}),
                           sep="\t" if ext.startswith(".tsv") else None)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            df = _read_excel(p, text, sheet, name)
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
    if kind == "csv" and text_columns is not None:
        _plain_money(df, [names.get(c, c) for c in _MONEY_TEXT], name)
    if len(df.columns) == 0:
        raise SchemaError(f"{name}: {p.name!r} has no columns; check the export", table=name)
    log.info("read %s: %d rows x %d columns from %s", name, len(df), len(df.columns), p)
    return df


def _plain_money(df: pd.DataFrame, money: list[str], name: str) -> None:
    """Money columns read as text become numbers when the whole column reads as plain
    amounts with a decimal point and no currency; others stay text, for the kernels to
    decide (and report) their convention, or refuse them with the rows at fault."""
    heads = [str(c) for c in df.columns]
    for col in {find_column(heads, c) for c in money} - {None}:
        if df[col].dtype != object:
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


def _read_csv(path: Path, text: list[str], sep: str | None) -> pd.DataFrame:
    try:
        return _csv_with(path, text, sep, "utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not UTF-8 text; reading it as Windows-1252", path.name)
        return _csv_with(path, text, sep, "cp1252")


_SEPARATORS = (",", ";", "\t", "|")


def _sniff_separator(path: Path, encoding: str) -> str:
    """The field separator of a CSV file: of ``, ; tab |``, the one that splits the first
    lines into the same number (above one) of fields, the most fields winning."""
    import csv
    import io

    with _open_text(path, encoding) as f:
        lines = [line for line in (f.readline() for _ in range(20)) if line.strip()]
    best, fields = ",", 1
    for sep in _SEPARATORS:
        counts = {len(row) for row in csv.reader(io.StringIO("".join(lines)), delimiter=sep)}
        if len(counts) == 1 and (n := counts.pop()) > fields:
            best, fields = sep, n
    if best != ",":
        log.info("%s: fields separated by %r", path.name, best)
    return best


def _open_text(path: Path, encoding: str) -> Any:
    """A text handle on a CSV file, compressed or not (by its extension)."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower())
    if opener is None:
        return open(path, encoding=encoding, newline="")
    return opener(path, "rt", encoding=encoding, newline="")


def _csv_with(path: Path, text: list[str], sep: str | None, encoding: str) -> pd.DataFrame:
    if sep is None:
        sep = "," if path.suffix.lower() in (".zip", ".zst") else _sniff_separator(
            path, encoding)
    header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding).columns
    heads = [str(c).strip() for c in header]
    wanted = set(text) | {find_column(heads, c) for c in text} - {None}
    dtype = {c: str for c in header if str(c).strip() in wanted}
    # low_memory=False infers each column's type from all of it, so one bad cell deep in a
    # column makes it text everywhere instead of a mix of floats and strings
    return pd.read_csv(path, sep=sep, dtype=dtype, low_memory=False, encoding=encoding)


def _read_excel(path: Path, text: list[str], sheet: str | int, name: str) -> pd.DataFrame:
    try:
        df = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
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
    wanted = set(text)
    for col in df.columns:
        if str(col).strip() in wanted and df[col].dtype.kind != "M":
            df[col] = df[col].map(_cell_text, na_action="ignore").astype(object)
    return df


def _cell_text(value: object) -> str:
    """A cell as text: whole numbers without a trailing ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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


def write_frame(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame atomically, as Parquet or CSV by the file's extension.

    The table goes to a temporary file in the same folder first and is renamed
    onto ``path`` only once it is complete: an interrupted write leaves the old
    file (or none), never a partial one. The index is not written.

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
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (*_PARQUET, ".csv"):
        raise NexusError(f"cannot write {p.name!r}: use a .parquet or .csv file name")
    with atomic_file(p) as tmp:
        if ext == ".csv":
            df.to_csv(tmp, index=False, encoding="utf-8")
        else:
            _to_parquet(df, tmp)
    log.info("wrote %s (%d rows)", p, len(df))
    return p


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
    interrupted), the temporary folder is removed and nothing appears at
    ``out_dir``; folders made above it are removed too when left empty.

    An existing ``out_dir`` is replaced only when it is empty or was itself
    made by :func:`atomic_dir` (it holds a ``.nexus-lab`` marker file), so a
    mistyped ``--out`` never deletes someone's folder.

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
        When ``out_dir`` is a file, or a folder that holds other files.

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
    """
    out = Path(out_dir).absolute()
    check_out_dir(out)
    made = [d for d in [out.parent, *out.parent.parents] if not d.exists()]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    except OSError as err:
        _remove_empty(made)
        raise NexusError(f"cannot write to {str(out.parent)!r}: {err.strerror or err}") from None
    try:
        (work / _MARKER).write_text("made by nexus-lab; safe to replace with a new run\n")
        yield work
        os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes folders private
        check_out_dir(out)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / out.name)
        try:
            os.replace(work, out)
        except BaseException:
            if old is not None:
                os.replace(old / out.name, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        _remove_empty(made)
        raise
    log.info("wrote %s", out)


def check_out_dir(out_dir: str | os.PathLike[str]) -> None:
    """Refuse an output folder that :func:`atomic_dir` would not replace.

    Call it before long work to fail early; :func:`atomic_dir` checks again.

    Raises
    ------
    NexusError
        When ``out_dir`` is a file, or a folder holding files that
        :func:`atomic_dir` did not write.

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


def _remove_empty(made: list[Path]) -> None:
    for d in made:  # deepest first
        with contextlib.suppress(OSError):
            d.rmdir()
