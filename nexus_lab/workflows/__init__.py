"""Workflows: the kernels and the services put together into the jobs people run.

A service layer above tracking, reports, cases and the audit trail: train a model,
measure it on held-out data, log and register it; reconcile, export and track;
standardize a table and score its quality, per source too; the executive overview of the
store; run the battery of audit tests on a general ledger, record each test and write
its signed workpaper, and replay a recorded test; the demo's steps on the bundled sample
data.
The CLI, the notebooks and scheduled runs call these and print or render what they
return; none of them prints.

Examples
--------
>>> import nexus_lab as nx, tempfile, pathlib
>>> from nexus_lab import workflows
>>> bank, ledger, _ = nx.datasets.synth_reconciliation(200, seed=0)
>>> run = workflows.reconcile_and_export(bank, ledger, pathlib.Path(tempfile.mkdtemp()) / "r",
...                                      device="cpu", track=False)
>>> run.result.summary()["bank_rows"]
200
"""

from nexus_lab.workflows._demo import (
    DATA,
    SAMPLE,
    Sample,
    case_step,
    compress_step,
    examine_step,
    fraud_step,
    load_sample,
    recommend_step,
    records_step,
    sources_of,
    write_sample,
)
from nexus_lab.workflows._examine import (
    EXAMINE_FILES,
    ExamineRun,
    Replay,
    examination_runs,
    examinations,
    examine_ledger,
    load_examination,
    replay_examination,
)
from nexus_lab.workflows._overview import AGE_BANDS, overview
from nexus_lab.workflows._provenance import DEMO_PASSWORD, demo_provenance, demo_trail
from nexus_lab.workflows._reconcile import ReconcileRun, reconcile_and_export
from nexus_lab.workflows._records import (
    INGEST_TABLES,
    ingest_file,
    load_books,
    load_projects,
    project_variance,
    reconcile_from_store,
    save_fraud_scores,
    save_reconciliation,
)
from nexus_lab.workflows._sources import QUALITY_TABLES, source_quality, source_report
from nexus_lab.workflows._standardize import StandardizeRun, link_duplicates, standardize_table
from nexus_lab.workflows._train import RECOMMENDERS, train_fraud_model, train_recommender
from nexus_lab.workflows._triage import change_case_status, escalate_to_case

__all__ = [
    "AGE_BANDS",
    "DATA",
    "DEMO_PASSWORD",
    "EXAMINE_FILES",
    "INGEST_TABLES",
    "QUALITY_TABLES",
    "RECOMMENDERS",
    "SAMPLE",
    "ExamineRun",
    "ReconcileRun",
    "Replay",
    "Sample",
    "StandardizeRun",
    "case_step",
    "change_case_status",
    "compress_step",
    "demo_provenance",
    "demo_trail",
    "escalate_to_case",
    "examination_runs",
    "examinations",
    "examine_ledger",
    "examine_step",
    "fraud_step",
    "ingest_file",
    "link_duplicates",
    "load_books",
    "load_examination",
    "load_projects",
    "load_sample",
    "overview",
    "project_variance",
    "recommend_step",
    "reconcile_and_export",
    "reconcile_from_store",
    "records_step",
    "replay_examination",
    "save_fraud_scores",
    "save_reconciliation",
    "source_quality",
    "source_report",
    "sources_of",
    "standardize_table",
    "train_fraud_model",
    "train_recommender",
    "write_sample",
]
