"""Recommenders for user-item interactions: collaborative, content-based and hybrid.

A kernel: frames and arrays in, frames and arrays out; it imports only base modules,
reads no environment variable and knows no service.

>>> import nexus_lab as nx
>>> data = nx.data.synth_interactions(300, 100, seed=0)
>>> train, test = nx.recommend.stratified_split(data, ratio=0.75, filter_by="item", seed=42)
>>> model = nx.recommend.EASE(regularization=50.0, device="cpu").fit(train)
>>> sorted(nx.recommend.evaluate(model, train, test, k=10))
['map', 'ndcg', 'precision', 'recall']
"""

from nexus_lab.recommend._base import Recommendations, Recommender
from nexus_lab.recommend._content import Content
from nexus_lab.recommend._demographic import Demographic
from nexus_lab.recommend._evaluate import evaluate, ranking_metrics, stratified_split
from nexus_lab.recommend._hybrid import Hybrid, default_candidates, tune
from nexus_lab.recommend._models import ALS, BPR, EASE, ItemKNN, Popularity

__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "Content",
    "Demographic",
    "Hybrid",
    "ItemKNN",
    "Popularity",
    "Recommendations",
    "Recommender",
    "datasets",
    "default_candidates",
    "evaluate",
    "ranking_metrics",
    "stratified_split",
    "tune",
]


def __getattr__(name: str):
    # ``nx.recommend.datasets`` (documented before the datasets kernel existed) is
    # nexus_lab.datasets, which also holds movielens_100k and movielens_100k_users.
    if name == "datasets":
        import nexus_lab.datasets

        return nexus_lab.datasets
    raise AttributeError(f"module 'nexus_lab.recommend' has no attribute {name!r}")
