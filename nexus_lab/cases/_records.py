"""The signed records of a case store: intake records and custody events, and helpers.

Both are canonical JSON (sorted keys, no spaces, UTF-8, no NaN), so anyone can
recompute their hashes and check their signatures with any JSON library and
:func:`nexus_lab.crypto.verify`.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from nexus_lab.canonical import canonical_json as canonical
from nexus_lab.canonical import utc_now as now
from nexus_lab.errors import NexusError
from nexus_lab.files import hash_file

__all__ = [
    "ACTIVE",
    "CUSTODY_FORMAT",
    "INTAKE_FORMAT",
    "STATUSES",
    "STORE_FORMAT",
    "TRANSITIONS",
    "canonical",
    "check_name",
    "check_text",
    "custody_record",
    "file_sha256",
    "now",
    "sha256_hex",
    "to_utc",
]

INTAKE_FORMAT = "nexus-lab evidence intake v1"
CUSTODY_FORMAT = "nexus-lab custody event v1"
STORE_FORMAT = "nexus-lab case store v1"

#: The statuses of a case, in lifecycle order.
STATUSES = ("open", "under_investigation", "in_litigation", "closed", "archived")

#: Which status may follow which. A closed case may be reopened (back under
#: investigation) or archived; an archived case is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("under_investigation", "closed"),
    "under_investigation": ("in_litigation", "closed"),
    "in_litigation": ("closed",),
    "closed": ("under_investigation", "archived"),
    "archived": (),
}

#: Statuses in which evidence and milestones can still be added.
ACTIVE = ("open", "under_investigation", "in_litigation")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``(sha256 hex, size)`` of a file, read in blocks."""
    h, size = hash_file(path)
    return h.hexdigest(), size


def custody_record(*, case: str, evidence: str, seq: int, event: str, at: str, actor: str,
                   from_holder: str, to_holder: str, note: str, details: dict,
                   prev: str) -> dict:
    """The record a custody event's hash and signature cover.

    ``prev`` is the previous event's hash, or for the first event (the intake) the
    SHA-256 of the intake record file, so the chain starts at the signed intake.
    """
    return {"format": CUSTODY_FORMAT, "case": case, "evidence": evidence, "seq": seq,
            "event": event, "at": at, "actor": actor, "from": from_holder, "to": to_holder,
            "note": note, "details": details, "prev": prev}


def check_name(value: Any, what: str) -> str:
    """A case number or id safe as a folder name, or a NexusError saying why not."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise NexusError(
            f"{what} {value!r} cannot be used: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it names a folder), e.g. '2024-FR-0042'"
        )
    return value


def check_text(value: Any, what: str, *, empty: bool = False) -> str:
    """A string argument (stripped), or a NexusError naming it."""
    if not isinstance(value, str):
        raise NexusError(f"{what} must be text, got {type(value).__name__}")
    value = value.strip()
    if not value and not empty:
        raise NexusError(f"{what} is empty; say it (a chain of custody records who, what "
                         "and why)")
    return value


def to_utc(value: Any, what: str) -> str | None:
    """A date or time (str, date, datetime, Timestamp) as an ISO UTC string; None stays.

    A date without a time zone is taken as UTC.
    """
    if value is None:
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise NexusError(f"{what}={value!r} is not a date; give e.g. '2025-03-31' or a "
                         "datetime") from None
    if ts is pd.NaT:
        raise NexusError(f"{what} is missing (NaT); give a date or leave it out")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()
