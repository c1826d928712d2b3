"""A fitted model shipped once to every worker as its state, rebuilt there once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

# rebuilt models kept per worker process, keyed by a digest of the state: a job's tasks
# rebuild its model once per worker, and a later job with the same model finds it rebuilt
_KEEP = 4
_rebuilt: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def ship(client: Any, state: Any) -> tuple[Any, str]:
    """The state scattered to every worker once, and a digest of it.

    The future's key is new for every call (two calls shipping one state must not
    share a key: the first one's release would drop the second one's data); the
    digest is the same for equal states, so that a worker rebuilds a model once.
    """
    from dask.base import tokenize

    return client.scatter([state], broadcast=True, hash=False)[0], tokenize(state)


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
