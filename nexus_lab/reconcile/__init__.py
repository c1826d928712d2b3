"""Reconciliation: bank statements against ledgers, and record linkage in general.

A kernel: frames and arrays in, frames and arrays out; it imports only base modules,
reads no environment variable and knows no service.

The subpackage is itself callable: ``nexus_lab.reconcile(bank, ledger)`` is
:func:`reconcile`, and ``nexus_lab.reconcile.evaluate`` scores a result against
ground truth.
"""

import sys
import types

from nexus_lab.reconcile._engine import ReconcileResult, reconcile
from nexus_lab.reconcile._evaluate import evaluate
from nexus_lab.reconcile._link import link
from nexus_lab.reconcile._shards import Shards

__all__ = ["ReconcileResult", "Shards", "evaluate", "link", "reconcile"]


class _CallableModule(types.ModuleType):
    """Lets ``nx.reconcile(...)`` call the function while ``nx.reconcile.x`` reaches the package."""

    def __call__(self, *args, **kwargs):
        return reconcile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
