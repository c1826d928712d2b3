"""Installment plans over months, found by their shape: equal parts, a regular period."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nexus_lab as nx


def test_installment_plans_over_months_are_found():
    bank, ledger, truth = nx.datasets.synth_reconciliation(2_000, 0, profile="installments")
    res = nx.reconcile(bank, ledger, device="cpu")
    plans = truth[truth["kind"] == "installment"]
    found = res.matches[res.matches["match_type"] == "installment"]
    got = set(zip(found["bank_id"], found["ledger_id"]))
    right = sum(p in got for p in zip(plans["bank_id"], plans["ledger_id"]))
    assert right / len(plans) > 0.5  # 0.56 here; 0.00 with the 7-day subset-sum search alone
    assert right / max(len(got), 1) > 0.97
    assert found["group_id"].value_counts().max() >= 10  # a yearly plan in monthly parts


def test_a_monthly_plan_with_the_rounding_cents_on_the_first_part():
    days = pd.Timestamp("2025-01-15") + pd.to_timedelta(
        np.array([3, 34, 62, 93, 123, 154]), unit="D")  # monthly, moved off weekends
    parts = [1666.70] + [1666.66] * 5  # 10,000.00 in six parts
    bank = pd.DataFrame({"transaction_id": [f"B{i}" for i in range(6)], "date": days,
                         "amount": parts, "description": ["DD NORTHWIND LEASING"] * 6})
    ledger = pd.DataFrame({"transaction_id": ["L0"], "date": [pd.Timestamp("2025-01-15")],
                           "amount": [10_000.00],
                           "description": ["Northwind Leasing equipment lease"]})
    res = nx.reconcile(bank, ledger, device="cpu")
    assert (res.matches["match_type"] == "installment").sum() == 6
    assert set(res.matches["bank_id"]) == set(bank["transaction_id"])
    assert len(res.unmatched_bank) == 0


def test_irregular_parts_are_not_a_plan():
    days = pd.Timestamp("2025-01-15") + pd.to_timedelta(np.array([1, 3, 60]), unit="D")
    bank = pd.DataFrame({"transaction_id": ["B0", "B1", "B2"], "date": days,
                         "amount": [100.00] * 3, "description": ["ACME SUPPLY"] * 3})
    ledger = pd.DataFrame({"transaction_id": ["L0"], "date": [pd.Timestamp("2025-01-14")],
                           "amount": [300.00], "description": ["Acme Supply"]})
    res = nx.reconcile(bank, ledger, device="cpu", date_window=7)
    assert (res.matches["match_type"] == "installment").sum() == 0


def test_a_plan_paid_through_a_lender_and_posted_twice_once():
    # a buy-now-pay-later plan: four fortnightly parts under the lender's name, the
    # merchant's name on some of them only, the second part posted twice by the bank
    days = pd.Timestamp("2025-03-02") + pd.to_timedelta(np.array([1, 15, 16, 29, 43]),
                                                        unit="D")
    bank = pd.DataFrame({
        "transaction_id": [f"B{i}" for i in range(5)], "date": days,
        "amount": [75.04, 75.01, 75.01, 75.01, 75.01],
        "description": ["SEZZLE INC ASHBY FURNIT", "SEZZLE INC", "SEZZLE INC",
                        "SEZZLE INC ASHBY FURNIT", "SEZZLE INC"]})
    ledger = pd.DataFrame({"transaction_id": ["L0", "L1"],
                           "date": [pd.Timestamp("2025-03-02"), pd.Timestamp("2025-03-09")],
                           "amount": [300.07, 41.10],
                           "description": ["Ashby Furniture - sofa", "Corner Deli"]})
    res = nx.reconcile(bank, ledger, device="cpu")
    plan = res.matches[res.matches["match_type"] == "installment"]
    assert set(plan["ledger_id"]) == {"L0"}
    assert set(plan["bank_id"]) == {"B0", "B1", "B3", "B4"}  # B2 is the second posting
    assert res.unmatched_bank["transaction_id"].tolist() == ["B2"]


def test_memo_words_and_bank_prefixes_do_not_split_a_counterparty():
    bank = pd.DataFrame({
        "transaction_id": [f"B{i}" for i in range(4)],
        "date": pd.to_datetime(["2025-05-02", "2025-05-06", "2025-05-09", "2025-05-13"]),
        "amount": [48.20, 120.00, 17.35, 300.00],
        "description": ["KARTENZAHLUNG KIMS CATERING KOELN 02-05", "FPO KIM'S CATERING REF 7781",
                        "SEPA-LASTSCHRIFT KIMS CATERING MREF 311 CRED DE", "CHQ 100233"]})
    ledger = pd.DataFrame({
        "transaction_id": ["L0", "L1", "L2", "L3"],
        "date": pd.to_datetime(["2025-05-01", "2025-04-21", "2025-05-08", "2025-04-28"]),
        "amount": [48.20, 60.00, 17.35, 60.00],
        "description": ["Repairs (Kim's Catering)", "Kim's Catering - staff lunch",
                        "Kim's Catering", "Kim's Catering lunch w client"]})
    res = nx.reconcile(bank, ledger, device="cpu")
    batch = res.matches[res.matches["match_type"] == "batch"]
    assert set(zip(batch["bank_id"], batch["ledger_id"])) == {("B1", "L1"), ("B1", "L3")}
    one = res.matches[res.matches["match_type"] == "one_to_one"]
    assert set(zip(one["bank_id"], one["ledger_id"])) == {("B0", "L0"), ("B2", "L2")}
