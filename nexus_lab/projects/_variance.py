"""Budget against actual for projects and their milestones, and the risks it shows."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nexus_lab._html import escape, frame, kv
from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import read_dates
from nexus_lab.projects._inputs import Tables, prepare

#: The risk rules of a milestone, in the order their reasons are written.
RISKS = ("over budget", "burn above plan", "overdue", "spending with no progress")
#: Milestone statuses that say no work has started (compared in lower case, ``-`` and
#: blanks read as ``_``).
NOT_STARTED = ("planned", "not_started", "pending", "todo", "to_do", "new", "draft")
_EPOCH = np.datetime64("1970-01-01", "D")


def _dates(days: np.ndarray) -> np.ndarray:
    """Day numbers (NaN for none) as ``datetime64[ns]`` (NaT for none)."""
    out = np.full(len(days), np.datetime64("NaT", "ns"))
    known = ~np.isnan(days)
    out[known] = (_EPOCH + days[known].astype(np.int64)).astype("datetime64[ns]")
    return out


def _money(cents: np.ndarray) -> np.ndarray:
    """Cents as currency units, for the result tables (never summed again)."""
    return np.asarray(cents, dtype=np.int64) / 100.0


@dataclass
class ProjectVariance:
    """What :func:`variance` found: milestones and projects, budget against actual.

    Money is in currency units (computed in int64 cents). See :func:`variance` for the
    columns and the rules.

    Attributes
    ----------
    milestones : pandas.DataFrame
        One row per milestone.
    projects : pandas.DataFrame
        One row per project.
    as_of : pandas.Timestamp
        The day the figures are taken on.
    params : dict
        The settings used, and counts of the operations left out (dated after ``as_of``).
    """

    milestones: pd.DataFrame
    projects: pd.DataFrame
    as_of: pd.Timestamp
    params: dict = field(default_factory=dict)
    _operations: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def summary(self) -> dict:
        """Counts and totals as a flat dict (easy to log or print)."""
        m, p = self.milestones, self.projects
        out = {
            "as_of": self.as_of.date().isoformat(),
            "projects": len(p),
            "projects_at_risk": int(p["at_risk"].sum()),
            "milestones": len(m),
            "milestones_open": int(m["open"].sum()),
            "milestones_at_risk": int(m["at_risk"].sum()),
        }
        out.update({f"milestones_{r.replace(' ', '_')}": int(m[r.replace(" ", "_")].sum())
                    for r in RISKS})
        cents = {c: int(np.rint(p[c].to_numpy(float) * 100).astype(np.int64).sum())
                 for c in ("budget", "actual_expense", "actual_income")}
        out.update({c: v / 100 for c, v in cents.items()})
        out["estimate_at_completion"] = round(float(p["estimate_at_completion"].sum()), 2)
        out["operations"] = self.params.get("operations", 0)
        out["operations_after_as_of"] = self.params.get("operations_after_as_of", 0)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The milestones table."""
        return self.milestones

    def at_risk(self) -> pd.DataFrame:
        """The milestones at risk, the most overdue and the most over budget first."""
        risky = self.milestones[self.milestones["at_risk"]]
        return risky.sort_values(["days_overdue", "variance"], ascending=False, kind="stable")

    def burn(self, freq: str = "MS") -> pd.DataFrame:
        """Money spent and earned per project and period, with the running total spent.

        Parameters
        ----------
        freq : str, default "MS"
            A pandas period start (``"MS"`` months, ``"W-MON"`` weeks, ``"QS"`` quarters).

        Returns
        -------
        pandas.DataFrame
            ``project_id, period, expense, income, cumulative_expense, budget``; periods
            with no operation are left out. Operations after ``as_of`` are not counted.

        Examples
        --------
        >>> import nexus_lab as nx
        >>> p, m, o = nx.datasets.synth_projects(3, seed=0)
        >>> burn = nx.projects.variance(m, o, projects=p).burn()
        >>> list(burn.columns)
        ['project_id', 'period', 'expense', 'income', 'cumulative_expense', 'budget']
        """
        ops = self._operations
        period = pd.Series(_dates(ops["day"].to_numpy(float))).dt.to_period(
            pd.tseries.frequencies.to_offset(freq)).dt.start_time
        table = pd.DataFrame({
            "project_id": ops["project_id"].to_numpy(object), "period": period.to_numpy(),
            "expense": np.where(ops["expense"], ops["cents"], 0),
            "income": np.where(ops["expense"], 0, ops["cents"]),
        })
        out = table.groupby(["project_id", "period"], sort=True).sum().reset_index()
        cumulative = out.groupby("project_id")["expense"].cumsum()
        budget = self.projects.set_index("project_id")["budget"]
        return out.assign(expense=_money(out["expense"].to_numpy()),
                          income=_money(out["income"].to_numpy()),
                          cumulative_expense=_money(cumulative.to_numpy()),
                          budget=budget.reindex(out["project_id"]).to_numpy())

    def __repr__(self) -> str:
        s = self.summary()
        return (f"ProjectVariance(as_of={s['as_of']}, projects={s['projects']}, "
                f"projects_at_risk={s['projects_at_risk']}, milestones={s['milestones']}, "
                f"milestones_at_risk={s['milestones_at_risk']})")

    def _repr_html_(self) -> str:
        s = self.summary()
        cols = ["project_id", "name", "budget", "actual_expense", "estimate_at_completion",
                "projected_overrun", "milestones_at_risk", "risk_reason"]
        risky = self.at_risk()[["milestone_id", "project_id", "name", "planned",
                                "actual_expense", "days_overdue", "risk_reason"]]
        return (
            "<div class='nexus-projects'><h4>Project variance as of "
            f"{escape(s['as_of'])}: {s['projects_at_risk']} of {s['projects']} projects and "
            f"{s['milestones_at_risk']} of {s['milestones']} milestones at risk</h4>"
            f"{kv(s)}<h5>Projects</h5>{frame(self.projects[cols], limit=30)}"
            f"<h5>Milestones at risk</h5>"
            f"{frame(risky, limit=30, empty='no milestone at risk')}</div>"
        )


def _as_of_day(as_of: object, ops_days: np.ndarray) -> int:
    if as_of is None:
        return int(ops_days.max())
    if isinstance(as_of, _dt.date | np.datetime64 | pd.Timestamp):
        values = pd.Series([pd.Timestamp(as_of)])
    elif isinstance(as_of, str):
        values = pd.Series([as_of])
    else:
        raise SchemaError(f"as_of={as_of!r}: give a date ('2025-06-30', a datetime.date or a "
                          "Timestamp), or None for the latest operation's date")
    stamp = read_dates(values, table="as_of", column="as_of")[0]
    return int(stamp.astype("datetime64[D]").astype(np.int64)[0])


def _sum_by(codes: np.ndarray, cents: np.ndarray, size: int) -> np.ndarray:
    """Integer sums of ``cents`` per code (codes < 0 are left out), exact in int64."""
    out = np.zeros(size, np.int64)
    keep = codes >= 0
    np.add.at(out, codes[keep], cents[keep].astype(np.int64))
    return out


def _reasons(parts: list[tuple[np.ndarray, pd.Series]], n: int) -> np.ndarray:
    """``"; "``-joined reason texts of the rules that hold, row by row (vectorized)."""
    text = pd.Series([""] * n, dtype="string")
    for mask, words in parts:
        text = text + pd.Series(np.where(mask, words.to_numpy(str) + "; ", ""), dtype="string")
    return text.str.removesuffix("; ").to_numpy(object)


def _pct(values: np.ndarray) -> pd.Series:
    return pd.Series(np.round(values * 100, 1)).astype(str) + "%"


def _check_params(tolerance: float, window: int, min_elapsed: float) -> None:
    if not (isinstance(tolerance, int | float) and 0 <= tolerance < 10):
        raise SchemaError(f"tolerance={tolerance!r}: give a share of the planned amount, "
                          "e.g. 0.05 for 5%")
    if not (isinstance(window, int | np.integer) and window >= 1):
        raise SchemaError(f"window={window!r}: give a number of days (an integer >= 1)")
    if not (isinstance(min_elapsed, int | float) and 0 < min_elapsed <= 1):
        raise SchemaError(f"min_elapsed={min_elapsed!r}: give a share of a milestone's time "
                          "between 0 (excluded) and 1")


def variance(
    milestones: FrameLike,
    operations: FrameLike,
    *,
    projects: FrameLike | None = None,
    as_of: object = None,
    columns: Mapping[str, object] | None = None,
    tolerance: float = 0.05,
    window: int = 90,
    min_elapsed: float = 0.25,
) -> ProjectVariance:
    """Planned against actual money for each milestone and project, and what is at risk.

    Operations dated up to ``as_of`` count (later ones are left out and counted in
    ``params``). A milestone is open while it has no ``completed_date`` on or before
    ``as_of``. Its time runs from the due date of the project's previous milestone (by
    due date) to its own; the first runs from the project's ``start_date``, else from
    the project's first operation.

    A milestone is at risk when one of these holds (``risk_reason`` lists them):

    * **over budget**: its expense exceeds the planned amount by more than
      ``tolerance``;
    * **burn above plan**: open, with at least ``min_elapsed`` of its time gone and
      less than all, and its spending so far, carried on at the same pace, would cost
      more than the planned amount plus ``tolerance`` by the due date
      (``actual_expense / elapsed_share``, the ``projected_cost``);
    * **overdue**: open after its due date;
    * **spending with no progress**: its status says not started (one of
      :data:`NOT_STARTED`) while more than ``tolerance`` of the planned amount is spent.

    A project's estimate at completion follows earned value management with the 0/100
    rule (a milestone earns its planned amount when completed): the cost performance
    index is ``CPI = EV / AC`` over the completed milestones (1 before any is completed
    with a cost), and each open milestone is estimated to cost ``planned / CPI``, or
    what it has already cost if that is more. So ``EAC = actual to date +
    sum over open milestones of max(planned / CPI - actual, 0)``; with every milestone
    open and none spent this is the planned total, and with one CPI throughout it is
    EVM's ``AC + (BAC - EV) / CPI``. Operations of the project as a whole (no
    milestone) count in the actual; the estimate of what remains covers milestones
    only. A project is at risk when its projected overrun (``EAC - budget``) is more
    than ``tolerance`` of its budget, it is past its ``end_date`` with open milestones,
    or one of its milestones is at risk.

    Parameters
    ----------
    milestones : frame-like
        ``milestone_id, project_id, due_date, planned_amount[, name, completed_date,
        status]``; ``completed_date`` is blank while the milestone is open.
    operations : frame-like
        ``operation_id, project_id, date, amount, kind[, milestone_id, description]``;
        ``kind`` is ``income`` or ``expense`` and ``amount`` positive money;
        ``milestone_id`` is blank for an operation of the project as a whole.
    projects : frame-like, optional
        ``project_id, budget[, name, start_date, end_date, status]``. Without it a
        project's budget is its planned total.
    as_of : date, str or Timestamp, optional
        The day of the figures; by default the latest operation's date (never the clock,
        so that the same tables give the same result).
    columns : mapping, optional
        Your column names: ``{"planned_amount": "Planned"}`` (a key goes to every table
        with that column) or one mapping per table, ``{"operations": {"amount": "Amt"}}``.
    tolerance : float, default 0.05
        The share over plan that is not yet a risk.
    window : int, default 90
        Days over which the burn rate is measured (or since the project started, if later).
    min_elapsed : float, default 0.25
        The share of a milestone's time that must be gone before its pace is judged.

    Returns
    -------
    ProjectVariance
        ``.milestones``: ``milestone_id, project_id, name, status, due_date,
        completed_date, open, planned, actual_expense, actual_income, net`` (income -
        expense), ``variance`` (expense - planned), ``variance_pct`` (of planned),
        ``spent_share`` (expense / planned), ``elapsed_share``, ``projected_cost``,
        ``days_to_due`` (negative once past due), ``days_overdue`` (open milestones
        past due; how late a completed one was finished), the rules' booleans
        ``over_budget, burn_above_plan, overdue, spending_with_no_progress``,
        ``at_risk`` and ``risk_reason``. ``.projects``: ``project_id, name, status,
        start_date, end_date, budget, planned_total, actual_expense, actual_income,
        net, remaining`` (budget - expense), ``burn_rate_30d`` (expense per 30 days over
        the last ``window`` days), ``earned_value, cpi, estimate_at_completion,
        projected_overrun, projected_overrun_pct, milestones, milestones_open,
        milestones_at_risk, at_risk, risk_reason``.

    Raises
    ------
    SchemaError
        For a missing column, a repeated or missing id, money or dates that cannot be
        read, a negative amount, a kind other than income or expense, and for
        operations or milestones that point at a milestone or project that does not
        exist (orphans are refused, not guessed at: the message names their rows).

    Examples
    --------
    >>> import pandas as pd
    >>> import nexus_lab as nx
    >>> milestones = pd.DataFrame({
    ...     "milestone_id": ["M1", "M2"], "project_id": ["P1", "P1"],
    ...     "due_date": ["2025-01-31", "2025-03-31"], "planned_amount": [1000.0, 2000.0],
    ...     "completed_date": ["2025-01-30", None]})
    >>> operations = pd.DataFrame({
    ...     "operation_id": ["O1", "O2", "O3"], "project_id": ["P1", "P1", "P1"],
    ...     "milestone_id": ["M1", "M2", "M2"],
    ...     "date": ["2025-01-15", "2025-02-10", "2025-02-28"],
    ...     "amount": [1200.0, 900.0, 800.0], "kind": ["expense", "expense", "expense"]})
    >>> res = nx.projects.variance(milestones, operations)
    >>> res.milestones[["milestone_id", "planned", "actual_expense", "variance", "at_risk"]]
      milestone_id  planned  actual_expense  variance  at_risk
    0           M1   1000.0          1200.0     200.0     True
    1           M2   2000.0          1700.0    -300.0     True
    >>> res.milestones["risk_reason"].tolist()
    ['over budget by 20.0%', 'burn above plan: projected 3,582.14 vs planned 2,000.00']
    >>> res.projects[["planned_total", "earned_value", "cpi", "estimate_at_completion"]]
       planned_total  earned_value     cpi  estimate_at_completion
    0         3000.0        1000.0  0.8333                  3600.0
    """
    _check_params(tolerance, window, min_elapsed)
    t: Tables = prepare(milestones, operations, projects, columns)
    ms, ops = t.milestones, t.operations
    today = _as_of_day(as_of, ops["day"].to_numpy())
    later = ops["day"].to_numpy() > today
    ops = ops[~later].reset_index(drop=True)

    # projects: from the table, else from the milestones (budget = planned total)
    if t.projects is not None:
        pj = t.projects
    else:
        ids = pd.unique(ms["project_id"].to_numpy(object))
        none = pd.array([pd.NA] * len(ids), dtype="string")
        pj = pd.DataFrame({"project_id": ids, "name": none, "status": none, "budget": -1,
                           "start": np.nan, "end": np.nan})
    p_index = pd.Index(pj["project_id"].to_numpy(object))
    n_p, n_m = len(pj), len(ms)

    m_code = pd.Index(ms["milestone_id"].to_numpy(object)).get_indexer(
        ops["milestone_id"].to_numpy(object))
    p_of_op = p_index.get_indexer(ops["project_id"].to_numpy(object))
    p_of_m = p_index.get_indexer(ms["project_id"].to_numpy(object))
    cents = ops["cents"].to_numpy(np.int64)
    is_exp = ops["expense"].to_numpy(bool)
    exp = np.where(is_exp, cents, 0)
    inc = np.where(is_exp, 0, cents)

    # ---- milestones
    planned = ms["planned"].to_numpy(np.int64)
    m_exp, m_inc = _sum_by(m_code, exp, n_m), _sum_by(m_code, inc, n_m)
    due = ms["due"].to_numpy(float)
    completed = ms["completed"].to_numpy(float)
    is_open = ~(completed <= today)  # NaN (blank) compares False: open

    first_op = pd.Series(ops["day"].to_numpy(float)).groupby(p_of_op).min().reindex(
        range(n_p)).to_numpy(float)
    p_start = np.where(np.isnan(pj["start"].to_numpy(float)), first_op,
                       pj["start"].to_numpy(float))
    order = np.lexsort((due, p_of_m))
    prev_due = pd.Series(due[order]).groupby(p_of_m[order]).shift(1).to_numpy(float)
    start = np.empty(n_m)
    start[order] = prev_due
    start = np.where(np.isnan(start), p_start[p_of_m], start)
    start = np.fmin(np.where(np.isnan(start), due, start), due)
    length = due - start
    elapsed = np.where(length > 0, np.clip((today - start) / np.where(length > 0, length, 1),
                                           0, 1), (today >= due).astype(float))

    variance_c = m_exp - planned
    with np.errstate(divide="ignore", invalid="ignore"):
        spent_share = np.where(planned > 0, m_exp / np.where(planned > 0, planned, 1), np.nan)
        projected = np.where(is_open & (elapsed > 0), m_exp / np.where(elapsed > 0, elapsed, 1),
                             m_exp.astype(float))
    limit = planned * (1 + tolerance)
    over = m_exp > limit
    burn = is_open & ~over & (elapsed >= min_elapsed) & (elapsed < 1) & (projected > limit)
    overdue = is_open & (today > due)
    status = ms["status"].str.lower().str.replace(r"[\s-]+", "_", regex=True)
    not_started = status.isin(NOT_STARTED).fillna(False).to_numpy(bool)
    no_progress = is_open & not_started & (m_exp > planned * tolerance)
    at_risk = over | burn | overdue | no_progress

    days_to_due = (due - today).astype(np.int64)
    days_overdue = np.where(is_open, np.maximum(today - due, 0),
                            np.maximum(np.nan_to_num(completed - due), 0)).astype(np.int64)
    fmt = pd.Series(_money(np.rint(projected).astype(np.int64))).map("{:,.2f}".format)
    plan_txt = pd.Series(_money(planned)).map("{:,.2f}".format)
    reason = _reasons([
        (over, "over budget by " + _pct(np.where(planned > 0, variance_c / np.maximum(planned, 1),
                                                  np.inf))),
        (burn, "burn above plan: projected " + fmt + " vs planned " + plan_txt),
        (overdue, "overdue by " + pd.Series(days_overdue).astype(str) + " days, still open"),
        (no_progress, "spending with no progress: " + _pct(np.nan_to_num(spent_share, nan=1.0))
         + " of plan spent, status '" + ms["status"].fillna("").astype(str) + "'"),
    ], n_m)
    m_out = pd.DataFrame({
        "milestone_id": ms["milestone_id"], "project_id": ms["project_id"],
        "name": ms["name"], "status": ms["status"],
        "due_date": _dates(due), "completed_date": _dates(completed), "open": is_open,
        "planned": _money(planned), "actual_expense": _money(m_exp),
        "actual_income": _money(m_inc), "net": _money(m_inc - m_exp),
        "variance": _money(variance_c),
        "variance_pct": np.where(planned > 0, np.round(
            variance_c / np.maximum(planned, 1) * 100, 2), np.nan),
        "spent_share": np.round(spent_share, 4), "elapsed_share": np.round(elapsed, 4),
        "projected_cost": np.round(projected) / 100.0,
        "days_to_due": days_to_due, "days_overdue": days_overdue,
        "over_budget": over, "burn_above_plan": burn, "overdue": overdue,
        "spending_with_no_progress": no_progress, "at_risk": at_risk, "risk_reason": reason,
    })

    # ---- projects
    p_exp, p_inc = _sum_by(p_of_op, exp, n_p), _sum_by(p_of_op, inc, n_p)
    planned_total = _sum_by(p_of_m, planned, n_p)
    budget = pj["budget"].to_numpy(np.int64)
    budget = np.where(budget < 0, planned_total, budget)
    done = ~is_open
    ev = _sum_by(p_of_m, np.where(done, planned, 0), n_p)
    ac_done = _sum_by(p_of_m, np.where(done, m_exp, 0), n_p)
    cpi = np.where((ac_done > 0) & (ev > 0), ev / np.where(ac_done > 0, ac_done, 1), 1.0)
    to_go = np.where(is_open, np.maximum(planned / cpi[p_of_m] - m_exp, 0), 0.0)
    eac = p_exp + pd.Series(to_go).groupby(p_of_m).sum().reindex(range(n_p), fill_value=0.0
                                                                   ).to_numpy(float)
    overrun = eac - budget
    since = np.clip(today - np.nan_to_num(p_start, nan=today) + 1, 1, window)
    recent = ops["day"].to_numpy() > today - since[p_of_op]
    burn_rate = _sum_by(np.where(recent, p_of_op, -1), exp, n_p) * 30.0 / since
    m_risk = _sum_by(p_of_m, at_risk.astype(np.int64), n_p)
    m_open = _sum_by(p_of_m, is_open.astype(np.int64), n_p)
    end = pj["end"].to_numpy(float)
    late = (m_open > 0) & (today > end)
    projected_over = overrun > budget * tolerance
    eac_txt = pd.Series(np.round(eac) / 100.0).map("{:,.2f}".format)
    p_reason = _reasons([
        (projected_over, "projected overrun " + _pct(overrun / np.maximum(budget, 1))
         + " (EAC " + eac_txt + ")"),
        (late, "past its end date with " + pd.Series(m_open).astype(str) + " open milestones"),
        (m_risk > 0, pd.Series(m_risk).astype(str) + " milestones at risk"),
    ], n_p)
    p_out = pd.DataFrame({
        "project_id": pj["project_id"].to_numpy(object), "name": pj["name"].to_numpy(object),
        "status": pj["status"].to_numpy(object),
        "start_date": _dates(p_start if t.projects is None else pj["start"].to_numpy(float)),
        "end_date": _dates(end),
        "budget": _money(budget), "planned_total": _money(planned_total),
        "actual_expense": _money(p_exp), "actual_income": _money(p_inc),
        "net": _money(p_inc - p_exp), "remaining": _money(budget - p_exp),
        "burn_rate_30d": np.round(burn_rate) / 100.0,
        "earned_value": _money(ev), "cpi": np.round(cpi, 4),
        "estimate_at_completion": np.round(eac) / 100.0,
        "projected_overrun": np.round(overrun) / 100.0,
        "projected_overrun_pct": np.where(budget > 0, np.round(
            overrun / np.maximum(budget, 1) * 100, 2), np.nan),
        "milestones": _sum_by(p_of_m, np.ones(n_m, np.int64), n_p),
        "milestones_open": m_open, "milestones_at_risk": m_risk,
        "at_risk": projected_over | late | (m_risk > 0), "risk_reason": p_reason,
    })
    p_out["name"] = p_out["name"].astype("string")
    p_out["status"] = p_out["status"].astype("string")
    params = {"tolerance": tolerance, "window": window, "min_elapsed": min_elapsed,
              "operations": len(ops), "operations_after_as_of": int(later.sum())}
    return ProjectVariance(m_out, p_out, pd.Timestamp(_EPOCH + today), params, ops)
