"""The tests that add up over parts of a table, in steps a service runs partition by
partition (:func:`nexus_lab.scale.examine`): a tally of some rows, tallies that add up
to the whole table's, and the result from a tally, made by the same code as the
one-machine test's.

* Benford's law: :func:`benford_spec` checks the arguments, :func:`benford_tally`
  counts the digits of a frame (:class:`BenfordTally`, whose :meth:`~BenfordTally.add`
  adds the parts'), :func:`benford_result` gives the result from a tally; the rows
  carrying the drivers come from :func:`benford_top` and :func:`benford_rows`.
* Exact duplicates: :func:`duplicate_keys` resolves the key columns as the test does;
  :func:`duplicates_result` gives the result from the groups and rows found.
* Profiles: :func:`amount_span` and :func:`band_edges` make the :class:`Strata` of
  :func:`~nexus_lab.examine.stratify`; :func:`amount_tally` counts and totals the
  amounts per band or group, :func:`group_codes` numbers the groups of
  :func:`~nexus_lab.examine.summarize`, :func:`extremes` lists the largest and smallest
  items; :func:`stratified` and :func:`summarized` give the results.

>>> from nexus_lab.examine import parts
>>> parts.benford_spec("first", "positive", 95, 100, None).cells
9
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.examine._benford import _checked as benford_spec
from nexus_lab.examine._benford import _conclude as benford_result
from nexus_lab.examine._benford import _rows as benford_rows
from nexus_lab.examine._benford import _Tally as BenfordTally
from nexus_lab.examine._benford import _tally as benford_tally
from nexus_lab.examine._benford import _top as benford_top
from nexus_lab.examine._duplicates import _blank_note, _facts, _names, _plot, _Resolver
from nexus_lab.examine._profile import _edges as band_edges
from nexus_lab.examine._profile import _extremes as extremes
from nexus_lab.examine._profile import _group_codes as group_codes
from nexus_lab.examine._profile import _span as amount_span
from nexus_lab.examine._profile import _Strata as Strata
from nexus_lab.examine._profile import _stratified as stratified
from nexus_lab.examine._profile import _summarized as summarized
from nexus_lab.examine._profile import _tally as amount_tally
from nexus_lab.examine._result import Examination, warn
from nexus_lab.examine._tally import NAME, table
from nexus_lab.frames import MONEY_COLUMNS

__all__ = ["NAME", "BenfordTally", "Strata", "amount_span", "amount_tally", "band_edges",
           "benford_result", "benford_rows", "benford_spec", "benford_tally", "benford_top",
           "duplicate_keys", "duplicates_result", "extremes", "group_codes", "stratified",
           "summarized", "table"]


def duplicate_keys(columns: list[str], same: Any, mapping: Any
                   ) -> tuple[list[str], set[str], str | None]:
    """The ``same`` columns of exact duplicates as :func:`~nexus_lab.examine.duplicates`
    resolves them (every column but the id column for None), the money ones among them
    (compared as cents) and the amount column."""
    resolve = _Resolver(columns, dict(mapping or {}))
    names = _names(same, "same")
    id_col = resolve.optional("transaction_id")
    keys = ([resolve(c, "same") for c in names] if names is not None
            else [c for c in columns if c != id_col])
    money = {c for c in (resolve.optional(m) for m in MONEY_COLUMNS) if c is not None}
    return keys, money & set(keys), resolve.optional("amount")


def duplicates_result(params: dict[str, Any], groups: pd.DataFrame, rows: pd.DataFrame,
                      n: int, amount: str | None, blank: int,
                      first_blank: int | None) -> Examination:
    """The exact duplicates' result from their tables (``groups.attrs["at_risk_cents"]``
    set), the rows of the table, its amount column and its rows without an amount."""
    notes: list[str] = []
    if blank:
        warn(_blank_note(str(amount), blank, int(np.int64(first_blank))), notes)
    facts = _facts(n, groups, rows, 0, amount is not None)
    return Examination("duplicates", params, {"groups": groups, "rows": rows}, facts,
                       verdict="findings" if len(groups) else "clean", notes=notes,
                       plotter=_plot)
