"""Lightning, quietly: kernels that train with it keep notebooks and logs clean."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_lightning"]


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's device banners, data loader advice and summaries for a block."""
    names = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")
    saved = [(n, logging.getLogger(n).level) for n in names]
    for n, _ in saved:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"lightning.*")
            warnings.filterwarnings("ignore", message=r".*(num_workers|LitLogger|litlogger).*")
            yield
    finally:
        for n, level in saved:
            logging.getLogger(n).setLevel(level)
