"""Executive overview: how the books, the exceptions, fraud exposure and cases stand.

Headline figures and charts over the latest periods: the reconciliation rate of each
period, the exceptions still open by age, the amount at risk in transactions flagged for
review by what flagged them, the cases by status, and month by month the transactions
flagged and the share of the bank amount reconciled. All of it is one read of
:func:`nexus_lab.workflows.overview`, which totals in the store: the page shows aggregates
only, never an account or a person.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/overview.py``).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import workflows
from nexus_lab.dashboards._charts import bars, columns, line, nothing
from nexus_lab.dashboards._layout import figure, guarded, html_pane, money, report_card
from nexus_lab.dashboards._session import Session

__all__ = ["page"]

_PERIODS = {"last 6": 6, "last 12": 12, "last 24": 24}
_CASE_COLOR = "#6d4c9f"
_RISK_COLOR = "#a8322d"


def period_label(start: Any, end: Any) -> str:
    """A period as people say it: ``Mar 2025``, ``Jan–Mar 2025``, ``3 Jan–28 Feb 2025``.

    Examples
    --------
    >>> from datetime import date
    >>> period_label(date(2025, 3, 1), date(2025, 3, 31)), period_label(
    ...     date(2025, 1, 1), date(2025, 3, 31)), period_label(date(2024, 12, 3),
    ...     date(2025, 1, 2))
    ('Mar 2025', 'Jan–Mar 2025', '3 Dec 2024–2 Jan 2025')
    """
    if not isinstance(start, date) or not isinstance(end, date) or pd.isna(start) or \
            pd.isna(end):
        return "(no period)"
    whole = start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]
    if whole and (start.year, start.month) == (end.year, end.month):
        return f"{start:%b %Y}"
    if whole and start.year == end.year:
        return f"{start:%b}–{end:%b %Y}"
    if whole:
        return f"{start:%b %Y}–{end:%b %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%b}–{end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y}–{end.day} {end:%b %Y}"


def month_label(month: str) -> str:
    """``2025-03`` as ``Mar 2025``."""
    try:
        return f"{pd.Timestamp(month + '-01'):%b %Y}"
    except ValueError:
        return month


class OverviewView:
    """The overview page for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.periods = pn.widgets.RadioButtonGroup(name="Periods", options=list(_PERIODS),
                                                   value="last 12")
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.slots = {key: pn.Column(sizing_mode="stretch_width", min_height=270)
                      for key in ("rate", "age", "exposure", "cases", "flagged", "monthly")}
        self.periods.param.watch(self.refresh, "value")
        self.refresh()

    def refresh(self, *_: Any) -> None:
        view = self.s.read(workflows.overview, periods=_PERIODS[self.periods.value])
        with pn.io.hold():  # the browser gets the whole page's change at once
            self._draw(view)

    def _draw(self, view: dict) -> None:
        self._figures(view["figures"])
        accent = self.s.accent
        by_period = view["rate_by_period"]
        self._show("rate", "Reconciliation rate by period", "No reconciliation in the store "
                   "yet.", by_period, lambda t: line(
                       [period_label(a, b) for a, b in zip(t["period_start"], t["period_end"])],
                       t["rate"].tolist(), "Reconciliation rate by period", accent,
                       name="nx-plot-rate", percent=True))
        self._show("age", "Open exceptions by age", "", view["open_by_age"], lambda t: columns(
            t["band"].tolist(), t["items"].tolist(), "Open exceptions by age (items · amount)",
            accent, name="nx-plot-age",
            text=[f"{n:,} · {money(c)}" for n, c in zip(t["items"], t["amount_cents"])]))
        self._show("exposure", "Fraud exposure", "No transaction is open for fraud review.",
                   view["exposure_by_flag"], lambda t: bars(
                       t["flag"].tolist(), (t["amount_cents"] / 100).tolist(),
                       "Fraud exposure: amount at risk by flag (transactions)", _RISK_COLOR,
                       name="nx-plot-exposure", height=270,
                       text=[f"{money(c)} ({n:,})" for c, n in zip(t["amount_cents"],
                                                                   t["rows"])]))
        self._show("cases", "Cases by status", "No case has been opened yet.",
                   view["cases_by_status"], lambda t: bars(
                       [str(x).replace("_", " ") for x in t["status"]], t["cases"].tolist(),
                       "Cases by status", _CASE_COLOR, name="nx-plot-cases", height=270))
        monthly = view["monthly"]
        flagged = monthly if monthly["flagged"].sum() > 0 else monthly.head(0)
        self._show("flagged", "Transactions flagged for review by month", "None flagged in "
                   "these months.", flagged, lambda t: columns(
                       [month_label(m) for m in t["month"]], t["flagged"].tolist(),
                       "Transactions flagged for review by month", _RISK_COLOR,
                       name="nx-plot-flagged"))
        self._show("monthly", "Share of the bank amount reconciled by month",
                   "No reconciled bank row has a date.",
                   monthly.dropna(subset=["reconciled_rate"]), lambda t: line(
                       [month_label(m) for m in t["month"]], t["reconciled_rate"].tolist(),
                       "Share of the bank amount reconciled by month", accent,
                       name="nx-plot-monthly-rate", percent=True))

    def _show(self, slot: str, title: str, why: str, table: pd.DataFrame,
              draw: Callable[[pd.DataFrame], Any]) -> None:
        # a chart with nothing to draw gives way to a note saying so
        self.slots[slot].objects = [
            pn.pane.Bokeh(draw(table), sizing_mode="stretch_width") if len(table) else
            nothing(title, why)]

    def _figures(self, f: dict) -> None:
        rate = "–" if f["rate"] is None else f"{100 * f['rate']:.1f}%"
        period = (period_label(f["period_start"], f["period_end"])
                  if f["period_end"] is not None else "no period yet")
        self.figures.objects = [
            figure("Reconciled", rate, f"latest period: {period}"),
            figure("Open exceptions", f"{f['open_items']:,}",
                   f"{money(f['open_cents'])} still to explain at {f['as_of']:%d %b %Y}"),
            figure("Fraud exposure", money(f["at_risk_cents"]),
                   f"{f['flagged_open']:,} transactions open for review"),
            figure("Open cases", f"{f['open_cases']:,}", f"of {f['cases']:,} cases"),
        ]

    def layout(self) -> tuple[list, list]:
        grid = [pn.Row(self.slots[a], self.slots[b], sizing_mode="stretch_width")
                for a, b in (("rate", "age"), ("exposure", "cases"), ("flagged", "monthly"))]
        note = html_pane(
            "<p class='nx-muted'>Totals over the whole store. A period reconciled more than "
            "once counts with its latest run; amounts are absolute values; an exception's "
            "age runs from its date to the end of the latest period.</p>",
            sizing_mode="stretch_width")
        return ([self.figures, *grid],
                [pn.pane.Markdown("**Periods shown**"), self.periods, note,
                 pn.layout.Divider(), report_card(self.s, "executive")])


def page() -> Any:
    """The executive overview for the signed-in user (a Panel template)."""
    return guarded("overview", lambda session: OverviewView(session).layout())
