"""Standardization and data quality: bank and ledger tables made ready for reconciliation.

A kernel: frames in, frames out; it imports only base modules, reads no environment
variable, opens no database and knows no service.

* :func:`standardize` brings a table into its data contract (money as int64 cents,
  dates, currencies, descriptions, categories) as a recorded pipeline: every rule
  says which values it changed, and suspected duplicates are listed;
* :func:`quality` scores a table's completeness, validity, uniqueness, consistency
  and timeliness (0-100) against rules given in code, in a YAML file or as a
  ``pandera.DataFrameSchema``, and lists the failing rows of each rule.

The subpackage is itself callable: ``nexus_lab.standardize(df)`` is :func:`standardize`.

Examples
--------
>>> import nexus_lab as nx
>>> bank, _, _ = nx.datasets.synth_reconciliation(100, seed=0)
>>> res = nx.standardize(bank, currency="USD")
>>> res.frame["amount_cents"].dtype
dtype('int64')
>>> 0 <= nx.standardize.quality(res).overall <= 100
True
"""

import sys
import types

from nexus_lab.standardize._quality import DIMENSIONS, QualityReport, contract_schema, quality
from nexus_lab.standardize._standardize import CONTRACTS, Standardized, standardize

__all__ = ["CONTRACTS", "DIMENSIONS", "QualityReport", "Standardized", "contract_schema",
           "quality", "standardize"]


class _CallableModule(types.ModuleType):
    """Lets ``nx.standardize(df)`` call the function while ``nx.standardize.x`` reaches the
    package."""

    def __call__(self, *args, **kwargs):
        return standardize(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
