"""``nexus_lab.data``: the older name of :mod:`nexus_lab.datasets`, kept so that
``nx.data.synth_reconciliation(...)`` and ``from nexus_lab.data import ...`` go on
working. Importing it gives the very same module object."""

import sys

from nexus_lab import datasets

sys.modules[__name__] = datasets
