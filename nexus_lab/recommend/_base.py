"""What every recommender shares: fitting on interactions, streamed top-k, cold start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from nexus_lab._estimator import Params, check_is_fitted, json_value, state_class
from nexus_lab._html import cluster_note, escape
from nexus_lab._typing import DeviceLike, FrameLike
from nexus_lab.device import resolve_device
from nexus_lab.errors import IntegrityError, SchemaError
from nexus_lab.recommend._data import build, prepare_interactions

_BATCH_CELLS = 1 << 24  # scores held at once while streaming top-k (users x items)
_GATHER_CELLS = 1 << 22  # below this, item-item scores are gathered rather than multiplied


class Recommendations(pd.DataFrame):
    """Top-k lists: ``user_id, item_id, score, rank``, with a notebook view (which says,
    for lists made on Dask, where: ``attrs["dask"]``)."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        users = self["user_id"].nunique()
        head = self.head(20)
        rows = "".join(
            f"<tr><td>{escape(str(r.user_id))}</td><td>{int(r.rank)}</td>"
            f"<td>{escape(str(r.item_id))}</td><td>{r.score:.4f}</td></tr>"
            for r in head.itertuples())
        return (f"<div class='nexus-recs'><h4>Recommendations: {users:,} users, "
                f"{len(self):,} items</h4>{cluster_note(self.attrs.get('dask'))}"
                "<table><tr><th>user</th><th>rank</th><th>item</th>"
                f"<th>score</th></tr>{rows}</table></div>")


class Recommender(Params):
    """Base of the recommenders: the estimator contract and everything but scoring.

    A subclass stores its constructor's arguments (the parameters), learns in
    ``_fit(matrix, frame)`` and scores in ``_scores(history, codes)``: the
    users' histories (a CSR matrix, users x items) and their codes in the
    training data (-1 for users it did not see), returning a (users x items)
    tensor. Users with no history at all get the cold-start scores: item
    popularity. A fitted model hands its learned attributes out as plain values
    with :meth:`to_state`, and :meth:`from_state` rebuilds it from them.
    """

    #: whether the model reads user attributes (``users=`` frames) and scores users with
    #: no history itself, instead of the popularity list
    _uses_profile = False
    #: parameters a state leaves out: not JSON, or not the model's own (``device``)
    _state_skips = ("device",)

    # ------------------------------------------------------------- fit
    def fit(self, interactions: object, y: object = None) -> Recommender:
        """Learn from interactions (``user_id, item_id[, rating, timestamp]``).

        Parameters
        ----------
        interactions : DataFrame
            One row per interaction (pandas, polars, pyarrow). A pair seen
            twice counts twice (its weights are summed).
        y : ignored

        Returns
        -------
        self
        """
        df, w = prepare_interactions(interactions, getattr(self, "columns", None),
                                     getattr(self, "weight", None))
        data = build(df, w, items=self._catalogue(df))
        self.users_, self.items_ = data.users, data.items
        self.seen_ = data.matrix
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        counts = np.bincount(self.seen_.indices, minlength=len(self.items_))
        self.popularity_ = counts.astype(np.float64)
        self._fit(self.seen_, df)
        return self

    def _catalogue(self, frame: pd.DataFrame) -> pd.Index | None:
        """The items to know (default: those in the interactions)."""
        return None

    def _fit(self, matrix: sp.csr_matrix, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def _scores(self, history: sp.csr_matrix, codes: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _item_similarity(self, codes: np.ndarray) -> torch.Tensor:
        """Similarity of the items ``codes`` to every item (rows x items)."""
        raise NotImplementedError

    # ------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """The fitted model as plain values: class, parameters and learned attributes.

        Returns
        -------
        dict
            ``{"class", "params", "kinds", "attributes"}``. ``params``: the
            constructor's arguments but ``device`` (and a hybrid's ``candidates``),
            as JSON. ``attributes``: every learned attribute (public, ending in
            ``_``, but ``device_``) as a plain value, and ``kinds`` says which:
            ``"tensor"`` (a torch tensor, given as a NumPy array), ``"array"``,
            ``"csr"`` (a SciPy CSR matrix), ``"index"`` (a pandas Index),
            ``"frame"`` (a DataFrame), ``"tensors"`` / ``"arrays"`` (a dict of
            tensors, given as NumPy arrays / of arrays), ``"models"`` (a dict of
            the states of fitted models: a hybrid's) or ``"json"``. Arrays are
            shared with the model, not copied: treat them as read-only.
            :func:`nexus_lab.artifacts.save_recommender` writes it to a folder.

        Raises
        ------
        NotFittedError
            When the model is not fitted.

        Examples
        --------
        >>> import nexus_lab as nx
        >>> data = nx.datasets.synth_interactions(200, 60, seed=0)
        >>> model = nx.recommend.EASE(regularization=50.0, device="cpu").fit(data)
        >>> state = model.to_state()
        >>> state["class"], state["kinds"]["B_"], state["attributes"]["B_"].shape
        ('EASE', 'tensor', (60, 60))
        >>> again = nx.recommend.Recommender.from_state(state, device="cpu")
        >>> again.recommend([1, 2], k=3).equals(model.recommend([1, 2], k=3))
        True
        """
        check_is_fitted(self, fit_call="fit(interactions)")
        name = type(self).__name__
        params = {k: v for k, v in self.get_params().items() if k not in self._state_skips}
        kinds: dict[str, str] = {}
        attributes: dict[str, Any] = {}
        for attr, value in vars(self).items():
            if not attr.endswith("_") or attr.startswith("_") or attr == "device_":
                continue
            if isinstance(value, torch.Tensor):
                kind, value = "tensor", _numpy(value)
            elif isinstance(value, np.ndarray):
                kind = "array"
            elif sp.issparse(value):
                kind, value = "csr", value.tocsr()
            elif isinstance(value, pd.Index):
                kind = "index"
            elif isinstance(value, pd.DataFrame):
                kind = "frame"
            elif isinstance(value, dict) and value and all(
                    isinstance(v, torch.Tensor) for v in value.values()):
                kind, value = "tensors", {k: _numpy(v) for k, v in value.items()}
            elif isinstance(value, dict) and value and all(
                    isinstance(v, np.ndarray) for v in value.values()):
                kind = "arrays"
            elif isinstance(value, dict) and value and all(
                    isinstance(v, Recommender) for v in value.values()):
                kind, value = "models", {k: v.to_state() for k, v in value.items()}
            else:
                kind, value = "json", json_value(value, f"{name}.{attr}")
            kinds[attr], attributes[attr] = kind, value
        return {"class": name, "params": json_value(params, f"{name} parameters"),
                "kinds": kinds, "attributes": attributes}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: DeviceLike = "auto") -> Recommender:
        """The fitted model a :meth:`to_state` state describes.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_state`.
        device : {"auto", "cpu", "cuda"}
            Where the model (and a hybrid's models) score; its ``device`` parameter
            is set to the device chosen.

        Returns
        -------
        Recommender
            Of the class the state names (``Recommender.from_state`` takes any
            recommender's state, ``EASE.from_state`` an EASE's).

        Raises
        ------
        IntegrityError
            When the state names a class that is not a NEXUS Lab recommender, or an
            attribute of a kind it does not know.

        Examples
        --------
        >>> import nexus_lab as nx
        >>> data = nx.datasets.synth_interactions(200, 60, seed=0)
        >>> model = nx.recommend.Popularity().fit(data)
        >>> again = nx.recommend.Popularity.from_state(model.to_state(), device="cpu")
        >>> again.recommend([1], k=3)["item_id"].tolist() == model.recommend([1], k=3)[
        ...     "item_id"].tolist()
        True
        """
        target = state_class(state, cls, "recommender")
        dev = resolve_device(device)
        defaults = target._param_defaults()
        # JSON has no tuples: a parameter whose default is a tuple gets one back
        params = {k: tuple(v) if isinstance(defaults.get(k), tuple) and isinstance(v, list)
                  else v for k, v in state["params"].items()}
        model = target(**params)
        if "device" in defaults:
            model.device = str(dev)
        model.device_ = dev
        for attr, kind in state["kinds"].items():
            value = state["attributes"][attr]
            if kind == "tensor":
                value = torch.as_tensor(value).to(dev)
            elif kind == "tensors":
                value = {k: torch.as_tensor(v).to(dev) for k, v in value.items()}
            elif kind == "csr":
                value = sp.csr_matrix(value)
            elif kind == "models":
                value = {k: Recommender.from_state(sub, dev) for k, sub in value.items()}
            elif kind not in ("array", "index", "frame", "arrays", "json"):
                raise IntegrityError(f"the {target.__name__} state gives {attr} the kind "
                                     f"{kind!r}, which recommenders do not have; it is refused")
            setattr(model, attr, value)
        return model

    # ------------------------------------------------------------- recommend
    def recommend(
        self,
        user_ids: object = None,
        k: int = 10,
        exclude_seen: bool = True,
        history: FrameLike = None,
        users: object = None,
    ) -> Recommendations:
        """The top ``k`` items of each user, best first.

        Parameters
        ----------
        user_ids : sequence, scalar or None
            The users; ``None`` means every user seen in :meth:`fit`.
        k : int
            Items per user.
        exclude_seen : bool
            Leave out the items a user interacted with (in fit, or in ``history``).
        history : DataFrame, optional
            Interactions of users (new or known) to take into account at once,
            without refitting: a new user with a few interactions gets
            recommendations from them. Users with no history at all get the
            cold-start list (the most popular items).
        users : DataFrame, optional
            Attributes of users unknown at fit (``user_id`` and the columns
            given to ``fit(..., users=)``), for models that read them
            (:class:`Demographic`, and :class:`Hybrid` when it blends one).

        Returns
        -------
        Recommendations
            ``user_id, item_id, score, rank``; scores are comparable within a
            user.
        """
        check_is_fitted(self, fit_call="fit(interactions)")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise SchemaError(f"k must be a positive whole number, got {k!r}")
        profile = users
        users = _as_ids(self.users_ if user_ids is None else user_ids)
        codes = self._codes(users)
        hist = self._histories(users, codes, history)
        profile = self._profile(users, profile) if self._uses_profile else None
        k = min(int(k), len(self.items_))
        out_items, out_scores, out_rows = [], [], []
        batch = max(1, _BATCH_CELLS // max(len(self.items_), 1))
        for s in range(0, len(users), batch):
            h = hist if len(users) <= batch else hist[s : s + batch]
            c = codes[s : s + batch]
            p = None if profile is None else profile.iloc[s : s + batch]
            scores = self._scores_with_cold_start(h, c, p)
            if exclude_seen:
                mask_seen(scores, h)
            top = torch.topk(scores, k, dim=1)
            vals = top.values.cpu().numpy()
            idx = top.indices.cpu().numpy()
            rows = np.broadcast_to(np.arange(s, s + len(c))[:, None], vals.shape)
            ok = np.isfinite(vals)
            if ok.all():  # the usual case: k items for everybody
                out_items.append(idx.ravel())
                out_scores.append(vals.ravel())
                out_rows.append(rows.ravel())
            else:
                out_items.append(idx[ok])
                out_scores.append(vals[ok])
                out_rows.append(rows[ok])
        rows = np.concatenate(out_rows) if out_rows else np.zeros(0, np.int64)
        items = np.concatenate(out_items) if out_items else np.zeros(0, np.int64)
        scores = np.concatenate(out_scores) if out_scores else np.zeros(0, np.float32)
        if len(rows) == k * len(users):
            rank = np.tile(np.arange(1, k + 1), len(users))
        else:
            first = np.r_[0, np.flatnonzero(np.diff(rows)) + 1] if len(rows) else rows
            rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)])) + 1
        return Recommendations({
            "user_id": users[rows],
            "item_id": self.items_.to_numpy()[items],
            "score": scores.astype(np.float64),
            "rank": rank.astype(np.int64),
        }, copy=False)

    def _codes(self, users: np.ndarray) -> np.ndarray:
        """Each user's row in the fitted data (-1 for users it did not see)."""
        if len(users) > 8:
            return self.users_.get_indexer(users)
        out = np.full(len(users), -1, np.int64)  # a few: look-ups beat building a table
        for n, u in enumerate(users):
            try:
                found = self.users_.get_loc(u)
            except (KeyError, TypeError):
                continue
            if isinstance(found, (int, np.integer)):
                out[n] = found
        return out

    def _histories(self, users: np.ndarray, codes: np.ndarray,
                   history: FrameLike) -> sp.csr_matrix:
        """Each user's interactions: from fit, plus ``history`` (folded in)."""
        hist = _rows(self.seen_, codes)
        if history is not None:
            df, w = prepare_interactions(history, getattr(self, "columns", None),
                                         getattr(self, "weight", None), name="history")
            extra = build(df, w, users=pd.Index(users), items=self.items_).matrix
            hist = hist + extra
            hist.eliminate_zeros()
        return hist.tocsr()

    def _profile(self, users: np.ndarray, frame: object) -> pd.DataFrame | None:
        """The attributes of ``users`` given at recommendation time, row-aligned (or None)."""
        if frame is None:
            return None
        from nexus_lab.frames import to_pandas

        frame = to_pandas(frame, "users")
        column = dict(getattr(self, "columns", None) or {}).get("user_id", "user_id")
        if column not in frame:
            raise SchemaError(f"users has no {column!r} column (it has {list(frame.columns)}); "
                              "give one row per user with their attributes", table="users",
                              column=column)
        return frame.drop_duplicates(column).set_index(column).reindex(pd.Index(users))

    def _scores_with_cold_start(self, hist: sp.csr_matrix, codes: np.ndarray,
                                profile: pd.DataFrame | None = None) -> torch.Tensor:
        if self._uses_profile:  # it scores users without history itself
            return self._scores(hist, codes, profile).to(torch.float32)
        scores = self._scores(hist, codes).to(torch.float32)
        cold = (np.diff(hist.indptr) == 0) & (codes < 0)
        if cold.any():
            scores[torch.as_tensor(cold, device=scores.device)] = self._popularity_scores()
        return scores

    def _popularity_scores(self) -> torch.Tensor:
        return torch.as_tensor(np.log1p(self.popularity_), dtype=torch.float32,
                               device=self.device_)

    # ------------------------------------------------------------- similar items
    def similar_items(self, item_ids: object, k: int = 10) -> pd.DataFrame:
        """The ``k`` items most similar to each of ``item_ids`` (itself left out).

        Returns
        -------
        pandas.DataFrame
            ``item_id, similar_item_id, score, rank``.
        """
        check_is_fitted(self, fit_call="fit(interactions)")
        items = _as_ids(item_ids)
        codes = self.items_.get_indexer(items)
        if (codes < 0).any():
            missing = items[codes < 0][:5].tolist()
            raise SchemaError(f"similar_items: items {missing} were not in the interactions "
                              "the model was fitted on", column="item_id", rows=missing)
        k = min(int(k), len(self.items_) - 1)
        sim = self._item_similarity(codes).to(torch.float32).clone()
        sim[torch.arange(len(codes)), torch.as_tensor(codes)] = -torch.inf
        top = torch.topk(sim, k, dim=1)
        return pd.DataFrame({
            "item_id": np.repeat(items, k),
            "similar_item_id": self.items_.to_numpy()[top.indices.cpu().numpy().ravel()],
            "score": top.values.cpu().numpy().ravel().astype(np.float64),
            "rank": np.tile(np.arange(1, k + 1), len(items)),
        })


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def mask_seen(scores: torch.Tensor, history: sp.csr_matrix) -> torch.Tensor:
    """Set each user's (row's) scores of the items in their history to -inf, in place."""
    if history.nnz:
        rows = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
        scores[torch.as_tensor(rows, device=scores.device),
               torch.as_tensor(history.indices, device=scores.device)] = -torch.inf
    return scores


def _rows(matrix: sp.csr_matrix, codes: np.ndarray) -> sp.csr_matrix:
    """The rows ``codes`` of a CSR matrix; a code of -1 gives an empty row."""
    codes = np.asarray(codes)
    start = np.where(codes >= 0, matrix.indptr[np.maximum(codes, 0)], 0)
    stop = np.where(codes >= 0, matrix.indptr[np.maximum(codes, 0) + 1], 0)
    lengths = stop - start
    indptr = np.r_[0, np.cumsum(lengths)]
    take = np.repeat(start - indptr[:-1], lengths) + np.arange(indptr[-1])
    return sp.csr_matrix((matrix.data[take], matrix.indices[take], indptr),
                         shape=(len(codes), matrix.shape[1]))


def _as_ids(ids: object) -> np.ndarray:
    if isinstance(ids, (pd.Index, pd.Series, np.ndarray, list, tuple, Sequence)) and not \
            isinstance(ids, str):
        return np.asarray(list(ids) if isinstance(ids, (list, tuple)) else ids)
    return np.asarray([ids])


def sparse_rows(matrix: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """A SciPy sparse matrix as a torch sparse (COO) float32 tensor on ``device``."""
    m = matrix.tocsr()
    m.sum_duplicates()  # canonical: sorted, unique entries (a no-op when they already are)
    m = m.tocoo()
    index = torch.as_tensor(np.vstack([m.row, m.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.as_tensor(m.data, dtype=torch.float32),
                                   size=m.shape, is_coalesced=True,
                                   check_invariants=False).to(device)


def history_times(history: sp.csr_matrix, matrix: torch.Tensor) -> torch.Tensor:
    """``history @ matrix`` for a dense item x item ``matrix``.

    A few users (a request for one user's list): the rows of ``matrix`` their
    items pick, weighted and added, which costs far less than a sparse product;
    many users: the sparse product.
    """
    if history.nnz * matrix.shape[1] <= _GATHER_CELLS:
        dev = matrix.device
        rows = torch.as_tensor(np.repeat(np.arange(history.shape[0]), np.diff(history.indptr)),
                               device=dev)
        picked = matrix[torch.as_tensor(history.indices, device=dev)]
        weights = torch.as_tensor(history.data, dtype=matrix.dtype, device=dev)
        # a (users x picked rows) matrix of the weights, times the picked rows: one matmul
        select = torch.zeros(history.shape[0], history.nnz, dtype=matrix.dtype, device=dev)
        select[rows, torch.arange(history.nnz, device=dev)] = weights
        return select @ picked
    return sparse_rows(history, matrix.device) @ matrix


def check_positive(name: str, value: object, integer: bool = False,
                   allow_zero: bool = False) -> None:
    """Refuse a hyperparameter that is not a positive number."""
    ok = isinstance(value, (int, np.integer) if integer else (int, float, np.number)) \
        and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "whole number" if integer else "number"
        raise SchemaError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                          f"{kind}, got {value!r}")

