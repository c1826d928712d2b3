"""NEXUS Lab: analytics kernels for financial examination, on CPU or GPU.

The public API is small and loaded lazily, so ``import nexus_lab`` stays fast
(torch, MLflow and friends load on first use). It is declared once, in
``__init__.pyi`` beside this file, which type checkers read too::

    import nexus_lab as nx
    bank = nx.read_table("bank.xlsx", name="bank")   # CSV, Parquet or Excel, checked
    bank, ledger, truth = nx.datasets.synth_reconciliation(2_000, seed=0)
    res = nx.reconcile(bank, ledger)          # bank statement against ledger
    scored = nx.fraud.FraudDetector().fit(history).score(tx)   # fraud risk 0-100
    pairs = nx.link(customers, crm)           # any two tables, or duplicates in one
    std = nx.standardize(bank)                # contract columns, every change recorded
    report = nx.standardize.quality(std)      # five quality dimensions, 0-100
    recs = nx.recommend.Hybrid().fit(interactions).recommend(users, k=10)
    codec = nx.compress.fit(vectors, bytes_per_vector=32)   # compact, searchable vectors
    var = nx.projects.variance(milestones, operations, projects=projects)  # budget vs actual
    kp = nx.crypto.generate_keypair("examiner")  # post-quantum sealing and signing
    sig = nx.crypto.sign(report_bytes, kp)

The package is built in layers, each a set of folders, with imports pointing one way
(checked by import-linter in ``make lint`` and in the tests):

* surfaces: ``cli/``: parse, call a service, print;
* services: ``workflows/``, ``scale/``, ``tracking/``, ``reports/``, ``artifacts/``,
  ``cases/``, ``review/``, ``audit/``: state, identity, records, MLflow, Dask;
* kernels: ``reconcile/``, ``fraud/``, ``recommend/``, ``compress/``, ``crypto/``,
  ``projects/``, ``standardize/``, ``datasets/``: frames and arrays in, frames and arrays
  out; independent of each other;
* base: the top-level modules (``errors``, ``config``, ``device``, ``frames``,
  ``files``, ``text``, ``canonical``, ...).
"""

from typing import Any

import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]


# ---- Jupyter: the server extension, the prebuilt labextension and the IPython magics.
# Each names its module only: nothing of Jupyter is imported until Jupyter asks.
def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension (``jupyter server extension list`` shows ``nexus_lab``)."""
    return [{"module": "nexus_lab.jupyter"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt labextension, built from ``extensions/`` into ``labextension/``."""
    return [{"src": "labextension", "dest": "nexus-lab"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nexus_lab``: the ``%nexus`` and ``%%nexus`` magics."""
    from nexus_lab.jupyter import load_ipython_extension as load

    load(ipython)
