"""Seeded generators of realistic synthetic data for tests, demos and benchmarks."""

from nexus_lab.data._reconciliation import synth_reconciliation

__all__ = ["synth_reconciliation"]
