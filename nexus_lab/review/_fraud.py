"""What a fraud reviewer reads: the runs, a run's queue a page at a time, one flagged row
with why it was flagged, and the account's and the vendor's transactions around it.

Every function here asks for ``financial.read`` first and reads through the store with
bound parameters; the queue is fetched one page at a time, in the order asked for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nexus_lab.errors import NexusError
from nexus_lab.review._pages import _window

__all__ = ["FRAUD_ORDERS", "REVIEW_STATES", "fraud_history", "fraud_queue_page",
           "fraud_run_overview", "fraud_runs", "fraud_score"]

#: The orders :func:`fraud_queue_page` pages in (name: column).
FRAUD_ORDERS = {"risk": "risk_score", "date": "date", "amount": "amount_cents",
                "account": "account", "vendor": "vendor", "transaction_id": "transaction_id",
                "id": "id"}
#: A fraud score's review states: open for review, cleared, escalated into a case, or
#: ``none`` (neither flagged nor at the run's threshold: never in the queue).
REVIEW_STATES = ("open", "cleared", "escalated", "none")
_COLUMNS = ("id, run_id, transaction_id, account, vendor, date, amount_cents, risk_score, "
            "flags, reasons, review_state, reviewed_by, reviewed_at, review_note, case_id")


def _reader(store: Any, resource: str) -> Any:
    from nexus_lab import auth
    from nexus_lab.store import connect

    s = connect(store)
    auth.require("financial.read", store=s, resource=resource)
    return s


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flags(value: Any) -> list[str]:
    value = _json(value)
    return [str(f) for f in value] if isinstance(value, list | tuple) else []


def _split_reasons(text: Any) -> list[str]:
    """A row's reasons as the sentences they were (kept joined by ``"; "``; a ``;``
    inside brackets belongs to its sentence).

    Examples
    --------
    >>> _split_reasons("9980.10 is far above usual (modified z 14.7; 9.8 IQR); "
    ...               "just under the 10000 limit")
    ['9980.10 is far above usual (modified z 14.7; 9.8 IQR)', 'just under the 10000 limit']
    """
    if not isinstance(text, str) or not text.strip():
        return []
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")" and depth > 0
        if ch == ";" and depth == 0 and text[i + 1:i + 2] == " ":
            out.append(text[start:i].strip())
            start = i + 2
    out.append(text[start:].strip())
    return [r for r in out if r]


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Query rows as the store's types: flags as lists, times as timestamps."""
    if "flags" in frame:
        frame["flags"] = [_flags(f) for f in frame["flags"]]
    for col in ("date", "reviewed_at"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601"
                                        ).dt.tz_localize(None)
    for col in ("amount_cents", "id"):
        if col in frame and frame[col].dtype == object:
            frame[col] = frame[col].astype("Int64")
    return frame


def _when(stamp: pd.Timestamp, dialect: str) -> Any:
    # SQLite keeps times as text in this form; a bound datetime would compare as text
    return stamp.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else \
        stamp.to_pydatetime()


def fraud_runs(*, store: Any = None) -> pd.DataFrame:
    """The fraud runs kept in the store, newest first, with their review counts
    (``financial.read``).

    Returns
    -------
    pandas.DataFrame
        ``run_id, model, rows, flagged, created_by, created_at, open, cleared,
        escalated``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import review
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> review.fraud_runs(store=store).columns.tolist()[-3:]
    ['open', 'cleared', 'escalated']
    """
    s = _reader(store, "fraud_runs")
    runs = s.query("select run_id, model, rows, flagged, created_by, created_at from "
                   "fraud_runs order by created_at desc, run_id")
    counts = s.query("select run_id, review_state, count(*) as n from fraud_scores "
                     "group by run_id, review_state")
    table = counts.pivot_table(index="run_id", columns="review_state", values="n",
                               aggfunc="sum", fill_value=0)
    for state in ("open", "cleared", "escalated"):
        got = table[state] if state in table else pd.Series(dtype="int64")
        runs[state] = runs["run_id"].map(got).fillna(0).astype("int64")
    return runs


def fraud_run_overview(run_id: str, *, store: Any = None) -> dict:
    """One fraud run's figures (``financial.read``).

    Returns
    -------
    dict
        ``run`` (the run's row: ``run_id, model, rows, flagged, created_by,
        created_at, threshold``), ``states`` (rows per review state), ``open_cents``
        (the open rows' amounts, absolute, in cents), ``by_flag`` (a frame: ``flag,
        open, flagged``, rows per flag among the open and among all flagged rows),
        ``accounts`` and ``vendors`` (those with a flagged row, sorted).

    Raises
    ------
    NexusError
        No such run.
    """
    s = _reader(store, f"fraud_runs/{run_id}")
    found = s.query("select run_id, model, rows, flagged, params, created_by, created_at "
                    "from fraud_runs where run_id = :r", {"r": run_id})
    if len(found) == 0:
        raise NexusError(f"no fraud run {run_id!r} in the store at {s.where}; the store's runs "
                         "are listed by nexus_lab.review.fraud_runs()")
    run = found.iloc[0].to_dict()
    params = _json(run.pop("params")) or {}
    run["threshold"] = params.get("threshold") if isinstance(params, dict) else None
    flagged = s.query("select review_state, flags, account, vendor, amount_cents from "
                      "fraud_scores where run_id = :r and review_state <> 'none'",
                      {"r": run_id})
    states = {st: int((flagged["review_state"] == st).sum()) for st in REVIEW_STATES[:3]}
    states["none"] = int(run["rows"] or 0) - len(flagged)
    is_open = (flagged["review_state"] == "open").to_numpy()
    cents = pd.to_numeric(flagged["amount_cents"], errors="coerce").abs()
    per = pd.DataFrame({"flag": [_flags(f) for f in flagged["flags"]], "open": is_open}
                       ).explode("flag").dropna(subset=["flag"])
    by_flag = (per.groupby("flag").agg(open=("open", "sum"), flagged=("open", "size"))
               .astype("int64").reset_index()
               .sort_values(["open", "flagged", "flag"], ascending=[False, False, True],
                            kind="stable").reset_index(drop=True))
    return {"run": run, "states": states, "open_cents": int(cents[is_open].sum()),
            "by_flag": by_flag,
            "accounts": sorted(set(flagged["account"].dropna().astype(str))),
            "vendors": sorted(set(flagged["vendor"].dropna().astype(str)))}


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fraud_queue_page(run_id: str, *, states: Sequence[str] | None = ("open",),
                     flag: str | None = None, account: str | None = None,
                     vendor: str | None = None, min_risk: float | None = None,
                     sort: str = "risk", descending: bool = True, offset: int = 0,
                     limit: int = 50, store: Any = None) -> tuple[pd.DataFrame, int]:
    """One page of a fraud run's queue and how many rows the filters leave
    (``financial.read``).

    Parameters
    ----------
    run_id : str
    states : sequence of str, optional
        Review states to show (default: the open ones); None: every flagged row
        (``open``, ``cleared`` and ``escalated``).
    flag : str, optional
        Only rows with this flag (``"duplicate"``, ``"velocity"``...).
    account, vendor : str, optional
        Only this account's, or this vendor's, rows (an exact name).
    min_risk : float, optional
        Only rows whose risk score (0 to 100) is at least this.
    sort : {"risk", "date", "amount", "account", "vendor", "transaction_id", "id"}
    descending : bool, default True
    offset, limit : int
        The page: ``limit`` rows (at most 1000) from ``offset``.
    store : Store or str, optional

    Returns
    -------
    (pandas.DataFrame, int)
        The page (``id, run_id, transaction_id, account, vendor, date, amount_cents,
        risk_score, flags`` (a list), ``reasons, review_state, reviewed_by, reviewed_at,
        review_note, case_id``) and the number of rows the filters leave.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import review, workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()  # no roles yet: single-user
    >>> tx = nx.datasets.synth_transactions(600, seed=1, days=30)
    >>> det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(
    ...     tx.drop(columns=["pattern", "is_fraud"]))
    >>> run = workflows.save_fraud_scores(det.score(tx.drop(columns=["pattern", "is_fraud"])),
    ...                                   tx, store=store)
    >>> page, total = review.fraud_queue_page(run, limit=5, store=store)
    >>> len(page), total > 5, page["risk_score"].is_monotonic_decreasing
    (5, True, True)
    """
    s = _reader(store, f"fraud_runs/{run_id}")
    offset, limit = _window(offset, limit)
    if sort not in FRAUD_ORDERS:
        raise NexusError(f"cannot sort the queue by {sort!r}; choose one of "
                         f"{', '.join(FRAUD_ORDERS)}")
    where, params = ["run_id = :r"], {"r": run_id}
    wanted = list(REVIEW_STATES[:3] if states is None else states)
    unknown = [st for st in wanted if st not in REVIEW_STATES]
    if unknown or not wanted:
        raise NexusError(f"review state {unknown[0] if unknown else 'none given'!r}: choose "
                         f"among {', '.join(REVIEW_STATES)}, or states=None for every "
                         "flagged row")
    where.append("review_state in (" + ", ".join(f":s{i}" for i in range(len(wanted))) + ")")
    params.update({f"s{i}": st for i, st in enumerate(wanted)})
    if flag:
        # flags are a JSON list of names: the name, quoted, is in its text
        where.append("cast(flags as text) like :flag escape '\\'")
        params["flag"] = f'%"{_like(str(flag))}"%'
    if account:
        where.append("account = :acct")
        params["acct"] = str(account)
    if vendor:
        where.append("vendor = :vendor")
        params["vendor"] = str(vendor)
    if min_risk is not None:
        where.append("risk_score >= :risk")
        params["risk"] = float(min_risk)
    clause = " and ".join(where)
    direction = "desc" if descending else "asc"
    page = s.query(
        f"select {_COLUMNS} from fraud_scores where {clause} order by "
        f"{FRAUD_ORDERS[sort]} {direction}, id {direction} limit :lim offset :off",
        {**params, "lim": limit, "off": offset})
    total = int(s.query(f"select count(*) as n from fraud_scores where {clause}",
                        params)["n"].iloc[0])
    return _rows(page), total


def fraud_score(score_id: int, *, store: Any = None) -> dict:
    """One fraud score with why it was flagged (``financial.read``).

    Returns
    -------
    dict
        The row's columns (as in :func:`fraud_queue_page`, ``reasons`` as a list of
        sentences), the run's ``model`` and ``threshold``, and ``explanation``: a frame
        ``kind`` (``flag`` or ``feature``), ``name``, ``points``, strongest first, when
        the run kept what each flag and feature added (``save_fraud_scores(...,
        detector=)``), else None; ``feature_points`` says what a feature's points are.

    Raises
    ------
    NexusError
        No such score.
    """
    s = _reader(store, f"fraud_scores/{score_id}")
    found = s.query(f"select {_COLUMNS} from fraud_scores where id = :i",
                    {"i": int(score_id)})
    if len(found) == 0:
        raise NexusError(f"no fraud score {score_id!r} in the store at {s.where}")
    row = _rows(found).iloc[0].to_dict()
    row["reasons"] = _split_reasons(row["reasons"])
    run = s.query("select model, params from fraud_runs where run_id = :r",
                  {"r": row["run_id"]})
    params = _json(run["params"].iloc[0]) if len(run) else None
    params = params if isinstance(params, dict) else {}
    row["model"] = run["model"].iloc[0] if len(run) else None
    row["threshold"] = params.get("threshold")
    row["feature_points"] = params.get("feature_points")
    kept = (params.get("explanations") or {}).get(str(row["transaction_id"]))
    row["explanation"] = None
    if isinstance(kept, dict):
        parts = [(kind, str(name), float(points)) for kind, key in (("flag", "flags"),
                                                                     ("feature", "features"))
                 for name, points in _pairs(kept.get(key))]
        frame = pd.DataFrame(parts, columns=["kind", "name", "points"])
        strongest = frame.assign(flag_first=frame["kind"] != "flag",
                                 size=-frame["points"].abs())
        row["explanation"] = frame.loc[strongest.sort_values(
            ["flag_first", "size"], kind="stable").index].reset_index(drop=True)
    return row


def _pairs(value: Any) -> list:
    """``[[name, points], ...]`` (or a ``{name: points}`` mapping) as pairs."""
    if isinstance(value, dict):
        return list(value.items())
    return [tuple(p) for p in value or [] if isinstance(p, list | tuple) and len(p) == 2]


def fraud_history(score_id: int, *, days: int = 30, limit: int = 500,
                  store: Any = None) -> pd.DataFrame:
    """The scored transactions of the same account or the same vendor within ``days``
    of a fraud score's, in its run (``financial.read``).

    Parameters
    ----------
    score_id : int
        ``fraud_scores.id``.
    days : int, default 30
        How far before and after the row's date.
    limit : int, default 500
        At most this many rows, the nearest in time first.
    store : Store or str, optional

    Returns
    -------
    pandas.DataFrame
        ``id, transaction_id, date, amount_cents, account, vendor, risk_score, flags,
        review_state, case_id, same`` (``"account"``, ``"vendor"`` or ``"account and
        vendor"``), ``this`` (True on the row itself), in date order; the row itself is
        always in it.

    Raises
    ------
    NexusError
        No such score.
    """
    s = _reader(store, f"fraud_scores/{score_id}")
    found = s.query("select id, run_id, account, vendor, date from fraud_scores where "
                    "id = :i", {"i": int(score_id)})
    if len(found) == 0:
        raise NexusError(f"no fraud score {score_id!r} in the store at {s.where}")
    me = _rows(found).iloc[0]
    cols = ("id, transaction_id, date, amount_cents, account, vendor, risk_score, flags, "
            "review_state, case_id")
    params: dict[str, Any] = {"r": me["run_id"], "i": int(score_id)}
    same = []
    for col in ("account", "vendor"):
        if pd.notna(me[col]) and str(me[col]):
            same.append(f"{col} = :{col}")
            params[col] = str(me[col])
    if pd.notna(me["date"]) and same:
        at = pd.Timestamp(me["date"])
        params.update({"lo": _when(at - pd.Timedelta(days=int(days)), s.dialect),
                       "hi": _when(at + pd.Timedelta(days=int(days)), s.dialect)})
        rows = s.query(
            f"select {cols} from fraud_scores where run_id = :r and ({' or '.join(same)}) "
            "and date >= :lo and date <= :hi", params)
    else:
        rows = s.query(f"select {cols} from fraud_scores where id = :i", params)
    rows = _rows(rows)
    if len(rows) > limit:
        near = (rows["date"] - pd.Timestamp(me["date"])).abs()
        rows = rows.loc[near.sort_values(kind="stable").index[:limit]]
    acct = rows["account"].astype(object).eq(me["account"]).to_numpy()
    vend = rows["vendor"].astype(object).eq(me["vendor"]).to_numpy()
    rows["same"] = ["account and vendor" if a and v else "account" if a else "vendor"
                    for a, v in zip(acct, vend)]
    rows["this"] = rows["id"].astype("int64").to_numpy() == int(score_id)
    return rows.sort_values(["date", "id"], kind="stable").reset_index(drop=True)
