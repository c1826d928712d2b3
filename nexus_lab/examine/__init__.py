"""Audit analytics: the standard tests of IDEA, ACL and Arbutus on frames.

A kernel: frames in, :class:`Examination` results out (tables, a summary, a plot, a
rich notebook view). Each result keeps the parameters it ran with as JSON, so a
service can record who ran what on which data and replay the call exactly.

Audit sampling (the AICPA Audit Guide *Audit Sampling*'s sizes and limits):
:func:`sample_size` (attribute, monetary-unit and classical variables sampling),
:func:`sample` (random, fixed interval, cell, monetary unit, stratified) and
:func:`evaluate` (MUS upper limit with taintings, attribute upper deviation rate).

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
from nexus_lab.examine._result import Examination, ExamineWarning
from nexus_lab.examine._sampling import evaluate, sample, sample_size

__all__ = ["Examination", "ExamineWarning"]
__all__ += ["evaluate", "sample", "sample_size"]
__all__ += ["EXAMINE_TESTS", "Battery", "battery", "key_facts", "ledger_entries"]
