"""Data quality per source: each file ingested into the bank statements or the books,
scored by :func:`nexus_lab.standardize.quality` on the rows it wrote."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nexus_lab import _html, auth
from nexus_lab._typing import DeviceLike
from nexus_lab.errors import NexusError
from nexus_lab.store import Store, connect
from nexus_lab.workflows._records import _as_contract

__all__ = ["QUALITY_TABLES", "source_quality", "source_report"]

#: The tables whose sources are scored, and the data contract each follows.
QUALITY_TABLES = {"bank_statements": "bank", "expenses": "ledger"}
_MAX_SOURCES = 200
_MAX_OFFSET = 2**53 - 1  # what both engines' integers and a browser's numbers hold
_BATCH_COLUMNS = ("id, table_name, source, sha256, rows_read, rows_written, created_by, "
                  "created_at")


def _limits(offset: int, limit: int, max_rows: int) -> tuple[int, int, int]:
    offset, limit, max_rows = int(offset), int(limit), int(max_rows)
    if not 0 <= offset <= _MAX_OFFSET or not 1 <= limit <= _MAX_SOURCES:
        raise NexusError(f"a page of sources is 1 to {_MAX_SOURCES} from an offset of 0 to "
                         f"{_MAX_OFFSET:,} (got offset={offset:,}, limit={limit:,})")
    if not 1 <= max_rows <= _MAX_OFFSET:
        raise NexusError(f"max_rows={max_rows}: give how many rows of a source to check "
                         "(at least 1)")
    return offset, limit, max_rows


def _rows(s: Store, batch: pd.Series, max_rows: int) -> pd.DataFrame:
    """Up to ``max_rows`` rows the batch wrote, in the kernels' contract."""
    table = str(batch["table_name"])
    found = s.query(f"select * from {table} where batch_id = :b order by account, "
                    "transaction_id limit :m", {"b": int(batch["id"]), "m": max_rows})
    if len(found) == 0:
        return found
    found["date"] = pd.to_datetime(found["date"])
    return _as_contract(found)


def source_quality(store: Store | str | None = None, *, offset: int = 0, limit: int = 20,
                   max_rows: int = 20_000) -> pd.DataFrame:
    """The quality of each source of bank statements and books, newest first
    (``financial.read``).

    A source is a file (or frame) ingested into ``bank_statements`` or ``expenses``
    (a row of ``ingest_batches``); its rows are scored against their data contract's
    built-in rules by :func:`nexus_lab.standardize.quality`.

    Parameters
    ----------
    store : Store or str, optional
    offset, limit : int
        The page of sources: ``limit`` (1 to 200) from ``offset``.
    max_rows : int, default 20000
        At most this many rows of a source are checked (``rows_checked`` says how many).

    Returns
    -------
    pandas.DataFrame
        One row per source: ``batch_id, table, kind, source, ingested_at, ingested_by,
        rows_written, rows_checked, score`` (0-100, NaN for a source that wrote no row),
        the five dimensions (``completeness, validity, uniqueness, consistency,
        timeliness``), ``failing_rules``, ``rules`` and ``checks`` (a frame per source:
        ``rule, dimension, column, failing_rows``). ``attrs["total"]`` is the number of
        sources in the store.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> scores = workflows.source_quality(store)
    >>> scores["table"].tolist(), scores["rows_checked"].tolist() == [len(ledger), len(bank)]
    (['expenses', 'bank_statements'], True)
    >>> bool(scores["score"].between(0, 100).all())
    True
    """
    from nexus_lab.standardize import DIMENSIONS, quality

    offset, limit, max_rows = _limits(offset, limit, max_rows)
    s = connect(store)
    auth.require("financial.read", store=s, resource="ingest_batches")
    tables = {f"t{i}": t for i, t in enumerate(QUALITY_TABLES)}
    among = ", ".join(f":{k}" for k in tables)
    batches = s.query(f"select {_BATCH_COLUMNS} from ingest_batches where table_name in "
                      f"({among}) order by created_at desc, id desc limit :l offset :o",
                      {**tables, "l": limit, "o": offset})
    total = int(s.query(f"select count(*) as n from ingest_batches where table_name in "
                        f"({among})", tables)["n"].iloc[0])
    out = []
    for _, batch in batches.iterrows():
        kind = QUALITY_TABLES[batch["table_name"]]
        rows = _rows(s, batch, max_rows)
        row: dict[str, Any] = {
            "batch_id": int(batch["id"]), "table": batch["table_name"], "kind": kind,
            "source": batch["source"], "ingested_at": pd.Timestamp(batch["created_at"]),
            "ingested_by": batch["created_by"], "rows_written": int(batch["rows_written"]),
            "rows_checked": len(rows)}
        if len(rows):
            rep = quality(rows, kind=kind)
            summary = rep.summary()
            row.update({"score": float(rep.overall), **{d: summary[d] for d in DIMENSIONS},
                        "failing_rules": summary["failing_rules"], "rules": summary["rules"],
                        "checks": rep.counts.copy()})
        else:
            row.update({"score": float("nan"), **dict.fromkeys(DIMENSIONS),
                        "failing_rules": 0, "rules": 0,
                        "checks": pd.DataFrame(columns=["rule", "dimension", "column",
                                                        "failing_rows"])})
        out.append(row)
    columns = ["batch_id", "table", "kind", "source", "ingested_at", "ingested_by",
               "rows_written", "rows_checked", "score", *DIMENSIONS, "failing_rules", "rules",
               "checks"]
    frame = pd.DataFrame(out, columns=columns)
    for d in ("score", *DIMENSIONS):
        frame[d] = frame[d].astype(float)
    frame.attrs["total"] = total
    return frame


def source_report(batch_id: int, *, store: Store | str | None = None,
                  max_rows: int = 20_000, device: DeviceLike = "auto") -> str:
    """The standardization report of one source, as a standalone HTML page
    (``financial.read``).

    The source's rows are standardized (:func:`nexus_lab.workflows.standardize_table`:
    what each rule would change, suspected duplicates found with :func:`nexus_lab.link`)
    and scored (:func:`nexus_lab.standardize.quality`: the scores, each rule's failing
    rows). Every value in the page is escaped.

    Parameters
    ----------
    batch_id : int
        ``ingest_batches.id`` (``source_quality``'s ``batch_id``).
    store : Store or str, optional
    max_rows : int, default 20000
        At most this many of its rows are standardized and scored.
    device : {"auto", "cpu", "cuda"}
        Where the duplicates finder compares text.

    Returns
    -------
    str
        A whole HTML page, with no script.

    Raises
    ------
    NexusError
        No such source, or one that is not bank statements or books.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> bank, _, _ = nx.datasets.synth_reconciliation(50, seed=0)
    >>> _ = store.ingest("bank_statements", bank)
    >>> page = workflows.source_report(1, store=store, device="cpu")
    >>> "Data quality:" in page and "Changes by rule" in page and "<script" not in page
    True
    """
    from nexus_lab.workflows._standardize import standardize_table

    _, _, max_rows = _limits(0, 1, max_rows)
    s = connect(store)
    auth.require("financial.read", store=s, resource=f"ingest_batches/{batch_id}")
    found = s.query(f"select {_BATCH_COLUMNS} from ingest_batches where id = :b",
                    {"b": int(batch_id)})
    if len(found) == 0:
        raise NexusError(f"no source {batch_id} in the store at {s.where}; "
                         "workflows.source_quality lists them (batch_id)")
    batch = found.iloc[0]
    if batch["table_name"] not in QUALITY_TABLES:
        raise NexusError(f"source {batch_id} was ingested into {batch['table_name']}: only "
                         f"{' and '.join(QUALITY_TABLES)} have a data contract to check")
    rows = _rows(s, batch, max_rows)
    facts = {"table": batch["table_name"], "ingested": f"{pd.Timestamp(batch['created_at'])}"
             f" by {batch['created_by']}", "rows written": int(batch["rows_written"]),
             "rows checked": len(rows), "sha256": batch["sha256"] or "(a frame, no file)"}
    head = (f"<h1>Standardization report: {_html.escape(batch['source'])}</h1>"
            + _html.kv(facts))
    if len(rows) == 0:
        return ("<!doctype html><html><head><meta charset='utf-8'></head><body>" + head +
                "<p><i>This source wrote no rows (they were in the store already).</i></p>"
                "</body></html>")
    run = standardize_table(rows, QUALITY_TABLES[batch["table_name"]], device=device)
    return run.quality.html(head + "<h2>Standardization</h2>" + run.result._repr_html_())
