"""The executive overview: the store's figures over periods, aggregated in SQL.

Every figure is a ``GROUP BY`` in the store (SQLite or PostgreSQL): no table is read
whole, and nothing leaves the store but totals, so the overview names no account and
no person.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nexus_lab import auth
from nexus_lab.errors import NexusError
from nexus_lab.store import Store, connect

__all__ = ["AGE_BANDS", "overview"]

#: The age bands of open exceptions, in days: (label, first day, last day).
AGE_BANDS = (("0-30 days", 0, 30), ("31-60 days", 31, 60), ("61-90 days", 61, 90),
             ("over 90 days", 91, None))
_NO_FLAG = "high risk score"  # open for review on its score alone, with no flag

# the latest run of each account and period (a period reconciled again counts once); runs
# saved within the same second (SQLite keeps seconds) are told apart by their rows' ids
_LATEST_RUNS = """latest as (
    select run_id, account, period_start, period_end, rate, bank_rows, created_at,
           row_number() over (partition by account, period_start, period_end
                              order by created_at desc, last_row desc, run_id desc) as nth
    from (select r.*, coalesce((select max(m.id) from reconciliation_matches m
                                where m.run_id = r.run_id),
                               (select max(o.id) from open_items o
                                where o.run_id = r.run_id), 0) as last_row
          from reconciliation_runs r) runs)"""
# each transaction as its latest scoring has it
_LATEST_SCORES = """scored as (
    select f.transaction_id, f.date, f.amount_cents, f.flags, f.review_state,
           row_number() over (partition by f.account, f.transaction_id
                              order by r.created_at desc, f.id desc) as nth
    from fraud_scores f join fraud_runs r on r.run_id = f.run_id)"""


def _sql(s: Store) -> dict[str, str]:
    """The few expressions SQLite and PostgreSQL write differently."""
    if s.dialect == "postgresql":
        return {"month_date": "to_char(o.date, 'YYYY-MM')",
                "month_bank": "to_char(b.date, 'YYYY-MM')",
                "month_score": "to_char(f.date, 'YYYY-MM')",
                "age": "(coalesce(a.as_of, current_date) - o.date)",
                "flags": "jsonb_array_elements_text(f.flags) as j(value)",
                "no_flags": "jsonb_array_length(coalesce(f.flags, '[]'::jsonb)) = 0"}
    return {"month_date": "substr(o.date, 1, 7)", "month_bank": "substr(b.date, 1, 7)",
            "month_score": "substr(f.date, 1, 7)",
            "age": "cast(julianday(coalesce(a.as_of, current_date)) - julianday(o.date) "
                   "as integer)",
            "flags": "json_each(f.flags) as j",
            "no_flags": "json_array_length(coalesce(f.flags, '[]')) = 0"}


def overview(store: Store | str | None = None, *, periods: int = 12) -> dict[str, Any]:
    """The executive overview: reconciliation, open exceptions, fraud exposure and cases,
    over the latest periods (``strategic.read`` or ``financial.read``).

    A period reconciled more than once counts with its latest run. Money is integer
    cents, amounts as absolute values (a debit and a credit are both at stake).

    Parameters
    ----------
    store : Store or str, optional
    periods : int, default 12
        How many of the latest periods (and months) to show, 1 to 120.

    Returns
    -------
    dict
        ``figures`` (a dict: ``rate`` of the latest period, ``period_start``,
        ``period_end``, ``as_of`` (the latest period's end, else today: the day ages are
        counted to), ``open_items`` and ``open_cents`` still open, ``at_risk_cents``
        and ``flagged_open`` of transactions open for fraud review, ``cases`` and
        ``open_cases``) and frames:

        * ``rate_by_period``: ``period_start, period_end, rate, bank_rows, runs``, oldest
          first (``rate`` weighted by bank rows over the period's accounts);
        * ``open_by_age``: ``band, items, amount_cents``, the four :data:`AGE_BANDS` in
          order (age: days from the item's date to ``figures["as_of"]``);
        * ``exposure_by_flag``: ``flag, rows, amount_cents`` of transactions open for
          review, largest first (a row with two flags counts under both);
        * ``cases_by_status``: ``status, cases``;
        * ``monthly``: ``month`` (``YYYY-MM``), ``flagged`` (transactions flagged for
          review), ``reconciled_rate`` (share of the bank amount the reconciliation
          matched), oldest first.

    Raises
    ------
    PermissionDenied
        Without ``strategic.read`` or ``financial.read``.
    NexusError
        ``periods`` out of range.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> _, run_id = workflows.reconcile_from_store(store, device="cpu")
    >>> view = workflows.overview(store)
    >>> view["open_by_age"]["band"].tolist()
    ['0-30 days', '31-60 days', '61-90 days', 'over 90 days']
    >>> view["figures"]["rate"] == float(store.read("reconciliation_runs")["rate"].iloc[0])
    True
    """
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= 120:
        raise NexusError(f"periods={periods!r}: give a whole number of periods from 1 to 120")
    s = connect(store)
    auth.require(("strategic.read", "financial.read"), store=s, resource="overview")
    sql = _sql(s)
    by_period = _rate_by_period(s, periods)
    by_age = _open_by_age(s, sql)
    exposure = _exposure_by_flag(s, sql)
    cases = s.query("select status, count(*) as cases from cases group by status "
                    "order by count(*) desc, status")
    cases["cases"] = cases["cases"].astype("int64")
    at_risk = s.query(
        f"with {_LATEST_SCORES} select count(*) as n, coalesce(sum(abs(amount_cents)), 0) "
        "as cents from scored where nth = 1 and review_state = 'open'").iloc[0]
    last = by_period.iloc[-1] if len(by_period) else None
    ends = by_period["period_end"].dropna()
    figures = {
        "rate": None if last is None or pd.isna(last["rate"]) else float(last["rate"]),
        "period_start": None if last is None else last["period_start"],
        "period_end": None if last is None else last["period_end"],
        "as_of": max(ends) if len(ends) else pd.Timestamp.now().date(),
        "open_items": int(by_age["items"].sum()),
        "open_cents": int(by_age["amount_cents"].sum()),
        "at_risk_cents": int(at_risk["cents"] or 0), "flagged_open": int(at_risk["n"] or 0),
        "cases": int(cases["cases"].sum()),
        "open_cases": int(cases.loc[~cases["status"].isin(["closed", "archived"]),
                                    "cases"].sum()),
    }
    return {"figures": figures, "rate_by_period": by_period, "open_by_age": by_age,
            "exposure_by_flag": exposure, "cases_by_status": cases,
            "monthly": _monthly(s, sql, periods)}


def _rate_by_period(s: Store, periods: int) -> pd.DataFrame:
    found = s.query(
        f"with {_LATEST_RUNS} select period_start, period_end, count(*) as runs, "
        "sum(coalesce(bank_rows, 0)) as bank_rows, sum(rate * coalesce(bank_rows, 0)) / "
        "nullif(sum(coalesce(bank_rows, 0)), 0) as rate, avg(rate) as plain_rate "
        "from latest where nth = 1 group by period_start, period_end "
        "order by case when max(period_end) is null then 1 else 0 end, max(period_end) desc, "
        "max(period_start) desc, max(created_at) desc limit :p", {"p": periods})
    found["rate"] = found["rate"].astype(float).fillna(found.pop("plain_rate").astype(float))
    for col in ("period_start", "period_end"):
        found[col] = pd.to_datetime(found[col]).dt.date
    found[["runs", "bank_rows"]] = found[["runs", "bank_rows"]].astype("int64")
    return found.iloc[::-1].reset_index(drop=True)


def _open_by_age(s: Store, sql: dict[str, str]) -> pd.DataFrame:
    cases = " ".join(
        f"when age <= {hi} then '{label}'" for label, _, hi in AGE_BANDS if hi is not None)
    found = s.query(
        f"with {_LATEST_RUNS} select case when age is null then '{AGE_BANDS[-1][0]}' {cases} "
        f"else '{AGE_BANDS[-1][0]}' end as band, count(*) as items, "
        "coalesce(sum(abs(amount_cents)), 0) as amount_cents from ("
        f"select {sql['age']} as age, o.amount_cents from open_items o join latest l on "
        "l.run_id = o.run_id and l.nth = 1 cross join (select max(period_end) as as_of from "
        "latest where nth = 1) a where o.status = 'open') aged group by 1")
    bands = pd.DataFrame({"band": [b[0] for b in AGE_BANDS]})
    out = bands.merge(found, on="band", how="left")
    for col in ("items", "amount_cents"):
        out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    return out


def _exposure_by_flag(s: Store, sql: dict[str, str]) -> pd.DataFrame:
    found = s.query(
        f"with {_LATEST_SCORES}, open_rows as (select * from scored f where nth = 1 and "
        "review_state = 'open') "
        "select j.value as flag, count(*) as rows, coalesce(sum(abs(f.amount_cents)), 0) as "
        f"amount_cents from open_rows f, {sql['flags']} group by j.value "
        f"union all select '{_NO_FLAG}' as flag, count(*) as rows, "
        "coalesce(sum(abs(f.amount_cents)), 0) as amount_cents from open_rows f where "
        f"{sql['no_flags']}")
    found = found[found["rows"] > 0].astype({"rows": "int64", "amount_cents": "int64"})
    return found.sort_values(["amount_cents", "flag"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def _monthly(s: Store, sql: dict[str, str], periods: int) -> pd.DataFrame:
    flagged = s.query(
        f"with {_LATEST_SCORES} select {sql['month_score']} as month, count(*) as flagged "
        "from scored f where nth = 1 and review_state <> 'none' and f.date is not null "
        "group by 1 order by 1 desc limit :p", {"p": periods})
    in_period = ("l.nth = 1 and (l.account = '' or l.account = b.account) and "
                 "(l.period_start is null or b.date >= l.period_start) and "
                 "(l.period_end is null or b.date <= l.period_end)")
    banked = s.query(
        f"with {_LATEST_RUNS} select {sql['month_bank']} as month, "
        "sum(abs(b.amount_cents)) as bank_cents from bank_statements b join latest l on "
        f"{in_period} group by 1 order by 1 desc limit :p", {"p": periods})
    left_open = s.query(
        f"with {_LATEST_RUNS} select {sql['month_date']} as month, "
        "sum(abs(o.amount_cents)) as open_cents from open_items o join latest l on "
        "l.run_id = o.run_id and l.nth = 1 where o.side = 'bank' and o.date is not null "
        "group by 1 order by 1 desc limit :p", {"p": periods})
    rates = banked.merge(left_open, on="month", how="left").fillna({"open_cents": 0})
    total = rates["bank_cents"].astype(float)
    rates["reconciled_rate"] = (1.0 - rates["open_cents"].astype(float) / total).where(
        total > 0).clip(lower=0.0)
    out = flagged.merge(rates[["month", "reconciled_rate"]], on="month", how="outer")
    out["flagged"] = pd.to_numeric(out["flagged"]).fillna(0).astype("int64")
    out["month"] = out["month"].astype(str)
    return out.sort_values("month").tail(periods).reset_index(drop=True)
