"""A fitted model shipped once to every worker as its state, rebuilt there once."""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# rebuilt models kept per worker process, keyed by a digest of the state: a job's tasks
# rebuild its model once per worker, and a later job with the same model finds it rebuilt
_KEEP = 4
_rebuilt: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def ship(client: Any, state: Any) -> tuple[Any, str]:
    """The state put on the cluster once (:func:`keep`), and a digest of it: the digest
    is the same for equal states, so that a worker rebuilds a model once."""
    from dask.base import tokenize

    return keep(client, [state])[0], tokenize(state)


def keep(client: Any, values: list[Any]) -> list[Any]:
    """Futures of ``values``, each the result of a task that returns it.

    A task's result survives the loss of its worker: the scheduler runs the task again
    elsewhere. Scattered data would not: Dask keeps a single copy of it (its active
    memory manager drops the copies a broadcast makes), and a job whose worker dies
    with it fails. Each future's key is new (two calls must not share a key: the first
    one's release would drop the second one's data).
    """
    with warnings.catch_warnings():  # the values travel once, with their tasks
        warnings.filterwarnings("ignore", message="Sending large graph")
        return [client.submit(_same, v, pure=False) for v in values]


def _same(value: Any) -> Any:
    return value


def rebuilt(key: str, state: Any, build: Callable[[Any], Any]) -> Any:
    """The model ``build(state)``, built once per worker process and ``key``."""
    with _lock:
        model = _rebuilt.get(key)
        if model is None:
            model = build(state)
            _rebuilt[key] = model
            while len(_rebuilt) > _KEEP:
                _rebuilt.popitem(last=False)
        else:
            _rebuilt.move_to_end(key)
        return model
