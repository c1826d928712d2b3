"""A self-describing, checksummed container for a whole frame: ``compress_frame``.

Each column is encoded with the smallest codec its dtype allows (see
:mod:`nexus_lab.compress._columns`), lossless unless an error bound is given for it,
and every byte that comes back is verified.

Format (version 2), all integers little-endian::

    offset        size  field
    0             4     magic b"NXCF"
    4             2     format version, uint16: 2 when a column is of a kind that
                        version 2 added (``decimal``, ``date``, ``pybool``), else 1,
                        so that a frame without them stays readable by older readers
    6             4     H: length of the header, uint32 (at most 64 MiB)
    10            H     header: UTF-8 JSON (below)
    10 + H        32    sha256 of bytes [0, 10 + H): the prefix and the header
    42 + H        P     payloads, one per encoded column, back to back
    42 + H + P          end: the blob is exactly this long

The header is a JSON object::

    {"format": "nexus-lab/frame", "writer": "nexus-lab 0.1.0",
     "n_rows": 3, "payload_bytes": P,
     "columns_index": {"kind": "range", "start": 0, "stop": 2, "step": 1}
                      or {"kind": "labels"},
     "index": {"kind": "range", "start": 0, "stop": 3, "step": 1, "name": null}
              or {"kind": "index" | "multi", "names": [...], "columns": [entry, ...]},
     "columns": [entry, ...]}

and each column (and each level of a non-range index) is an entry::

    {"name": "amount", "kind": "float", "dtype": "float64",
     "codec": "float_decimal", "params": {...}, "lossy": false,
     "offset": 0, "length": 1234,          # within the payload area, in order
     "sha256": "...",                      # of the payload bytes
     "raw_sha256": "..."}                  # of the decoded values (canonical bytes)

:func:`decompress_frame` checks, in order: the magic, the version (a newer one asks
for an upgrade), the header length (at most 64 MiB and within the blob), the header's
sha256, the header's structure, the blob's exact length, then for each column the
payload's sha256, the decoding itself and the decoded values' sha256. Any failure
raises :class:`~nexus_lab.errors.IntegrityError` naming what failed; no partially
decoded frame is ever returned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.compress._columns import (
    KINDS,
    OBJECT_KINDS,
    EncodedColumn,
    column_kind,
    decode_column,
    encode_column,
    raw_digest,
)
from nexus_lab.errors import IntegrityError, NexusError, SchemaError
from nexus_lab.frames import to_pandas

__all__ = ["FORMAT_VERSION", "MAGIC", "compress_frame", "decompress_frame"]

log = logging.getLogger("nexus_lab")

#: The first four bytes of every container.
MAGIC = b"NXCF"
#: The container version this code writes, and the newest it reads.
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<4sHI")  # magic, version, header length
_DIGEST = 32
_MAX_HEADER = 64 << 20
_FORMAT = "nexus-lab/frame"
_ENTRY_KEYS = ("name", "kind", "dtype", "codec", "params", "offset", "length", "sha256",
               "raw_sha256")


def compress_frame(
    df: Any, max_error: float | Mapping[Any, float] | None = None, level: int = 19
) -> bytes:
    """Compress a frame into one self-describing, checksummed blob.

    Each column gets the smallest of the codecs its dtype allows: floats try
    byte-stream split + zstd, decimal detection (money and prices as scaled
    integers) and, when ``max_error`` covers them, bounded-error quantization;
    integers, bools and timestamps are delta / frame-of-reference coded with gcd
    removal and narrow packing; text is dictionary-encoded; categoricals keep their
    codes and categories; columns of fixed-length float lists become a matrix.

    Parameters
    ----------
    df : DataFrame
        pandas, polars or pyarrow frame (anything :func:`nexus_lab.frames.to_pandas`
        takes). Its index is kept too.
    max_error : float or dict, optional
        None (default): everything lossless. A float: the absolute error allowed on
        every float (and float-vector) column. A dict ``{column: error}``: per column;
        other columns stay lossless. Decoded values satisfy
        ``abs(x - x_hat) <= max_error``; NaN and inf come back unchanged.
    level : int
        zstd level, 1 (fast) to 22 (smallest); 19 by default.

    Returns
    -------
    bytes
        The container (format in this module's docstring).

    Raises
    ------
    SchemaError
        For columns no codec handles (the message names the column and the fix),
        ragged vector columns, and error bounds on unknown or non-float columns.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"amount": [12.34, 5.0, 99.99], "n": [1, 2, 3]})
    >>> blob = compress_frame(df)
    >>> blob[:4]
    b'NXCF'
    >>> decompress_frame(blob).equals(df)
    True
    """
    if isinstance(level, bool) or not isinstance(level, int | np.integer) or not (
            1 <= level <= 22):
        raise ValueError(f"level must be an integer from 1 to 22, got {level!r}")
    level = int(level)
    frame = to_pandas(df, name="frame")
    if isinstance(frame.columns, pd.MultiIndex):
        raise SchemaError("compress_frame stores frames with one level of column names; "
                          "flatten them first, e.g. df.columns = ['_'.join(map(str, c)) "
                          "for c in df.columns]")
    names = [_json_name(c, "column") for c in frame.columns]
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    kinds = [column_kind(s, name) for s, name in zip(columns, names)]
    bounds = _bounds(names, kinds, columns, max_error)

    index, index_columns = _index_header(frame.index)
    payloads: list[bytes] = []

    def entry(s: pd.Series, name: object, bound: float | None) -> dict:
        enc = encode_column(s, name=name, max_error=bound, level=level)
        offset = sum(len(p) for p in payloads)
        payloads.append(enc.payload)
        log.debug("compress_frame: column %r (%s) -> %s, %d bytes", name, enc.dtype,
                  enc.codec, len(enc.payload))
        return _entry(enc, name, offset)

    if index_columns:
        index["columns"] = [entry(s, name, None) for s, name in
                            zip(index_columns, index["names"])]
    entries = [entry(s, name, bound) for s, name, bound in zip(columns, names, bounds)]
    header = {
        "format": _FORMAT,
        "writer": f"nexus-lab {_version()}",
        "n_rows": len(frame),
        "payload_bytes": sum(len(p) for p in payloads),
        "columns_index": _columns_index(frame.columns),
        "index": index,
        "columns": entries,
    }
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(text) > _MAX_HEADER:
        raise SchemaError(f"the frame's description takes {len(text):,} bytes, over the "
                          f"{_MAX_HEADER >> 20} MiB limit: too many columns; split the frame")
    kinds_used = {e["kind"] for e in [*entries, *index.get("columns", [])]}
    version = 2 if kinds_used & set(OBJECT_KINDS) else 1  # version 1 readers still read it
    prefix = _PREFIX.pack(MAGIC, version, len(text))
    digest = hashlib.sha256(prefix + text).digest()
    return b"".join([prefix, text, digest, *payloads])


def decompress_frame(blob: bytes | bytearray | memoryview) -> pd.DataFrame:
    """Decode a :func:`compress_frame` blob, verifying every checksum.

    Parameters
    ----------
    blob : bytes
        The container.

    Returns
    -------
    pandas.DataFrame
        The same columns, dtypes and index as the frame that was compressed (values
        within the error bound for bounded columns, bit-exact otherwise).

    Raises
    ------
    IntegrityError
        When the blob is not a container, is truncated or has trailing bytes, or any
        checksum fails; the message names the column (or the header) concerned.
    NexusError
        When the blob was written by a newer NEXUS Lab.

    Examples
    --------
    >>> import pandas as pd
    >>> blob = compress_frame(pd.DataFrame({"x": [1.5, 2.5]}))
    >>> decompress_frame(blob)["x"].tolist()
    [1.5, 2.5]
    >>> decompress_frame(blob[:-1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nexus_lab.errors.IntegrityError: truncated: expected ... bytes, got ...
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise SchemaError(f"decompress_frame takes the bytes compress_frame returned, got "
                          f"{type(blob).__name__}")
    view = memoryview(blob).cast("B")
    size = len(view)
    if bytes(view[:4]) != MAGIC:
        raise IntegrityError(
            f"not a NEXUS Lab frame container: it starts with {bytes(view[:4])!r}, not "
            f"{MAGIC!r}; pass the bytes compress_frame returned")
    if size < _PREFIX.size:
        raise IntegrityError(f"truncated: expected at least {_PREFIX.size} bytes, got {size}")
    _, version, header_len = _PREFIX.unpack_from(view)
    if version > FORMAT_VERSION:
        raise NexusError(
            f"written by a newer NEXUS Lab (container version {version}, this version reads "
            f"up to {FORMAT_VERSION}); upgrade nexus-lab to read it")
    if version < 1:
        raise IntegrityError(f"header: container version {version} does not exist; the "
                             "blob is corrupted")
    if header_len > _MAX_HEADER:
        raise IntegrityError(f"header: it declares {header_len:,} bytes, over the "
                             f"{_MAX_HEADER >> 20} MiB limit; the blob is corrupted")
    start = _PREFIX.size + header_len + _DIGEST
    if size < start:
        raise IntegrityError(f"truncated: expected at least {start} bytes (prefix, header "
                             f"and its checksum), got {size}")
    text = view[_PREFIX.size:_PREFIX.size + header_len]
    if hashlib.sha256(view[:_PREFIX.size + header_len]).digest() != view[start - _DIGEST:start]:
        raise IntegrityError("header checksum mismatch: the container's header is corrupted")
    header = _parse_header(text)
    expected = start + header["payload_bytes"]
    if size != expected:
        what = "truncated" if size < expected else "trailing bytes"
        raise IntegrityError(f"{what}: expected {expected} bytes, got {size}; the blob was "
                             "cut or appended to after compress_frame wrote it")
    n = header["n_rows"]
    payloads = view[start:]
    index_info = header["index"]
    index_values = [_decode(payloads, e, n, "index level") for e in
                    index_info.get("columns", [])]
    values = [_decode(payloads, e, n, "column") for e in header["columns"]]
    return _assemble(header, index_values, values)


# --------------------------------------------------------------------------- writing


def _version() -> str:
    from nexus_lab import __version__

    return __version__


def _json_name(name: object, what: str) -> object:
    if isinstance(name, np.generic):
        name = name.item()
    if name is None or isinstance(name, str | bool | int):
        return name
    if isinstance(name, float) and np.isfinite(name):
        return name
    raise SchemaError(f"{what} name {name!r} ({type(name).__name__}) cannot be stored; "
                      "compress_frame keeps names that are text, integers, finite floats "
                      "or None: rename it, e.g. df.columns = df.columns.map(str)")


def _bounds(names: list, kinds: list[str], columns: list[pd.Series],
            max_error: object) -> list[float | None]:
    """The error bound of each column (None: lossless)."""
    def floaty(kind: str, s: pd.Series) -> bool:
        return kind in ("float", "vector") or (kind == "masked"
                                               and s.dtype.numpy_dtype.kind == "f")

    def check(value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, Real) or not (
                np.isfinite(value) and value > 0):
            raise SchemaError(f"max_error{where} must be a positive finite number, got "
                              f"{value!r}; use None for lossless", column=where.strip("[]'"))
        return float(value)

    if max_error is None:
        return [None] * len(names)
    if isinstance(max_error, Mapping):
        unknown = [k for k in max_error if k not in names]
        if unknown:
            raise SchemaError(f"max_error names columns the frame does not have: {unknown} "
                              f"(it has {names}); fix the keys of the dict",
                              column=str(unknown[0]))
        out: list[float | None] = []
        for name, kind, s in zip(names, kinds, columns):
            if name not in max_error:
                out.append(None)
                continue
            bound = check(max_error[name], f"[{name!r}]")
            if not floaty(kind, s):
                raise SchemaError(
                    f"max_error gives {bound} for column {name!r}, which is {s.dtype}; an "
                    "error bound applies to float and float-vector columns only: remove it "
                    "from the dict (integers, text and dates are always lossless)",
                    column=str(name))
            out.append(bound)
        return out
    bound = check(max_error, "")
    return [bound if floaty(kind, s) else None for kind, s in zip(kinds, columns)]


def _index_header(index: pd.Index) -> tuple[dict, list[pd.Series]]:
    if isinstance(index, pd.RangeIndex):
        return {"kind": "range", "start": index.start, "stop": index.stop,
                "step": index.step, "name": _json_name(index.name, "index")}, []
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        names = [_json_name(v, "index level") for v in index.names]
        return {"kind": "multi", "names": names}, [pd.Series(v, copy=False) for v in levels]
    return ({"kind": "index", "names": [_json_name(index.name, "index")]},
            [pd.Series(index, copy=False)])


def _columns_index(columns: pd.Index) -> dict:
    if isinstance(columns, pd.RangeIndex):
        return {"kind": "range", "start": columns.start, "stop": columns.stop,
                "step": columns.step}
    return {"kind": "labels"}


def _entry(enc: EncodedColumn, name: object, offset: int) -> dict:
    return {
        "name": name, "kind": enc.kind, "dtype": enc.dtype, "codec": enc.codec,
        "params": enc.params, "lossy": enc.lossy, "offset": offset,
        "length": len(enc.payload), "sha256": hashlib.sha256(enc.payload).hexdigest(),
        "raw_sha256": enc.raw_sha256,
    }


# --------------------------------------------------------------------------- reading


def _parse_header(text: memoryview) -> dict:
    try:
        header = json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"header: not valid JSON ({exc})") from None
    try:
        _check_header(header)
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise IntegrityError(f"header: malformed ({type(exc).__name__}: {exc}); the blob "
                             "was not written by compress_frame or is corrupted") from None
    return header


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_header(header: dict) -> None:
    assert header["format"] == _FORMAT, f"format {header['format']!r}"
    assert _is_count(header["n_rows"]), "n_rows"
    assert _is_count(header["payload_bytes"]), "payload_bytes"
    index = header["index"]
    assert index["kind"] in ("range", "index", "multi"), "index kind"
    entries = list(index.get("columns", []))
    if index["kind"] == "range":
        assert all(isinstance(index[k], int) for k in ("start", "stop", "step")), "index"
        assert index["step"] != 0 and len(range(index["start"], index["stop"],
                                                index["step"])) == header["n_rows"], "index"
    else:
        assert len(entries) == len(index["names"]) >= 1, "index levels"
    cols = header["columns_index"]
    assert cols["kind"] in ("range", "labels"), "columns_index"
    if cols["kind"] == "range":
        assert len(range(cols["start"], cols["stop"], cols["step"])) == len(
            header["columns"]), "columns_index"
    entries += header["columns"]
    offset = 0
    for e in entries:
        assert all(k in e for k in _ENTRY_KEYS), f"entry keys {sorted(e)}"
        assert e["kind"] in KINDS, f"kind {e['kind']!r}"
        assert isinstance(e["params"], dict) and isinstance(e["dtype"], str), "entry types"
        assert e["offset"] == offset and _is_count(e["length"]), "entry offsets"
        offset += e["length"]
    assert offset == header["payload_bytes"], "payload_bytes"


def _decode(payloads: memoryview, e: dict, n: int, what: str) -> Any:
    label = f"{what} {e['name']!r}"
    payload = payloads[e["offset"]:e["offset"] + e["length"]]
    if hashlib.sha256(payload).hexdigest() != e["sha256"]:
        raise IntegrityError(f"{label}: payload checksum mismatch; its bytes are corrupted")
    try:
        values = decode_column(payload, e["kind"], e["dtype"], e["codec"], e["params"], n)
        digest = raw_digest(values, e["kind"])
    except IntegrityError as exc:
        raise IntegrityError(f"{label}: {exc}") from None
    except Exception as exc:  # a payload that passed its checksum but does not decode
        raise IntegrityError(f"{label}: could not be decoded with {e['codec']} "
                             f"({type(exc).__name__}: {exc})") from None
    if digest != e["raw_sha256"]:
        raise IntegrityError(f"{label}: the decoded values' checksum does not match the "
                             "one written; the container is corrupted")
    return values


def _assemble(header: dict, index_values: list, values: list) -> pd.DataFrame:
    info = header["index"]
    if info["kind"] == "range":
        index = pd.RangeIndex(info["start"], info["stop"], info["step"], name=info["name"])
    elif info["kind"] == "multi":
        index = pd.MultiIndex.from_arrays(index_values, names=info["names"])
    else:
        index = pd.Index(index_values[0], name=info["names"][0])
    out = pd.DataFrame(dict(enumerate(values)), index=index)
    cols = header["columns_index"]
    if cols["kind"] == "range":
        out.columns = pd.RangeIndex(cols["start"], cols["stop"], cols["step"])
    else:
        out.columns = pd.Index([e["name"] for e in header["columns"]])
    return out
