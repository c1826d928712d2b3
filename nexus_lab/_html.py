"""Small HTML pieces for notebook views (``_repr_html_``): a status badge, a table of
names and values, and a DataFrame as a table.

Every value is HTML-escaped with :func:`escape`, which also shows the characters
that change the direction of text as visible markers. pandas is not imported here:
:func:`frame` takes a DataFrame the caller already has.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["BIDI_CONTROLS", "DASHBOARD_LINK_TEXT", "STATUS_COLORS", "badge", "cluster_note",
           "escape", "frame", "kv", "visible"]

#: Characters that reorder the text around them (embeddings, overrides, isolates,
#: marks): "\u202eevil" shows as "live". Reports show them as ``[U+202E]``.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                          "\u200e\u200f\u061c")
_VISIBLE = str.maketrans({c: f"[U+{ord(c):04X}]" for c in BIDI_CONTROLS})


def visible(text: str) -> str:
    """``text`` with each bidirectional control character replaced by ``[U+XXXX]``.

    Examples
    --------
    >>> visible("invoice \u202eevil")
    'invoice [U+202E]evil'
    """
    return text.translate(_VISIBLE)


def escape(value: object) -> str:
    """``str(value)`` escaped for HTML text and attribute values, with bidirectional
    controls shown as ``[U+XXXX]`` instead of obeyed.

    Parameters
    ----------
    value : object
        Anything; it is shown as ``str(value)``.

    Returns
    -------
    str

    Examples
    --------
    >>> escape("<b>\u202eevil</b>")
    '&lt;b&gt;[U+202E]evil&lt;/b&gt;'
    """
    return html.escape(visible(str(value)), quote=True)

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
            f"font-size:85%'>{escape(text.replace('_', ' '))}</span>")


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
        text = escape(value)
        return f"<code>{text}</code>" if code else text

    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:12px'>{escape(k)}</th>"
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
    >>> "[U+202E]evil" in frame(pd.DataFrame({"note": ["\u202eevil"]}))
    True
    >>> frame(pd.DataFrame({"id": []}), empty="no evidence yet")
    '<p><i>no evidence yet</i></p>'
    """
    if df.empty:
        return f"<p><i>{escape(empty)}</i></p>"
    more = (f"<p><i>{len(df) - limit} more rows: use the DataFrame</i></p>"
            if len(df) > limit else "")
    head = df.head(limit)
    head = head.set_axis([visible(c) if isinstance(c, str) else c for c in head.columns],
                         axis=1)
    head = head.map(lambda v: visible(v) if isinstance(v, str) else v)
    return head.to_html(index=False, border=0, escape=True) + more


#: The words of a link to a Dask dashboard: it is gone once its cluster closes.
DASHBOARD_LINK_TEXT = "Dask dashboard (live while the cluster runs)"


def cluster_note(info: Mapping[str, Any] | None) -> str:
    """One line saying where a result was computed on Dask (workers, partitions) with a
    link to the Dask dashboard, or ``""`` for a result of one machine.

    ``info`` is what :mod:`nexus_lab.scale` keeps with a result (``attrs["dask"]`` of a
    frame, ``params["dask"]`` of a result): ``workers``, ``partitions``, ``dashboard``.
    The link says that the dashboard lives only as long as its cluster: a local cluster
    of one job is closed when the job ends. Only an ``http(s)`` address becomes a link.

    Examples
    --------
    >>> note = cluster_note({"workers": 2, "partitions": 8,
    ...                      "dashboard": "http://h:8787/status"})
    >>> note.split(" · ")[0]
    "<p class='nexus-dask'>Computed on Dask: 2 workers, 8 partitions"
    >>> "href='http://h:8787/status'" in note
    True
    >>> "Dask dashboard (live while the cluster runs)</a>" in note
    True
    >>> cluster_note({"workers": 1, "partitions": 1, "dashboard": None})
    "<p class='nexus-dask'>Computed on Dask: 1 worker, 1 partition</p>"
    >>> cluster_note(None)
    ''
    """
    if not isinstance(info, Mapping) or not info:
        return ""
    parts = []
    for key in ("workers", "partitions"):
        try:
            n = int(info.get(key) or 0)
        except (TypeError, ValueError):  # not a count: left out, the view never fails
            continue
        if n > 0:
            parts.append(f"{n:,} {key if n != 1 else key[:-1]}")
    text = f"Computed on Dask: {', '.join(parts)}" if parts else "Computed on Dask"
    link = str(info.get("dashboard") or "")
    if link.startswith(("http://", "https://")):
        sep = " · " if parts else ": "
        return (f"<p class='nexus-dask'>{escape(text)}{sep}<a href='{escape(link)}' "
                f"target='_blank' rel='noopener noreferrer'>{DASHBOARD_LINK_TEXT}</a></p>")
    return f"<p class='nexus-dask'>{escape(text)}</p>"
