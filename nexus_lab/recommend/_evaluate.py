"""The evaluation protocol everyone reports: a stratified random split and top-k metrics.

Both follow the Microsoft ``recommenders`` benchmark (``examples/06_benchmarks``)
to the row: :func:`stratified_split` draws the same random numbers as its
``python_stratified_split`` and :func:`ranking_metrics` computes its
``precision_at_k``, ``recall_at_k``, ``ndcg_at_k`` and ``map`` (the "MAP" of its
benchmark table); ``tests/test_recommend.py`` checks both against the package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import to_pandas


def stratified_split(
    data: FrameLike,
    ratio: float | Sequence[float] = 0.75,
    filter_by: str = "user",
    seed: int = 42,
    min_rating: int = 1,
    col_user: str = "user_id",
    col_item: str = "item_id",
) -> list[pd.DataFrame]:
    """Split interactions at random, the same share of every user's (or item's) rows.

    Rows are ordered by user (or item) and a uniform random number drawn for
    every row in input order; each group's first ``round(ratio * n)`` rows go
    to the first split. This reproduces ``recommenders``'
    ``python_stratified_split`` exactly (same rows, same order).

    Parameters
    ----------
    data : DataFrame
        Interactions.
    ratio : float or sequence of float
        Share of the first split, or the shares of several splits (normalized
        to sum to 1).
    filter_by : {"user", "item"}
        The groups within which rows are shared out.
    seed : int
        Seed of the random numbers.
    min_rating : int
        Groups with fewer rows are dropped first.
    col_user, col_item : str
        Column names.

    Returns
    -------
    list of pandas.DataFrame
        The splits, each keeping the input's index labels.

    Examples
    --------
    >>> df = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2], "item_id": [1, 2, 3, 4, 1, 2]})
    >>> train, test = stratified_split(df, ratio=0.5, seed=0)
    >>> len(train), len(test)
    (3, 3)
    """
    df = to_pandas(data, "interactions")
    if filter_by not in ("user", "item"):
        raise SchemaError(f"filter_by must be 'user' or 'item', got {filter_by!r}")
    if min_rating < 1:
        raise SchemaError(f"min_rating must be at least 1, got {min_rating}")
    if isinstance(ratio, (int, float)):
        if not 0 < ratio < 1:
            raise SchemaError(f"ratio must be between 0 and 1, got {ratio}")
        ratios = [float(ratio), 1.0 - float(ratio)]
    else:
        ratios = [float(r) for r in ratio]
        if not ratios or min(ratios) <= 0:
            raise SchemaError(f"every ratio must be above 0, got {list(ratio)}")
        if math.fsum(ratios) != 1.0:
            total = math.fsum(ratios)
            ratios = [r / total for r in ratios]
    column = col_user if filter_by == "user" else col_item
    if column not in df:
        raise SchemaError(f"interactions have no column {column!r} to split by",
                          column=column)
    if min_rating > 1:
        sizes = df.groupby(column)[column].transform("size").to_numpy()
        df = df[sizes >= min_rating]
    random = np.random.RandomState(seed).rand(len(df))
    codes, _ = pd.factorize(df[column], sort=True)
    order = np.lexsort((random, codes))
    group = codes[order]
    count = np.bincount(group)[group]
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    rank = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)])) + 1
    ordered = df.iloc[order]
    out, prev = [], None
    for threshold in np.cumsum(ratios):
        take = rank <= np.round(threshold * count)
        if prev is not None:
            take &= rank > np.round(prev * count)
        out.append(ordered[take])
        prev = threshold
    return out


def ranking_metrics(test: object, recommendations: object, k: int = 10,
                    col_user: str = "user_id", col_item: str = "item_id") -> dict[str, float]:
    """Precision, recall, nDCG and MAP at ``k`` of top-k lists against held-out rows.

    Every held-out interaction is relevant (binary relevance). Definitions as in
    ``recommenders``: precision and recall are averaged over the users that have
    both held-out rows and recommendations; nDCG over all users with held-out
    rows (a user without recommendations scores 0); MAP is the sum over hits of
    (hits so far / rank), divided by the user's held-out rows, averaged like
    precision.

    Parameters
    ----------
    test : DataFrame
        Held-out interactions (``user_id, item_id``).
    recommendations : DataFrame
        ``user_id, item_id, rank`` (1 = best), e.g. from ``model.recommend``.
    k : int
        Cut-off.

    Returns
    -------
    dict
        ``precision, recall, ndcg, map``.

    Examples
    --------
    >>> test = pd.DataFrame({"user_id": [1, 1], "item_id": [5, 6]})
    >>> recs = pd.DataFrame({"user_id": [1, 1], "item_id": [6, 7], "rank": [1, 2]})
    >>> round(ranking_metrics(test, recs, k=2)["precision"], 3)
    0.5
    """
    test = to_pandas(test, "test")[[col_user, col_item]]
    recs = to_pandas(recommendations, "recommendations")
    recs = recs.loc[recs["rank"] <= k, [col_user, col_item, "rank"]]
    users = pd.Index(pd.unique(test[col_user].to_numpy()))
    tu = users.get_indexer(test[col_user].to_numpy())
    actual = np.bincount(tu, minlength=len(users)).astype(np.float64)
    ru = users.get_indexer(recs[col_user].to_numpy())
    recs, ru = recs[ru >= 0], ru[ru >= 0]
    common = np.zeros(len(users), bool)
    common[ru] = True
    n_common = int(common.sum())
    if n_common == 0 or len(users) == 0:
        return {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0}
    hit = pd.MultiIndex.from_arrays([recs[col_user].to_numpy(), recs[col_item].to_numpy()]) \
        .isin(pd.MultiIndex.from_arrays([test[col_user].to_numpy(), test[col_item].to_numpy()]))
    hu = ru[hit]
    rank = recs["rank"].to_numpy(dtype=np.float64)[hit]
    hits = np.bincount(hu, minlength=len(users)).astype(np.float64)
    precision = (hits / k).sum() / n_common
    recall = (hits / actual).sum() / n_common
    dcg = np.bincount(hu, weights=1.0 / np.log1p(rank), minlength=len(users))
    ideal_terms = 1.0 / np.log1p(np.arange(1, k + 1, dtype=np.float64))
    idcg = np.cumsum(ideal_terms)[np.minimum(actual, k).astype(int) - 1]
    ndcg = float(np.mean(dcg / idcg))
    # MAP: hits so far over rank, per hit in rank order
    order = np.lexsort((rank, hu))
    hu_o, rank_o = hu[order], rank[order]
    first = np.r_[0, np.flatnonzero(np.diff(hu_o)) + 1]
    so_far = np.arange(len(hu_o)) - np.repeat(first, np.diff(np.r_[first, len(hu_o)])) + 1
    rr = np.bincount(hu_o, weights=so_far / rank_o, minlength=len(users))
    mean_ap = (rr / actual).sum() / n_common
    return {"precision": float(precision), "recall": float(recall), "ndcg": ndcg,
            "map": float(mean_ap)}


def evaluate(model, train: object, test: object, k: int = 10,
             users: Sequence[object] | None = None) -> dict[str, float]:
    """Top-``k`` metrics of a fitted recommender on held-out interactions.

    Recommends ``k`` items to every user of ``test`` that the model knows
    (as the benchmark predicts for the users of its training split), items seen
    in ``train`` removed, and scores them with :func:`ranking_metrics`.

    Parameters
    ----------
    model : fitted recommender
    train : DataFrame
        The interactions the model was fitted on (their items are excluded).
    test : DataFrame
        Held-out interactions.
    k : int
        Cut-off.
    users : sequence, optional
        Recommend to these users instead.

    Returns
    -------
    dict
        ``precision, recall, ndcg, map``.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(200, 100, seed=0)
    >>> train, test = nx.recommend.stratified_split(data, seed=0)
    >>> model = nx.recommend.Popularity().fit(train)
    >>> sorted(nx.recommend.evaluate(model, train, test))
    ['map', 'ndcg', 'precision', 'recall']
    """
    test = to_pandas(test, "test")
    train = to_pandas(train, "train")
    pairs = len(train[["user_id", "item_id"]].drop_duplicates())
    if pairs != model.seen_.nnz:
        raise SchemaError(
            f"evaluate: the model was fitted on {model.seen_.nnz:,} user-item pairs but train "
            f"holds {pairs:,}; pass the interactions the model was fitted on as train (their "
            "items are the ones removed from the recommendations)", table="train")
    if users is None:
        ids = pd.unique(test["user_id"].to_numpy())
        users = ids[model.users_.get_indexer(ids) >= 0]
    recs = model.recommend(users, k=k, exclude_seen=True)
    return ranking_metrics(test, recs, k=k)
