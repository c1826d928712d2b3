"""Sealing: encrypt bytes, files and DataFrames so that only chosen key pairs can open them.

Envelope encryption: each sealed object gets a fresh random 32-byte data key. The
plaintext is cut into fixed-size chunks, each encrypted with AES-256-GCM under the data
key (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, 2015), so a
10 GB file is sealed and opened in memory bounded by the chunk size, and any altered,
reordered, dropped, truncated or appended chunk is detected. The data key is wrapped
for each recipient by a hybrid KEM: ML-KEM-768 (FIPS 203) and X25519 shared secrets are
combined through HKDF-SHA256, so the object stays secret while either of the two holds.
Every primitive comes from ``cryptography`` (AES-GCM, X25519, HKDF) and
:data:`nexus_lab.crypto._backend.KEM` (ML-KEM-768).

Format ``NXSL`` version 1 (all integers big-endian; ``||`` is concatenation)::

    offset  size  field
    0       4     magic "NXSL"
    4       1     u8 version = 1
    5       4     u32 header length H (at most 1 MiB, else "oversized header")
    9       H     header:
                    1     u8 content kind: 0 bytes, 1 file, 2 pandas DataFrame as Parquet
                    4     u32 chunk size C: plaintext bytes per chunk, 1 KiB .. 64 MiB
                    7     nonce prefix (random)
                    2+N   u16 N + name (UTF-8: the original file name for kind 1, else empty)
                    2     u16 recipient count R (1 .. 1024)
                    1200  R times, one entry per recipient:
                            32    recipient key fingerprint (SHA-256 of its NXPK bundle)
                            1088  ML-KEM-768 ciphertext
                            32    X25519 ephemeral public key
                            48    wrapped data key (32 + 16-byte GCM tag)
    9 + H   ...   chunks 0 .. n-1, back to back, each its plaintext + a 16-byte GCM tag

The cryptography, with ``DK`` the data key and ``A`` a digest of the preamble and header::

    KEK_r    = HKDF-SHA256(ikm  = ss_mlkem || ss_x25519, salt = none, length = 32,
                           info = "NEXUS-Lab seal v1 hybrid KEK" || mlkem_ct
                                  || x25519_ephemeral_pub || recipient_x25519_pub
                                  || recipient_fingerprint)
    wrapped  = AES-256-GCM(KEK_r, nonce = 12 zero bytes, DK,
                           aad = "NXSL wrap v1" || recipient_fingerprint)
    A        = SHA-256(bytes 0 .. 9 + H - 1)            ("NXSL" to the end of the header)
    chunk_i  = AES-256-GCM(DK, nonce = prefix || u32 i || u8 last, plaintext_i, aad = A)

Each KEK encrypts exactly once (a fresh ML-KEM encapsulation and X25519 ephemeral key
per recipient and object), hence the fixed zero nonce. Every chunk but the last holds
exactly C plaintext bytes; the last holds 0 .. C bytes and has ``last = 1``, so empty
data is one empty final chunk (16 bytes). Reordering chunks changes their index ``i``,
truncating loses the ``last`` flag, appending leaves bytes after the final chunk, and
altering the header changes ``A``: each fails authentication. An object has at most
2**32 chunks (4 TiB with 1 KiB chunks, 4 PiB with 1 MiB chunks). The 1 MiB header
limit binds before the recipient count does: at most 873 recipients with an empty name.

Examples
--------
>>> from nexus_lab.crypto import generate_keypair
>>> alice, bob = generate_keypair("alice"), generate_keypair("bob")
>>> blob = seal(b"ledger 2024", [alice, bob.public])
>>> open_sealed(blob, bob)
b'ledger 2024'
>>> sealed_info(blob)["recipients"] == [alice.public.fingerprint_hex, bob.public.fingerprint_hex]
True
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import secrets
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from nexus_lab.crypto._backend import KEM
from nexus_lab.crypto._format import Reader, check_magic, lp16
from nexus_lab.crypto._keys import KeyPair, PublicKey, need_keypair
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["open_sealed", "recipient_keys", "seal", "seal_with_digests", "sealed_info"]

_MAGIC = b"NXSL"
_VERSION = 1
_WHAT = "sealed object"
_PREAMBLE = 9  # magic, version, u32 header length
_MAX_HEADER = 1 << 20
_MIN_CHUNK, _MAX_CHUNK = 1 << 10, 64 << 20
_MAX_RECIPIENTS = 1024
_MAX_CHUNKS = 1 << 32
_PREFIX_LEN = 7
_TAG = 16
_FP, _CT, _EPH, _WRAPPED = 32, 1088, 32, 48
_KIND_BYTES, _KIND_FILE, _KIND_FRAME = 0, 1, 2
_KIND_NAMES = {_KIND_BYTES: "bytes", _KIND_FILE: "file", _KIND_FRAME: "dataframe"}
_KEK_INFO = b"NEXUS-Lab seal v1 hybrid KEK"
_WRAP_AAD = b"NXSL wrap v1"
_WRAP_NONCE = bytes(12)
_COUNTER = struct.Struct(">IB")  # chunk index, last flag: the nonce's last 5 bytes
_OPENABLE = "bytes, bytearray, memoryview or a sealed file's path (str or os.PathLike)"
_ACCEPTED = "bytes, bytearray, memoryview, a file path (str or os.PathLike) or a pandas DataFrame"


# --------------------------------------------------------------------------- public API


def seal(data: Any, recipients: Any, *, out: str | os.PathLike[str] | None = None,
         chunk_size: int = 1 << 20, overwrite: bool = False) -> bytes | Path:
    """Encrypt ``data`` so that only the ``recipients``' key pairs can open it.

    Parameters
    ----------
    data : bytes-like, str, path-like or pandas.DataFrame
        Bytes (``bytes``, ``bytearray``, ``memoryview``) are sealed as they are; a
        ``str`` or path-like names a file, streamed in constant memory and sealed with
        its name; a DataFrame is written as Parquet (pyarrow, zstd) and sealed.
    recipients : PublicKey, KeyPair or non-empty list or tuple of them
        Who can open the object (a KeyPair stands for its public key). Repeated keys
        are kept once.
    out : str or path-like, optional
        Write the sealed object to this file (atomically) and return its path. For a
        file ``data`` it defaults to the same path + ``".nxs"``; otherwise the sealed
        bytes are returned.
    chunk_size : int, default 1 MiB
        Plaintext bytes per authenticated chunk, 1 KiB to 64 MiB. Memory use of file
        sealing is about three chunks.
    overwrite : bool, default False
        Replace the ``out`` file when it exists; by default an existing file (perhaps
        another sealed object, whose contents would be lost) is refused.

    Returns
    -------
    bytes or pathlib.Path
        The sealed bytes, or the path of the sealed file.

    Raises
    ------
    NexusError
        An unsupported ``data`` or ``recipients``, a missing file, a ``chunk_size``
        out of range, or an existing ``out`` without ``overwrite=True``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nexus_lab.crypto import generate_keypair
    >>> kp = generate_keypair("examiner")
    >>> blob = seal(b"x" * 3000, kp, chunk_size=1024)
    >>> len(blob) - 3000 == 9 + 16 + 1200 + 3 * 16     # preamble, header, 3 tags
    True
    >>> src = pathlib.Path(tempfile.mkdtemp()) / "report.csv"
    >>> _ = src.write_text("a,b\\n1,2\\n")
    >>> seal(src, kp).name
    'report.csv.nxs'
    """
    return _seal(data, recipients, out, chunk_size, None, overwrite)


def seal_with_digests(data: Any, recipients: Any, out: str | os.PathLike[str], *,
                      chunk_size: int = 1 << 20, overwrite: bool = False) -> dict[str, Any]:
    """:func:`seal` to the file ``out``, hashing the plaintext and the sealed file on the way.

    One pass over the data: what was sealed is exactly what was hashed (a file that
    changes meanwhile cannot make the two differ), so the digests can be recorded, and
    signed, as those of the sealed object. For a DataFrame the plaintext is its
    Parquet file.

    Parameters
    ----------
    data, recipients, chunk_size, overwrite
        As in :func:`seal`.
    out : str or path-like
        The sealed file to write (atomically); required.

    Returns
    -------
    dict
        ``path`` of the sealed file, ``sha256`` (hex) and ``size`` of the plaintext,
        ``sealed_sha256`` (hex) and ``sealed_size`` of the sealed file.

    Raises
    ------
    NexusError
        As :func:`seal`.

    Examples
    --------
    >>> import hashlib, tempfile, pathlib
    >>> from nexus_lab.crypto import generate_keypair, seal_with_digests
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.nxs"
    >>> d = seal_with_digests(b"evidence", generate_keypair(), out)
    >>> d["sha256"] == hashlib.sha256(b"evidence").hexdigest(), d["size"]
    (True, 8)
    >>> d["sealed_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    True
    """
    digests: dict[str, Any] = {"plain": hashlib.sha256(), "sealed": hashlib.sha256(),
                               "size": 0, "sealed_size": 0}
    path = _seal(data, recipients, out, chunk_size, digests, overwrite)
    return {"path": path, "sha256": digests["plain"].hexdigest(), "size": digests["size"],
            "sealed_sha256": digests["sealed"].hexdigest(),
            "sealed_size": digests["sealed_size"]}


def _seal(data: Any, recipients: Any, out: Any, chunk_size: Any,
          digests: dict[str, Any] | None, overwrite: bool = False) -> bytes | Path:
    cs = _check_chunk_size(chunk_size)
    pubs = recipient_keys(recipients)
    kind, name, source = _source(data)
    if out is None and kind == _KIND_FILE:
        out = Path(str(source) + ".nxs")
    out_path = _out_path(out) if out is not None else None
    if out_path is not None and not overwrite and os.path.lexists(out_path):
        raise NexusError(f"{str(out_path)!r} already exists; choose another out= path, or "
                         "pass overwrite=True to replace it (what it holds would be lost)")

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dk = os.urandom(32)
    prefix = os.urandom(_PREFIX_LEN)
    name_b = name.encode("utf-8", "replace")
    if len(name_b) > 0xFFFF:
        raise NexusError(f"the file name is {len(name_b)} bytes long; at most 65535 can be sealed")
    entry = _FP + _CT + _EPH + _WRAPPED
    if 16 + len(name_b) + entry * len(pubs) > _MAX_HEADER:
        raise NexusError(
            f"{len(pubs)} recipients make a header over the format's 1 MiB limit: seal for "
            f"at most {(_MAX_HEADER - 16 - len(name_b)) // entry} keys"
        )
    header = b"".join([
        bytes([kind]), struct.pack(">I", cs), prefix, lp16(name_b),
        struct.pack(">H", len(pubs)), *(_wrap(dk, pub) for pub in pubs),
    ])
    head = _MAGIC + bytes([_VERSION]) + struct.pack(">I", len(header)) + header
    aad = hashlib.sha256(head).digest()
    aead = AESGCM(dk)

    if kind == _KIND_FILE:
        assert out_path is not None
        with _open_read(source, "file to seal") as src:
            return _stream_to(out_path, head, cs + _TAG, lambda sink: _encrypt(
                aead, prefix, aad, _file_chunks(src, cs), sink, digests), digests)
    view: memoryview = source
    if out_path is not None:
        return _stream_to(out_path, head, min(cs, len(view)) + _TAG, lambda sink: _encrypt(
            aead, prefix, aad, _memory_chunks(view, cs), sink, digests), digests)
    if digests is not None:
        raise NexusError("seal_with_digests writes a file: give out=")
    n_chunks = max(1, -(-len(view) // cs))
    sink = _MemorySink(len(head) + len(view) + _TAG * n_chunks)
    sink.mv[:len(head)] = head
    sink.pos = len(head)
    _encrypt(aead, prefix, aad, _memory_chunks(view, cs), sink)
    return sink.result()


def open_sealed(blob: Any, keypair: KeyPair, *,
                out: str | os.PathLike[str] | None = None) -> Any:
    """Decrypt an object sealed by :func:`seal` for ``keypair``.

    Parameters
    ----------
    blob : bytes-like, str or path-like
        The sealed bytes, or the path of a sealed file (streamed).
    keypair : KeyPair
        One of the key pairs the object was sealed for.
    out : str or path-like, optional
        Stream the plaintext (the Parquet file for a sealed DataFrame) to this file and
        return its path. The file appears only once every chunk has been
        authenticated; nothing half-written is left behind on failure.

    Returns
    -------
    bytes, pandas.DataFrame or pathlib.Path
        The plaintext bytes (sealed bytes or file), the DataFrame (sealed DataFrame),
        or ``out``.

    Raises
    ------
    IntegrityError
        The object was altered, truncated, extended or is not a sealed object; the
        message names the part that failed (header, recipient key wrap, chunk).
    NexusError
        The object is not sealed for ``keypair``, was made by a newer NEXUS Lab, or an
        argument is of the wrong type.

    Examples
    --------
    >>> from nexus_lab.crypto import generate_keypair
    >>> kp, other = generate_keypair("examiner"), generate_keypair("other")
    >>> open_sealed(seal(b"", kp), kp)
    b''
    >>> open_sealed(seal(b"secret", other), kp)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: this sealed object is sealed for 1 other key (...) and not...
    """
    need_keypair(keypair, "opening a sealed object")
    out_path = _out_path(out) if out is not None else None
    if isinstance(blob, (str, os.PathLike)):
        with _open_read(Path(blob), _WHAT) as src:
            head = _read_head_file(src)
            total = os.fstat(src.fileno()).st_size
            return _open(head, total, _FileSource(src), keypair, out_path)
    view = _bytes_view(blob, "blob", "open", _OPENABLE)
    head = _parse_head(view[:_PREAMBLE], lambda n: view[_PREAMBLE:_PREAMBLE + n].tobytes())
    return _open(head, len(view), _MemorySource(view), keypair, out_path)


def sealed_info(blob: Any) -> dict[str, Any]:
    """What a sealed object holds and for whom, read from its header only (no key needed).

    Nothing is authenticated here: :func:`open_sealed` checks it all.

    Parameters
    ----------
    blob : bytes-like, str or path-like
        The sealed bytes or a sealed file's path (only its header is read).

    Returns
    -------
    dict
        ``kind`` ("bytes", "file" or "dataframe"), ``name`` (the original file name,
        or ""), ``chunk_size``, ``recipients`` (their fingerprints as
        :attr:`PublicKey.fingerprint_hex` shows them), ``sealed_size`` (bytes),
        ``chunks`` and ``plaintext_size`` (from the sealed size; None when it cannot be
        a whole object).

    Examples
    --------
    >>> from nexus_lab.crypto import generate_keypair
    >>> info = sealed_info(seal(b"abc", generate_keypair("me")))
    >>> info["kind"], info["chunk_size"], info["sealed_size"], info["plaintext_size"]
    ('bytes', 1048576, 1244, 3)
    """
    if isinstance(blob, (str, os.PathLike)):
        with _open_read(Path(blob), _WHAT) as src:
            head = _read_head_file(src)
            total = os.fstat(src.fileno()).st_size
    else:
        view = _bytes_view(blob, "blob", "open", _OPENABLE)
        head = _parse_head(view[:_PREAMBLE], lambda n: view[_PREAMBLE:_PREAMBLE + n].tobytes())
        total = len(view)
    layout = _layout(total - head.end, head.chunk_size)
    ok = layout.extra == 0 and layout.n_chunks > 0
    return {
        "kind": _KIND_NAMES[head.kind],
        "name": head.name,
        "chunk_size": head.chunk_size,
        "recipients": [e.fingerprint[:16].hex() for e in head.entries],
        "sealed_size": total,
        "chunks": layout.n_chunks if ok else None,
        "plaintext_size": layout.plaintext if ok else None,
    }


# --------------------------------------------------------------------------- arguments


def _check_chunk_size(chunk_size: Any) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) \
            or not _MIN_CHUNK <= chunk_size <= _MAX_CHUNK:
        raise NexusError(
            f"chunk_size={chunk_size!r}: must be an integer from {_MIN_CHUNK} (1 KiB) to "
            f"{_MAX_CHUNK} (64 MiB) bytes"
        )
    return int(chunk_size)


def recipient_keys(recipients: Any) -> list[PublicKey]:
    """The distinct public keys ``recipients`` names, checked as :func:`seal` checks them.

    Use it to validate recipients before sealing (and to know the fingerprints the
    sealed object will list), e.g. to save their public bundles beside the object.

    Parameters
    ----------
    recipients : PublicKey, KeyPair or non-empty list or tuple of them
        A KeyPair stands for its public key.

    Returns
    -------
    list of PublicKey
        In the order given, each key once (by fingerprint).

    Raises
    ------
    NexusError
        An empty list, an item that is not a key (the message names its position), or
        more keys than an object can be sealed for (1024).

    Examples
    --------
    >>> from nexus_lab.crypto import generate_keypair, recipient_keys
    >>> judge, clerk = generate_keypair("judge"), generate_keypair("clerk")
    >>> [k.label for k in recipient_keys([judge.public, clerk, judge])]
    ['judge', 'clerk']
    >>> recipient_keys([judge, "clerk"])
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: recipients must be a PublicKey, a KeyPair or a non-empty list or tuple of them; recipients[1] is a str
    """  # noqa: E501
    what = "recipients must be a PublicKey, a KeyPair or a non-empty list or tuple of them"
    items = list(recipients) if isinstance(recipients, (list, tuple)) else [recipients]
    if not items:
        raise NexusError(f"{what}; the list is empty")
    pubs: dict[bytes, PublicKey] = {}
    for i, item in enumerate(items):
        pub = item.public if isinstance(item, KeyPair) else item
        if not isinstance(pub, PublicKey):
            where = f"recipients[{i}] is" if isinstance(recipients, (list, tuple)) else "got"
            raise NexusError(f"{what}; {where} a {type(item).__name__}")
        pubs.setdefault(pub.fingerprint, pub)
    if len(pubs) > _MAX_RECIPIENTS:
        raise NexusError(f"{len(pubs)} recipients: an object is sealed for at most "
                         f"{_MAX_RECIPIENTS} keys")
    return list(pubs.values())


def _source(data: Any) -> tuple[int, str, Any]:
    """``(kind, name, source)``: source is a Path for files, else a byte memoryview."""
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if not p.exists():
            hint = "; to seal text, pass text.encode()" if isinstance(data, str) else ""
            raise NexusError(f"cannot seal {str(p)!r}: no such file (a str names a file){hint}")
        if not p.is_file():
            raise NexusError(f"cannot seal {str(p)!r}: it is not a file (a folder?)")
        return _KIND_FILE, p.name, p
    pd = sys.modules.get("pandas")  # a DataFrame means pandas is already imported
    if pd is not None and isinstance(data, pd.DataFrame):
        return _KIND_FRAME, "", memoryview(_parquet(data))
    return _KIND_BYTES, "", _bytes_view(data, "data", "seal", _ACCEPTED)


def _bytes_view(data: Any, name: str, verb: str, accepted: str) -> memoryview:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NexusError(f"cannot {verb} a {type(data).__name__}: {name} must be {accepted}")
    view = memoryview(data)
    if not view.c_contiguous:
        raise NexusError(f"{name} is a non-contiguous memoryview; pass bytes(...) of it")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _parquet(df: Any) -> bytes:
    buf = io.BytesIO()
    try:
        df.to_parquet(buf, engine="pyarrow", compression="zstd")
    except Exception as err:  # pyarrow and pandas raise several unrelated types
        raise NexusError(  # err's text may quote cell values: the plaintext stays out
            f"cannot write the DataFrame as Parquet to seal it ({type(err).__name__}); give "
            "every column a string name and values of one type"
        ) from None
    return buf.getvalue()


def _out_path(out: Any) -> Path:
    if not isinstance(out, (str, os.PathLike)):
        raise NexusError(f"out must be a file path (str or os.PathLike), not {type(out).__name__}")
    if Path(out).is_dir():
        raise NexusError(f"out={str(out)!r} is a folder; give the path of the file to write")
    return Path(out)


def _open_read(path: Path, what: str) -> BinaryIO:
    try:
        return open(path, "rb", buffering=0)  # raw reads straight into our buffers
    except FileNotFoundError:
        raise NexusError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise NexusError(f"{what} {str(path)!r} is a folder, not a file") from None
    except OSError as err:
        raise NexusError(f"cannot read {what} {str(path)!r}: {err.strerror or err}") from None


# --------------------------------------------------------------------------- key wrap


def _kek(ss_mlkem: bytes, ss_x: bytes, ct: bytes, eph: bytes, x_pub: bytes, fp: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    info = b"".join([_KEK_INFO, ct, eph, x_pub, fp])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        ss_mlkem + ss_x)


def _wrap(dk: bytes, pub: PublicKey) -> bytes:
    """One recipient entry: fingerprint, ML-KEM ciphertext, X25519 ephemeral, wrapped key."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        ss_mlkem, ct = KEM.encaps(pub.pq_kem)
        eph = X25519PrivateKey.generate()
        ss_x = eph.exchange(X25519PublicKey.from_public_bytes(pub.x25519))
    except ValueError:
        raise NexusError(f"recipient key {pub.label!r} ({pub.fingerprint_hex}) is not a valid "
                         "ML-KEM-768 + X25519 public key") from None
    eph_pub = eph.public_key().public_bytes_raw()
    fp = pub.fingerprint
    kek = _kek(ss_mlkem, ss_x, ct, eph_pub, pub.x25519, fp)
    return b"".join([fp, ct, eph_pub, AESGCM(kek).encrypt(_WRAP_NONCE, dk, _WRAP_AAD + fp)])


def _unwrap(entry: _Entry, kp: KeyPair, fp: bytes) -> bytes | None:
    """The data key from ``entry`` for ``kp`` (named by ``fp``), or None if it fails."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        ss_mlkem = KEM.decaps(kp._kem_sk, entry.mlkem_ct)
        ss_x = X25519PrivateKey.from_private_bytes(kp._x_sk).exchange(
            X25519PublicKey.from_public_bytes(entry.x25519_eph))
        kek = _kek(ss_mlkem, ss_x, entry.mlkem_ct, entry.x25519_eph, kp.public.x25519, fp)
        return AESGCM(kek).decrypt(_WRAP_NONCE, entry.wrapped, _WRAP_AAD + fp)
    except (InvalidTag, ValueError):  # ValueError: a low-order X25519 point
        return None


# --------------------------------------------------------------------------- header


@dataclass(frozen=True)
class _Entry:
    fingerprint: bytes
    mlkem_ct: bytes
    x25519_eph: bytes
    wrapped: bytes


@dataclass(frozen=True)
class _Head:
    kind: int
    chunk_size: int
    prefix: bytes
    name: str
    entries: list[_Entry]
    end: int  # offset of chunk 0
    aad: bytes  # SHA-256 of bytes 0 .. end - 1


def _read_head_file(f: BinaryIO) -> _Head:
    pre = bytearray(_PREAMBLE)
    n = _fill(f, memoryview(pre))

    def rest(size: int) -> bytes:
        buf = bytearray(size)
        got = _fill(f, memoryview(buf))
        return bytes(buf[:got])

    return _parse_head(memoryview(pre)[:n], rest)


def _parse_head(pre: memoryview, read_header: Any) -> _Head:
    """Parse the preamble ``pre`` then the header that ``read_header(H)`` returns."""
    r = Reader(pre, _WHAT)
    check_magic(r, _MAGIC, _VERSION, _WHAT)
    size = r.u32()
    if size > _MAX_HEADER:
        raise IntegrityError(
            f"{_WHAT} has an oversized header: its length field says {size} bytes, the "
            f"format allows at most {_MAX_HEADER} (1 MiB); it is corrupted"
        )
    header = read_header(size)
    if len(header) < size:
        raise IntegrityError(f"{_WHAT} is truncated inside its header: {size} header bytes "
                             f"expected, {len(header)} present")
    r = Reader(header, f"{_WHAT}'s header")
    kind, cs, prefix, name_b, count = r.u8(), r.u32(), r.take(_PREFIX_LEN), r.lp16(), r.u16()

    def bad(detail: str) -> IntegrityError:
        return IntegrityError(f"{_WHAT}'s header is corrupted: {detail}")

    if kind not in _KIND_NAMES:
        raise bad(f"unknown content kind {kind}")
    if not _MIN_CHUNK <= cs <= _MAX_CHUNK:
        raise bad(f"chunk size {cs} is outside {_MIN_CHUNK} .. {_MAX_CHUNK}")
    try:
        name = name_b.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("its file name is not UTF-8") from None
    if name and kind != _KIND_FILE:
        raise bad(f"a {_KIND_NAMES[kind]} object carries a file name")
    if not 1 <= count <= _MAX_RECIPIENTS:
        raise bad(f"recipient count {count} is outside 1 .. {_MAX_RECIPIENTS}")
    entries = []
    for _ in range(count):
        entries.append(_Entry(r.take(_FP), r.take(_CT), r.take(_EPH), r.take(_WRAPPED)))
    r.done()
    h = hashlib.sha256(pre.tobytes())
    h.update(header)
    return _Head(kind, cs, prefix, name, entries, _PREAMBLE + size, h.digest())


# --------------------------------------------------------------------------- chunks


def _fill(f: BinaryIO, mv: memoryview) -> int:
    """Read into ``mv`` until it is full or the file ends; return the bytes read."""
    got = 0
    try:
        while got < len(mv):
            n = f.readinto(mv[got:])
            if not n:
                break
            got += n
    except OSError as err:
        raise NexusError(f"cannot read {str(getattr(f, 'name', 'the input'))!r}: "
                         f"{err.strerror or err}") from None
    return got


def _stream_to(out: Path, head: bytes, capacity: int, fill: Any,
               digests: dict[str, Any] | None = None, *, private: bool = False) -> Path:
    """Write ``head`` then what ``fill(sink)`` puts in a ``capacity``-byte sink to
    ``out``, atomically: on any error ``out`` is left as it was. With ``digests``, the
    written bytes are hashed into ``digests["sealed"]`` as they go."""
    from nexus_lab.files import atomic_file

    try:
        with atomic_file(out, private=private) as tmp, open(tmp, "wb", buffering=0) as dst:
            _write_all(dst, head)
            sink = _FileSink(dst, capacity, digests)
            if digests is not None:
                sink.hash(head)
            fill(sink)
    except OSError as err:
        raise NexusError(f"cannot write {str(out)!r}: {err.strerror or err}") from None
    return out


def _plain_to(out: Path, capacity: int, fill: Any) -> Path:
    """Write decrypted output to ``out`` so that no plaintext is ever on disk under any
    name until all of it is authenticated.

    On Linux the bytes go to an unnamed file (``O_TMPFILE``) in ``out``'s folder: a
    process killed at any moment, even by SIGKILL, leaves nothing behind, the kernel
    frees it. Only once ``fill`` returns (every chunk authenticated) is it linked in
    as ``out`` (through a private name renamed onto ``out`` when ``out`` exists
    already). Elsewhere it is a private temporary file removed on every exit path
    Python sees (an error, KeyboardInterrupt); a SIGKILL there can leave it behind.
    """
    folder = out.absolute().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = _unnamed_file(folder)
    except OSError as err:
        raise NexusError(f"cannot write {str(out)!r}: {err.strerror or err}") from None
    if fd is None:
        return _stream_to(out, b"", capacity, fill, private=True)
    try:
        with open(fd, "wb", buffering=0, closefd=False) as dst:
            fill(_FileSink(dst, capacity))
        os.fsync(fd)
        os.fchmod(fd, 0o666 & ~_umask())
        _link_into_place(fd, out)
    except OSError as err:
        raise NexusError(f"cannot write {str(out)!r}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    return out


def _unnamed_file(folder: Path) -> int | None:
    """An unnamed, private file in ``folder`` open for writing, or None where the
    system or the file system has none (no ``O_TMPFILE``, no ``/proc``)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o600)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None  # the file system cannot: fall back to a named private file
        raise


def _link_into_place(fd: int, out: Path) -> None:
    """Give the unnamed file ``fd`` the name ``out`` (replacing a file there)."""
    proc = f"/proc/self/fd/{fd}"
    # a directory fd makes os.link call linkat(AT_SYMLINK_FOLLOW): plain link() would
    # try to link the /proc entry itself
    dir_fd = os.open(out.absolute().parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            os.link(proc, out.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd,
                    follow_symlinks=True)
            return
        except FileExistsError:
            pass
        side = f".{out.name}.{secrets.token_hex(6)}.tmp"
        os.link(proc, side, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=True)
        try:
            os.replace(side, out.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(side, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_all(f: BinaryIO, data: bytes | memoryview) -> None:
    mv = memoryview(data)
    while mv:
        n = f.write(mv)
        mv = mv[n:]


def _memory_chunks(view: memoryview, cs: int) -> Iterator[tuple[memoryview, bool]]:
    if len(view) == 0:
        yield view, True
    for off in range(0, len(view), cs):
        yield view[off:off + cs], off + cs >= len(view)


def _file_chunks(f: BinaryIO, cs: int) -> Iterator[tuple[memoryview, bool]]:
    """Chunks of ``f`` read into two reused buffers; reading one ahead finds the last."""
    cur, nxt = memoryview(bytearray(cs)), memoryview(bytearray(cs))
    n = _fill(f, cur)
    while True:
        if n < cs:
            yield cur[:n], True
            return
        m = _fill(f, nxt)
        if m == 0:
            yield cur, True
            return
        yield cur, False
        cur, nxt, n = nxt, cur, m


class _MemorySink:
    """A ``size``-byte output filled in place, returned as ``bytes`` without a copy.

    ``BytesIO.getbuffer`` is a writable view of the bytes object that ``getvalue`` then
    returns as it is (CPython; elsewhere getvalue copies, which is only slower).
    """

    def __init__(self, size: int) -> None:
        self.bio = io.BytesIO()
        if size:
            self.bio.seek(size - 1)
            self.bio.write(b"\0")
        self.mv = self.bio.getbuffer()
        self.pos = 0

    def take(self, n: int) -> memoryview:
        return self.mv[self.pos:self.pos + n]

    def put(self, n: int) -> None:
        self.pos += n

    def result(self) -> bytes:
        self.mv.release()
        return self.bio.getvalue()


class _FileSink:
    def __init__(self, f: BinaryIO, capacity: int,
                 digests: dict[str, Any] | None = None) -> None:
        self.f = f
        self.mv = memoryview(bytearray(capacity))
        self.digests = digests

    def take(self, n: int) -> memoryview:
        return self.mv[:n]

    def put(self, n: int) -> None:
        _write_all(self.f, self.mv[:n])
        if self.digests is not None:
            self.hash(self.mv[:n])

    def hash(self, data: bytes | memoryview) -> None:
        self.digests["sealed"].update(data)  # type: ignore[index]
        self.digests["sealed_size"] += len(data)  # type: ignore[index]


def _encrypt(aead: Any, prefix: bytes, aad: bytes, chunks: Iterator[tuple[memoryview, bool]],
             sink: _MemorySink | _FileSink, digests: dict[str, Any] | None = None) -> None:
    for i, (plain, last) in enumerate(chunks):
        if i >= _MAX_CHUNKS:
            raise NexusError("the data has more than 2**32 chunks; seal it with a larger "
                             "chunk_size")
        if digests is not None:
            digests["plain"].update(plain)
            digests["size"] += len(plain)
        size = len(plain) + _TAG
        aead.encrypt_into(prefix + _COUNTER.pack(i, last), plain, aad, sink.take(size))
        sink.put(size)


@dataclass(frozen=True)
class _Layout:
    """Where the chunks lie in ``body`` sealed bytes: ``n_chunks`` chunks of at least
    one tag, the last ``last_size`` bytes long, then ``extra`` bytes too few for a chunk."""

    n_chunks: int
    last_size: int
    extra: int
    plaintext: int


def _layout(body: int, cs: int) -> _Layout:
    full = cs + _TAG
    n, rem = divmod(body, full)
    if rem >= _TAG:
        return _Layout(n + 1, rem, 0, n * cs + rem - _TAG)
    if rem == 0 and n:
        return _Layout(n, full, 0, n * cs)
    return _Layout(n, full, rem, n * cs)  # rem: a cut chunk, or bytes after the final one


class _MemorySource:
    def __init__(self, view: memoryview) -> None:
        self.view = view

    def chunk(self, offset: int, size: int) -> memoryview:
        return self.view[offset:offset + size]


class _FileSource:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.pos = -1
        self.mv = memoryview(bytearray(0))

    def chunk(self, offset: int, size: int) -> memoryview:
        if len(self.mv) < size:
            self.mv = memoryview(bytearray(size))
        if self.pos != offset:
            self.f.seek(offset)
        got = _fill(self.f, self.mv[:size])
        self.pos = offset + got
        if got < size:
            raise IntegrityError(f"{_WHAT} file shrank while it was read: it is truncated")
        return self.mv[:size]


def _chunk_failed(j: int, cs: int, plain_len: int) -> IntegrityError:
    start = j * cs
    span = f"bytes {start}..{start + plain_len - 1}" if plain_len else f"empty, at byte {start}"
    msg = (f"{_WHAT}: chunk {j} ({span}) failed authentication: altered, reordered or from "
           "another object")
    if j == 0:
        msg += ", or the header was altered (every chunk authenticates it)"
    return IntegrityError(msg)


def _open(head: _Head, total: int, source: _MemorySource | _FileSource, kp: KeyPair,
          out: Path | None) -> Any:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dk = _find_data_key(head, kp)
    cs = head.chunk_size
    lay = _layout(total - head.end, cs)
    if lay.n_chunks > _MAX_CHUNKS:
        raise IntegrityError(f"{_WHAT} has more than 2**32 chunks; it is corrupted")
    aead = AESGCM(dk)
    aad, prefix, full = head.aad, head.prefix, cs + _TAG

    def chunks(sink: _MemorySink | _FileSink) -> None:
        for j in range(lay.n_chunks):
            is_end = j == lay.n_chunks - 1
            size = lay.last_size if is_end else full
            last = is_end and lay.extra == 0
            sealed = source.chunk(head.end + j * full, size)
            dst = sink.take(size - _TAG)
            try:
                aead.decrypt_into(prefix + _COUNTER.pack(j, last), sealed, aad, dst)
            except InvalidTag:
                try:  # the other flag tells a cut or extended object from an altered one
                    aead.decrypt_into(prefix + _COUNTER.pack(j, not last), sealed, aad, dst)
                except InvalidTag:
                    raise _chunk_failed(j, cs, size - _TAG) from None
                if last:
                    raise IntegrityError(f"{_WHAT} ends after chunk {j} without its final "
                                         "chunk: it is truncated") from None
                after = total - head.end - (j + 1) * full
                raise IntegrityError(f"{_WHAT} has {after} bytes after its final chunk "
                                     f"{j}: data was appended") from None
            sink.put(size - _TAG)
        if lay.extra or lay.n_chunks == 0:
            where = f"chunk {lay.n_chunks - 1}" if lay.n_chunks else "its header"
            raise IntegrityError(f"{_WHAT} ends after {where} without its final chunk: it is "
                                 "truncated")

    if out is not None:
        return _plain_to(out, min(cs, lay.plaintext) + _TAG, chunks)
    sink = _MemorySink(lay.plaintext)
    chunks(sink)
    plain = sink.result()
    if head.kind != _KIND_FRAME:
        return plain
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # nested columns (lists, as in scored fraud flags) come back as Arrow dtypes:
        # pandas cannot parse its own metadata for them (pandas 2.3, pyarrow 25)
        return pq.read_table(io.BytesIO(plain)).to_pandas(
            types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_nested(t) else None)
    except Exception as err:  # authenticated, so written by a broken or newer sealer
        raise NexusError(f"the sealed DataFrame opened but its Parquet cannot be read "
                         f"({type(err).__name__}); is pyarrow up to date?") from None


def _find_data_key(head: _Head, kp: KeyPair) -> bytes:
    fp = kp.public.fingerprint
    mine = [e for e in head.entries if e.fingerprint == fp]
    who = f"{kp.label!r}, {kp.public.fingerprint_hex}"
    if mine:
        dk = _unwrap(mine[0], kp, fp)
        if dk is None:
            raise IntegrityError(f"{_WHAT}: the recipient key wrap for this key ({who}) failed "
                                 "authentication: the header was altered")
        return dk
    if any(_unwrap(e, kp, fp) is not None for e in head.entries):
        raise IntegrityError(f"{_WHAT}'s header was altered: the recipient key wrap for this "
                             f"key ({who}) carries a wrong fingerprint")
    others = ", ".join(e.fingerprint[:16].hex() for e in head.entries[:10])
    more = f" and {len(head.entries) - 10} more" if len(head.entries) > 10 else ""
    n = len(head.entries)
    raise NexusError(f"this {_WHAT} is sealed for {n} other key{'s' if n > 1 else ''} "
                     f"({others}{more}) and not for this key ({who})")
