"""Reports: what a run found, for people who were not there.

A service (an export can log its run through :mod:`nexus_lab.tracking`).

:func:`reconcile_html` renders a reconciliation as one self-contained HTML page
(inline CSS and SVG, no scripts, nothing fetched), fit to print.
:func:`save_reconcile` writes a result's tables, ``summary.json`` and the
report into a folder; :func:`export_reconcile` does that atomically and, when
asked, logs the run to MLflow. :func:`export_fraud` writes fraud scores the
same way. The CLI and the notebooks use the same functions, so their outputs
are the same.

Examples
--------
>>> import nexus_lab as nx, tempfile
>>> from nexus_lab.reports import export_reconcile
>>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
>>> res = nx.reconcile(bank, ledger, device="cpu")
>>> out = export_reconcile(res, tempfile.mkdtemp() + "/run", track=False)
>>> (out.folder / "report.html").exists()
True
"""

from nexus_lab.reports._bundle import (
    OUTPUT_FILES,
    Export,
    export_reconcile,
    reconcile_summary,
    save_reconcile,
)
from nexus_lab.reports._fraud import FRAUD_FILES, export_fraud, fraud_html
from nexus_lab.reports._html import reconcile_html

__all__ = [
    "FRAUD_FILES",
    "OUTPUT_FILES",
    "Export",
    "export_fraud",
    "export_reconcile",
    "fraud_html",
    "reconcile_html",
    "reconcile_summary",
    "save_reconcile",
]
