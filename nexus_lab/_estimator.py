"""scikit-learn's estimator contract, once for every estimator: parameters, fitted checks, state.

- :class:`Params`: ``get_params``, ``set_params`` and a ``repr``, read from the constructor.
- :func:`check_is_fitted`: the one test of "was ``fit`` called", raising
  :class:`~nexus_lab.errors.NotFittedError`.
- :func:`json_value` and :func:`state_class`: what the estimators' ``to_state`` /
  ``from_state`` share (plain JSON leaves; the class a state names, refused unless it is
  one of the package's own).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from typing import Any

from nexus_lab.errors import IntegrityError, NexusError, NotFittedError

__all__ = ["Params", "check_is_fitted", "json_value", "state_class"]


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


def _fitted_names(estimator: object) -> list[str]:
    """The learned attributes: public names ending in ``_`` (set by ``fit``)."""
    return [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]


def check_is_fitted(estimator: object, attributes: str | Iterable[str] | None = None, *,
                    fit_call: str = "fit") -> None:
    """Refuse an estimator that is not fitted yet.

    Parameters
    ----------
    estimator : object
        The estimator to check.
    attributes : str or iterable of str, optional
        Learned attributes that must all be set. By default (as scikit-learn's
        ``check_is_fitted``) the estimator counts as fitted when it has any public
        attribute ending in ``_``: ``fit`` sets those, the constructor never does.
    fit_call : str
        The call the message asks for, e.g. ``"fit(history)"``.

    Raises
    ------
    NotFittedError
        Naming the class and the call to make first.

    Examples
    --------
    >>> from nexus_lab.errors import NotFittedError
    >>> class Model:
    ...     def fit(self):
    ...         self.coef_ = 1.0
    ...         return self
    >>> try:
    ...     check_is_fitted(Model(), fit_call="fit()")
    ... except NotFittedError as err:
    ...     print(err)
    this Model is not fitted yet: call fit() first
    >>> check_is_fitted(Model().fit())
    """
    if attributes is None:
        fitted = bool(_fitted_names(estimator))
    else:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        fitted = all(name in vars(estimator) for name in names)
    if not fitted:
        raise NotFittedError(f"this {type(estimator).__name__} is not fitted yet: call "
                             f"{fit_call} first")


def _json_number(value: object) -> object:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_value(value: object, name: str = "value") -> Any:
    """``value`` as JSON reads it back: tuples become lists, NumPy scalars numbers, keys text.

    A state's JSON leaves go through here, so a state kept in memory and one written to a
    file and read back give the same estimator.

    Raises
    ------
    NexusError
        When ``value`` holds something JSON cannot (an array, an object); ``name`` says
        which attribute.

    Examples
    --------
    >>> import numpy as np
    >>> json_value({"w": (1, np.float64(0.5)), 3: "x"})
    {'w': [1, 0.5], '3': 'x'}
    """
    try:
        return json.loads(json.dumps(value, default=_json_number))
    except (TypeError, ValueError) as exc:
        raise NexusError(f"{name} cannot be kept in a state as JSON ({exc}); keep it as an "
                         "array, a frame or JSON values") from None


def state_class(state: object, base: type, what: str) -> type:
    """The class a state names: ``base`` or one of its public subclasses in ``base``'s package.

    Only classes with a constructor count (an estimator stores its parameters there;
    ``object.__init__`` does not), so abstract bases such as ``Codec`` are never built.

    Parameters
    ----------
    state : mapping
        A state, with the class name under ``"class"``.
    base : type
        The class ``from_state`` was called on.
    what : str
        What the classes are, for the message (``"codec"``, ``"recommender"``).

    Raises
    ------
    IntegrityError
        When the state is not a mapping, or names another class: a state from elsewhere
        is refused rather than trusted.

    Examples
    --------
    >>> class Base: ...
    >>> class Child(Base):
    ...     def __init__(self, alpha=1.0):
    ...         self.alpha = alpha
    >>> state_class({"class": "Child"}, Base, "model").__name__
    'Child'
    """
    name = state.get("class") if isinstance(state, dict) else None
    package = base.__module__.rpartition(".")[0] or base.__module__
    found: dict[str, type] = {}
    todo = [base]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # an estimator stores its parameters in a constructor: bases without one are skipped
        inside = cls.__module__ == package or cls.__module__.startswith(f"{package}.")
        if inside and not cls.__name__.startswith("_") and cls.__init__ is not object.__init__:
            found.setdefault(cls.__name__, cls)
    if not isinstance(name, str) or name not in found:
        raise IntegrityError(f"the state names the class {name!r}, which is not a NEXUS Lab "
                             f"{what} (those are {', '.join(sorted(found))}); it is refused")
    return found[name]
