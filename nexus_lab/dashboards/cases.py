"""Cases: the store's cases, each one's timeline, evidence and chain of custody, and
whether its case store still verifies.

The list is the store's cases with what their case store says of them
(:func:`nexus_lab.cases.store_cases`); a selected case shows its timeline, its evidence
items and every custody event of each (who, when, what, each event's hash chained to the
one before), read from the case store (:func:`nexus_lab.cases.case_detail`). "Verify
now" checks the case from the files alone (:func:`nexus_lab.cases.verify_case`) and
says PASS, or FAIL with the first broken link.

A prosecutor moves a case along its lifecycle with a reason
(:func:`nexus_lab.workflows.change_case_status`); a judge and the other points of view see
everything read-only. Every action runs as the signed-in user, and the service checks
the permission and records it.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/cases.py``).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import cases, workflows
from nexus_lab.dashboards._layout import figure, guarded, html_pane, report_card
from nexus_lab.dashboards._session import Session

__all__ = ["page"]

_KIND_COLORS = {"case": "#0f9d8a", "custody": "#1f6feb", "milestone": "#b7791f"}
_ACTIVE = ("open", "under_investigation", "in_litigation")


def _words(status: str) -> str:
    return str(status).replace("_", " ")


def _when(value: Any) -> str:
    return "" if value is None or pd.isna(value) else \
        f"{pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"


def _size(n: Any) -> str:
    n = int(n)
    return f"{n:,} B" if n < 1024 else f"{n / 1024:,.1f} KiB" if n < 1024**2 else \
        f"{n / 1024**2:,.1f} MiB"


class CasesView:
    """The cases page's parts and what they do, for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.detail: dict | None = None
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.list = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, selectable=1, height=260,
            sizing_mode="stretch_width", name="cases", css_classes=["nx-table-cases"],
            layout="fit_data_stretch")
        self.heading = html_pane("", sizing_mode="stretch_width")
        self.verdict = html_pane("<i class='nx-muted'>Not checked yet: press Verify now.</i>",
                                 sizing_mode="stretch_width")
        self.verify = pn.widgets.Button(name="Verify now", button_type="primary",
                                        css_classes=["nx-verify"], disabled=True)
        self.verify.on_click(self._do_verify)
        self.timeline_chart = pn.pane.Bokeh(sizing_mode="stretch_width", height=240)
        self.timeline = self._table("timeline", 300)
        self.evidence = self._table("evidence", 220)
        self.custody = self._table("custody", 300)
        self.checks = self._table("checks", 160)
        self._status_form()
        self.list.param.watch(self._selected, "selection")
        self._load()

    @staticmethod
    def _table(name: str, height: int) -> pn.widgets.Tabulator:
        return pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True,
                                    height=height, sizing_mode="stretch_width", name=name,
                                    css_classes=[f"nx-table-{name}"], layout="fit_data_stretch")

    def _status_form(self) -> None:
        allowed = self.s.can("case.write")
        self.next_status = pn.widgets.Select(name="Move the case to", options=[])
        self.reason = pn.widgets.TextAreaInput(name="Reason", placeholder="why it moves on",
                                               height=80, sizing_mode="stretch_width")
        self.change = pn.widgets.Button(name="Change status", button_type="warning",
                                        css_classes=["nx-status"], disabled=True)
        self.change.on_click(self._do_change)
        # without the permission the form is not shown; the service refuses a forged click
        self.status_card = pn.Card(self.next_status, self.reason, self.change,
                                   title="Case status", collapsible=False, width=340,
                                   visible=allowed)
        for widget in (self.next_status, self.reason, self.change):
            widget.visible = allowed

    # ---- reading -----------------------------------------------------------------------
    def _load(self, keep: str | None = None) -> None:
        self.cases = self.s.read(cases.store_cases)
        known = self.cases
        active = known["status"].isin(_ACTIVE)
        self.figures.objects = [
            figure("Cases", f"{len(known):,}", f"{int(active.sum()):,} active"),
            figure("Under investigation",
                   f"{int((known['status'] == 'under_investigation').sum()):,}",
                   f"{int((known['status'] == 'open').sum()):,} open, "
                   f"{int((known['status'] == 'in_litigation').sum()):,} in litigation"),
            figure("Evidence items", f"{int(known['evidence'].sum()):,}",
                   f"{int(known['custody_events'].sum()):,} custody events"),
        ]
        _fill(self.list, _show_cases(known), 300)
        if len(known) == 0:
            self.heading.object = ("<i>No case yet: an examiner escalates a flagged "
                                   "transaction into one from Fraud triage.</i>")
            return
        ids = known["case_id"].tolist()
        at = ids.index(keep) if keep in ids else 0
        if self.list.selection == [at]:
            self._selected()
        else:
            self.list.selection = [at]

    def _selected(self, *_: Any) -> None:
        chosen = self.list.selection
        if not chosen or chosen[0] >= len(self.cases):
            return
        case_id = self.cases["case_id"].iloc[chosen[0]]
        self.detail = self.s.read(cases.case_detail, case_id)
        d = self.detail
        self.heading.object = _heading(d["case"])
        self.timeline_chart.object = _timeline_chart(d["timeline"])
        _fill(self.timeline, _show_timeline(d["timeline"]), 360)
        _fill(self.evidence, _show_evidence(d["evidence"]), 300)
        _fill(self.custody, _show_custody(d["custody"]), 360)
        _fill(self.checks, pd.DataFrame(), 300)
        self.verdict.object = ("<i class='nx-muted'>Not checked yet: press Verify now to "
                               "check its evidence, custody and audit log from the files."
                               "</i>")
        self.verify.disabled = False
        nxt = list(d["next_statuses"])
        self.next_status.options = {_words(s): s for s in nxt}
        self.next_status.value = nxt[0] if nxt else None
        self.change.disabled = not nxt

    # ---- acting ------------------------------------------------------------------------
    def _case_id(self) -> str | None:
        return None if self.detail is None else self.detail["case"]["number"]

    def _do_verify(self, _event: Any) -> None:
        case_id = self._case_id()
        if case_id is None:
            return
        result = self.s.act(cases.verify_case, case_id)
        if result is None:
            return
        self.verdict.object = _verdict(result)
        items = result["items"]
        _fill(self.checks, pd.DataFrame({
            "Item": items["evidence_id"], "Check": items["status"].map(
                {"ok": "PASS", "failed": "FAIL"}), "Name": items["name"],
            "Custody events": items["custody_events"], "Holder": items["holder"],
            "What failed": items["problems"]}) if len(items) else pd.DataFrame(), 300)

    def _do_change(self, _event: Any) -> None:
        case_id = self._case_id()
        if case_id is None:
            return
        done = self.s.act(workflows.change_case_status, case_id, self.next_status.value or "",
                          self.reason.value,
                          done=f"Case {case_id} moved to {_words(self.next_status.value)}.")
        if done is not None:
            self.reason.value = ""
            self._load(keep=case_id)

    # ---- the page ----------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        check = pn.Card(self.verdict, self.verify, title="Verification", collapsible=False,
                        sizing_mode="stretch_width")
        tabs = pn.Tabs(
            ("Timeline", pn.Column(self.timeline_chart, self.timeline,
                                   sizing_mode="stretch_width")),
            ("Evidence and custody", pn.Column(
                self.evidence, pn.pane.Markdown("#### Chain of custody", margin=(10, 10, 0, 10)),
                self.custody, sizing_mode="stretch_width")),
            ("Verification details", self.checks),
            sizing_mode="stretch_width", dynamic=False)
        main = [self.figures, self.list, self.heading,
                pn.Row(check, self.status_card, sizing_mode="stretch_width"), tabs]
        note = html_pane(
            "<p class='nx-muted'>Each case's evidence is sealed and signed on intake; "
            "every hand-over or opening is a custody event, hash-chained to the one "
            "before and signed. <b>Verify now</b> checks all of it from the case "
            "store's files.</p>")
        report = report_card(self.s, "case", lambda: {"case_id": self._case_id()})
        return main, [note, pn.layout.Divider(), report]


# ---- what the user sees ------------------------------------------------------------------

def _fill(table: pn.widgets.Tabulator, rows: pd.DataFrame, most: int) -> None:
    """Show ``rows``, the table as tall as they need (up to ``most`` pixels)."""
    table.value = rows
    table.height = min(most, 48 + 32 * max(1, len(rows)))


def _show_cases(known: pd.DataFrame) -> pd.DataFrame:
    if len(known) == 0:
        return pd.DataFrame(columns=["Case", "Status", "Evidence", "Custody events",
                                     "Last activity", "Opened by", "Title"])
    return pd.DataFrame({
        "Case": known["case_id"], "Status": [_words(s) for s in known["status"]],
        "Evidence": known["evidence"], "Custody events": known["custody_events"],
        "Last activity": [_when(t) for t in known["last_activity"]],
        "Opened by": known["created_by"], "Title": known["title"]})


def _heading(case: dict) -> str:
    status = case["status"]
    tone = "nx-pass" if status in _ACTIVE else "nx-muted"
    opened = _when(pd.Timestamp(case["opened_at"]))
    return (f"<h3 style='margin:12px 0 4px'>{html.escape(case['number'])} · "
            f"{html.escape(case['title'])}</h3>"
            f"<div><span class='{tone}'>{html.escape(_words(status))}</span> · opened "
            f"{opened} by {html.escape(str(case['opened_by']))} · "
            f"{case['evidence']:,} evidence items · {case['custody_events']:,} custody "
            f"events</div>")


def _verdict(result: dict) -> str:
    s = result["summary"]
    checked = (f"{s['evidence']:,} evidence items, {s['custody_events']:,} custody events, "
               f"{s['audit_entries'] or 0:,} audit entries checked")
    key = ("against the workbench's evidence-room key" if result["pinned"] else
           "against the key bundle in the case store (the workbench's key is not here)")
    if result["ok"]:
        return (f"<div data-nx='verdict' style='font-size:22px' class='nx-pass'>PASS</div>"
                f"<div>{checked}; signatures {key}.</div>")
    more = len(result["problems"]) - 1
    return (f"<div data-nx='verdict' style='font-size:22px' class='nx-fail'>FAIL</div>"
            f"<div><b>First broken link:</b> {html.escape(result['first_problem'])}</div>"
            + (f"<div class='nx-muted'>and {more} more (see Verification details)</div>"
               if more > 0 else "")
            + f"<div class='nx-muted'>{checked}.</div>")


def _timeline_chart(events: pd.DataFrame) -> Any:
    from bokeh.models import ColumnDataSource, HoverTool, Range1d
    from bokeh.plotting import figure as bokeh_figure

    kinds = [k for k in _KIND_COLORS if k in set(events["kind"])] or ["case"]
    fig = bokeh_figure(x_axis_type="datetime", y_range=list(reversed(kinds)), height=220,
                       sizing_mode="stretch_width", title="What happened when",
                       toolbar_location=None)
    if len(events) == 0:
        return fig
    data = events.assign(
        time=events["time"].dt.tz_convert("UTC").dt.tz_localize(None),
        color=events["kind"].map(_KIND_COLORS).fillna("#64748b"),
        item=events["item"].fillna(""), who=events["actor"].fillna(""))
    first, last = data["time"].min(), data["time"].max()
    pad = max((last - first) * 0.05, pd.Timedelta(hours=1))  # events seconds apart: hours
    fig.x_range = Range1d(first - pad, last + pad)
    dots = fig.scatter("time", "kind", size=13, color="color", alpha=0.8,
                       source=ColumnDataSource(data[["time", "kind", "event", "item", "who",
                                                     "detail", "color"]]))
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[
        ("", "@event @item"), ("when", "@time{%F %H:%M:%S}"), ("who", "@who"),
        ("", "@detail")], formatters={"@time": "datetime"}))
    return fig


def _show_timeline(events: pd.DataFrame) -> pd.DataFrame:
    if len(events) == 0:
        return pd.DataFrame(columns=["When", "What", "Item", "Who", "Detail"])
    return pd.DataFrame({"When": [_when(t) for t in events["time"]],
                         "What": events["event"], "Item": events["item"].fillna(""),
                         "Who": events["actor"].fillna(""),
                         "Detail": events["detail"].str.replace(
                             r"\b(under|in)_(investigation|litigation)\b", r"\1 \2",
                             regex=True)})


def _show_evidence(items: pd.DataFrame) -> pd.DataFrame:
    if len(items) == 0:
        return pd.DataFrame(columns=["Item", "Name", "Size", "SHA-256", "Received", "By",
                                     "Held by", "Custody events", "Description"])
    return pd.DataFrame({
        "Item": items["evidence_id"], "Name": items["name"],
        "Size": [_size(n) for n in items["size"]], "SHA-256": items["sha256"].str[:16] + "…",
        "Received": [_when(t) for t in items["received_at"]], "By": items["received_by"],
        "Held by": items["holder"], "Custody events": items["custody_events"],
        "Description": items["description"]})


def _show_custody(events: pd.DataFrame) -> pd.DataFrame:
    if len(events) == 0:
        return pd.DataFrame(columns=["Item", "#", "Event", "When", "Who", "From", "To",
                                     "Event hash", "Follows", "Note"])
    ordered = events.sort_values(["evidence_id", "seq"], kind="stable")
    before = ordered.groupby("evidence_id")["event_hash"].shift(1)
    follows = ["the signed intake record" if pd.isna(h) else h[:12] + "…" for h in before]
    return pd.DataFrame({
        "Item": ordered["evidence_id"], "#": ordered["seq"], "Event": ordered["event"],
        "When": [_when(t) for t in ordered["at"]], "Who": ordered["actor"],
        "From": ordered["from"].replace("", "–"), "To": ordered["to"],
        "Event hash": ordered["event_hash"].str[:12] + "…", "Follows": follows,
        "Note": ordered["note"]})


def page() -> Any:
    """The cases for the signed-in user (a Panel template)."""
    return guarded("cases", lambda session: CasesView(session).layout())
