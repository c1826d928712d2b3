"""Batched k-means in torch: many independent problems (one per subspace) at once."""

from __future__ import annotations

import torch

_CHUNK = 1 << 24  # distance entries per block (64 MB of float32)


def sq_dists(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Squared distances of ``X`` (B, n, d) to ``C`` (B, k, d): (B, n, k)."""
    x2 = (X * X).sum(-1, keepdim=True)
    c2 = (C * C).sum(-1).unsqueeze(1)
    return torch.baddbmm(x2 + c2, X, C.transpose(1, 2), alpha=-2.0)


def assign(X: torch.Tensor, C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of every row and its squared distance, in blocks of rows."""
    B, n, _ = X.shape
    k = C.shape[1]
    step = max(1, _CHUNK // max(1, B * k))
    codes = torch.empty(B, n, dtype=torch.long, device=X.device)
    dist = torch.empty(B, n, dtype=X.dtype, device=X.device)
    c2 = (C * C).sum(-1).unsqueeze(1)
    for lo in range(0, n, step):
        x = X[:, lo:lo + step]
        d = torch.baddbmm(c2, x, C.transpose(1, 2), alpha=-2.0)
        best, idx = d.min(-1)
        codes[:, lo:lo + step] = idx
        dist[:, lo:lo + step] = best + (x * x).sum(-1)
    return codes, dist.clamp_min_(0)


def kmeans(X: torch.Tensor, k: int, gen: torch.Generator, n_iter: int = 25,
           max_points: int = 256, init: torch.Tensor | None = None) -> torch.Tensor:
    """Lloyd's k-means on each of ``B`` problems at once; returns centroids (B, k, d).

    ``X`` is (B, n, d). Training uses at most ``max_points * k`` rows (sampled, as
    faiss does). Centroids start at ``init`` or at distinct sampled rows; a cluster that
    empties splits one of the largest clusters in two (as faiss does), so no centroid is
    wasted.
    """
    B, n, d = X.shape
    if n > max_points * k:
        idx = torch.randperm(n, generator=gen)[: max_points * k].to(X.device)
        X = X[:, idx]
        n = X.shape[1]
    if n <= k:  # fewer rows than centroids: every row is a centroid, the rest repeat
        reps = torch.arange(k, device=X.device) % n
        return X[:, reps].clone()
    if init is not None:
        C = init.clone()
    else:
        C = X[:, torch.randperm(n, generator=gen)[:k].to(X.device)].clone()
    ones = torch.ones(B, n, device=X.device, dtype=X.dtype)
    for _ in range(n_iter):
        codes, _ = assign(X, C)
        sums = torch.zeros_like(C).scatter_add_(1, codes.unsqueeze(-1).expand(-1, -1, d), X)
        counts = torch.zeros(B, k, device=X.device, dtype=X.dtype).scatter_add_(1, codes, ones)
        empty = counts == 0
        C = torch.where(empty.unsqueeze(-1), C, sums / counts.clamp_min(1).unsqueeze(-1))
        if empty.any():
            C = _split_largest(C, counts, empty)
    return C


def _split_largest(C: torch.Tensor, counts: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
    """Every empty centroid takes half of a large cluster: the r-th empty one of a problem
    and the r-th largest cluster become two slightly perturbed copies of its centroid."""
    B, k, d = C.shape
    big = counts.argsort(dim=1, descending=True)  # (B, k)
    rank = (empty.cumsum(1) - 1).clamp_min(0)
    src = torch.gather(big, 1, rank)  # the cluster each empty centroid splits
    sign = torch.ones(d, device=C.device, dtype=C.dtype)
    sign[::2] = -1
    eps = 1.0 / 1024
    base = torch.gather(C, 1, src.unsqueeze(-1).expand(-1, -1, d))
    out = torch.where(empty.unsqueeze(-1), base * (1 + eps * sign), C)
    shrink = torch.zeros(B, k, dtype=torch.bool, device=C.device)
    rows, cols = empty.nonzero(as_tuple=True)
    shrink[rows, src[rows, cols]] = True
    return torch.where(shrink.unsqueeze(-1), out * (1 - eps * sign), out)
