"""A hybrid that tunes itself: each model's settings and the blend, on a validation split."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import to_pandas
from nexus_lab.recommend._base import Recommender, check_positive, mask_seen
from nexus_lab.recommend._content import Content
from nexus_lab.recommend._data import build
from nexus_lab.recommend._demographic import Demographic
from nexus_lab.recommend._evaluate import ranking_metrics, stratified_split
from nexus_lab.recommend._models import ALS, EASE, ItemKNN, Popularity

log = logging.getLogger("nexus_lab")

_MIN_GAIN = 0.001  # validation nDCG a change of the blend must add
_MAX_COLD_USERS = 2_000  # users hidden to choose the blend of new users
_MAX_VALIDATION_USERS = 5_000  # users whose validation scores are held while choosing


def default_candidates(device: DeviceLike = "auto", random_state: int = 0) -> dict[str, list]:
    """The settings :class:`Hybrid` tries for each of its models."""
    return {
        "ease": [EASE(regularization=r, device=device) for r in (100.0, 200.0, 400.0, 800.0)],
        "als": [ALS(regularization=r, unobserved_weight=a, device=device,
                    random_state=random_state)
                for r in (0.01, 0.03, 0.1) for a in (0.1, 0.3, 1.0)],
        "itemknn": [ItemKNN(neighbors=n, device=device) for n in (50, 200)],
        "content": [Content(device=device)],
        "popularity": [Popularity(device=device)],
    }


def _validation(train: pd.DataFrame, ratio: float, seed: int):
    """A validation split of ``train``; its users capped (the scores of each are held)."""
    inner, val = stratified_split(train, ratio=ratio, filter_by="item", seed=seed)
    users = pd.unique(val["user_id"].to_numpy())
    if len(users) > _MAX_VALIDATION_USERS:
        keep = np.random.default_rng(seed).choice(users, _MAX_VALIDATION_USERS, replace=False)
        val = val[val["user_id"].isin(keep)]
    return inner, val


def _val_scores(model: Recommender, val: pd.DataFrame):
    """Standardized scores of the validation users (seen items at -inf), and those users."""
    ids = pd.unique(val["user_id"].to_numpy())
    users = ids[model.users_.get_indexer(ids) >= 0]
    codes = model.users_.get_indexer(users)
    hist = model._histories(users, codes, None)
    return mask_seen(_standardize(model._scores_with_cold_start(hist, codes)), hist), users


def _standardize(scores: torch.Tensor) -> torch.Tensor:
    mean = scores.mean(1, keepdim=True)
    if scores.shape[0] == 0 or scores.shape[1] < 2:  # no user, or one item: no spread
        return scores - mean
    std = scores.std(1, keepdim=True).clamp_min(1e-12)
    return (scores - mean) / std


def _measured_k(frame: pd.DataFrame, k: int) -> int:
    """``k``, or the number of items when there are fewer (said once, as a warning)."""
    n_items = int(frame["item_id"].nunique()) if "item_id" in frame else k
    if k > n_items:
        log.warning("lists of %d items were asked for, but the interactions hold only %d "
                    "items: the validation lists are measured at %d (ask for %d or fewer to "
                    "measure what is asked)", k, n_items, n_items, n_items)
        return n_items
    return k


def _ndcg(scores: torch.Tensor, users: np.ndarray, items: pd.Index, val: pd.DataFrame,
          k: int) -> float:
    k = min(k, scores.shape[1])  # a split may hold fewer items than the whole
    top = torch.topk(scores, k, dim=1).indices.cpu().numpy()
    recs = pd.DataFrame({"user_id": np.repeat(users, k), "item_id": items.to_numpy()[top.ravel()],
                         "rank": np.tile(np.arange(1, k + 1), len(users))})
    return ranking_metrics(val, recs, k=k)["ndcg"]


def tune(candidates: Sequence[Recommender], train: object, k: int = 10, random_state: int = 0,
         validation_ratio: float = 0.75, refit: bool = True):
    """Choose among settings of a recommender on a validation split cut from ``train``.

    ``train`` is split as the benchmark splits (stratified by item,
    ``validation_ratio`` kept); each candidate is fitted on the kept part and
    scored by nDCG@k on the rest; the best is refitted on all of ``train``.
    The test split is never seen.

    Parameters
    ----------
    candidates : sequence of recommenders
        Unfitted estimators (e.g. one model with different settings).
    train : DataFrame
    k : int
    random_state : int
        Seed of the validation split.
    validation_ratio : float
    refit : bool
        Refit the best on all of ``train`` (else return it fitted on the kept part).

    Returns
    -------
    best : Recommender
    table : pandas.DataFrame
        ``candidate, params, ndcg`` per candidate, best first.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> best, table = nx.recommend.tune([nx.recommend.EASE(regularization=r, device="cpu")
    ...                                  for r in (10.0, 100.0)], data)
    >>> len(table)
    2
    """
    train = to_pandas(train, "train")
    if not candidates:
        raise SchemaError("tune needs at least one candidate model")
    check_positive("k", k, integer=True)
    k = _measured_k(train, int(k))
    inner, val = _validation(train, validation_ratio, random_state)
    rows = []
    for n, cand in enumerate(candidates):
        model = clone(cand).fit(inner)
        scores, users = _val_scores(model, val)
        rows.append({"candidate": n, "model": type(cand).__name__,
                     "params": repr(cand), "ndcg": _ndcg(scores, users, model.items_, val, k)})
    table = pd.DataFrame(rows).sort_values("ndcg", ascending=False, kind="stable")
    best = clone(candidates[int(table["candidate"].iloc[0])])
    best = best.fit(train if refit else inner)
    return best, table.reset_index(drop=True)


class Hybrid(Recommender):
    """A blend of recommenders that picks its own settings and weights.

    ``fit(train)`` cuts validation splits from ``train`` (stratified by item,
    as the benchmark splits), chooses each model's best settings on them (EASE,
    implicit ALS, item-kNN, content when the items have text, popularity),
    then the blend weights of their per-user standardized scores by
    coordinate search on validation nDCG, and refits the chosen models on all
    of ``train``. New users (unknown at fit, scored from a few interactions
    given to ``recommend(..., history=...)``) get a blend of their own, chosen
    the same way on users hidden from fitting. No test data is ever looked at.

    Parameters
    ----------
    candidates : mapping of name -> list of recommenders, optional
        The settings to try per model (default :func:`default_candidates`).
    k : int
        Cut-off of the validation nDCG.
    validation_ratio : float
        Share of ``train`` the models learn from while choosing.
    validation_splits : int
        Validation splits (different seeds) whose mean nDCG decides: one split
        of a small set is noisy enough to pick a worse blend.
    cold_history : int
        Interactions a new user is assumed to bring: a fifth of the users (at
        most 2,000) are hidden, show this many, and decide the blend used for
        users unknown at fit time (``recommend(..., history=...)``).
    weight, columns : optional
        As in the other models.
    device : {"auto", "cpu", "cuda"}
    random_state : int

    Attributes
    ----------
    models_ : dict
        The chosen models, fitted on all of ``train`` (only those in the blend).
    weights_ : dict
        Blend weight per model, for users known at fit time.
    cold_weights_ : dict
        Blend weight per model for new users (often popularity-heavy: a few
        interactions say little).
    selection_ : pandas.DataFrame
        Validation nDCG of every setting tried.
    validation_ndcg_, cold_validation_ndcg_ : float
        nDCG@k of the two blends on their validation users.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> cands = {"ease": [nx.recommend.EASE(regularization=50.0, device="cpu")],
    ...          "popularity": [nx.recommend.Popularity()]}
    >>> hybrid = nx.recommend.Hybrid(candidates=cands, device="cpu").fit(data)
    >>> set(hybrid.weights_) | set(hybrid.cold_weights_) == set(hybrid.models_)
    True
    """

    _uses_profile = True  # new users: its own blend, from their history and profile
    _state_skips = ("device", "candidates")  # the candidates are models: only fit reads them

    def __init__(self, candidates: Mapping[str, Sequence[Recommender]] | None = None,
                 k: int = 10, validation_ratio: float = 0.75, validation_splits: int = 2,
                 cold_history: int = 3, weight: str | None = None, columns=None,
                 device: DeviceLike = "auto", random_state: int = 0) -> None:
        self.candidates = candidates
        self.k = k
        self.validation_ratio = validation_ratio
        self.validation_splits = validation_splits
        self.cold_history = cold_history
        self.weight = weight
        self.columns = columns
        self.device = device
        self.random_state = random_state

    def fit(self, interactions: object, y: object = None, users: object = None) -> Hybrid:
        """Choose and fit the blend on interactions (and, optionally, user attributes).

        Parameters
        ----------
        interactions : DataFrame
        y : ignored
        users : DataFrame, optional
            ``user_id`` and attributes (age, gender, region...): a
            :class:`Demographic` model then joins the candidates, which lets
            the blend serve new users from their profile.

        Returns
        -------
        self
        """
        self._users = None
        if users is not None:  # the models see canonical names: user_id
            id_col = dict(self.columns or {}).get("user_id", "user_id")
            self._users = to_pandas(users, "users").rename(columns={id_col: "user_id"})
        try:
            return super().fit(interactions, y)
        finally:
            del self._users

    def _fit_one(self, model: Recommender, data: pd.DataFrame) -> Recommender:
        model.set_params(**_shared(model, self))
        if isinstance(model, Demographic):
            return model.fit(data, users=self._users)
        return model.fit(data)

    def _fit(self, matrix, frame) -> None:
        cands = dict(self.candidates) if self.candidates is not None else default_candidates(
            self.device, self.random_state)
        if not cands or any(not v for v in cands.values()):
            raise SchemaError("candidates must map each model name to at least one model")
        has_text = any(c in frame for c in Content().text_columns)
        if self.candidates is None and not has_text:
            cands.pop("content")
        if self.candidates is None and self._users is not None:
            cands["demographic"] = _demographic_candidates(self._users, self.device)
        if any(isinstance(m, Demographic) for v in cands.values() for m in v) and \
                self._users is None:
            raise SchemaError("a Demographic candidate needs the users' attributes: pass "
                              "users= to fit", table="users")
        check_positive("k", self.k, integer=True)
        k = _measured_k(frame, int(self.k))
        check_positive("validation_splits", self.validation_splits, integer=True)
        splits = []
        for v in range(int(self.validation_splits)):
            inner, val = _validation(frame, float(self.validation_ratio),
                                     int(self.random_state) + v)
            splits.append((val, _items_of(inner), inner))
        chosen, scores, rows = {}, {}, []
        for name, options in cands.items():
            best = None
            for cand in options:
                found, mean = [], 0.0
                for val, items, inner in splits:
                    model = self._fit_one(clone(cand), inner)
                    s, u = _val_scores(model, val)
                    found.append((s, u))
                    mean += _ndcg(s, u, items, val, k) / len(splits)
                rows.append({"model": name, "params": repr(cand), "ndcg": mean})
                if best is None or mean > best[0]:
                    best = (mean, cand, found)
            chosen[name], scores[name] = best[1], best[2]
            log.info("hybrid: %s best at validation nDCG@%d %.4f", name, k, best[0])
        weights, val_ndcg = self._blend(scores, splits, k)
        self.selection_ = pd.DataFrame(rows).sort_values(["model", "ndcg"],
                                                         ascending=[True, False])
        self.weights_ = {n: w for n, w in weights.items() if w > 0}
        self.validation_ndcg_ = val_ndcg
        cold, self.cold_validation_ndcg_ = self._cold_blend(frame, chosen, k)
        self.cold_weights_ = {n: w for n, w in cold.items() if w > 0}
        self.models_ = {}
        for name in cands:
            if name in self.weights_ or name in self.cold_weights_:
                self.models_[name] = self._fit_one(clone(chosen[name]), frame)

    def _cold_blend(self, frame: pd.DataFrame, chosen: dict, k: int):
        """The blend for new users, who arrive with a few interactions and no past.

        A share of the users is hidden from fitting; each shows its first
        ``cold_history`` interactions (in time, when there are timestamps) and
        is judged on the rest; the weights are searched as for known users.
        """
        rng = np.random.default_rng(int(self.random_state))
        users = pd.unique(frame["user_id"].to_numpy())
        n_cold = min(max(len(users) // 5, 1), _MAX_COLD_USERS)
        hidden = rng.choice(users, n_cold, replace=False)
        is_hidden = frame["user_id"].isin(hidden).to_numpy()
        theirs = frame[is_hidden]
        if "timestamp" in theirs:
            theirs = theirs.sort_values(["user_id", "timestamp"], kind="stable")
        else:
            theirs = theirs.iloc[rng.permutation(len(theirs))].sort_values("user_id",
                                                                             kind="stable")
        shown = theirs.groupby("user_id", sort=False).head(int(self.cold_history))
        judged = theirs.drop(shown.index)
        fit_on = frame[~is_hidden]
        if judged.empty or fit_on.empty:
            return dict(self.weights_), float("nan")  # too few users to tell
        scores, ids, items = {}, None, None
        ids = pd.unique(judged["user_id"].to_numpy())
        profile = None if self._users is None else self._users.drop_duplicates(
            "user_id").set_index("user_id").reindex(pd.Index(ids))
        for name, cand in chosen.items():
            model = self._fit_one(clone(cand), fit_on)
            codes = np.full(len(ids), -1)
            hist = model._histories(ids, codes, shown)
            s = _standardize(model._scores_with_cold_start(hist, codes, profile))
            scores[name] = [(mask_seen(s, hist), ids)]
            items = model.items_
        return self._blend(scores, [(judged, items, None)], k)

    def _blend(self, scores: dict, splits: list, k: int):
        """Coordinate search of the blend weights on validation nDCG (mean over splits).

        A model joins the blend, or changes weight, only when that raises the
        mean validation nDCG by at least ``_MIN_GAIN``: small gains on one
        split are mostly noise.
        """
        names = list(scores)

        def mean_ndcg(weights: dict) -> float:
            total = 0.0
            for v, (val, items, _) in enumerate(splits):
                s = sum(weights[m] * scores[m][v][0] for m in names if weights[m] > 0)
                total += _ndcg(s, scores[names[0]][v][1], items, val, k)
            return total / len(splits)

        single = {n: mean_ndcg({m: float(m == n) for m in names}) for n in names}
        best_name = max(single, key=single.get)
        weights = {n: float(n == best_name) for n in names}
        best = single[best_name]
        grid = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
        for _ in range(2):
            improved = False
            for n in names:
                if n == best_name:
                    continue
                for w in grid:
                    trial = dict(weights, **{n: w})
                    score = mean_ndcg(trial)
                    if score > best + _MIN_GAIN:
                        best, weights, improved = score, trial, True
            if not improved:
                break
        return weights, best

    def _scores(self, history, codes, profile=None) -> torch.Tensor:
        """Known users get the blend of known users; new ones (codes -1) the cold blend."""
        new = torch.as_tensor(codes < 0)
        total = None
        for name, model in self.models_.items():
            w_known, w_new = self.weights_.get(name, 0.0), self.cold_weights_.get(name, 0.0)
            s = _standardize(model._scores_with_cold_start(history, codes, profile))
            w = torch.where(new, w_new, w_known).to(s)[:, None]
            total = w * s if total is None else total + w * s
        return total

    def _item_similarity(self, codes) -> torch.Tensor:
        total = None
        for name, w in self.weights_.items():  # item to item: the known users' blend
            s = w * _standardize(self.models_[name]._item_similarity(codes).to(torch.float32))
            total = s if total is None else total + s
        return total


def _demographic_candidates(users: pd.DataFrame, device) -> list:
    """Demographic models over each attribute, each pair, and all of them (two smoothings)."""
    from itertools import combinations

    attrs = [c for c in users.columns if c != "user_id"]
    subsets = {tuple(c) for r in (1, 2) for c in combinations(attrs, r)} | {tuple(attrs)}
    return [Demographic(user_columns=list(sub), smoothing=sm, device=device)
            for sub in sorted(subsets) for sm in (20.0, 100.0)]


def _items_of(frame: pd.DataFrame) -> pd.Index:
    return build(frame, np.ones(len(frame), np.float32)).items


def _shared(model: Recommender, hybrid: Hybrid) -> dict:
    """The hybrid's weight column and device, passed on to a model that takes them.

    (The models see the hybrid's frame, whose columns already carry the canonical names.)
    """
    params = model.get_params()
    out = {"weight": hybrid.weight} if "weight" in params else {}
    if "device" in params and hybrid.device != "auto":
        out["device"] = hybrid.device
    return out
