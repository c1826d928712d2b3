"""The posting-lag window is learned from the books, and the user may still fix it."""

from __future__ import annotations

import nexus_lab as nx


def test_the_window_is_learned_from_the_books():
    retail = nx.reconcile(*nx.datasets.synth_reconciliation(5_000, 0)[:2], device="cpu")
    assert retail.params["date_window"] == 7 and retail.params["date_window_learned"]
    bank, ledger, truth = nx.datasets.synth_reconciliation(5_000, 0, profile="payables")
    # cheques clear 2-30 days late, and a payment run of one invoice comes up to 60 days
    # after it (the vendor's terms)
    late = nx.reconcile(bank, ledger, device="cpu")
    assert 40 <= late.params["date_window"] <= 60
    fixed = nx.reconcile(bank, ledger, date_window=7, device="cpu")
    assert fixed.params["date_window"] == 7 and not fixed.params["date_window_learned"]
    recall = {name: nx.reconcile.evaluate(r, truth)["one_to_one"]["recall"]
              for name, r in (("learned", late), ("fixed", fixed))}
    assert recall["learned"] > recall["fixed"] + 0.05, recall  # 0.83 against 0.67
