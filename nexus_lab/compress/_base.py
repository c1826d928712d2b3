"""The codec contract and the checks every vector codec shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nexus_lab._estimator import Params
from nexus_lab.device import resolve_device
from nexus_lab.errors import NexusError, SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import torch

_SHOW = 5


def check_vectors(X: object, name: str = "X", dim: int | None = None) -> np.ndarray:
    """``X`` as a C-contiguous float32 matrix, refused when it is not one.

    Accepts a 2-D array (NumPy, torch, anything ``np.asarray`` takes) or a sequence of
    equal-length float lists (a frame's vector column).
    """
    if hasattr(X, "detach"):  # torch tensor
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
        if arr.dtype == object:
            arr = np.stack([np.asarray(v, dtype=np.float32) for v in arr])
    except (ValueError, TypeError) as exc:
        raise SchemaError(
            f"{name} must be a 2-D array of floats (n_vectors, dim), or equal-length float "
            f"lists; could not read it as one ({exc})", column=name) from None
    if arr.ndim != 2:
        raise SchemaError(
            f"{name} must be 2-D (n_vectors, dim), got shape {arr.shape}; reshape a single "
            "vector with x.reshape(1, -1)", column=name)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise SchemaError(f"{name} must hold numbers, got dtype {arr.dtype}", column=name)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if dim is not None and arr.shape[1] != dim:
        raise SchemaError(
            f"{name} has {arr.shape[1]} dimensions but the codec was fitted on {dim}; "
            "encode vectors of the same model or fit a new codec", column=name)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:_SHOW].tolist()
        raise SchemaError(
            f"{name} has {int(bad.sum())} vector(s) with NaN or infinite values (rows "
            f"{rows}); drop or impute them before compressing", column=name, rows=rows)
    return arr


def check_codes(codes: object, code_size: int, dtype: np.dtype) -> np.ndarray:
    """``codes`` as produced by ``encode``, refused when their shape or type differ."""
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.shape[1] != code_size or arr.dtype != dtype:
        raise SchemaError(
            f"codes must be a (n, {code_size}) {np.dtype(dtype).name} array as returned by "
            f"this codec's encode(), got {arr.shape} {arr.dtype}", column="codes")
    return np.ascontiguousarray(arr)


class Codec(Params):
    """Base class of the vector codecs: ``fit``, ``encode``, ``decode``.

    Subclasses set ``code_size_`` (bytes per vector) and ``dim_`` when fitted and
    implement ``_fit``, ``_encode`` and ``_decode`` on torch tensors.
    """

    code_dtype: np.dtype = np.dtype(np.uint8)

    # the contract ----------------------------------------------------------------------
    def fit(self, X: object, y: object = None) -> Codec:
        """Learn the codec from the vectors ``X`` (n_vectors, dim); returns ``self``."""
        arr = check_vectors(X)
        self._validate(arr.shape[1])
        if len(arr) < 2:
            raise SchemaError("X needs at least 2 vectors to fit a codec", column="X")
        import torch

        dev = resolve_device(getattr(self, "device", "auto"))
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state or 0))
        self.dim_ = arr.shape[1]
        self._fit(torch.from_numpy(arr).to(dev), gen)
        return self

    def encode(self, X: object) -> np.ndarray:
        """Codes of ``X``: an ``(n, code_size_)`` array of ``code_dtype``."""
        self._check_fitted()
        arr = check_vectors(X, dim=self.dim_)
        import torch

        out = np.empty((len(arr), self.code_size_), self.code_dtype)
        step = self._batch_rows()
        for lo in range(0, len(arr), step):
            x = torch.from_numpy(arr[lo:lo + step]).to(self._device())
            out[lo:lo + step] = self._encode(x).cpu().numpy()
        return out

    def decode(self, codes: object) -> np.ndarray:
        """The vectors the codes stand for: ``(n, dim_)`` float32."""
        self._check_fitted()
        arr = check_codes(codes, self.code_size_, self.code_dtype)
        out = np.empty((len(arr), self.dim_), np.float32)
        step = self._batch_rows()
        for lo in range(0, len(arr), step):
            out[lo:lo + step] = self.decode_tensor(arr[lo:lo + step]).cpu().numpy()
        return out

    def decode_tensor(self, codes: np.ndarray) -> torch.Tensor:
        """Decoded vectors of a block of codes, as a float32 tensor on the codec's device."""
        import torch

        return self._decode(torch.from_numpy(codes).to(self._device()))

    def search_space(self, queries: torch.Tensor) -> torch.Tensor:
        """Queries in the space :meth:`search_decode` works in (the same, unless a codec
        rotates: inner products and distances are kept, so search skips the rotation)."""
        return queries

    def search_decode(self, codes: np.ndarray) -> torch.Tensor:
        """A block of codes decoded into :meth:`search_space`."""
        return self.decode_tensor(codes)

    @property
    def bytes_per_vector(self) -> float:
        """Bytes one vector's code takes."""
        self._check_fitted()
        return float(self.code_size_ * self.code_dtype.itemsize)

    # helpers ---------------------------------------------------------------------------
    def _validate(self, dim: int) -> None:
        """Refuse parameters that do not fit vectors of ``dim`` dimensions."""

    def _batch_rows(self) -> int:
        return 16384

    def _device(self) -> torch.device:
        return resolve_device(getattr(self, "device", "auto"))

    def _learned(self, attr: str) -> torch.Tensor:
        """The learned array ``attr`` as a tensor on the codec's device, made once."""
        import torch

        dev = self._device()
        cache = self.__dict__.setdefault("_tensors", {})
        t = cache.get(attr)
        if t is None or t.device != dev:
            t = cache[attr] = torch.from_numpy(getattr(self, attr)).to(dev)
        return t

    def _set_learned(self, attr: str, value: torch.Tensor) -> None:
        """Keep a learned tensor as the NumPy attribute ``attr`` and as its device copy."""
        setattr(self, attr, value.detach().cpu().numpy())
        self.__dict__.setdefault("_tensors", {})[attr] = value

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_tensors"}

    def _check_fitted(self) -> None:
        if not hasattr(self, "code_size_"):
            raise NexusError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")

    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:  # pragma: no cover
        raise NotImplementedError

    def _encode(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError
