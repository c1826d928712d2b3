"""Base array helpers."""

import numpy as np

from nexus_lab._arrays import small_pages


def test_small_pages_restores_numpys_setting():
    switch = np._core.multiarray._set_madvise_hugepage
    before = switch(True)
    try:
        with small_pages():
            inside = np.ones(1 << 20).sum()
        assert inside == 1 << 20
        assert switch(True) is True  # restored on leaving
    finally:
        switch(before)
