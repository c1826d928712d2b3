"""What the saved folders share: the format version and the reading of their JSON description."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nexus_lab.errors import NexusError

#: The version of the folders written here. A reader takes its own version and older
#: ones; a folder of a newer version is refused with a message to upgrade.
FORMAT = 1


def check_format(meta: dict[str, Any], where: str) -> None:
    """Refuse a description written by a newer NEXUS Lab (``where`` names it)."""
    if meta.get("format", 0) > FORMAT:
        raise NexusError(f"{where} was saved by a newer NEXUS Lab (format {meta['format']}, this "
                         f"version reads up to {FORMAT}); upgrade nexus-lab to load it")


def read_meta(root: Path, name: str, what: str, save: str) -> dict[str, Any]:
    """The JSON description ``name`` of the folder ``root``, refused when missing or newer.

    ``what`` and ``save`` (the call that writes one) make the message of a folder that
    holds none.
    """
    if not (root / name).exists():
        raise NexusError(f"{root} holds no saved {what} ({name} is missing); save one with "
                         f"nexus_lab.artifacts.{save}")
    meta = json.loads((root / name).read_text())
    check_format(meta, str(root))
    return meta


def json_number(value: object) -> object:
    """``json.dumps``'s ``default``: NumPy scalars as numbers."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_json(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=1, default=json_number))
