"""Bokeh charts the overview, models and quality dashboards draw: a line over periods,
bars with their values written on them, and a note where there is nothing to draw.

Every chart carries a ``name`` (``nx-plot-...``) so a test finds it among the page's
Bokeh models, and the values it shows in its data source.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import panel as pn

from nexus_lab.dashboards._layout import html_pane

__all__ = ["bars", "columns", "line", "nothing"]

_FONT = "12px"


def _figure(title: str, name: str, height: int, **options: Any) -> Any:
    from bokeh.plotting import figure

    fig = figure(title=title, name=name, height=height, toolbar_location=None,
                 sizing_mode="stretch_width", **options)
    fig.title.text_font_size = "14px"
    fig.xaxis.major_label_text_font_size = _FONT
    fig.yaxis.major_label_text_font_size = _FONT
    fig.outline_line_color = None
    return fig


def line(labels: Sequence[str], values: Sequence[float | None], title: str, color: str, *,
         name: str, percent: bool = False, height: int = 260) -> Any:
    """A line with a marker per point over categorical ``labels`` (periods, months), its
    value shown on hover; ``percent`` shows shares (0-1) as percentages."""
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter

    names = [str(x) for x in labels]
    ys = [float("nan") if v is None else float(v) for v in values]
    text = [("–" if y != y else f"{100 * y:.1f}%" if percent else f"{y:,.0f}") for y in ys]
    source = ColumnDataSource({"label": names, "value": ys, "text": text})
    fig = _figure(title, name, height, x_range=names)
    fig.line(x="label", y="value", source=source, line_width=2.5, color=color)
    fig.scatter(x="label", y="value", source=source, size=9, color=color)
    fig.add_tools(HoverTool(tooltips=[("", "@label"), ("", "@text")]))
    if percent:
        fig.yaxis.formatter = NumeralTickFormatter(format="0%")
        finite = [y for y in ys if y == y]
        low = min(finite) if finite else 0.0
        fig.y_range.start = max(0.0, min(low - 0.05, 0.9))
        fig.y_range.end = 1.01
    fig.xaxis.major_label_orientation = 0.6 if len(names) > 6 else 0.0
    fig.xgrid.grid_line_color = None
    return fig


def _text_source(labels: Sequence[str], values: Sequence[float],
                 text: Sequence[str] | None) -> Any:
    from bokeh.models import ColumnDataSource

    names = [str(x) for x in labels]
    vals = [float(v) for v in values]
    shown = list(text) if text is not None else [f"{v:,.0f}" for v in vals]
    return names, vals, ColumnDataSource({"label": names, "value": vals, "text": shown})


def columns(labels: Sequence[str], values: Sequence[float], title: str, color: str, *,
            name: str, text: Sequence[str] | None = None, height: int = 260) -> Any:
    """Vertical bars in the order given, each with its value (or ``text``) above it."""
    from bokeh.models import LabelSet

    names, vals, source = _text_source(labels, values, text)
    fig = _figure(title, name, height, x_range=names)
    fig.vbar(x="label", top="value", width=0.7, color=color, source=source)
    fig.add_layout(LabelSet(x="label", y="value", text="text", source=source,
                            text_align="center", y_offset=4, text_font_size=_FONT))
    top = max(vals, default=0.0)
    fig.y_range.start = 0
    fig.y_range.end = top * 1.18 if top > 0 else 1
    fig.xaxis.major_label_orientation = 0.6 if len(names) > 8 else 0.0
    fig.xgrid.grid_line_color = None
    return fig


def bars(labels: Sequence[str], values: Sequence[float], title: str, color: str, *,
         name: str, text: Sequence[str] | None = None, height: int | None = None) -> Any:
    """Horizontal bars, the first on top, each with its value (or ``text``) beside it."""
    from bokeh.models import LabelSet

    names, vals, source = _text_source(labels, values, text)
    fig = _figure(title, name, height or max(160, 70 + 34 * len(names)),
                  y_range=list(reversed(names)))
    fig.hbar(y="label", right="value", height=0.7, color=color, source=source)
    fig.add_layout(LabelSet(x="value", y="label", text="text", source=source, x_offset=6,
                            y_offset=-7, text_font_size=_FONT))
    top = max(vals, default=0.0)
    fig.x_range.start = 0
    fig.x_range.end = top * 1.35 if top > 0 else 1  # room for the text beside the bar
    fig.ygrid.grid_line_color = None
    fig.xaxis.visible = False  # the values are written on the bars
    return fig


def nothing(title: str, message: str, height: int = 120) -> pn.pane.HTML:
    """A chart's place when there is nothing to draw: its title and why."""
    return html_pane(f"<div style='font-weight:600;font-size:14px'>{html.escape(title)}</div>"
                     f"<div class='nx-muted' style='margin-top:8px'>{html.escape(message)}"
                     "</div>",
                     height=height, sizing_mode="stretch_width", margin=(5, 10))
