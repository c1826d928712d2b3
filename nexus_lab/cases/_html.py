"""Small HTML pieces for the notebook views of cases, evidence and reports."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["badge", "frame", "kv"]

_COLORS = {
    "open": "#1f4e79", "under_investigation": "#6d4c9f", "in_litigation": "#b25f00",
    "closed": "#2f6b3a", "archived": "#5c6673", "ok": "#2f6b3a", "failed": "#a8322d",
    "intact": "#2f6b3a", "done": "#2f6b3a", "overdue": "#a8322d",
}


def badge(text: str) -> str:
    """A coloured label for a status."""
    color = _COLORS.get(text, "#5c6673")
    return (f"<span style='background:{color};color:#fff;border-radius:3px;padding:1px 6px;"
            f"font-size:85%'>{html.escape(text.replace('_', ' '))}</span>")


def kv(pairs: Mapping[str, Any]) -> str:
    """A two-column table of names and values (escaped)."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{html.escape(str(k))}</th>"
        f"<td>{html.escape(str(v))}</td></tr>" for k, v in pairs.items()
    )
    return f"<table>{rows}</table>"


def frame(df: pd.DataFrame, *, limit: int = 20, empty: str = "none") -> str:
    """A DataFrame as an escaped HTML table (its first ``limit`` rows)."""
    if df.empty:
        return f"<p><i>{html.escape(empty)}</i></p>"
    more = (f"<p><i>{len(df) - limit} more rows: use the DataFrame</i></p>"
            if len(df) > limit else "")
    return df.head(limit).to_html(index=False, border=0, escape=True) + more
