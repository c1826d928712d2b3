"""Collaborative recommenders: popularity, implicit ALS, EASE, BPR and item-kNN.

Every model is written against torch tensors, so the code that runs on the CPU
is the code that runs on CUDA (``device="auto"``).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError
from nexus_lab.recommend._base import Recommender, check_positive, history_times, sparse_rows

_MAX_DENSE_ITEMS = 40_000  # item x item models keep a dense matrix


def _dense_items(model: str, n_items: int) -> None:
    if n_items > _MAX_DENSE_ITEMS:
        raise SchemaError(
            f"{model} keeps an item x item matrix and the interactions hold {n_items:,} items "
            f"(at most {_MAX_DENSE_ITEMS:,}); use ALS or BPR for catalogues this large, or "
            "keep the items with enough interactions")


class Popularity(Recommender):
    """Recommend the most interacted-with items: the baseline every model must beat.

    Attributes
    ----------
    users_, items_ : pandas.Index
        Ids seen in fit, in code order.
    popularity_ : numpy.ndarray
        Interactions per item.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": ["a", "b", "a", "c"]})
    >>> Popularity().fit(df).recommend([3], k=1)["item_id"].tolist()
    ['a']
    """


    def __init__(self, columns=None, device: DeviceLike = "cpu") -> None:
        self.columns = columns
        self.device = device

    def _fit(self, matrix, frame) -> None:
        pass

    def _scores(self, history, codes) -> torch.Tensor:
        return self._popularity_scores().expand(len(codes), -1).clone()

    def _item_similarity(self, codes) -> torch.Tensor:
        return self._popularity_scores().expand(len(codes), -1).clone()


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, 2019): a closed-form item-item model.

    ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹``; a user's scores are
    their history times ``B``. Strong on small and medium catalogues; the
    item x item matrix limits it to tens of thousands of items.

    Parameters
    ----------
    regularization : float
        λ, the L2 penalty (larger for more interactions).
    weight : str, optional
        Column whose values weigh interactions (default: each counts 1).
    columns : mapping, optional
        Your names for ``user_id, item_id, rating, timestamp``.
    device : {"auto", "cpu", "cuda"}

    Attributes
    ----------
    B_ : torch.Tensor
        The item x item weights.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> model = nx.recommend.EASE(regularization=50.0, device="cpu").fit(data)
    >>> model.recommend(data["user_id"].iloc[:2], k=3).shape
    (6, 4)
    """


    def __init__(self, regularization: float = 400.0, weight: str | None = None, columns=None,
                 device: DeviceLike = "auto") -> None:
        self.regularization = regularization
        self.weight = weight
        self.columns = columns
        self.device = device

    def _fit(self, matrix, frame) -> None:
        check_positive("regularization", self.regularization)
        _dense_items("EASE", matrix.shape[1])
        g = torch.as_tensor((matrix.T @ matrix).toarray(), dtype=torch.float64,
                            device=self.device_)
        g.diagonal().add_(float(self.regularization))
        p = torch.linalg.inv(g)
        b = -p / p.diagonal()[None, :]
        b.diagonal().zero_()
        self.B_ = b.to(torch.float32).contiguous()  # rows are gathered: keep them whole

    def _scores(self, history, codes) -> torch.Tensor:
        return history_times(history, self.B_)

    def _item_similarity(self, codes) -> torch.Tensor:
        return self.B_[:, torch.as_tensor(codes, device=self.device_)].T


class ItemKNN(Recommender):
    """Item-based nearest neighbours: cosine similarity of the items' user vectors.

    Parameters
    ----------
    neighbors : int
        Neighbours kept per item.
    shrink : float
        Added to the cosine's denominator: pairs with few common users count less.
    weight, columns, device
        As in :class:`EASE`.

    Attributes
    ----------
    similarity_ : torch.Tensor
        Item x item similarities (only each item's ``neighbors`` largest kept).

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> nx.recommend.ItemKNN(neighbors=20, device="cpu").fit(data).similar_items(
    ...     [data["item_id"].iloc[0]], k=2).shape
    (2, 4)
    """


    def __init__(self, neighbors: int = 100, shrink: float = 10.0, weight: str | None = None,
                 columns=None, device: DeviceLike = "auto") -> None:
        self.neighbors = neighbors
        self.shrink = shrink
        self.weight = weight
        self.columns = columns
        self.device = device

    def _fit(self, matrix, frame) -> None:
        check_positive("neighbors", self.neighbors, integer=True)
        check_positive("shrink", self.shrink, allow_zero=True)
        _dense_items("ItemKNN", matrix.shape[1])
        co = torch.as_tensor((matrix.T @ matrix).toarray(), dtype=torch.float32,
                             device=self.device_)
        norm = co.diagonal().clamp_min(0).sqrt()
        sim = co / (norm[:, None] * norm[None, :] + float(self.shrink) + 1e-9)
        sim.diagonal().zero_()
        self.similarity_ = _keep_top(sim, int(self.neighbors))

    def _scores(self, history, codes) -> torch.Tensor:
        return history_times(history, self.similarity_)

    def _item_similarity(self, codes) -> torch.Tensor:
        return self.similarity_[:, torch.as_tensor(codes, device=self.device_)].T


def _keep_top(sim: torch.Tensor, neighbors: int) -> torch.Tensor:
    """Keep each column's ``neighbors`` largest entries (the items that vote for it)."""
    n = sim.shape[0]
    if neighbors >= n:
        return sim
    top = torch.topk(sim, neighbors, dim=0).indices
    keep = torch.zeros_like(sim, dtype=torch.bool)
    keep.scatter_(0, top, True)
    return torch.where(keep, sim, torch.zeros((), dtype=sim.dtype, device=sim.device))


class ALS(Recommender):
    """Implicit-feedback matrix factorization by alternating least squares.

    Minimizes, over user vectors ``w_u`` and item vectors ``h_i``::

        Σ_(u,i) observed  c_ui (1 - w_u·h_i)²  +  α₀ Σ_(u,i) all  (w_u·h_i)²
        + λ Σ_u (n_u + α₀ n_items) |w_u|²  +  λ Σ_i (n_i + α₀ n_users) |h_i|²

    with ``c_ui = 1 + alpha * weight``: Hu, Koren and Volinsky's weighted
    least squares, with the unobserved weight ``α₀`` and the
    frequency-scaled regularization of Rendle et al.'s "Revisiting the
    performance of iALS" (2021). Each half-step is solved for all users (or
    items) at once by a few steps of conjugate gradient in torch, warm-started
    from the previous iterate; the same code runs on CUDA.

    Parameters
    ----------
    factors : int
        Length of the vectors.
    regularization : float
        λ (scaled by each user's and item's count, as above).
    alpha : float
        Confidence added per unit of weight of an observed interaction.
    iterations : int
        Alternations (a user step and an item step each).
    unobserved_weight : float
        α₀, the weight of every unobserved pair (pushed towards 0).
    cg_steps : int
        Conjugate-gradient steps per half-step.
    init_std : float
        Standard deviation of the initial vectors (divided by sqrt(factors)).
    weight, columns
        As in :class:`EASE`.
    device : {"auto", "cpu", "cuda"}
    random_state : int

    Attributes
    ----------
    user_factors_, item_factors_ : torch.Tensor
        ``(n_users, factors)`` and ``(n_items, factors)``.
    loss_ : list of float
        The objective after each iteration.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> als = nx.recommend.ALS(factors=8, iterations=3, device="cpu").fit(data)
    >>> tuple(als.item_factors_.shape)
    (80, 8)
    """


    def __init__(self, factors: int = 64, regularization: float = 0.03, alpha: float = 1.0,
                 iterations: int = 15, unobserved_weight: float = 0.3, cg_steps: int = 3,
                 init_std: float = 0.1, weight: str | None = None, columns=None,
                 device: DeviceLike = "auto", random_state: int = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.unobserved_weight = unobserved_weight
        self.cg_steps = cg_steps
        self.init_std = init_std
        self.weight = weight
        self.columns = columns
        self.device = device
        self.random_state = random_state

    def _fit(self, matrix, frame) -> None:
        for name, integer in (("factors", True), ("iterations", True), ("cg_steps", True),
                              ("regularization", False), ("init_std", False)):
            check_positive(name, getattr(self, name), integer=integer)
        check_positive("alpha", self.alpha, allow_zero=True)
        check_positive("unobserved_weight", self.unobserved_weight, allow_zero=True)
        dev, f = self.device_, int(self.factors)
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        n_users, n_items = matrix.shape
        by_user = _Observed.of(matrix, self.alpha, dev)
        by_item = _Observed.of(matrix.T, self.alpha, dev)
        scale = float(self.init_std) / np.sqrt(f)
        users = (torch.randn(n_users, f, generator=gen) * scale).to(dev)
        items = (torch.randn(n_items, f, generator=gen) * scale).to(dev)
        a0 = float(self.unobserved_weight)
        lam_u = self._penalty(by_user.counts, n_items)
        lam_i = self._penalty(by_item.counts, n_users)
        self.loss_ = []
        for _ in range(int(self.iterations)):
            users = _cg_solve(users, items, by_user, a0, lam_u, int(self.cg_steps))
            items = _cg_solve(items, users, by_item, a0, lam_i, int(self.cg_steps))
            self.loss_.append(self._loss(users, items, by_user, lam_u, lam_i))
        self.user_factors_, self.item_factors_ = users, items

    def _penalty(self, counts: torch.Tensor, others: int) -> torch.Tensor:
        return float(self.regularization) * (counts.to(torch.float32)
                                             + float(self.unobserved_weight) * others)

    def _loss(self, users, items, by_user, lam_u, lam_i) -> float:
        a0 = float(self.unobserved_weight)
        pred = by_user.dots(users, items)
        observed = (by_user.conf * (1 - pred) ** 2 - a0 * pred**2).sum()
        everything = a0 * ((users.T @ users) * (items.T @ items)).sum()
        penalty = (lam_u * (users**2).sum(1)).sum() + (lam_i * (items**2).sum(1)).sum()
        return float(observed + everything + penalty)

    def _user_vectors(self, history: sp.csr_matrix, codes: np.ndarray) -> torch.Tensor:
        dev = self.device_
        out = self.user_factors_[torch.as_tensor(np.maximum(codes, 0), device=dev)].clone()
        new = np.flatnonzero(codes < 0)
        if len(new):  # fold in: solve the user step for them, the items held fixed
            seen = _Observed.of(history[new], self.alpha, dev)
            lam = self._penalty(seen.counts, self.item_factors_.shape[0])
            start = torch.zeros(len(new), self.item_factors_.shape[1], device=dev)
            out[torch.as_tensor(new, device=dev)] = _cg_solve(
                start, self.item_factors_, seen, float(self.unobserved_weight), lam,
                4 * int(self.cg_steps))
        return out

    def _scores(self, history, codes) -> torch.Tensor:
        return self._user_vectors(history, codes) @ self.item_factors_.T

    def _item_similarity(self, codes) -> torch.Tensor:
        v = torch.nn.functional.normalize(self.item_factors_, dim=1)
        return v[torch.as_tensor(codes, device=self.device_)] @ v.T


class _Observed:
    """The observed entries of a sparse matrix as torch CSR: pattern, confidences, counts.

    ``dots(x, y)`` gives ``x[r] · y[c]`` for every entry (a sampled dense-dense
    product: no entry's vectors are gathered into memory), and ``times(values,
    y)`` the sparse-dense product of the entries' ``values`` with ``y``.
    """

    def __init__(self, crow, col, conf, shape):
        self.crow, self.col, self.conf, self.shape = crow, col, conf, shape
        self.pattern = _csr(crow, col, torch.ones_like(conf), shape)
        self.counts = crow.diff()

    @classmethod
    def of(cls, matrix, alpha: float, device: torch.device) -> _Observed:
        m = sp.csr_matrix(matrix)
        m.sum_duplicates()
        conf = 1.0 + float(alpha) * torch.as_tensor(m.data, dtype=torch.float32)
        return cls(torch.as_tensor(m.indptr, dtype=torch.int64).to(device),
                   torch.as_tensor(m.indices, dtype=torch.int64).to(device),
                   conf.to(device), m.shape)

    def dots(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.conf.numel() == 0:
            return self.conf.clone()
        return torch.sparse.sampled_addmm(self.pattern, x, y.T, beta=0.0).values()

    def times(self, values: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _csr(self.crow, self.col, values, self.shape) @ y


def _csr(crow, col, values, shape) -> torch.Tensor:
    with warnings.catch_warnings():  # torch calls its (long-standing) CSR support "beta"
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


def _cg_solve(x, other, seen: _Observed, a0, lam, steps):
    """A few conjugate-gradient steps on every row's normal equations at once.

    Row ``r`` solves ``(a0 OᵀO + Σ_e (c_e - a0) o_e o_eᵀ + λ_r I) x_r = Σ_e c_e o_e``
    over its observed entries ``e`` (``o_e`` the row of ``other`` of the entry's column).
    """
    gram = a0 * (other.T @ other)
    extra = seen.conf - a0

    def apply(v):
        return v @ gram + seen.times(seen.dots(v, other) * extra, other) + lam[:, None] * v

    b = seen.times(seen.conf, other)
    x = x.clone()
    r = b - apply(x)
    p = r.clone()
    rs = (r * r).sum(1)
    for _ in range(steps):
        ap = apply(p)
        step = rs / ((p * ap).sum(1) + 1e-20)
        x += step[:, None] * p
        r -= step[:, None] * ap
        rs_new = (r * r).sum(1)
        p = r + (rs_new / (rs + 1e-20))[:, None] * p
        rs = rs_new
    return x


class BPR(Recommender):
    """Bayesian personalized ranking (Rendle et al., 2009) with torch.

    Learns user and item vectors (and item biases) so that each observed item
    scores above a random unobserved one: ``-log σ(x_ui - x_uj)`` plus L2,
    minimized with Adam over mini-batches of sampled triples.

    Parameters
    ----------
    factors : int
    learning_rate : float
    regularization : float
    epochs : int
        Passes over the observed pairs (one sampled negative each).
    batch_size : int
    weight, columns, device, random_state
        As in :class:`ALS`.

    Attributes
    ----------
    user_factors_, item_factors_, item_bias_ : torch.Tensor

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(300, 80, seed=0)
    >>> bpr = nx.recommend.BPR(factors=8, epochs=2, device="cpu").fit(data)
    >>> tuple(bpr.user_factors_.shape)[1]
    8
    """


    def __init__(self, factors: int = 64, learning_rate: float = 0.01,
                 regularization: float = 1e-4, epochs: int = 40, batch_size: int = 2048,
                 weight: str | None = None, columns=None, device: DeviceLike = "auto",
                 random_state: int = 0) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight = weight
        self.columns = columns
        self.device = device
        self.random_state = random_state

    def _fit(self, matrix, frame) -> None:
        for name in ("factors", "epochs", "batch_size"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("regularization", self.regularization, allow_zero=True)
        dev, f = self.device_, int(self.factors)
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state))
        n_users, n_items = matrix.shape
        coo = matrix.tocoo()
        users_of = torch.as_tensor(coo.row, dtype=torch.int64)
        items_of = torch.as_tensor(coo.col, dtype=torch.int64)
        seen = torch.as_tensor(coo.row.astype(np.int64) * n_items + coo.col)
        seen = torch.sort(seen).values
        u_emb = torch.nn.Parameter((torch.randn(n_users, f, generator=gen) * 0.1).to(dev))
        i_emb = torch.nn.Parameter((torch.randn(n_items, f, generator=gen) * 0.1).to(dev))
        bias = torch.nn.Parameter(torch.zeros(n_items, device=dev))
        opt = torch.optim.Adam([u_emb, i_emb, bias], lr=float(self.learning_rate))
        reg = float(self.regularization)
        self.loss_ = []
        for _ in range(int(self.epochs)):
            order = torch.randperm(len(users_of), generator=gen)
            total = 0.0
            for s in range(0, len(order), int(self.batch_size)):
                pick = order[s : s + int(self.batch_size)]
                u, i = users_of[pick], items_of[pick]
                j = torch.randint(0, n_items, (len(pick),), generator=gen)
                # resample negatives that the user did interact with (once; rare misses stay)
                hit = _contains(seen, u * n_items + j)
                j[hit] = torch.randint(0, n_items, (int(hit.sum()),), generator=gen)
                u, i, j = u.to(dev), i.to(dev), j.to(dev)
                wu, hi, hj = u_emb[u], i_emb[i], i_emb[j]
                x = (wu * (hi - hj)).sum(1) + bias[i] - bias[j]
                loss = torch.nn.functional.softplus(-x).mean() + reg * (
                    wu.pow(2).sum() + hi.pow(2).sum() + hj.pow(2).sum()) / len(pick)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(pick)
            self.loss_.append(total / len(order))
        self.user_factors_ = u_emb.detach()
        self.item_factors_ = i_emb.detach()
        self.item_bias_ = bias.detach()

    def _scores(self, history, codes) -> torch.Tensor:
        dev = self.device_
        vecs = self.user_factors_[torch.as_tensor(np.maximum(codes, 0), device=dev)].clone()
        new = np.flatnonzero(codes < 0)
        if len(new):  # a new user: the mean of the vectors of the items they chose
            h = sparse_rows(sp.csr_matrix(history[new] > 0, dtype=np.float32), dev)
            counts = torch.as_tensor(np.diff(history[new].indptr), device=dev).clamp_min(1)
            vecs[torch.as_tensor(new, device=dev)] = (h @ self.item_factors_) / counts[:, None]
        return vecs @ self.item_factors_.T + self.item_bias_

    def _item_similarity(self, codes) -> torch.Tensor:
        v = torch.nn.functional.normalize(self.item_factors_, dim=1)
        return v[torch.as_tensor(codes, device=self.device_)] @ v.T


def _contains(sorted_values: torch.Tensor, needles: torch.Tensor) -> torch.Tensor:
    pos = torch.searchsorted(sorted_values, needles).clamp_max(len(sorted_values) - 1)
    return sorted_values[pos] == needles

