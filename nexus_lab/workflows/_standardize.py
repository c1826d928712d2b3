"""Standardize a bank or ledger table, score its quality, and write both to a folder."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab._typing import DeviceLike

__all__ = ["StandardizeRun", "link_duplicates", "standardize_table"]


@dataclass
class StandardizeRun:
    """What :func:`standardize_table` did: the standardized table, its quality, and the
    folder written (None without ``out``)."""

    result: Any
    quality: Any
    folder: Path | None = None


def link_duplicates(threshold: float = 80.0, device: DeviceLike = "auto", *,
                    max_days: int | None = 5) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A duplicates finder for :func:`nexus_lab.standardize.standardize` that uses
    :func:`nexus_lab.link` within the table: rows with the same amount (in cents) are
    candidates, their dates and descriptions compared, and a pair is kept when its
    Fellegi-Sunter confidence is at least ``threshold`` and its dates at most
    ``max_days`` apart (a monthly payment of the same amount is no duplicate; None keeps
    any date).

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, _, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> both = pd.concat([bank, bank.head(3).assign(transaction_id=["X1", "X2", "X3"])],
    ...                  ignore_index=True)
    >>> res = nx.standardize.standardize(both, currency="USD",
    ...                                  duplicates=link_duplicates(device="cpu"))
    >>> n = len(bank)
    >>> {(0, n), (1, n + 1), (2, n + 2)} <= set(zip(res.duplicates.left_row,
    ...                                          res.duplicates.right_row))
    True
    """
    from nexus_lab.reconcile import link

    def nx_link(frame: pd.DataFrame) -> pd.DataFrame:
        table = frame[["date", "amount_cents", "description"]].assign(
            row=np.arange(len(frame), dtype=np.int64))
        pairs = link(table, compare={"date": "date", "amount_cents": "numeric",
                                     "description": "string"},
                     block_on=["amount_cents"], id_column="row", device=device,
                     threshold=threshold)
        if max_days is not None:
            dates = table["date"].to_numpy()
            gap = np.abs(dates[pairs["right_id"].to_numpy(np.int64)]
                         - dates[pairs["left_id"].to_numpy(np.int64)])
            pairs = pairs[gap <= np.timedelta64(int(max_days), "D")]
        return pd.DataFrame({"left_row": pairs["left_id"].to_numpy(np.int64),
                             "right_row": pairs["right_id"].to_numpy(np.int64),
                             "score": pairs["confidence"].to_numpy(),
                             "explanation": pairs["explanation"].to_numpy()})

    return nx_link


def standardize_table(
    df_or_path: Any,
    kind: str = "bank",
    *,
    columns: Mapping[str, str] | None = None,
    currency: str | None = None,
    categories: Mapping[str, Any] | pd.DataFrame | None = None,
    decimal: str | None = None,
    dayfirst: bool | None = None,
    rules: Any = None,
    as_of: object = None,
    duplicate_threshold: float = 80.0,
    device: DeviceLike = "auto",
    sheet: str | int = 0,
    out: str | Path | None = None,
) -> StandardizeRun:
    """Standardize a table (duplicates found with :func:`nexus_lab.link`), score the
    result's quality, and with ``out`` write it all at once.

    Parameters
    ----------
    df_or_path : DataFrame, str or path-like
        The table, or its file (CSV, Parquet or Excel, read by
        :func:`nexus_lab.read_table`).
    kind : {"bank", "ledger"}
    columns, currency, categories, decimal, dayfirst
        As in :func:`nexus_lab.standardize.standardize`.
    rules, as_of
        As in :func:`nexus_lab.standardize.quality` (None: the contract's rules).
    duplicate_threshold : float, default 80
        Smallest :func:`nexus_lab.link` confidence of a suspected duplicate pair.
    device : {"auto", "cpu", "cuda"}
        Where the linker compares text.
    sheet : str or int, default 0
        The worksheet of an Excel file.
    out : str or path-like, optional
        A folder to write (:func:`nexus_lab.files.atomic_dir`: complete or not at all):
        ``standardized.csv``, ``changes.csv``, ``duplicates.csv``, ``quality.html`` and
        ``rules.json`` (the rules applied and the quality scores).

    Returns
    -------
    StandardizeRun

    Raises
    ------
    SchemaError
        Bad input, naming the column and rows (and the file).

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> bank, _, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> run = standardize_table(bank, currency="USD", device="cpu",
    ...                         out=pathlib.Path(tempfile.mkdtemp()) / "std")
    >>> sorted(p.name for p in run.folder.iterdir() if not p.name.startswith("."))
    ['changes.csv', 'duplicates.csv', 'quality.html', 'rules.json', 'standardized.csv']
    """
    from nexus_lab.errors import SchemaError
    from nexus_lab.files import atomic_dir, check_out_dir, read_table, write_frame, write_text
    from nexus_lab.standardize import quality, standardize

    if out is not None:
        check_out_dir(out)  # before the work, not after it
    source = None
    if isinstance(df_or_path, str | Path):
        source = Path(df_or_path)
        df = read_table(source, name=kind, columns=columns, sheet=sheet)
    else:
        df = df_or_path
    try:
        res = standardize(df, kind, columns=columns, currency=currency, categories=categories,
                          decimal=decimal, dayfirst=dayfirst,
                          duplicates=link_duplicates(duplicate_threshold, device))
    except SchemaError as err:
        if source is None:
            raise
        raise SchemaError(f"{source.name}: {err}", table=err.table, column=err.column,
                          rows=err.rows) from None
    rep = quality(res, rules, as_of=as_of)  # its errors name the rules file
    folder = None
    if out is not None:
        dates = res.frame["date"]
        timed = bool((dates != dates.dt.normalize()).any())
        frame = res.frame.assign(date=dates.dt.strftime("%Y-%m-%d %H:%M:%S" if timed
                                                        else "%Y-%m-%d"))
        with atomic_dir(out) as work:
            write_frame(frame, work / "standardized.csv")
            write_frame(res.changes, work / "changes.csv")
            write_frame(res.duplicates, work / "duplicates.csv")
            rep.to_html(work / "quality.html")
            record = {"kind": kind, "source": None if source is None else str(source),
                      "rules": res.rules, "quality": rep.summary()}
            write_text(json.dumps(record, indent=2, default=str), work / "rules.json")
        folder = Path(out)
    return StandardizeRun(res, rep, folder)
