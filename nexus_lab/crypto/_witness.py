"""Witnesses: copies of an audit log's signed heads kept outside the log file.

A log cannot prove its own tail: whoever can write the file can delete the newest
entries and every checkpoint that signed them, and what is left is a well-chained,
well-signed shorter log. A witness keeps each signed head somewhere else, so
:meth:`~nexus_lab.crypto.AuditLog.verify` can check that the log still holds every
head a witness saw signed.

A witness is a file, or a folder (the file in it is then
``audit-<first 16 bytes of entry 1's hash, hex>.witness``, so one folder serves many
logs). Witness file, format version 2: UTF-8 JSON lines of two kinds. A signed head
(unchanged since version 1, and still marked ``"v": 1``)::

    {"v": 1, "log": hex of entry 1's hash, "upto": n, "head": hex, "root": hex,
     "created_at": ISO time, "signer": hex public bundle, "signature": hex NXSG}

``head``, ``root`` and ``signature`` are those of the log's checkpoint of ``upto``
entries (the signature covers ``upto``, ``head`` and ``root``). An anchor receipt
(new in version 2), written when the checkpoint of ``upto`` entries is anchored on a
chain (:meth:`~nexus_lab.crypto.AuditLog.anchor`)::

    {"v": 2, "kind": "anchor", "log": hex of entry 1's hash, "upto": n,
     "root": hex, "receipt": AnchorReceipt.to_dict()}

so the evidence that the log once held ``upto`` entries with that Merkle root stays
outside the log even when the receipt is deleted from it (the chain vouches for the
receipt: it is not signed again here). A file without anchor lines is a version-1
file; a line of a later version is refused with a message that says so. Lines are
appended with ``O_APPEND`` and flushed to disk one by one; a torn last line (a crash
while writing it) is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from nexus_lab.errors import IntegrityError, NexusError

log = logging.getLogger("nexus_lab")

_VERSION = 1  # of a head line
_ANCHOR_VERSION = 2  # of an anchor line, and of the format
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
        _append(path, {
            "v": _VERSION, "log": log_id.hex(), "upto": cp["upto"], "head": cp["head"].hex(),
            "root": cp["root"].hex(), "created_at": cp["created_at"],
            "signer": cp["signer"].hex(), "signature": cp["signature"].hex()})
        self._last[key] = cp["upto"]

    def publish_anchor(self, log_id: bytes, upto: int, receipt: dict) -> None:
        """Append the anchor receipt of the checkpoint of ``upto`` entries (a dict of
        :meth:`~nexus_lab.crypto.AnchorReceipt.to_dict`) unless it is there already."""
        path = self.file(log_id)
        assert path is not None
        held = self.anchors(log_id, strict=False) or []
        if any(a["upto"] == upto and a["receipt"] == receipt for a in held):
            return
        _append(path, {"v": _ANCHOR_VERSION, "kind": "anchor", "log": log_id.hex(),
                       "upto": upto, "root": receipt["root"], "receipt": receipt})

    def heads(self, log_id: bytes | None, *, strict: bool = True) -> list[dict] | None:
        """The heads this witness holds, oldest first; None when it cannot be reached.

        ``strict`` raises :class:`IntegrityError` for a line that is not a head or an
        anchor of this log (another log's, or altered).
        """
        recs = self._records(log_id, strict)
        return None if recs is None else [r for r in recs if r["kind"] == "head"]

    def anchors(self, log_id: bytes | None, *, strict: bool = True) -> list[dict] | None:
        """The anchor receipts this witness holds (``{"upto", "root", "receipt",
        "line"}``), oldest first; None when it cannot be reached."""
        recs = self._records(log_id, strict)
        return None if recs is None else [r for r in recs if r["kind"] == "anchor"]

    def _records(self, log_id: bytes | None, strict: bool) -> list[dict] | None:
        """Every line of this log's witness file, read; None when it cannot be read."""
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
            log.warning("witness %s: its last line was written only in part (a crash while "
                        "writing it, or the file was cut) and is not read", path)
            lines = lines[:-1]
        out = []
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                rec = _parse(json.loads(raw))
            except _NewerFormat as err:
                if strict:
                    raise NexusError(
                        f"witness {path}, line {n}, is of witness format version {err}; "
                        f"this version of nexus-lab reads up to version {_ANCHOR_VERSION}: "
                        "upgrade nexus-lab to check it") from None
                continue
            except (ValueError, TypeError, KeyError, AttributeError):
                if strict:
                    raise IntegrityError(f"witness {path}, line {n}, is not a signed head "
                                         "or an anchor receipt: the witness file was "
                                         "altered") from None
                continue
            rec["line"] = n
            if strict and log_id is not None and rec["log"] != log_id:
                raise IntegrityError(
                    f"witness {path}, line {n}, holds a {rec['kind']} of another log (entry "
                    f"1 {rec['log'][:8].hex()}…, this log's is {log_id[:8].hex()}…): this "
                    "log's first entries were replaced, or the witness belongs to another log")
            out.append(rec)
        return out


class _NewerFormat(Exception):
    """A witness line of a format version this code does not read."""


def _parse(rec: dict) -> dict:
    """One witness line as a head or an anchor record (raises on a malformed one)."""
    version = rec["v"]
    if isinstance(version, int) and not isinstance(version, bool) \
            and version > _ANCHOR_VERSION:
        raise _NewerFormat(version)
    kind = rec.get("kind", "head")
    if kind == "anchor" and version == _ANCHOR_VERSION:
        upto, receipt = rec["upto"], rec["receipt"]
        if isinstance(upto, bool) or not isinstance(upto, int) or upto < 1 \
                or not isinstance(receipt, dict):
            raise ValueError("not an anchor line")
        return {"kind": "anchor", "upto": upto, "root": bytes.fromhex(rec["root"]),
                "receipt": receipt, "log": bytes.fromhex(rec["log"])}
    if kind != "head" or version != _VERSION:
        raise ValueError(f"unknown line kind {kind!r} of version {version!r}")
    return {"kind": "head", "upto": int(rec["upto"]), "head": bytes.fromhex(rec["head"]),
            "root": bytes.fromhex(rec["root"]), "created_at": str(rec["created_at"]),
            "signer": bytes.fromhex(rec["signer"]),
            "signature": bytes.fromhex(rec["signature"]), "log": bytes.fromhex(rec["log"])}


def _append(path: Path, rec: dict) -> None:
    """Append one JSON line to ``path`` with ``O_APPEND`` and flush it to disk."""
    line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _witness(spec: Any) -> _FileWitness:
    """A witness from what the caller gave: a path (file or folder) or a witness."""
    if isinstance(spec, _FileWitness):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return _FileWitness(spec)
    raise NexusError(f"a witness is a file or folder path, got {type(spec).__name__}")
