"""What a reviewer reads: the runs, one run's figures, and its rows a page at a time.

Every function here reads through the store with bound parameters, asks for
``financial.read`` first, and fetches one page: a run of a million matches is never
read whole (the store's indexes on ``(run_id, confidence_score)`` and on either side's
id keep each page and each count a range scan).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nexus_lab.errors import NexusError

__all__ = [
    "ITEM_ORDERS",
    "MATCH_ORDERS",
    "matches_page",
    "open_items_page",
    "run_overview",
    "runs",
]

#: The orders :func:`matches_page` pages in (column: SQL expression).
MATCH_ORDERS = {"confidence": "confidence_score", "bank_id": "bank_statement_id",
                "ledger_id": "expense_id", "id": "id"}
#: The orders :func:`open_items_page` pages in.
ITEM_ORDERS = {"date": "date", "amount": "amount_cents", "reason": "reason",
               "transaction_id": "transaction_id", "id": "id"}
_MAX_PAGE = 1000
#: The largest offset a page may start at (what both engines' integers and a browser's
#: numbers hold exactly).
_MAX_OFFSET = 2**53 - 1


def _reader(store: Any) -> Any:
    from nexus_lab import auth
    from nexus_lab.store import connect

    s = connect(store)
    auth.require("financial.read", store=s, resource="reconciliation_runs")
    return s


def runs(account: str | None = None, *, store: Any = None) -> pd.DataFrame:
    """The reconciliation runs kept in the store, newest first (``financial.read``).

    Parameters
    ----------
    account : str, optional
        Only this account's runs.
    store : Store or str, optional

    Returns
    -------
    pandas.DataFrame
        ``run_id, account, period_start, period_end, status, rate, bank_rows,
        ledger_rows, matched_pairs, open_items, created_by, created_at, approved_by,
        approved_at, approval_note``.
    """
    s = _reader(store)
    cols = ("run_id, account, period_start, period_end, status, rate, bank_rows, ledger_rows, "
            "matched_pairs, open_items, created_by, created_at, approved_by, approved_at, "
            "approval_note")
    sql = f"select {cols} from reconciliation_runs"
    params: dict[str, Any] = {}
    if account is not None:
        sql += " where account = :a"
        params["a"] = account
    return s.query(sql + " order by created_at desc, run_id", params)


def run_overview(run_id: str, *, store: Any = None) -> dict:
    """One run's figures: its row, its open items by reason and status (``financial.read``).

    Returns
    -------
    dict
        ``run`` (the run's row as a dict) and ``open_by_reason`` (a frame: ``reason,
        status, items, amount_cents``).

    Raises
    ------
    NexusError
        No such run.
    """
    s = _reader(store)
    found = s.query("select * from reconciliation_runs where run_id = :r", {"r": run_id})
    if len(found) == 0:
        raise NexusError(f"no reconciliation run {run_id!r} in the store at {s.where}; "
                         "`nexus-lab review runs` lists them")
    by_reason = s.query(
        "select reason, status, count(*) as items, coalesce(sum(amount_cents), 0) as "
        "amount_cents from open_items where run_id = :r group by reason, status "
        "order by count(*) desc", {"r": run_id})
    return {"run": found.iloc[0].to_dict(), "open_by_reason": by_reason}


def _order(sort: str, descending: bool, orders: dict[str, str]) -> str:
    if sort not in orders:
        raise NexusError(f"cannot sort by {sort!r}; choose one of {', '.join(orders)}")
    direction = "desc" if descending else "asc"
    return f"{orders[sort]} {direction}, id {direction}"


def _window(offset: int, limit: int) -> tuple[int, int]:
    offset, limit = int(offset), int(limit)
    if not 0 <= offset <= _MAX_OFFSET or not 1 <= limit <= _MAX_PAGE:
        raise NexusError(f"a page is 1 to {_MAX_PAGE} rows from an offset of 0 to "
                         f"{_MAX_OFFSET:,} (got offset={offset:,}, limit={limit:,})")
    return offset, limit


def _prefix(column: str, name: str) -> str:
    # a prefix as a range, so the (run_id, column) index serves it on both engines
    return f"({column} >= :{name}_lo and {column} < :{name}_hi)"


def matches_page(run_id: str, *, search: str | None = None,
                 algorithms: Sequence[str] | None = None,
                 min_confidence: float | None = None, max_confidence: float | None = None,
                 sort: str = "confidence", descending: bool = False, offset: int = 0,
                 limit: int = 50, store: Any = None) -> tuple[pd.DataFrame, int]:
    """One page of a run's matches and how many match the filters (``financial.read``).

    Parameters
    ----------
    run_id : str
    search : str, optional
        A transaction id, or its start, on either side.
    algorithms : sequence of str, optional
        Only matches of these kinds (``one_to_one``, ``split``, ...).
    min_confidence, max_confidence : float, optional
        Bounds on the confidence (0 to 100), both included.
    sort : {"confidence", "bank_id", "ledger_id", "id"}, default "confidence"
    descending : bool, default False
    offset, limit : int
        The page: ``limit`` rows (at most 1000) from ``offset``.
    store : Store or str, optional

    Returns
    -------
    (pandas.DataFrame, int)
        The page (``id, bank_statement_id, expense_id, group_id, confidence_score,
        matching_algorithm, explanation, bits``; ``bits`` maps each field to the evidence
        it gave, in bits) and the number of rows the filters leave.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import review, workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> _, run_id = workflows.reconcile_from_store(store, device="cpu")
    >>> page, total = review.matches_page(run_id, sort="confidence", limit=5, store=store)
    >>> len(page), total > 50, sorted(page["bits"].iloc[0])[:2]
    (5, True, ['amount', 'date'])
    """
    s = _reader(store)
    offset, limit = _window(offset, limit)
    where, params = ["run_id = :r"], {"r": run_id}
    if algorithms:
        names = [str(a) for a in algorithms]
        where.append("matching_algorithm in (" + ", ".join(f":a{i}" for i in
                                                           range(len(names))) + ")")
        params.update({f"a{i}": a for i, a in enumerate(names)})
    if min_confidence is not None:
        where.append("confidence_score >= :cmin")
        params["cmin"] = float(min_confidence)
    if max_confidence is not None:
        where.append("confidence_score <= :cmax")
        params["cmax"] = float(max_confidence)
    if search and search.strip():
        q = search.strip()
        where.append(f"({_prefix('bank_statement_id', 'q')} or {_prefix('expense_id', 'q')})")
        params.update({"q_lo": q, "q_hi": q + "\U0010ffff"})
    clause = " and ".join(where)
    columns = ("id, bank_statement_id, expense_id, group_id, confidence_score, "
               "matching_algorithm, evidence")
    order = _order(sort, descending, MATCH_ORDERS)
    if search and search.strip():
        # the few rows an id finds are gathered first (both id indexes), then ordered:
        # else the planner walks the whole run in the order's index looking for them
        sql = (f"with hits as materialized (select {columns} from reconciliation_matches "
               f"where {clause}) select * from hits order by {order} limit :lim offset :off")
    else:
        sql = (f"select {columns} from reconciliation_matches where {clause} order by {order} "
               "limit :lim offset :off")
    page = s.query(sql, {**params, "lim": limit, "off": offset})
    if len(where) == 1:  # the whole run: its count was kept when it was saved
        total = int(s.query("select matched_pairs as n from reconciliation_runs where run_id "
                            "= :r", params)["n"].fillna(0).sum())
    else:
        total = int(s.query(f"select count(*) as n from reconciliation_matches where "
                            f"{clause}", params)["n"].iloc[0])
    evidence = [_evidence(e) for e in page.pop("evidence")]
    page["explanation"] = [e["text"] for e in evidence]
    page["bits"] = [e["bits"] for e in evidence]
    return page, total


def _evidence(value: Any) -> dict:
    """A match's stored evidence as ``{"text", "bits"}`` (older runs kept the text only)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"text": value, "bits": {}}
    if isinstance(value, dict):
        return {"text": str(value.get("text", "")), "bits": dict(value.get("bits") or {})}
    return {"text": "" if value is None else str(value), "bits": {}}


def open_items_page(run_id: str, *, status: str | None = "open",
                    reasons: Sequence[str] | None = None, side: str | None = None,
                    search: str | None = None, sort: str = "date", descending: bool = False,
                    offset: int = 0, limit: int = 50,
                    store: Any = None) -> tuple[pd.DataFrame, int]:
    """One page of a run's open items and how many match the filters (``financial.read``).

    Parameters
    ----------
    run_id : str
    status : {"open", "resolved", None}, default "open"
        None: both.
    reasons : sequence of str, optional
        Only items left open for these reasons.
    side : {"bank", "ledger", None}
    search : str, optional
        Text in the description, or the start of the transaction id.
    sort : {"date", "amount", "reason", "transaction_id", "id"}, default "date"
    descending : bool, default False
    offset, limit : int
    store : Store or str, optional

    Returns
    -------
    (pandas.DataFrame, int)
        The page (the ``open_items`` columns) and the number of rows the filters leave.
    """
    s = _reader(store)
    offset, limit = _window(offset, limit)
    where, params = ["run_id = :r"], {"r": run_id}
    if status is not None:
        if status not in ("open", "resolved"):
            raise NexusError(f"status={status!r}: choose 'open', 'resolved' or None (both)")
        where.append("status = :st")
        params["st"] = status
    if side is not None:
        if side not in ("bank", "ledger"):
            raise NexusError(f"side={side!r}: choose 'bank', 'ledger' or None (both)")
        where.append("side = :side")
        params["side"] = side
    if reasons:
        names = [str(r) for r in reasons]
        where.append("reason in (" + ", ".join(f":w{i}" for i in range(len(names))) + ")")
        params.update({f"w{i}": w for i, w in enumerate(names)})
    if search and search.strip():
        q = search.strip()
        where.append(f"({_prefix('transaction_id', 'q')} or lower(description) like :q_like "
                     "escape '\\')")
        params.update({"q_lo": q, "q_hi": q + "\U0010ffff",
                       "q_like": "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%")
                       .replace("_", "\\_") + "%"})
    clause = " and ".join(where)
    page = s.query(
        "select id, side, transaction_id, date, amount_cents, description, reason, suggested, "
        f"status, resolution, linked_to, resolved_by, resolved_at, note from open_items "
        f"where {clause} order by {_order(sort, descending, ITEM_ORDERS)} "
        "limit :lim offset :off", {**params, "lim": limit, "off": offset})
    total = int(s.query(f"select count(*) as n from open_items where {clause}",
                        params)["n"].iloc[0])
    return page, total
