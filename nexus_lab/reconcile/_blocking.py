"""Candidate generation by sorted look-ups: no Python loop over rows.

Both sides are reduced to int64 keys; one side is sorted once and every row of
the other side finds its key range with two binary searches. Ranges are then
expanded into pairs with ``repeat``/``cumsum`` arithmetic.
"""

from __future__ import annotations

import numpy as np

from nexus_lab._arrays import SORT_NEEDLES, search_sorted, unique_ints

__all__ = ["composite", "expand_ranges", "range_join", "search_sorted", "unique_ints"]


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn per-row half-open ranges ``[lo, hi)`` into ``(row, position)`` pairs.

    Examples
    --------
    >>> expand_ranges(np.array([0, 5]), np.array([2, 6]))
    (array([0, 0, 1]), array([0, 1, 5]))
    """
    counts = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts - lo, counts)
    return rows, pos


def range_join(
    left_key: np.ndarray,
    right_key: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    right_order: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` with ``left_key[i] + low[i] <= right_key[j] <= left_key[i] + high[i]``.

    Parameters
    ----------
    left_key, right_key : numpy.ndarray of int64
        Keys of both sides (the right side need not be sorted).
    low, high : numpy.ndarray of int64 or int
        Offsets bounding the range, per left row or scalars.
    right_order : numpy.ndarray, optional
        ``argsort(right_key)`` when the caller already has it.

    Returns
    -------
    i, j : numpy.ndarray of int64
        Row positions into left and right.

    Examples
    --------
    >>> range_join(np.array([10, 20]), np.array([19, 9, 11, 30]), -1, 1)
    (array([0, 0, 1]), array([1, 2, 0]))
    """
    order = np.argsort(right_key, kind="stable") if right_order is None else right_order
    sorted_key = right_key[order]
    # with scalar offsets both bounds share the order of the left keys
    left_order = (
        np.argsort(left_key, kind="stable")
        if np.ndim(low) == 0 and np.ndim(high) == 0 and len(left_key) >= SORT_NEEDLES
        else None
    )
    lo = search_sorted(sorted_key, left_key + low, "left", left_order)
    hi = search_sorted(sorted_key, left_key + high, "right", left_order)
    i, pos = expand_ranges(lo, hi)
    return i, order[pos]


def composite(*parts: tuple[np.ndarray, int]) -> np.ndarray:
    """Combine non-negative int columns into one int64 key, most significant first.

    Each part is ``(values, span)`` with ``0 <= values < span``.
    """
    key = np.zeros(len(parts[0][0]), dtype=np.int64)
    for values, span in parts:
        key = key * np.int64(span) + values.astype(np.int64)
    return key
