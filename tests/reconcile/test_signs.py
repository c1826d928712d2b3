"""Sign conventions: learned from the data, normalized, reported."""

from __future__ import annotations

import numpy as np
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError


@pytest.mark.parametrize("seed", [0, 1, 2])  # negative debits; debit/credit; all positive
def test_every_sign_convention_reconciles(seed):
    bank, ledger, truth = nx.datasets.synth_reconciliation(1_000, seed, profile="signs")
    res = nx.reconcile(bank, ledger, device="cpu")
    report = nx.reconcile.evaluate(res, truth)
    assert report["all"]["f1"] > 0.9, (bank.attrs["sign_convention"], report["all"])
    assert report["all"]["precision"] > 0.97


def test_a_flip_is_learned_from_exact_amounts_and_reported(tables):
    bank, ledger, truth = tables
    # a quarter of the bank's rows are money in: the share of negative rows would not tell
    flipped = bank.assign(amount=-bank["amount"])
    res = nx.reconcile(flipped, ledger, device="cpu")
    assert res.params["bank_sign_flipped"] is True
    assert nx.reconcile.evaluate(res, truth)["all"]["f1"] > 0.95
    assert nx.reconcile(bank, ledger, device="cpu").params["bank_sign_flipped"] is False


def test_debit_and_credit_columns_without_an_amount(tables):
    bank, ledger, truth = tables
    out = bank["amount"].to_numpy() > 0  # the sample books money out positive
    two = bank.drop(columns=["amount"]).assign(
        Debit=np.where(out, bank["amount"].abs(), np.nan),
        Credit=np.where(out, np.nan, bank["amount"].abs()))
    res = nx.reconcile(two, ledger, device="cpu",
                       columns={"bank": {"debit": "Debit", "credit": "Credit"}})
    assert nx.reconcile.evaluate(res, truth)["all"]["f1"] > 0.95


def test_a_row_with_neither_debit_nor_credit_is_named(tables):
    bank, ledger, _ = tables
    two = bank.drop(columns=["amount"]).assign(debit=bank["amount"].abs(), credit=np.nan)
    two.loc[[3, 7], "debit"] = np.nan
    with pytest.raises(SchemaError, match=r"rows \[3, 7\] have neither a debit nor a credit"):
        nx.reconcile(two, ledger, device="cpu")
