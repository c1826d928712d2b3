"""Standardization and data quality: bank and ledger tables made ready for reconciliation.

A kernel: frames in, frames out; it imports only base modules, reads no environment
variable, opens no database and knows no service.

* :func:`standardize` brings a table into its data contract (money as int64 cents,
  dates, currencies, descriptions, categories) as a recorded pipeline: every rule
  says which values it changed, and suspected duplicates are listed;
* :func:`quality` scores a table's completeness, validity, uniqueness, consistency
  and timeliness (0-100) against rules given in code, in a YAML file or as a
  ``pandera.DataFrameSchema``, and lists the failing rows of each rule.
"""

from nexus_lab.standardize._quality import QualityReport, contract_schema, quality
from nexus_lab.standardize._standardize import CONTRACTS, Standardized, standardize

__all__ = ["CONTRACTS", "QualityReport", "Standardized", "contract_schema", "quality",
           "standardize"]
