"""amount_tolerance as an amount, a share of the amount, or both."""

from __future__ import annotations

import numpy as np
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError


@pytest.fixture(scope="module")
def fx_tables():
    """The sample books with 120 one-to-one payments made large (2,000-9,000) and
    converted at 0.5-0.9% off the booked amount (an FX rate the ledger did not know):
    10.00 to 81.00 apart."""
    bank, ledger, truth = nx.datasets.synth_reconciliation(3_000, seed=4)
    pairs = truth[truth["kind"] == "one_to_one"].head(120)
    rng = np.random.default_rng(0)
    booked = np.round(rng.uniform(2_000, 9_000, len(pairs)), 2)
    rate = 1 + rng.uniform(0.005, 0.009, len(pairs)) * rng.choice([-1, 1], len(pairs))
    bank, ledger = bank.copy(), ledger.copy()
    lpos = ledger.set_index("transaction_id").index.get_indexer(pairs["ledger_id"])
    bpos = bank.set_index("transaction_id").index.get_indexer(pairs["bank_id"])
    lsign = np.sign(ledger["amount"].to_numpy()[lpos])
    bsign = np.sign(bank["amount"].to_numpy()[bpos])
    ledger.loc[ledger.index[lpos], "amount"] = lsign * booked
    bank.loc[bank.index[bpos], "amount"] = bsign * np.round(booked * rate, 2)
    return bank, ledger, set(zip(pairs["bank_id"], pairs["ledger_id"]))


def _found(res, pairs):
    got = set(zip(res.matches["bank_id"], res.matches["ledger_id"]))
    return len(got & pairs) / len(pairs)


def test_a_share_of_the_amount_finds_fx_differences(fx_tables):
    bank, ledger, converted = fx_tables
    absolute = nx.reconcile(bank, ledger, amount_tolerance=5, device="cpu")
    relative = nx.reconcile(bank, ledger, amount_tolerance=(5, "1%"), device="cpu")
    default = nx.reconcile(bank, ledger, device="cpu")  # 50 or 5%
    assert _found(absolute, converted) < 0.2  # 5.00 cannot reach 0.5-0.9% of 2,000+
    assert _found(relative, converted) > 0.9
    assert _found(default, converted) > 0.9
    assert default.params["amount_tolerance"] == "50 or 5%"
    assert relative.params["amount_tolerance"] == "5 or 1%"
    m = relative.matches.set_index(["bank_id", "ledger_id"])
    hit = [p for p in converted if p in m.index]
    assert (m.loc[hit, "amount_difference"].abs() > 5).all()


@pytest.mark.parametrize("value", ["1%", "5,1%", (5, "1%"), "2.5", 0])
def test_every_form_is_accepted(value, tables):
    bank, ledger, _ = tables
    res = nx.reconcile(bank, ledger, amount_tolerance=value, device="cpu")
    assert res.summary()["matched_pairs"] > 0


@pytest.mark.parametrize("value, message", [
    ("x%", "share must be a number"), ("150%", "below 100%"), ("1,2,3", "or both"),
    (-1, "finite number >= 0"), ("", "or both"),
])
def test_bad_tolerances_are_refused(value, message, tables):
    bank, ledger, _ = tables
    with pytest.raises(SchemaError, match=message):
        nx.reconcile(bank, ledger, amount_tolerance=value, device="cpu")


def test_open_rows_off_by_a_fee_say_so_with_the_fee(tables):
    bank, ledger, truth = tables
    res = nx.reconcile(bank, ledger, amount_tolerance=0.5, device="cpu")  # fees stay open
    open_b = res.unmatched_bank.set_index("transaction_id")
    kind = truth.drop_duplicates("bank_id").set_index("bank_id")["kind"]
    fee = open_b[open_b["reason"] == "fee or FX difference"]
    assert len(fee) > 0 and (kind.reindex(fee.index) == "tolerance").mean() > 0.8
    assert fee["amount_difference"].abs().between(0.5, 15.0).all()
    assert fee["nearest_id"].isin(ledger["transaction_id"]).all()
    keyed = open_b[open_b["reason"] == "amount mismatch"]
    assert (kind.reindex(keyed.index) == "tolerance").mean() < 0.2
    assert open_b.loc[open_b["reason"] == "missing in ledger", "nearest_id"].isna().all()
