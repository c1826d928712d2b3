"""Reports: what a run found, for people who were not there.

A service (an export can log its run through :mod:`nexus_lab.tracking`).

:func:`reconcile_html` renders a reconciliation as one self-contained HTML page
(inline CSS and SVG, no scripts, nothing fetched), fit to print.
:func:`save_reconcile` writes a result's tables, ``summary.json`` and the
report into a folder; :func:`export_reconcile` does that atomically and, when
asked, logs the run to MLflow. :func:`export_fraud` writes fraud scores the
same way. The CLI and the notebooks use the same functions, so their outputs
are the same.

Signed reports for every point of view
--------------------------------------
:func:`make_report` renders what the store holds as one role sees it, signs it with
the workbench key and records it (``nexus-lab report KIND --role ROLE``). The kinds,
and the permission (any one of those listed) that the user and the chosen role must
both have besides ``reports.read``, because it reads what the kind shows:

================  =================================  =====================================
kind              what it shows                      needs
================  =================================  =====================================
reconciliation    per run, account and period: the   ``financial.read``
                  rate, totals, open items by reason
                  and age, resolutions and who made
                  them, approval
fraud             runs, flagged transactions by      ``financial.read``
                  risk with flags and reasons,
                  cleared and escalated with the
                  justification and who, amount at
                  risk by flag
case              a case's status history, timeline, ``case.read``
                  evidence with its chain of custody,
                  and ``nx.cases.verify`` with the
                  first broken link
executive         reconciliation rate by month, open ``strategic.read`` or
                  exceptions by age, fraud exposure  ``financial.read``
                  by flag, cases by status, trends
audit_trail       the store's audit log of the       ``audit.read``
                  period: who did what, refusals,
                  and whether the signed chain
                  verifies against the store
================  =================================  =====================================

The user must hold the role asked for (in a store where no one holds a role yet, any
role may be chosen), unless they administer schedules (``schedules.manage``: the
administrator, who sends each point of view its scheduled reports). A refusal raises
:class:`~nexus_lab.errors.PermissionDenied` and is recorded (outcome ``refused``).

Which sections a role sees is chosen by the kind's Jinja2 template
(``nexus_lab/reports/templates/<kind>.html.j2``, autoescaped); which fields it reads
masked by :data:`MASKING` (account numbers as ``••••1234``; counterparties who are
people, users' names and free text withheld where the role may not read them; the
executive reads none of them, the examiner, judge and auditor all).

The formats: ``html`` (self-contained, inline CSS and SVG, no scripts, printable),
``pdf`` (WeasyPrint lays out that same HTML on A4), ``xlsx`` (a summary sheet, then one
sheet per section: dates as dates, money as numbers in a currency format, a frozen
header, an autofilter) and ``csv`` (a zip, ``.csv.zip``, of ``summary.csv`` and one CSV
per section, money exact in currency units). In both spreadsheet formats a text cell
that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, a tab or a
carriage return first) gets a leading ``'``. Every report has a detached signature
(``FILE.sig``) and the signer's public bundle (``<fingerprint>.nxpub``) beside it, so
``nexus-lab verify FILE --sig FILE.sig --pub <fingerprint>.nxpub`` checks it.

Audit workpapers
----------------
:func:`make_workpaper` writes a battery of audit tests (:func:`nexus_lab.examine.battery`)
as a signed workpaper, filed like a report (kind ``examination``; it needs
``examine.run``): ``html``, one printable page with each test's verdict, parameters (the
call that replays it), warnings, plot (inline SVG) and tables; or ``xlsx``, a summary
sheet, the tests and their verdicts, and one sheet per table of each test with all its
rows. :func:`workpaper_bytes` renders one unsigned.

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
from nexus_lab.reports._mask import CLEAR as MASKING
from nexus_lab.reports._signed import REPORT_FORMATS, REPORT_KINDS, SignedReport, make_report
from nexus_lab.reports._workpaper import WORKPAPER_FORMATS, make_workpaper, workpaper_bytes

__all__ = [
    "FRAUD_FILES",
    "MASKING",
    "OUTPUT_FILES",
    "REPORT_FORMATS",
    "REPORT_KINDS",
    "WORKPAPER_FORMATS",
    "Export",
    "SignedReport",
    "export_fraud",
    "export_reconcile",
    "fraud_html",
    "make_report",
    "make_workpaper",
    "reconcile_html",
    "reconcile_summary",
    "save_reconcile",
    "workpaper_bytes",
]
