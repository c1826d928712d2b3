"""Data to try the kernels on: seeded generators and public datasets read from wheels.

A kernel (it reads a wheel's bundled files, never the network).

The generators make realistic synthetic tables with the truth planted, for tests,
demos and benchmarks (``synth_reconciliation`` has several unlike generators, its
:data:`RECONCILIATION_PROFILES`, so that a reconciler can be judged on books it was
not tuned on); ``synth_general_ledger`` makes a year's journal entries of unlike
businesses (:data:`GL_PROFILES`) with the misstatements of :data:`GL_MISSTATEMENTS`
planted on request, and ``synth_erp_events`` an ERP's user log with
segregation-of-duties conflicts; ``movielens_100k`` reads MovieLens-100k from the ``recbole``
wheel (never downloaded). ``nx.data`` is the same module under its older name.

Examples
--------
>>> import nexus_lab as nx
>>> bank, ledger, truth = nx.datasets.synth_reconciliation(200, seed=0)
>>> list(bank.columns)[:4]
['transaction_id', 'date', 'amount', 'description']
>>> nx.data is nx.datasets
True
"""

from nexus_lab.datasets._erp_events import synth_erp_events
from nexus_lab.datasets._general_ledger import GL_MISSTATEMENTS, GL_PROFILES, synth_general_ledger
from nexus_lab.datasets._interactions import synth_interactions
from nexus_lab.datasets._movielens import movielens_100k, movielens_100k_users
from nexus_lab.datasets._projects import synth_projects
from nexus_lab.datasets._reconciliation import RECONCILIATION_PROFILES, synth_reconciliation
from nexus_lab.datasets._transactions import PATTERNS, synth_transactions
from nexus_lab.datasets._vectors import synth_vectors

__all__ = ["GL_MISSTATEMENTS", "GL_PROFILES", "PATTERNS", "RECONCILIATION_PROFILES",
           "movielens_100k", "movielens_100k_users", "synth_erp_events", "synth_general_ledger",
           "synth_interactions", "synth_projects", "synth_reconciliation", "synth_transactions",
           "synth_vectors"]
