"""Array helpers every kernel uses: look-ups and distinct values that stay fast at scale."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

__all__ = ["SORT_NEEDLES", "first_of", "search_sorted", "small_pages", "unique_ints"]


@functools.cache
def _huge_pages_stall() -> bool:
    """Whether the kernel compacts memory on the spot to give an array huge pages."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/defrag") as f:
            mode = f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return False
    return mode in ("always", "madvise", "defer+madvise")


@contextmanager
def small_pages() -> Iterator[None]:
    """Let large NumPy arrays made inside the block live on ordinary pages.

    NumPy asks the kernel for transparent huge pages for every large array.
    Where the kernel's ``transparent_hugepage/defrag`` setting makes it compact
    memory on the spot for such a request, each fresh short-lived array stalls:
    on the 2-core machine of ``experiments/bench_fraud.py`` that cost a quarter
    of fraud scoring's time. Elsewhere this does nothing. NumPy's switch is
    process-wide; it is restored on leaving.

    Examples
    --------
    >>> with small_pages():
    ...     total = np.ones(10_000_000).sum()
    >>> float(total)
    10000000.0
    """
    switch = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    if switch is None or not _huge_pages_stall():
        yield
        return
    before = switch(False)
    try:
        yield
    finally:
        switch(before)


def unique_ints(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int array: ``np.unique`` by hashing first.

    On millions of distinct int64 codes NumPy's ``unique`` is many times slower
    than hashing them and sorting only the distinct ones.

    Examples
    --------
    >>> unique_ints(np.array([7, 3, 7, 1]))
    array([1, 3, 7])
    """
    return np.sort(pd.unique(np.asarray(values)))


def first_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of an int array and where each first appears: what
    ``np.unique(values, return_index=True)`` gives, by hashing first (see
    :func:`unique_ints`).

    Examples
    --------
    >>> first_of(np.array([7, 3, 7, 1]))
    (array([1, 3, 7]), array([3, 1, 0]))
    """
    values = np.asarray(values)
    codes, distinct = pd.factorize(values)
    first = np.empty(len(distinct), np.int64)
    first[codes[::-1]] = np.arange(len(values) - 1, -1, -1)  # the last write is the first
    order = np.argsort(distinct, kind="stable")
    return np.asarray(distinct)[order], first[order]


SORT_NEEDLES = 1 << 15  # below this many needles the look-ups fit in cache anyway


def search_sorted(
    sorted_key: np.ndarray,
    needles: np.ndarray,
    side: str = "left",
    needle_order: np.ndarray | None = None,
) -> np.ndarray:
    """``np.searchsorted`` that visits the needles in sorted order.

    Binary searches for random needles miss the cache at every step; in sorted
    order each search starts near the previous one, which is several times
    faster on large tables. The result is the same as ``np.searchsorted``.

    Parameters
    ----------
    sorted_key : numpy.ndarray
        The sorted array to search.
    needles : numpy.ndarray
        Values to look up, in any order.
    side : {"left", "right"}
        As for ``np.searchsorted``.
    needle_order : numpy.ndarray, optional
        ``argsort(needles)`` when the caller already has it.

    Examples
    --------
    >>> search_sorted(np.array([1, 3, 5]), np.array([4, 0, 5]), side="right")
    array([2, 0, 3])
    """
    if needle_order is None:
        if len(needles) < SORT_NEEDLES:
            return np.searchsorted(sorted_key, needles, side=side)
        needle_order = np.argsort(needles, kind="stable")
    out = np.empty(len(needles), dtype=np.int64)
    out[needle_order] = np.searchsorted(sorted_key, needles[needle_order], side=side)
    return out
