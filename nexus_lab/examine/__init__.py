"""Audit analytics: the standard tests of IDEA, ACL and Arbutus on frames.

A kernel: frames in, :class:`Examination` results out (tables, a summary, a plot, a
rich notebook view). Each result keeps the parameters it ran with as JSON, so a
service can record who ran what on which data and replay the call exactly.

* :func:`benford`: Benford's law digit tests (first, first-two, first-three, second,
  last-two digits, summation, second order; :data:`BENFORD_TESTS`), per group with
  ``by=``, equal to benford_py's figures.
* :func:`gaps`: missing numbers, dates (calendar or business days) and numbered
  documents (``INV-00123``) in a sequence, and its duplicates.
* :func:`duplicates`: exact duplicates on key fields, and same-same-different, -near
  and -similar duplicates (Arbutus, ACL FUZZYDUP), unsorted input, linear memory.
* :func:`stratify`, :func:`age`, :func:`summarize`: counts, exact totals and shares per
  amount band, per days-before-cutoff band and per group, with the top items.
* Audit sampling (the AICPA Audit Guide *Audit Sampling*'s sizes and limits):
  :func:`sample_size` (attribute, monetary-unit and classical variables sampling),
  :func:`sample` (random, fixed interval, cell, monetary unit, stratified) and
  :func:`evaluate` (MUS upper limit with taintings, attribute upper deviation rate).
* :func:`journal_entry_tests`: the standard journal-entry queries (unbalanced entries,
  number gaps and duplicates, round amounts, weekend, holiday and backdated postings,
  amounts just below approval limits, rare accounts and account pairs, manual entries by
  unusual users or at unusual hours, keywords, period-end entries, large amounts,
  self-approval) as one report with a risk score per entry (weights :data:`JE_WEIGHTS`).
* :func:`sod_conflicts`: users who did two duties one person should not hold both of
  (:data:`DEFAULT_SOD`: a vendor created and paid, an entry posted and approved...).

Examples
--------
>>> import pandas as pd
>>> from nexus_lab.examine import Examination
>>> Examination("count", {}, {"t": pd.DataFrame({"n": [1]})}, {"rows": 1}).summary()["rows"]
1
"""

from nexus_lab.examine._battery import (
    EXAMINE_TESTS,
    Battery,
    battery,
    key_facts,
    ledger_entries,
)
from nexus_lab.examine._benford import BENFORD_TESTS, benford
from nexus_lab.examine._duplicates import duplicates
from nexus_lab.examine._gaps import gaps
from nexus_lab.examine._journal import JE_WEIGHTS, journal_entry_tests
from nexus_lab.examine._profile import age, stratify, summarize
from nexus_lab.examine._result import Examination, ExamineWarning
from nexus_lab.examine._sampling import evaluate, sample, sample_size
from nexus_lab.examine._sod import DEFAULT_SOD, sod_conflicts

__all__ = ["BENFORD_TESTS", "DEFAULT_SOD", "JE_WEIGHTS", "Examination", "ExamineWarning", "age",
           "benford", "duplicates", "evaluate", "gaps", "journal_entry_tests", "sample",
           "sample_size", "sod_conflicts", "stratify", "summarize"]
__all__ += ["EXAMINE_TESTS", "Battery", "battery", "key_facts", "ledger_entries"]
