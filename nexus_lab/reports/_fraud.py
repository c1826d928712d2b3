"""Fraud scores as a folder: the scored table, a summary and a one-page report.

The scored table keeps each transaction's own fields (when the transactions are given)
followed by the detector's columns, so that a reviewer reads amount, date, vendor and
account next to the risk. The report is styled as the reconciliation report
(:mod:`nexus_lab.reports._html`): self-contained, no scripts, fit to print.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.files import atomic_dir, write_frame, write_json, write_text
from nexus_lab.reports._html import _CSS, _e, _int, _pct, _table

__all__ = ["FRAUD_FILES", "export_fraud", "fraud_html"]

#: The files :func:`export_fraud` writes.
FRAUD_FILES = ("scored.parquet", "scored.csv", "summary.json", "report.html")
_TOP = 50
_SCORE_COLUMNS = ("risk_score", "flags", "reasons", "model_score")

#: Metric keys, as the training run records them, in words; ``kind`` says how to show them.
_METRICS: dict[str, tuple[str, str]] = {
    "holdout_auprc": ("Area under the precision-recall curve", "ratio"),
    "holdout_roc_auc": ("Area under the ROC curve", "ratio"),
    "holdout_precision_at_fpr": ("Precision at 1% false positives", "ratio"),
    "holdout_recall_at_fpr": ("Recall at 1% false positives", "ratio"),
    "holdout_fraud_rate": ("Share of the held-out rows that are fraud", "share"),
    "holdout_flagged_share": ("Share of the rows flagged", "share"),
    "train_rows": ("Rows trained on", "count"),
    "holdout_rows": ("Rows held out and scored", "count"),
    "seconds_fit": ("Training time", "seconds"),
    "seconds_score": ("Scoring time", "seconds"),
}
_EXTRA_CSS = """
td.why { min-width: 300px; color: var(--muted); font-size: 11px; }
td.f { max-width: 190px; }
td.bar { width: 45%; }
td.f .pill { margin: 0 2px 2px 0; }
"""
_FIELDS = (("date", "Date", "d"), ("amount", "Amount", "n"), ("vendor", "Vendor", ""),
           ("account", "Account", "id"), ("category", "Category", ""))


def _text_lists(scored: pd.DataFrame) -> pd.DataFrame:
    """Lists of flags and reasons as text, for CSV readers."""
    return scored.assign(flags=scored["flags"].map("; ".join),
                         reasons=scored["reasons"].map(" | ".join))


def _with_fields(scored: pd.DataFrame, transactions: Any,
                 columns: Mapping[str, str] | None) -> pd.DataFrame:
    """The transactions' own columns, then the scores (rows in the same order)."""
    if transactions is None:
        return pd.DataFrame(scored)
    from nexus_lab.frames import to_pandas

    tx = to_pandas(transactions, "transactions").reset_index(drop=True)
    if len(tx) != len(scored):
        raise SchemaError(f"{len(tx):,} transactions were given for {len(scored):,} scored "
                          "rows: pass the very rows that were scored, in their order",
                          table="transactions")
    id_col = dict(columns or {}).get("transaction_id", "transaction_id")
    scores = pd.DataFrame(scored).reset_index(drop=True)
    if id_col in tx:  # the ids are the table's own column
        scores = scores.drop(columns="transaction_id")
    clash = {c: f"input_{c}" for c in tx.columns if c in scores.columns}
    return pd.concat([tx.rename(columns=clash), scores], axis=1)


def _metric(key: str, value: float) -> tuple[str, str]:
    label, kind = _METRICS.get(key, (key.replace("holdout_", "held out: ").replace("_", " ")
                                     .capitalize(), "ratio"))
    if kind == "share":
        return label, _pct(value)
    if kind == "count":
        return label, _int(value)
    if kind == "seconds":
        return label, f"{value:.1f} s"
    return label, f"{value:.3f}"


def _cell(value: object, kind: str) -> str:
    if kind == "n" and isinstance(value, int | float) and not (
            isinstance(value, float) and math.isnan(value)):
        return f"{value:,.2f}"
    return _e(value)


def fraud_html(scored: pd.DataFrame, summary: Mapping[str, object],
               columns: Mapping[str, str] | None = None,
               generated: _dt.datetime | None = None) -> str:
    """A self-contained page (inline CSS, no scripts): the riskiest transactions with
    their amount, date, vendor, account, flags and reasons; counts per flag; held-out
    measures.

    Parameters
    ----------
    scored : DataFrame
        Scored transactions, with the transactions' own fields when they are known.
    summary : mapping
        :meth:`ScoredTransactions.summary`, plus ``metrics`` and the model's origin.
    columns : mapping, optional
        The detector's column names (canonical name -> the table's), to find the
        amount, date, vendor and account.
    generated : datetime, optional
        The time printed on the page (default: now, UTC).

    Returns
    -------
    str
        A complete HTML document.

    Examples
    --------
    >>> import pandas as pd
    >>> scored = pd.DataFrame({"transaction_id": ["T1"], "amount": [12.5],
    ...                        "risk_score": [91.0], "flags": [["duplicate"]],
    ...                        "reasons": [["paid twice"]]})
    >>> page = fraud_html(scored, {"rows": 1, "flagged": 1, "risk_at_least_80": 1,
    ...                            "risk_at_least_50": 1, "per_flag": {"duplicate": 1}})
    >>> "12.50" in page and "<script" not in page
    True
    """
    from nexus_lab import __version__

    names = {k: dict(columns or {}).get(k, k) for k, _, _ in _FIELDS}
    id_col = dict(columns or {}).get("transaction_id", "transaction_id")
    id_col = id_col if id_col in scored else "transaction_id"
    shown = [(names[k], label, css) for k, label, css in _FIELDS if names[k] in scored]
    when = (generated or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    rows_n = int(summary["rows"])
    flagged = int(summary["flagged"])
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<meta name='generator' content='NEXUS Lab {_e(__version__)}'>",
        f"<title>Fraud risk: {_int(rows_n)} transactions</title>",
        f"<style>{_CSS}{_EXTRA_CSS}</style></head><body><main>",
        "<header><div><div class='brand'>NEXUS Lab · Fraud risk</div>",
        f"<h1>Fraud risk of {_int(rows_n)} transactions</h1>",
        f"<div class='meta'>{_e(summary.get('model') or 'scored by a fraud detector')}"
        "</div></div>",
        f"<div class='meta' style='text-align:right'>Generated {_e(when)}<br>"
        f"NEXUS Lab {_e(__version__)}</div></header>",
        "<section class='headline avoid'>"
        f"<div class='rate'>{_int(flagged)}<small>transactions flagged "
        f"({_pct(flagged / max(rows_n, 1))})</small></div>"
        f"<p>{_int(summary['risk_at_least_80'])} transactions have a risk of 80 or more and "
        f"{_int(summary['risk_at_least_50'])} of 50 or more (out of 100). The riskiest are "
        "listed first, with the reasons that weigh most.</p></section>",
    ]
    kpis = [("Transactions", _int(rows_n)), ("Flagged", _int(flagged)),
            ("Risk 80 or more", _int(summary["risk_at_least_80"])),
            ("Risk 50 or more", _int(summary["risk_at_least_50"]))]
    out.append("<div class='kpis'>" + "".join(
        f"<div class='kpi'><div class='k'>{_e(k)}</div><div class='v'>{v}</div></div>"
        for k, v in kpis) + "</div>")

    top = scored.sort_values("risk_score", ascending=False, kind="stable").head(_TOP)
    head = [("Risk", "n"), ("Transaction", "id"), *[(label, css) for _, label, css in shown],
            ("Flags", "f"), ("Reasons", "why")]
    body = [
        [f"{float(r['risk_score']):.1f}", _e(r[id_col]),
         *[_cell(r[col], css) for col, _, css in shown],
         " ".join(f"<span class='pill'>{_e(f)}</span>" for f in r["flags"]),
         "<br>".join(_e(why) for why in r["reasons"])]
        for _, r in top.iterrows()
    ]
    out.append(f"<h2>The {min(_TOP, len(scored))} riskiest transactions</h2>")
    if not shown:
        out.append("<p class='note'>The transactions' own fields were not given to the "
                   "report; scored.csv holds the ids and the scores only.</p>")
    out.append(_table(head, body))

    per = dict(summary.get("per_flag") or {})
    biggest = max(per.values(), default=1) or 1
    out.append("<div class='cols'><div><h2>Flags</h2>")
    out.append(_table(
        [("Flag", ""), ("Transactions", "n"), ("", "bar")],
        [[_e(k), _int(v), f"<div style='background:var(--accent2);height:9px;width:"
          f"{100 * v / biggest:.0f}%;min-width:2px'></div>"] for k, v in per.items()]))
    out.append("</div>")
    metrics = {k: float(v) for k, v in dict(summary.get("metrics") or {}).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    if metrics:
        out.append("<div><h2>How the model did on held-out rows</h2>")
        out.append(_table([("Measure", ""), ("Value", "n")],
                          [[_e(label), value] for label, value in
                           (_metric(k, v) for k, v in metrics.items())]))
        out.append("<p class='note'>Measured on the latest rows, which the model did not "
                   "learn from.</p></div>")
    out.append("</div>")
    where = summary.get("tracking_uri")
    out.append("<footer>Risk is 0 to 100; flags are the rules and models that fired; "
               "reasons are the three strongest contributions."
               + (f" Model store: {_e(where)}." if where else "") + "</footer>")
    out.append("</main></body></html>")
    return "".join(out)


def export_fraud(
    scored: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    transactions: Any = None,
    columns: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """Write scored transactions, ``summary.json`` and ``report.html`` into ``out_dir`` at once.

    Parameters
    ----------
    scored : ScoredTransactions
        What :meth:`nexus_lab.fraud.FraudDetector.score` returned.
    out_dir : str or path-like
        The folder; it appears complete or not at all.
    transactions : DataFrame, optional
        The rows that were scored, in the same order: their own columns come first in
        ``scored.parquet`` and ``scored.csv``, and the report shows their amount, date,
        vendor and account.
    columns : mapping, optional
        The detector's column names (canonical -> the table's).
    extra : mapping, optional
        More facts for the summary (e.g. ``metrics``, the model's version).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    SchemaError
        When ``transactions`` does not have one row per scored row.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> tx = nx.data.synth_transactions(1_000, seed=0)
    >>> scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx).score(tx)
    >>> out = export_fraud(scored, tempfile.mkdtemp() + "/fraud", transactions=tx)
    >>> sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    ['report.html', 'scored.csv', 'scored.parquet', 'summary.json']
    """
    from nexus_lab.fraud import ScoredTransactions

    summary = ScoredTransactions(scored).summary() if not hasattr(scored, "summary") else \
        scored.summary()
    summary = {**summary, **dict(extra or {})}
    table = _with_fields(scored, transactions, columns)
    with atomic_dir(out_dir) as tmp:
        write_frame(table, tmp / "scored.parquet")
        write_frame(_text_lists(table), tmp / "scored.csv")
        write_json(summary, tmp / "summary.json")
        write_text(fraud_html(table, summary, columns), tmp / "report.html")
    return Path(out_dir)
