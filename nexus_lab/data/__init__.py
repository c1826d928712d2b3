"""Seeded generators of realistic synthetic data for tests, demos and benchmarks."""

from nexus_lab.data._interactions import synth_interactions
from nexus_lab.data._reconciliation import synth_reconciliation
from nexus_lab.data._transactions import PATTERNS, synth_transactions
from nexus_lab.data._vectors import synth_vectors

__all__ = ["PATTERNS", "synth_interactions", "synth_reconciliation", "synth_transactions",
           "synth_vectors"]
