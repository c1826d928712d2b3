"""``scale.reconcile`` equals ``nx.reconcile``: the same links, confidences, reasons and
explanations, on every generator profile, from frames, files and dask DataFrames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import scale
from nexus_lab.errors import SchemaError


def assert_same(got, want) -> None:
    """Two reconciliations are one: every table equal, the rate, the model, the facts."""
    pd.testing.assert_frame_equal(got.matches, want.matches)
    pd.testing.assert_frame_equal(got.unmatched_bank, want.unmatched_bank)
    pd.testing.assert_frame_equal(got.unmatched_ledger, want.unmatched_ledger)
    assert got.rate == want.rate
    pd.testing.assert_frame_equal(got.model.to_frame(), want.model.to_frame())
    assert got.warnings == want.warnings
    assert {k: v for k, v in got.params.items() if k != "dask"} == want.params


@pytest.mark.parametrize("profile", nx.datasets.RECONCILIATION_PROFILES)
def test_equal_to_one_machine_on_every_profile(client, profile):
    bank, ledger, _ = nx.datasets.synth_reconciliation(4_000, seed=3, profile=profile)
    want = nx.reconcile(bank, ledger, device="cpu")
    got = scale.reconcile(bank, ledger, client, device="cpu", progress=False)
    assert_same(got, want)
    info = got.params["dask"]
    assert info["workers"] == 2 and info["partitions"] >= 4
    assert info["scheduler"].startswith("tcp://")
    assert len(want.matches) > 1_000  # the books hold many links to agree on


def test_settings_reach_the_engine_and_shards_are_spread(client):
    bank, ledger, _ = nx.datasets.synth_reconciliation(20_000, seed=11, profile="dense")
    kw = {"amount_tolerance": "2%", "date_window": 9, "device": "cpu"}
    want = nx.reconcile(bank, ledger, **kw)
    got = scale.reconcile(bank, ledger, client, progress=False, **kw)
    assert_same(got, want)
    assert got.params["date_window"] == 9
    # the shards ran on both workers
    assert len({w for w, n in client.run(lambda: 1).items()}) == 2


def test_files_folders_globs_and_dask_frames(client, tmp_path):
    import dask.dataframe as dd

    bank, ledger, _ = nx.datasets.synth_reconciliation(3_000, seed=4, profile="messy")
    (tmp_path / "bank").mkdir()
    for k, start in enumerate(range(0, len(bank), 1_000)):
        bank.iloc[start:start + 1_000].to_csv(tmp_path / "bank" / f"part-{k}.csv", index=False)
    ledger.to_parquet(tmp_path / "ledger.parquet", index=False)
    from nexus_lab.files import read_table

    whole_bank = pd.concat([read_table(p, name="bank")
                            for p in sorted((tmp_path / "bank").glob("*.csv"))],
                           ignore_index=True)
    want = nx.reconcile(whole_bank, ledger, device="cpu")
    for b in (tmp_path / "bank", str(tmp_path / "bank" / "part-*.csv")):
        got = scale.reconcile(b, tmp_path / "ledger.parquet", client, device="cpu",
                              progress=False)
        assert_same(got, want)
    # dask reads text as Arrow strings (its default): the tables the engine gets are those
    frames = dd.from_pandas(whole_bank, npartitions=3), dd.from_pandas(ledger, npartitions=2)
    got = scale.reconcile(*frames, client, device="cpu", progress=False)
    assert_same(got, nx.reconcile(*(f.compute() for f in frames), device="cpu"))
    pd.testing.assert_frame_equal(got.matches, want.matches)


def test_files_are_read_with_the_column_names_given(client, tmp_path):
    """A CSV with its own headings and ids written with leading zeros: read with the
    mapping given, as the CLI reads it, the same result as those rows read at once."""
    from nexus_lab.files import read_table

    bank, ledger, _ = nx.datasets.synth_reconciliation(2_000, seed=5)
    names = {"transaction_id": "Ref No", "amount": "Amt", "date": "Posted"}
    mine = bank.rename(columns=names)
    mine["Ref No"] = [f"{n:07d}" for n in range(len(mine))]
    mine.to_csv(tmp_path / "bank.csv", index=False)
    columns = {"bank": names, "ledger": {}}
    want = nx.reconcile(read_table(tmp_path / "bank.csv", name="bank", columns=names), ledger,
                        columns=columns, device="cpu")
    assert want.matches["bank_id"].str.startswith("0").all()  # ids as written
    got = scale.reconcile(tmp_path / "bank.csv", ledger, client, columns=columns,
                          device="cpu", progress=False)
    assert_same(got, want)


def test_bad_input_is_refused_with_what_to_give(client, tmp_path):
    bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=0)
    with pytest.raises(SchemaError, match="takes no window"):
        scale.reconcile(bank, ledger, client, window=3)
    with pytest.raises(SchemaError, match="no such file"):
        scale.reconcile(tmp_path / "nope.csv", ledger, client)
    with pytest.raises(SchemaError, match="holds no Parquet or CSV"):
        scale.reconcile(tmp_path, ledger, client)
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.parquet").write_bytes(b"")
    with pytest.raises(SchemaError, match="mixes Parquet and CSV"):
        scale.reconcile(tmp_path, ledger, client)
    # the engine's own refusals come back as they are
    with pytest.raises(SchemaError, match="amount"):
        scale.reconcile(bank.drop(columns=["amount"]), ledger, client, progress=False)
    assert np.isfinite(scale.reconcile(bank, ledger, client, progress=False).rate)


def test_a_store_query_read_in_partitions_by_the_workers(client, tmp_path):
    """A table of a SQL store, read as a dask DataFrame in partitions by the workers
    (``dd.read_sql_table``), reconciles as the same rows read at once."""
    import dask.dataframe as dd
    import sqlalchemy as sa

    bank, ledger, _ = nx.datasets.synth_reconciliation(3_000, seed=8, profile="fx")
    url = f"sqlite:///{tmp_path / 'books.db'}"
    engine = sa.create_engine(url)
    for name, frame in (("bank_lines", bank), ("ledger_lines", ledger)):
        frame.rename_axis("line").reset_index().to_sql(name, engine, index=False)
    engine.dispose()
    tables = [dd.read_sql_table(name, url, index_col="line", npartitions=3)
              for name in ("bank_lines", "ledger_lines")]
    got = scale.reconcile(*tables, client, device="cpu", progress=False)
    read = [t.compute().reset_index(drop=True) for t in tables]
    assert_same(got, nx.reconcile(*read, device="cpu"))
    assert len(got.matches) > 1_000
