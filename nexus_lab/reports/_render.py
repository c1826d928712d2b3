"""A report's :class:`~nexus_lab.reports._tables.Document` as HTML (a Jinja2 template per
kind, autoescaped), PDF (WeasyPrint, from that same HTML), Excel (xlsxwriter) or CSV.

The template of a kind chooses the sections a role sees; the Excel and CSV files hold
exactly the tables the template showed, in its order.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import pandas as pd

from nexus_lab._html import visible
from nexus_lab.errors import DependencyError
from nexus_lab.files import spreadsheet_safe
from nexus_lab.reports._html import _CSS
from nexus_lab.reports._tables import KINDS, TEXT_KINDS, Document, Table, flat, show, stamp

_EXTRA_CSS = """
@page { size: A4; margin: 13mm 11mm 16mm;
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8.5px;
                  color: #5c6673; font-family: "DejaVu Sans", Arial, sans-serif; }
  @bottom-left { content: "NEXUS Lab · signed report"; font-size: 8.5px; color: #5c6673;
                 font-family: "DejaVu Sans", Arial, sans-serif; } }
.right { text-align: right; }
.mono, td.id { font-family: "DejaVu Sans Mono", "SFMono-Regular", Consolas, monospace; }
.mono { font-size: 10.5px; }
th.n, th.d { white-space: normal; }
th.hash { font-family: inherit; font-size: inherit; color: inherit; }
td.hash { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 10px;
          color: var(--muted); white-space: nowrap; }
td { overflow-wrap: break-word; }
td.acct { white-space: normal; overflow-wrap: anywhere; min-width: 9ch; }
table.wide { font-size: 10px; }
table.wide td, table.wide th { padding: 3px 5px; }
tbody.record { break-inside: avoid; page-break-inside: avoid; }
table.detailed tr.detail td { border-bottom: 1px solid var(--rule); color: var(--muted);
                              font-size: 10.5px; padding: 0 7px 5px 18px; }
table.detailed tbody.record tr:first-child td { border-bottom: none; }
p.note { break-after: avoid; page-break-after: avoid; }
p.empty { color: var(--muted); font-style: italic; margin: 4px 0 10px; }
section.part { margin-bottom: 6px; }
table.facts { width: auto; }
table.facts th { text-align: left; padding-right: 18px; color: var(--muted); font-weight: 600;
                 background: none; border-bottom: 1px solid var(--rule); white-space: nowrap; }
.verdict { border: 1px solid var(--rule); border-left: 6px solid var(--warn);
           background: #fff7ed; padding: 10px 16px; margin: 0 0 14px; border-radius: 4px; }
.verdict.ok { border-left-color: var(--good); background: #f1f8f2; }
.verdict.failed { border-left-color: var(--bad); background: #fdf1f0; }
.verdict .say { font-size: 17px; font-weight: 700; }
.verdict.ok .say { color: var(--good); } .verdict.failed .say { color: var(--bad); }
.verdict p { margin: 4px 0 0; }
.verdict.none { border-left-color: var(--muted); background: var(--panel); }
.verdict.none .say { color: var(--muted); }
p.warn-note { color: var(--warn); font-weight: 600; }
figure.plot { margin: 8px 0 10px; }
figure.bars { margin: 6px 0 10px; }
footer p { margin: 2px 0; }
"""


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """The templates' Jinja2 environment: autoescaped, every undefined name an error,
    bidirectional controls in the data shown as ``[U+XXXX]``."""
    import jinja2
    from markupsafe import Markup

    def finalize(value: object) -> object:
        if isinstance(value, str) and not isinstance(value, Markup):
            return visible(value)
        return "" if value is None else value

    return jinja2.Environment(
        loader=jinja2.PackageLoader("nexus_lab.reports", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, finalize=finalize,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def html(doc: Document, role: str, context: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The page, and the keys of the tables it shows (in order)."""
    from markupsafe import Markup

    shown: list[str] = []
    page = environment().get_template(f"{doc.kind}.html.j2").render(
        doc=doc, role=role, shown=shown, css=Markup(_CSS + _EXTRA_CSS), **context)
    return page, list(dict.fromkeys(shown))


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    from nexus_lab.errors import NexusError

    raise NexusError(f"a report fetches nothing, but its page asked for {url[:80]!r}")


def pdf(page: str) -> bytes:
    """The PDF WeasyPrint lays out from ``page`` (A4, nothing fetched)."""
    try:
        import weasyprint
    except (ImportError, OSError) as err:  # OSError: Pango is missing
        raise DependencyError(
            f"PDF reports need WeasyPrint and the Pango library ({err}): pip install "
            "weasyprint; on Debian or Ubuntu apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0; or choose html, xlsx or csv") from None
    # WeasyPrint warns of each CSS property it does not lay out (those for browsers'
    # print dialogs): the page is written for both, so those warnings say nothing
    quiet = logging.getLogger("weasyprint")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return weasyprint.HTML(string=page, url_fetcher=_no_fetch).write_pdf()
    finally:
        quiet.setLevel(level)


def _sheet_name(title: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", " ", title).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _safe_texts(values: list[object]) -> list[object]:
    """Text cells a spreadsheet would run as formulas, neutralized."""
    column = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    return spreadsheet_safe(column)["v"].tolist()


def _text_values(t: Table, key: str, kind: str) -> list[object]:
    values = t.frame[key].tolist() if key in t.frame else [None] * len(t.frame)
    return _safe_texts([flat(v, kind) for v in values])


def summary_rows(doc: Document, context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The report's facts as label and value, for the Excel summary sheet and the CSV
    ``summary.csv``."""
    rows = [("Report", doc.title), ("Scope", doc.scope), ("Role", context["role_title"]),
            ("Period", context["period"]), ("Generated", context["generated"]),
            ("Generated by", context["generated_by"]), ("Report id", context["report_id"]),
            ("Signed by", f"{context['signer']} ({context['fingerprint']})"),
            ("Store", context["store"])]
    if doc.verdict:
        rows += [("Verification", doc.verdict[1]), ("Detail", doc.verdict[2])]
    rows += [(k, str(v)) for k, v, _ in doc.facts] + [(k, v) for k, v in doc.kpis]
    rows.append(("Masking", context["masking"]))
    return rows


def xlsx(doc: Document, shown: list[str], context: Mapping[str, Any]) -> bytes:
    """A workbook: a summary sheet, then one sheet per table shown, with typed columns
    (dates as dates, money as numbers in a currency format), a frozen header, an
    autofilter and widths to fit."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "remove_timezone": True,
                                     "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    book.set_properties({"title": f"{doc.title} ({context['period']})", "author": "NEXUS Lab",
                         "comments": f"report {context['report_id']}"})
    head = book.add_format({"bold": True, "bg_color": "#F4F6F9", "bottom": 2,
                            "text_wrap": True, "valign": "top"})
    title = book.add_format({"bold": True, "font_size": 14, "font_color": "#1F4E79"})
    muted = book.add_format({"italic": True, "font_color": "#5C6673"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    formats = {kind: book.add_format({"num_format": fmt, "valign": "top"})
               for kind, (_, fmt) in KINDS.items() if fmt}
    taken: set[str] = set()

    sheet = book.add_worksheet(_sheet_name("Summary", taken))
    sheet.write_string(0, 0, doc.title, title)
    rows = summary_rows(doc, context)
    for r, (label, value) in enumerate(rows, start=2):
        sheet.write_string(r, 0, label, head)
        sheet.write_string(r, 1, _safe_texts([value])[0], wrap)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 90)

    for key in shown:
        t = doc.tables[key]
        ws = book.add_worksheet(_sheet_name(t.title, taken))
        widths = [min(max(len(c.label), 8), 40) for c in t.cols]
        for j, c in enumerate(t.cols):
            ws.write_string(0, j, c.label, head)
            if c.kind in TEXT_KINDS:
                values = _text_values(t, c.key, c.kind)
                for i, v in enumerate(values, start=1):
                    if v is None:
                        continue
                    ws.write_string(i, j, str(v), wrap if c.kind == "text" else None)
                    widths[j] = max(widths[j], min(len(str(v)), 60))
                continue
            raw = t.frame[c.key].tolist() if c.key in t.frame else [None] * len(t.frame)
            fmt = formats[c.kind]
            for i, v in enumerate(raw, start=1):
                if c.kind in ("date", "datetime"):
                    when = stamp(v, c.kind)
                    if when is not None:
                        ws.write_datetime(i, j, when, fmt)
                    continue
                value = flat(v, c.kind)
                if value is None:
                    continue
                number = int(v) / 100 if c.kind == "money" else value  # type: ignore[call-overload]
                ws.write_number(i, j, number, fmt)  # type: ignore[arg-type]
                widths[j] = max(widths[j], len(show(v, c.kind)) + 2)
        if c_dates := [j for j, c in enumerate(t.cols) if c.kind in ("date", "datetime")]:
            for j in c_dates:
                widths[j] = max(widths[j], 11 if t.cols[j].kind == "date" else 17)
        for j, w in enumerate(widths):
            ws.set_column(j, j, w + 1)
        ws.freeze_panes(1, 0)
        last = max(len(t.frame), 1)
        ws.autofilter(0, 0, last, len(t.cols) - 1)
        if t.is_empty:
            ws.write_string(1, 0, t.empty, muted)
        if t.footer:
            r = len(t.frame) + 1
            for j, c in enumerate(t.cols):
                v = t.footer.get(c.key)
                if v is None:
                    continue
                if c.kind == "money":
                    ws.write_number(r, j, int(v) / 100, formats["money"])
                elif c.kind == "int":
                    ws.write_number(r, j, int(v), formats["int"])
                else:
                    ws.write_string(r, j, _safe_texts([str(v)])[0], head)
    book.close()
    return buf.getvalue()


def _csv_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    frame = spreadsheet_safe(pd.DataFrame(rows, columns=header, dtype=object))
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return out.getvalue().encode("utf-8")


def csv_zip(doc: Document, shown: list[str], context: Mapping[str, Any]) -> bytes:
    """A zip of ``summary.csv`` and one CSV per table shown (``<section>.csv``): money
    exact in currency units, dates ISO, UTF-8, CRLF lines."""
    buf = io.BytesIO()
    stamp_ = (1980, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        def put(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp_)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)

        put("summary.csv", _csv_bytes(["item", "value"],
                                      [list(r) for r in summary_rows(doc, context)]))
        for n, key in enumerate(shown, start=1):
            t = doc.tables[key]
            columns = [[flat(v, c.kind) for v in (t.frame[c.key].tolist() if c.key in t.frame
                                                   else [None] * len(t.frame))]
                       for c in t.cols]
            rows = [list(r) for r in zip(*columns)] if columns else []
            put(f"{n:02d}-{key}.csv", _csv_bytes([c.label for c in t.cols], rows))
    return buf.getvalue()
