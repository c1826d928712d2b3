"""Synthetic projects, milestones and trading operations with planted overruns and slips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError

#: The last day of the generated books (every table is as of this day).
AS_OF = np.datetime64("2025-06-30", "D")
#: What ``truth`` says of a milestone: generated to ``overrun`` its plan, to ``slip``
#: (past due and still open), to ``stall`` (spending while its status says ``planned``),
#: or ``""`` (on plan, within ordinary noise).
TRUTHS = ("overrun", "slip", "stall")


def _split(total: np.ndarray, group: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split each group's ``total`` cents into its rows in proportion to ``weight``,
    exactly (rows of a group are consecutive)."""
    share = weight / np.bincount(group, weights=weight)[group]
    cum = pd.Series(share).groupby(group).cumsum().to_numpy()
    edges = np.floor(total[group] * np.minimum(cum, 1.0) + 1e-9).astype(np.int64)
    last = np.r_[group[1:] != group[:-1], True]
    edges[last] = total[group][last]
    first = np.r_[True, group[1:] != group[:-1]]
    return np.where(first, edges, edges - np.r_[0, edges[:-1]])


def synth_projects(n_projects: int = 20, seed: int = 0
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Projects with milestones and the income and expense booked on them, truth planted.

    Each project has 3 to 6 milestones one after another (30 to 90 days each), a
    budget of its planned total plus up to 10% contingency, and starts within a year
    of 2024-01-06; the books end on :data:`AS_OF` (2025-06-30), so some projects are
    finished, some under way and some not started. Expenses are booked on a
    milestone in 3 to 8 operations at random dates over its time (some milestones
    make a large purchase up front); completed milestones bill their client (an
    income operation); each project pays a monthly overhead not tied to a milestone,
    the last on :data:`AS_OF`.

    On-plan milestones cost 80% to 106% of plan. About one in eight milestones that
    has started far enough is generated to ``overrun`` (115% to 160% of plan), one in
    ten of those past due to ``slip`` (left open), and one in twenty under way to
    ``stall`` (its status left at ``planned`` while money is spent); the milestones'
    ``truth`` column says which. Money is in currency units, to the cent.

    Parameters
    ----------
    n_projects : int, default 20
    seed : int, default 0

    Returns
    -------
    projects : pandas.DataFrame
        ``project_id, name, budget, start_date, end_date, status``.
    milestones : pandas.DataFrame
        ``milestone_id, project_id, name, due_date, planned_amount, completed_date,
        status, truth``; ``completed_date`` is NaT while open.
    operations : pandas.DataFrame
        ``operation_id, project_id, milestone_id, date, amount, kind, description``;
        ``milestone_id`` is None for overheads.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> projects, milestones, operations = nx.datasets.synth_projects(4, seed=0)
    >>> list(projects.columns)
    ['project_id', 'name', 'budget', 'start_date', 'end_date', 'status']
    >>> sorted(milestones["truth"].unique().tolist())  # doctest: +ELLIPSIS
    ['', ...]
    >>> str(operations["date"].max().date())
    '2025-06-30'
    """
    if not isinstance(n_projects, int | np.integer) or n_projects < 1:
        raise SchemaError(f"n_projects must be a positive integer, got {n_projects!r}")
    rng = np.random.default_rng(seed)
    today = AS_OF.astype(np.int64)
    base = today - 540

    # ---- projects and their milestones, one after another
    n_ms = rng.integers(3, 7, n_projects)
    p_start = base + rng.integers(0, 366, n_projects)
    pm = np.repeat(np.arange(n_projects), n_ms)
    m = len(pm)
    dur = rng.integers(30, 91, m)
    due = p_start[pm] + pd.Series(dur).groupby(pm).cumsum().to_numpy()
    m_start = due - dur
    planned = rng.integers(20, 301, m).astype(np.int64) * 500 * 100  # cents
    elapsed = np.clip((today - m_start) / dur, 0.0, 1.0)
    past = due <= today
    under_way = ~past & (m_start < today)

    # ---- planted truth
    u = rng.random(m)
    overrun = (past | (under_way & (elapsed >= 0.4))) & (u < 0.125)
    slip = past & (due <= today - 7) & ~overrun & (u >= 0.125) & (u < 0.225)
    stall = under_way & (elapsed >= 0.3) & ~overrun & (u >= 0.225) & (u < 0.275)
    truth = np.select([overrun, slip, stall], list(TRUTHS), "")

    factor = np.where(overrun, rng.uniform(1.15, 1.6, m), rng.uniform(0.8, 1.06, m))
    total = np.rint(planned * factor).astype(np.int64)  # cost at completion, cents
    total = np.where(stall, np.rint(planned * rng.uniform(0.5, 0.9, m)).astype(np.int64), total)
    late = past & ~slip & (rng.random(m) < 0.15)
    completed = np.where(past & ~slip, np.minimum(
        due + np.where(late, rng.integers(1, 20, m), -rng.integers(0, 10, m)), today), -1)
    status = np.select([stall, completed >= 0, under_way | slip],
                       ["planned", "completed", "in_progress"], "planned")

    # ---- expense operations over each started milestone's time (kept up to today)
    started = m_start < today
    n_ops = np.where(started, rng.integers(3, 9, m), 0)
    om = np.repeat(np.arange(m), n_ops)
    first = np.r_[True, om[1:] != om[:-1]] if len(om) else np.zeros(0, bool)
    front = (rng.random(m) < 0.2)[om] & first  # a large purchase in the first days
    weight = rng.gamma(1.5, size=len(om)) * np.where(front, 4.0, 1.0)
    amounts = _split(total, om, weight)
    day = m_start[om] + np.where(front, rng.integers(0, 4, len(om)),
                                 np.floor(rng.random(len(om)) * dur[om]).astype(np.int64))
    keep = day <= today
    exp = pd.DataFrame({"m": om[keep], "day": day[keep], "cents": amounts[keep],
                        "kind": "expense"})

    # ---- income when a milestone is completed, overheads monthly up to today
    billed = np.flatnonzero(completed >= 0)
    inc = pd.DataFrame({"m": billed, "day": completed[billed],
                        "cents": np.rint(planned[billed] * rng.uniform(1.1, 1.3, len(billed))
                                         ).astype(np.int64), "kind": "income"})
    months = np.where(p_start <= today, (today - p_start) // 30 + 1, 0)
    op_p = np.repeat(np.arange(n_projects), months)
    k = np.arange(len(op_p)) - np.repeat(np.cumsum(months) - months, months)
    overhead = pd.DataFrame({"m": -1, "p": op_p, "day": today - 30 * k,
                             "cents": rng.integers(200, 1500, len(op_p)).astype(np.int64) * 100,
                             "kind": "expense"})
    ops = pd.concat([exp, inc], ignore_index=True)
    ops["p"] = pm[ops["m"].to_numpy()]
    ops = pd.concat([ops, overhead], ignore_index=True).sort_values(
        ["day", "p", "m", "kind"], kind="stable").reset_index(drop=True)

    pid = pd.Series(np.arange(n_projects) + 1).map("P{:03d}".format).to_numpy(object)
    mid = pd.Series(np.arange(m) + 1).map("M{:04d}".format).to_numpy(object)
    m_of = ops["m"].to_numpy()
    linked = m_of >= 0
    step = pd.Series(pm).groupby(pm).cumcount().to_numpy() + 1
    dates = lambda d: (np.asarray(d, np.int64).astype("datetime64[D]")  # noqa: E731
                       ).astype("datetime64[ns]")
    planned_total = np.bincount(pm, weights=planned / 100.0)
    budget = np.ceil(planned_total * rng.uniform(1.0, 1.1, n_projects) / 100) * 100
    end = due[np.cumsum(n_ms) - 1]
    projects = pd.DataFrame({
        "project_id": pid, "name": pd.Series(pid).map("Project {}".format).to_numpy(object),
        "budget": budget, "start_date": dates(p_start), "end_date": dates(end),
        "status": np.select([end <= today, p_start <= today], ["completed", "active"],
                            "planned"),
    })
    milestones = pd.DataFrame({
        "milestone_id": mid, "project_id": pid[pm],
        "name": pd.Series(step).map("Phase {}".format).to_numpy(object),
        "due_date": dates(due), "planned_amount": planned / 100.0,
        "completed_date": pd.Series(dates(np.maximum(completed, 0))).where(
            completed >= 0).to_numpy(),
        "status": status, "truth": truth,
    })
    operations = pd.DataFrame({
        "operation_id": pd.Series(np.arange(len(ops)) + 1).map("OP{:06d}".format
                                                                ).to_numpy(object),
        "project_id": pid[ops["p"].to_numpy()],
        "milestone_id": np.where(linked, mid[np.maximum(m_of, 0)], None),
        "date": dates(ops["day"].to_numpy()),
        "amount": ops["cents"].to_numpy(np.int64) / 100.0,
        "kind": ops["kind"].to_numpy(object),
        "description": np.select(
            [~linked, ops["kind"].to_numpy() == "income"],
            ["monthly overhead", "milestone billing"], "milestone expense"),
    })
    return projects, milestones, operations
