"""The top-k of every user on a two-worker cluster equals the model's own, in memory and
streamed to Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import NotFittedError, SchemaError, scale


@pytest.fixture(scope="module")
def data():
    return nx.datasets.synth_interactions(300, 80, seed=0)


def assert_same_top(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.drop(columns="score"), want.drop(columns="score"))
    # float32 sums of terms near 1 that cancel (Hybrid's blend) move by a few ulp of 1
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-6, atol=2e-6)


MODELS = [
    lambda: nx.recommend.EASE(regularization=50.0, device="cpu"),
    lambda: nx.recommend.ItemKNN(neighbors=20, device="cpu"),
    lambda: nx.recommend.ALS(factors=8, device="cpu", random_state=0),
    lambda: nx.recommend.Popularity(),
    lambda: nx.recommend.Hybrid(random_state=0, device="cpu"),
]


@pytest.mark.parametrize("make", MODELS, ids=["EASE", "ItemKNN", "ALS", "Popularity",
                                              "Hybrid"])
def test_every_users_top_k_equals_the_models_own(client, data, tmp_path, make):
    model = make().fit(data)
    want = model.recommend(k=7)
    got = scale.recommend(model, k=7, client=client, batch=45)  # 7 batches, the last short
    assert type(got) is type(want)
    assert got.attrs["dask"]["partitions"] == 7
    assert got.attrs["dask"]["dashboard"] in got._repr_html_()
    # the same users, items and ranks; the scores to float32 rounding: a model's float32
    # products sum in an order that follows the batch's size and the threads (BLAS
    # blocking), so on one machine too the scores move in the last bit between a call on
    # every user and calls on batches of them, or between 1 and 2 threads
    assert_same_top(got, want)
    folder = scale.recommend(model, k=7, client=client, out=tmp_path / "top.parquet")
    assert folder == tmp_path / "top.parquet"
    assert len(list(folder.glob("part-*.parquet"))) >= 2
    assert_same_top(pd.read_parquet(folder), pd.DataFrame(want))


def test_chosen_users_in_their_order_with_unknown_ones(client, data):
    model = nx.recommend.EASE(regularization=50.0, device="cpu").fit(data)
    users = np.r_[data["user_id"].unique()[::-3], [-5, -6]]  # two users fit never saw
    assert_same_top(scale.recommend(model, users, k=4, client=client),
                    model.recommend(users, k=4))


def test_bad_input_is_refused(client, data, tmp_path):
    model = nx.recommend.EASE(regularization=50.0, device="cpu")
    with pytest.raises(NotFittedError):
        scale.recommend(model, client=client)
    model.fit(data)
    with pytest.raises(SchemaError, match="k must be a positive"):
        scale.recommend(model, k=0, client=client)
    with pytest.raises(SchemaError, match="batch must be a positive"):
        scale.recommend(model, batch=0, client=client)
    with pytest.raises(SchemaError, match="recommender"):
        scale.recommend(object(), client=client)
    with pytest.raises(SchemaError, match="users is empty"):
        scale.recommend(model, [], client=client)
    (tmp_path / "there").mkdir()
    with pytest.raises(SchemaError, match="exists"):
        scale.recommend(model, client=client, out=tmp_path / "there")
