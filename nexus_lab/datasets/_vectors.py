"""Synthetic embeddings: clustered unit vectors with a decaying spectrum, at any size."""

from __future__ import annotations

import numpy as np

from nexus_lab.errors import SchemaError


def synth_vectors(n: int = 10_000, dim: int = 384, n_clusters: int = 100, spread: float = 0.6,
                  seed: int = 0) -> np.ndarray:
    """Unit-norm float32 vectors grouped in clusters, shaped like sentence embeddings.

    Cluster centres are random directions; each vector is its centre plus Gaussian
    noise whose variance decays across dimensions (as real embeddings' spectra do, so
    a learned rotation or residual quantizer has structure to find), then normalized.
    Generated in blocks: 10M x 384 takes 15 GB as float32 and no more.

    Parameters
    ----------
    n, dim : int
        Shape of the result.
    n_clusters : int
        Number of cluster centres.
    spread : float
        Noise scale relative to the centres (0: every vector is its centre).
    seed : int

    Returns
    -------
    ndarray of shape (n, dim), float32

    Examples
    --------
    >>> import nexus_lab as nx
    >>> X = nx.data.synth_vectors(1000, 64, seed=0)
    >>> X.shape, round(float((X ** 2).sum(1).mean()), 3)
    ((1000, 64), 1.0)
    """
    for name, value in (("n", n), ("dim", dim), ("n_clusters", n_clusters)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise SchemaError(f"{name} must be a positive integer, got {value!r}")
    if spread < 0:
        raise SchemaError(f"spread must be >= 0, got {spread!r}")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    scale = 1 / np.sqrt(1 + np.arange(dim) / 8)
    scale = (spread * scale / np.linalg.norm(scale)).astype(np.float32)  # E|noise|^2 = spread^2
    out = np.empty((n, dim), np.float32)
    step = 1 << 18
    for lo in range(0, n, step):
        m = min(step, n - lo)
        noise = rng.standard_normal((m, dim), dtype=np.float32) * scale
        block = centres[rng.integers(0, n_clusters, m)] + noise @ basis
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
        out[lo:lo + m] = block
    return out
