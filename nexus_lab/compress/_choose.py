"""The library's best codec for a budget of bytes per vector."""

from __future__ import annotations

import numpy as np

from nexus_lab._typing import DeviceLike
from nexus_lab.compress._base import Codec, check_vectors
from nexus_lab.compress._quantizers import RQ, ScalarInt8
from nexus_lab.errors import SchemaError

__all__ = ["fit"]


def fit(X: object, bytes_per_vector: int = 32, *, device: DeviceLike = "auto",
        random_state: int | None = None) -> Codec:
    """Fit the codec that keeps the most of ``X`` within ``bytes_per_vector``.

    With a byte per dimension or more, :class:`ScalarInt8` (near lossless); below that,
    :class:`RQ` with beam search, which on sentence embeddings keeps more nearest
    neighbours than PQ, OPQ or the neural codec of the same size
    (``experiments/eval_compress.py``). The codebooks are stored too, so their size
    counts: ``RQ`` takes the widest codebooks (8 bits down to 4) whose words number at
    most a quarter of the vectors, and as many of them as the budget allows.

    Parameters
    ----------
    X : array-like of shape (n, dim)
        The vectors to learn from.
    bytes_per_vector : int
        The budget for one vector's code.
    device : {"auto", "cpu", "cuda"}
    random_state : int, optional

    Returns
    -------
    Codec
        Fitted.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(1000, 32)).astype("float32")
    >>> codec = nx.compress.fit(X, bytes_per_vector=4, device="cpu", random_state=0)
    >>> type(codec).__name__, codec.bytes_per_vector
    ('RQ', 4.0)
    """
    arr = check_vectors(X)
    if not isinstance(bytes_per_vector, int | np.integer) or bytes_per_vector < 1:
        raise SchemaError(f"bytes_per_vector must be a positive integer, got "
                          f"{bytes_per_vector!r}")
    if bytes_per_vector >= arr.shape[1]:
        codec: Codec = ScalarInt8(device=device, random_state=random_state)
    else:
        for nbits in (8, 7, 6, 5, 4):
            m = int(bytes_per_vector) * 8 // nbits
            if 4 * m << nbits <= len(arr):
                break
        codec = RQ(m=m, nbits=nbits, device=device, random_state=random_state)
    return codec.fit(arr)
