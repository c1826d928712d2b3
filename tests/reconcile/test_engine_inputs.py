"""Tables as users' tools hand them over reconcile as plain frames do."""

from __future__ import annotations

import pandas as pd
import pytest

import nexus_lab as nx


def test_arrow_text_columns_reconcile_as_plain_text():
    """pandas' pyarrow strings (``dtype_backend="pyarrow"``, dask's default) and polars'
    text are Arrow large strings: they reconcile as object text does."""
    import pyarrow as pa

    bank, ledger, _ = nx.datasets.synth_reconciliation(800, seed=4, profile="messy")
    want = nx.reconcile(bank, ledger, device="cpu")
    for dtype in ("string[pyarrow]", pd.ArrowDtype(pa.large_string())):
        text = {c: dtype for c in bank.columns if bank[c].dtype == object}
        got = nx.reconcile(bank.astype(text), ledger, device="cpu")
        pd.testing.assert_frame_equal(got.matches, want.matches)
        assert got.rate == want.rate


def test_shards_that_cannot_run_are_refused_before_any_work():
    from nexus_lab.errors import SchemaError

    bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=0)

    class NoCount:
        count, workers = 0, 2

        def share(self, value):
            return value

        def map(self, fn, items, **shared):
            return [fn(*item, **shared) for item in items]

    with pytest.raises(SchemaError, match=r"count \(a whole number of shards"):
        nx.reconcile(bank, ledger, device="cpu", shards=NoCount())
    with pytest.raises(SchemaError, match=r"share\(\) and map\(\)"):
        nx.reconcile(bank, ledger, device="cpu", shards=object())
    no_workers = NoCount()
    no_workers.count, no_workers.workers = 3, True
    with pytest.raises(SchemaError, match=r"workers \(how many run at once"):
        nx.reconcile(bank, ledger, device="cpu", shards=no_workers)
    in_process = NoCount()
    in_process.count = 3  # shards run here, one after the other: the same result
    want = nx.reconcile(bank, ledger, device="cpu")
    got = nx.reconcile(bank, ledger, device="cpu", shards=in_process)
    pd.testing.assert_frame_equal(got.matches, want.matches)
