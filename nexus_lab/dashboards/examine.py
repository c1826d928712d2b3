"""Audit analytics: the batteries of audit tests run on general ledgers, what each found,
and a new run.

The recorded batteries come from the store (:func:`nexus_lab.workflows.examination_runs`),
a page at a time, newest first: who ran them, when, on which data (its file, lines and
fingerprint), and their verdicts. A selected battery lists its tests with their verdicts,
findings and key facts; a selected test shows its recorded summary, its plot and its
tables (from the run's output folder), and "Replay" runs it again on its data
(:func:`nexus_lab.workflows.replay_examination`) and says whether it gives the recorded
result. The signed workpaper downloads with its signature and the signer's key.

"Run the battery" examines a general ledger picked from the data folder or uploaded
(:func:`nexus_lab.workflows.examine_ledger`, as the signed-in user: it needs
``examine.run``, and records every test); its outputs go to the reports folder.

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/examine.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import config, workflows
from nexus_lab.dashboards._layout import PagedTable, figure, guarded, html_pane
from nexus_lab.dashboards._session import Session
from nexus_lab.errors import NexusError
from nexus_lab.examine import EXAMINE_TESTS, key_facts

__all__ = ["page"]

_PAGE = 10
_TABLE_ROWS = 200  # rows of a test's table sent to the browser
_SUFFIXES = (".csv", ".parquet", ".xlsx", ".tsv", ".txt")
_WIDTHS = {"When": 150, "By": 90, "Data": 200, "Lines": 80, "Period end": 100, "Tests": 60,
           "With findings": 110}


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp
    return f"{stamp:%Y-%m-%d %H:%M}"


def _name(source: Any) -> str:
    return "a frame" if source is None or pd.isna(source) else Path(str(source)).name


def _verdicts(verdicts: dict) -> str:
    counts: dict[str, int] = {}
    for v in verdicts.values():
        counts[v or "descriptive"] = counts.get(v or "descriptive", 0) + 1
    return " · ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


class ExamineView:
    """The audit analytics page for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.tests_rows = pd.DataFrame()
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.runs = PagedTable(self._fetch, sorts={}, sort="newest", page_size=_PAGE,
                               show=_show_runs, name="batteries", height=330,
                               layout="fit_data_stretch", widths=_WIDTHS,
                               configuration={"columnDefaults": {"headerSort": False}})
        self.heading = html_pane("<i class='nx-muted'>Select a battery to see its tests.</i>",
                                 sizing_mode="stretch_width")
        self.tests = pn.widgets.Tabulator(
            pd.DataFrame(), show_index=False, disabled=True, selectable=1, height=300,
            sizing_mode="stretch_width", name="tests", css_classes=["nx-table-tests"],
            layout="fit_data_stretch", configuration={"columnDefaults": {"headerSort": False}})
        self.detail = html_pane("", sizing_mode="stretch_width")
        self.plot = html_pane("", sizing_mode="stretch_width")
        self.tables = pn.Column(sizing_mode="stretch_width")
        self.replay = pn.widgets.Button(name="Replay this test", button_type="primary",
                                        disabled=True, css_classes=["nx-replay"])
        self.replayed = html_pane("", sizing_mode="stretch_width")
        self.replay.on_click(self._do_replay)
        self.downloads = pn.Column(sizing_mode="stretch_width")
        self._run_form()
        self.runs.table.param.watch(self._battery_selected, "selection")
        self.tests.param.watch(self._test_selected, "selection")
        self.runs.refresh()
        if len(self.runs.rows):
            _select_first(self.runs.table, self._battery_selected)

    # ---- reading ------------------------------------------------------------------------
    def _fetch(self, offset: int, limit: int, _sort: str, _descending: bool
               ) -> tuple[pd.DataFrame, int]:
        found = self.s.read(workflows.examination_runs, offset=offset, limit=limit)
        total = int(found.attrs.get("total", len(found)))
        self._figures(found, total)
        self.runs.table.height = 60 + 40 * max(1, len(found))
        return found, total

    def _figures(self, rows: pd.DataFrame, total: int) -> None:
        if not total:
            self.figures.objects = [figure("Batteries run", "0", "none recorded yet: run one "
                                           "from the side bar")]
            return
        latest = rows.iloc[0]
        self.figures.objects = [
            figure("Batteries run", f"{total:,}", "recorded in the store"),
            figure("Latest", _when(latest["created_at"]), f"by {latest['created_by']} on "
                   f"{_name(latest['data_source'])}"),
            figure("Tests with findings", f"{int(latest['with_findings']):,}",
                   f"of {int(latest['tests']):,} in the latest battery"),
            figure("Lines examined", f"{int(latest['data_rows']):,}",
                   f"period ending {latest['period_end']:%Y-%m-%d}"
                   if pd.notna(latest["period_end"]) else ""),
        ]

    # ---- reacting -----------------------------------------------------------------------
    def _battery_selected(self, *_: Any) -> None:
        row = self.runs.selected()
        self._clear_test()
        if row is None:
            self.heading.object = "<i class='nx-muted'>Select a battery to see its tests.</i>"
            self.tests.value = pd.DataFrame()
            self.downloads.objects = []
            return
        self.tests_rows = self.s.read(workflows.examinations, battery_id=row["battery_id"])
        self.heading.object = (
            f"<b>Battery {html.escape(row['battery_id'][:12])}</b> · run by "
            f"{html.escape(str(row['created_by']))} at {_when(row['created_at'])} UTC on "
            f"<code>{html.escape(_name(row['data_source']))}</code> "
            f"({int(row['data_rows']):,} lines, sha256 <code>"
            f"{html.escape(str(row['data_sha256'])[:16])}…</code>) · {int(row['tests'])} "
            f"tests, {int(row['with_findings'])} with findings")
        self.tests.value = _show_tests(self.tests_rows)
        self.tests.height = 60 + 36 * min(max(1, len(self.tests_rows)), 16)
        self.downloads.objects = _downloads(row["workpaper"])
        if len(self.tests_rows):
            _select_first(self.tests, self._test_selected)

    def _clear_test(self) -> None:
        self.detail.object = ""
        self.plot.object = ""
        self.tables.objects = []
        self.replayed.object = ""
        self.replay.disabled = True

    def _test(self) -> pd.Series | None:
        chosen = self.tests.selection
        if not chosen or chosen[0] >= len(self.tests_rows):
            return None
        return self.tests_rows.iloc[chosen[0]]

    def _test_selected(self, *_: Any) -> None:
        self._clear_test()
        row = self._test()
        if row is None:
            return
        summary = dict(row["summary"] or {})
        params = ", ".join(f"{k}={v!r}" for k, v in (row["params"] or {}).items())
        facts = "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>"
                        f"{html.escape(_fact(v))}</td></tr>" for k, v in summary.items()
                        if k not in ("test", "verdict", "warnings"))
        notes = "".join(f"<p class='nx-fail'>Warning: {html.escape(str(n))}</p>"
                        for n in summary.get("warnings") or [])
        self.detail.object = (
            f"<h3 style='margin:8px 0 4px'>{html.escape(row['name'])}: "
            f"{html.escape(row['verdict'] or 'descriptive')}</h3>"
            f"<div class='nx-muted'>record <code>{html.escape(row['examination_id'])}</code>"
            f" · <code>nexus_lab.examine.{html.escape(row['test'])}(data, "
            f"{html.escape(params)})</code></div>{notes}"
            f"<table class='nx-facts'>{facts}</table>")
        folder = _folder(row["workpaper"], row["name"])
        if folder is not None:
            svg = folder / "plot.svg"
            if svg.is_file():
                self.plot.object = _framed(svg.read_text(encoding="utf-8"), row["name"])
            parts = []
            for path in sorted(folder.glob("*.parquet")):
                frame = pd.read_parquet(path)
                parts += [html_pane(f"<b>{html.escape(path.stem)}</b> <span class='nx-muted'>"
                                    f"({len(frame):,} rows"
                                    + (f", the first {_TABLE_ROWS}" if len(frame) >
                                       _TABLE_ROWS else "") + ")</span>"),
                          pn.widgets.Tabulator(
                              frame.head(_TABLE_ROWS), show_index=False, disabled=True,
                              height=60 + 30 * min(max(1, len(frame)), 10),
                              sizing_mode="stretch_width", layout="fit_data_stretch",
                              name=f"table {path.stem}",
                              css_classes=[f"nx-table-{row['name']}-{path.stem}"])]
            self.tables.objects = parts
        source = row["data_source"]
        self.replay.disabled = not (isinstance(source, str) and Path(source).is_file())
        if self.replay.disabled:
            self.replayed.object = ("<span class='nx-muted'>The data it ran on is not on this "
                                    "server: it cannot be replayed here.</span>")

    def _do_replay(self, _event: Any) -> None:
        row = self._test()
        if row is None:
            return
        self.replay.loading = True
        try:
            done = self.s.act(workflows.replay_examination, row["examination_id"],
                              row["data_source"])
        finally:
            self.replay.loading = False
        if done is None:
            return
        css = "nx-pass" if done.matches and done.data_matches else "nx-fail"
        self.replayed.object = (f"<p class='{css} nx-replayed'>{html.escape(done.verdict)}"
                                f"</p>" + "".join(
                                    f"<div class='nx-muted'>{html.escape(k)}: recorded "
                                    f"{html.escape(repr(a))}, now {html.escape(repr(b))}</div>"
                                    for k, (a, b) in list(done.differences.items())[:8]))

    # ---- running ------------------------------------------------------------------------
    def _run_form(self) -> None:
        allowed = self.s.can("examine.run")
        files = _data_files()
        self.pick = pn.widgets.Select(name="General ledger (data folder)",
                                      options={"(upload one below)": ""} | {
                                          p.name: str(p) for p in files},
                                      value=next((str(p) for p in files if p.name == "gl.csv"),
                                                 ""))
        self.upload = pn.widgets.FileInput(accept=",".join(_SUFFIXES), multiple=False,
                                           name="or upload a ledger")
        # an uploaded ledger is the one examined: the picker says so
        self.upload.param.watch(lambda e: e.new and setattr(self.pick, "value", ""), "value")
        self.events = pn.widgets.Select(name="ERP events (segregation of duties)",
                                        options={"(none)": ""} | {p.name: str(p)
                                                                  for p in files},
                                        value=next((str(p) for p in files
                                                    if "event" in p.name), ""))
        self.period_end = pn.widgets.TextInput(name="Period end (empty: the latest date)",
                                               placeholder="YYYY-MM-DD")
        self.which = pn.widgets.TextInput(name="Tests (all, or names separated by commas)",
                                          value="all", placeholder=", ".join(EXAMINE_TESTS))
        self.run = pn.widgets.Button(name="Run the battery", button_type="primary",
                                     css_classes=["nx-run"])
        self.run.on_click(self._do_run)
        self.run_note = html_pane("", css_classes=["nx-muted"])
        # without the permission the form is not shown; the service refuses a forged click
        parts = (self.pick, self.upload, self.events, self.period_end, self.which, self.run,
                 self.run_note)
        for part in parts:
            part.sizing_mode = "stretch_width"
        self.run_card = pn.Card(*parts, title="Run the battery", collapsible=False,
                                sizing_mode="stretch_width", visible=allowed)

    def _do_run(self, _event: Any) -> None:
        try:
            path = self._uploaded() if self.upload.value else self.pick.value
        except NexusError as err:
            self.s.notify(str(err), "warning")
            return
        if not path:
            self.s.notify("Pick a general ledger from the data folder, or upload one.",
                          "warning")
            return
        out = config.reports_folder() / "examinations" / (
            f"{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}")
        self.run.loading = True
        try:
            run = self.s.act(workflows.examine_ledger, path,
                             period_end=self.period_end.value.strip() or None,
                             tests=self.which.value.strip() or "all",
                             events=self.events.value or None, out=out,
                             sign=bool(config.settings().key_password),
                             done="The battery ran; every test is recorded.")
        finally:
            self.run.loading = False
        if run is None:
            return
        self.upload.value = None
        self.run_note.object = (f"battery <code>{html.escape(run.battery_id[:12])}</code>: "
                                f"{len(run.battery)} tests, "
                                f"{len(run.battery.summary()['with_findings'])} with findings")
        self.runs.refresh()
        if len(self.runs.rows):
            _select_first(self.runs.table, self._battery_selected)

    def _uploaded(self) -> str:
        """The uploaded file, kept in the reports folder's uploads (its name prefixed with
        its digest) so that its tests can be replayed later."""
        name = Path(self.upload.filename or "upload.csv").name
        if Path(name).suffix.lower() not in _SUFFIXES:
            raise NexusError(f"{name}: upload a CSV, Parquet or Excel file")
        data = self.upload.value
        folder = config.reports_folder() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(data).hexdigest()[:12]}-{name}"
        if not path.exists():
            path.write_bytes(data)
        return str(path)

    # ---- the page -----------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        main = [self.figures, self.runs, self.heading, self.tests, self.detail,
                pn.Row(self.replay, self.replayed, sizing_mode="stretch_width"), self.plot,
                self.tables]
        sidebar = [self.run_card, pn.layout.Divider(),
                   html_pane("<b>Workpaper of the selected battery</b>"), self.downloads,
                   html_pane(
                       "<p class='nx-muted'>Each test is recorded with who ran it, the "
                       "SHA-256 of the data, its exact parameters and its result: Replay "
                       "runs it again and says whether it gives the recorded result.</p>")]
        return main, sidebar


def _select_first(table: pn.widgets.Tabulator, selected: Any) -> None:
    """Select a table's first row, and show it even when it was selected already (a new
    selection equal to the old one calls no watcher)."""
    if table.selection == [0]:
        selected()
    else:
        table.selection = [0]


def _fact(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:200]
    return str(value)


def _folder(workpaper: Any, name: str) -> Path | None:
    """The output folder's ``tables/<name>`` of a battery, when it is on this server."""
    if not isinstance(workpaper, str) or not workpaper:
        return None
    folder = Path(workpaper).parent / "tables" / name
    return folder if folder.is_dir() else None


def _framed(svg: str, title: str) -> str:
    """A plot in a sandboxed frame: whatever the file holds, nothing in it runs."""
    page = (f"<!DOCTYPE html><html><body style='margin:0'>{svg}</body></html>")
    return (f'<iframe sandbox="" title="{html.escape(title)} plot" class="nx-plot-frame" '
            f'srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:330px;'
            'border:1px solid #d9dee7;border-radius:8px;background:#fff"></iframe>')


def _downloads(workpaper: Any) -> list:
    if not isinstance(workpaper, str) or not Path(workpaper).is_file():
        return [html_pane("<span class='nx-muted'>No workpaper on this server.</span>")]
    html_file = Path(workpaper)
    items = []
    for path, label in ((html_file, "Workpaper (HTML)"),
                        (html_file.with_suffix(".xlsx"), "Workpaper (Excel)"),
                        (html_file.with_name(html_file.name + ".sig"), "Signature (HTML)"),
                        (html_file.with_suffix(".xlsx.sig"), "Signature (Excel)"),
                        *((p, "Signer's public key") for p in
                          sorted(html_file.parent.glob("*.nxpub"))[:1])):
        if path.is_file():
            items.append(pn.widgets.FileDownload(file=str(path), filename=path.name,
                                                 label=label, embed=False,
                                                 button_type="light",
                                                 sizing_mode="stretch_width"))
    return items


def _data_files() -> list[Path]:
    folder = workflows.DATA
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)


def _show_runs(rows: pd.DataFrame) -> pd.DataFrame:
    names = ["When", "By", "Data", "Lines", "Period end", "Tests", "With findings", "Verdicts"]
    if len(rows) == 0:
        return pd.DataFrame(columns=names)
    return pd.DataFrame({
        "When": [_when(t) for t in rows["created_at"]], "By": rows["created_by"],
        "Data": [_name(s) for s in rows["data_source"]],
        "Lines": [f"{int(n):,}" for n in rows["data_rows"]],
        "Period end": ["" if pd.isna(d) else f"{pd.Timestamp(d):%Y-%m-%d}"
                       for d in rows["period_end"]],
        "Tests": rows["tests"].astype(int), "With findings": rows["with_findings"].astype(int),
        "Verdicts": [_verdicts(v) for v in rows["verdicts"]]})


def _show_tests(rows: pd.DataFrame) -> pd.DataFrame:
    names = ["Test", "Verdict", "Findings", "Key facts", "Function"]
    if len(rows) == 0:
        return pd.DataFrame(columns=names)
    return pd.DataFrame({
        "Test": rows["name"], "Verdict": rows["verdict"].fillna("–"),
        "Findings": ["–" if pd.isna(f) else f"{int(f):,}" for f in rows["findings"]],
        "Key facts": [key_facts(dict(s or {})) for s in rows["summary"]],
        "Function": rows["test"]})


def page() -> Any:
    """The audit analytics dashboard for the signed-in user (a Panel template)."""
    return guarded("examine", lambda session: ExamineView(session).layout())
