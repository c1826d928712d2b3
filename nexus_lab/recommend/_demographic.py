"""Recommendations from who the user is: popularity within their groups (age, region...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import to_pandas
from nexus_lab.recommend._base import Recommender, check_positive


class Demographic(Recommender):
    """Score items by how much more the user's groups choose them than everybody does.

    For each user attribute (a category, or a number cut into quantile bands)
    and each of its values, the model learns the smoothed log-lift of every
    item: ``log((n_vi + s p_i) / (n_v p_i + s p_i))``, where ``n_vi`` counts
    the interactions of users with value ``v`` with item ``i``, ``n_v`` all of
    theirs, ``p_i`` the item's share of all interactions and ``s`` the
    smoothing. A user's score is the item's log-popularity plus the lifts of
    their values, naive-Bayes style. It needs no history, so it serves users
    who arrive with nothing but a profile.

    Parameters
    ----------
    user_columns : sequence of str, optional
        The attributes to use (default: every column of ``users`` but the id).
    bins : int
        Quantile bands for numeric attributes.
    smoothing : float
        ``s`` above: interactions' worth of the overall popularity mixed in.
    columns : mapping, optional
        Your names for ``user_id, item_id, rating, timestamp``.
    device : {"auto", "cpu", "cuda"}

    Attributes
    ----------
    lift_ : dict
        Attribute -> (values x items) tensor of log-lifts.
    categories_, bands_ : dict
        Attribute -> its values seen in fit; for numeric attributes, the inner
        edges of their quantile bands.
    profiles_ : dict
        Attribute -> each known user's value code (-1: unknown).

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": ["a", "a", "b", "b"]})
    >>> people = pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "group": ["x", "x", "y", "y", "y"]})
    >>> model = Demographic(device="cpu").fit(data, users=people.head(4))
    >>> model.recommend([5], k=1, users=people.tail(1))["item_id"].tolist()
    ['b']
    """

    _uses_profile = True

    def __init__(self, user_columns: Sequence[str] | None = None, bins: int = 5,
                 smoothing: float = 50.0, columns=None, device: DeviceLike = "auto") -> None:
        self.user_columns = user_columns
        self.bins = bins
        self.smoothing = smoothing
        self.columns = columns
        self.device = device

    def fit(self, interactions: object, y: object = None, users: object = None) -> Demographic:
        """Learn from interactions and the users' attributes.

        Parameters
        ----------
        interactions : DataFrame
        y : ignored
        users : DataFrame
            ``user_id`` and attribute columns, one row per user.

        Returns
        -------
        self
        """
        if users is None:
            raise SchemaError("Demographic learns from user attributes: pass users= (a table "
                              "of user_id and attributes such as age, gender, region)",
                              table="users")
        self._users = to_pandas(users, "users")
        try:
            return super().fit(interactions, y)
        finally:
            del self._users

    def _fit(self, matrix, frame) -> None:
        check_positive("bins", self.bins, integer=True)
        check_positive("smoothing", self.smoothing, allow_zero=True)
        id_col = dict(self.columns or {}).get("user_id", "user_id")
        people = self._users
        if id_col not in people:
            raise SchemaError(f"users has no {id_col!r} column (it has {list(people.columns)})",
                              table="users", column=id_col)
        attrs = list(self.user_columns) if self.user_columns is not None else [
            c for c in people.columns if c != id_col]
        missing = [a for a in attrs if a not in people]
        if not attrs or missing:
            raise SchemaError(f"users lacks the attribute columns {missing or attrs}; it has "
                              f"{list(people.columns)}", table="users")
        people = people.drop_duplicates(id_col).set_index(id_col).reindex(self.users_)
        total = np.asarray(matrix.sum(0)).ravel()
        share = (total + 1e-9) / max(total.sum(), 1e-9)
        s = float(self.smoothing)
        self.categories_, self.bands_, self.lift_, self.profiles_ = {}, {}, {}, {}
        for a in attrs:
            values = people[a]
            if pd.api.types.is_numeric_dtype(values) and values.nunique() > int(self.bins):
                qs = np.linspace(0, 1, int(self.bins) + 1)[1:-1]
                self.bands_[a] = np.unique(np.nanquantile(values.to_numpy(dtype=float),
                                                          qs)).tolist()
                n_values = len(self.bands_[a]) + 1
            else:
                self.categories_[a] = pd.unique(values.dropna()).tolist()
                n_values = len(self.categories_[a])
            codes = self._encode(a, values)
            self.profiles_[a] = codes
            known = codes >= 0
            onehot = np.zeros((n_values, len(codes)), np.float32)
            onehot[codes[known], np.flatnonzero(known)] = 1.0
            counts = np.asarray((matrix.T @ onehot.T).T)  # values x items
            n_v = counts.sum(1, keepdims=True)
            lift = np.log((counts + s * share) / (n_v * share + s * share))
            self.lift_[a] = torch.as_tensor(lift, dtype=torch.float32, device=self.device_)

    def _encode(self, attr: str, values: pd.Series) -> np.ndarray:
        """Value codes of an attribute (-1: missing, or a category fit never saw)."""
        if attr in self.bands_:
            v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            return np.where(np.isnan(v), -1, np.searchsorted(np.asarray(self.bands_[attr]), v,
                                                             "right"))
        return pd.Index(self.categories_[attr]).get_indexer(values.to_numpy())

    def _scores(self, history, codes, profile=None) -> torch.Tensor:
        dev = self.device_
        base = torch.as_tensor(np.log1p(self.popularity_), dtype=torch.float32, device=dev)
        out = base.expand(len(codes), -1).clone()
        for a, lift in self.lift_.items():
            rows = np.where(codes >= 0, self.profiles_[a][np.maximum(codes, 0)], -1)
            if profile is not None and a in profile:
                given = self._encode(a, profile[a])
                rows = np.where(given >= 0, given, rows)
            ok = rows >= 0
            if ok.any():
                at = torch.as_tensor(np.flatnonzero(ok), device=dev)
                out[at] += lift[torch.as_tensor(rows[ok], device=dev)]
        return out

    def _item_similarity(self, codes) -> torch.Tensor:
        # items are alike when the same groups favour them: cosine of their lift columns
        cols = torch.cat([lift for lift in self.lift_.values()], dim=0)
        v = torch.nn.functional.normalize(cols.T, dim=1)
        return v[torch.as_tensor(codes, device=self.device_)] @ v.T
