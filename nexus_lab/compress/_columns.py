"""Column codecs: one column's values to bytes and back, lossless or within an error bound.

Every value codec is a pair of pure functions, ``*_encode(values, ...) -> (payload,
params)`` and ``*_decode(payload, params, n) -> values``, where ``params`` is a small
JSON-able dict that the frame container stores next to the payload:

``float_bss``
    Lossless floats: byte-stream split (byte ``k`` of every value stored together,
    Parquet's ``BYTE_STREAM_SPLIT``), then zstd. NaN payloads, inf and -0.0 are kept
    bit for bit.
``float_decimal``
    Lossless floats that are decimals in disguise (money, prices): the smallest scale
    ``s`` in 0..6 with ``rint(x * 10**s) / 10**s == x`` bit for bit is found, and the
    integers ``rint(x * 10**s)`` go through ``int_delta``. Values that are not such
    decimals (NaN, inf, -0.0, a stray 1e-9) are kept raw as exceptions (a bitmap and
    their bytes), so one odd value does not cost the whole column.
``int_delta``
    Integers of any width, bools, timestamps: frame of reference (minus the minimum),
    first-order delta then minus the smallest delta, or first-order delta then zigzag,
    each divided by the gcd of what it produces (whole seconds in nanosecond
    timestamps), packed in the narrowest of uint8/16/32/64, byte-stream split or not,
    then zstd. The smallest of these variants is kept. All arithmetic wraps in 64 bits,
    so uint64 and int64 extremes are safe.
``float_bounded``
    Lossy floats within an absolute error ``e``: ``q = rint(x / (2 e))`` through
    ``int_delta``; decoding gives ``q * 2 e``. The bound is checked on the decoded
    values when writing; values where it would not hold (NaN, inf, overflow, rounding)
    are kept raw as exceptions.

Column kinds (:func:`column_kind`) map a pandas column to those codecs: floats choose the
smallest of the float codecs, strings and bytes are dictionary-encoded (codes through
``int_delta``, the distinct values as one UTF-8 buffer with their lengths), categoricals
store their codes and their categories (as a column of their own), columns of
fixed-length float lists become a matrix for the float codecs (row- or column-major,
whichever is smaller), nullable and datetime columns store their missing values as a
bitmap.

Columns of Python objects as SQL drivers return them keep their types exactly:
``decimal`` (:class:`decimal.Decimal`: the signed coefficient and the exponent of each
value through ``int_delta``, so ``Decimal("12.50")`` keeps its scale; NaN, infinities,
``-0`` and coefficients beyond int64 are kept as text), ``date`` (:class:`datetime.date`:
day ordinals through ``int_delta``) and ``pybool`` (``True``/``False`` objects with
missing values). Their missing values (None, NaN, pd.NA, NaT) are kept as they were.

Choosing among candidates compresses each at the target zstd level when the column is
at most 1 MiB, else at level ``min(level, 3)``; the winner is then compressed at the
target level.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import zstandard

from nexus_lab.errors import IntegrityError, SchemaError

__all__ = [
    "EncodedColumn",
    "column_kind",
    "decode_column",
    "encode_column",
    "float_bounded_decode",
    "float_bounded_encode",
    "float_bss_decode",
    "float_bss_encode",
    "float_decimal_decode",
    "float_decimal_encode",
    "int_delta_decode",
    "int_delta_encode",
    "raw_digest",
]

log = logging.getLogger("nexus_lab")

TRIAL_BYTES = 1 << 20  # columns larger than this choose their codec at a fast zstd level
_TRIAL_LEVEL = 3
_EXCEPTION_SHARE = 0.01  # decimal / bounded codecs keep at most this share of values raw
_SCALES = range(7)  # decimal scales tried: 10**0 .. 10**6
_SAMPLE = 4096  # values screened before a full decimal check
_EXACT = 2.0**53  # integers up to this are exact in float64
_BOUNDED_MAX = 2.0**62  # quantized integers must stay below this
_SHOW = 5  # offending rows named in an error message
_INT64_MIN = np.iinfo(np.int64).min
_WIDTHS = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"), np.dtype("<u8"))
_NA_VALUES = np.array([None, np.nan, pd.NA, pd.NaT], dtype=object)
_MASKED = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)

#: Column kinds and the pandas dtypes they cover.
KINDS = (
    "float", "int", "bool", "datetime", "timedelta", "datetimetz", "masked",
    "string", "bytes", "category", "vector", "decimal", "date", "pybool",
)
#: Kinds a reader of container version 1 does not know.
OBJECT_KINDS = ("decimal", "date", "pybool")
_OBJECT_INFERRED = {"decimal": "decimal", "date": "date", "boolean": "pybool"}
_FLOAT_KINDS = ("float", "vector")


@dataclass(frozen=True)
class EncodedColumn:
    """One encoded column: what the container stores about it.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    dtype : str
        The pandas dtype, as ``str(dtype)``.
    codec : str
        The value codec that won (``"float_decimal"``, ``"dictionary"``...).
    params : dict
        What the decoder needs (JSON-able).
    payload : bytes
        The encoded bytes.
    raw_sha256 : str
        :func:`raw_digest` of the decoded values (equal to the input's when lossless).
    lossy : bool
        Whether a bounded-error codec was used.
    """

    kind: str
    dtype: str
    codec: str
    params: dict
    payload: bytes
    raw_sha256: str
    lossy: bool = False


# --------------------------------------------------------------------------- primitives


def _trial_level(nbytes: int, level: int) -> int:
    return level if nbytes <= TRIAL_BYTES else min(level, _TRIAL_LEVEL)


def _zstd(data: bytes | memoryview, level: int) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def _unzstd(data: bytes | memoryview, size: int) -> bytes:
    """Decompress a zstd frame that must hold exactly ``size`` bytes."""
    if size < 0:
        raise IntegrityError(f"a stream declares a negative size ({size})")
    try:
        out = zstandard.ZstdDecompressor().decompress(data, max_output_size=max(size, 1))
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"a zstd stream is corrupted ({exc})") from None
    if len(out) != size:
        raise IntegrityError(f"a zstd stream holds {len(out)} bytes, expected {size}")
    return out


def _join(parts: list[bytes]) -> tuple[bytes, list[int]]:
    return b"".join(parts), [len(p) for p in parts]


def _split(payload: bytes | memoryview, lengths: list[int]) -> list[memoryview]:
    view = memoryview(payload)
    if any(not isinstance(n, int) or n < 0 for n in lengths) or sum(lengths) != len(view):
        raise IntegrityError(
            f"the payload holds {len(view)} bytes but its parts declare {lengths}")
    ends = np.cumsum([0, *lengths]).tolist()
    return [view[a:b] for a, b in itertools.pairwise(ends)]


def _little(a: np.ndarray) -> np.ndarray:
    """``a`` flattened, contiguous and little-endian."""
    return np.ascontiguousarray(a.reshape(-1), dtype=a.dtype.newbyteorder("<"))


def bss_bytes(a: np.ndarray) -> bytes:
    """Byte-stream split: byte ``k`` of every value, for ``k = 0 .. itemsize - 1``.

    Examples
    --------
    >>> bss_bytes(np.array([1, 2], dtype="<u2"))
    b'\\x01\\x02\\x00\\x00'
    """
    a = _little(a)
    width = a.dtype.itemsize
    if width == 1:
        return a.tobytes()
    return a.view(np.uint8).reshape(-1, width).T.tobytes()


def bss_array(buf: bytes | memoryview, dtype: np.dtype | str, n: int) -> np.ndarray:
    """Undo :func:`bss_bytes`: ``n`` values of ``dtype`` (native byte order).

    Examples
    --------
    >>> bss_array(b"\\x01\\x02\\x00\\x00", "uint16", 2)
    array([1, 2], dtype=uint16)
    """
    dtype = np.dtype(dtype)
    little = dtype.newbyteorder("<")
    raw = np.frombuffer(buf, dtype=np.uint8)
    if raw.size != n * dtype.itemsize:
        raise IntegrityError(
            f"a byte stream holds {raw.size} bytes, expected {n} x {dtype.itemsize}")
    if dtype.itemsize == 1:
        out = raw.view(little).copy()
    else:
        out = raw.reshape(dtype.itemsize, n).T.copy().view(little).reshape(n)
    return out.astype(dtype.newbyteorder("="), copy=False)


def _bits(a: np.ndarray) -> np.ndarray:
    """The bit patterns of a float array, as unsigned integers of the same width."""
    return a.view(f"u{a.dtype.itemsize}")


def _bitmap(mask: np.ndarray, level: int) -> bytes:
    return _zstd(np.packbits(mask).tobytes(), level)


def _unbitmap(buf: bytes | memoryview, n: int) -> np.ndarray:
    packed = np.frombuffer(_unzstd(buf, (n + 7) // 8), dtype=np.uint8)
    return np.unpackbits(packed, count=n).astype(bool)


def _ffill(values: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``values`` with each position where ``ok`` is False given the previous ok value.

    Leading gaps get ``values[0]`` (callers set it to 0 when it is not ok). Keeps
    deltas small across missing values and exceptions.
    """
    if ok.all():
        return values
    idx = np.where(ok, np.arange(len(values)), 0)
    np.maximum.accumulate(idx, out=idx)
    return values[idx]


def _float_dtype(name: str) -> np.dtype:
    dtype = np.dtype(name)
    if dtype.kind != "f" or dtype.itemsize > 8:
        raise IntegrityError(f"a float codec names the dtype {name!r}")
    return dtype


# --------------------------------------------------------------------------- integers


def _as_u64(values: np.ndarray) -> np.ndarray:
    """Integers as their 64-bit two's-complement bit patterns (uint64)."""
    if values.dtype.kind == "u":
        return values.astype(np.uint64)
    return values.astype(np.int64).view(np.uint64)


def _gcd(values: np.ndarray) -> int:
    g = int(np.gcd.reduce(values)) if values.size else 0
    return g if g > 1 else 1


def _narrowest(r: np.ndarray) -> np.ndarray:
    top = int(r.max()) if r.size else 0
    for dtype in _WIDTHS:
        if top < 1 << (8 * dtype.itemsize):
            return r.astype(dtype)
    raise AssertionError("unreachable: uint64 values fit in 8 bytes")


def int_delta_encode(values: np.ndarray, level: int = 19) -> tuple[bytes, dict]:
    """Encode integers (any width, or bool) losslessly.

    Three transforms are tried: frame of reference (``x - min``), first-order delta
    minus the smallest delta, and first-order delta zigzagged; each is divided by the
    gcd of its values, packed in the narrowest unsigned width, stored byte-stream
    split or plain, then zstd-compressed. The smallest result is kept.

    Parameters
    ----------
    values : numpy.ndarray
        One-dimensional integer or bool array.
    level : int
        zstd level.

    Returns
    -------
    payload : bytes
    params : dict
        ``dtype, mode, base, first, gcd, width, bss``.

    Examples
    --------
    >>> ts = np.array([0, 2, 3, 7, 8], dtype=np.int64) * 10**9   # whole seconds in ns
    >>> payload, params = int_delta_encode(ts)
    >>> params["mode"], params["gcd"], params["width"]
    ('delta_for', 1000000000, 1)
    >>> bool((int_delta_decode(payload, params, len(ts)) == ts).all())
    True
    """
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind not in "biu":
        raise TypeError(f"int_delta_encode takes integers or bools, got {values.dtype}")
    params: dict[str, Any] = {"dtype": values.dtype.name}
    if values.dtype.kind == "b":
        values = values.view(np.uint8)
    n = values.size
    if n == 0:
        return b"", {**params, "mode": "empty"}
    u = _as_u64(values)
    cands: list[tuple[str, np.ndarray, dict]] = []
    base = int(values.min())
    cands.append(("for", u - np.uint64(base % 2**64), {"base": base}))
    if n > 1:
        first = int(values[0])
        d = u[1:] - u[:-1]  # wraps modulo 2**64
        s = d.view(np.int64)
        dmin = int(s.min())
        cands.append(("delta_for", d - np.uint64(dmin % 2**64), {"first": first, "base": dmin}))
        g = _gcd(np.where(s < 0, np.uint64(0) - d, d))  # |delta|, 2**63 included
        if 1 < g < 2**63:
            s = s // np.int64(g)
        else:
            g = 1
        zig = ((s << 1) ^ (s >> 63)).view(np.uint64)
        cands.append(("delta_zigzag", zig, {"first": first, "gcd": g}))
    trial = _trial_level(values.nbytes, level)
    best: tuple[int, bytes, dict] | None = None
    for mode, r, extra in cands:
        if "gcd" not in extra:
            g = _gcd(r)
            if g > 1:
                r = r // np.uint64(g)
            extra = {**extra, "gcd": g}
        packed = _narrowest(r)
        layouts = [True, False] if packed.dtype.itemsize > 1 else [False]
        for bss in layouts:
            raw = bss_bytes(packed) if bss else packed.tobytes()
            size = len(_zstd(raw, trial)) if len(cands) > 1 or len(layouts) > 1 else 0
            if best is None or size < best[0]:
                best = (size, raw, {**params, "mode": mode, **extra,
                                    "width": packed.dtype.itemsize, "bss": bss})
    assert best is not None
    _, raw, chosen = best
    return _zstd(raw, level), chosen


def int_delta_decode(payload: bytes | memoryview, params: dict, n: int) -> np.ndarray:
    """Decode :func:`int_delta_encode`'s output: ``n`` integers of ``params["dtype"]``.

    Examples
    --------
    >>> x = np.array([-5, 3, 2**40], dtype=np.int64)
    >>> int_delta_decode(*int_delta_encode(x), 3)
    array([           -5,             3, 1099511627776])
    """
    dtype = np.dtype(params["dtype"])
    if dtype.kind not in "biu":
        raise IntegrityError(f"int_delta names the dtype {params['dtype']!r}")
    mode = params["mode"]
    if mode == "empty" or n == 0:
        if n != 0 or len(payload) != 0:
            raise IntegrityError(f"an empty integer stream is declared for {n} values")
        return np.empty(0, dtype=dtype)
    width = params["width"]
    if width not in (1, 2, 4, 8):
        raise IntegrityError(f"int_delta names the width {width!r}")
    packed_dtype = np.dtype(f"<u{width}")
    m = n if mode == "for" else n - 1
    raw = _unzstd(payload, m * width)
    if params["bss"]:
        r = bss_array(raw, packed_dtype, m).astype(np.uint64)
    else:
        r = np.frombuffer(raw, dtype=packed_dtype).astype(np.uint64)
    g = int(params["gcd"])
    if not 1 <= g < 2**64:
        raise IntegrityError(f"int_delta names the gcd {g!r}")
    if mode == "for":
        u = r * np.uint64(g) + np.uint64(params["base"] % 2**64)
    else:
        if mode == "delta_for":
            d = r * np.uint64(g) + np.uint64(params["base"] % 2**64)
        elif mode == "delta_zigzag":
            s = (r >> np.uint64(1)).view(np.int64) ^ -(r & np.uint64(1)).view(np.int64)
            d = (s * np.int64(g % 2**63)).view(np.uint64)
        else:
            raise IntegrityError(f"int_delta names the mode {mode!r}")
        u = np.empty(n, dtype=np.uint64)
        u[0] = np.uint64(params["first"] % 2**64)
        np.cumsum(d, out=u[1:])
        u[1:] += u[0]
    if dtype.kind == "b":
        return u.astype(bool)
    if dtype.kind == "u":
        return u.astype(dtype)
    return u.view(np.int64).astype(dtype)


# --------------------------------------------------------------------------- floats


def float_bss_encode(x: np.ndarray, level: int = 19) -> tuple[bytes, dict]:
    """Encode floats losslessly: byte-stream split, then zstd.

    Examples
    --------
    >>> x = np.array([1.5, np.nan, -0.0, np.inf])
    >>> y = float_bss_decode(*float_bss_encode(x), 4)
    >>> bool((y.view(np.uint64) == x.view(np.uint64)).all())
    True
    """
    x = np.asarray(x)
    return _zstd(bss_bytes(x), level), {"dtype": _float_dtype(x.dtype.name).name}


def float_bss_decode(payload: bytes | memoryview, params: dict, n: int) -> np.ndarray:
    """Decode :func:`float_bss_encode`'s output (see its example)."""
    dtype = _float_dtype(params["dtype"])
    return bss_array(_unzstd(payload, n * dtype.itemsize), dtype, n)


def _with_exceptions(
    q: np.ndarray, ok: np.ndarray, x: np.ndarray, level: int, params: dict
) -> tuple[bytes, dict]:
    """Integers ``q`` where ``ok``, the raw values of ``x`` elsewhere (bitmap + BSS)."""
    q = _ffill(np.where(ok, q, 0), ok)
    ints, int_params = int_delta_encode(q, level)
    parts = [ints]
    bad = ~ok
    n_bad = int(bad.sum())
    if n_bad:
        parts += [_bitmap(bad, level), _zstd(bss_bytes(x[bad]), level)]
    payload, lengths = _join(parts)
    return payload, {**params, "int": int_params, "exceptions": n_bad, "parts": lengths}


def _exceptions_back(
    payload: bytes | memoryview, params: dict, n: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    parts = _split(payload, params["parts"])
    q = int_delta_decode(parts[0], params["int"], n)
    n_bad = params["exceptions"]
    if not n_bad:
        if len(parts) != 1:
            raise IntegrityError("a float stream has exception parts but no exceptions")
        return q, None, None
    if len(parts) != 3:
        raise IntegrityError("a float stream declares exceptions without their parts")
    bad = _unbitmap(parts[1], n)
    if int(bad.sum()) != n_bad:
        raise IntegrityError(f"the exception bitmap marks {int(bad.sum())} values, "
                             f"expected {n_bad}")
    dtype = _float_dtype(params["dtype"])
    raw = bss_array(_unzstd(parts[2], n_bad * dtype.itemsize), dtype, n_bad)
    return q, bad, raw


def _allowed(n: int) -> int:
    """How many values a decimal column may keep raw: 1% (at least one)."""
    return max(1, int(_EXCEPTION_SHARE * n))


def _decimal_values(q: np.ndarray, scale: int, dtype: np.dtype) -> np.ndarray:
    """The floats a decimal codec decodes to: ``q / 10**scale`` in float64, then ``dtype``."""
    return (q / 10.0**scale).astype(dtype)


def _decimal_ok(x: np.ndarray, x64: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        q = np.rint(x64 * 10.0**scale)
        fits = np.abs(q) <= _EXACT
        q_int = np.where(fits, q, 0).astype(np.int64)
        back = _decimal_values(q_int, scale, x.dtype)
    return fits & (_bits(back) == _bits(x)), q_int


def float_decimal_encode(x: np.ndarray, level: int = 19) -> tuple[bytes, dict] | None:
    """Encode decimal-valued floats (money, prices) losslessly as scaled integers.

    The scale is the smallest ``s`` in 0..6 with the fewest values for which
    ``rint(x * 10**s) / 10**s`` (computed in float64) is not ``x`` bit for bit; those
    values (NaN, inf, -0.0 among them) are stored raw. Returns None when more than 1%
    of the values (and more than one) would be stored raw: the column is not decimal.

    Parameters
    ----------
    x : numpy.ndarray
        Float array.
    level : int
        zstd level.

    Returns
    -------
    (payload, params) or None

    Examples
    --------
    >>> x = np.array([12.34, 0.1, np.nan, 1999.99])
    >>> payload, params = float_decimal_encode(x)
    >>> params["scale"], params["exceptions"]
    (2, 1)
    >>> y = float_decimal_decode(payload, params, 4)
    >>> bool((y.view(np.uint64) == x.view(np.uint64)).all())
    True
    """
    x = np.asarray(x).reshape(-1)
    _float_dtype(x.dtype.name)
    n = x.size
    if n == 0:
        return None
    x64 = x.astype(np.float64)
    step = max(1, n // _SAMPLE)
    xs, xs64 = x[::step], x64[::step]
    start = next((s for s in _SCALES
                  if (~_decimal_ok(xs, xs64, s)[0]).sum() <= _allowed(xs.size)), None)
    if start is None:
        return None
    best: tuple[int, int, np.ndarray, np.ndarray] | None = None
    for scale in _SCALES[start:]:
        ok, q = _decimal_ok(x, x64, scale)
        n_bad = n - int(ok.sum())
        if best is None or n_bad < best[0]:
            best = (n_bad, scale, ok, q)
        if n_bad == 0:
            break
    assert best is not None
    n_bad, scale, ok, q = best
    if n_bad > _allowed(n):
        return None
    return _with_exceptions(q, ok, x, level, {"dtype": x.dtype.name, "scale": scale})


def float_decimal_decode(payload: bytes | memoryview, params: dict, n: int) -> np.ndarray:
    """Decode :func:`float_decimal_encode`'s output (see its example)."""
    dtype = _float_dtype(params["dtype"])
    scale = params["scale"]
    if scale not in _SCALES:
        raise IntegrityError(f"float_decimal names the scale {scale!r}")
    q, bad, raw = _exceptions_back(payload, params, n)
    out = _decimal_values(q, scale, dtype)
    if bad is not None:
        out[bad] = raw
    return out


def _bounded_values(q: np.ndarray, step: float, dtype: np.dtype) -> np.ndarray:
    return (q * step).astype(dtype)


def float_bounded_encode(
    x: np.ndarray, max_error: float, level: int = 19
) -> tuple[bytes, dict]:
    """Encode floats within an absolute error: ``|x - decoded| <= max_error`` everywhere.

    ``q = rint(x / (2 max_error))`` goes through :func:`int_delta_encode`; decoding
    gives ``q * 2 max_error`` in float64, cast to the column's dtype. Values where the
    bound would not hold exactly after that cast (NaN, inf, overflow of int64, float
    rounding) are kept raw, so NaN and inf survive unchanged.

    Examples
    --------
    >>> x = np.array([0.123456, 1.0, np.nan, 2.5])
    >>> y = float_bounded_decode(*float_bounded_encode(x, 0.001), 4)
    >>> bool(np.nanmax(np.abs(x - y)) <= 0.001), bool(np.isnan(y[2]))
    (True, True)
    """
    x = np.asarray(x).reshape(-1)
    _float_dtype(x.dtype.name)
    if not (np.isfinite(max_error) and max_error > 0):
        raise ValueError(f"max_error must be a positive finite number, got {max_error!r}")
    step = 2.0 * float(max_error)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        q = np.rint(x64 / step)
        ok = np.abs(q) < _BOUNDED_MAX
        q_int = np.where(ok, q, 0).astype(np.int64)
        err = np.abs(_bounded_values(q_int, step, x.dtype).astype(np.float64) - x64)
    ok &= err <= max_error
    payload, params = _with_exceptions(q_int, ok, x, level,
                                       {"dtype": x.dtype.name, "step": step})
    y = float_bounded_decode(payload, params, x.size)  # the bound, on what readers get
    with np.errstate(invalid="ignore"):
        within = np.abs(y.astype(np.float64) - x64) <= max_error
    same = _bits(y) == _bits(x)
    if not (within | same).all():  # pragma: no cover - guarded by the checks above
        raise AssertionError("float_bounded produced values outside the bound")
    return payload, params


def float_bounded_decode(payload: bytes | memoryview, params: dict, n: int) -> np.ndarray:
    """Decode :func:`float_bounded_encode`'s output (see its example)."""
    dtype = _float_dtype(params["dtype"])
    step = float(params["step"])
    if not (np.isfinite(step) and step > 0):
        raise IntegrityError(f"float_bounded names the step {step!r}")
    q, bad, raw = _exceptions_back(payload, params, n)
    out = _bounded_values(q, step, dtype)
    if bad is not None:
        out[bad] = raw
    return out


_FLOAT_DECODERS: dict[str, Callable[[Any, dict, int], np.ndarray]] = {
    "float_bss": float_bss_decode,
    "float_decimal": float_decimal_decode,
    "float_bounded": float_bounded_decode,
}


def _smallest(
    cands: list[tuple[str, Callable[[int], tuple[bytes, dict] | None]]], nbytes: int, level: int
) -> tuple[str, bytes, dict]:
    """Run each candidate at the trial level, rerun the smallest at ``level``."""
    trial = _trial_level(nbytes, level)
    results = []
    for name, fn in cands:
        out = fn(trial)
        if out is not None:
            results.append((len(out[0]), name, fn, out))
    _, name, fn, out = min(results, key=lambda r: r[0])
    if trial != level:
        out = fn(level)
        assert out is not None
    return name, out[0], out[1]


def _best_float(x: np.ndarray, max_error: float | None, level: int) -> tuple[str, bytes, dict]:
    cands: list[tuple[str, Callable[[int], tuple[bytes, dict] | None]]] = [
        ("float_bss", lambda lv: float_bss_encode(x, lv)),
        ("float_decimal", lambda lv: float_decimal_encode(x, lv)),
    ]
    if max_error is not None:
        cands.append(("float_bounded", lambda lv: float_bounded_encode(x, max_error, lv)))
    return _smallest(cands, x.nbytes, level)


# --------------------------------------------------------------------------- column kinds


def _name(name: object) -> str:
    return repr(name)


def _first_rows(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:_SHOW].tolist()


def column_kind(s: pd.Series, name: object = None) -> str:
    """The kind of a column, which decides the codecs it can use.

    Parameters
    ----------
    s : pandas.Series
        The column.
    name : object, optional
        Its name, for error messages (default ``s.name``).

    Returns
    -------
    str
        One of :data:`KINDS`.

    Raises
    ------
    SchemaError
        For dtypes no codec handles (complex, period, interval, objects that are
        neither text, bytes nor fixed-length float lists), naming the column and the fix.

    Examples
    --------
    >>> column_kind(pd.Series([1.5])), column_kind(pd.Series(["a", None]))
    ('float', 'string')
    >>> column_kind(pd.Series([[0.1, 0.2], [0.3, 0.4]]))
    'vector'
    """
    name = s.name if name is None else name
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetimetz"
    if isinstance(s.array, _MASKED):
        return "masked"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f" and dtype.itemsize <= 8:
            return "float"
        simple = {"i": "int", "u": "int", "b": "bool", "M": "datetime", "m": "timedelta"}
        if dtype.kind in simple:
            return simple[dtype.kind]
        if dtype.kind == "O":
            return _object_kind(s.to_numpy(dtype=object), name)
    raise SchemaError(
        f"column {_name(name)} has dtype {dtype}, which compress_frame cannot store; "
        "convert it first, e.g. df[col].astype(float) for numbers, .astype(str) for text "
        "(complex numbers: store .real and .imag as two columns)",
        column=str(name),
    )


def _object_kind(vals: np.ndarray, name: object) -> str:
    inferred = pd.api.types.infer_dtype(vals, skipna=True)
    if inferred in ("string", "empty"):
        return "string"
    if inferred == "bytes":
        return "bytes"
    kind = _OBJECT_INFERRED.get(inferred)
    if kind is not None and (_object_na(vals) | _of_kind(vals, kind)).all():
        return kind
    present = ~pd.isna(vals)
    if present.any():
        first = vals[np.argmax(present)]
        if isinstance(first, list | tuple | np.ndarray):
            return "vector"
    is_text = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(vals).astype(bool)
    bad = present & ~is_text
    kinds = sorted({type(v).__name__ for v in vals[bad][:100]})
    raise SchemaError(
        f"column {_name(name)} holds objects of type {', '.join(kinds)} (first at rows "
        f"{_first_rows(bad)}); compress_frame stores text, bytes, numbers, dates, "
        "categoricals, fixed-length float lists, and columns of Decimals, datetime.date or "
        "bools alone (with missing values): convert it, e.g. "
        "df[col].astype(str) or pd.to_numeric(df[col])",
        column=str(name), rows=_first_rows(bad),
    )


# --------------------------------------------------------------------------- digests


def _object_na(vals: np.ndarray) -> np.ndarray:
    """Missing cells of an object column: None, pd.NA, NaT or a float NaN (a
    ``Decimal("NaN")`` is a value, not a missing cell)."""
    def missing(v: object) -> bool:
        return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)
    return np.frompyfunc(missing, 1, 1)(vals).astype(bool)


def _of_kind(vals: np.ndarray, kind: str) -> np.ndarray:
    """Cells whose type is exactly the one ``kind`` stores (a datetime is no date)."""
    def ok(v: object) -> bool:
        if kind == "pybool":
            return isinstance(v, bool | np.bool_)
        return type(v) is (Decimal if kind == "decimal" else dt.date)
    return np.frompyfunc(ok, 1, 1)(vals).astype(bool)


def _object_text(v: object, kind: str) -> str:
    if kind == "pybool":
        return "1" if v else "0"
    return str(v) if kind == "decimal" else v.isoformat()


def _na_kinds(vals: np.ndarray) -> np.ndarray:
    """0 for None, 1 for NaN (and other NA scalars), 2 for pd.NA, 3 for pd.NaT."""
    def kind(v: object) -> int:
        if v is None:
            return 0
        if v is pd.NA:
            return 2
        if v is pd.NaT:
            return 3
        return 1
    return np.frompyfunc(kind, 1, 1)(vals).astype(np.uint8)


def _offsets(arr: pa.Array) -> np.ndarray:
    """The int64 offsets of a large string or binary array."""
    return np.frombuffer(arr.buffers()[1], dtype="<i8", count=len(arr) + 1,
                         offset=8 * arr.offset).astype(np.int64)


def _stack(cells: np.ndarray) -> np.ndarray:
    return np.stack(cells) if cells.size else np.empty((0, 0))


def _chunks(values: Any, kind: str) -> Iterator[bytes]:
    """The canonical bytes of a column's values, hashed by :func:`raw_digest`."""
    s = pd.Series(values, copy=False)
    if kind == "category":
        yield np.ascontiguousarray(s.cat.codes.to_numpy(), dtype="<i8").tobytes()
        yield b"ordered" if s.cat.ordered else b"unordered"
        cats = pd.Series(s.cat.categories, copy=False)
        yield from _chunks(cats, column_kind(cats))
    elif kind in ("float", "int", "bool", "datetime", "timedelta"):
        yield _little(s.to_numpy()).tobytes()
    elif kind == "datetimetz":
        yield _little(s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()).tobytes()
    elif kind == "masked":
        na = s.isna().to_numpy()
        yield _little(s.to_numpy(dtype=s.dtype.numpy_dtype,
                                 na_value=np.zeros((), s.dtype.numpy_dtype)[()])).tobytes()
        yield np.packbits(na).tobytes()
    elif kind in ("string", "bytes"):
        vals = s.to_numpy(dtype=object)
        na = pd.isna(vals)
        arr = pa.array(vals, type=pa.large_string() if kind == "string" else pa.large_binary(),
                       from_pandas=True)
        offsets = _offsets(arr)
        yield _little(offsets).tobytes()
        data = arr.buffers()[2]
        yield b"" if data is None else data.to_pybytes()[: int(offsets[-1])]
        yield np.packbits(na).tobytes()
        yield _na_kinds(vals[na]).tobytes()
    elif kind in OBJECT_KINDS:
        vals = s.to_numpy(dtype=object)
        na = _object_na(vals)
        text = [_object_text(v, kind) for v in vals[~na]]
        yield "\n".join(text).encode()
        yield np.packbits(na).tobytes()
        yield _na_kinds(vals[na]).tobytes()
    elif kind == "vector":
        vals = s.to_numpy(dtype=object)
        na = pd.isna(vals)
        mat = _stack(vals[~na])
        yield str(mat.shape[1:]).encode() + mat.dtype.str.encode()
        yield _little(mat).tobytes()
        yield np.packbits(na).tobytes()
        yield _na_kinds(vals[na]).tobytes()
    else:  # pragma: no cover - kinds are checked before
        raise ValueError(f"unknown column kind {kind!r}")


def raw_digest(values: Any, kind: str) -> str:
    """sha256 of a column's values in a canonical byte form (hex).

    Numbers hash their little-endian bytes (NaN payloads and -0.0 included), text
    its UTF-8 buffer and offsets, missing values a bitmap and their kind (None, NaN,
    pd.NA, NaT), categoricals their codes and categories, vectors the stacked matrix.

    Examples
    --------
    >>> raw_digest(np.array([1.0]), "float") == raw_digest(np.array([1.0]), "float")
    True
    >>> raw_digest(np.array([0.0]), "float") == raw_digest(np.array([-0.0]), "float")
    False
    """
    h = hashlib.sha256(kind.encode())
    for chunk in _chunks(values, kind):
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- columns


def _nulls_payload(
    mask: np.ndarray | None, body: bytes, params: dict, level: int
) -> tuple[bytes, dict]:
    if mask is None or not mask.any():
        return body, {**params, "nulls": 0}
    bitmap = _bitmap(mask, level)
    return bitmap + body, {**params, "nulls": int(mask.sum()), "null_bitmap": len(bitmap)}


def _nulls_back(
    payload: bytes | memoryview, params: dict, n: int
) -> tuple[np.ndarray | None, memoryview]:
    view = memoryview(payload)
    if not params["nulls"]:
        return None, view
    head, body = _split(view, [params["null_bitmap"], len(view) - params["null_bitmap"]])
    mask = _unbitmap(head, n)
    if int(mask.sum()) != params["nulls"]:
        raise IntegrityError(f"the null bitmap marks {int(mask.sum())} rows, "
                             f"expected {params['nulls']}")
    return mask, body


def encode_column(
    s: pd.Series, *, name: object = None, max_error: float | None = None, level: int = 19
) -> EncodedColumn:
    """Encode one column with the smallest codec its kind allows.

    Parameters
    ----------
    s : pandas.Series
        The column.
    name : object, optional
        Its name, for error messages.
    max_error : float, optional
        Absolute error allowed on a float or vector column (None: lossless).
    level : int
        zstd level.

    Returns
    -------
    EncodedColumn

    Raises
    ------
    SchemaError
        For unsupported dtypes and ragged or non-float vector columns.

    Examples
    --------
    >>> enc = encode_column(pd.Series([12.5, 99.99, 3.1]))
    >>> enc.codec, enc.kind
    ('float_decimal', 'float')
    >>> decode_column(enc.payload, enc.kind, enc.dtype, enc.codec, enc.params, 3)
    array([12.5 , 99.99,  3.1 ])
    """
    name = s.name if name is None else name
    kind = column_kind(s, name)
    if max_error is not None and kind not in _FLOAT_KINDS and not (
            kind == "masked" and s.dtype.numpy_dtype.kind == "f"):
        max_error = None
    codec, payload, params = _ENCODERS[kind](s, kind, name, max_error, level)
    decoded = decode_column(payload, kind, str(s.dtype), codec, params, len(s))
    digest = raw_digest(decoded, kind)
    lossy = "float_bounded" in (codec, params.get("codec"))
    if not lossy and digest != raw_digest(s.array, kind):
        raise IntegrityError(
            f"column {_name(name)} ({s.dtype}) did not round-trip through the {codec} codec; "
            "this is a bug in NEXUS Lab: please report it with the column's dtype")
    return EncodedColumn(kind, str(s.dtype), codec, params, payload, digest, lossy)


def _enc_float(s, kind, name, max_error, level):
    return _best_float(s.to_numpy(), max_error, level)


def _enc_int(s, kind, name, max_error, level):
    return ("int_delta", *int_delta_encode(s.to_numpy(), level))


def _enc_time(s, kind, name, max_error, level):
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    i64 = s.to_numpy().view(np.int64)
    nat = i64 == _INT64_MIN
    ok = ~nat
    body, params = int_delta_encode(_ffill(np.where(ok, i64, 0), ok), level)
    return ("int_delta", *_nulls_payload(nat, body, params, level))


def _enc_masked(s, kind, name, max_error, level):
    np_dtype = s.dtype.numpy_dtype
    mask = s.isna().to_numpy()
    values = s.to_numpy(dtype=np_dtype, na_value=np.zeros((), np_dtype)[()])
    values = _ffill(values, ~mask)  # masked slots hold 0; give them their neighbour
    if np_dtype.kind == "f":
        codec, body, params = _best_float(values, max_error, level)
    else:
        codec, (body, params) = "int_delta", int_delta_encode(values, level)
    payload, params = _nulls_payload(mask, body, {"codec": codec, "values": params}, level)
    return "masked", payload, params


def _enc_text(s, kind, name, max_error, level):
    vals = s.to_numpy(dtype=object)
    codes, uniques = pd.factorize(vals, use_na_sentinel=True)
    try:
        arr = pa.array(uniques, type=pa.large_string() if kind == "string" else pa.large_binary())
    except (pa.ArrowException, UnicodeError) as exc:
        raise SchemaError(
            f"column {_name(name)} holds text that cannot be stored as UTF-8 ({exc}); "
            "fix or drop the offending values (e.g. lone surrogates) first",
            column=str(name),
        ) from None
    offsets = _offsets(arr)
    data = arr.buffers()[2]
    data = b"" if data is None else data.to_pybytes()[: int(offsets[-1])]
    code_bytes, code_params = int_delta_encode(codes.astype(np.int64), level)
    len_bytes, len_params = int_delta_encode(np.diff(offsets), level)
    parts = [code_bytes, len_bytes, _zstd(data, level)]
    params: dict[str, Any] = {"codes": code_params, "lengths": len_params,
                              "n_values": len(uniques), "data_bytes": len(data),
                              "binary": kind == "bytes"}
    na = codes < 0
    if na.any():
        kinds = _na_kinds(vals[na])
        if (kinds == kinds[0]).all():
            params["na"] = int(kinds[0])
        else:
            kind_bytes, params["na_kinds"] = int_delta_encode(kinds, level)
            parts.append(kind_bytes)
    payload, params["parts"] = _join(parts)
    return "dictionary", payload, params


def _enc_category(s, kind, name, max_error, level):
    codes = s.cat.codes.to_numpy()
    cats = pd.Series(s.cat.categories, copy=False)
    inner = encode_column(cats, name=f"{name}.categories", level=level)
    code_bytes, code_params = int_delta_encode(codes, level)
    payload, lengths = _join([code_bytes, inner.payload])
    params = {"codes": code_params, "ordered": bool(s.cat.ordered), "n_categories": len(cats),
              "categories": {"kind": inner.kind, "dtype": inner.dtype, "codec": inner.codec,
                             "params": inner.params},
              "parts": lengths}
    return "categorical", payload, params


def _enc_vector(s, kind, name, max_error, level):
    vals = s.to_numpy(dtype=object)
    na = pd.isna(vals)
    cells = vals[~na]
    rows = np.flatnonzero(~na)
    try:
        lens = np.fromiter(map(len, cells), dtype=np.int64, count=cells.size)
    except TypeError:
        bad = ~na & ~np.frompyfunc(lambda v: isinstance(v, list | tuple | np.ndarray), 1, 1)(
            vals).astype(bool)
        raise SchemaError(
            f"column {_name(name)} mixes lists with scalars (rows {_first_rows(bad)}); "
            "a vector column holds one fixed-length float list per row (or None)",
            column=str(name), rows=_first_rows(bad),
        ) from None
    sizes, counts = np.unique(lens, return_counts=True)
    if sizes.size > 1:
        dim = int(sizes[np.argmax(counts)])
        bad_rows = rows[lens != dim][:_SHOW].tolist()
        raise SchemaError(
            f"column {_name(name)} holds vectors of different lengths ({sizes[:5].tolist()}); "
            f"rows {bad_rows} differ from the usual length {dim}: a vector column needs "
            "fixed-length lists; pad or drop the ragged rows, or store them as text",
            column=str(name), rows=bad_rows,
        )
    try:
        mat = _stack(cells)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"column {_name(name)} has cells that are not flat float lists "
                          f"({exc}); each cell must be a 1-D list or array of floats",
                          column=str(name)) from None
    if cells.size and (mat.ndim != 2 or mat.dtype.kind != "f" or mat.dtype.itemsize > 8):
        raise SchemaError(
            f"column {_name(name)} holds lists of {mat.dtype} with shape {mat.shape[1:]}; "
            "a vector column holds 1-D lists of floats: convert the cells with "
            "df[col].map(lambda v: np.asarray(v, dtype=np.float32))",
            column=str(name),
        )
    k, dim = mat.shape
    cands = []
    for layout in ("row", "col"):
        flat = mat.reshape(-1) if layout == "row" else mat.T.reshape(-1)
        for codec in ("float_bss", "float_decimal", "float_bounded"):
            if codec == "float_bounded" and max_error is None:
                continue

            def run(lv, flat=flat, codec=codec, layout=layout):
                if codec == "float_bss":
                    out = float_bss_encode(flat, lv)
                elif codec == "float_decimal":
                    out = float_decimal_encode(flat, lv)
                else:
                    out = float_bounded_encode(flat, max_error, lv)
                return None if out is None else (out[0], {"layout": layout, "codec": codec,
                                                          "values": out[1]})
            cands.append((f"{layout}/{codec}", run))
    _, body, inner = _smallest(cands, mat.nbytes, level)
    cell = "list" if cells.size and isinstance(cells[0], list | tuple) else "ndarray"
    params = {**inner, "dim": dim, "rows": k, "cell": cell}
    if na.any():
        kinds = _na_kinds(vals[na])
        params["na"] = int(kinds[0])
        if not (kinds == kinds[0]).all():
            raise SchemaError(f"column {_name(name)} marks missing vectors with both None and "
                              "NaN; use one of them", column=str(name))
    return ("vector", *_nulls_payload(na, body, params, level))


def _na_parts(vals: np.ndarray, na: np.ndarray, params: dict, level: int) -> list[bytes]:
    """Record which missing value each missing cell was (None, NaN, pd.NA, NaT)."""
    if not na.any():
        return []
    kinds = _na_kinds(vals[na])
    if (kinds == kinds[0]).all():
        params["na"] = int(kinds[0])
        return []
    kind_bytes, params["na_kinds"] = int_delta_encode(kinds, level)
    return [kind_bytes]


def _decimal_parts(present: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Signed int64 coefficients and exponents; the values they cannot hold as text."""
    coef = np.zeros(present.size, np.int64)
    expo = np.zeros(present.size, np.int64)
    special: list[str] = []
    limit = 2**63 - 1
    for n, d in enumerate(present):
        sign, digits, exponent = d.as_tuple()
        c = int("".join(map(str, digits))) if isinstance(exponent, int) else -1
        if c < 0 or c >= limit or (sign and c == 0):  # NaN, inf, -0, too wide
            special.append(str(d))
            coef[n] = limit  # marks a value kept as text
        else:
            coef[n], expo[n] = -c if sign else c, exponent
    return coef, expo, special


def _enc_object(s, kind, name, max_error, level):
    vals = s.to_numpy(dtype=object)
    na = _object_na(vals)
    present = vals[~na]
    params: dict[str, Any] = {"type": kind}
    if kind == "pybool":
        body, params["values"] = int_delta_encode(present.astype(bool), level)
        parts = [body]
    elif kind == "date":
        days = np.fromiter((v.toordinal() for v in present), np.int64, count=present.size)
        body, params["values"] = int_delta_encode(days, level)
        parts = [body]
    else:
        coef, expo, special = _decimal_parts(present)
        coef_bytes, params["coefficients"] = int_delta_encode(coef, level)
        expo_bytes, params["exponents"] = int_delta_encode(expo, level)
        text = "\n".join(special).encode()
        params["special"], params["special_bytes"] = len(special), len(text)
        parts = [coef_bytes, expo_bytes, _zstd(text, level)]
    parts += _na_parts(vals, na, params, level)
    body, params["parts"] = _join(parts)
    return ("objects", *_nulls_payload(na, body, params, level))


_ENCODERS = {
    "float": _enc_float, "int": _enc_int, "bool": _enc_int, "datetime": _enc_time,
    "timedelta": _enc_time, "datetimetz": _enc_time, "masked": _enc_masked,
    "string": _enc_text, "bytes": _enc_text, "category": _enc_category, "vector": _enc_vector,
    "decimal": _enc_object, "date": _enc_object, "pybool": _enc_object,
}


def decode_column(
    payload: bytes | memoryview, kind: str, dtype: str, codec: str, params: dict, n: int
) -> Any:
    """Decode one column: a NumPy array or pandas extension array of ``n`` values.

    Parameters
    ----------
    payload : bytes
        What :func:`encode_column` produced.
    kind, dtype, codec, params :
        The :class:`EncodedColumn` fields.
    n : int
        Number of rows.

    Raises
    ------
    IntegrityError
        When the payload or params are inconsistent.

    Examples
    --------
    >>> enc = encode_column(pd.Series(["a", None, "a"]))
    >>> decode_column(enc.payload, enc.kind, enc.dtype, enc.codec, enc.params, 3)
    array(['a', None, 'a'], dtype=object)
    """
    if kind not in _DECODERS:
        raise IntegrityError(f"unknown column kind {kind!r}")
    out = _DECODERS[kind](payload, dtype, codec, params, n)
    if len(out) != n:
        raise IntegrityError(f"decoded {len(out)} values, expected {n}")
    return out


def _expect(codec: str, *allowed: str) -> None:
    if codec not in allowed:
        raise IntegrityError(f"codec {codec!r} does not apply here (expected {allowed})")


def _dec_float(payload, dtype, codec, params, n):
    _expect(codec, *_FLOAT_DECODERS)
    out = _FLOAT_DECODERS[codec](payload, params, n)
    if out.dtype != np.dtype(dtype):
        raise IntegrityError(f"decoded {out.dtype}, the header says {dtype}")
    return out


def _dec_int(payload, dtype, codec, params, n):
    _expect(codec, "int_delta")
    out = int_delta_decode(payload, params, n)
    if out.dtype != np.dtype(dtype):
        raise IntegrityError(f"decoded {out.dtype}, the header says {dtype}")
    return out


def _dec_time(payload, dtype, codec, params, n):
    _expect(codec, "int_delta")
    mask, body = _nulls_back(payload, params, n)
    i64 = int_delta_decode(body, params, n).astype(np.int64)
    if mask is not None:
        i64[mask] = _INT64_MIN
    target = pd.api.types.pandas_dtype(dtype)
    if isinstance(target, pd.DatetimeTZDtype):
        naive = pd.Series(i64.view(f"M8[{target.unit}]"))
        return naive.dt.tz_localize("UTC").dt.tz_convert(target.tz).array
    if target.kind not in "Mm":
        raise IntegrityError(f"a time column names the dtype {dtype!r}")
    return i64.view(target)


def _dec_masked(payload, dtype, codec, params, n):
    _expect(codec, "masked")
    target = pd.api.types.pandas_dtype(dtype)
    mask, body = _nulls_back(payload, params, n)
    mask = np.zeros(n, dtype=bool) if mask is None else mask
    inner = params["codec"]
    if inner == "int_delta":
        values = int_delta_decode(body, params["values"], n)
    else:
        _expect(inner, *_FLOAT_DECODERS)
        values = _FLOAT_DECODERS[inner](body, params["values"], n)
    if values.dtype != target.numpy_dtype:
        raise IntegrityError(f"decoded {values.dtype}, the header says {dtype}")
    if values.dtype.kind == "b":
        return pd.arrays.BooleanArray(values, mask)
    if values.dtype.kind == "f":
        return pd.arrays.FloatingArray(values, mask)
    return pd.arrays.IntegerArray(values, mask)


def _dec_text(payload, dtype, codec, params, n):
    _expect(codec, "dictionary")
    parts = _split(payload, params["parts"])
    m = params["n_values"]
    codes = int_delta_decode(parts[0], params["codes"], n)
    lengths = int_delta_decode(parts[1], params["lengths"], m).astype(np.int64)
    data = _unzstd(parts[2], params["data_bytes"])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if (lengths < 0).any() or offsets[-1] != len(data):
        raise IntegrityError("the dictionary's lengths do not add up to its bytes")
    if codes.size and (codes.min() < -1 or codes.max() >= m):
        raise IntegrityError(f"dictionary codes fall outside 0..{m - 1}")
    array_type = pa.large_binary() if params["binary"] else pa.large_string()
    arr = pa.Array.from_buffers(array_type, m, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise IntegrityError(f"the dictionary is not valid text ({exc})") from None
    uniques = arr.to_numpy(zero_copy_only=False)
    na = codes < 0
    out = np.empty(n, dtype=object)
    out[~na] = uniques[codes[~na]]
    if na.any():
        if "na_kinds" in params:
            kinds = int_delta_decode(parts[3], params["na_kinds"], int(na.sum()))
        else:
            kinds = np.full(int(na.sum()), params["na"])
        if kinds.max() >= len(_NA_VALUES):
            raise IntegrityError("a missing value names an unknown kind")
        out[na] = _NA_VALUES[kinds]
    target = pd.api.types.pandas_dtype(dtype)
    if isinstance(target, np.dtype):
        return out
    return pd.array(out, dtype=target)


def _dec_category(payload, dtype, codec, params, n):
    _expect(codec, "categorical")
    parts = _split(payload, params["parts"])
    codes = int_delta_decode(parts[0], params["codes"], n)
    c = params["categories"]
    cats = decode_column(parts[1], c["kind"], c["dtype"], c["codec"], c["params"],
                         params["n_categories"])
    try:
        return pd.Categorical.from_codes(codes, categories=pd.Index(cats),
                                         ordered=params["ordered"])
    except ValueError as exc:
        raise IntegrityError(f"categorical codes do not fit the categories ({exc})") from None


def _dec_vector(payload, dtype, codec, params, n):
    _expect(codec, "vector")
    mask, body = _nulls_back(payload, params, n)
    k, dim = params["rows"], params["dim"]
    if k != n - (0 if mask is None else int(mask.sum())) or dim < 0:
        raise IntegrityError(f"a vector column declares {k} rows of {dim} for {n} rows")
    inner = params["codec"]
    _expect(inner, *_FLOAT_DECODERS)
    flat = _FLOAT_DECODERS[inner](body, params["values"], k * dim)
    if params["layout"] == "row":
        mat = flat.reshape(k, dim)
    elif params["layout"] == "col":
        mat = np.ascontiguousarray(flat.reshape(dim, k).T)
    else:
        raise IntegrityError(f"a vector column names the layout {params['layout']!r}")
    rows = mat.tolist() if params["cell"] == "list" else list(mat)
    cells = np.fromiter(rows, dtype=object, count=k)
    if mask is None:
        return cells
    out = np.empty(n, dtype=object)
    out[~mask] = cells
    out[mask] = _NA_VALUES[params["na"]]
    return out


def _decimals(coef: np.ndarray, expo: np.ndarray, special: list[str]) -> list[Decimal]:
    limit = 2**63 - 1
    out, texts = [], iter(special)
    try:
        for c, e in zip(coef.tolist(), expo.tolist()):
            if c == limit:
                out.append(Decimal(next(texts)))
            else:
                out.append(Decimal((int(c < 0), tuple(map(int, str(abs(c)))), e)))
    except (StopIteration, ArithmeticError, ValueError) as exc:
        raise IntegrityError(f"a decimal column does not decode ({exc!r})") from None
    return out


def _dec_object(payload, dtype, codec, params, n):
    _expect(codec, "objects")
    mask, body = _nulls_back(payload, params, n)
    mask = np.zeros(n, dtype=bool) if mask is None else mask
    m = n - int(mask.sum())
    parts = _split(body, params["parts"])
    if params.get("type") not in OBJECT_KINDS:
        raise IntegrityError(f"an object column names the type {params.get('type')!r}")
    if params["type"] == "decimal":
        coef = int_delta_decode(parts[0], params["coefficients"], m)
        expo = int_delta_decode(parts[1], params["exponents"], m)
        text = _unzstd(parts[2], params["special_bytes"]).decode() if params["special"] else ""
        special = text.split("\n") if params["special"] else []
        values: list = _decimals(coef, expo, special)
        rest = parts[3:]
    else:
        raw = int_delta_decode(parts[0], params["values"], m)
        rest = parts[1:]
        if params["type"] == "pybool":
            values = raw.astype(bool).tolist()
        else:
            try:
                values = [dt.date.fromordinal(d) for d in raw.tolist()]
            except (ValueError, OverflowError) as exc:
                raise IntegrityError(f"a date column does not decode ({exc})") from None
    out = np.empty(n, dtype=object)
    out[~mask] = np.fromiter(values, dtype=object, count=m) if m else []
    if mask.any():
        if "na_kinds" in params:
            kinds = int_delta_decode(rest[0], params["na_kinds"], int(mask.sum()))
        else:
            kinds = np.full(int(mask.sum()), params.get("na", 0))
        if kinds.max() >= len(_NA_VALUES):
            raise IntegrityError("a missing value names an unknown kind")
        out[mask] = _NA_VALUES[kinds]
    return out


_DECODERS = {
    "float": _dec_float, "int": _dec_int, "bool": _dec_int, "datetime": _dec_time,
    "timedelta": _dec_time, "datetimetz": _dec_time, "masked": _dec_masked,
    "string": _dec_text, "bytes": _dec_text, "category": _dec_category, "vector": _dec_vector,
    "decimal": _dec_object, "date": _dec_object, "pybool": _dec_object,
}
