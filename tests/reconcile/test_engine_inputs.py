"""Tables as users' tools hand them over reconcile as plain frames do."""

from __future__ import annotations

import pandas as pd

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
