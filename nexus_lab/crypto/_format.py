"""Byte-level helpers shared by the NEXUS crypto formats (all integers big-endian)."""

from __future__ import annotations

import struct

from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["Reader", "check_magic", "lp16", "lp32"]


def lp16(data: bytes) -> bytes:
    """``data`` prefixed with its length as a 2-byte integer."""
    return struct.pack(">H", len(data)) + data


def lp32(data: bytes) -> bytes:
    """``data`` prefixed with its length as a 4-byte integer."""
    return struct.pack(">I", len(data)) + data


class Reader:
    """Read fields from ``buf``; any shortfall raises :class:`IntegrityError` naming ``what``.

    Examples
    --------
    >>> r = Reader(b"\\x00\\x02hi!", "example")
    >>> r.lp16(), r.take(1)
    (b'hi', b'!')
    >>> r.done()
    """

    def __init__(self, buf: bytes | memoryview, what: str) -> None:
        self.buf = memoryview(buf)
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise IntegrityError(
                f"{self.what} is truncated or corrupted: {n} bytes expected at byte "
                f"{self.pos}, {len(self.buf) - self.pos} left"
            )
        out = self.buf[self.pos:self.pos + n].tobytes()
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def lp16(self) -> bytes:
        return self.take(self.u16())

    def lp32(self) -> bytes:
        return self.take(self.u32())

    def done(self) -> None:
        """Raise when bytes are left over (they would be unauthenticated)."""
        if self.pos != len(self.buf):
            raise IntegrityError(
                f"{self.what} is corrupted: {len(self.buf) - self.pos} unexpected bytes after "
                f"byte {self.pos}"
            )


def check_magic(r: Reader, magic: bytes, version: int, kind: str) -> None:
    """Read and check a format's magic bytes and version byte."""
    got = r.take(len(magic)) if len(r.buf) >= len(magic) else bytes(r.buf)
    if got != magic:
        raise IntegrityError(
            f"not a NEXUS {kind}: it starts with {got[:8]!r}, expected {magic!r}"
        )
    v = r.u8()
    if v != version:
        if v > version:
            raise NexusError(
                f"this {kind} uses format version {v}; this NEXUS Lab reads version "
                f"{version}: upgrade nexus-lab to read it"
            )
        raise IntegrityError(f"this {kind} has an unknown format version {v}")
