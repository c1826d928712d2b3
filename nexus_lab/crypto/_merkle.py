"""Merkle trees over records: one root commits to all of them, a short proof to each.

The tree is 8-ary (SHA-256 throughout)::

    leaf  = SHA-256(0x00 || record)
    node  = SHA-256(0x01 || child_1 || ... || child_k)      2 <= k <= 8
    each level is cut in order into groups of 8; a lone last child moves up unchanged.

The prefixes keep leaves and nodes apart (a node can never pass for a leaf). The
root does not commit to the record count by itself (record 0 of 9 and of 11 records
takes the same path), so a root is always signed or published with its count
(``sign_batch`` and the audit log's checkpoints sign ``count || root``) and
:func:`verify_proof` takes the count the root came with. Eight
children per node rather than two: building the tree takes N/7 node hashes instead of
N - 1, and in Python each hash is a call, so a binary tree over 1M small records costs
about 2.4x hashing each record once, a 4-ary one about 1.5x, this one about 1.3x
(``experiments/bench_crypto.py``). The price is in the proofs: at most 7 hashes per
level, 49 (1.5 KiB) for a million records against 20 for a binary tree.

Proof, format ``NXMP`` version 1::

    "NXMP" | u8 version = 1 | u64 record count | u64 record index | u16 n | n x 32-byte hashes

The sibling hashes come level by level from the leaves up, in order within a group.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from nexus_lab.crypto._format import Reader, check_magic
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["MerkleProof", "MerkleTree", "leaf_hash", "verify_proof"]

_ARITY = 8
_LEAF, _NODE = b"\x00", b"\x01"
_MAGIC = b"NXMP"
_VERSION = 1
_sha256 = hashlib.sha256


def leaf_hash(record: bytes | str) -> bytes:
    """The leaf hash of one record: ``SHA-256(0x00 || record)`` (text as UTF-8)."""
    return _sha256(_LEAF + _as_bytes(record)).digest()


@dataclass(frozen=True)
class MerkleProof:
    """The hashes that lead from record ``index`` of ``count`` to the tree's root.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> tree = nx.crypto.MerkleTree([b"a", b"b", b"c"])
    >>> proof = tree.proof(2)
    >>> nx.crypto.MerkleProof.from_bytes(proof.to_bytes()) == proof
    True
    """

    index: int
    count: int
    siblings: tuple[bytes, ...]

    def to_bytes(self) -> bytes:
        """The proof in format ``NXMP`` v1 (see the module docstring)."""
        return b"".join([_MAGIC, bytes([_VERSION]),
                         struct.pack(">QQH", self.count, self.index, len(self.siblings)),
                         *self.siblings])

    @classmethod
    def from_bytes(cls, data: bytes) -> MerkleProof:
        r = Reader(data, "Merkle proof")
        check_magic(r, _MAGIC, _VERSION, "Merkle proof")
        proof = cls._read(r)
        r.done()
        return proof

    @classmethod
    def _read(cls, r: Reader) -> MerkleProof:
        count, index, n = r.u64(), r.u64(), r.u16()
        return cls(index, count, tuple(r.take(32) for _ in range(n)))

    def _write(self) -> bytes:
        return self.to_bytes()[len(_MAGIC) + 1:]


class MerkleTree:
    """An 8-ary SHA-256 Merkle tree over records (bytes or text), built level by level.

    Parameters
    ----------
    records : sequence of bytes or str
        At least one. Text is hashed as UTF-8.

    Attributes
    ----------
    root : bytes
        The 32-byte root.
    count : int
        The number of records.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> records = [f"payment {i}" for i in range(10)]
    >>> tree = nx.crypto.MerkleTree(records)
    >>> nx.crypto.verify_proof(records[7], tree.proof(7), tree.root, tree.count)
    True
    >>> len(tree.root), tree.count
    (32, 10)
    """

    def __init__(self, records: Sequence[bytes | str]) -> None:
        if isinstance(records, (bytes, str)) or not hasattr(records, "__len__"):
            raise NexusError("MerkleTree takes a sequence of records (bytes or str), "
                             f"got {type(records).__name__}")
        if len(records) == 0:
            raise NexusError("MerkleTree needs at least one record")
        try:
            leaves = [_sha256(_LEAF + r).digest() for r in records]
        except TypeError:
            leaves = [_sha256(_LEAF + _as_bytes(r, i)).digest() for i, r in enumerate(records)]
        level = leaves
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = _parents(level)
            self.levels.append(level)
        self.count = len(records)
        self.root = level[0]

    @property
    def root_hex(self) -> str:
        return self.root.hex()

    def __len__(self) -> int:
        return self.count

    def proof(self, index: int) -> MerkleProof:
        """The inclusion proof of record ``index``."""
        i = int(index)
        if not 0 <= i < self.count:
            raise NexusError(f"record index {index} is out of range: the tree has "
                             f"{self.count} records (0..{self.count - 1})")
        siblings: list[bytes] = []
        idx = i
        for level in self.levels[:-1]:
            start = idx - idx % _ARITY
            stop = min(start + _ARITY, len(level))
            if stop - start > 1:
                siblings += [level[j] for j in range(start, stop) if j != idx]
            idx //= _ARITY
        return MerkleProof(i, self.count, tuple(siblings))

    def __repr__(self) -> str:
        return f"MerkleTree(count={self.count}, root={self.root_hex[:16]}...)"


def verify_proof(record: bytes | str, proof: MerkleProof | bytes, root: bytes | str,
                 count: int) -> bool:
    """Check that ``record`` is in the tree of ``count`` records whose root is ``root``.

    Parameters
    ----------
    record : bytes or str
    proof : MerkleProof or bytes
        From :meth:`MerkleTree.proof` (or its ``to_bytes()``).
    root : bytes or str
        The 32-byte root or its hex.
    count : int
        The number of records the root was signed or published with (a batch
        signature's ``count``, an audit checkpoint's ``upto``). The root alone does not
        fix it, and a proof's own count is not trusted.

    Returns
    -------
    True

    Raises
    ------
    IntegrityError
        The record or the proof was altered, or the proof is for another tree; the
        message says which check failed.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> tree = nx.crypto.MerkleTree([b"a", b"b", b"c", b"d", b"e"])
    >>> nx.crypto.verify_proof(b"e", tree.proof(4), tree.root, tree.count)
    True
    """
    if isinstance(proof, (bytes, bytearray, memoryview)):
        proof = MerkleProof.from_bytes(bytes(proof))
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise NexusError(f"count must be a positive number of records (the count the root "
                         f"was signed or published with), got {count!r}")
    if proof.count != count:
        raise IntegrityError(f"the proof is for a tree of {proof.count} records, the root is "
                             f"of {count}: the proof was altered or is for another tree")
    want = _as_root(root)
    got = root_from_proof(leaf_hash(record), proof)
    if got != want:
        raise IntegrityError(
            f"Merkle proof of record {proof.index} of {proof.count} does not lead to root "
            f"{want.hex()[:16]}...: the record, the proof or the root was altered"
        )
    return True


def root_from_proof(leaf: bytes, proof: MerkleProof) -> bytes:
    """The root that ``leaf`` and ``proof`` lead to (checks the proof's shape)."""
    n, idx = proof.count, proof.index
    if not 0 <= idx < n:
        raise IntegrityError(f"Merkle proof is malformed: index {idx} is not below its "
                             f"record count {n}")
    need = _siblings_needed(idx, n)
    if len(proof.siblings) != need or any(len(s) != 32 for s in proof.siblings):
        raise IntegrityError(f"Merkle proof is malformed: record {idx} of {n} needs {need} "
                             f"32-byte sibling hashes, the proof has {len(proof.siblings)}")
    h, k = leaf, 0
    while n > 1:
        start = idx - idx % _ARITY
        size = min(_ARITY, n - start)
        if size > 1:
            pos = idx - start
            sib = proof.siblings[k:k + size - 1]
            k += size - 1
            h = _sha256(b"".join([_NODE, *sib[:pos], h, *sib[pos:]])).digest()
        idx //= _ARITY
        n = -(-n // _ARITY)
    return h


def _siblings_needed(idx: int, n: int) -> int:
    need = 0
    while n > 1:
        start = idx - idx % _ARITY
        size = min(_ARITY, n - start)
        need += size - 1 if size > 1 else 0
        idx //= _ARITY
        n = -(-n // _ARITY)
    return need


def _parents(level: list[bytes]) -> list[bytes]:
    """Hash groups of eight (a shorter last group; a lone last child moves up)."""
    it = iter(level)  # zip(*[it] * 8) walks the full groups
    out = [_sha256(b"".join((_NODE, *group))).digest() for group in zip(*[it] * _ARITY)]
    rest = level[len(out) * _ARITY:]
    if len(rest) == 1:
        out.append(rest[0])
    elif rest:
        out.append(_sha256(b"".join([_NODE, *rest])).digest())
    return out


def _as_bytes(record: object, i: int | None = None) -> bytes:
    """A record's bytes (text as UTF-8); ``i`` names its position in errors."""
    if isinstance(record, str):
        return record.encode()
    if isinstance(record, (bytes, bytearray, memoryview)):
        return bytes(record)
    which = "a record" if i is None else f"record {i}"
    raise NexusError(f"{which} is a {type(record).__name__}; Merkle records are bytes or "
                     "str (serialize other objects first, e.g. as canonical JSON)")


def _as_root(root: bytes | str) -> bytes:
    if isinstance(root, str):
        try:
            root = bytes.fromhex(root)
        except ValueError:
            raise NexusError("root is not hex; give the 32-byte root or its 64 hex digits") \
                from None
    if not isinstance(root, (bytes, bytearray, memoryview)) or len(root) != 32:
        raise NexusError("root must be 32 bytes (or 64 hex digits)")
    return bytes(root)


class _Frontier:
    """The root of :class:`MerkleTree` kept up to date as records are appended.

    Per level it keeps only the count of nodes whose group of eight is complete and
    the last incomplete group (fewer than eight hashes), so adding a record and
    reading the root cost O(log n) hashes and the memory stays O(log n): an audit log
    can sign its root after every entry without rehashing all of them.
    """

    def __init__(self) -> None:
        self.count = 0
        self._counts: list[int] = []  # nodes ever placed on each level
        self._open: list[list[bytes]] = []  # each level's last, incomplete group

    def add_leaf(self, leaf: bytes) -> None:
        """Append the leaf hash of the next record (``leaf_hash(record)``)."""
        self.count += 1
        node, level = leaf, 0
        while True:
            if level == len(self._open):
                self._open.append([])
                self._counts.append(0)
            self._open[level].append(node)
            self._counts[level] += 1
            if len(self._open[level]) < _ARITY:
                return
            node = _sha256(b"".join([_NODE, *self._open[level]])).digest()
            self._open[level] = []
            level += 1

    @property
    def root(self) -> bytes:
        """The root :class:`MerkleTree` gives for the records added so far."""
        if not self.count:
            raise NexusError("a Merkle tree needs at least one record")
        carry: list[bytes] = []  # the node the level below passes up (0 or 1)
        level = 0
        while True:
            placed = self._counts[level] if level < len(self._counts) else 0
            nodes = (self._open[level] if level < len(self._open) else []) + carry
            if placed + len(carry) == 1:  # this level is the root
                return nodes[0]
            # the last group of this level: hashed, or a lone node moved up unchanged
            carry = [_sha256(b"".join([_NODE, *nodes])).digest()] if len(nodes) > 1 \
                else nodes
            level += 1
