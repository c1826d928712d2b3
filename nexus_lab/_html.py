"""Small HTML pieces for notebook views (``_repr_html_``): a status badge, a table of
names and values, and a DataFrame as a table.

Every value is HTML-escaped. pandas is not imported here: :func:`frame` takes a
DataFrame the caller already has.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["STATUS_COLORS", "badge", "frame", "kv"]

#: Background colours of :func:`badge` by status word (others are grey).
STATUS_COLORS = {
    "open": "#1f4e79", "under_investigation": "#6d4c9f", "in_litigation": "#b25f00",
    "closed": "#2f6b3a", "archived": "#5c6673", "ok": "#2f6b3a", "failed": "#a8322d",
    "intact": "#2f6b3a", "done": "#2f6b3a", "overdue": "#a8322d",
}
_GREY = "#5c6673"


def badge(text: str) -> str:
    """A coloured label for a status (``_`` shown as spaces).

    Parameters
    ----------
    text : str
        The status; its colour comes from :data:`STATUS_COLORS` (grey when unknown).

    Returns
    -------
    str
        An HTML ``<span>``.

    Examples
    --------
    >>> badge("in_litigation")  # doctest: +ELLIPSIS
    "<span style='background:#b25f00;...'>in litigation</span>"
    """
    color = STATUS_COLORS.get(text, _GREY)
    return (f"<span style='background:{color};color:#fff;border-radius:3px;padding:1px 6px;"
            f"font-size:85%'>{html.escape(text.replace('_', ' '))}</span>")


def kv(pairs: Mapping[str, Any], *, code: bool = False) -> str:
    """A two-column table of names and values (both escaped).

    Parameters
    ----------
    pairs : mapping
        Names and values; a value is shown as ``str(value)``.
    code : bool, default False
        Show the values in a monospaced ``<code>`` element (hashes, addresses).

    Returns
    -------
    str
        An HTML ``<table>``.

    Examples
    --------
    >>> kv({"cases": 2, "signer": "<room>"})  # doctest: +ELLIPSIS
    "<table><tr><th ...>cases</th><td>2</td></tr><tr><th ...>signer</th><td>&lt;room&gt;</td></tr></table>"
    """  # noqa: E501
    def cell(value: Any) -> str:
        text = html.escape(str(value))
        return f"<code>{text}</code>" if code else text

    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{html.escape(str(k))}</th>"
        f"<td>{cell(v)}</td></tr>" for k, v in pairs.items()
    )
    return f"<table>{rows}</table>"


def frame(df: pd.DataFrame, *, limit: int = 20, empty: str = "none") -> str:
    """A DataFrame as an escaped HTML table of its first ``limit`` rows.

    Parameters
    ----------
    df : pandas.DataFrame
    limit : int, default 20
        Rows shown; a note says how many more there are.
    empty : str, default "none"
        What to show (in italics) when ``df`` has no rows.

    Returns
    -------
    str
        An HTML ``<table>`` (without the index), or a ``<p>`` when ``df`` is empty.

    Examples
    --------
    >>> import pandas as pd
    >>> frame(pd.DataFrame({"id": ["E-1", "E-2", "E-3"]}), limit=2)  # doctest: +ELLIPSIS
    '<table ...E-1...E-2...</table><p><i>1 more rows: use the DataFrame</i></p>'
    >>> frame(pd.DataFrame({"id": []}), empty="no evidence yet")
    '<p><i>no evidence yet</i></p>'
    """
    if df.empty:
        return f"<p><i>{html.escape(empty)}</i></p>"
    more = (f"<p><i>{len(df) - limit} more rows: use the DataFrame</i></p>"
            if len(df) > limit else "")
    return df.head(limit).to_html(index=False, border=0, escape=True) + more
