"""The standard battery of audit tests on a general ledger: :func:`battery` and its result,
:class:`Battery` (a mapping of test names to :class:`~nexus_lab.examine.Examination`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from nexus_lab._html import STATUS_COLORS, escape, kv
from nexus_lab.examine._result import _VERDICT_COLORS, Examination

__all__ = ["Battery", "findings_of"]

#: Facts that count what a test found (the first one a result has is its findings).
_FINDING_FACTS = ("findings", "flagged", "conflicts", "duplicate_rows", "duplicates",
                  "gap_items", "gaps", "missing", "flagged_entries", "exceptions")
#: Verdicts that say a test found nothing to follow up.
_CLEAN = frozenset({"close", "acceptable", "clean", "pass", "conforms"})


def findings_of(result: Examination) -> int | None:
    """How many findings ``result`` reports: its first counting fact (``findings``,
    ``flagged``, ``conflicts``...), else 0 for a clean verdict, else None (a descriptive
    test: stratify, age, summarize).

    Examples
    --------
    >>> from nexus_lab.examine import Examination
    >>> findings_of(Examination("gaps", {}, {}, {"rows": 9, "gaps": 2}, verdict="findings"))
    2
    >>> findings_of(Examination("stratify", {}, {}, {"rows": 9}))
    """
    for key in _FINDING_FACTS:
        value = result.facts.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float) or hasattr(value, "item"):
            return int(value)
        if isinstance(value, list | tuple | dict):
            return len(value)
    return 0 if result.verdict in _CLEAN else None


def _key_facts(result: Examination, limit: int = 4) -> str:
    """A few of the result's plain facts as ``name value`` text, for one line."""
    shown = []
    for key, value in result.facts.items():
        if key in _FINDING_FACTS or isinstance(value, dict | list | tuple):
            continue
        if isinstance(value, float):
            value = f"{value:,.4g}"
        elif isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        shown.append(f"{key.replace('_', ' ')} {value}")
        if len(shown) == limit:
            break
    return "; ".join(shown)


class Battery(Mapping[str, Examination]):
    """What :func:`battery` found: each test's :class:`Examination` by its name in the
    battery (``"benford_first"``, ``"duplicates_exact"``, ``"gaps"``...), in the order
    they ran.

    Parameters
    ----------
    results : mapping of str to Examination
        The tests' results by name.
    info : mapping, optional
        What the battery ran on (``period_end``, ``rows``...), as plain values.
    skipped : mapping of str to str, optional
        Tests asked for that did not run, and why.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import Battery, Examination
    >>> gl = pd.DataFrame({"account": ["4000", "4000", "6100"], "amount": [-500, -300, 800]})
    >>> totals = gl.groupby("account", as_index=False)["amount"].sum()
    >>> b = Battery({"summarize": Examination("summarize", {"by": "account"},
    ...                                       {"groups": totals}, {"groups": len(totals)})},
    ...             info={"rows": len(gl)})
    >>> list(b), b.summary()["tests"], b.to_frame()["test"].tolist()
    (['summarize'], 1, ['summarize'])
    """

    #: Verdicts that say a test found nothing to follow up.
    CLEAN = _CLEAN

    def __init__(self, results: Mapping[str, Examination], *,
                 info: Mapping[str, Any] | None = None,
                 skipped: Mapping[str, str] | None = None) -> None:
        for name, result in results.items():
            if not isinstance(result, Examination):
                raise TypeError(f"{name}: a battery holds Examination results, not "
                                f"{type(result).__name__}")
        self._results = dict(results)
        self.info = dict(info or {})
        self.skipped = dict(skipped or {})

    # ---- the mapping --------------------------------------------------------------------

    def __getitem__(self, name: str) -> Examination:
        try:
            return self._results[name]
        except KeyError:
            raise KeyError(f"the battery ran no test {name!r}; it ran "
                           f"{', '.join(map(repr, self._results)) or 'none'}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{k}={v.verdict}" for k, v in self._results.items() if v.verdict)
        return f"<Battery of {len(self)} tests: {verdicts or 'no verdicts'}>"

    # ---- tables and figures -------------------------------------------------------------

    def findings(self) -> dict[str, int | None]:
        """Each test's count of findings (:func:`findings_of`)."""
        return {name: findings_of(r) for name, r in self._results.items()}

    def summary(self) -> dict[str, Any]:
        """What ran on what, each test's verdict and findings, and each test's summary.

        Returns
        -------
        dict
            The battery's ``info``; ``tests`` (how many ran); ``with_findings`` (the
            names of those whose findings are above zero or whose verdict is not clean);
            ``verdicts`` and ``findings`` by name; ``skipped``; ``results``: each test's
            :meth:`Examination.summary`.
        """
        found = self.findings()
        flagged = [n for n, r in self._results.items()
                   if (found[n] or 0) > 0 or (r.verdict is not None and r.verdict not in _CLEAN)]
        return {**self.info, "tests": len(self), "with_findings": flagged,
                "verdicts": {n: r.verdict for n, r in self._results.items()},
                "findings": found, "skipped": dict(self.skipped),
                "results": {n: r.summary() for n, r in self._results.items()}}

    def to_frame(self) -> pd.DataFrame:
        """One row per test: ``name, test, verdict, findings, facts, warnings``."""
        rows = [{"name": n, "test": r.test, "verdict": r.verdict, "findings": findings_of(r),
                 "facts": _key_facts(r), "warnings": len(r.notes)}
                for n, r in self._results.items()]
        out = pd.DataFrame(rows, columns=["name", "test", "verdict", "findings", "facts",
                                          "warnings"])
        out["findings"] = out["findings"].astype("Int64")
        return out

    def _repr_html_(self) -> str:
        table = self.to_frame()
        rows = []
        for row in table.itertuples(index=False):
            color = STATUS_COLORS.get(_VERDICT_COLORS.get(row.verdict or "", ""), "#5c6673")
            verdict = (f"<span style='background:{color};color:#fff;border-radius:3px;"
                       f"padding:1px 6px'>{escape(row.verdict)}</span>" if row.verdict else "–")
            found = "–" if pd.isna(row.findings) else f"{int(row.findings):,}"
            rows.append(f"<tr><td>{escape(row.name)}</td><td>{verdict}</td>"
                        f"<td style='text-align:right'>{found}</td><td>{escape(row.facts)}</td>"
                        "</tr>")
        head = ("<tr><th style='text-align:left'>test</th><th>verdict</th><th>findings</th>"
                "<th style='text-align:left'>facts</th></tr>")
        info = kv({k: v for k, v in self.info.items() if not isinstance(v, dict | list)})
        skipped = "".join(f"<p style='color:#5c6673'>not run: {escape(k)}: {escape(v)}</p>"
                          for k, v in self.skipped.items())
        details = "".join(f"<details><summary>{escape(n)}</summary>{r._repr_html_()}</details>"
                          for n, r in self._results.items())
        return (f"<div><h4 style='margin:4px 0'>Audit battery: {len(self)} tests</h4>{info}"
                f"<table>{head}{''.join(rows)}</table>{skipped}{details}</div>")

