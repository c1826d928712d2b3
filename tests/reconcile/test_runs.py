"""Payouts that settle a storefront's lines of whole days; card dates in bank text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

import nexus_lab as nx
from nexus_lab.reconcile._prepare import text_dates
from nexus_lab.reconcile._scoring import monotone_ratio


def _two_stores():
    """Two storefronts on one platform, paid out weekly; each payout's fee line is
    dated on the payout day, inside the days of the next payout's sales."""
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2025-03-03")
    bank, ledger = [], []
    for store, name in enumerate(("Etsy - Maple Print Shop", "Etsy - Otter Ceramics")):
        for week in range(4):
            payday = 7 * (week + 1) + store
            days = np.sort(rng.integers(7 * week + store - 2, 7 * week + store + 5, 6))
            cents = rng.integers(1_500, 9_000, 6)
            fee = int(cents.sum() * 0.08)
            for k, (d, c) in enumerate(zip(days, cents)):
                ledger.append((f"S{store}{week}{k}", start + pd.Timedelta(days=int(d)),
                               c / 100, f"Etsy order 3{rng.integers(10**8, 10**9)}", name,
                               "4010 Sales"))
            ledger.append((f"F{store}{week}", start + pd.Timedelta(days=payday), -fee / 100,
                           f"Etsy fees and taxes, deposit DEP{store}{week}0931", name,
                           "6150 Marketplace fees"))
            label = name.split(" - ")[1].upper()
            bank.append((f"B{store}{week}", start + pd.Timedelta(days=payday + 1),
                         (cents.sum() - fee) / 100, f"ETSY DEPOSIT {label}"))
    bank = pd.DataFrame(bank, columns=["transaction_id", "date", "amount", "description"])
    ledger = pd.DataFrame(ledger, columns=["transaction_id", "date", "amount", "description",
                                           "channel", "account"])
    return bank, ledger


def test_a_payout_settles_its_storefronts_sales_and_fee_line():
    bank, ledger = _two_stores()
    res = nx.reconcile(bank, ledger, device="cpu")
    got = res.matches[res.matches["match_type"] == "batch"]
    assert set(got["bank_id"]) == set(bank["transaction_id"])
    assert len(res.unmatched_ledger) == 0
    for bid, rows in got.groupby("bank_id"):
        store, week = bid[1], bid[2]
        # six sales of its own store and week, and its own fee line
        assert sorted(rows["ledger_id"]) == sorted(
            [f"S{store}{week}{k}" for k in range(6)] + [f"F{store}{week}"])


def test_without_the_channel_column_two_stores_are_not_mixed_up():
    # the two storefronts' lines then form one counterparty's interleaved lines:
    # whatever is linked must still be right
    bank, ledger = _two_stores()
    res = nx.reconcile(bank, ledger.drop(columns="channel"), device="cpu")
    for bid, rows in res.matches.groupby("bank_id"):
        assert all(lid[1] == bid[1] for lid in rows["ledger_id"] if lid[0] in "SF")


def test_the_card_date_in_the_text_pairs_look_alikes():
    # two label purchases of one amount two days apart, both posted on the same day:
    # only the authorization date printed by the bank tells them apart
    bank = pd.DataFrame({
        "transaction_id": ["B1", "B2"],
        "date": pd.to_datetime(["2025-03-17", "2025-03-17"]),
        "amount": [-8.95, -8.95],
        "description": ["PURCHASE AUTHORIZED ON 03/16 USPS PO 123 CARD 4021",
                        "PURCHASE AUTHORIZED ON 03/14 USPS PO 123 CARD 4021"]})
    ledger = pd.DataFrame({
        "transaction_id": ["L1", "L2"],
        "date": pd.to_datetime(["2025-03-14", "2025-03-16"]),
        "amount": [-8.95, -8.95], "description": ["USPS postage", "USPS postage"]})
    res = nx.reconcile(bank, ledger, device="cpu")
    pairs = dict(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    assert pairs == {"B1": "L2", "B2": "L1"}


def test_text_dates_read_one_order_per_table():
    posted = np.array(["2025-04-15", "2025-04-15", "2025-01-03"], "datetime64[D]").astype(
        np.int64)
    # day-first: 13-04 settles the order for the table, so 03-04 is 3 April too, not 4 March;
    # a date of late December posted in January is last year's
    texts = pa.array(["KARTENZAHLUNG 13-04 REWE", "KARTENZAHLUNG 03-04 ALDI", "KARTE 30-12"])
    got = text_dates(texts, posted).astype("datetime64[D]").astype(str).tolist()
    assert got == ["2025-04-13", "2025-04-15", "2024-12-30"]  # 3 April is 12 days back: posted


def test_texts_without_dates_keep_the_posting_day():
    posted = np.array([20_000, 20_001], np.int64)
    texts = pa.array(["CARD PAYMENT TO TESCO,12.50", "ACH 800-344-7779"])
    assert text_dates(texts, posted).tolist() == [20_000, 20_001]


def test_more_similar_names_never_weigh_less():
    m = np.array([0.001, 0.6, 0.2, 0.1, 0.099])
    u = np.array([0.0005, 0.01, 0.04, 0.05, 0.9])
    ratio = monotone_ratio(m, u) / u
    assert np.all(np.diff(ratio) <= 1e-12)
    assert np.isclose(monotone_ratio(m, u).sum(), m.sum())


def test_a_bank_line_after_its_groups_days_takes_no_line_of_the_next_group():
    # (group, day) keys: a bank day past every ledger day must not reach group 1's lines
    # (day 84 reached them before both tables shared one day span)
    from nexus_lab.reconcile._runs import RunGroups, find_runs

    g = RunGroups(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 0, 0, 1]), None)
    s = find_runs(np.array([0]), np.array([0]), np.arange(5), g,
                  cents_one=np.array([300]), cents_many=np.array([100, 200, 300, 50, -300]),
                  day_one=np.array([84]), day_many=np.array([1, 2, 3, 4, 5]), horizon=60)
    assert not np.isin(s.many, [3, 4]).any()
