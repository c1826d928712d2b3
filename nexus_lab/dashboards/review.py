"""Reconciliation review: a period's rate, open items and matches; resolve and approve.

Pick an account and a period (a reconciliation run kept in the store); the page shows
the rate, what is left open and why, and the matches with their confidence and the
evidence each field gave (in bits). Rows stay on the server: both tables fetch one page
at a time (:func:`nexus_lab.review.matches_page`, :func:`nexus_lab.review.open_items_page`),
so a run of a million matches opens as fast as a small one.

An examiner resolves an open item (accept the suggested link, link by hand, mark a timing
difference) and approves the period; other points of view see the same figures without
those actions. The actions are the review service's (:func:`nexus_lab.review.resolve_open_item`,
:func:`nexus_lab.review.approve_run`), run as the signed-in user, which check the
permission and record it in the audit log.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/review.py``).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import review
from nexus_lab.dashboards._layout import (
    PagedTable,
    bar_chart,
    figure,
    guarded,
    html_pane,
    money,
    report_card,
)
from nexus_lab.dashboards._session import Session

__all__ = ["page"]

_RESOLVE = {  # what the examiner picks: (resolution, takes a hand-typed link)
    "Accept the suggested link": ("linked", False),
    "Link by hand": ("linked", True),
    "Timing difference": ("timing", False),
    "Write off": ("written_off", False),
    "Accept as it is": ("accepted", False),
}
_KINDS = ["one_to_one", "batch", "installment"]  # nx.reconcile's match types
_MATCH_SORTS = {"Confidence": "confidence", "Bank id": "bank_id", "Ledger id": "ledger_id"}
_ITEM_SORTS = {"Date": "date", "Amount": "amount", "Reason": "reason",
               "Transaction": "transaction_id"}


def _label(run: pd.Series) -> str:
    start, end = run["period_start"], run["period_end"]
    period = (f"{start} – {end}" if pd.notna(start) and pd.notna(end) else
              f"run of {pd.Timestamp(run['created_at']):%Y-%m-%d %H:%M}")
    rate = "" if pd.isna(run["rate"]) else f" · {100 * float(run['rate']):.1f}%"
    return f"{period} · {run['status']}{rate}"


class ReviewView:
    """The review page's parts and what they do, for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.runs = session.read(review.runs)
        accounts = sorted(set(self.runs["account"].fillna("")))
        self.account = pn.widgets.Select(
            name="Account", options={a or "(one account)": a for a in accounts} or
            {"(none yet)": ""}, value=accounts[0] if accounts else "")
        self.run = pn.widgets.Select(name="Period", options={})
        self.search = pn.widgets.TextInput(name="Find a transaction id",
                                           placeholder="B0001234 or its start",
                                           css_classes=["nx-filter-search"])
        self.kinds = pn.widgets.MultiChoice(name="Kinds of match", options=[])
        self.confidence = pn.widgets.RangeSlider(name="Confidence", start=0, end=100,
                                                 value=(0, 100), step=1,
                                                 css_classes=["nx-filter-confidence"])
        self.reasons = pn.widgets.MultiChoice(name="Open items: reasons", options=[],
                                              css_classes=["nx-filter-reasons"])
        self.status = pn.widgets.RadioButtonGroup(name="Open items", value="open",
                                                  options=["open", "resolved", "all"])
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.chart = pn.pane.Bokeh(sizing_mode="stretch_width", height=250)
        self.evidence = pn.pane.Bokeh(sizing_mode="stretch_width", height=230)
        self.match_note = html_pane("<i>Select a match to see the evidence of each "
                                       "field.</i>", css_classes=["nx-muted"])
        self.matches = PagedTable(self._fetch_matches, sorts=_MATCH_SORTS, sort="confidence",
                                  show=_show_matches, name="matches", height=480)
        self.items = PagedTable(self._fetch_items, sorts=_ITEM_SORTS, sort="date",
                                show=_show_items, name="open items", height=420)
        self.matches_loaded = False
        self._resolve_form()
        self._approve_form()
        self.account.param.watch(self._account_changed, "value")
        self.run.param.watch(self._run_changed, "value")
        for widget in (self.search, self.kinds, self.confidence):
            widget.param.watch(self.matches.refresh, "value_throttled" if widget is
                               self.confidence else "value")
        for widget in (self.reasons, self.status):
            widget.param.watch(self.items.refresh, "value")
        self.search.param.watch(self.items.refresh, "value")
        self.matches.table.param.watch(self._show_evidence, "selection")
        self.items.table.param.watch(self._item_selected, "selection")
        self._account_changed()

    # ---- the forms ---------------------------------------------------------------------
    def _resolve_form(self) -> None:
        self.item_label = html_pane("<i>Select an open item to resolve it.</i>",
                                       css_classes=["nx-muted"])
        self.resolution = pn.widgets.Select(name="Resolution", options=list(_RESOLVE))
        self.linked_to = pn.widgets.TextInput(name="Other side's transaction id",
                                              visible=False)
        self.item_note = pn.widgets.TextInput(name="Note", placeholder="why")
        self.resolve = pn.widgets.Button(name="Resolve item", button_type="primary",
                                         disabled=True, css_classes=["nx-resolve"])
        self.resolution.param.watch(
            lambda e: setattr(self.linked_to, "visible", _RESOLVE[e.new][1]), "value")
        self.resolve.on_click(self._do_resolve)
        self.resolve_card = pn.Card(
            self.item_label, self.resolution, self.linked_to, self.item_note, self.resolve,
            title="Resolve the selected item", collapsible=False, width=340,
            visible=self.s.can("reconciliation.resolve"))

    def _approve_form(self) -> None:
        self.approve_note = pn.widgets.TextInput(name="Approval note",
                                                 placeholder="e.g. November close")
        self.approve = pn.widgets.Button(name="Approve period", button_type="success",
                                         css_classes=["nx-approve"])
        self.approve.on_click(self._do_approve)
        self.approval = html_pane("")
        allowed = self.s.can("reconciliation.approve")
        # without the permission the form is not shown; the service refuses a forged click
        self.approve_card = pn.Card(self.approval, self.approve_note, self.approve,
                                    title="Approve the period", collapsible=False, width=340,
                                    visible=allowed)
        self.approve.visible = allowed
        self.approve_note.visible = allowed

    # ---- fetching ------------------------------------------------------------------------
    def _fetch_matches(self, offset: int, limit: int, sort: str, desc: bool
                       ) -> tuple[pd.DataFrame, int]:
        if not self.run.value:
            return pd.DataFrame(), 0
        low, high = self.confidence.value
        return self.s.read(
            review.matches_page, self.run.value, search=self.search.value or None,
            algorithms=self.kinds.value or None,
            min_confidence=None if low <= 0 else low, max_confidence=None if high >= 100
            else high, sort=sort, descending=desc, offset=offset, limit=limit)

    def _fetch_items(self, offset: int, limit: int, sort: str, desc: bool
                     ) -> tuple[pd.DataFrame, int]:
        if not self.run.value:
            return pd.DataFrame(), 0
        status = None if self.status.value == "all" else self.status.value
        return self.s.read(
            review.open_items_page, self.run.value, status=status,
            reasons=self.reasons.value or None, search=self.search.value or None,
            sort=sort, descending=desc, offset=offset, limit=limit)

    # ---- reacting ------------------------------------------------------------------------
    def _account_changed(self, *_: Any) -> None:
        mine = self.runs[self.runs["account"].fillna("") == self.account.value]
        options = {_label(r): r["run_id"] for _, r in mine.iterrows()}
        self.run.options = options
        first = next(iter(options.values()), None)
        if self.run.value == first:
            self._run_changed()
        else:
            self.run.value = first

    def _run_changed(self, *_: Any) -> None:
        if not self.run.value:
            self.figures.objects = [pn.pane.Alert(
                "No reconciliation in the store yet: run one with `nexus-lab reconcile "
                "--store ...` or the records notebook.", alert_type="info")]
            return
        self.overview = self.s.read(review.run_overview, self.run.value)
        by_reason = self.overview["open_by_reason"]
        reasons = sorted(set(by_reason["reason"]))
        self.reasons.options = reasons
        self.kinds.options = _KINDS
        self._show_figures()
        self.items.refresh()
        if self.matches_loaded:
            self.matches.refresh()

    def _tab_opened(self, event: Any) -> None:
        if event.new == 1 and not self.matches_loaded:
            self.matches_loaded = True
            self.matches.refresh()

    def _show_figures(self) -> None:
        run, by_reason = self.overview["run"], self.overview["open_by_reason"]
        still = by_reason[by_reason["status"] == "open"]
        open_now = int(still["items"].sum())
        rate = "–" if pd.isna(run["rate"]) else f"{100 * float(run['rate']):.1f}%"
        state = "approved" if run["status"] == "approved" else "open for review"
        who = (f"by {run['approved_by']} {pd.Timestamp(run['approved_at']):%Y-%m-%d}"
               if run["status"] == "approved" else f"saved by {run['created_by']}")
        self.figures.objects = [
            figure("Reconciled", rate, f"{int(run['bank_rows'] or 0):,} bank rows · "
                   f"{int(run['ledger_rows'] or 0):,} ledger rows"),
            figure("Matched pairs", f"{int(run['matched_pairs'] or 0):,}", ""),
            figure("Open items", f"{open_now:,}", f"{money(still['amount_cents'].sum())} "
                   f"still open of {int(run['open_items'] or 0):,}"),
            figure("Status", state, who),
        ]
        self.chart.object = bar_chart(still.groupby("reason", as_index=False)["items"].sum()
                                  .sort_values("items", ascending=False), "reason", "items",
                                  "Open items by reason", self.s.accent)
        approved = run["status"] == "approved"
        self.approval.object = (
            f'<span class="nx-pass">Approved by {html.escape(str(run["approved_by"]))}'
            f"</span>" if approved else f"{open_now:,} items still open; approving records "
            "the matches' digest and your name.")
        self.approve.disabled = approved

    def _show_evidence(self, *_: Any) -> None:
        row = self.matches.selected()
        if row is None:
            return
        bits = pd.DataFrame({"field": list(row["bits"]), "bits": list(row["bits"].values())})
        self.match_note.object = (
            f"<b>{html.escape(str(row['bank_statement_id']))}</b> ↔ "
            f"<b>{html.escape(str(row['expense_id']))}</b> · confidence "
            f"{float(row['confidence_score']):.1f} · {html.escape(str(row['explanation']))}")
        self.evidence.object = bar_chart(bits, "field", "bits", "Evidence by field (bits)",
                                     self.s.accent, height=220)

    def _item_selected(self, *_: Any) -> None:
        row = self.items.selected()
        if row is None or row["status"] != "open":
            self.resolve.disabled = True
            self.item_label.object = ("<i>Select an open item to resolve it.</i>" if row is
                                      None else "<i>This item is resolved already.</i>")
            return
        self.resolve.disabled = False
        hint = (f"; the engine suggests <b>{html.escape(str(row['suggested']))}</b>"
                if row["suggested"] else "; no suggestion")
        self.item_label.object = (
            f"<b>{html.escape(str(row['transaction_id']))}</b> ({row['side']}) "
            f"{money(row['amount_cents'])} · {html.escape(str(row['reason']))}{hint}")

    # ---- acting --------------------------------------------------------------------------
    def _do_resolve(self, _event: Any) -> None:
        row = self.items.selected()
        if row is None:
            self.s.notify("Select an open item first.", "warning")
            return
        resolution, by_hand = _RESOLVE[self.resolution.value]
        done = self.s.act(review.resolve_open_item, int(row["id"]), resolution,
                          linked_to=(self.linked_to.value or None) if by_hand else None,
                          note=self.item_note.value,
                          done=f"Resolved {row['transaction_id']} ({resolution}).")
        if done is not None:
            self.item_note.value = ""
            self._run_changed()

    def _do_approve(self, _event: Any) -> None:
        if not self.run.value:
            return
        self.approve.loading = True  # the matches' digest is checked first: seconds at 1M
        try:
            done = self.s.act(review.approve_run, self.run.value, note=self.approve_note.value,
                              done="Period approved; the audit log has it.")
        finally:
            self.approve.loading = False
        if done is not None:
            self.runs = self.s.read(review.runs)
            self._run_changed()

    # ---- the page ------------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        matches_tab = pn.Column(self.matches, pn.Row(self.match_note), self.evidence,
                                sizing_mode="stretch_width")
        items_tab = pn.Row(pn.Column(self.items, sizing_mode="stretch_width"),
                           self.resolve_card, sizing_mode="stretch_width")
        # the matches are fetched and drawn when their tab is first opened
        tabs = pn.Tabs(("Open items", items_tab), ("Matches", matches_tab),
                       sizing_mode="stretch_width", dynamic=True)
        tabs.param.watch(self._tab_opened, "active")
        main = [self.figures,
                pn.Row(self.chart, self.approve_card, sizing_mode="stretch_width"), tabs]
        sidebar = [self.account, self.run, pn.layout.Divider(), self.search, self.status,
                   self.reasons, pn.layout.Divider(), self.kinds, self.confidence,
                   pn.layout.Divider(),
                   report_card(self.s, "reconciliation", lambda: {"run_id": self.run.value})]
        return main, sidebar


def _show_matches(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame(columns=["Bank id", "Ledger id", "Confidence", "Kind", "Group",
                                     "Explanation"])
    return pd.DataFrame({"Bank id": rows["bank_statement_id"], "Ledger id": rows["expense_id"],
                         "Confidence": rows["confidence_score"].round(1),
                         "Kind": rows["matching_algorithm"], "Group": rows["group_id"],
                         "Explanation": rows["explanation"]})


def _show_items(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame(columns=["Side", "Transaction", "Date", "Amount", "Description",
                                     "Reason", "Suggested", "Status", "Resolution",
                                     "Resolved by"])
    return pd.DataFrame({
        "Side": rows["side"], "Transaction": rows["transaction_id"],
        "Date": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d"),
        "Amount": [money(c) for c in rows["amount_cents"]],
        "Description": rows["description"], "Reason": rows["reason"],
        "Suggested": rows["suggested"].fillna(""), "Status": rows["status"],
        "Resolution": rows["resolution"].fillna("") + rows["linked_to"].map(
            lambda v: f" → {v}" if isinstance(v, str) and v else ""),
        "Resolved by": rows["resolved_by"].fillna("")})


def page() -> Any:
    """The reconciliation review for the signed-in user (a Panel template)."""
    return guarded("review", lambda session: ReviewView(session).layout())
