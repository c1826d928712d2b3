"""nx.projects.variance: exact figures on a hand-built example, each risk rule on its own
case, bad input, and determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError

# Two projects, four milestones, nine operations; the books end on 2025-04-30 (the latest
# operation), which is the default as_of.
PROJECTS = pd.DataFrame({
    "project_id": ["P1", "P2"], "name": ["Warehouse", "Ledger migration"],
    "budget": ["10,000.00", "6,000.00"],
    "start_date": ["2025-01-01", "2025-01-01"], "end_date": ["2025-06-30", "2025-03-31"],
    "status": ["active", "active"],
})
MILESTONES = pd.DataFrame({
    "milestone_id": ["M1", "M2", "M3", "M4"], "project_id": ["P1", "P1", "P2", "P2"],
    "name": ["Design", "Build", "Extract", "Load"],
    "due_date": ["2025-02-28", "2025-06-30", "2025-02-15", "2025-03-31"],
    "planned_amount": [4000.00, 5000.00, 2000.00, 3000.00],
    "completed_date": ["2025-02-25", None, None, ""],
    "status": ["completed", "in_progress", "in_progress", "Not started"],
})
OPERATIONS = pd.DataFrame({
    "operation_id": [f"O{i}" for i in range(1, 10)],
    "project_id": ["P1", "P1", "P1", "P1", "P1", "P1", "P2", "P2", "P1"],
    "milestone_id": ["M1", "M1", "M1", "M2", "M2", None, "M3", "M4", "M2"],
    "date": ["2025-01-20", "2025-02-15", "2025-02-25", "2025-03-15", "2025-04-30",
             "2025-04-01", "2025-02-01", "2025-04-10", "2025-04-30"],
    "amount": [2500.00, 2000.00, 5000.00, 1000.00, 1200.00, 300.00, 1500.00, 600.00, 0.00],
    "kind": ["expense", "expense", "income", "expense", "expense", "expense", "expense",
             "expense", "Expense "],
    "description": ["drawings", "review", "client billing", "steel", "labour", "rent",
                    "export", "licences", "nothing"],
})


@pytest.fixture(scope="module")
def res():
    return nx.projects.variance(MILESTONES, OPERATIONS, projects=PROJECTS)


def test_milestone_figures_are_exact(res):
    m = res.milestones.set_index("milestone_id")
    assert res.as_of == pd.Timestamp("2025-04-30")
    # M1: 2,500 + 2,000 spent against 4,000 planned, 5,000 billed
    assert m.loc["M1", ["planned", "actual_expense", "actual_income", "net", "variance"]
                 ].tolist() == [4000.0, 4500.0, 5000.0, 500.0, 500.0]
    assert m.loc["M1", "variance_pct"] == 12.5 and m.loc["M1", "spent_share"] == 1.125
    assert not m.loc["M1", "open"] and m.loc["M1", "days_overdue"] == 0
    # M2 runs from M1's due date (Feb 28) to Jun 30: 61 of its 122 days gone by Apr 30;
    # 2,200 spent, so 4,400 at this pace: within plan
    assert m.loc["M2", "elapsed_share"] == 0.5
    assert m.loc["M2", ["actual_expense", "variance", "projected_cost", "days_to_due"]
                 ].tolist() == [2200.0, -2800.0, 4400.0, 61]
    # M3: due Feb 15, open on Apr 30: 74 days overdue
    assert m.loc["M3", ["actual_expense", "days_to_due", "days_overdue"]].tolist() == [
        1500.0, -74, 74]
    assert m.loc["M4", ["actual_expense", "spent_share", "days_overdue"]].tolist() == [
        600.0, 0.2, 30]
    assert m["at_risk"].tolist() == [True, False, True, True]
    assert m.loc["M1", "risk_reason"] == "over budget by 12.5%"
    assert m.loc["M2", "risk_reason"] == ""
    assert m.loc["M3", "risk_reason"] == "overdue by 74 days, still open"
    assert m.loc["M4", "risk_reason"] == ("overdue by 30 days, still open; spending with no "
                                          "progress: 20.0% of plan spent, status 'Not started'")


def test_project_figures_are_exact(res):
    p = res.projects.set_index("project_id")
    # P1: 7,000 spent (300 of it rent, on no milestone), 5,000 billed
    assert p.loc["P1", ["budget", "planned_total", "actual_expense", "actual_income", "net",
                        "remaining"]].tolist() == [10000.0, 9000.0, 7000.0, 5000.0, -2000.0,
                                                   3000.0]
    # spent in the 90 days up to Apr 30 (after Jan 30): 2,000 + 1,000 + 1,200 + 300
    assert p.loc["P1", "burn_rate_30d"] == 1500.0
    # EV 4,000 (M1 done) for 4,500 spent: CPI 8/9; M2 is estimated at 5,000 / CPI = 5,625,
    # of which 2,200 is spent: EAC = 7,000 + 3,425
    assert p.loc["P1", ["earned_value", "cpi", "estimate_at_completion", "projected_overrun",
                        "projected_overrun_pct"]].tolist() == [4000.0, 0.8889, 10425.0, 425.0,
                                                               4.25]
    assert p.loc["P1", "risk_reason"] == "1 milestones at risk"  # 4.25% is within 5%
    # P2: nothing completed, CPI 1: EAC = 2,100 spent + 500 + 2,400 still to spend
    assert p.loc["P2", ["actual_expense", "cpi", "estimate_at_completion",
                        "projected_overrun"]].tolist() == [2100.0, 1.0, 5000.0, -1000.0]
    assert p.loc["P2", "burn_rate_30d"] == 700.0  # 2,100 over the last 90 days
    assert p.loc["P2", "risk_reason"] == ("past its end date with 2 open milestones; "
                                          "2 milestones at risk")
    assert p["at_risk"].tolist() == [True, True]
    assert p[["milestones", "milestones_open", "milestones_at_risk"]].to_numpy().tolist() == [
        [2, 1, 1], [2, 2, 2]]


def test_summary_frame_burn_and_html(res):
    s = res.summary()
    assert (s["as_of"], s["projects_at_risk"], s["milestones_at_risk"]) == ("2025-04-30", 2, 3)
    assert (s["budget"], s["actual_expense"], s["actual_income"]) == (16000.0, 9100.0, 5000.0)
    assert s["milestones_overdue"] == 2 and s["milestones_spending_with_no_progress"] == 1
    assert res.to_frame() is res.milestones
    assert res.at_risk()["milestone_id"].tolist() == ["M3", "M4", "M1"]
    burn = res.burn()
    p1 = burn[burn["project_id"] == "P1"]
    assert p1["cumulative_expense"].tolist() == [2500.0, 4500.0, 5500.0, 7000.0]
    assert p1["income"].tolist() == [0.0, 5000.0, 0.0, 0.0]
    html = res._repr_html_()
    assert "2 of 2 projects and 3 of 4 milestones at risk" in html
    assert "overdue by 74 days" in html


def test_as_of_leaves_later_operations_out():
    res = nx.projects.variance(MILESTONES, OPERATIONS, projects=PROJECTS, as_of="2025-02-20")
    m = res.milestones.set_index("milestone_id")
    assert m.loc["M1", "actual_expense"] == 4500.0 and m.loc["M1", "open"]  # done on the 25th
    assert m.loc["M1", "actual_income"] == 0.0
    assert m.loc["M3", "days_overdue"] == 5
    assert res.params["operations_after_as_of"] == 6
    # the same day given as a date
    again = nx.projects.variance(MILESTONES, OPERATIONS, projects=PROJECTS,
                                 as_of=pd.Timestamp("2025-02-20").date())
    pd.testing.assert_frame_equal(again.milestones, res.milestones)


def test_without_a_projects_table_the_budget_is_the_planned_total():
    res = nx.projects.variance(MILESTONES, OPERATIONS)
    p = res.projects.set_index("project_id")
    assert p["budget"].tolist() == [9000.0, 5000.0]
    # P1 starts with its first operation (Jan 20): M1 is then 39 days long
    assert p.loc["P1", "start_date"] == pd.Timestamp("2025-01-20")


def test_columns_map_other_names():
    ms = MILESTONES.rename(columns={"planned_amount": "Planned", "due_date": "Due"})
    ops = OPERATIONS.rename(columns={"amount": "Value", "kind": "Direction"})
    res = nx.projects.variance(ms, ops, projects=PROJECTS, columns={
        "planned_amount": "Planned", "due_date": "Due",
        "amount": "Value", "kind": "Direction"})
    base = nx.projects.variance(MILESTONES, OPERATIONS, projects=PROJECTS)
    pd.testing.assert_frame_equal(res.milestones, base.milestones)
    per_table = nx.projects.variance(ms, ops, projects=PROJECTS, columns={
        "milestones": {"planned_amount": "Planned", "due_date": "Due"},
        "operations": {"amount": "Value", "kind": "Direction"}})
    pd.testing.assert_frame_equal(per_table.projects, base.projects)


# ---------------------------------------------------------------- each rule on its own case

def one(expense: float, *, due="2025-03-01", completed=None, status="in_progress",
        as_of="2025-02-01", planned=1000.0):
    """One milestone (Jan 1 to its due date) with one expense on Jan 2."""
    ms = pd.DataFrame({"milestone_id": ["M"], "project_id": ["P"], "due_date": [due],
                       "planned_amount": [planned], "completed_date": [completed],
                       "status": [status]})
    ops = pd.DataFrame({"operation_id": ["O"], "project_id": ["P"], "milestone_id": ["M"],
                        "date": ["2025-01-02"], "amount": [expense], "kind": ["expense"]})
    projects = pd.DataFrame({"project_id": ["P"], "budget": [planned],
                             "start_date": ["2025-01-01"]})
    return nx.projects.variance(ms, ops, projects=projects, as_of=as_of).milestones.iloc[0]


def test_over_budget_beyond_the_tolerance():
    done = {"completed": "2025-01-20", "status": "completed"}
    assert one(1060.0, **done)["over_budget"]
    assert not one(1050.0, **done)["at_risk"]  # 5% over is within the tolerance
    assert one(1050.0, **done)["variance_pct"] == 5.0


def test_burn_above_plan_judges_the_pace_once_enough_time_is_gone():
    # Jan 1 to Mar 1 is 59 days; by Jan 31 30 of them are gone (0.508)
    row = one(600.0, as_of="2025-01-31")
    assert row["burn_above_plan"] and not row["over_budget"]
    assert row["risk_reason"].startswith("burn above plan: projected 1,180.00")
    assert not one(500.0, as_of="2025-01-31")["at_risk"]  # 983.33 at this pace
    assert not one(600.0, as_of="2025-01-10")["at_risk"]  # 9 of 59 days: too early to judge


def test_overdue_only_while_open():
    row = one(100.0, due="2025-01-20", as_of="2025-02-01")
    assert row["overdue"] and row["days_overdue"] == 12
    late = one(100.0, due="2025-01-20", completed="2025-01-25", status="completed")
    assert not late["at_risk"] and late["days_overdue"] == 5  # finished 5 days late


def test_spending_with_no_progress_reads_the_status():
    assert one(100.0, status="planned")["spending_with_no_progress"]
    assert one(100.0, status="NOT-STARTED")["spending_with_no_progress"]
    assert not one(100.0, status="in progress")["at_risk"]
    assert not one(40.0, status="planned")["at_risk"]  # 4%: within the tolerance


# ---------------------------------------------------------------- bad input

def test_missing_column_is_named_with_the_fix():
    with pytest.raises(SchemaError, match=r"milestones has no column 'planned_amount'.*"
                       r"columns=\{'planned_amount'") as err:
        nx.projects.variance(MILESTONES.rename(columns={"planned_amount": "budgeted"}),
                             OPERATIONS)
    assert err.value.table == "milestones" and err.value.column == "planned_amount"


def test_unknown_milestone_is_refused_with_its_rows():
    ops = OPERATIONS.copy()
    ops.loc[[3, 4], "milestone_id"] = "M9"
    with pytest.raises(SchemaError, match=r"operations\.milestone_id: milestone_ids not in "
                       r"the milestones table \(\['M9'\]\) at rows 3 \(id 'O4'\), 4 \(id 'O5'\)"
                       r".*leave milestone_id blank") as err:
        nx.projects.variance(MILESTONES, ops)
    assert err.value.rows == [3, 4]


def test_unknown_project_and_wrong_project_are_refused():
    ops = OPERATIONS.copy()
    ops.loc[5, "project_id"] = "P7"
    with pytest.raises(SchemaError, match=r"operations\.project_id: project_ids not in the "
                       r"projects table \(\['P7'\]\) at row 5 \(id 'O6'\)"):
        nx.projects.variance(MILESTONES, ops, projects=PROJECTS)
    ops.loc[5, "project_id"] = "P1"
    ops.loc[0, "project_id"] = "P2"  # M1 is P1's
    with pytest.raises(SchemaError, match=r"a project_id other than their milestone's "
                       r"project at row 0 \(id 'O1'\)"):
        nx.projects.variance(MILESTONES, ops, projects=PROJECTS)


def test_negative_and_text_amounts_are_refused():
    ops = OPERATIONS.copy()
    ops.loc[2, "amount"] = -5000.0
    with pytest.raises(SchemaError, match=r"operations\.amount: negative amounts at row 2 "
                       r"\(id 'O3'\).*kind \('income' or 'expense'\)"):
        nx.projects.variance(MILESTONES, ops)
    ops = OPERATIONS.astype({"amount": object})
    ops.loc[6, "amount"] = "fifteen hundred"
    with pytest.raises(SchemaError, match=r"operations\.amount.*row 6 \(id 'O7'\)") as err:
        nx.projects.variance(MILESTONES, ops)
    assert err.value.column == "amount"
    ms = MILESTONES.copy()
    ms.loc[1, "planned_amount"] = -1.0
    with pytest.raises(SchemaError, match=r"milestones\.planned_amount: negative amounts at "
                       r"row 1 \(id 'M2'\)"):
        nx.projects.variance(ms, OPERATIONS)


def test_bad_kind_repeated_id_and_bad_date_are_refused():
    ops = OPERATIONS.copy()
    ops.loc[4, "kind"] = "refund"
    with pytest.raises(SchemaError, match=r"operations\.kind: kinds other than 'income' or "
                       r"'expense' \(\['refund'\]\) at row 4 \(id 'O5'\)"):
        nx.projects.variance(MILESTONES, ops)
    ms = MILESTONES.copy()
    ms.loc[3, "milestone_id"] = "M1"
    with pytest.raises(SchemaError, match=r"milestones\.milestone_id: repeated ids at rows "
                       r"0 \(id 'M1'\), 3 \(id 'M1'\)"):
        nx.projects.variance(ms, OPERATIONS)
    ms = MILESTONES.copy()
    ms.loc[2, "due_date"] = "soon"
    with pytest.raises(SchemaError, match=r"milestones\.due_date.*row 2"):
        nx.projects.variance(ms, OPERATIONS)
    with pytest.raises(SchemaError, match=r"as_of=3"):
        nx.projects.variance(MILESTONES, OPERATIONS, as_of=3)
    with pytest.raises(SchemaError, match=r"columns= names \['budgt'\]"):
        nx.projects.variance(MILESTONES, OPERATIONS, columns={"budgt": "B"})


# ---------------------------------------------------------------- determinism

def test_same_tables_give_the_same_result_whatever_the_row_order():
    a = nx.projects.variance(MILESTONES, OPERATIONS, projects=PROJECTS)
    b = nx.projects.variance(MILESTONES, OPERATIONS.sample(frac=1.0, random_state=1),
                             projects=PROJECTS)
    pd.testing.assert_frame_equal(a.milestones, b.milestones)
    pd.testing.assert_frame_equal(a.projects, b.projects)
    assert a.summary() == b.summary()


def test_ids_from_a_csv_with_blanks_link_as_text(tmp_path):
    ms = MILESTONES.assign(milestone_id=[1, 2, 3, 4], project_id=[10, 10, 20, 20])
    ops = OPERATIONS.assign(project_id=[10, 10, 10, 10, 10, 10, 20, 20, 10],
                            milestone_id=[1, 1, 1, 2, 2, np.nan, 3, 4, 2])
    for name, df in (("ms", ms), ("ops", ops)):
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    res = nx.projects.variance(nx.read_table(tmp_path / "ms.csv", name="milestones"),
                               nx.read_table(tmp_path / "ops.csv", name="operations"))
    assert res.milestones["milestone_id"].tolist() == ["1", "2", "3", "4"]
    assert res.milestones["actual_expense"].tolist() == [4500.0, 2200.0, 1500.0, 600.0]
