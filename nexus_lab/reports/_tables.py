"""A report's content as data: sections of typed tables, key figures and bar charts.

The same :class:`Document` is rendered to HTML (and from it PDF), Excel and CSV, so
every format shows the same values; masking happens once, on the tables, before any
of them is rendered.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nexus_lab.frames import cents_text
from nexus_lab.reports._mask import mask_column, mask_value

EMPTY = "Nothing in this period."

#: How a column's values are shown: css class of the HTML cell, Excel number format.
KINDS = {
    "text": ("", None), "id": ("id", None), "account": ("id acct", None),
    "hash": ("hash", None), "list": ("", None),
    "money": ("n", "#,##0.00;[Red]-#,##0.00"), "int": ("n", "#,##0"),
    "pct": ("n", "0.0%"), "score": ("n", "0.0"), "number": ("n", "#,##0.####"),
    "date": ("d", "yyyy-mm-dd"),
    "datetime": ("d", "yyyy-mm-dd hh:mm"),
}
#: The kinds written as text (in a spreadsheet: strings, neutralized against formulas).
TEXT_KINDS = ("text", "id", "account", "hash", "list")


@dataclass(frozen=True)
class Col:
    """One column: the frame's ``key``, its heading, its kind (:data:`KINDS`) and the
    masking rule of its values (a class of :mod:`nexus_lab.reports._mask`), if any."""

    key: str
    label: str
    kind: str = "text"
    mask: str | None = None

    @property
    def css(self) -> str:
        return KINDS[self.kind][0]


@dataclass
class Table:
    """A section of a report: a title, a note, and a typed table (empty: ``empty``)."""

    key: str
    title: str
    cols: list[Col]
    frame: pd.DataFrame
    note: str = ""
    empty: str = EMPTY
    footer: dict[str, Any] | None = None
    wide: bool = False
    detail: str | None = None  # a column shown in HTML as a full-width line under its row

    def masked(self, role: str) -> Table:
        """The table as ``role`` may read it."""
        frame = self.frame.copy()
        for c in self.cols:
            if c.mask and c.key in frame:
                frame[c.key] = mask_column(frame[c.key].astype(object), c.mask, role)
        footer = dict(self.footer) if self.footer else None
        if footer:
            for c in self.cols:
                if c.mask and c.key in footer:
                    footer[c.key] = mask_value(footer[c.key], c.mask, role)
        return Table(self.key, self.title, self.cols, frame, self.note, self.empty, footer,
                     self.wide, self.detail)

    @property
    def is_empty(self) -> bool:
        return len(self.frame) == 0

    @property
    def head(self) -> list[Col]:
        """The columns of the HTML table (all but :attr:`detail`)."""
        return [c for c in self.cols if c.key != self.detail]

    def _values(self, c: Col) -> list[object]:
        return self.frame[c.key].tolist() if c.key in self.frame else [None] * len(self.frame)

    def cells(self) -> list[tuple[list[tuple[str, str]], str]]:
        """The rows as ``(text, css class)`` cells and the row's detail line, for HTML."""
        columns = [(self._values(c), c) for c in self.head]
        extra = next((c for c in self.cols if c.key == self.detail), None)
        details = ([show(v, extra.kind) for v in self._values(extra)] if extra else
                   [""] * len(self.frame))
        return [([(show(values[i], c.kind), c.css) for values, c in columns], details[i])
                for i in range(len(self.frame))]

    def footer_cells(self) -> list[tuple[str, str]]:
        foot = self.footer or {}
        return [(show(foot.get(c.key), c.kind), c.css) for c in self.head]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str


@dataclass(frozen=True)
class Chart:
    """A bar chart drawn as inline SVG: ``columns`` (upright, for periods) or ``rows``
    (sideways, for categories)."""

    key: str
    title: str
    bars: tuple[Bar, ...]
    shape: str = "rows"
    scale: float | None = None  # the value of a full bar (default: the largest)

    @property
    def peak(self) -> float:
        return self.scale or max((abs(b.value) for b in self.bars), default=0.0) or 1.0

    def geometry(self) -> dict[str, Any]:
        """Sizes and positions of the bars, for the template to draw."""
        n = max(len(self.bars), 1)
        if self.shape == "columns":
            width, height, base, top = 520, 200, 160, 22
            slot = (width - 20) / n
            out = []
            for k, b in enumerate(self.bars):
                h = (base - top) * abs(b.value) / self.peak
                x = 10 + k * slot + slot * 0.18
                out.append({"x": round(x, 1), "y": round(base - h, 1),
                            "w": round(slot * 0.64, 1), "h": round(max(h, 0.5), 1),
                            "cx": round(x + slot * 0.32, 1), "bar": b})
            return {"width": width, "height": height, "base": base, "bars": out}
        row, left, width = 22, 190, 520
        out = []
        for k, b in enumerate(self.bars):
            w = (width - left - 90) * abs(b.value) / self.peak
            out.append({"y": 6 + k * row, "w": round(max(w, 0.5), 1), "ty": 6 + k * row + 12,
                        "tx": round(left + max(w, 0.5) + 6, 1), "bar": b})
        return {"width": width, "height": 12 + n * row, "left": left, "bars": out}


@dataclass
class Document:
    """What a report says: title, key figures, facts, tables and charts by key."""

    kind: str
    title: str
    scope: str
    kpis: list[tuple[str, str]] = field(default_factory=list)
    facts: list[tuple[str, Any, str | None]] = field(default_factory=list)  # rule or None
    tables: dict[str, Table] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    verdict: tuple[bool, str, str] | None = None  # (ok, headline, detail)

    def add(self, table: Table) -> None:
        self.tables[table.key] = table

    def masked(self, role: str) -> Document:
        """The document as ``role`` may read it."""
        facts = [(k, mask_value(v, rule, role) if rule else v, None) for k, v, rule in self.facts]
        return Document(self.kind, self.title, self.scope, list(self.kpis), facts,
                        {k: t.masked(role) for k, t in self.tables.items()},
                        dict(self.charts), self.verdict)


def missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, list | tuple) else False
    except (TypeError, ValueError):
        return False


def money(cents: object) -> str:
    """Integer cents as ``-1,234.56``, exactly (no float)."""
    return cents_text(cents) if not missing(cents) else ""


def number(value: object) -> str:
    """A measurement as text: grouped, at most four decimals, no trailing zeros
    (``1,234.5``, ``0.0301``, ``-2``).

    Examples
    --------
    >>> number(1234.5), number(0.030103), number(-2.0), number(float("inf"))
    ('1,234.5', '0.0301', '-2', 'inf')
    """
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        return str(x)
    text = f"{x:,.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimal(cents: object) -> str:
    """Integer cents as ``-1234.56`` (for CSV), exactly."""
    return money(cents).replace(",", "")


def stamp(value: object, kind: str) -> _dt.datetime | None:
    """A date or time as a timezone-free datetime (times in UTC), or None."""
    if missing(value):
        return None
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize().to_pydatetime() if kind == "date" else ts.to_pydatetime()


def show(value: object, kind: str) -> str:
    """A value as the HTML report shows it."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if missing(value):
        return ""
    if kind == "money":
        return money(value)
    if kind == "int":
        return f"{int(value):,}"  # type: ignore[call-overload]
    if kind == "pct":
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if kind == "score":
        return f"{float(value):.1f}"  # type: ignore[arg-type]
    if kind == "number":
        return number(value)
    if kind in ("date", "datetime"):
        ts = stamp(value, kind)
        return ts.strftime("%Y-%m-%d" if kind == "date" else "%Y-%m-%d %H:%M") if ts else ""
    if kind == "hash":
        text = str(value)
        return text if len(text) <= 20 else text[:16] + "…"
    return str(value)


def flat(value: object, kind: str) -> object:
    """A value as a CSV cell: money exact in currency units, dates ISO, lists joined."""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if missing(value):
        return None
    if kind == "money":
        return decimal(value)
    if kind in ("date", "datetime"):
        ts = stamp(value, kind)
        return ts.date().isoformat() if kind == "date" else ts.isoformat(sep=" ")  # type: ignore[union-attr]
    if kind == "int":
        return int(value)  # type: ignore[call-overload]
    if kind in ("pct", "score", "number"):
        return float(value)  # type: ignore[arg-type]
    return str(value)
