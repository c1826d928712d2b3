"""Fraud scores as a folder: the scored table, a summary and a one-page report."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from nexus_lab._html import escape
from nexus_lab.files import atomic_dir, write_frame, write_json, write_text

__all__ = ["FRAUD_FILES", "export_fraud", "fraud_html"]

#: The files :func:`export_fraud` writes.
FRAUD_FILES = ("scored.parquet", "scored.csv", "summary.json", "report.html")
_TOP = 50


def _text_lists(scored: pd.DataFrame) -> pd.DataFrame:
    """Lists of flags and reasons as text, for CSV readers."""
    return scored.assign(flags=scored["flags"].map("; ".join),
                         reasons=scored["reasons"].map(" | ".join))


def fraud_html(scored: pd.DataFrame, summary: Mapping[str, object]) -> str:
    """A self-contained page (inline CSS, no scripts): counts per flag and the riskiest rows."""
    e = escape
    per = summary.get("per_flag", {})
    bars = "".join(
        f"<tr><td>{e(k)}</td><td class=n>{v:,}</td><td class=b><div class=bar style='width:"
        f"{100 * v / max(max(per.values()), 1):.0f}%'></div></td></tr>"
        for k, v in per.items()
    ) or "<tr><td colspan=3>no flags</td></tr>"
    top = scored.sort_values("risk_score", ascending=False, kind="stable").head(_TOP)
    rows = "".join(
        f"<tr><td>{e(str(r.transaction_id))}</td><td class=n>{r.risk_score:.1f}</td>"
        f"<td>{e(', '.join(r.flags))}</td><td>{e(' · '.join(r.reasons))}</td></tr>"
        for r in top.itertuples()
    )
    metrics = summary.get("metrics") or {}
    mrows = "".join(f"<tr><td>{e(str(k))}</td><td class=n>{v:.4g}</td></tr>"
                    for k, v in metrics.items() if isinstance(v, int | float))
    style = (
        "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ddd;"
        "padding:4px 8px;text-align:left;vertical-align:top}.n{text-align:right}"
        ".b{width:320px}.bar{background:#c0392b;height:10px;min-width:2px}h1{font-size:20px}"
        "@media print{body{margin:0}}"
    )
    made = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>Fraud risk</title>"
        f"<style>{style}</style></head><body><h1>Fraud risk: {summary['rows']:,} "
        f"transactions</h1><p>{summary['flagged']:,} flagged · {summary['risk_at_least_80']:,} "
        f"at risk ≥ 80 · {summary['risk_at_least_50']:,} at risk ≥ 50 · made {made}</p>"
        f"<h2>Flags</h2><table>{bars}</table>"
        + (f"<h2>Held-out metrics</h2><table>{mrows}</table>" if mrows else "")
        + f"<h2>The {min(_TOP, len(scored))} riskiest transactions</h2><table><tr><th>"
        f"transaction</th><th>risk</th><th>flags</th><th>reasons</th></tr>{rows}</table>"
        "</body></html>"
    )


def export_fraud(
    scored: pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """Write scored transactions, ``summary.json`` and ``report.html`` into ``out_dir`` at once.

    Parameters
    ----------
    scored : ScoredTransactions
        What :meth:`nexus_lab.fraud.FraudDetector.score` returned.
    out_dir : str or path-like
        The folder; it appears complete or not at all.
    extra : mapping, optional
        More facts for the summary (e.g. ``metrics``, the model's version).

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile
    >>> tx = nx.data.synth_transactions(1_000, seed=0)
    >>> scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx).score(tx)
    >>> out = export_fraud(scored, tempfile.mkdtemp() + "/fraud")
    >>> sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    ['report.html', 'scored.csv', 'scored.parquet', 'summary.json']
    """
    from nexus_lab.fraud import ScoredTransactions

    summary = ScoredTransactions(scored).summary() if not hasattr(scored, "summary") else \
        scored.summary()
    summary = {**summary, **dict(extra or {})}
    with atomic_dir(out_dir) as tmp:
        write_frame(pd.DataFrame(scored), tmp / "scored.parquet")
        write_frame(_text_lists(pd.DataFrame(scored)), tmp / "scored.csv")
        write_json(summary, tmp / "summary.json")
        write_text(fraud_html(pd.DataFrame(scored), summary), tmp / "report.html")
    return Path(out_dir)
