"""What one audit test found: :class:`Examination`, the result every function of
:mod:`nexus_lab.examine` returns.

A result holds the test's name, the parameters it ran with (JSON values, so a
service can record them and replay the call exactly), named tables (the first is the
main one), a summary of plain values, the warnings the data raised, and a plot.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from nexus_lab._html import STATUS_COLORS, cluster_note, escape, frame, kv
from nexus_lab.errors import DependencyError, NexusError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["Examination", "ExamineWarning", "warn"]

_log = logging.getLogger("nexus_lab")

#: Verdict words and their badge colours (others are grey).
_VERDICT_COLORS = {"close": "ok", "acceptable": "ok", "clean": "ok", "pass": "ok",
                   "marginal": "overdue", "nonconformity": "failed", "findings": "failed",
                   "fail": "failed"}


class ExamineWarning(UserWarning):
    """The data allow a test to run but not to be trusted fully (too few rows, amounts
    left out...). The message names the test, what is wrong and the minimum needed."""


def warn(message: str, notes: list[str]) -> None:
    """Warn with :class:`ExamineWarning` and keep the message for the result."""
    warnings.warn(message, ExamineWarning, stacklevel=3)
    notes.append(message)


def _json_value(value: Any) -> Any:
    """``value`` as JSON (tuples as lists, numpy scalars as numbers, others as text)."""
    try:
        return json.loads(json.dumps(value, default=_default))
    except (TypeError, ValueError) as exc:  # pragma: no cover - _default covers the rest
        raise NexusError(f"parameter value {value!r} cannot be recorded as JSON") from exc


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


@dataclass(frozen=True, repr=False)
class Examination:
    """What one audit test found.

    Parameters
    ----------
    test : str
        The function that ran (``"benford"``, ``"duplicates"``...).
    params : dict
        The arguments it ran with, as JSON values: call
        ``getattr(nexus_lab.examine, test)(data, **params)`` to replay it.
    tables : dict of str to pandas.DataFrame
        Named results; the first is the main table (:meth:`to_frame`).
    facts : dict
        The summary's values (:meth:`summary`): counts, totals, statistics.
    verdict : str or None
        One word for the whole test (``"close"``, ``"nonconformity"``,
        ``"findings"``, ``"clean"``...), or None when the test gives none.
    notes : tuple of str
        The warnings the data raised (also issued as :class:`ExamineWarning`).
    plotter : callable, optional
        ``plotter(result, ax)`` draws the test's plot on a matplotlib ``Axes``.
    cluster : dict, optional
        Where the test ran on Dask (:func:`nexus_lab.scale.examine`): ``workers``,
        ``partitions``, ``dashboard``; shown in the notebook view, not part of the result
        (two results that differ only there are equal).

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import Examination
    >>> r = Examination("count", {"column": "x"}, {"counts": pd.DataFrame({"n": [3]})},
    ...                 {"rows": 3}, verdict="clean")
    >>> r.summary()["rows"], r.to_frame()["n"].tolist()
    (3, [3])
    """

    test: str
    params: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    facts: dict[str, Any]
    verdict: str | None = None
    notes: tuple[str, ...] = ()
    plotter: Callable[[Examination, Axes], None] | None = field(default=None, compare=False)
    cluster: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _json_value(dict(self.params)))
        object.__setattr__(self, "notes", tuple(self.notes))

    # -- tables and figures -------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The test, its verdict, its facts and its warnings as plain values."""
        return {"test": self.test, "verdict": self.verdict, **self.facts,
                "warnings": list(self.notes)}

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        """The main table, or the one named ``table``."""
        if not self.tables:
            return pd.DataFrame()
        if table is None:
            return next(iter(self.tables.values()))
        if table not in self.tables:
            raise KeyError(f"{self.test} has no table {table!r}; its tables are "
                           f"{', '.join(map(repr, self.tables))}")
        return self.tables[table]

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.to_frame(table)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in list(self.facts.items())[:4])
        verdict = f" {self.verdict}" if self.verdict else ""
        return f"<Examination {self.test}{verdict}: {shown}>"

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw the test's plot (matplotlib) on ``ax``, or on a new figure's axes."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - matplotlib comes with mlflow
            raise DependencyError("plots need matplotlib: pip install matplotlib") from exc
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3))
        if self.plotter is None:
            ax.text(0.5, 0.5, f"{self.test}: no plot", ha="center", va="center")
            ax.set_axis_off()
        else:
            self.plotter(self, ax)
        return ax

    def svg(self) -> str:
        """The plot as inline SVG text (empty when the test has no plot)."""
        if self.plotter is None:
            return ""
        try:
            from matplotlib.figure import Figure
        except ImportError:  # pragma: no cover
            return ""
        fig = Figure(figsize=(8, 3))
        self.plotter(self, fig.add_subplot())
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        text = buf.getvalue()
        return text[text.find("<svg"):]

    def _repr_html_(self) -> str:
        head = f"<h4 style='margin:4px 0'>{escape(self.test)}"
        if self.verdict:
            color = STATUS_COLORS.get(_VERDICT_COLORS.get(self.verdict, ""), "#5c6673")
            head += (f" <span style='background:{color};color:#fff;border-radius:3px;"
                     f"padding:1px 6px;font-size:85%'>{escape(self.verdict)}</span>")
        head += "</h4>"
        notes = "".join(f"<p style='color:#a8322d'>{escape(n)}</p>" for n in self.notes)
        facts = kv({k: v for k, v in self.facts.items() if not isinstance(v, (dict, list))})
        try:
            chart = self.svg()
        except Exception:  # a plot never hides the tables
            _log.warning("the plot of %s could not be drawn", self.test, exc_info=True)
            chart = ""
        tables = "".join(f"<h5 style='margin:6px 0 2px'>{escape(name)}</h5>{frame(df, limit=10)}"
                         for name, df in self.tables.items())
        where = cluster_note(self.cluster)
        return f"<div>{head}{where}{notes}{facts}{chart}{tables}</div>"


def params_of(local: Mapping[str, Any], *skip: str) -> dict[str, Any]:
    """The call's arguments from ``locals()`` without the data and ``skip``."""
    return {k: v for k, v in local.items() if k not in {"df", "gl", "events", *skip}
            and not k.startswith("_")}
