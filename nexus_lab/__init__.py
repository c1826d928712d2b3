"""NEXUS Lab: analytics kernels for financial examination, on CPU or GPU.

The public API is small and loaded lazily, so ``import nexus_lab`` stays fast
(torch, MLflow and friends load on first use)::

    import nexus_lab as nx
    bank, ledger, truth = nx.data.synth_reconciliation(2_000, seed=0)
    res = nx.reconcile(bank, ledger)          # bank statement against ledger
    scored = nx.fraud.FraudDetector().fit(history).score(tx)   # fraud risk 0-100
    pairs = nx.link(customers, crm)           # any two tables, or duplicates in one
    recs = nx.recommend.Hybrid().fit(interactions).recommend(users, k=10)
    codec = nx.compress.fit(vectors, bytes_per_vector=32)   # compact, searchable vectors
    kp = nx.crypto.generate_keypair("examiner")  # post-quantum sealing and signing
    sig = nx.crypto.sign(report_bytes, kp)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nexus_lab.errors import (
    DependencyError,
    DeviceError,
    IntegrityError,
    NexusError,
    SchemaError,
)

__version__ = "0.1.0"

__all__ = [
    "DependencyError",
    "DeviceError",
    "IntegrityError",
    "NexusError",
    "ReconcileResult",
    "SchemaError",
    "__version__",
    "cases",
    "compress",
    "crypto",
    "data",
    "fraud",
    "link",
    "recommend",
    "reconcile",
    "resolve_device",
]

_LAZY = {
    "reconcile": ("nexus_lab.reconcile", None),
    "data": ("nexus_lab.data", None),
    "compress": ("nexus_lab.compress", None),
    "crypto": ("nexus_lab.crypto", None),
    "cases": ("nexus_lab.cases", None),
    "fraud": ("nexus_lab.fraud", None),
    "recommend": ("nexus_lab.recommend", None),
    "link": ("nexus_lab.reconcile", "link"),
    "ReconcileResult": ("nexus_lab.reconcile", "ReconcileResult"),
    "resolve_device": ("nexus_lab.device", "resolve_device"),
}

if TYPE_CHECKING:  # pragma: no cover
    from nexus_lab import cases, compress, crypto, data, fraud, recommend, reconcile
    from nexus_lab.device import resolve_device
    from nexus_lab.reconcile import ReconcileResult, link


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'nexus_lab' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
