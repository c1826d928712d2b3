"""What every recommender shares: fitting on interactions, streamed top-k, cold start."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from nexus_lab._estimator import Params
from nexus_lab.device import resolve_device
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.recommend._data import build, prepare_interactions

_BATCH_CELLS = 1 << 24  # scores held at once while streaming top-k (users x items)
_GATHER_CELLS = 1 << 22  # below this, item-item scores are gathered rather than multiplied


class Recommendations(pd.DataFrame):
    """Top-k lists: ``user_id, item_id, score, rank``, with a notebook view."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        users = self["user_id"].nunique()
        head = self.head(20)
        rows = "".join(
            f"<tr><td>{html.escape(str(r.user_id))}</td><td>{int(r.rank)}</td>"
            f"<td>{html.escape(str(r.item_id))}</td><td>{r.score:.4f}</td></tr>"
            for r in head.itertuples())
        return (f"<div class='nexus-recs'><h4>Recommendations: {users:,} users, "
                f"{len(self):,} items</h4><table><tr><th>user</th><th>rank</th><th>item</th>"
                f"<th>score</th></tr>{rows}</table></div>")


class Recommender(Params):
    """Base of the recommenders: the estimator contract and everything but scoring.

    A subclass stores its constructor's arguments (the parameters), learns in
    ``_fit(matrix, frame)`` and scores in ``_scores(history, codes)``: the
    users' histories (a CSR matrix, users x items) and their codes in the
    training data (-1 for users it did not see), returning a (users x items)
    tensor. Users with no history at all get the cold-start scores: item
    popularity.
    """

    #: whether the model reads user attributes (``users=`` frames) and scores users with
    #: no history itself, instead of the popularity list
    _uses_profile = False

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

    def _check_fitted(self) -> None:
        if not hasattr(self, "items_"):
            raise NexusError(f"this {type(self).__name__} is not fitted yet: call "
                             "fit(interactions) first")

    # ------------------------------------------------------------- recommend
    def recommend(
        self,
        user_ids: object = None,
        k: int = 10,
        exclude_seen: bool = True,
        history: object = None,
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
        self._check_fitted()
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
                   history: object) -> sp.csr_matrix:
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
        self._check_fitted()
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

