"""Reconciliation: bank statements against ledgers, and record linkage in general."""

from nexus_lab.reconcile._engine import ReconcileResult, reconcile
from nexus_lab.reconcile._evaluate import evaluate

__all__ = ["ReconcileResult", "evaluate", "reconcile"]
