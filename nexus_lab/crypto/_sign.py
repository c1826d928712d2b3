"""Hybrid signatures: ML-DSA-65 (or SLH-DSA) and Ed25519 over one documented message.

What is signed, :func:`signing_input`, is::

    b"NEXUS-Lab signature v1" || 0x00 || SHA-512(content)        (87 bytes)

where the content is the bytes themselves, a file's bytes, or a DataFrame's Arrow IPC
stream (:func:`nexus_lab.frames.frame_bytes`). Both algorithms sign exactly these
bytes, as plain FIPS 204 / FIPS 205 and RFC 8032 signatures with an empty context
string, so any FIPS 204 implementation checks
``verify(pub.pq_sign, signing_input(data), sig.pq)``. A signature is valid only when
both parts are.

A batch is signed once: :func:`sign_batch` signs the *statement*
``b"NEXUS-Lab batch v1" || 0x00 || u64 count || Merkle root`` (as its content) and
each record carries its inclusion proof, so it verifies alone.

Signature, format ``NXSG`` version 1 (integers big-endian)::

    "NXSG" | u8 version = 1 | u8 algorithm id (1 = ML-DSA-65, 16.. = SLH-DSA)
    | signer fingerprint (32) | u8 kind (0 = data, 1 = record of a batch)
    | u16 len + Ed25519 signature (64) | u32 len + post-quantum signature
    | kind 1 only: the record's Merkle proof (u64 count | u64 index | u16 n | n x 32)
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_lab.crypto._backend import signer
from nexus_lab.crypto._format import Reader, check_magic, lp16, lp32
from nexus_lab.crypto._keys import KeyPair, PublicKey, need_keypair
from nexus_lab.crypto._merkle import MerkleProof, MerkleTree, leaf_hash, root_from_proof
from nexus_lab.errors import IntegrityError, NexusError

__all__ = [
    "BatchSignature",
    "Signature",
    "sign",
    "sign_batch",
    "signing_input",
    "verify",
    "verify_batch",
]

_DOMAIN = b"NEXUS-Lab signature v1\x00"
_BATCH = b"NEXUS-Lab batch v1\x00"
_MAGIC = b"NXSG"
_VERSION = 1


def signing_input(data: Any) -> bytes:
    """The exact bytes both signature algorithms sign for ``data``.

    Parameters
    ----------
    data : bytes-like, str or path-like naming a file, or pandas DataFrame
        A ``str`` is a file name (sign text by encoding it first); a file is read in
        blocks, so any size works; a DataFrame is hashed as its Arrow IPC stream.

    Returns
    -------
    bytes
        ``b"NEXUS-Lab signature v1\\x00" + SHA-512(content)``.

    Examples
    --------
    >>> import hashlib, nexus_lab as nx
    >>> m = nx.crypto.signing_input(b"ledger.csv contents")
    >>> m == b"NEXUS-Lab signature v1\\x00" + hashlib.sha512(b"ledger.csv contents").digest()
    True
    """
    return _DOMAIN + content_digest(data)


def content_digest(data: Any) -> bytes:
    """SHA-512 of the content :func:`signing_input` covers."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return hashlib.sha512(data).digest()
    if isinstance(data, (str, os.PathLike)):
        from nexus_lab.files import hash_file

        p = Path(data)
        try:
            h, _ = hash_file(p, "sha512")
        except FileNotFoundError:
            raise NexusError(f"cannot sign or verify {str(p)!r}: no such file (to sign text, "
                             "pass it encoded: text.encode())") from None
        except OSError as err:
            raise NexusError(f"cannot read {str(p)!r}: {err.strerror or err}") from None
        return h.digest()
    if type(data).__name__ == "DataFrame":
        from nexus_lab.frames import frame_bytes  # pandas and pyarrow only when needed

        return hashlib.sha512(frame_bytes(data)).digest()
    raise NexusError(f"cannot sign a {type(data).__name__}: give bytes, a file path or a "
                     "pandas DataFrame")


@dataclass(frozen=True)
class Signature:
    """A hybrid signature: the post-quantum part :attr:`pq` and the Ed25519 part.

    Attributes
    ----------
    algorithm : str
        ``"ML-DSA-65"`` or an SLH-DSA set.
    signer : bytes
        The fingerprint of the signing key's public bundle.
    pq : bytes
        The raw FIPS 204 (or FIPS 205) signature of :func:`signing_input`.
    classical : bytes
        The raw Ed25519 signature of the same bytes.
    proof : MerkleProof or None
        For a record of a batch: its inclusion proof (the signed content is then the
        batch statement, see the module docstring).
    """

    algorithm: str
    signer: bytes
    pq: bytes
    classical: bytes
    proof: MerkleProof | None = None

    def to_bytes(self) -> bytes:
        """The signature in format ``NXSG`` v1 (see the module docstring)."""
        parts = [_MAGIC, bytes([_VERSION, signer(self.algorithm).ident]), self.signer,
                 bytes([0 if self.proof is None else 1]), lp16(self.classical), lp32(self.pq)]
        if self.proof is not None:
            parts.append(self.proof._write())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Read a signature written by :meth:`to_bytes` (IntegrityError when malformed)."""
        r = Reader(data, "signature")
        check_magic(r, _MAGIC, _VERSION, "signature")
        alg = signer(r.u8())
        fp = r.take(32)
        kind = r.u8()
        if kind not in (0, 1):
            raise IntegrityError(f"signature is corrupted: unknown kind {kind}")
        classical, pq = r.lp16(), r.lp32()
        proof = MerkleProof._read(r) if kind == 1 else None
        r.done()
        return cls(alg.name, fp, pq, classical, proof)

    @property
    def signer_hex(self) -> str:
        return self.signer[:16].hex()

    def __repr__(self) -> str:
        batch = "" if self.proof is None else f", record={self.proof.index}/{self.proof.count}"
        return (f"Signature(algorithm='{self.algorithm}+Ed25519', signer={self.signer_hex!r}"
                f"{batch})")


@dataclass(frozen=True)
class BatchSignature:
    """One signature over a batch of records: its Merkle root, count and signature.

    Use :meth:`record` for the signature of one record (with its proof) and
    :func:`verify_batch` to check all records at the cost of one verification.
    """

    root: bytes
    count: int
    signature: Signature
    tree: MerkleTree | None = None

    @property
    def statement(self) -> bytes:
        """The content that was signed: ``b"NEXUS-Lab batch v1\\0" || u64 count || root``."""
        return _statement(self.count, self.root)

    def record(self, index: int) -> Signature:
        """The signature of record ``index``, verifiable alone with :func:`verify`."""
        if self.tree is None:
            raise NexusError("this batch signature was read back without its records; "
                             "rebuild it with sign_batch or keep the per-record signatures")
        s = self.signature
        return Signature(s.algorithm, s.signer, s.pq, s.classical, self.tree.proof(index))

    def to_bytes(self) -> bytes:
        """``u64 count | root (32) | NXSG signature``."""
        return struct.pack(">Q", self.count) + self.root + self.signature.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> BatchSignature:
        r = Reader(data, "batch signature")
        count, root = r.u64(), r.take(32)
        return cls(root, count, Signature.from_bytes(r.take(len(r.buf) - r.pos)))


def sign(data: Any, keypair: KeyPair) -> Signature:
    """Sign ``data`` with both halves of ``keypair``'s signing keys.

    Parameters
    ----------
    data : bytes-like, file path or DataFrame
        See :func:`signing_input`.
    keypair : KeyPair

    Returns
    -------
    Signature

    Examples
    --------
    >>> import nexus_lab as nx
    >>> kp = nx.crypto.generate_keypair("auditor")
    >>> sig = nx.crypto.sign(b"report v3", kp)
    >>> nx.crypto.verify(b"report v3", sig, kp.public)
    True
    """
    return _sign_message(signing_input(data), _keypair(keypair))


def _sign_message(message: bytes, kp: KeyPair, proof: MerkleProof | None = None) -> Signature:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    classical = Ed25519PrivateKey.from_private_bytes(kp._ed_sk).sign(message)
    pq = kp.signer.sign(kp._sign_sk, message)
    return Signature(kp.signer.name, kp.fingerprint, pq, classical, proof)


def verify(data: Any, signature: Signature | bytes, public: PublicKey | KeyPair) -> bool:
    """Check a signature made by :func:`sign` (or a record's from :func:`sign_batch`).

    Returns
    -------
    True

    Raises
    ------
    IntegrityError
        Naming what failed: another signer's key, the post-quantum or the Ed25519
        part (the data or the signature was altered), or a record's Merkle proof.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> kp = nx.crypto.generate_keypair()
    >>> sig = nx.crypto.sign(b"approved", kp)
    >>> try:
    ...     nx.crypto.verify(b"rejected", sig, kp.public)
    ... except nx.IntegrityError as err:
    ...     print(err)
    the ML-DSA-65 signature does not verify: the data or the signature was altered
    """
    sig = Signature.from_bytes(bytes(signature)) if not isinstance(signature, Signature) \
        else signature
    pub = _public(public)
    if sig.proof is None:
        message = signing_input(data)
    else:
        root = root_from_proof(leaf_hash(data), sig.proof)
        message = signing_input(_statement(sig.proof.count, root))
    _check(message, sig, pub)
    return True


def _check(message: bytes, sig: Signature, pub: PublicKey) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if sig.signer != pub.fingerprint:
        raise IntegrityError(
            f"the signature was made by key {sig.signer_hex}, not by "
            f"{pub.label or 'this key'} ({pub.fingerprint_hex})"
        )
    if sig.algorithm != pub.sign_algorithm:
        raise IntegrityError(f"the signature uses {sig.algorithm}, the key "
                             f"{pub.sign_algorithm}")
    if not signer(sig.algorithm).verify(pub.pq_sign, message, sig.pq):
        raise IntegrityError(f"the {sig.algorithm} signature does not verify: the data or the "
                             "signature was altered")
    try:
        Ed25519PublicKey.from_public_bytes(pub.ed25519).verify(sig.classical, message)
    except (InvalidSignature, ValueError):
        raise IntegrityError("the Ed25519 signature does not verify: the data or the "
                             "signature was altered") from None


def sign_batch(records: Sequence[bytes | str], keypair: KeyPair) -> BatchSignature:
    """Sign many records at the cost of one signature, each still verifiable alone.

    The records' Merkle root (:class:`MerkleTree`) and count are signed once; the
    signature of record ``i`` is ``batch.record(i)`` (the one signature plus the
    record's inclusion proof).

    Parameters
    ----------
    records : sequence of bytes or str
    keypair : KeyPair

    Returns
    -------
    BatchSignature

    Examples
    --------
    >>> import nexus_lab as nx
    >>> kp = nx.crypto.generate_keypair()
    >>> flags = [f"flag {i}: cleared" for i in range(1000)]
    >>> batch = nx.crypto.sign_batch(flags, kp)
    >>> nx.crypto.verify(flags[123], batch.record(123), kp.public)
    True
    >>> nx.crypto.verify_batch(flags, batch, kp.public)
    True
    """
    kp = _keypair(keypair)
    tree = MerkleTree(records)
    sig = _sign_message(signing_input(_statement(tree.count, tree.root)), kp)
    return BatchSignature(tree.root, tree.count, sig, tree)


def verify_batch(records: Sequence[bytes | str], batch: BatchSignature | bytes,
                 public: PublicKey | KeyPair) -> bool:
    """Check every record of a batch with one signature verification.

    Raises
    ------
    IntegrityError
        The records differ from those signed (one altered, added, removed or moved),
        or the signature does not verify.
    """
    b = BatchSignature.from_bytes(bytes(batch)) if not isinstance(batch, BatchSignature) \
        else batch
    pub = _public(public)
    if len(records) != b.count:
        raise IntegrityError(f"the batch was signed over {b.count} records, {len(records)} "
                             "were given")
    if MerkleTree(records).root != b.root:
        raise IntegrityError("the records differ from those signed (a record was altered or "
                             "moved): their Merkle root does not match the signed root")
    _check(signing_input(_statement(b.count, b.root)), b.signature, pub)
    return True


def _statement(count: int, root: bytes) -> bytes:
    return _BATCH + struct.pack(">Q", count) + root


def _keypair(kp: Any) -> KeyPair:
    return need_keypair(kp, "signing")


def _public(pub: Any) -> PublicKey:
    if isinstance(pub, KeyPair):
        return pub.public
    if isinstance(pub, PublicKey):
        return pub
    if isinstance(pub, (bytes, bytearray)):
        return PublicKey.from_bytes(bytes(pub))
    if isinstance(pub, (str, os.PathLike)):
        raise NexusError(f"verifying needs the signer's PublicKey, got the path "
                         f"{os.fspath(pub)!r}: load it with nx.crypto.PublicKey.load(path)")
    raise NexusError(f"verifying needs the signer's PublicKey, got {type(pub).__name__}")
