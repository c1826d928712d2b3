"""Canonical JSON and UTC timestamps: the bytes that signed and chained records carry.

Two writers of one record must produce the same bytes, or a signature made by one
fails for the other; every signed or hash-chained record of NEXUS Lab (audit-log
entries, evidence intake records, custody events) is written through here.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

__all__ = ["canonical_json", "utc_now"]


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8, no NaN.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds.

    Examples
    --------
    >>> utc_now().endswith("+00:00")
    True
    """
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
