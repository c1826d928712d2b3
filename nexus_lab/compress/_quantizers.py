"""Vector quantizers: int8 scalar, product (PQ), optimized product (OPQ) and residual (RQ).

PQ, OPQ and RQ are *additive*: a vector is stored as ``M`` indices into codebooks of
``K = 2**nbits`` codewords and decoded as the sum of its codewords. So one inner
product table per query, ``q · codeword``, scores every code by ``M`` lookups
(asymmetric distance computation, :func:`nexus_lab.compress.search`). Indices are
bit-packed, so ``nbits`` need not be 8: ``PQ(m=21, nbits=12)`` takes 32 bytes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nexus_lab._typing import DeviceLike
from nexus_lab.compress._base import Codec
from nexus_lab.compress._kmeans import assign, kmeans
from nexus_lab.errors import SchemaError

__all__ = ["OPQ", "PQ", "RQ", "ScalarInt8"]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def pack(idx: torch.Tensor, nbits: int) -> torch.Tensor:
    """Indices (n, M) < 2**nbits as little-endian bit strings: (n, ceil(M*nbits/8)) uint8."""
    if nbits == 8:
        return idx.to(torch.uint8)
    n, M = idx.shape
    shifts = torch.arange(nbits, device=idx.device)
    bits = ((idx.unsqueeze(-1) >> shifts) & 1).reshape(n, M * nbits)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = torch.nn.functional.pad(bits, (0, pad))
    weights = (1 << torch.arange(8, device=idx.device))
    return (bits.view(n, -1, 8) * weights).sum(-1).to(torch.uint8)


def unpack(codes: torch.Tensor, M: int, nbits: int) -> torch.Tensor:
    """The inverse of :func:`pack`: (n, M) int64 indices."""
    if nbits == 8:
        return codes.long()
    n = codes.shape[0]
    bits = ((codes.long().unsqueeze(-1) >> torch.arange(8, device=codes.device)) & 1)
    bits = bits.reshape(n, -1)[:, : M * nbits].view(n, M, nbits)
    return (bits << torch.arange(nbits, device=codes.device)).sum(-1)


class ScalarInt8(Codec):
    """Scalar quantization: every dimension to one byte, between its trained extremes.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
    random_state : int, optional
        Unused (the codec is deterministic); kept for a uniform signature.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(500, 16)).astype("float32")
    >>> codec = nx.compress.ScalarInt8(device="cpu").fit(X)
    >>> codec.bytes_per_vector, float(abs(codec.decode(codec.encode(X)) - X).max()) < 0.02
    (16.0, True)
    """

    def __init__(self, device: DeviceLike = "auto", random_state: int | None = None) -> None:
        self.device = device
        self.random_state = random_state

    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:
        lo, hi = X.min(0).values, X.max(0).values
        self.vmin_ = lo.cpu().numpy()
        self.scale_ = ((hi - lo).clamp_min(1e-12) / 255).cpu().numpy()
        self.code_size_ = X.shape[1]

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        lo, scale = self._learned("vmin_"), self._learned("scale_")
        return ((X - lo) / scale).round_().clamp_(0, 255).to(torch.uint8)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.float() * self._learned("scale_") + self._learned("vmin_")


class _Additive(Codec):
    """Codes are ``M`` indices into codebooks of ``K`` words; decoding sums the words."""

    n_codebooks_: int
    nbits: int
    cheap_decode = True  # decoding gathers one word per slice (PQ); RQ sums M full words

    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        return pack(self._indices(X), self.nbits)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self._reconstruct(unpack(codes, self.n_codebooks_, self.nbits))

    def ip_tables(self, Q: torch.Tensor) -> torch.Tensor:
        """Inner products of every query with every codeword: (n_queries, M, K)."""
        raise NotImplementedError  # pragma: no cover

    def indices(self, codes: np.ndarray) -> torch.Tensor:
        """The codebook indices (n, M) of a block of codes, on the codec's device."""
        return unpack(torch.from_numpy(codes).to(self._device()), self.n_codebooks_, self.nbits)

    def _set_sizes(self, M: int) -> None:
        self.n_codebooks_ = M
        self.code_size_ = math.ceil(M * self.nbits / 8)

    def _check_nbits(self) -> None:
        if not (isinstance(self.nbits, int | np.integer) and 1 <= self.nbits <= 16):
            raise SchemaError(f"nbits must be an integer from 1 to 16, got {self.nbits!r}")


class PQ(_Additive):
    """Product quantization: ``m`` subspaces, each k-means-quantized to ``2**nbits`` words.

    Parameters
    ----------
    m : int
        Number of subspaces; must divide the dimension.
    nbits : int
        Bits per subspace index (1 to 16); a vector takes ``ceil(m * nbits / 8)`` bytes.
    n_iter : int
        k-means iterations.
    device : {"auto", "cpu", "cuda"}
    random_state : int, optional

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(2000, 32)).astype("float32")
    >>> codec = nx.compress.PQ(m=8, nbits=6, device="cpu", random_state=0).fit(X)
    >>> codes = codec.encode(X)
    >>> codes.shape, codec.decode(codes).shape
    ((2000, 6), (2000, 32))
    """

    def __init__(self, m: int = 32, nbits: int = 8, n_iter: int = 25, device: DeviceLike = "auto",
                 random_state: int | None = None) -> None:
        self.m = m
        self.nbits = nbits
        self.n_iter = n_iter
        self.device = device
        self.random_state = random_state

    def _validate(self, dim: int) -> None:
        self._check_nbits()
        if not isinstance(self.m, int | np.integer) or self.m < 1 or dim % self.m:
            raise SchemaError(
                f"m={self.m!r} does not divide the dimension {dim}: choose m among "
                f"{_divisors(dim)}", column="X")

    def _fit(self, X: torch.Tensor, gen: torch.Generator, init: torch.Tensor | None = None,
             n_iter: int | None = None) -> None:
        n, D = X.shape
        sub = X.view(n, self.m, D // self.m).transpose(0, 1)
        C = kmeans(sub, 1 << self.nbits, gen, n_iter=self.n_iter if n_iter is None else n_iter,
                   init=init)
        self._set_learned("codebooks_", C)
        self._set_sizes(self.m)

    def _words(self) -> torch.Tensor:
        return self._learned("codebooks_")

    def _indices(self, X: torch.Tensor) -> torch.Tensor:
        n, D = X.shape
        sub = X.view(n, self.m, D // self.m).transpose(0, 1)
        return assign(sub, self._words())[0].T

    def _reconstruct(self, idx: torch.Tensor) -> torch.Tensor:
        C = self._words()
        return C[torch.arange(self.m, device=idx.device), idx].reshape(len(idx), -1)

    def ip_tables(self, Q: torch.Tensor) -> torch.Tensor:
        n = Q.shape[0]
        return torch.einsum("qmd,mkd->qmk", Q.view(n, self.m, -1), self._words())


class OPQ(PQ):
    """Optimized product quantization: a learned rotation, then PQ.

    The rotation and the codebooks are trained in turn (Ge et al., 2013): PQ on the
    rotated vectors, then the orthogonal Procrustes rotation that best maps the
    vectors onto their reconstructions.

    Parameters
    ----------
    m, nbits, n_iter, device, random_state
        As for :class:`PQ`.
    n_rounds : int
        Rotation/codebook alternations.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(2000, 32)).astype("float32")
    >>> codec = nx.compress.OPQ(m=8, nbits=6, n_rounds=4, device="cpu", random_state=0).fit(X)
    >>> codec.rotation_.shape
    (32, 32)
    """

    def __init__(self, m: int = 32, nbits: int = 8, n_iter: int = 25, n_rounds: int = 25,
                 device: DeviceLike = "auto", random_state: int | None = None) -> None:
        super().__init__(m=m, nbits=nbits, n_iter=n_iter, device=device,
                         random_state=random_state)
        self.n_rounds = n_rounds

    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:  # type: ignore[override]
        D = X.shape[1]
        limit = 256 << self.nbits  # rows k-means would sample anyway
        if len(X) > limit:
            X = X[torch.randperm(len(X), generator=gen)[:limit].to(X.device)]
        R = torch.linalg.qr(torch.randn(D, D, generator=gen).to(X.device))[0]
        C = None
        for _ in range(self.n_rounds):
            XR = X @ R
            PQ._fit(self, XR, gen, init=C, n_iter=4)
            C = self._words()
            Xhat = PQ._reconstruct(self, PQ._indices(self, XR))  # in the rotated space
            U, _, Vt = torch.linalg.svd(X.T @ Xhat)
            R = U @ Vt
        self._set_learned("rotation_", R)
        PQ._fit(self, X @ R, gen, init=C)

    def _rot(self) -> torch.Tensor:
        return self._learned("rotation_")

    def _indices(self, X: torch.Tensor) -> torch.Tensor:
        return super()._indices(X @ self._rot())

    def _reconstruct(self, idx: torch.Tensor) -> torch.Tensor:
        return super()._reconstruct(idx) @ self._rot().T

    def ip_tables(self, Q: torch.Tensor) -> torch.Tensor:
        return super().ip_tables(Q @ self._rot())

    def search_space(self, queries: torch.Tensor) -> torch.Tensor:
        return queries @ self._rot()

    def search_decode(self, codes: np.ndarray) -> torch.Tensor:
        return PQ._reconstruct(self, self.indices(codes))


_SHRINK = 0.25
_REFIT_WORDS = 8192  # the joint refit solves a (words x words) system


class RQ(_Additive):
    """Residual quantization with beam search: ``m`` codebooks over the whole vector.

    Codebook ``j`` is k-means on what codebooks ``0..j-1`` left over. Encoding keeps
    the ``beam_size`` best partial codes at every step instead of the greedy one
    (Babenko & Lempitsky 2014; faiss's ``ResidualQuantizer``), which is what lets
    residual quantization beat PQ and OPQ at the same number of bytes. The codebooks
    are then refitted jointly by least squares to the final codes (when they hold at
    most 8,192 words in all: it solves a system of that size).

    Parameters
    ----------
    m : int
        Number of codebooks; a vector takes ``ceil(m * nbits / 8)`` bytes.
    nbits : int
        Bits per index (1 to 16); each codebook has ``2**nbits`` words.
    beam_size : int
        Partial codes kept per vector while encoding (1 is greedy).
    n_iter : int
        k-means iterations per codebook.
    device : {"auto", "cpu", "cuda"}
    random_state : int, optional

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(2000, 32)).astype("float32")
    >>> rq = nx.compress.RQ(m=4, nbits=6, beam_size=4, device="cpu", random_state=0).fit(X)
    >>> pq = nx.compress.PQ(m=4, nbits=6, device="cpu", random_state=0).fit(X)
    >>> def mse(c): return float(((c.decode(c.encode(X)) - X) ** 2).sum(1).mean())
    >>> rq.bytes_per_vector == pq.bytes_per_vector, mse(rq) < mse(pq)
    (True, True)
    """

    cheap_decode = False

    def __init__(self, m: int = 16, nbits: int = 8, beam_size: int = 5, n_iter: int = 20,
                 device: DeviceLike = "auto", random_state: int | None = None) -> None:
        self.m = m
        self.nbits = nbits
        self.beam_size = beam_size
        self.n_iter = n_iter
        self.device = device
        self.random_state = random_state

    def _validate(self, dim: int) -> None:
        self._check_nbits()
        if not isinstance(self.m, int | np.integer) or self.m < 1:
            raise SchemaError(f"m must be a positive integer, got {self.m!r}")
        if not isinstance(self.beam_size, int | np.integer) or self.beam_size < 1:
            raise SchemaError(f"beam_size must be a positive integer, got {self.beam_size!r}")

    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:
        K = 1 << self.nbits
        limit = 256 * K
        if len(X) > limit:
            X = X[torch.randperm(len(X), generator=gen)[:limit].to(X.device)]
        books = []
        res = X.unsqueeze(1)  # (n, beam, D): residuals of the partial codes kept
        err = (X * X).sum(-1, keepdim=True)
        idx = torch.empty(len(X), 1, 0, dtype=torch.long, device=X.device)
        for _ in range(self.m):
            R = res[:, 0]
            # Start from sampled residuals pulled towards their mean: residuals are nearly
            # isotropic, and words started on the points themselves end up as singletons
            # fitting outliers (half the words, by the 4th codebook), costing recall.
            start = R[torch.randperm(len(R), generator=gen)[:K].to(R.device)]
            mean = R.mean(0)
            init = mean + _SHRINK * (start - mean)
            C = kmeans(R.unsqueeze(0), K, gen, n_iter=self.n_iter, init=init.unsqueeze(0))[0]
            books.append(C)
            res, err, idx = _beam_step(res, err, idx, C, self.beam_size)
        self._set_learned("codebooks_", torch.stack(books))
        if self.m << self.nbits <= _REFIT_WORDS:
            self._refit(X, idx[:, 0])
        self._set_sizes(self.m)

    def _refit(self, X: torch.Tensor, idx: torch.Tensor) -> None:
        """Least-squares codebooks for fixed codes: min ||A W - X||, A one-hot (n, m*K)."""
        K = 1 << self.nbits
        M = self.m
        n = len(X)
        flat = idx + torch.arange(M, device=X.device) * K  # (n, M)
        gram = torch.zeros(M * K, M * K, device=X.device, dtype=X.dtype)
        step = max(1, (1 << 22) // (M * M))
        for lo in range(0, n, step):
            f = flat[lo:lo + step]
            gram.index_put_((f.unsqueeze(2).expand(-1, M, M).reshape(-1),
                             f.unsqueeze(1).expand(-1, M, M).reshape(-1)),
                            torch.ones(1, device=X.device, dtype=X.dtype).expand(f.numel() * M),
                            accumulate=True)
        rhs = torch.zeros(M * K, X.shape[1], device=X.device, dtype=X.dtype)
        rhs.index_add_(0, flat.reshape(-1), X.repeat_interleave(M, 0))
        # A small ridge keeps unused words at zero and the system well posed.
        ridge = 1e-3 * gram.diagonal().mean().clamp_min(1e-6)
        gram.diagonal().add_(ridge)
        prev = self._words()
        W = torch.linalg.solve(gram.double(), rhs.double() + ridge * prev.reshape(M * K, -1)
                               .double()).float()
        old = ((self._reconstruct(idx) - X) ** 2).sum()
        self._set_learned("codebooks_", W.view(M, K, -1))
        if ((self._reconstruct(idx) - X) ** 2).sum() > old:  # never worse than before
            self._set_learned("codebooks_", prev)

    def _words(self) -> torch.Tensor:
        return self._learned("codebooks_")

    def _indices(self, X: torch.Tensor) -> torch.Tensor:
        W = self._words()
        res, err = X.unsqueeze(1), (X * X).sum(-1, keepdim=True)
        idx = torch.empty(len(X), 1, 0, dtype=torch.long, device=X.device)
        for j in range(self.m):
            res, err, idx = _beam_step(res, err, idx, W[j], self.beam_size)
        return idx[:, 0]

    def _reconstruct(self, idx: torch.Tensor) -> torch.Tensor:
        W = self._words()
        flat = idx + torch.arange(self.m, device=idx.device) * W.shape[1]
        return torch.nn.functional.embedding_bag(flat, W.reshape(-1, W.shape[-1]), mode="sum")

    def ip_tables(self, Q: torch.Tensor) -> torch.Tensor:
        return torch.einsum("qd,mkd->qmk", Q, self._words())

    def _batch_rows(self) -> int:
        return 4096


def _beam_step(res: torch.Tensor, err: torch.Tensor, idx: torch.Tensor, C: torch.Tensor,
               beam: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One codebook of beam search: the ``beam`` best extensions of every vector's codes.

    ``res`` (n, b, D) are the residuals of the ``b`` partial codes kept, ``err`` (n, b)
    their squared norms, ``idx`` (n, b, j) the codes so far; ``C`` (K, D) the codebook.
    """
    n, b, _ = res.shape
    K = C.shape[0]
    c2 = (C * C).sum(-1)
    step = max(1, (1 << 24) // (b * K))
    outs = []
    for lo in range(0, n, step):
        r, e = res[lo:lo + step], err[lo:lo + step]
        d = (e.unsqueeze(-1) + c2) - 2 * (r @ C.T)  # (rows, b, K)
        best, pos = d.reshape(len(r), b * K).topk(min(beam, b * K), dim=1, largest=False)
        parent, word = pos // K, pos % K
        rows = torch.arange(len(r), device=r.device).unsqueeze(1)
        outs.append((r[rows, parent] - C[word], best.clamp_min(0),
                     torch.cat([idx[lo:lo + step][rows, parent], word.unsqueeze(-1)], -1)))
    return tuple(torch.cat(parts) for parts in zip(*outs))
