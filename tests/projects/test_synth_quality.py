"""variance's risk rules against the truth planted by nx.datasets.synth_projects.

Seeds 0, 1 and 2 were looked at while writing the rules and the generator; the
thresholds below were set from them and are checked on seeds 10 to 14 only.
"""

from __future__ import annotations

import pandas as pd
import pytest

import nexus_lab as nx

HELD_OUT = (10, 11, 12, 13, 14)


def _scores(seed: int) -> dict:
    projects, milestones, operations = nx.datasets.synth_projects(40, seed=seed)
    m = nx.projects.variance(milestones, operations, projects=projects).milestones
    truth = milestones["truth"].to_numpy()
    planted, found = truth != "", m["at_risk"].to_numpy()
    over = (m["over_budget"] | m["burn_above_plan"]).to_numpy()
    return {"planted": int(planted.sum()), "found": int(found.sum()),
            "hits": int((planted & found).sum()),
            "overrun": float(over[truth == "overrun"].mean()),
            "slip": bool(m["overdue"].to_numpy()[truth == "slip"].all()),
            "stall": bool(m["spending_with_no_progress"].to_numpy()[truth == "stall"].all())}


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return pd.DataFrame([_scores(seed) for seed in HELD_OUT], index=list(HELD_OUT))


def test_at_risk_finds_the_planted_milestones(scores):
    # on plan means 80% to 106% of plan, so a few on-plan milestones are more than the 5%
    # tolerance over: precision is judged over all held-out seeds (one seed alone has
    # 30-40 planted milestones), recall on each
    assert (scores["planted"] >= 20).all()
    recall = scores["hits"] / scores["planted"]
    assert (recall >= 0.9).all(), recall
    precision = scores["hits"].sum() / scores["found"].sum()
    assert precision >= 0.7, precision
    assert (scores["hits"] / scores["found"] >= 0.6).all(), scores
    # each kind is found by its own rule
    assert (scores["overrun"] >= 0.9).all() and scores["slip"].all() and scores["stall"].all()


def test_generator_is_deterministic_and_consistent():
    a = nx.datasets.synth_projects(12, seed=3)
    b = nx.datasets.synth_projects(12, seed=3)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert not a[2].equals(nx.datasets.synth_projects(12, seed=4)[2])
    projects, milestones, operations = a
    assert projects["project_id"].is_unique and milestones["milestone_id"].is_unique
    assert operations["operation_id"].is_unique
    linked = operations["milestone_id"].dropna()
    assert linked.isin(milestones["milestone_id"]).all()
    assert operations["date"].max() == pd.Timestamp("2025-06-30")
    assert (operations["amount"] >= 0).all()
    cents = operations["amount"].to_numpy() * 100
    assert abs(cents - cents.round()).max() < 1e-6
    assert set(operations["kind"]) == {"income", "expense"}
    # the same tables give the same figures
    r1 = nx.projects.variance(milestones, operations, projects=projects)
    r2 = nx.projects.variance(milestones, operations, projects=projects)
    pd.testing.assert_frame_equal(r1.projects, r2.projects)
