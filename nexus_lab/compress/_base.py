"""The codec contract and the checks every vector codec shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nexus_lab._estimator import Params, check_is_fitted, json_value, state_class
from nexus_lab._typing import DeviceLike
from nexus_lab.device import resolve_device
from nexus_lab.errors import IntegrityError, SchemaError

if TYPE_CHECKING:  # pragma: no cover
    import torch

_SHOW = 5
#: the learned attribute every codec's ``fit`` sets last: a codec is fitted when it has it
FITTED = "code_size_"


def check_vectors(X: object, name: str = "X", dim: int | None = None) -> np.ndarray:
    """``X`` as a C-contiguous float32 matrix, refused when it is not one.

    Accepts a 2-D array (NumPy, torch, anything ``np.asarray`` takes) or a sequence of
    equal-length float lists (a frame's vector column).

    Parameters
    ----------
    X : array-like of shape (n_vectors, dim)
        The vectors.
    name : str
        What the message calls them.
    dim : int, optional
        The dimension they must have (a fitted codec's ``dim_``).

    Returns
    -------
    numpy.ndarray
        C-contiguous float32, ``(n_vectors, dim)``.

    Raises
    ------
    SchemaError
        When ``X`` is not 2-D, not numbers, of another dimension, or holds NaN or
        infinite values (the message names the first rows).

    Examples
    --------
    >>> check_vectors([[1, 2], [3, 4]]).dtype.name
    'float32'
    >>> try:
    ...     check_vectors([[1.0, 2.0], [1.0, float("nan")]])
    ... except SchemaError as err:
    ...     print(err.rows)
    [1]
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
    implement ``_fit``, ``_encode`` and ``_decode`` on torch tensors. Their learned
    attributes are NumPy arrays, dicts of arrays and JSON values, which is what
    :meth:`to_state` hands out and :meth:`from_state` takes back.
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
        check_is_fitted(self, FITTED, fit_call="fit(X)")
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
        check_is_fitted(self, FITTED, fit_call="fit(X)")
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
        check_is_fitted(self, FITTED, fit_call="fit(X)")
        return float(self.code_size_ * self.code_dtype.itemsize)

    # state ---------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The fitted codec as plain values: its class, parameters and learned attributes.

        Returns
        -------
        dict
            ``{"class": name, "params": {...}, "attributes": {...}}``. ``params`` are the
            constructor's arguments but ``device`` (JSON); ``attributes`` every learned
            attribute (public, ending in ``_``), each a NumPy array, a dict of NumPy
            arrays (the neural codec's weights) or a JSON value. Arrays are shared with
            the codec, not copied: treat them as read-only.
            :func:`nexus_lab.artifacts.codec_state` writes it to files.

        Raises
        ------
        NotFittedError
            When the codec is not fitted.

        Examples
        --------
        >>> import numpy as np, nexus_lab as nx
        >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype("float32")
        >>> codec = nx.compress.PQ(m=2, nbits=4, device="cpu", random_state=0).fit(X)
        >>> state = codec.to_state()
        >>> state["class"], state["attributes"]["codebooks_"].shape
        ('PQ', (2, 16, 4))
        >>> again = nx.compress.Codec.from_state(state, device="cpu")
        >>> bool((again.encode(X) == codec.encode(X)).all())
        True
        """
        import torch

        check_is_fitted(self, FITTED, fit_call="fit(X)")
        params = {k: v for k, v in self.get_params().items() if k != "device"}
        out: dict[str, Any] = {}
        for attr, value in vars(self).items():
            if not attr.endswith("_") or attr.startswith("_"):
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            if isinstance(value, np.ndarray):
                out[attr] = value
            elif isinstance(value, dict) and all(isinstance(v, np.ndarray | torch.Tensor)
                                                 for v in value.values()):
                out[attr] = {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v
                             for k, v in value.items()}
            else:
                out[attr] = json_value(value, f"{type(self).__name__}.{attr}")
        return {"class": type(self).__name__, "params": json_value(params, "params"),
                "attributes": out}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: DeviceLike = "auto") -> Codec:
        """The fitted codec a :meth:`to_state` state describes.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_state`.
        device : {"auto", "cpu", "cuda"}
            Where the codec encodes and decodes.

        Returns
        -------
        Codec
            Of the class the state names (``Codec.from_state`` takes any codec's state,
            ``PQ.from_state`` a PQ's or an OPQ's).

        Raises
        ------
        IntegrityError
            When the state names a class that is not one of these codecs.

        Examples
        --------
        >>> import numpy as np, nexus_lab as nx
        >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype("float32")
        >>> codec = nx.compress.ScalarInt8(device="cpu").fit(X)
        >>> again = nx.compress.ScalarInt8.from_state(codec.to_state(), device="cpu")
        >>> bool((again.decode(codec.encode(X)) == codec.decode(codec.encode(X))).all())
        True
        """
        target = state_class(state, cls, "codec")
        if FITTED not in state.get("attributes", {}):
            raise IntegrityError(f"the {target.__name__} state holds no learned {FITTED}: it "
                                 "was not made by to_state() of a fitted codec; it is refused")
        resolve_device(device)  # a device that is not there is refused now, not at encode
        codec = target(**state["params"])
        codec.device = device
        for attr, value in state["attributes"].items():
            setattr(codec, attr, dict(value) if isinstance(value, dict) else value)
        return codec

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

    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:  # pragma: no cover
        raise NotImplementedError

    def _encode(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError
