"""Audit analytics: the standard tests of IDEA, ACL and Arbutus on frames.

A kernel: frames in, :class:`Examination` results out (tables, a summary, a plot, a
rich notebook view). Each result keeps the parameters it ran with as JSON, so a
service can record who ran what on which data and replay the call exactly.

- :func:`duplicates`: exact duplicates on key fields, and same-same-different, -near
  and -similar duplicates (Arbutus, ACL FUZZYDUP), unsorted input, linear memory.

Examples
--------
>>> import pandas as pd
>>> from nexus_lab.examine import Examination
>>> Examination("count", {}, {"t": pd.DataFrame({"n": [1]})}, {"rows": 1}).summary()["rows"]
1
"""

from nexus_lab.examine._duplicates import duplicates
from nexus_lab.examine._result import Examination, ExamineWarning

__all__ = ["Examination", "ExamineWarning", "duplicates"]
