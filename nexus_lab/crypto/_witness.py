"""Witnesses: copies of an audit log's signed heads kept outside the log file.

A log cannot prove its own tail: whoever can write the file can delete the newest
entries and every checkpoint that signed them, and what is left is a well-chained,
well-signed shorter log. A witness keeps each signed head somewhere else, so
:meth:`~nexus_lab.crypto.AuditLog.verify` can check that the log still holds every
head a witness saw signed.

A witness is a file, or a folder (the file in it is then
``audit-<first 16 bytes of entry 1's hash, hex>.witness``, so one folder serves many
logs). Witness file, format version 1: UTF-8 JSON lines, one signed head a line::

    {"v": 1, "log": hex of entry 1's hash, "upto": n, "head": hex, "root": hex,
     "created_at": ISO time, "signer": hex public bundle, "signature": hex NXSG}

``head``, ``root`` and ``signature`` are those of the log's checkpoint of ``upto``
entries (the signature covers ``upto``, ``head`` and ``root``). Lines are appended
with ``O_APPEND`` and flushed to disk one by one; a torn last line (a crash while
writing it) is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from nexus_lab.errors import IntegrityError, NexusError

log = logging.getLogger("nexus_lab")

_VERSION = 1
_SUFFIX = ".witness"


class _FileWitness:
    """A witness file, or a folder holding one witness file per log."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        text = os.fspath(path)
        if not isinstance(text, str) or not text:
            raise NexusError(f"a witness is a file or folder path, got {path!r}")
        self.folder = text.endswith(("/", os.sep)) or Path(text).is_dir()
        self.spec = str(Path(text).absolute()) + (os.sep if self.folder else "")
        self._last: dict[str, int] = {}

    @property
    def name(self) -> str:
        return self.spec

    def file(self, log_id: bytes | None) -> Path | None:
        """The witness file for the log whose entry 1 hashes to ``log_id``."""
        if not self.folder:
            return Path(self.spec)
        if log_id is None:
            return None
        return Path(self.spec) / f"audit-{log_id[:16].hex()}{_SUFFIX}"

    def publish(self, log_id: bytes, cp: dict) -> None:
        """Append the signed head ``cp`` (a checkpoint row) unless it is there already."""
        path = self.file(log_id)
        assert path is not None
        key = str(path)
        if key not in self._last:
            heads = self.heads(log_id, strict=False) or []
            self._last[key] = max((h["upto"] for h in heads), default=0)
        if self._last[key] >= cp["upto"]:
            return
        line = json.dumps({
            "v": _VERSION, "log": log_id.hex(), "upto": cp["upto"], "head": cp["head"].hex(),
            "root": cp["root"].hex(), "created_at": cp["created_at"],
            "signer": cp["signer"].hex(), "signature": cp["signature"].hex()},
            sort_keys=True, separators=(",", ":")) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self._last[key] = cp["upto"]

    def heads(self, log_id: bytes | None, *, strict: bool = True) -> list[dict] | None:
        """The heads this witness holds, oldest first; None when it cannot be reached.

        ``strict`` raises :class:`IntegrityError` for a line that is not a head of
        this log (another log's, or altered).
        """
        path = self.file(log_id)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            log.warning("witness %s cannot be read: %s", path, err)
            return None
        lines = data.split(b"\n")
        if lines and lines[-1] != b"":  # a torn last line: written only in part
            lines = lines[:-1]
        out = []
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                head = {"upto": int(rec["upto"]), "head": bytes.fromhex(rec["head"]),
                        "root": bytes.fromhex(rec["root"]),
                        "created_at": str(rec["created_at"]),
                        "signer": bytes.fromhex(rec["signer"]),
                        "signature": bytes.fromhex(rec["signature"]),
                        "log": bytes.fromhex(rec["log"]), "line": n}
            except (ValueError, TypeError, KeyError):
                if strict:
                    raise IntegrityError(f"witness {path}, line {n}, is not a signed head: "
                                         "the witness file was altered") from None
                continue
            if strict and log_id is not None and head["log"] != log_id:
                raise IntegrityError(
                    f"witness {path}, line {n}, holds a head of another log (entry 1 "
                    f"{head['log'][:8].hex()}…, this log's is {log_id[:8].hex()}…): this "
                    "log's first entries were replaced, or the witness belongs to another log")
            out.append(head)
        return out


def _witness(spec: Any) -> _FileWitness:
    """A witness from what the caller gave: a path (file or folder) or a witness."""
    if isinstance(spec, _FileWitness):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return _FileWitness(spec)
    raise NexusError(f"a witness is a file or folder path, got {type(spec).__name__}")
