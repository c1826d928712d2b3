"""An audit workpaper: a battery of audit tests (:class:`nexus_lab.examine.Battery`) as one
self-contained HTML page (each test's plot as inline SVG) or an Excel workbook (a summary
sheet, the overview, one sheet per table of each test), signed and filed as reports are.

The page and the workbook are rendered by the reports' own renderers
(:mod:`nexus_lab.reports._render`) from one :class:`~nexus_lab.reports._tables.Document`,
and filed by :func:`~nexus_lab.reports._signed.file_signed`, as :func:`make_report`'s.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab import audit, auth, config
from nexus_lab.errors import NexusError
from nexus_lab.reports import _render
from nexus_lab.reports._signed import SignedReport, file_signed
from nexus_lab.reports._tables import Col, Document, Table

__all__ = ["WORKPAPER_FORMATS", "make_workpaper", "workpaper_bytes"]

#: The workpaper's formats, and the extension of each file.
WORKPAPER_FORMATS: dict[str, str] = {"html": "html", "xlsx": "xlsx"}

_PAGE_ROWS = 50  # rows of a table the page shows (the workbook holds them all)
_SHEET_ROWS = 1_048_575  # a worksheet's rows below its header
_MONEY = re.compile(r"(^|_)(amount|total|value|sum|debit|credit|balance|book_value|"
                    r"net|gross|misstatement)(_|$)")
_UNSAFE_SVG = re.compile(r"<\s*(script|foreignObject|iframe|object|embed)|\son\w+\s*=|"
                         r"javascript:|(?:href|src)\s*=\s*[\"'](?!#|data:image/png;base64,)",
                         re.IGNORECASE)


def _kind(name: str, values: pd.Series) -> tuple[str, str, pd.Series]:
    """How a test's column is shown: its kind (:data:`~nexus_lab.reports._tables.KINDS`),
    its heading, and its values as the renderers take them (money in integer cents)."""
    label = name.replace("_", " ")
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "text", label, values.map(lambda v: "yes" if v is True else "no"
                                         if v is False else None)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = pd.to_datetime(values)
        times = stamps.dropna()
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC")
        midnight = bool((times == times.dt.normalize()).all())
        return ("date" if midnight else "datetime"), label, values
    if pd.api.types.is_integer_dtype(dtype):
        if name.endswith("_cents"):  # the kernels' money: integer cents
            return "money", name.removesuffix("_cents").replace("_", " "), values
        return "int", label, values
    if pd.api.types.is_float_dtype(dtype):
        if _MONEY.search(name.lower()):  # money in currency units: exact cents
            floats = values.astype(float)
            cents = pd.Series(np.round(floats.to_numpy() * 100), index=values.index)
            return "money", label, cents.where(floats.notna()).astype("Int64")
        return "number", label, values
    if name == "id" or name.endswith("_id") or name in ("entry", "line", "account"):
        return "id", label, values.map(lambda v: None if _missing(v) else str(v))
    return "text", label, values.map(_text)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value)) if not isinstance(value, list | tuple | dict | np.ndarray) \
            else False
    except (TypeError, ValueError):
        return False


def _text(value: object) -> object:
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, np.ndarray):
        return ", ".join(map(str, value.tolist()))
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return None if _missing(value) else str(value)


def _table(key: str, title: str, frame: pd.DataFrame, limit: int, note: str = "") -> Table:
    """A test's table as a report section, its first ``limit`` rows."""
    named = not isinstance(frame.index, pd.RangeIndex) and any(
        n is not None for n in frame.index.names)
    frame = frame.reset_index(drop=not named)
    cols, data = [], {}
    names = [str(c) for c in frame.columns]
    for n, name in enumerate(names):
        if f"{name}_cents" in names:  # the same money exact in cents is shown instead
            continue
        kind, label, values = _kind(name, frame.iloc[:limit, n])
        cols.append(Col(f"c{n}", label, kind))
        data[f"c{n}"] = values.reset_index(drop=True)
    shown = pd.DataFrame(data, index=range(min(len(frame), limit)))
    if len(frame) > limit:
        more = f"The first {limit:,} of {len(frame):,} rows."
        note = f"{note} {more}".strip()
    return Table(key, title, cols, shown, note=note, empty="No rows.",
                 wide=len(cols) > 7)


def _svg(result: Any, n: int, drawn: str | None = None) -> str:
    """The result's plot (or ``drawn``, its SVG drawn already) as inline SVG fit for the
    page: its ids made unique to it, sized to the page, and nothing a browser would run or
    fetch (else no plot)."""
    try:
        text = result.svg() if drawn is None else drawn
    except Exception:  # a plot never stops the workpaper
        return ""
    if not text or _UNSAFE_SVG.search(text):
        return ""
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    if ids:
        pattern = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(map(re.escape, ids)) +
                             r')(?=["\)])')
        text = pattern.sub(lambda m: f"{m.group(1)}f{n}-{m.group(2)}", text)
    return text.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)


@dataclass(frozen=True)
class _Section:
    """One test of the battery as the page shows it."""

    name: str
    test: str
    verdict: str | None
    state: str  # ok, failed or warn: the verdict's colour
    findings: str
    params: str
    record: str
    notes: tuple[str, ...]
    svg: Any
    tables: tuple[Table, ...]


def _state(verdict: str | None) -> str:
    """The colour of a verdict: ``ok`` (nothing to follow up), ``warn`` (marginal),
    ``failed`` (findings), ``none`` (a descriptive test)."""
    from nexus_lab.examine import Battery

    if verdict is None or verdict in Battery.UNJUDGED:
        return "none"
    return "ok" if verdict in Battery.CLEAN else "warn" if verdict == "marginal" else "failed"


def document(battery: Any, facts: Mapping[str, Any], *, limit: int,
             records: Mapping[str, str] | None = None,
             plots: Mapping[str, str] | None = None) -> tuple[Document, list[_Section]]:
    """The battery as a report's document, and its tests' sections for the page (with
    their plots, unless ``plots`` is ``{}``: the workbook has none)."""
    from markupsafe import Markup

    from nexus_lab.examine import Battery

    if not isinstance(battery, Battery):
        raise NexusError(f"a workpaper is made of a Battery (nexus_lab.examine.battery), not "
                         f"a {type(battery).__name__}")
    info = {**battery.info, **facts}
    rows = info.get("rows")
    source = info.get("source") or "a general ledger"
    scope = f"{source}" + (f", {int(rows):,} lines" if rows is not None else "") + (
        f", period ending {info['period_end']}" if info.get("period_end") else "")
    doc = Document("examination", "Audit workpaper", scope)
    overview = battery.to_frame()
    with_findings = battery.summary()["with_findings"]
    doc.kpis = [("Tests run", f"{len(battery):,}"), ("With findings", f"{len(with_findings):,}"),
                ("Lines examined", "–" if rows is None else f"{int(rows):,}"),
                ("Period end", str(info.get("period_end") or "–"))]
    doc.facts = [(k.replace("_", " ").capitalize(), v if not isinstance(v, dict | list)
                  else json.dumps(v, default=str), None)
                 for k, v in info.items() if v is not None and v != {} and v != []]
    doc.add(Table("overview", "Tests and verdicts", [
        Col("name", "Test"), Col("test", "Function", "id"), Col("verdict", "Verdict"),
        Col("findings", "Findings", "int"), Col("facts", "Key facts", "text"),
        Col("warnings", "Warnings", "int")], overview,
        note="Findings: what the test counts as exceptions (duplicate rows, gaps, flagged "
        "entries, conflicts); none for the descriptive tests (stratify, age, summarize)."))
    sections = []
    for n, (name, result) in enumerate(battery.items(), start=1):
        tables = []
        for t, (tname, frame) in enumerate(result.tables.items(), start=1):
            table = _table(f"t{n}_{t}", f"{name} · {tname}", frame, limit)
            doc.add(table)
            tables.append(table)
        found = overview.loc[overview["name"] == name, "findings"].iloc[0]
        sections.append(_Section(
            name, result.test, result.verdict, _state(result.verdict),
            "–" if pd.isna(found) else f"{int(found):,}",
            ", ".join(["data", *(f"{k}={v!r}" for k, v in result.params.items())]),
            (records or {}).get(name, ""), tuple(result.notes),
            Markup("" if plots == {} else _svg(result, n, (plots or {}).get(name))),
            tuple(tables)))
    return doc, sections


def _context(doc: Document, sections: list[_Section], *, report_id: str, who: str,
             store: str, kp: Any) -> dict[str, Any]:
    from nexus_lab import __version__

    now = _dt.datetime.now(_dt.timezone.utc)
    period = next((str(v) for k, v, _ in doc.facts if k == "Period end"), "–")
    return {
        "version": __version__, "role_title": "examiner", "period": period,
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"), "generated_by": who,
        "report_id": report_id, "store": store,
        "signer": (kp.label or "the workbench key") if kp is not None else "",
        "fingerprint": kp.public.fingerprint_hex if kp is not None else "",
        "public": f"{kp.public.fingerprint_hex}.nxpub" if kp is not None else "",
        "masking": "Nothing is masked: a workpaper is its examiner's own record.",
        "sections": sections, "signed": kp is not None,
    }


def _render_fmt(battery: Any, fmt: str, facts: Mapping[str, Any],
                records: Mapping[str, str] | None, *, report_id: str, who: str, store: str,
                kp: Any, plots: Mapping[str, str] | None = None) -> tuple[bytes, list[str]]:
    if fmt not in WORKPAPER_FORMATS:
        raise NexusError(f"unknown workpaper format {fmt!r}; the formats are "
                         f"{', '.join(WORKPAPER_FORMATS)}")
    doc, sections = document(battery, facts, limit=_PAGE_ROWS if fmt == "html" else
                             _SHEET_ROWS, records=records,
                             plots=(plots or None) if fmt == "html" else {})
    context = _context(doc, sections, report_id=report_id, who=who, store=store, kp=kp)
    page, shown = _render.html(doc, "examiner", context)
    if fmt == "html":
        return page.encode("utf-8"), shown
    return _render.xlsx(doc, shown, {**context, "role": "examiner"}), shown


def workpaper_bytes(battery: Any, fmt: str = "html", *, facts: Mapping[str, Any] | None = None,
                    records: Mapping[str, str] | None = None,
                    plots: Mapping[str, str] | None = None) -> bytes:
    """The workpaper of ``battery`` as bytes, unsigned: an HTML page or an Excel workbook.

    Parameters
    ----------
    battery : Battery
        What :func:`nexus_lab.examine.battery` returned.
    fmt : {"html", "xlsx"}
    facts : mapping, optional
        What the battery ran on, shown with its own facts (``source``, ``sha256``...).
    records : mapping, optional
        Each test's record id in the store (``examinations.examination_id``), shown with it.
    plots : mapping, optional
        Tests' plots drawn already (:meth:`~nexus_lab.examine.Examination.svg`), by name.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import Battery, Examination
    >>> t = pd.DataFrame({"account": ["4000", "6100"], "amount": [-800.0, 800.0]})
    >>> b = Battery({"summarize": Examination("summarize", {"by": "account"}, {"totals": t},
    ...                                       {"groups": 2})}, info={"rows": 2})
    >>> page = workpaper_bytes(b).decode()
    >>> "Audit workpaper" in page and "-800.00" in page and "not signed" in page
    True
    """
    return _render_fmt(battery, fmt, facts or {}, records, report_id=uuid.uuid4().hex,
                       who=audit.actor(), store="", kp=None, plots=plots)[0]


def make_workpaper(battery: Any, *, fmt: str = "html", out: str | os.PathLike[str] | None = None,
                   store: Any = None, key: Any = None, facts: Mapping[str, Any] | None = None,
                   records: Mapping[str, str] | None = None, name: str | None = None,
                   final_folder: str | os.PathLike[str] | None = None,
                   plots: Mapping[str, str] | None = None) -> SignedReport:
    """Write the signed workpaper of ``battery`` and record it, as :func:`make_report`
    does a report.

    The page (``fmt="html"``: self-contained, inline CSS and SVG plots, no scripts,
    printable, every value escaped) or the workbook (``fmt="xlsx"``: a summary sheet, the
    tests and verdicts, then one sheet per table of each test; money as numbers in a
    currency format, dates as dates, text a spreadsheet would run as a formula
    neutralized) is written under ``out`` with its detached signature ``<file>.sig`` and
    the signer's public bundle ``<fingerprint>.nxpub`` beside it, and recorded in the
    store's ``reports`` table (kind ``examination``) and the audit log. Needs
    ``examine.run``.

    Parameters
    ----------
    battery : Battery
    fmt : {"html", "xlsx"}
    out : str or path-like, optional
        The folder (default: :func:`nexus_lab.config.reports_folder`).
    store : Store or str, optional
    key : KeyPair, optional
        The signing key (default: the workbench key, as for :func:`make_report`).
    facts, records, plots : mapping, optional
        As for :func:`workpaper_bytes`.
    name : str, optional
        The file's name without its extension (default
        ``workpaper-<period end>-<id8>``); a file there already is never replaced.
    final_folder : str or path-like, optional
        Where the files will lie when ``out`` is a folder being built
        (:func:`nexus_lab.files.atomic_dir`): the record names them there.

    Returns
    -------
    SignedReport

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> import nexus_lab as nx
    >>> from nexus_lab.examine import Battery, Examination
    >>> from nexus_lab.reports import make_workpaper
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> t = pd.DataFrame({"account": ["4000", "6100"], "amount": [-800.0, 800.0]})
    >>> b = Battery({"summarize": Examination("summarize", {"by": "account"}, {"totals": t},
    ...                                       {"groups": 2})}, info={"rows": 2})
    >>> paper = make_workpaper(b, fmt="xlsx", out=folder / "papers", store=store,
    ...                        key=nx.crypto.generate_keypair("workbench"), name="workpaper")
    >>> paper.path.name, paper.verify(), store.read("reports")["kind"].tolist()
    ('workpaper.xlsx', True, ['examination'])
    """
    from nexus_lab.crypto import need_keypair, sign
    from nexus_lab.store import connect

    if fmt not in WORKPAPER_FORMATS:
        raise NexusError(f"unknown workpaper format {fmt!r}; the formats are "
                         f"{', '.join(WORKPAPER_FORMATS)}")
    s = connect(store)
    who = auth.require("examine.run", store=s, resource="reports/examination")
    kp = need_keypair(key, "signing a workpaper") if key is not None else \
        audit.workbench_keypair(config.signing_key(), "workbench")
    report_id = uuid.uuid4().hex
    data, shown = _render_fmt(battery, fmt, facts or {}, records, report_id=report_id, who=who,
                              store=s.where, kp=kp, plots=plots)
    period = str({**battery.info, **(facts or {})}.get("period_end") or "all")
    stem = name or f"workpaper-{period}-{report_id[:8]}"
    if not stem or "/" in stem or os.sep in stem or stem.startswith("."):
        raise NexusError(f"a workpaper's name is a file name without a folder, not {stem!r}")
    file = f"{stem}.{WORKPAPER_FORMATS[fmt]}"
    folder = Path(os.path.abspath(out if out is not None else config.reports_folder()))
    final = Path(os.path.abspath(final_folder)) if final_folder is not None else None
    signature = sign(data, kp).to_bytes()
    source = {**battery.info, **(facts or {})}.get("source") or "a general ledger"
    path, sig_path, public = file_signed(
        s, folder, file, data, signature, kp, report_id=report_id, kind="examination",
        subject=f"Audit workpaper of {source}, period ending {period}: {len(battery)} tests",
        who=who, details={"kind": "examination", "format": fmt, "period": period,
                          "tests": list(battery), "signer": kp.public.fingerprint_hex},
        final_folder=final)
    return SignedReport(report_id, "examination", "", period, fmt, path, sig_path,
                        hashlib.sha256(data).hexdigest(), public,
                        f"{kp.label or 'workbench'} ({kp.public.fingerprint_hex})", who,
                        tuple(shown))
