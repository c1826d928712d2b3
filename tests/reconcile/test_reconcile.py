"""The reconciliation kernel, measured against the ground truth of synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import nexus_lab as nx
from nexus_lab.datasets import synth_reconciliation
from nexus_lab.errors import DeviceError


@pytest.fixture(scope="module")
def case20k():
    bank, ledger, truth = synth_reconciliation(20_000, seed=0)
    return bank, ledger, truth, nx.reconcile(bank, ledger, device="cpu")


@pytest.fixture(scope="module")
def small():
    return synth_reconciliation(2_000, seed=3)


def test_link_quality_at_20k(case20k):
    _, _, truth, res = case20k
    report = nx.reconcile.evaluate(res, truth)
    assert report["one_to_one"]["f1"] >= 0.99, report["one_to_one"]
    assert report["split"]["f1"] >= 0.95, report["split"]


def test_link_quality_other_seed():
    bank, ledger, truth = synth_reconciliation(20_000, seed=1)
    report = nx.reconcile.evaluate(nx.reconcile(bank, ledger, device="cpu"), truth)
    assert report["one_to_one"]["f1"] >= 0.99, report["one_to_one"]
    assert report["split"]["f1"] >= 0.95, report["split"]


def test_confidence_is_calibrated(case20k):
    _, _, truth, res = case20k
    report = nx.reconcile.evaluate(res, truth)
    calib = report["calibration"]
    assert report["ece"] <= 0.05, calib
    # never over-confident: in every well-filled bin at least as many right as claimed, less 5
    big = calib[calib["pairs"] >= 100]
    assert (big["percent_right"] >= big["mean_confidence"] - 5).all(), calib
    top = calib.iloc[-1]
    assert top["percent_right"] >= 99.5


def test_unmatched_rows_get_the_right_reason(case20k):
    _, _, truth, res = case20k
    ub = res.unmatched_bank.set_index("transaction_id")["reason"]
    ul = res.unmatched_ledger.set_index("transaction_id")["reason"]

    def share(ids, reasons, want):
        got = reasons.reindex(ids)
        return float((got == want).mean())

    t = truth
    assert share(t.loc[t.kind == "bank_only", "bank_id"], ub, "missing in ledger") >= 0.9
    assert share(t.loc[t.kind == "duplicate", "bank_id"], ub, "possible duplicate") >= 0.85
    late = t[(t.kind == "ledger_only") & (t.reason == "timing difference")]
    assert share(late["ledger_id"], ul, "timing difference") >= 0.8
    mism = t[t.kind == "amount_mismatch"]
    assert share(mism["bank_id"], ub, "amount mismatch") >= 0.7
    assert share(mism["ledger_id"], ul, "amount mismatch") >= 0.7
    assert set(ub.unique()) <= {
        "missing in ledger", "possible duplicate", "amount mismatch", "timing difference",
        "fee or FX difference",
    }


def test_matches_frame_contract(case20k):
    bank, ledger, _, res = case20k
    m = res.matches
    for col in ("bank_id", "ledger_id", "confidence", "match_type", "group_id", "explanation"):
        assert col in m.columns
    assert m["confidence"].between(0, 100).all()
    assert set(m["match_type"]) == {"one_to_one", "batch", "installment"}
    one = m[m.match_type == "one_to_one"]
    assert one["bank_id"].is_unique and one["ledger_id"].is_unique
    # no row is used twice across match types
    used_bank = m.groupby("bank_id")["group_id"].nunique()
    used_ledger = m.groupby("ledger_id")["group_id"].nunique()
    assert used_bank.max() == 1 and used_ledger.max() == 1
    # every row is either matched or unmatched, never both
    matched_b = set(m["bank_id"])
    assert matched_b.isdisjoint(res.unmatched_bank["transaction_id"])
    assert len(matched_b) + len(res.unmatched_bank) == len(bank)
    assert len(set(m["ledger_id"])) + len(res.unmatched_ledger) == len(ledger)
    # explanations name every piece of evidence and add up
    first = one.iloc[0]
    for word in ("amount", "date", "description", "reference", "prior", "bits"):
        assert word in first["explanation"]
    # split groups sum exactly in cents
    for kind, one_col, many_col in (("batch", "bank_id", "ledger_id"),
                                    ("installment", "ledger_id", "bank_id")):
        g = m[m.match_type == kind]
        g = g[g["group_id"].isin(g["group_id"].unique()[:100])]
        side_one = bank if one_col == "bank_id" else ledger
        side_many = ledger if one_col == "bank_id" else bank
        amt_one = side_one.set_index("transaction_id")["amount"]
        amt_many = side_many.set_index("transaction_id")["amount"]
        sums = g.groupby(one_col)[many_col].apply(
            lambda ids, amt=amt_many: round(amt[ids].sum() * 100)
        )
        targets = (amt_one[sums.index] * 100).round()
        assert (sums.to_numpy() == targets.to_numpy()).all()


def test_rate_is_share_of_bank_amount(case20k):
    bank, _, _, res = case20k
    matched = bank["transaction_id"].isin(res.matches["bank_id"])
    expected = bank.loc[matched, "amount"].abs().sum() / bank["amount"].abs().sum()
    assert res.rate == pytest.approx(expected, rel=1e-9)


def _decoy_rows(day0: str, vendor: str, amount: float, bank_days, ledger_days, tag: str):
    base = pd.Timestamp(day0)
    bank = pd.DataFrame({
        "transaction_id": [f"XB{tag}{k}" for k in range(len(bank_days))],
        "date": [base + pd.Timedelta(days=d) for d in bank_days],
        "amount": amount,
        "description": f"POS DEBIT {vendor.upper()} #77",
        "account": "CHK-0001",
        "reference": None,
    })
    ledger = pd.DataFrame({
        "transaction_id": [f"XL{tag}{k}" for k in range(len(ledger_days))],
        "date": [base + pd.Timedelta(days=d) for d in ledger_days],
        "amount": amount,
        "description": vendor,
        "vendor": vendor,
        "category": "office",
        "account": "1000-Cash",
        "reference": None,
    })
    return bank, ledger


def test_decoys_get_the_globally_best_assignment(small):
    bank, ledger, _ = small
    # greedy by bank order would give XB0 the same-day XL1 and leave XB1 three days off
    xb, xl = _decoy_rows("2025-06-02", "Quillfeather Stationers", 431.17, [3, 5], [2, 3], "g")
    res = nx.reconcile(pd.concat([bank, xb]), pd.concat([ledger, xl]), device="cpu")
    got = dict(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    assert got.get("XBg0") == "XLg0" and got.get("XBg1") == "XLg1"
    conf = res.matches.set_index("bank_id").loc[["XBg0", "XBg1"], "confidence"]
    assert (conf < 99).all()  # a decoy is not certain, and says so


def test_ties_keep_the_order(small):
    bank, ledger, _ = small
    xb, xl = _decoy_rows("2025-08-11", "Quillfeather Stationers", 88.00, [1, 1, 1], [1, 1, 1], "t")
    res = nx.reconcile(pd.concat([bank, xb]), pd.concat([ledger, xl]), device="cpu")
    got = dict(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    assert [got.get(f"XBt{k}") for k in range(3)] == [f"XLt{k}" for k in range(3)]


def test_fee_difference_within_tolerance(small):
    bank, ledger, _ = small
    xb, xl = _decoy_rows("2025-03-03", "Quillfeather Stationers", 250.00, [1], [0], "f")
    xb["amount"] = 252.75  # a card fee
    res = nx.reconcile(pd.concat([bank, xb]), pd.concat([ledger, xl]), device="cpu")
    row = res.matches.set_index("bank_id").loc["XBf0"]
    assert row["ledger_id"] == "XLf0"
    assert row["amount_difference"] == pytest.approx(2.75)
    # with no tolerance the fee difference cannot match
    res0 = nx.reconcile(
        pd.concat([bank, xb]), pd.concat([ledger, xl]), amount_tolerance=0, device="cpu"
    )
    assert "XBf0" in set(res0.unmatched_bank["transaction_id"])


def test_batch_payment_found_by_subset_sum(small):
    bank, ledger, _ = small
    xb, xl = _decoy_rows("2025-04-07", "Quillfeather Stationers", 0.0, [4], [0, 1, 2, 2], "s")
    xl["amount"] = [120.10, 75.25, 310.00, 14.65]
    xb["amount"] = [120.10 + 75.25 + 14.65]  # pays three of the four invoices
    xb["description"] = "ACH PMT QUILLFEATHER STATIONERS BATCH"
    res = nx.reconcile(pd.concat([bank, xb]), pd.concat([ledger, xl]), device="cpu")
    got = res.matches[res.matches.bank_id == "XBs0"]
    assert set(got["match_type"]) == {"batch"}
    assert set(got["ledger_id"]) == {"XLs0", "XLs1", "XLs3"}
    assert "XLs2" in set(res.unmatched_ledger["transaction_id"])


def test_columns_mapping_and_frame_types(small):
    bank, ledger, _ = small
    ref = nx.reconcile(bank, ledger, device="cpu").matches[["bank_id", "ledger_id"]]
    renamed = bank.rename(columns={"transaction_id": "Id", "amount": "Amt", "date": "Posted"})
    res = nx.reconcile(
        renamed, ledger, device="cpu",
        columns={"bank": {"transaction_id": "Id", "amount": "Amt", "date": "Posted"}},
    )
    pd.testing.assert_frame_equal(res.matches[["bank_id", "ledger_id"]], ref)
    for convert in (pl.from_pandas, pa.Table.from_pandas):
        res = nx.reconcile(convert(bank), convert(ledger), device="cpu")
        pd.testing.assert_frame_equal(res.matches[["bank_id", "ledger_id"]], ref)


def test_opposite_sign_convention_is_aligned(small):
    bank, ledger, _ = small
    ref = nx.reconcile(bank, ledger, device="cpu")
    flipped = bank.assign(amount=-bank["amount"])
    res = nx.reconcile(flipped, ledger, device="cpu")
    assert res.params["bank_sign_flipped"] is True
    pd.testing.assert_frame_equal(
        res.matches[["bank_id", "ledger_id"]], ref.matches[["bank_id", "ledger_id"]]
    )


def test_deterministic_and_reports(small):
    bank, ledger, _ = small
    a = nx.reconcile(bank, ledger, device="cpu")
    b = nx.reconcile(bank, ledger, device="cpu")
    pd.testing.assert_frame_equal(a.matches, b.matches)
    html = a._repr_html_()
    assert "reconciled" in html and "<table" in html
    s = a.summary()
    assert s["bank_rows"] == len(bank) and 0 < s["rate"] <= 1
    assert a.model.to_frame()["comparison"].nunique() == 5
    assert "ReconcileResult(rate=" in repr(a)


def test_currency_column_partitions_matching(small):
    bank, ledger, _ = small
    b = bank.assign(currency="USD")
    lg = ledger.assign(currency="USD")
    # the same amounts booked in another currency must not match across currencies
    lg.loc[lg.index[:50], "currency"] = "EUR"
    res = nx.reconcile(b, lg, device="cpu")
    eur = set(lg.loc[lg.index[:50], "transaction_id"])
    assert eur.isdisjoint(res.matches["ledger_id"])


def test_device_choice():
    import torch

    bank, ledger, _ = synth_reconciliation(200, seed=0)
    if torch.cuda.is_available():
        res = nx.reconcile(bank, ledger, device="cuda")
        assert res.params["device"].startswith("cuda")
    else:
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            nx.reconcile(bank, ledger, device="cuda")
    assert nx.reconcile(bank, ledger, device="auto").rate > 0.8


def test_synthetic_data_is_deterministic():
    a = synth_reconciliation(500, seed=5)
    b = synth_reconciliation(500, seed=5)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    bank, ledger, truth = a
    assert bank["transaction_id"].is_unique and ledger["transaction_id"].is_unique
    assert set(truth["kind"]) == {
        "one_to_one", "tolerance", "decoy", "batch", "installment", "bank_only",
        "ledger_only", "duplicate", "amount_mismatch",
    }
    assert np.isin(truth["bank_id"].dropna(), bank["transaction_id"]).all()


def test_tables_with_nothing_in_common():
    import warnings

    bank = pd.DataFrame({"transaction_id": ["b1", "b2"], "date": ["2025-01-01", "2025-01-02"],
                         "amount": [10.0, 20.0], "description": ["ACME", "BETA"]})
    ledger = pd.DataFrame({"transaction_id": ["l1"], "date": ["2025-06-01"], "amount": [55.0],
                           "description": ["GAMMA"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = nx.reconcile(bank, ledger, device="cpu")
    assert res.matches.empty and res.rate == 0.0
    assert list(res.matches.columns)[:6] == [
        "bank_id", "ledger_id", "confidence", "match_type", "group_id", "explanation"]
    assert set(res.unmatched_bank["reason"]) <= {"missing in ledger", "timing difference"}
    # dated after the statement ends: outstanding, a timing difference
    assert res.unmatched_ledger["reason"].tolist() == ["timing difference"]


@pytest.mark.parametrize("huge", [False, True])
def test_a_crowded_amount_keeps_each_counterpartys_rows(small, huge):
    # one amount that ten rows of three vendors share within days: each bank row must
    # find its own vendor's line, whether or not the keys fit together in one int64
    bank, ledger, _ = small
    parts = [
        _decoy_rows("2025-09-01", vendor, 50.00, [k, k + 3, k + 6], [k, k + 3, k + 6], tag)
        for k, (vendor, tag) in enumerate(
            [("Quillfeather Stationers", "q"), ("Marlowe Couriers", "m"),
             ("Tidewater Plumbing", "p")]
        )
    ]
    xb = pd.concat([p[0] for p in parts])
    xl = pd.concat([p[1] for p in parts])
    if huge:  # amounts this far apart leave no room for a counterparty in the join key
        xb = pd.concat([xb, xb.iloc[:1].assign(transaction_id="XBbig", amount=9.0e12)])
    res = nx.reconcile(pd.concat([bank, xb]), pd.concat([ledger, xl]), device="cpu")
    got = dict(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    for tag in "qmp":
        assert [got.get(f"XB{tag}{k}") for k in range(3)] == [f"XL{tag}{k}" for k in range(3)]
