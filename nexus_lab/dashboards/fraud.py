"""Fraud triage: a run's flagged transactions by risk; clear a flag or escalate it.

Pick a fraud run kept in the store; the queue lists its flagged transactions, the
riskiest first, one page at a time from the server (:func:`nexus_lab.review
.fraud_queue_page`), filtered by flag, account, vendor, review state and risk. The
selected row shows its flags and reasons, what each flag and model feature added to its
risk (when the run kept it), and the account's and the vendor's scored transactions
within 30 days around it, as a table and a timeline.

An examiner clears a flag with a justification (:func:`nexus_lab.review.clear_flag`) or
escalates it into a new or open case (:func:`nexus_lab.workflows.escalate_to_case`: the
rows are taken in as sealed evidence); both run as the signed-in user, and the service
checks the permission and records it. Other points of view see the queue without those
actions.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/fraud.py``).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import cases, review, workflows
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

_SORTS = {"Risk": "risk", "Date": "date", "Amount": "amount", "Account": "account",
          "Vendor": "vendor", "Transaction": "transaction_id"}
_STATES = {"Open": ["open"], "Cleared": ["cleared"], "Escalated": ["escalated"],
           "All": None}
_ANY = "(any)"
_NEW_CASE = "A new case"
#: The model features in words (the fraud kernel's FEATURES).
_FEATURES = {
    "log_amount": "size of the amount", "z_vendor": "amount against the vendor's usual",
    "z_account": "amount against the account's usual",
    "z_category": "amount against the category's usual",
    "iqr_excess": "amount beyond the usual range", "hour_sin": "time of day",
    "hour_cos": "time of day", "off_hours": "paid off hours", "weekend": "paid at a weekend",
    "count_window": "payments of the account around it",
    "count_day": "payments of the account that day", "sum_day": "amount paid that day",
    "gap_prev": "time since the account's last payment",
    "gap_next": "time to the account's next payment", "new_vendor": "a new vendor",
    "vendor_accounts": "accounts paying the vendor",
    "vendor_share": "the vendor's share of the account",
    "duplicate": "an exact duplicate", "near_duplicate": "a near duplicate",
    "round_amount": "a round amount", "threshold_ratio": "amount against the approval limit",
    "account_prior": "the account's past fraud rate",
}
_SAME_COLORS = {"account": "#1f6feb", "vendor": "#b7791f", "account and vendor": "#7c3aed"}


def _run_label(run: pd.Series) -> str:
    return f"{pd.Timestamp(run['created_at']):%Y-%m-%d %H:%M} · {int(run['open']):,} open"


class FraudView:
    """The fraud triage page's parts and what they do, for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.runs = session.read(review.fraud_runs)
        self.current: dict | None = None
        self.run = pn.widgets.Select(
            name="Fraud run", options={_run_label(r): r["run_id"] for _, r in
                                       self.runs.iterrows()} or {"(none yet)": ""})
        self.state = pn.widgets.RadioButtonGroup(name="Review state", value="Open",
                                                 options=list(_STATES))
        self.flag = pn.widgets.Select(name="Flag", options=[_ANY])
        self.account = pn.widgets.Select(name="Account", options=[_ANY])
        self.vendor = pn.widgets.Select(name="Vendor", options=[_ANY])
        self.min_risk = pn.widgets.IntSlider(name="Minimum risk", start=0, end=100, value=0,
                                             step=5)
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.by_flag = pn.pane.Bokeh(sizing_mode="stretch_width", height=220)
        self.queue = PagedTable(self._fetch, sorts=_SORTS, sort="risk", descending=True,
                                show=_show_queue, name="queue", height=420, page_size=25,
                                layout="fit_data_fill")
        self.heading = html_pane("", sizing_mode="stretch_width")
        self.reasons = html_pane("", sizing_mode="stretch_width")
        self.explain = pn.pane.Bokeh(sizing_mode="stretch_width", height=200)
        self.features = pn.pane.Bokeh(sizing_mode="stretch_width", height=210)
        self.explain_note = html_pane("", css_classes=["nx-muted"], sizing_mode="stretch_width")
        self.timeline = pn.pane.Bokeh(sizing_mode="stretch_width", height=320)
        self.history = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, height=300,
            sizing_mode="stretch_width", name="history", css_classes=["nx-table-history"],
            layout="fit_data_fill")
        self.history.style.apply(_mark_selected, axis=1)
        self._action_forms()
        self.run.param.watch(self._run_changed, "value")
        for widget in (self.state, self.flag, self.account, self.vendor):
            widget.param.watch(self.queue.refresh, "value")
        self.min_risk.param.watch(self.queue.refresh, "value_throttled")
        self.queue.table.param.watch(self._loaded, "value")
        self.queue.table.param.watch(self._selected, "selection")
        self._run_changed()

    # ---- the forms ---------------------------------------------------------------------
    def _action_forms(self) -> None:
        allowed = self.s.can("fraud.review")
        self.target = html_pane("<i>Select a flagged transaction.</i>",
                                css_classes=["nx-muted"])
        self.justification = pn.widgets.TextAreaInput(
            name="Justification", placeholder="why the flag is cleared", height=80,
            sizing_mode="stretch_width")
        self.clear = pn.widgets.Button(name="Clear the flag", button_type="success",
                                       css_classes=["nx-clear"], disabled=True)
        self.into = pn.widgets.Select(name="Into", options=[_NEW_CASE])
        self.case_title = pn.widgets.TextInput(name="Title of the new case",
                                               placeholder="default: the payment and its risk")
        self.note = pn.widgets.TextAreaInput(name="Why it is escalated",
                                             placeholder="what the case should look into",
                                             height=80, sizing_mode="stretch_width")
        self.escalate = pn.widgets.Button(name="Escalate into a case", button_type="danger",
                                          css_classes=["nx-escalate"], disabled=True)
        self.into.param.watch(lambda e: setattr(self.case_title, "visible",
                                                e.new == _NEW_CASE), "value")
        self.clear.on_click(self._do_clear)
        self.escalate.on_click(self._do_escalate)
        # without the permission the forms are not shown; the service refuses a forged click
        self.actions = pn.Card(
            self.target,
            pn.Tabs(("Clear", pn.Column(self.justification, self.clear,
                                        sizing_mode="stretch_width")),
                    ("Escalate", pn.Column(self.into, self.case_title, self.note,
                                           self.escalate, sizing_mode="stretch_width")),
                    dynamic=False, sizing_mode="stretch_width"),
            title="Review the selected flag", collapsible=False, width=360, visible=allowed)
        for widget in (self.justification, self.clear, self.into, self.case_title, self.note,
                       self.escalate):
            widget.visible = allowed
        if allowed and self.s.can("case.read"):
            self._case_options()

    def _case_options(self) -> None:
        known = self.s.read(cases.store_cases)
        active = known[known["status"].isin(["open", "under_investigation", "in_litigation"])]
        self.into.options = [_NEW_CASE, *[f"{c} · {t}" for c, t in zip(active["case_id"],
                                                                       active["title"])]]

    # ---- fetching ----------------------------------------------------------------------
    def _fetch(self, offset: int, limit: int, sort: str, desc: bool
               ) -> tuple[pd.DataFrame, int]:
        if not self.run.value:
            return pd.DataFrame(), 0
        def pick(widget: Any) -> str | None:
            return None if widget.value == _ANY else widget.value

        return self.s.read(
            review.fraud_queue_page, self.run.value, states=_STATES[self.state.value],
            flag=pick(self.flag), account=pick(self.account), vendor=pick(self.vendor),
            min_risk=self.min_risk.value or None, sort=sort, descending=desc,
            offset=offset, limit=limit)

    # ---- reacting ----------------------------------------------------------------------
    def _run_changed(self, *_: Any) -> None:
        if not self.run.value:
            self.figures.objects = [pn.pane.Alert(
                "No fraud scores in the store yet: score transactions and keep them with "
                "`nexus_lab.workflows.save_fraud_scores` (the fraud notebook does).",
                alert_type="info")]
            return
        self.overview = self.s.read(review.fraud_run_overview, self.run.value)
        ov = self.overview
        self.flag.options = [_ANY, *ov["by_flag"]["flag"].tolist()]
        self.account.options = [_ANY, *ov["accounts"]]
        self.vendor.options = [_ANY, *ov["vendors"]]
        self._show_figures()
        self.queue.refresh()

    def _show_figures(self) -> None:
        ov, run = self.overview, self.overview["run"]
        states = ov["states"]
        threshold = run.get("threshold")
        self.figures.objects = [
            figure("Open flags", f"{states['open']:,}",
                   f"{money(ov['open_cents'])} at stake"),
            figure("Cleared", f"{states['cleared']:,}", "after review"),
            figure("Escalated", f"{states['escalated']:,}", "into cases"),
            figure("Scored", f"{int(run['rows'] or 0):,}",
                   f"flagged or risk ≥ {threshold:g} go to review" if threshold is not None
                   else "transactions"),
        ]
        self.by_flag.object = bar_chart(ov["by_flag"], "flag", "open",
                                        "Open flags by kind", self.s.accent)

    def _loaded(self, *_: Any) -> None:
        if len(self.queue.rows):
            self.queue.table.selection = [0]  # the riskiest row of the page is shown
        else:
            self._show_row(None)

    def _selected(self, *_: Any) -> None:
        row = self.queue.selected()
        if row is not None:
            self._show_row(int(row["id"]))

    def _show_row(self, score_id: int | None) -> None:
        if score_id is None:
            self.current = None
            self.heading.object = "<i>No flagged transaction matches the filters.</i>"
            for pane in (self.reasons, self.explain_note):
                pane.object = ""
            self.explain.object = None
            self.features.object = None
            self.timeline.object = None
            self.history.value = pd.DataFrame()
            self._enable(False)
            return
        row = self.s.read(review.fraud_score, score_id)
        history = self.s.read(review.fraud_history, score_id)
        self.current = row
        self.heading.object = _heading(row)
        self.reasons.object = _reasons(row)
        (self.explain.object, self.features.object,
         self.explain_note.object) = _explanation(row, self.s.accent)
        self.timeline.object = _timeline(history)
        self.history.value = _show_history(history)
        self._enable(row["review_state"] == "open")
        self.target.object = (
            f"<b>{html.escape(str(row['transaction_id']))}</b> · risk "
            f"{float(row['risk_score']):.1f} · {money(row['amount_cents'])}"
            if row["review_state"] == "open" else
            f"<i>{html.escape(str(row['transaction_id']))} is {row['review_state']} "
            "already.</i>")

    def _enable(self, on: bool) -> None:
        self.clear.disabled = not on
        self.escalate.disabled = not on

    # ---- acting ------------------------------------------------------------------------
    def _do_clear(self, _event: Any) -> None:
        row = self.current
        if row is None:
            self.s.notify("Select a flagged transaction first.", "warning")
            return
        done = self.s.act(review.clear_flag, int(row["id"]), self.justification.value,
                          done=f"Cleared the flag on {row['transaction_id']}.")
        if done is not None:
            self.justification.value = ""
            self._after_action()

    def _do_escalate(self, _event: Any) -> None:
        row = self.current
        if row is None:
            self.s.notify("Select a flagged transaction first.", "warning")
            return
        into = None if self.into.value == _NEW_CASE else self.into.value.split(" · ")[0]
        done = self.s.act(workflows.escalate_to_case, int(row["id"]), self.note.value,
                          case_id=into, title=self.case_title.value.strip() or None)
        if done is not None:
            self.s.notify(f"Escalated {row['transaction_id']} into case {done['case_id']} "
                          f"({len(done['evidence'])} evidence items sealed).", "success")
            self.note.value = ""
            self.case_title.value = ""
            self._case_options()
            self._after_action()

    def _after_action(self) -> None:
        self.runs = self.s.read(review.fraud_runs)
        self.run.options = {_run_label(r): r["run_id"] for _, r in self.runs.iterrows()}
        self.overview = self.s.read(review.fraud_run_overview, self.run.value)
        self._show_figures()
        # the same page again: the reviewed row leaves the open queue
        self.queue.page.param.trigger("value")

    # ---- the page ----------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        detail = pn.Row(
            pn.Column(self.heading, self.reasons, self.explain, self.features,
                      self.explain_note, sizing_mode="stretch_width"),
            self.actions, sizing_mode="stretch_width")
        around = pn.Column(
            pn.pane.Markdown("#### The account and the vendor, 30 days either side",
                             margin=(10, 10, 0, 10)),
            self.timeline, self.history, sizing_mode="stretch_width")
        main = [self.figures, self.by_flag,
                pn.pane.Markdown("#### The queue, riskiest first", margin=(10, 10, 0, 10)),
                self.queue, detail, around]
        sidebar = [self.run, self.state, pn.layout.Divider(), self.flag, self.account,
                   self.vendor, self.min_risk, pn.layout.Divider(),
                   report_card(self.s, "fraud", lambda: {"run_id": self.run.value})]
        return main, sidebar


# ---- what the user sees ------------------------------------------------------------------

def _show_queue(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame(columns=["Risk", "Transaction", "Date", "Account", "Vendor",
                                     "Amount", "State", "Case", "Flags"])
    return pd.DataFrame({
        "Risk": rows["risk_score"].round(1), "Transaction": rows["transaction_id"],
        "Date": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d %H:%M"),
        "Account": rows["account"].fillna(""), "Vendor": rows["vendor"].fillna(""),
        "Amount": [money(c) for c in rows["amount_cents"]],
        "State": rows["review_state"], "Case": rows["case_id"].fillna(""),
        "Flags": [", ".join(f) for f in rows["flags"]]})


def _heading(row: dict) -> str:
    when = "" if pd.isna(row["date"]) else f"{pd.Timestamp(row['date']):%Y-%m-%d %H:%M} · "
    state = row["review_state"]
    if state == "open":
        verdict = '<span class="nx-fail">open for review</span>'
    else:
        by = f" by {html.escape(str(row['reviewed_by']))}" if row["reviewed_by"] else ""
        case = f" into case {html.escape(str(row['case_id']))}" if row["case_id"] else ""
        note = f": “{html.escape(str(row['review_note']))}”" if row["review_note"] else ""
        verdict = f'<span class="nx-pass">{state}{by}{case}</span>{note}'
    return (f"<h3 style='margin:10px 0 4px;font-size:20px;font-weight:600'>"
            f"{html.escape(str(row['transaction_id']))} · "
            f"risk {float(row['risk_score']):.1f}</h3>"
            f"<div>{when}{money(row['amount_cents'])} · account "
            f"<b>{html.escape(str(row['account'] or '–'))}</b> · vendor "
            f"<b>{html.escape(str(row['vendor'] or '–'))}</b> · {verdict}</div>")


def _reasons(row: dict) -> str:
    flags = " ".join(
        f"<span style='background:#fde2e1;color:#7f1d1d;border-radius:10px;padding:2px 9px;"
        f"margin-right:4px;font-size:12px'>{html.escape(f)}</span>" for f in row["flags"]
    ) or "<i>no flag: its risk score put it in the queue</i>"
    why = "".join(f"<li>{html.escape(r)}</li>" for r in row["reasons"])
    return (f"<div style='margin:6px 0'>{flags}</div>"
            + (f"<div><b>Why</b><ul style='margin:4px 0'>{why}</ul></div>" if why else ""))


def _explanation(row: dict, accent: str) -> tuple[Any, Any, str]:
    """The flags' chart, the features' chart and a note saying what their points are."""
    parts = row["explanation"]
    if parts is None or len(parts) == 0:
        weights = pd.DataFrame({"flag": row["flags"] or ["(none)"],
                                "weight": [1.0] * max(1, len(row["flags"]))})
        return (bar_chart(weights, "flag", "weight", "Its flags", accent, height=200), None,
                "This run was kept without what each flag added to the risk (save it with "
                "the detector to keep it): its flags are shown, each once.")
    flags = parts[parts["kind"] == "flag"]
    features = parts[parts["kind"] == "feature"].assign(
        name=lambda f: [_FEATURES.get(n, n.replace("_", " ")) for n in f["name"]])
    features = features.groupby("name", as_index=False, sort=False)["points"].sum()
    supervised = row.get("feature_points") == "probability drop"
    feature_title = ("What moved the model (probability points)" if supervised else
                     "Unusual to the model (% of its error)")
    note = ("A flag's points are the risk it adds given the other flags. "
            + ("A feature's points are how far the model's probability falls when the "
               "feature is set to its usual value." if supervised else
               "A feature's share is its part of the autoencoder's error, shown when that "
               "error is unusual (top 5%)."))
    return (bar_chart(flags, "name", "points", "Risk points each flag added", accent,
                      height=200),
            bar_chart(features, "name", "points", feature_title, "#94a3b8", height=210),
            note)


def _timeline(history: pd.DataFrame) -> Any:
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure as bokeh_figure

    cents = pd.to_numeric(history["amount_cents"], errors="coerce").fillna(0)
    log_scale = bool(len(history)) and bool((cents > 0).all())
    fig = bokeh_figure(x_axis_type="datetime", y_axis_type="log" if log_scale else "linear",
                       height=320, sizing_mode="stretch_width", toolbar_location=None,
                       title="Scored payments of the same account or vendor (the selected one "
                             "ringed in red; larger dots are riskier)")
    if len(history) == 0:
        return fig
    data = history.assign(
        amount=(cents / 100).to_numpy(), shown=[money(c) for c in history["amount_cents"]],
        flagtext=[", ".join(f) or "no flag" for f in history["flags"]],
        size=[5 + float(r) / 7 for r in history["risk_score"]])
    hover = []
    for same, color in _SAME_COLORS.items():
        part = data[data["same"] == same]
        if len(part):
            hover.append(fig.scatter(
                "date", "amount", size="size", color=color, alpha=0.7,
                legend_label=f"same {same}", source=ColumnDataSource(part[[
                    "date", "amount", "shown", "transaction_id", "risk_score", "flagtext",
                    "size"]])))
    me = data[data["this"]]
    fig.scatter(me["date"], me["amount"], size=26, fill_alpha=0, line_color="#dc2626",
                line_width=3)
    fig.add_tools(HoverTool(renderers=hover, tooltips=[
        ("", "@transaction_id"), ("date", "@date{%F %H:%M}"), ("amount", "@shown"),
        ("risk", "@risk_score{0.0}"), ("flags", "@flagtext")], formatters={"@date": "datetime"}))
    fig.yaxis.axis_label = "amount" + (" (log scale)" if log_scale else "")
    fig.add_layout(fig.legend[0], "right")
    fig.legend.click_policy = "hide"
    return fig


def _mark_selected(row: pd.Series) -> list[str]:
    """The selected transaction's row stands out in its history."""
    return ["background: #fde2e1; font-weight: 600" if row.get(" ") else "" for _ in row]


def _apart(days: float) -> str:
    """How far from the selected transaction: ``this one``, ``-5 h``, ``+12 d``."""
    if abs(days) < 1e-9:
        return "this one"
    if abs(days) < 1 / 24:
        return f"{days * 1440:+.0f} min"
    return f"{days * 24:+.0f} h" if abs(days) < 1 else f"{days:+.0f} d"


def _show_history(history: pd.DataFrame) -> pd.DataFrame:
    """The history nearest in time first (so the selected row, then its neighbours)."""
    if len(history) == 0:
        return pd.DataFrame(columns=[" ", "When", "Date", "Transaction", "Same", "Amount",
                                     "Risk", "State", "Flags"])
    dates = pd.to_datetime(history["date"])
    me = dates[history["this"].to_numpy()]
    days = (dates - me.iloc[0]).dt.total_seconds() / 86400 if len(me) else dates * 0
    history = history.assign(days=days).iloc[days.abs().argsort(kind="stable")]
    return pd.DataFrame({
        " ": ["▶" if t else "" for t in history["this"]],
        "When": [_apart(d) for d in history["days"]],
        "Date": pd.to_datetime(history["date"]).dt.strftime("%Y-%m-%d %H:%M"),
        "Transaction": history["transaction_id"],
        "Same": history["same"].replace({"account and vendor": "both"}),
        "Amount": [money(c) for c in history["amount_cents"]],
        "Risk": history["risk_score"].round(1),
        "State": history["review_state"].replace({"none": "not flagged"}),
        "Flags": [", ".join(f) for f in history["flags"]]})


def page() -> Any:
    """The fraud triage for the signed-in user (a Panel template)."""
    return guarded("fraud", lambda session: FraudView(session).layout())
