"""What every dashboard shares: the page, figures, a table paged by the server, money."""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import __version__, auth
from nexus_lab.dashboards._catalog import DASHBOARDS
from nexus_lab.dashboards._session import LoginRequired, Session
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.frames import cents_text

__all__ = ["CSS", "PagedTable", "bar_chart", "figure", "guarded", "html_pane", "money", "page",
           "report_card"]

CSS = """
:host, body { font-family: "Inter", "Segoe UI", "Helvetica Neue", Arial, sans-serif; }
.nx-figure { border: 1px solid #d9dee7; border-radius: 8px; padding: 10px 16px;
             background: #fff; min-width: 160px; }
.nx-figure .nx-label { color: #5b6577; font-size: 12px; text-transform: uppercase;
                       letter-spacing: .04em; }
.nx-figure .nx-value { font-size: 26px; font-weight: 600; color: #111827; }
.nx-figure .nx-note { color: #5b6577; font-size: 12px; }
.nx-pass { color: #166534; font-weight: 600; } .nx-fail { color: #b91c1c; font-weight: 600; }
.nx-muted { color: #5b6577; }
"""


def html_pane(text: str, **options: Any) -> pn.pane.HTML:
    """An HTML pane that knows the dashboards' classes (``nx-pass``, ``nx-muted``...)."""
    return pn.pane.HTML(text, stylesheets=[CSS], **options)


def money(cents: Any) -> str:
    """Integer cents as text: ``-1234567`` → ``-12,345.67``."""
    return cents_text(cents)


def figure(label: str, value: Any, note: str = "") -> pn.pane.HTML:
    """One headline figure (a card: label, value, a note under it)."""
    return pn.pane.HTML(
        f'<div class="nx-figure"><div class="nx-label">{html.escape(label)}</div>'
        f'<div class="nx-value">{html.escape(str(value))}</div>'
        f'<div class="nx-note">{html.escape(note)}</div></div>', margin=(0, 10, 10, 0),
        stylesheets=[CSS])


def _short(where: str, keep: int = 40) -> str:
    return where if len(where) <= keep else "…" + where[-keep:]


def _header(session: Session, current: str) -> pn.pane.HTML:
    links = " · ".join(
        f'<a href="./{d.name}" style="color:#fff;'
        f'{"font-weight:700;" if d.name == current else "opacity:.85;"}">'
        f"{html.escape(d.title)}</a>" for d in session.dashboards())
    roles = ", ".join(session.roles) or "no role"
    return pn.pane.HTML(
        f'<div style="color:#fff;font-size:13px;display:flex;gap:18px;align-items:center;">'
        f"<span>{links}</span><span style='opacity:.8'>|</span>"
        f'<span data-nx="whoami">{html.escape(session.user)} ({html.escape(roles)})</span>'
        f'<span style="opacity:.8" title="{html.escape(session.where)}">'
        f"{html.escape(_short(session.where))}</span>"
        f'<a href="./logout" style="color:#fff;">Sign out</a></div>',
        sizing_mode="stretch_width")


def page(session: Session, name: str, main: Sequence[Any], sidebar: Sequence[Any] = ()
         ) -> pn.template.BootstrapTemplate:
    """The page of dashboard ``name``: one template and look for every dashboard, coloured
    by the user's point of view (the seeds' four themes)."""
    pn.config.notifications = True
    title = DASHBOARDS[name].title if name in DASHBOARDS else "Home"
    # Bootstrap's look is served by the server itself: no font or script from elsewhere
    template = pn.template.BootstrapTemplate(
        title=f"NEXUS Lab · {title}", header_background=session.header,
        header_color="#ffffff", sidebar_width=300, main_max_width="1500px", raw_css=[CSS],
        meta_description=f"NEXUS Lab {__version__}")
    template.header.append(_header(session, name))
    for item in sidebar:
        if isinstance(item, pn.widgets.Widget):
            item.sizing_mode = "stretch_width"
        template.sidebar.append(item)
    for item in main:
        template.main.append(item)
    return template


def guarded(name: str, build: Callable[[Session], tuple[Sequence[Any], Sequence[Any]]]
            ) -> Any:
    """Build dashboard ``name`` for the signed-in user, or a page saying why not.

    ``build(session)`` returns ``(main, sidebar)``. Without a signed-in user nothing of the
    dashboard is built (served without a login, the page says how to serve it); a user
    without the dashboard's permission gets the refusal, which the service recorded.
    """
    try:
        session = Session.current()
    except LoginRequired as err:
        return pn.pane.Markdown(f"## Sign in required\n\n{err}")
    spec = DASHBOARDS.get(name)
    if spec is not None and not session.can(*spec.permission):
        with contextlib.suppress(PermissionDenied):  # the refusal is recorded
            session.read(auth.require, spec.permission, resource=f"dashboards/{name}")
        return page(session, name, [pn.pane.Alert(
            f"**{html.escape(session.user)}** ({', '.join(session.roles) or 'no role'}) may "
            f"not open {spec.title}: it needs {' or '.join(spec.permission)}. "
            f"[Go to your dashboard](./{session.home})", alert_type="warning")])
    try:
        main, sidebar = build(session)
    except PermissionDenied as err:
        main, sidebar = [pn.pane.Alert(f"Refused: {html.escape(str(err))}",
                                       alert_type="danger")], []
    except NexusError as err:
        main, sidebar = [pn.pane.Alert(html.escape(str(err)), alert_type="warning")], []
    return page(session, name, main, sidebar)


def bar_chart(frame: pd.DataFrame, label: str, value: str, title: str, color: str,
              height: int = 240) -> Any:
    """A horizontal Bokeh bar chart of ``frame[value]`` by ``frame[label]``, first on top."""
    names = [str(x) for x in frame[label]] if len(frame) else ["(none)"]
    values = [float(x) for x in frame[value]] if len(frame) else [0.0]
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure as bokeh_figure

    fig = bokeh_figure(y_range=list(reversed(names)), height=height, title=title,
                       toolbar_location=None, sizing_mode="stretch_width")
    fig.hbar(y="name", right="value", height=0.7, color=color,
             source=ColumnDataSource({"name": names, "value": values}))
    fig.x_range.start = min(0.0, min(values))
    fig.ygrid.grid_line_color = None
    return fig


_KIND_TITLES = {"reconciliation": "Reconciliation report", "fraud": "Fraud findings",
                "case": "Case report", "executive": "Executive summary",
                "audit_trail": "Audit trail"}


def report_card(session: Session, kind: str,
                context: Callable[[], dict[str, Any]] = dict) -> pn.Card:
    """The "signed report" card of a dashboard: render, sign and download a report.

    The report is :func:`nexus_lab.reports.make_report`'s, made as the signed-in user (as
    one of their roles, which masks what that role may not read), recorded in the store
    and the audit log; the signature and the signer's public key download beside it.
    ``context()`` gives the report's subject when the dashboard has one selected
    (``run_id=``, ``case_id=``).
    """
    from nexus_lab.reports import REPORT_KINDS, make_report

    usable = [k for k, needs in REPORT_KINDS.items() if session.can(*needs)]
    what = pn.widgets.Select(name="Report", value=kind if kind in usable else
                             (usable[0] if usable else None),
                             options={_KIND_TITLES.get(k, k): k for k in usable})
    role = pn.widgets.Select(name="As", options=session.roles or ["(any)"],
                             value=session.role or (session.roles or ["(any)"])[0])
    fmt = pn.widgets.Select(name="Format", options={"PDF": "pdf", "Web page (HTML)": "html",
                                                    "Excel": "xlsx", "CSV (zip)": "csv"})
    period = pn.widgets.TextInput(name="Period", placeholder="all, or 2025-11, 2025-Q4, 2025")
    sig = pn.widgets.FileDownload(label="Signature (.sig)", visible=False, embed=False,
                                  button_type="light", filename="report.sig")
    pub = pn.widgets.FileDownload(label="Signer's public key", visible=False, embed=False,
                                  button_type="light", filename="signer.nxpub")
    note = html_pane("", css_classes=["nx-muted"])

    def make() -> Any:
        subject = context() if what.value == kind else {}
        made = session.act(make_report, what.value, role=role.value, fmt=fmt.value,
                           period=period.value.strip() or None, **subject,
                           done="Report signed and recorded.")
        if made is None:
            return None
        report.filename = made.path.name
        sig.file, sig.filename, sig.visible = str(made.signature), made.signature.name, True
        pub.file, pub.filename, pub.visible = str(made.public), made.public.name, True
        note.object = (f"sha256 <code>{made.sha256[:16]}…</code> · check it with "
                       f"<code>nexus-lab verify {html.escape(made.path.name)} --sig "
                       f"{html.escape(made.signature.name)} --pub "
                       f"{html.escape(made.public.name)}</code>")
        return str(made.path)

    report = pn.widgets.FileDownload(label="Make and download the signed report",
                                     callback=make, filename="report.pdf", embed=False,
                                     button_type="primary", css_classes=["nx-report"])
    for widget in (what, role, fmt, period, report, sig, pub):
        widget.sizing_mode = "stretch_width"
    return pn.Card(what, role, fmt, period, report, sig, pub, note, title="Signed report",
                   collapsed=True, sizing_mode="stretch_width")


class PagedTable(pn.viewable.Viewer):
    """A table whose rows stay on the server: one page at a time is fetched and sent.

    ``fetch(offset, limit, sort, descending)`` returns ``(page frame, total rows)``;
    sorting by a column header asks the server for that order (``sorts`` maps a shown
    column to the ``sort`` name the fetch understands). Call :meth:`refresh` when the
    filters the fetch reads change.
    """

    def __init__(self, fetch: Callable[[int, int, str, bool], tuple[pd.DataFrame, int]], *,
                 sorts: dict[str, str], sort: str, descending: bool = False,
                 page_size: int = 50, show: Callable[[pd.DataFrame], pd.DataFrame]
                 | None = None, height: int = 560, name: str = "table",
                 **tabulator: Any) -> None:
        super().__init__()
        self._fetch, self._sorts, self._show = fetch, sorts, show or (lambda f: f)
        self.sort, self.descending, self.page_size = sort, descending, page_size
        self.total, self.rows = 0, pd.DataFrame()
        slug = f"nx-table-{name.replace(' ', '-')}"
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(), pagination=None, show_index=False, disabled=True,
            selectable=1, height=height, sizing_mode="stretch_width", name=name,
            header_filters=False, css_classes=[slug], **tabulator)
        self.page = pn.widgets.IntInput(name="", value=1, start=1, width=90,
                                        css_classes=["nx-page"])
        self.first = pn.widgets.Button(name="«", width=40)
        self.prev = pn.widgets.Button(name="‹ Previous", width=100)
        self.next = pn.widgets.Button(name="Next ›", width=90, css_classes=[f"{slug}-next"])
        self.status = html_pane("", css_classes=["nx-muted", "nx-pager-status",
                                                 f"{slug}-status"], margin=(12, 10))
        self.first.on_click(lambda _e: self._go(1))
        self.prev.on_click(lambda _e: self._go(self.page.value - 1))
        self.next.on_click(lambda _e: self._go(self.page.value + 1))
        self.page.param.watch(lambda e: self._load(), "value")
        self.table.param.watch(self._sorted, "sorters")
        self._layout = pn.Column(
            self.table, pn.Row(self.first, self.prev, self.page, self.next, self.status),
            sizing_mode="stretch_width")

    def __panel__(self) -> pn.Column:
        return self._layout

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    def selected(self) -> pd.Series | None:
        """The selected row of the page as fetched (all its columns), or None."""
        chosen = self.table.selection
        if not chosen or chosen[0] >= len(self.rows):
            return None
        return self.rows.iloc[chosen[0]]

    def refresh(self, *_: Any) -> None:
        """Fetch the first page again (after a filter changed)."""
        if self.page.value != 1:
            self.page.value = 1  # the watcher loads it
        else:
            self._load()

    def _go(self, number: int) -> None:
        self.page.value = min(max(1, number), self.pages)

    def _sorted(self, event: Any) -> None:
        sorters = event.new or []
        if not sorters:
            return
        field, direction = sorters[0].get("field"), sorters[0].get("dir", "asc")
        key = self._sorts.get(field)
        if key is None or (key, direction == "desc") == (self.sort, self.descending):
            return
        self.sort, self.descending = key, direction == "desc"
        self.refresh()

    def _load(self) -> None:
        number = int(self.page.value or 1)
        if number < 1:  # a number no button gives: the first page
            self.page.value = 1  # the watcher loads it
            return
        try:
            self.rows, self.total = self._fetch((number - 1) * self.page_size, self.page_size,
                                                self.sort, self.descending)
        except NexusError as err:  # a refusal (a role revoked meanwhile) or a bad filter
            Session.notify(str(err), "error" if isinstance(err, PermissionDenied) else
                           "warning")
            return
        if number > self.pages and self.total:  # past the last page: the last one
            self.page.value = self.pages
            return
        self.table.selection = []
        self.table.value = self._show(self.rows)
        first = (number - 1) * self.page_size + 1 if self.total else 0
        last = min(number * self.page_size, self.total)
        self.status.object = (f"rows {first:,}–{last:,} of <b>{self.total:,}</b> · page "
                              f"{number:,} of {self.pages:,}")
        self.prev.disabled, self.first.disabled = number <= 1, number <= 1
        self.next.disabled = number >= self.pages
