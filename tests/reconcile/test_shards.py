"""The engine in parts (``reconcile(shards=...)``) equals the engine whole: every tier's
search cut into parts, run here one after the other, and settled as one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.reconcile._shards import over_rows


class InProcess:
    """Shards run here, one after the other; each call is recorded."""

    def __init__(self, count: int, workers: int | None = None) -> None:
        self.count, self.workers = count, count if workers is None else workers
        self.calls: list[tuple[str, int]] = []
        self.shared: dict[int, object] = {}

    def share(self, value):
        self.shared[id(value)] = value
        return value

    def map(self, fn, items, **shared):
        self.calls.append((fn.__name__, len(items)))
        return [fn(*item, **shared) for item in items]


def assert_same(got, want) -> None:
    pd.testing.assert_frame_equal(got.matches, want.matches)
    pd.testing.assert_frame_equal(got.unmatched_bank, want.unmatched_bank)
    pd.testing.assert_frame_equal(got.unmatched_ledger, want.unmatched_ledger)
    pd.testing.assert_frame_equal(got.model.to_frame(), want.model.to_frame())
    assert got.rate == want.rate
    assert got.params == want.params and got.warnings == want.warnings


@pytest.mark.parametrize("profile", nx.datasets.RECONCILIATION_PROFILES)
def test_every_tier_in_parts_equals_the_whole(profile):
    bank, ledger, _ = nx.datasets.synth_reconciliation(2_500, seed=5, profile=profile)
    want = nx.reconcile(bank, ledger, device="cpu")
    for count, workers in ((2, 2), (5, 7)):  # parts of unequal sizes, some with no claim
        shards = InProcess(count, workers)
        assert_same(nx.reconcile(bank, ledger, device="cpu", shards=shards), want)
        ran = {name for name, _ in shards.calls}
        # the searches of every later tier ran in parts, not only the exact amounts
        assert {"_exact_shard", "_split_claims", "_plan_claims",
                "_tolerance_candidates", "_levels_part"} <= ran
    kinds = set(want.matches["match_type"])
    assert {"one_to_one", "batch"} <= kinds


def test_settlement_runs_in_parts_equal_the_whole():
    bank, ledger, _ = nx.datasets.synth_reconciliation(3_000, seed=2, profile="marketplace")
    want = nx.reconcile(bank, ledger, device="cpu")
    shards = InProcess(5)
    assert_same(nx.reconcile(bank, ledger, device="cpu", shards=shards), want)
    assert ("_run_claims", 10) in shards.calls  # two parts per worker
    # payouts settle whole days of a storefront: many lines per bank line
    batch = want.matches[want.matches.match_type == "batch"]
    assert batch.groupby("group_id").size().max() > 6


def test_settings_and_tiny_books_in_more_parts_than_rows():
    bank, ledger, _ = nx.datasets.synth_reconciliation(60, seed=1, profile="payables")
    kw = {"amount_tolerance": "2%", "date_window": 9, "device": "cpu"}
    want = nx.reconcile(bank, ledger, **kw)
    assert_same(nx.reconcile(bank, ledger, shards=InProcess(500), **kw), want)


def test_shards_read_arrays_not_the_tables_text():
    """What travels to the parts is the sides' arrays and names: no frame, no ids."""
    from nexus_lab.reconcile._prepare import Side

    bank, ledger, _ = nx.datasets.synth_reconciliation(1_500, seed=0)
    shards = InProcess(3)
    nx.reconcile(bank, ledger, device="cpu", shards=shards)
    shared = list(shards.shared.values())
    sides = [v for v in shared if isinstance(v, Side)]
    sides += [s for v in shared for s in (getattr(v, "b", None), getattr(v, "lg", None))
              if isinstance(s, Side)]  # the name comparisons' sides
    assert len(sides) >= 4
    assert all(s.frame is None and s.ids is None for s in sides)
    assert not any(isinstance(v, pd.DataFrame | pd.Series) for v in shared)


def test_over_rows_cuts_in_order_and_keeps_numbers_with_the_calls():
    shards = InProcess(3)
    got = over_rows(shards, lambda rows, scale, data: data[rows] * scale, np.arange(10),
                    scale=2, data=np.arange(100, 110))
    assert [len(g) for g in got] == [2, 2, 2, 2, 1, 1]  # two parts per worker
    assert np.concatenate(got).tolist() == [2 * x for x in range(100, 110)]
    assert [type(v).__name__ for v in shards.shared.values()] == ["ndarray"]
    # no shards, one worker, or fewer than two rows: one call on all the rows
    for s in (None, InProcess(4, workers=1)):
        assert len(over_rows(s, lambda rows: rows, np.arange(5))) == 1
    assert len(over_rows(InProcess(4), lambda rows: rows, np.arange(1))) == 1
