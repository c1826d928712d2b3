"""Where a reconciliation's parts run: here, or on the shards a cluster lends
(``reconcile(shards=...)``, which :func:`nexus_lab.scale.reconcile` passes).

A kernel whose work is per row of one side (each "one" row's candidates and claims,
looked up among all the rows of the other side) hands that work to :func:`over_rows`:
the rows are cut in order into one part per shard, every part runs with the same
whole-table columns (each array travels once), and the parts' results come back in
order. What couples the rows (claims settled against each other, odds read from every
search) is done here, on all the parts' results, as one machine does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

__all__ = ["Shards", "over_rows"]

_PER_WORKER = 2  # parts of a search per worker


class Shards(Protocol):
    """Where the engine's parts run (``reconcile(shards=...)``): ``count`` shards of the
    tables (sized to the workers' memory), ``workers`` that run at once, ``share(value)``
    a handle every shard's call may take as an argument (the same value shared twice
    gives the same handle while the cluster holds it), and ``map(fn, items, **shared)``
    the results of ``fn(*item, **shared)`` for every item, in order."""

    count: int
    workers: int

    def share(self, value: Any) -> Any: ...

    def map(self, fn: Callable[..., Any], items: list[tuple], **shared: Any) -> list: ...


def over_rows(shards: Shards | None, fn: Callable[..., Any], rows: np.ndarray, *,
              dealt: bool = False, **shared: Any) -> list:
    """``fn(part, **shared)`` for the parts of ``rows`` (cut in order, two per worker), in
    order; without shards, or with one worker, ``[fn(rows, **shared)]`` here.

    Each part searches among all of the other side's rows, whose sorting it repeats, so
    parts are few: two per worker even out parts of unequal cost (a busy month, a busy
    counterparty), and one worker gains nothing from shipping the search. Arrays and
    other values among ``shared`` travel once per reconciliation (``shards.share``);
    numbers and flags travel with the calls.

    With ``dealt``, the rows are dealt to the parts in turn (row ``k`` to part ``k`` modulo
    their number), each part keeping their order: for a search whose cost drifts along
    the rows (a ledger line late in the books has fewer months ahead of it to search),
    which cut in order would leave one part with most of the work. The caller then puts
    the parts' results back in the rows' order.

    Examples
    --------
    >>> over_rows(None, lambda rows, k: rows * k, np.arange(3), k=2)
    [array([0, 2, 4])]

    Two workers, their parts run here one after the other:

    >>> class Here:
    ...     count = workers = 2
    ...     def share(self, value): return value
    ...     def map(self, fn, items, **shared): return [fn(*it, **shared) for it in items]
    >>> over_rows(Here(), lambda rows: rows.tolist(), np.arange(6), dealt=True)
    [[0, 4], [1, 5], [2], [3]]
    """
    if shards is None or shards.workers <= 1 or len(rows) < 2:
        return [fn(rows, **shared)]
    n = _PER_WORKER * shards.workers
    parts = [rows[k::n] for k in range(n)] if dealt else np.array_split(rows, n)
    parts = [p for p in parts if len(p)]
    handles = {k: v if v is None or isinstance(v, bool | int | float | str)
               else shards.share(v) for k, v in shared.items()}
    return shards.map(fn, [(p,) for p in parts], **handles)
