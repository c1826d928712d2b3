"""The standard battery of audit tests on a general ledger: :func:`battery` and its result,
:class:`Battery` (a mapping of test names to :class:`~nexus_lab.examine.Examination`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from nexus_lab._html import STATUS_COLORS, escape, kv
from nexus_lab.examine._result import _VERDICT_COLORS, Examination, ExamineWarning

__all__ = ["EXAMINE_TESTS", "GL_COLUMNS", "Battery", "battery", "findings_of", "key_facts",
           "ledger_entries"]

#: Facts that count what a test found (the first one a result has is its findings).
_FINDING_FACTS = ("findings", "flagged", "conflicts", "duplicate_rows", "missing",
                  "duplicates", "gap_items", "gaps", "flagged_entries", "exceptions")
#: Verdicts that say a test found nothing to follow up.
_CLEAN = frozenset({"close", "acceptable", "clean", "pass", "conforms"})
#: Verdicts that say a test could not judge (too few rows): neither clean nor a finding.
_UNJUDGED = frozenset({"too_few_rows"})


def findings_of(result: Examination) -> int | None:
    """How many findings ``result`` reports: its first counting fact above zero
    (``findings``, ``flagged``, ``conflicts``, ``duplicate_rows``, ``missing``...; 0 when
    they are all zero); else 0 for a clean verdict (``close``, ``acceptable``,
    ``clean``...); else the rows that drive a departure (Benford's ``driver_rows``); else
    None (a descriptive test: stratify, age, summarize; or one that could not judge:
    ``too_few_rows``).

    Examples
    --------
    >>> from nexus_lab.examine import Examination
    >>> findings_of(Examination("gaps", {}, {}, {"rows": 9, "gaps": 2}, verdict="findings"))
    2
    >>> findings_of(Examination("benford", {}, {}, {"driver_rows": 7}, verdict="close"))
    0
    >>> findings_of(Examination("stratify", {}, {}, {"rows": 9}))
    """
    if result.verdict in _UNJUDGED:
        return None
    counts = []
    for key in _FINDING_FACTS:
        value = result.facts.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float) or hasattr(value, "item"):
            counts.append(int(value))
        elif isinstance(value, list | tuple | dict):
            counts.append(len(value))
    if counts:  # the first that counts something (gaps: missing, else duplicates)
        return next((c for c in counts if c > 0), 0)
    if result.verdict in _CLEAN:
        return 0
    value = result.facts.get("driver_rows")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


#: Facts that say most about a test, shown first in its one line.
_KEY_FACTS = ("tested", "mad", "excess_mad", "chi2_p", "drivers", "missing", "ranges",
              "duplicate_rows", "duplicates", "groups", "value_at_risk", "entries", "flagged",
              "conflicts", "users", "bands", "total", "oldest_days", "after_cutoff")
#: Facts that say little on one line (the test's settings, counts left out).
_QUIET_FACTS = frozenset({"test", "kind", "read", "zero", "negative", "positive", "minimum",
                          "cutoffs", "verdict_basis", "z_critical", "ks_critical", "cutoff",
                          "currency", "rows_listed", "expected_mad", "chi2", "ks", "verdict",
                          "warnings"})


def key_facts(facts: Mapping[str, Any], limit: int = 4) -> str:
    """A few of a test's plain facts as ``name value`` text, for one line: those that say
    most first (the amounts tested, MAD, missing items, duplicate rows, flagged
    entries...), then the others; the test's settings and counts of what it left out are
    not shown. Takes :attr:`Examination.facts` or :meth:`Examination.summary`.

    Examples
    --------
    >>> key_facts({"test": "first", "rows": 1200, "negative": 600, "tested": 598,
    ...            "mad": 0.00412, "verdict": "close", "warnings": []})
    'tested 598; mad 0.00412; rows 1,200'
    """
    order = [k for k in _KEY_FACTS if k in facts] + [k for k in facts if k not in _KEY_FACTS]
    shown = []
    for key in order:
        value = facts[key]
        if (key in _QUIET_FACTS or key.endswith("_cents") or value is None
                or isinstance(value, dict | list | tuple)):
            continue
        if isinstance(value, float):  # amounts grouped with cents, statistics in 4 digits
            value = f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
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
    inputs : mapping of str to str, optional
        The data a test ran on, when not the general ledger (``"gl"``): ``"entries"`` (its
        first line per entry, :func:`ledger_entries`) or ``"events"``
        (``{"sod": "events"}``).

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
    #: Verdicts that say a test could not judge.
    UNJUDGED = _UNJUDGED

    def __init__(self, results: Mapping[str, Examination], *,
                 info: Mapping[str, Any] | None = None,
                 skipped: Mapping[str, str] | None = None,
                 inputs: Mapping[str, str] | None = None) -> None:
        for name, result in results.items():
            if not isinstance(result, Examination):
                raise TypeError(f"{name}: a battery holds Examination results, not "
                                f"{type(result).__name__}")
        self._results = dict(results)
        self.info = dict(info or {})
        self.skipped = dict(skipped or {})
        self.inputs = {name: "gl" for name in self._results} | dict(inputs or {})

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
            names of those whose verdict is not clean, or, for a test that gives no
            verdict, whose findings are above zero; not those too few rows left
            unjudged);
            ``verdicts`` and ``findings`` by name; ``skipped``; ``results``: each test's
            :meth:`Examination.summary`.
        """
        found = self.findings()
        flagged = [n for n, r in self._results.items() if r.verdict not in _UNJUDGED and
                   (r.verdict not in _CLEAN if r.verdict is not None else (found[n] or 0) > 0)]
        return {**self.info, "tests": len(self), "with_findings": flagged,
                "verdicts": {n: r.verdict for n, r in self._results.items()},
                "findings": found, "skipped": dict(self.skipped),
                "results": {n: r.summary() for n, r in self._results.items()}}

    def to_frame(self) -> pd.DataFrame:
        """One row per test: ``name, test, verdict, findings, facts, warnings``."""
        rows = [{"name": n, "test": r.test, "verdict": r.verdict, "findings": findings_of(r),
                 "facts": key_facts(r.facts), "warnings": len(r.notes)}
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



# ---- the battery ------------------------------------------------------------------------

#: The tests :func:`battery` runs, by the names ``tests=`` takes, in the order they run.
EXAMINE_TESTS = ("benford", "gaps", "duplicates", "stratify", "age", "summarize",
                 "journal_entries", "sod")

#: The general ledger's columns (the data contract); the first four are required.
GL_COLUMNS = ("entry_id", "date", "account", "amount", "line", "posted_by", "posted_at",
              "source", "description", "approved_by", "entity")
_REQUIRED = GL_COLUMNS[:4]
_NAME = "general ledger"


class _Ledger:
    """The general ledger the battery runs on: where each column of the contract is."""

    def __init__(self, gl: pd.DataFrame, columns: Mapping[str, str] | None) -> None:
        from nexus_lab.frames import find_column, select_columns

        mapping = dict(columns or {})
        ledger_keys = [k for k in mapping if k in GL_COLUMNS]
        select_columns(gl, name=_NAME, required=_REQUIRED, optional=GL_COLUMNS[4:],
                       columns={k: mapping[k] for k in ledger_keys})  # names the fix
        have = [str(c) for c in gl.columns]
        self.where = {}
        for name in GL_COLUMNS:
            found = mapping.get(name) or find_column(have, name)
            if found in have:
                self.where[name] = found
        self.rows = len(gl)

    def has(self, name: str) -> bool:
        return name in self.where

    def cols(self, *names: str, **extra: str) -> dict[str, str]:
        """``columns=`` for a test that reads ``names`` (our names) and ``extra`` (the
        test's own name for one of ours: ``transaction_id="entry_id"``)."""
        out = {n: self.where[n] for n in names if n in self.where}
        out.update({k: self.where[v] for k, v in extra.items() if v in self.where})
        return out


def _options(options: Mapping[str, Mapping[str, Any]] | None, name: str) -> dict[str, Any]:
    given = (options or {}).get(name) or {}
    if not isinstance(given, Mapping):
        raise TypeError(f"options[{name!r}] must be a mapping of the test's arguments, not "
                        f"{type(given).__name__}")
    return dict(given)


def _run_benford(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], _: str
                 ) -> dict[str, Examination]:
    from nexus_lab.examine import BENFORD_TESTS, benford

    tests = opts.pop("tests", BENFORD_TESTS)
    return {f"benford_{t}": benford(gl, "amount", test=t,
                                    columns=led.cols("amount", transaction_id="entry_id"),
                                    **opts)
            for t in tests}


def ledger_entries(gl: Any, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The ledger's entries: the first line of each entry number (per entity, when the
    ledger has one), in the ledger's order. What the battery's gaps test reads: a
    journal entry's lines share its number, which is no duplicate.

    Parameters
    ----------
    gl : frame-like
    columns : mapping, optional
        ``{our name: your column}`` for ``entry_id`` and ``entity``.

    Examples
    --------
    >>> import pandas as pd
    >>> gl = pd.DataFrame({"entry_id": [7, 7, 8, 8, 8], "amount": [5, -5, 2, 1, -3]})
    >>> ledger_entries(gl)["amount"].tolist()
    [5, 2]
    """
    from nexus_lab.frames import find_column, to_pandas

    frame = to_pandas(gl, _NAME)
    have = [str(c) for c in frame.columns]
    keys = [c for c in ((columns or {}).get(n) or find_column(have, n)
                        for n in ("entity", "entry_id")) if c in have]
    if not any(k == ((columns or {}).get("entry_id") or find_column(have, "entry_id"))
               for k in keys):
        from nexus_lab.errors import SchemaError

        raise SchemaError(f"{_NAME} has no entry_id column (it has {have[:12]}); pass "
                          "columns={'entry_id': '<your column>'}", table=_NAME,
                          column="entry_id")
    return frame.drop_duplicates(keys).reset_index(drop=True)


def _run_gaps(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], _: str
              ) -> dict[str, Examination]:
    from nexus_lab.examine import gaps

    by = opts.pop("by", "entity" if led.has("entity") else None)
    cols = led.cols("entry_id", *([by] if by else []))
    return {"gaps": gaps(ledger_entries(gl, cols), "entry_id", by=by, columns=cols, **opts)}


def _run_duplicates(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], _: str
                    ) -> dict[str, Examination]:
    from nexus_lab.examine import duplicates

    exact = ["date", "account", "amount", *(["description"] if led.has("description") else [])]
    near = dict(opts.pop("near", {"amount": 0.01, "date": "3D"}))
    used = ("date", "account", "amount", "description", "entry_id")
    return {
        "duplicates_exact": duplicates(gl, same=exact, different=["entry_id"],
                                       columns=led.cols(*used, transaction_id="entry_id"),
                                       **opts),
        "duplicates_near": duplicates(gl, same=["account"], different=["entry_id"], near=near,
                                      columns=led.cols(*used, transaction_id="entry_id"),
                                      **opts),
    }


def _run_stratify(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], _: str
                  ) -> dict[str, Examination]:
    from nexus_lab.examine import stratify

    return {"stratify": stratify(gl, "amount", columns=led.cols("amount"), **opts)}


def _run_age(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], period_end: str
             ) -> dict[str, Examination]:
    from nexus_lab.examine import age

    return {"age": age(gl, "date", period_end, columns=led.cols("date", "amount"), **opts)}


def _run_summarize(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], _: str
                   ) -> dict[str, Examination]:
    from nexus_lab.examine import summarize

    return {"summarize": summarize(gl, opts.pop("by", "account"), opts.pop("values", "amount"),
                                   columns=led.cols("account", "amount"), **opts)}


def _run_journal_entries(gl: pd.DataFrame, led: _Ledger, opts: dict[str, Any], period_end: str
                         ) -> dict[str, Examination]:
    from nexus_lab.examine import journal_entry_tests

    return {"journal_entries": journal_entry_tests(gl, period_end, columns=led.cols(
        *GL_COLUMNS), **opts)}


_RUNNERS = {"benford": _run_benford, "gaps": _run_gaps, "duplicates": _run_duplicates,
            "stratify": _run_stratify, "age": _run_age, "summarize": _run_summarize,
            "journal_entries": _run_journal_entries}


def _iso_day(value: Any) -> str:
    """A day as ``YYYY-MM-DD``: a date, a timestamp, or text written so (no other order)."""
    import datetime as dt

    from nexus_lab.errors import SchemaError

    try:
        if isinstance(value, str):
            return dt.date.fromisoformat(value.strip()[:10]).isoformat()
        day = pd.Timestamp(value)
        if not pd.isna(day):
            return day.date().isoformat()
    except (TypeError, ValueError):
        pass
    raise SchemaError(f"period_end {str(value)[:40]!r} is not a date; write it as "
                      "YYYY-MM-DD")


def _names(tests: str | Iterable[str]) -> list[str]:
    from nexus_lab.errors import SchemaError

    if isinstance(tests, str):
        tests = list(EXAMINE_TESTS) if tests.strip() == "all" else [
            t.strip() for t in tests.split(",") if t.strip()]
    names = list(dict.fromkeys(tests))
    unknown = [t for t in names if t not in EXAMINE_TESTS]
    if unknown or not names:
        raise SchemaError(f"tests={list(tests)!r}: name 'all' or some of "
                          f"{', '.join(EXAMINE_TESTS)}")
    return [t for t in EXAMINE_TESTS if t in names]


def battery(gl: Any, *, period_end: Any, tests: str | Iterable[str] = "all",
            columns: Mapping[str, str] | None = None, events: Any = None,
            options: Mapping[str, Mapping[str, Any]] | None = None) -> Battery:
    """Run the standard battery of audit tests on a general ledger.

    The tests, by the names ``tests`` takes (:data:`EXAMINE_TESTS`), and what each runs:

    * ``benford``: every Benford test of the debit amounts (:data:`BENFORD_TESTS`:
      ``benford_first``, ``benford_first_two``...);
    * ``gaps``: gaps and repeats in the entry numbers (per entity, when there is one), of
      the ledger's entries (:func:`ledger_entries`);
    * ``duplicates``: journal lines of different entries with the same date, account,
      amount (and description) (``duplicates_exact``), and with the same account and
      amount within three days (``duplicates_near``);
    * ``stratify``: the amounts in bands; ``age``: the lines by days before
      ``period_end``; ``summarize``: totals per account;
    * ``journal_entries``: the journal-entry tests (:func:`journal_entry_tests`);
    * ``sod``: segregation-of-duties conflicts in ``events`` (skipped without them).

    A test the data cannot feed (a column it needs is missing, too few amounts) is left
    out with the reason (:attr:`Battery.skipped`); the others still run. The tests'
    warnings are kept in their results' notes (and shown with them), not issued again.

    Parameters
    ----------
    gl : frame-like
        ``entry_id, line, date, account, amount[, posted_by, posted_at, source,
        description, approved_by, entity]`` (amount signed, entries sum to zero).
    period_end : date-like
        The period's last day: the ageing cutoff and the journal-entry tests' period end.
    tests : "all" or iterable of str
        Names of :data:`EXAMINE_TESTS` (a string: separated by commas).
    columns : mapping, optional
        ``{our name: your column}`` for the ledger's columns and the events'.
    events : frame-like, optional
        The ERP's event log for ``sod``.
    options : mapping, optional
        Arguments per test: ``{"stratify": {"bands": [0, 1000, 10000]}, "benford":
        {"tests": ["first", "first_two"]}}``.

    Returns
    -------
    Battery
        Each result keeps its parameters, so ``getattr(nexus_lab.examine,
        result.test)(data, **result.params)`` replays it, ``data`` being what
        :attr:`Battery.inputs` names: the ledger (``"gl"``), its entries (``"entries"``:
        :func:`ledger_entries` of the ledger) or the events (``"events"``).

    Examples
    --------
    >>> from nexus_lab.datasets import synth_general_ledger
    >>> from nexus_lab.examine import battery
    >>> gl, _, _ = synth_general_ledger(3_000, seed=2)
    >>> b = battery(gl, period_end="2025-12-31", tests=["gaps", "summarize"])
    >>> list(b)
    ['gaps', 'summarize']
    """
    import warnings

    from nexus_lab.errors import SchemaError
    from nexus_lab.frames import to_pandas

    names = _names(tests)
    end = _iso_day(period_end)
    frame = to_pandas(gl, _NAME)
    led = _Ledger(frame, columns)
    results: dict[str, Examination] = {}
    skipped: dict[str, str] = {}
    inputs: dict[str, str] = {}
    for name in names:
        opts = _options(options, name)
        try:
            if name == "sod":
                if events is None:
                    skipped[name] = "no event log given (events=)"
                    continue
                from nexus_lab.examine import sod_conflicts

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ExamineWarning)
                    results["sod"] = sod_conflicts(to_pandas(events, "events"), columns={
                        k: v for k, v in (columns or {}).items() if k not in GL_COLUMNS}
                        or None, **opts)
                inputs["sod"] = "events"
            else:
                with warnings.catch_warnings():  # kept in each result's notes
                    warnings.simplefilter("ignore", ExamineWarning)
                    results.update(_RUNNERS[name](frame, led, opts, end))
                if name == "gaps":
                    inputs["gaps"] = "entries"
        except SchemaError as err:
            skipped[name] = str(err)
    info = {"period_end": end, "rows": led.rows, "tests": names,
            "columns": {k: v for k, v in led.where.items() if k != v}}
    return Battery(results, info=info, skipped=skipped, inputs=inputs)
