"""The audit tests on Dask equal the single-machine ones: a real LocalCluster of two
workers, general ledgers of two unlike profiles cut into several partitions."""

from __future__ import annotations

import itertools
import warnings

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from nexus_lab import SchemaError, scale
from nexus_lab import examine as ex
from nexus_lab.datasets import synth_general_ledger


@pytest.fixture(scope="module")
def client():
    with scale.cluster(workers=2) as c:
        yield c


def _ledger(profile: str, seed: int) -> pd.DataFrame:
    gl = synth_general_ledger(6_000, profile, seed)[0]
    return gl.assign(transaction_id=[f"T{i:05d}" for i in range(len(gl))])


@pytest.fixture(scope="module")
def ledgers() -> dict[str, pd.DataFrame]:
    return {"small": _ledger("small", 1), "services": _ledger("services", 2)}


def _dask(frame: pd.DataFrame, parts: int = 5) -> dd.DataFrame:
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_pandas(frame, npartitions=parts, sort=False)


def assert_same(got: ex.Examination, want: ex.Examination) -> None:
    # where it ran on Dask: in the notebook view, with the dashboard's link
    assert got.cluster["workers"] == 2 and got.cluster["dashboard"] in got._repr_html_()
    assert (got.test, got.params, got.verdict) == (want.test, want.params, want.verdict)
    assert got.facts == want.facts
    assert got.notes == want.notes
    assert list(got.tables) == list(want.tables)
    for name in want.tables:
        pd.testing.assert_frame_equal(got.tables[name], want.tables[name], obj=name)


@pytest.mark.parametrize("profile", ["small", "services"])
@pytest.mark.parametrize("params", [
    {"test": "first"}, {"test": "first_two", "by": "account", "min_rows": 50},
    {"test": "second", "limit": 7}, {"test": "last_two"},
    {"test": "summation", "by": "source", "min_rows": 20}, {"test": "first_three"},
    {"test": "first", "sign": "negative"}])
def test_benford_equals_the_single_machine_test(client, ledgers, profile, params):
    gl = ledgers[profile]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ex.ExamineWarning)
        want = ex.benford(gl, **params)
        got = scale.examine(_dask(gl), "benford", client=client, **params)
    assert_same(got, want)
    assert ex.benford(gl, **got.params).facts == want.facts  # the params replay it


def test_second_order_benford_is_refused_naming_the_one_machine_function(client, ledgers):
    with pytest.raises(SchemaError, match=r"second_order.*nx\.examine\.benford"):
        scale.examine(_dask(ledgers["small"]), "benford", client=client, test="second_order")


def test_exact_duplicates_across_partitions_equal_the_single_machine_test(client, ledgers):
    gl = ledgers["services"]
    n = len(gl)
    # copies of early rows planted at the end: every one lands in another partition
    copies = gl.iloc[[3, 10, 10, 400]].assign(transaction_id=["C1", "C2", "C3", "C4"])
    planted = pd.concat([gl, copies], ignore_index=True)
    planted.loc[n + 3, "amount"] += 1e-7  # another float, the same cents
    for same in (["entry_id", "line", "amount"], ["account", "amount"], None):
        want = ex.duplicates(planted, same=same)
        got = scale.examine(_dask(planted, 6), "duplicates", client=client, same=same)
        assert_same(got, want)
    assert set(got["rows"]["row"]) == {3, 10, 400, n, n + 1, n + 2, n + 3}
    assert got.facts["groups"] == 3


def test_near_duplicates_are_refused(client, ledgers):
    with pytest.raises(SchemaError, match=r"near=.*nx\.examine\.duplicates"):
        scale.examine(_dask(ledgers["small"]), "duplicates", client=client,
                      same=["account"], near={"amount": 0.01})


@pytest.mark.parametrize("profile", ["small", "services"])
@pytest.mark.parametrize("bands", [None, 7, [0, 100, 1000, 10_000]])
def test_stratify_equals_the_single_machine_test(client, ledgers, profile, bands):
    gl = ledgers[profile]
    want = ex.stratify(gl, bands=bands, top=4)
    got = scale.examine(_dask(gl), "stratify", client=client, bands=bands, top=4)
    assert_same(got, want)


@pytest.mark.parametrize("profile", ["small", "services"])
@pytest.mark.parametrize("by", ["account", ["source", "posted_by"]])
def test_summarize_equals_the_single_machine_test(client, ledgers, profile, by):
    gl = ledgers[profile]
    want = ex.summarize(gl, by, top=3)
    got = scale.examine(_dask(gl), "summarize", client=client, by=by, top=3)
    assert_same(got, want)


def test_a_test_that_does_not_shard_is_refused_naming_the_ones_that_do(client, ledgers):
    with pytest.raises(SchemaError, match=r"'gaps'.*'benford'.*nx\.examine\.gaps"):
        scale.examine(ledgers["small"], "gaps", client=client, column="entry_id")
    with pytest.raises(SchemaError, match=r"nx\.examine\.stratify takes"):
        scale.examine(ledgers["small"], "stratify", client=client, colour="red")


def test_parquet_parts_and_a_pandas_frame_are_read(client, ledgers, tmp_path):
    gl = ledgers["small"]
    cuts = np.linspace(0, len(gl), 4).astype(int)
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        gl.iloc[a:b].to_parquet(tmp_path / f"part.{i}.parquet")
    frame = pd.read_parquet(tmp_path)
    want = ex.benford(frame, test="first_two", by="account", min_rows=50)
    got = scale.examine(str(tmp_path / "*.parquet"), "benford", client=client,
                        test="first_two", by="account", min_rows=50)
    assert_same(got, want)
    assert_same(scale.examine(gl, "summarize", client=client, by="account"),
                ex.summarize(gl, "account"))



def test_empty_partitions_change_nothing(client, ledgers):
    gl = ledgers["services"]
    cut = gl["entry_id"].iloc[len(gl) // 3]
    data, rows = _dask(gl, 4), gl[gl["entry_id"] > cut]
    data = data[data["entry_id"] > cut]  # the first partition left empty
    for test, params in [("benford", {"test": "first_two", "by": "account", "min_rows": 30}),
                         ("stratify", {}), ("summarize", {"by": "account"}),
                         ("duplicates", {"same": ["account", "amount"]})]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ex.ExamineWarning)
            want = getattr(ex, test)(rows, **params)
            got = scale.examine(data, test, client=client, **params)
        assert_same(got, want)


@pytest.mark.parametrize("test, params", [("benford", {}), ("stratify", {}),
                                          ("summarize", {"by": "account"}),
                                          ("duplicates", {"same": ["account", "amount"]})])
def test_amounts_written_as_text_are_refused(client, ledgers, test, params):
    # "1,234" reads as a thousand in one partition and as 1.234 in a column whose other
    # values say decimal comma: no partition can decide it alone
    gl = ledgers["small"].assign(amount=lambda f: f["amount"].map("{:.2f}".format)
                                 .str.replace(".", ",", regex=False))
    with pytest.raises(SchemaError, match=r"written as text.*nx\.examine"):
        scale.examine(_dask(gl), test, client=client, **params)
