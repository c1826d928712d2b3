"""scikit-learn's parameter contract, read from the constructor: one for every estimator."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Params"]


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays, tensors
        return a is b


class Params:
    """``get_params``, ``set_params`` and a ``repr`` of the changed parameters.

    The parameters are the constructor's arguments, stored under the same names (as
    scikit-learn asks of ``__init__``).
    """

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        sig = inspect.signature(cls.__init__)
        return {name: p.default for name, p in sig.parameters.items() if name != "self"}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._param_defaults()}

    def set_params(self, **params: Any) -> Any:
        names = list(self._param_defaults())
        for k, v in params.items():
            if k not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}; it has {names}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        changed = {k: v for k, v in self.get_params().items() if not _same(v, defaults[k])}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
