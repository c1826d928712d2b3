"""A reconciliation as one self-contained, printable HTML page.

Everything is inline (CSS in a ``<style>`` element, charts as inline SVG);
there are no scripts, fonts, images or links to fetch, so the page reads the
same offline, in an archive or on paper. Every value that comes from the data
is HTML-escaped. Where a run was computed on Dask, its settings say so, with the
scheduler's and the dashboard's addresses as text (a password in them redacted):
a dashboard lives only while its cluster runs, so the page links to nothing.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from nexus_lab._html import escape
from nexus_lab.errors import SchemaError

__all__ = ["dask_facts", "reconcile_html"]

CONFIDENCE_BINS = (0, 50, 70, 80, 90, 95, 99, 100.01)

REASONS = {
    "possible duplicate": "Another open row on the same side has the same amount and "
    "counterparty within a few days: a double posting is likely.",
    "fee or FX difference": "An open row of the same counterparty lies within the date "
    "window on the other side, its amount a few percent off (a card or wire fee, an FX "
    "conversion): amount_difference says by how much, nearest_id which row.",
    "amount mismatch": "An open row of the same counterparty lies within the date window on "
    "the other side, but the amounts differ by more than a fee would (a keying error, a "
    "partial payment): amount_difference says by how much, nearest_id which row.",
    "timing difference": "The row is near the edge of the statement period; its counterpart "
    "may post in the neighbouring period.",
    "missing in ledger": "No ledger row fits: the bank line is not booked (bank charges, "
    "interest, unrecorded payments).",
    "missing in bank": "No bank line fits: the entry has not cleared the bank.",
}

MATCH_TYPES = {
    "one_to_one": "1 bank line : 1 ledger line",
    "batch": "1 bank line : several ledger lines",
    "installment": "several bank lines : 1 ledger line",
}

_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm; }
:root { --ink:#17202b; --muted:#5c6673; --rule:#d9dee5; --panel:#f4f6f9;
        --accent:#1f4e79; --accent2:#6d9bc3; --warn:#b25f00; --bad:#a8322d; --good:#2f6b3a; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0; color: var(--ink);
       font: 12.5px/1.45 "Segoe UI", -apple-system, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1060px; margin: 0 auto; padding: 28px 34px 36px; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 18px;
         display: flex; justify-content: space-between; align-items: flex-end; gap: 16px; }
h1 { font-size: 21px; margin: 0 0 3px; letter-spacing: .2px; }
.brand { font-size: 11px; letter-spacing: 1.5px; text-transform: uppercase; color: var(--accent);
         font-weight: 700; }
.meta { color: var(--muted); font-size: 11.5px; }
.meta b { color: var(--ink); font-weight: 600; }
h2 { font-size: 14px; color: var(--accent); margin: 24px 0 8px; padding-bottom: 4px;
     border-bottom: 1px solid var(--rule); }
h3 { font-size: 12.5px; margin: 12px 0 6px; }
p.note { color: var(--muted); font-size: 11.5px; margin: 4px 0 8px; }
.warn { border-left: 4px solid #b45309; background: #fff7ed; padding: 6px 12px; margin: 10px 0; }
.warn p { margin: 3px 0; }
.headline { display: flex; gap: 28px; align-items: center; background: var(--panel);
            border: 1px solid var(--rule); border-left: 5px solid var(--accent);
            border-radius: 4px; padding: 14px 20px; }
.rate { font-size: 42px; font-weight: 700; line-height: 1; color: var(--accent);
        font-variant-numeric: tabular-nums; }
.rate small { display: block; font-size: 11.5px; font-weight: 400; color: var(--muted);
              margin-top: 6px; }
.headline p { margin: 0; max-width: 640px; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin-top: 10px; }
.kpi { border: 1px solid var(--rule); border-radius: 4px; padding: 7px 11px; }
.kpi .v { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi .k { color: var(--muted); font-size: 10.5px; text-transform: uppercase;
          letter-spacing: .6px; }
.cols { display: grid; grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr); gap: 24px; }
table { border-collapse: collapse; width: 100%; font-size: 11.5px; }
th, td { padding: 3px 7px; border-bottom: 1px solid var(--rule); text-align: left;
         vertical-align: top; }
thead th { background: var(--panel); font-weight: 600; border-bottom: 1.5px solid #b9c1cc; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: "SFMono-Regular", Consolas, "Liberation Mono", monospace; font-size: 11px;
        white-space: nowrap; }
td.x, .x { color: var(--muted); font-size: 10.5px; }
td.k { white-space: nowrap; }
.hash { font-family: "SFMono-Regular", Consolas, "Liberation Mono", monospace; font-size: 10px;
        word-break: break-all; color: var(--muted); }
tr.group td { background: #fafbfc; font-weight: 600; color: var(--accent); }
tfoot td { font-weight: 600; border-top: 1.5px solid #b9c1cc; }
.pos { color: var(--good); } .neg { color: var(--bad); }
.pill { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 10.5px;
        border: 1px solid var(--rule); background: #fff; white-space: nowrap; }
.low { color: var(--bad); font-weight: 600; }
svg text { font-family: inherit; }
.avoid { break-inside: avoid; page-break-inside: avoid; }
.chart { display: flex; gap: 22px; align-items: flex-end; }
.chart svg { flex: 0 1 auto; }
.chart p.note { max-width: 330px; }
td.d { white-space: nowrap; }
footer { margin-top: 28px; padding-top: 8px; border-top: 1px solid var(--rule);
         color: var(--muted); font-size: 10.5px; }
@media print {
  main { max-width: none; padding: 0; }
  .headline, thead th, tr.group td { -webkit-print-color-adjust: exact;
                                      print-color-adjust: exact; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
"""


def _e(value: object) -> str:
    """Escape anything for HTML text or attribute content."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp | _dt.datetime):
        stamp = pd.Timestamp(value)
        text = stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else str(stamp)
        return escape(text)
    return escape(value)


def _int(n: object) -> str:
    return f"{int(n):,}"


def _money(cents: float | None) -> str:
    if cents is None or (isinstance(cents, float) and math.isnan(cents)):
        return "–"
    return f"{cents / 100:,.2f}"


def _pct(x: float, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}%}"


def _cents(frame: pd.DataFrame, table: str) -> np.ndarray | None:
    """Amounts of an open-items frame as cents, or None when they are not parseable."""
    if "amount" not in frame or len(frame) == 0:
        return np.zeros(len(frame), dtype=np.int64) if "amount" in frame else None
    from nexus_lab.frames import parse_cents

    try:
        return parse_cents(frame["amount"], table=table)
    except SchemaError:
        return None


def _table(
    head: list[tuple[str, str]], rows: list[list[str]], *, foot: list[str] | None = None,
    classes: list[str] | None = None, row_classes: list[str] | None = None,
) -> str:
    """A table from already-escaped cells; ``head`` is ``(label, css class)``."""
    classes = classes or [c for _, c in head]
    th = "".join(f"<th class='{c}'>{_e(label)}</th>" for label, c in head)
    body = []
    for k, row in enumerate(rows):
        rc = f" class='{row_classes[k]}'" if row_classes and row_classes[k] else ""
        body.append(
            f"<tr{rc}>" + "".join(f"<td class='{c}'>{v}</td>" for v, c in zip(row, classes))
            + "</tr>"
        )
    tf = ""
    if foot:
        tf = "<tfoot><tr>" + "".join(
            f"<td class='{c}'>{v}</td>" for v, c in zip(foot, classes)
        ) + "</tr></tfoot>"
    empty = (
        f"<tr><td colspan='{len(head)}' class='x'>none</td></tr>" if not rows else ""
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}{empty}</tbody>{tf}</table>"


def _histogram(confidence: np.ndarray) -> str:
    """Confidence bins as an inline SVG bar chart."""
    edges = np.asarray(CONFIDENCE_BINS, dtype=float)
    counts, _ = np.histogram(np.clip(confidence, 0, 100), bins=edges)
    labels = [f"{int(a)}–{int(min(b, 100))}" for a, b in itertools.pairwise(edges)]
    labels[0] = f"<{int(edges[1])}"
    labels[-1] = f"≥{int(edges[-2])}"
    width, height, left, bottom, top = 470, 190, 8, 34, 18
    n = len(counts)
    slot = (width - 2 * left) / n
    peak = max(int(counts.max()), 1) if len(counts) else 1
    total = max(int(counts.sum()), 1)
    parts = [
        f"<svg role='img' aria-label='Histogram of match confidence' width='{width}' "
        f"height='{height}' style='max-width:100%;height:auto' viewBox='0 0 {width} {height}'>",
        f"<line x1='{left}' y1='{height - bottom}' x2='{width - left}' y2='{height - bottom}' "
        "stroke='#9aa5b1' stroke-width='1'/>",
    ]
    for k, (count, label) in enumerate(zip(counts.tolist(), labels)):
        h = (height - bottom - top) * count / peak
        x = left + k * slot + slot * 0.14
        w = slot * 0.72
        y = height - bottom - h
        fill = "#1f4e79" if edges[k] >= 90 else "#6d9bc3" if edges[k] >= 70 else "#b25f00"
        parts.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{max(h, 0.5):.1f}' "
            f"fill='{fill}'><title>{_e(label)}: {count:,} pairs</title></rect>"
        )
        cx = x + w / 2
        parts.append(
            f"<text x='{cx:.1f}' y='{y - 4:.1f}' font-size='10' text-anchor='middle' "
            f"fill='#17202b'>{count:,}</text>"
        )
        parts.append(
            f"<text x='{cx:.1f}' y='{height - bottom + 13}' font-size='10' text-anchor='middle' "
            f"fill='#5c6673'>{_e(label)}</text>"
        )
        parts.append(
            f"<text x='{cx:.1f}' y='{height - bottom + 25}' font-size='9' text-anchor='middle' "
            f"fill='#5c6673'>{count / total:.0%}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _weight_bar(w: float, scale: float) -> str:
    """A small bar for a weight in bits: right of the axis for evidence for a match."""
    if not np.isfinite(w):
        return ""
    width, height = 90, 10
    mid = width / 2
    length = min(abs(w) / scale, 1.0) * (mid - 1)
    x = mid if w >= 0 else mid - length
    fill = "#1f4e79" if w >= 0 else "#a8322d"
    return (
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' aria-hidden='true'>"
        f"<rect x='{x:.1f}' y='1' width='{max(length, 0.5):.1f}' height='{height - 2}' "
        f"fill='{fill}'/><line x1='{mid}' y1='0' x2='{mid}' y2='{height}' stroke='#5c6673' "
        "stroke-width='1'/></svg>"
    )


def _fmt_num(x: object, digits: int = 4) -> str:
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        x = float(x)
        if not math.isfinite(x):
            return "–"
        return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.{digits}g}"
    return _e(x)


def _setting(value: object) -> str:
    """A setting as words: a list joined (or "none"), a mapping as ``key value`` pairs."""
    if isinstance(value, str):
        return _e(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{_e(k)} {_setting(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value) or "none"
    return "–" if value is None else _fmt_num(value)


def _written(facts: Mapping[str, object]) -> str:
    """How a table's amounts and dates were read: ``decimal comma; EUR; dates ISO 8601``."""
    marks = {",": "decimal comma", ".": "decimal point", None: "amounts as numbers"}
    decimal = facts.get("decimal")
    parts = [marks[decimal] if decimal in marks else f"decimal mark {decimal}"]
    if facts.get("currency"):
        parts.append(f"currency {facts['currency']}")
    dates = {"dates": "dates as date values", "text": "dates written with month names"}
    if facts.get("dates"):
        parts.append(dates.get(facts["dates"], f"dates {facts['dates']}"))
    return "; ".join(parts)


def _open_items(frame: pd.DataFrame, cents: np.ndarray | None, top: int) -> str:
    if len(frame) == 0:
        return "<p class='note'>No open rows.</p>"
    order = (
        np.argsort(-np.abs(cents), kind="stable")[:top] if cents is not None
        else np.arange(min(top, len(frame)))
    )
    rows = []
    for i in order.tolist():
        r = frame.iloc[i]
        amount = _money(float(cents[i])) if cents is not None else _e(r.get("amount"))
        rows.append([
            _e(r.get("transaction_id")), _e(r.get("date")), amount,
            _e(r.get("description")), f"<span class='pill'>{_e(r.get('reason'))}</span>",
        ])
    head = [("Id", "id"), ("Date", "d"), ("Amount", "n"), ("Description", ""), ("Reason", "")]
    note = f"<p class='note'>The {len(order):,} largest of {len(frame):,} by amount.</p>" if (
        len(frame) > len(order)) else ""
    return note + _table(head, rows)


def _matches_table(m: pd.DataFrame) -> str:
    rows = []
    for r in m.itertuples(index=False):
        conf = float(r.confidence)
        cls = " class='low'" if conf < 70 else ""
        rows.append([
            _e(r.bank_id), _e(r.ledger_id), _e(str(r.match_type).replace("_", " ")),
            f"<span{cls}>{conf:.1f}</span>", f"<span class='x'>{_e(r.explanation)}</span>",
        ])
    head = [("Bank id", "id"), ("Ledger id", "id"), ("Type", ""), ("Confidence", "n"),
            ("Why", "x")]
    return _table(head, rows)


def dask_facts(params: Mapping[str, object]) -> dict[str, object] | None:
    """Where a result was computed on Dask (:func:`nexus_lab.tracking.dask_facts`,
    loaded only for such a result: tracking is slow to import); None otherwise."""
    if params.get("dask") is None:
        return None
    from nexus_lab.tracking import dask_facts as checked

    return checked(params)


def _dask_rows(facts: Mapping[str, object]) -> list[list[str]]:
    """The settings' rows of a run computed on Dask: where, and its dashboard as text."""
    counts = [f"{int(facts[k]):,} {k if int(facts[k]) != 1 else k[:-1]}"
              for k in ("workers", "partitions") if facts.get(k) is not None]
    where = "Dask" + (f": {', '.join(counts)}" if counts else "")
    if facts.get("scheduler"):
        where += f" (scheduler {facts['scheduler']})"
    rows = [["computed on", _e(where)]]
    if facts.get("dashboard"):
        rows.append(["Dask dashboard", f"<span class='hash'>{_e(facts['dashboard'])}</span> "
                     "(live only while the cluster ran)"])
    return rows


def reconcile_html(
    result: object,
    *,
    title: str = "Bank reconciliation",
    inputs: Mapping[str, Mapping[str, object]] | None = None,
    settings: Mapping[str, object] | None = None,
    top: int = 15,
    generated: _dt.datetime | None = None,
) -> str:
    """Render a reconciliation as a self-contained HTML report.

    The page holds the share of the bank amount reconciled, the counts, the
    match types, a histogram of match confidence, the open rows by reason
    (with their amounts) and the largest of them, matches to review (lowest
    confidence) and the strongest matches of each type with their
    explanations, the fitted match weights, and the settings and timings (for a
    result computed on Dask, where: workers, partitions, scheduler and dashboard). It
    needs nothing beyond itself: inline CSS, inline SVG, no scripts, no links.

    Parameters
    ----------
    result : ReconcileResult
        What :func:`nexus_lab.reconcile` returned.
    title : str
        The page's title.
    inputs : mapping, optional
        ``{"bank": {"name": ..., "rows": ..., "sha256": ...}, "ledger": {...}}``
        as recorded by :func:`nexus_lab.files.describe_file`; shown in the header
        and the settings.
    settings : mapping, optional
        Extra settings to list (e.g. the requested device, column mappings).
    top : int, default 15
        Rows shown in each list of open items and matches.
    generated : datetime, optional
        The time printed on the report (default: now, UTC).

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
    >>> page = reconcile_html(nx.reconcile(bank, ledger, device="cpu"))
    >>> page.startswith("<!DOCTYPE html>") and "<script" not in page
    True
    """
    from nexus_lab import __version__

    res = result
    s = res.summary()
    m = res.matches
    ub, ul = res.unmatched_bank, res.unmatched_ledger
    when = (generated or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    inputs = dict(inputs or {})
    bank_name = inputs.get("bank", {}).get("name", "bank")
    ledger_name = inputs.get("ledger", {}).get("name", "ledger")

    cb, cl = _cents(ub, "bank"), _cents(ul, "ledger")
    open_b = float(np.abs(cb).sum()) if cb is not None else None
    open_l = float(np.abs(cl).sum()) if cl is not None else None
    total_b = open_b / (1 - res.rate) if open_b is not None and res.rate < 1 else None

    matched_b = s["bank_rows"] - s["unmatched_bank"]
    matched_l = s["ledger_rows"] - s["unmatched_ledger"]
    out: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<meta name='generator' content='NEXUS Lab {_e(__version__)}'>",
        f"<title>{_e(title)}: {_e(bank_name)} against {_e(ledger_name)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<header><div><div class='brand'>NEXUS Lab · Reconciliation</div>",
        f"<h1>{_e(title)}</h1><div class='meta'>Bank statement <b>{_e(bank_name)}</b> "
        f"({_int(s['bank_rows'])} rows) against ledger <b>{_e(ledger_name)}</b> "
        f"({_int(s['ledger_rows'])} rows)</div></div>",
        f"<div class='meta' style='text-align:right'>Generated {_e(when)}<br>"
        f"NEXUS Lab {_e(__version__)}</div></header>",
    ]

    # headline ------------------------------------------------------------------------
    amount_line = ""
    if open_b is not None:
        amount_line = f" Open bank amount: <b>{_money(open_b)}</b>"
        if total_b:
            amount_line += f" of {_money(total_b)}"
        amount_line += "."
    out.append(
        "<section class='headline avoid'>"
        f"<div class='rate'>{_pct(res.rate)}<small>of the bank amount reconciled</small></div>"
        f"<p>{_int(s['matched_pairs'])} matched pairs cover {_int(matched_b)} of "
        f"{_int(s['bank_rows'])} bank rows and {_int(matched_l)} of {_int(s['ledger_rows'])} "
        f"ledger rows. {_int(s['unmatched_bank'])} bank rows and {_int(s['unmatched_ledger'])} "
        f"ledger rows remain open.{amount_line}</p></section>"
    )
    conf = "–" if not len(m) else f"{s['mean_confidence']:.1f}"
    kpis = [
        ("Matched pairs", _int(s["matched_pairs"])), ("One-to-one", _int(s["one_to_one"])),
        ("Batch groups", _int(s["batch_groups"])),
        ("Installment groups", _int(s["installment_groups"])),
        ("Open bank rows", _int(s["unmatched_bank"])),
        ("Open ledger rows", _int(s["unmatched_ledger"])),
        ("Mean confidence", conf), ("Run time", f"{s['seconds']:.2f} s"),
    ]
    out.append("<div class='kpis'>" + "".join(
        f"<div class='kpi'><div class='k'>{_e(k)}</div><div class='v'>{v}</div></div>"
        for k, v in kpis
    ) + "</div>")
    warnings = getattr(res, "warnings", [])
    if warnings:
        out.append("<div class='warn'><p><b>Check this result: the learned match model is "
                   "suspect.</b> Review the matches and the fitted weights below before "
                   "relying on it.</p>" + "".join(f"<p>&#9888; {_e(w)}</p>" for w in warnings)
                   + "</div>")

    # match types and confidence -------------------------------------------------------
    rows = []
    for kind, label in MATCH_TYPES.items():
        part = m[m["match_type"] == kind]
        if not len(part):
            continue
        rows.append([
            f"{_e(kind.replace('_', ' '))}<div class='x'>{_e(label)}</div>",
            _int(part["group_id"].nunique()), _int(len(part)),
            _int(part["bank_id"].nunique()), _int(part["ledger_id"].nunique()),
            f"{part['confidence'].mean():.1f}", f"{part['confidence'].min():.1f}",
        ])
    head = [("Type", ""), ("Groups", "n"), ("Pairs", "n"), ("Bank rows", "n"),
            ("Ledger rows", "n"), ("Mean conf.", "n"), ("Min conf.", "n")]
    low = int((m["confidence"] < 70).sum()) if len(m) else 0
    out.append(
        "<section class='avoid'><h2>Match types</h2>" + _table(head, rows) + "</section>"
        "<section class='avoid'><h2>Match confidence</h2><div class='chart'>"
        + (_histogram(m["confidence"].to_numpy(dtype=float)) if len(m) else
           "<p class='note'>No matches.</p>")
        + "<p class='note'>Confidence is the probability (0–100) that a pair is right, "
        "allowing for every competing candidate of both rows. "
        f"{_int(low)} pairs score below 70; the lowest are listed under "
        "<i>Matches to review</i>.</p></div></section>"
    )

    # open items by reason -------------------------------------------------------------
    reasons = res.reasons()
    rows = []
    order = [r for r in REASONS if r in reasons.index] + [
        r for r in reasons.index if r not in REASONS
    ]
    for reason in order:
        nb = int(reasons.loc[reason].get("bank", 0)) if "bank" in reasons else 0
        nl = int(reasons.loc[reason].get("ledger", 0)) if "ledger" in reasons else 0
        ab = _money(float(np.abs(cb[(ub["reason"] == reason).to_numpy()]).sum())) if (
            cb is not None and nb) else ("–" if nb else "")
        al = _money(float(np.abs(cl[(ul["reason"] == reason).to_numpy()]).sum())) if (
            cl is not None and nl) else ("–" if nl else "")
        rows.append([
            f"<b>{_e(reason)}</b><div class='x'>{_e(REASONS.get(reason, ''))}</div>",
            _int(nb) if nb else "", ab, _int(nl) if nl else "", al,
        ])
    foot = ["Total", _int(len(ub)), _money(open_b) if open_b is not None else "–",
            _int(len(ul)), _money(open_l) if open_l is not None else "–"]
    head = [("Reason", ""), ("Bank rows", "n"), ("Bank amount", "n"), ("Ledger rows", "n"),
            ("Ledger amount", "n")]
    out.append("<section class='avoid'><h2>Open items by reason</h2>"
               + _table(head, rows, foot=foot) + "</section>")

    out.append("<section><h2>Largest open items</h2><h3>Bank statement</h3>"
               + _open_items(ub, cb, top) + "<h3>Ledger</h3>" + _open_items(ul, cl, top)
               + "</section>")

    # matches ----------------------------------------------------------------------------
    if len(m):
        review = m.sort_values(["confidence", "group_id"], kind="stable").head(top)
        out.append(
            "<section><h2>Matches to review</h2><p class='note'>The lowest-confidence matches: "
            "each explanation lists the evidence and its weight in bits (positive for a "
            "match).</p>" + _matches_table(review) + "</section>"
        )
        per_type = max(1, top // max(m["match_type"].nunique(), 1))
        strongest = (
            m.sort_values(["confidence", "group_id"], ascending=[False, True], kind="stable")
            .groupby("match_type", sort=False).head(per_type)
        )
        strongest = strongest.assign(
            _k=strongest["match_type"].map({k: i for i, k in enumerate(MATCH_TYPES)})
        ).sort_values(["_k", "confidence"], ascending=[True, False], kind="stable")
        out.append(
            "<section><h2>Top matches</h2><p class='note'>The strongest matches of each "
            "type.</p>" + _matches_table(strongest) + "</section>"
        )

    # model ------------------------------------------------------------------------------
    wf = res.model.to_frame()
    scale = max(float(np.nanmax(np.abs(wf["weight"].clip(-40, 40)))) if len(wf) else 1.0, 1.0)
    rows, row_classes = [], []
    for comparison, part in wf.groupby("comparison", sort=False):
        rows.append([_e(comparison), "", "", "", "", ""])
        row_classes.append("group")
        for r in part.itertuples(index=False):
            w = float(r.weight)
            rows.append([
                "", _e(r.label), _fmt_num(float(r.m)), _fmt_num(float(r.u)),
                f"<span class='{'pos' if w >= 0 else 'neg'}'>{w:+.2f}</span>",
                _weight_bar(w, scale),
            ])
            row_classes.append("")
    head = [("Comparison", ""), ("Level", ""), ("m", "n"), ("u", "n"), ("Weight (bits)", "n"),
            ("", "")]
    out.append(
        "<section><h2>Fitted match weights</h2><p class='note'>Fellegi–Sunter weights learned "
        "from these data: m = P(level | same transaction), u = P(level | different "
        "transactions), weight = log<sub>2</sub>(m/u). A pair's score is the sum of its "
        "weights.</p>" + _table(head, rows, row_classes=row_classes) + "</section>"
    )

    # settings and timings ----------------------------------------------------------------
    params = dict(res.params)
    for key, value in (settings or {}).items():
        params.setdefault(key, value)
    written = params.pop("written", None)
    facts = dask_facts(params)
    params.pop("dask", None)
    prow = [[_e(k.replace("_", " ")), _setting(v)] for k, v in params.items()]
    if facts is not None:
        prow.extend(_dask_rows(facts))
    for side, facts in (written or {}).items():
        prow.append([f"{_e(side)} amounts and dates", _e(_written(facts))])
    for side in ("bank", "ledger"):
        info = inputs.get(side)
        if info:
            prow.append([f"{side} file", _e(info.get("path", info.get("name", "")))])
            if info.get("sha256"):
                digest = f"<span class='hash'>{_e(info['sha256'])}</span>"
                prow.append([f"{side} SHA-256", digest])
    total = sum(res.timings.values()) or 1.0
    trow = [[_e(k), f"{v:.3f}", _pct(v / total, 0)] for k, v in res.timings.items()]
    out.append(
        "<div class='cols'><section class='avoid'><h2>Settings</h2>"
        + _table([("Setting", "k"), ("Value", "")], prow)
        + "</section><section class='avoid'><h2>Timings</h2>"
        + _table([("Stage", ""), ("Seconds", "n"), ("Share", "n")], trow,
                 foot=["Total", f"{total:.3f}", "100%"])
        + "</section></div>"
    )
    out.append(
        f"<footer>NEXUS Lab {_e(__version__)} · generated {_e(when)} · amounts in the "
        "statement's currency units · this page is self-contained and prints on A4.</footer>"
        "</main></body></html>"
    )
    return "\n".join(out)
