"""The executive overview totals the store in SQL, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth, review, workflows
from nexus_lab.errors import NexusError, PermissionDenied

# transaction: (flags, risk score, amount) of the scoring the overview must use
SCORES = {"T1": (["velocity"], 80.0, -120.50), "T2": (["velocity", "new vendor"], 90.0, 40.0),
          "T3": ([], 75.0, 10.0), "T4": (["duplicate"], 60.0, 5.0), "T5": ([], 10.0, 99.0)}


def _score(s, rows: dict, dates: str = "2025-01-15") -> str:
    scored = pd.DataFrame({"transaction_id": list(rows),
                           "flags": [r[0] for r in rows.values()],
                           "risk_score": [r[1] for r in rows.values()],
                           "reasons": [""] * len(rows)})
    tx = pd.DataFrame({"transaction_id": list(rows), "account": "A1",
                       "date": pd.Timestamp(dates), "amount": [r[2] for r in rows.values()]})
    return workflows.save_fraud_scores(scored, tx, store=s, model="test")


@pytest.fixture
def books(store_url):
    s = nx.store.connect(store_url)
    s.migrate()
    auth.add_user("lead", role="admin", store=s)
    with auth.acting_as("lead"):
        for user, role in (("ana", "examiner"), ("eve", "executive"), ("pat", "prosecutor")):
            auth.add_user(user, role=role, store=s)
    bank, ledger, _ = nx.datasets.synth_reconciliation(240, seed=5)
    with auth.acting_as("ana"):
        s.ingest("bank_statements", bank)
        s.ingest("expenses", ledger)
        runs = {}
        # February reconciled twice, the second time with a one-day window: another rate
        for start, end, window in (("2025-01-01", "2025-01-31", None),
                                   ("2025-02-01", "2025-02-28", None),
                                   ("2025-02-01", "2025-02-28", 1)):
            _, runs[start] = workflows.reconcile_from_store(s, device="cpu", start=start,
                                                            end=end, date_window=window)
        # an earlier scoring of T4 that flagged it otherwise, then today's scoring
        _score(s, {"T4": (["threshold"], 99.0, 5000.0)})
        _score(s, SCORES)
        _score(s, {"T9": (["velocity"], 95.0, 7.0)})
        review.clear_flag(int(s.query("select max(id) as i from fraud_scores")["i"].iloc[0]),
                          "known customer", store=s)
    for i, status in enumerate(["open", "open", "closed", "in_litigation"]):
        s.execute("insert into cases (case_id, title, status, created_by) values (:c, 't', "
                  ":s, 'pat')", {"c": f"C-{i}", "s": status})
    yield s, runs
    s.close()


def test_the_overview_totals_each_periods_latest_run(books):
    s, runs = books
    with auth.acting_as("eve"):  # strategic.read is enough
        view = workflows.overview(s)
    rates = s.query("select run_id, rate from reconciliation_runs").set_index("run_id")["rate"]
    by_period = view["rate_by_period"]
    assert [str(d) for d in by_period["period_start"]] == ["2025-01-01", "2025-02-01"]
    assert by_period["runs"].tolist() == [1, 1]  # February counts once, with its latest run
    latest = [rates[runs["2025-01-01"]], rates[runs["2025-02-01"]]]
    assert len(set(rates)) == 3  # the two runs of February differ
    assert by_period["rate"].tolist() == pytest.approx(latest)
    assert view["figures"]["rate"] == pytest.approx(latest[-1])
    assert str(view["figures"]["as_of"]) == "2025-02-28"

    items = s.query("select o.date, o.amount_cents from open_items o where o.status = 'open' "
                    "and o.run_id in (:a, :b)", {"a": runs["2025-01-01"],
                                                 "b": runs["2025-02-01"]})
    age = (pd.Timestamp("2025-02-28") - pd.to_datetime(items["date"])).dt.days
    bands = view["open_by_age"]
    assert bands["band"].tolist() == [b[0] for b in workflows.AGE_BANDS]
    assert bands["items"].tolist() == [int((age <= 30).sum()),
                                       int(((age > 30) & (age <= 60)).sum()),
                                       int(((age > 60) & (age <= 90)).sum()),
                                       int((age > 90).sum())]
    assert bands["amount_cents"].sum() == items["amount_cents"].abs().sum()
    assert view["figures"]["open_items"] == len(items)


def test_fraud_exposure_counts_the_open_flags_of_each_transactions_latest_scoring(books):
    s, _ = books
    with auth.acting_as("eve"):
        view = workflows.overview(s)
    exposure = view["exposure_by_flag"].set_index("flag")
    # T1 (debit, counted by its size) and T2 under velocity; T2 under new vendor too; T4 as
    # rescored (duplicate, not threshold); T3 open on its score alone; T5 below the
    # threshold and T9 cleared: not at risk
    assert exposure["amount_cents"].to_dict() == {"velocity": 16050, "new vendor": 4000,
                                                  "duplicate": 500, "high risk score": 1000}
    assert exposure.loc["velocity", "rows"] == 2
    assert view["figures"]["at_risk_cents"] == 12050 + 4000 + 1000 + 500  # each row once
    assert view["figures"]["flagged_open"] == 4
    assert view["cases_by_status"].set_index("status")["cases"].to_dict() == {
        "open": 2, "closed": 1, "in_litigation": 1}
    assert (view["figures"]["cases"], view["figures"]["open_cases"]) == (4, 3)
    monthly = view["monthly"]
    assert monthly["month"].tolist() == ["2025-01", "2025-02"]
    assert monthly["flagged"].tolist() == [5, 0]  # T1-T4 and T9 (cleared since) of January
    assert monthly["reconciled_rate"].between(0, 1).all()


def test_the_overview_needs_a_reading_role_and_sensible_periods(books):
    s, _ = books
    with auth.acting_as("pat"), pytest.raises(PermissionDenied, match=r"strategic\.read"):
        workflows.overview(s)
    refused = s.read("audit_logs", where={"outcome": "refused"})
    assert refused[["user_id", "resource_id"]].values.tolist()[-1] == ["pat", "overview"]
    with auth.acting_as("eve"):
        with pytest.raises(NexusError, match="from 1 to 120"):
            workflows.overview(s, periods=0)
        one = workflows.overview(s, periods=1)
    assert len(one["rate_by_period"]) == 1 and len(one["monthly"]) == 1
    assert str(one["rate_by_period"]["period_start"].iloc[0]) == "2025-02-01"


def test_an_empty_store_gives_empty_figures(tmp_path):
    s = nx.store.connect(tmp_path / "empty.db")
    s.migrate()
    view = workflows.overview(s)
    assert view["figures"]["rate"] is None and view["figures"]["open_items"] == 0
    assert view["open_by_age"]["items"].tolist() == [0, 0, 0, 0]
    assert all(len(view[k]) == 0 for k in ("rate_by_period", "exposure_by_flag",
                                           "cases_by_status", "monthly"))
