"""A learned model that makes no sense is reported, and a sound one is not."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import nexus_lab as nx


@pytest.mark.parametrize("n", [1_000, 20_000])
def test_a_sound_model_raises_no_warning(n):
    bank, ledger, truth = nx.datasets.synth_reconciliation(n, seed=5)
    res = nx.reconcile(bank, ledger, device="cpu")
    assert nx.reconcile.evaluate(res, truth)["all"]["f1"] > 0.97
    assert res.warnings == []
    assert res.summary()["warnings"] == 0


def test_names_that_carry_no_signal_are_reported_and_survived(caplog):
    """Ledger descriptions shuffled across rows: EM, started from the pairs that are each
    other's only candidate, still links most pairs on amount and date, and the result
    says that the names told nothing."""
    bank, ledger, truth = nx.datasets.synth_reconciliation(1_000, seed=1)
    rng = np.random.default_rng(0)
    ledger = ledger.assign(description=rng.permutation(ledger["description"].to_numpy()),
                           vendor=rng.permutation(ledger["vendor"].to_numpy()))
    with caplog.at_level(logging.WARNING, logger="nexus_lab"):
        res = nx.reconcile(bank, ledger.drop(columns=["reference"]), device="cpu")
    assert nx.reconcile.evaluate(res, truth)["all"]["f1"] > 0.85  # was 0.15 before anchors
    assert any("descriptions carry no evidence" in w for w in res.warnings)
    assert any("model is suspect" in r.getMessage() for r in caplog.records)
    assert "descriptions carry no evidence" in res._repr_html_()


def test_far_fewer_links_than_exact_amounts_give_is_reported():
    from nexus_lab.reconcile._diagnose import check_model

    bank, ledger, _ = nx.datasets.synth_reconciliation(1_000, seed=3)
    model = nx.reconcile(bank, ledger, device="cpu").model
    i = np.arange(500)
    found = check_model(model, observed=[True] * 4, exact_bank=i, exact_ledger=i,
                        linked_exact=40)
    assert found == ["only 40 exact-amount pairs were linked where exact amounts alone "
                     "pair 500 rows one-to-one within the date window"]
    assert check_model(model, observed=[True] * 4, exact_bank=i, exact_ledger=i,
                       linked_exact=480) == []


def test_a_comparison_no_pair_can_make_carries_no_weight():
    bank, ledger, _ = nx.datasets.synth_reconciliation(1_000, seed=2)
    res = nx.reconcile(bank, ledger.drop(columns=["reference"]), device="cpu")
    ref = res.model.to_frame().query("comparison == 'reference'")
    assert np.allclose(ref["weight"], 0.0)  # not EM's untouched prior at +19 bits


def test_the_report_shows_the_warnings(tmp_path):
    from nexus_lab.reports import reconcile_html

    bank, ledger, _ = nx.datasets.synth_reconciliation(1_000, seed=1)
    rng = np.random.default_rng(0)
    ledger = ledger.assign(description=rng.permutation(ledger["description"].to_numpy()),
                           vendor=rng.permutation(ledger["vendor"].to_numpy()))
    res = nx.reconcile(bank, ledger, device="cpu")
    assert res.warnings
    page = reconcile_html(res)
    assert "learned match model is suspect" in page and res.warnings[0][:30] in page
