"""Data quality: a score per source, what each check found, and the standardization report.

Each file ingested into the bank statements or the books is a source. The page shows, a
page of sources at a time, each one's quality score (0-100) and its five dimensions
(completeness, validity, uniqueness, consistency, timeliness) as
:func:`nexus_lab.workflows.source_quality` computes them on the rows it wrote; selecting a
source lists its checks and how many rows failed each, and opens its standardization
report (:func:`nexus_lab.workflows.source_report`: what standardizing would change, the
suspected duplicates, the failing rows of each rule), shown in a sandboxed frame.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/quality.py``).
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import workflows
from nexus_lab.dashboards._charts import bars, nothing
from nexus_lab.dashboards._layout import PagedTable, figure, guarded, html_pane, report_card
from nexus_lab.dashboards._session import Session
from nexus_lab.standardize import DIMENSIONS

__all__ = ["page"]

_TABLES = {"bank_statements": "bank statement", "expenses": "books"}
_PAGE = 10
_WIDTHS = {"Source": 190, "Holds": 140, "Ingested": 115, "Rows": 75, "Score": 70,
           "Complete": 95, "Valid": 70, "Unique": 80, "Consistent": 110, "Timely": 75,
           "Failing": 90}


def _score(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1f}"


def source_name(row: pd.Series) -> str:
    """How a source is named on the page: its file and what it holds."""
    return f"{row['source']} ({_TABLES.get(row['table'], row['table'])} #{row['batch_id']})"


class QualityView:
    """The data quality page for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.chart = pn.Column(sizing_mode="stretch_width")
        self.sources = PagedTable(self._fetch, sorts={}, sort="newest", page_size=_PAGE,
                                  show=_show_sources, name="sources", height=380,
                                  layout="fit_data_stretch", widths=_WIDTHS,
                                  # the newest first: the server decides the order
                                  configuration={"columnDefaults": {"headerSort": False}})
        self.checks_title = html_pane("<i>Select a source to see its checks.</i>",
                                      css_classes=["nx-muted"])
        self.checks = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, sizing_mode="stretch_width",
            height=300, name="checks", css_classes=["nx-table-checks"],
            layout="fit_data_stretch")
        self.show_report = pn.widgets.Button(name="Show the standardization report",
                                             button_type="primary", disabled=True,
                                             css_classes=["nx-report"])
        self.report = pn.pane.HTML("", sizing_mode="stretch_width", min_height=80)
        self.show_report.on_click(self._do_report)
        self.sources.table.param.watch(self._selected, "selection")
        self.sources.refresh()
        if len(self.sources.rows):
            self.sources.table.selection = [0]

    # ---- reading ------------------------------------------------------------------------
    def _fetch(self, offset: int, limit: int, _sort: str, _descending: bool
               ) -> tuple[pd.DataFrame, int]:
        found = self.s.read(workflows.source_quality, offset=offset, limit=limit)
        total = int(found.attrs.get("total", len(found)))
        self._show_page(found, total)
        self.sources.table.height = 60 + 40 * max(1, len(found))
        return found, total

    def _show_page(self, rows: pd.DataFrame, total: int) -> None:
        scored = rows.dropna(subset=["score"])
        if len(scored) == 0:
            self.figures.objects = [figure("Sources", f"{total:,}", "files ingested into the "
                                           "bank statements and the books")]
            self.chart.objects = [nothing("Quality score by source", "No source with rows "
                                          "to score yet: ingest a bank statement or the "
                                          "books (nexus-lab ingest FILE).")]
            return
        worst = scored.loc[scored["score"].idxmin()]
        failing = int((scored["failing_rules"] > 0).sum())
        mean = float((scored["score"] * scored["rows_checked"]).sum()
                     / max(1, scored["rows_checked"].sum()))
        self.figures.objects = [
            figure("Sources", f"{total:,}", f"the {len(rows):,} newest shown"),
            figure("Quality score", f"{mean:.1f}", "over their rows, out of 100"),
            figure("Lowest score", _score(worst["score"]), source_name(worst)),
            figure("Sources failing a check", f"{failing:,}", f"of {len(scored):,} shown"),
        ]
        self.chart.objects = [pn.pane.Bokeh(bars(
            [source_name(r) for _, r in scored.iterrows()], scored["score"].tolist(),
            "Quality score by source (0-100)", self.s.accent, name="nx-plot-quality",
            text=[_score(v) for v in scored["score"]]), sizing_mode="stretch_width")]

    # ---- reacting -----------------------------------------------------------------------
    def _selected(self, *_: Any) -> None:
        row = self.sources.selected()
        self.report.object = ""
        if row is None:
            self.show_report.disabled = True
            self.checks_title.object = "<i>Select a source to see its checks.</i>"
            self.checks.value = pd.DataFrame()
            return
        self.show_report.disabled = False
        checks = row["checks"]
        failing = int((checks["failing_rows"] > 0).sum()) if len(checks) else 0
        self.checks_title.object = (
            f"<b>{html.escape(source_name(row))}</b>: score {_score(row['score'])} · "
            f"{failing} of {len(checks)} checks found rows to fix · "
            f"{int(row['rows_checked']):,} rows checked")
        self.checks.value = _show_checks(checks)
        self.checks.height = 60 + 40 * min(max(1, len(checks)), 16)

    def _do_report(self, _event: Any) -> None:
        row = self.sources.selected()
        if row is None:
            self.s.notify("Select a source first.", "warning")
            return
        self.report.loading = True
        try:
            page = self.s.act(workflows.source_report, int(row["batch_id"]))
        finally:
            self.report.loading = False
        if page is None:
            return
        # the report is a page of its own: a sandboxed frame runs no script and reaches
        # nothing of this page
        self.report.object = (
            f'<iframe sandbox="" title="Standardization report" class="nx-report-frame" '
            f'srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:720px;'
            'border:1px solid #d9dee7;border-radius:8px;background:#fff"></iframe>')

    # ---- the page -----------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        detail = pn.Column(self.checks_title, self.checks, self.show_report,
                           sizing_mode="stretch_width")
        main = [self.figures, self.chart, self.sources, detail, self.report]
        sidebar = [html_pane(
            "<p class='nx-muted'>Each source is scored against its data contract: every row "
            "needs an id, a date, an amount that is not zero and a description; the same id "
            "twice, or the same date, amount and description twice, is a duplicate; a "
            "vendor keeps one category, an account one currency; dates are within a year of "
            "the latest. The score weighs completeness 25%, validity 30%, uniqueness 20%, "
            "consistency 15% and timeliness 10%.</p>")]
        sidebar += [pn.layout.Divider(), report_card(self.s, "audit_trail")]
        return main, sidebar


#: The dimensions as the sources' table heads them.
_HEADS = {"completeness": "Complete", "validity": "Valid", "uniqueness": "Unique",
          "consistency": "Consistent", "timeliness": "Timely"}
_TYPES = {"str": "text", "datetime64[ns]": "a date", "float64": "a number",
          "int64": "a whole number"}


def plain_rule(rule: str) -> str:
    """A built-in rule's name in plain words (others as they are).

    Examples
    --------
    >>> plain_rule("amount: not_equal_to(0)"), plain_rule("date: coerce_dtype('datetime64[ns]')")
    ('amount is not zero', 'date is a date')
    >>> plain_rule("consistent_by(category, by=vendor)")
    'one category per vendor'
    """
    column, _, check = rule.partition(": ")
    if not check:
        if rule.startswith("consistent_by(") and ", by=" in rule:
            what, by = rule[len("consistent_by("):-1].split(", by=")
            return f"one {what} per {by}"
        return "no row repeated (same date, amount and description)" if \
            rule == "duplicate rows" else rule
    name = check.split("(", 1)[0]
    inside = check[len(name) + 1:-1].strip("'") if "(" in check else ""
    if name == "not_nullable":
        return f"{column} is filled"
    if name == "field_uniqueness":
        return f"{column} is never repeated"
    if name in ("coerce_dtype", "dtype"):
        return f"{column} is {_TYPES.get(inside, inside)}"
    if name == "not_equal_to":
        return f"{column} is not {'zero' if inside == '0' else inside}"
    if name == "max_age_days":
        days, _, as_of = inside.partition(", as_of=")
        return f"{column} within {days} days up to {as_of}" if as_of else \
            f"{column} within {days} days"
    if name == "str_matches":
        return f"{column} matches {inside}"
    return rule


def _show_sources(rows: pd.DataFrame) -> pd.DataFrame:
    names = ["Source", "Holds", "Ingested", "Rows", "Score", *_HEADS.values(), "Failing"]
    if len(rows) == 0:
        return pd.DataFrame(columns=names)
    out = pd.DataFrame({
        "Source": rows["source"], "Holds": [_TABLES.get(t, t) for t in rows["table"]],
        "Ingested": [f"{pd.Timestamp(t):%Y-%m-%d}" for t in rows["ingested_at"]],
        "Rows": [f"{n:,}" for n in rows["rows_written"]],
        "Score": [_score(v) for v in rows["score"]]})
    for d in DIMENSIONS:
        out[_HEADS[d]] = [_score(v) for v in rows[d]]
    out["Failing"] = [f"{f} of {n}" for f, n in zip(rows["failing_rules"],
                                                           rows["rules"])]
    return out


def _show_checks(checks: pd.DataFrame) -> pd.DataFrame:
    if len(checks) == 0:
        return pd.DataFrame(columns=["Check", "Dimension", "Rows failing", "Result", "Rule"])
    checks = checks.sort_values("failing_rows", ascending=False, kind="stable")
    return pd.DataFrame({
        "Check": [plain_rule(r) for r in checks["rule"]], "Dimension": checks["dimension"],
        "Rows failing": [f"{int(n):,}" for n in checks["failing_rows"]],
        "Result": ["passed" if n == 0 else "to fix" for n in checks["failing_rows"]],
        "Rule": checks["rule"]})


def page() -> Any:
    """The data quality dashboard for the signed-in user (a Panel template)."""
    return guarded("quality", lambda session: QualityView(session).layout())
