"""Benford's law: the digit tests of IDEA, ACL and benford_py on integer cents.

Digits are read from the amount in cents with integer arithmetic: a value that still
has 8, 4, 2 or 1 digits more than wanted is divided by that power of ten, in turn (no
float ``log10``, which puts 999.99 or 10**15 - 1 in the wrong decade), in int32 when
the cents fit. An amount's first digits are its first significant digits (0.05 reads
5), as benford_py reads them with ``decimals=2``. The second-order test sorts the
distinct amounts only (a repeated amount adds a difference of zero, which no test
reads).

What each test reads, and from which amounts (benford_py's conventions):

============  ==================================  =============  ===================
test          digits                              amounts        expected share
============  ==================================  =============  ===================
first         first digit 1-9                     >= 0.01        log10(1 + 1/d)
first_two     first two digits 10-99              >= 0.10        log10(1 + 1/d)
first_three   first three digits 100-999          >= 1.00        log10(1 + 1/d)
second        second digit 0-9                    >= 0.10        sum over first digits
last_two      last two digits 00-99 (the cents)   >= 10.00       1/100
summation     money per first two digits 10-99    >= 0.10        1/90 of the total
second_order  first two digits of the             differences    log10(1 + 1/d)
              differences between the sorted      >= 0.10
              amounts
============  ==================================  =============  ===================

Statistics, as benford_py computes them: per digit the observed share, and
``Z = (|p_o - p_e| - 1/(2N)) / sqrt(p_e(1 - p_e)/N)`` with the continuity correction
always subtracted (when it exceeds the difference Z is negative, as in benford_py:
such a digit is never significant); the chi-square on the counts; the
Kolmogorov-Smirnov statistic (the largest gap between the cumulative shares, digits in
order) with the critical value ``1.358/sqrt(N)`` at 95%; the mean absolute deviation
(MAD) and Nigrini's verdict from benford_py's ``MAD_CONFORM``. The expected MAD of a
conforming sample of N rows is ``1/sqrt(C N)`` with ``C = pi / (2 mean_d(sqrt(p_d(1 -
p_d)))**2)`` (the mean absolute deviation of binomial shares); for the first two digits
this is Barney & Schulzke's (2016) C = 158.8, for the first digit C = 18.13 (a
simulation in the tests agrees; the 21.27 that benfordslaw lists for it gives too small
an expectation); the excess MAD is MAD minus that.

Deliberate differences from benford_py 0.5: the last-two digits test expects 1/100
per pair (benford_py's ``LastTwo`` gives 1/99 to each of 100 pairs, which sum to 1.01);
the summation test leaves out amounts below 0.10 and averages the deviations over all
90 groups (benford_py's ``summation`` puts an amount below 0.10 in a one-digit group,
and averages over the groups present; its ``mad_summ``, meant to do as here, fails in
0.5); amounts are
exact cents (benford_py truncates ``amount * 100``, which reads 0.29 as 28 cents); and
the digits of values near a power of ten are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.examine._tally import (
    NAME,
    amount_text,
    cent_sums,
    check_choice,
    money,
    row_ids,
    table,
)
from nexus_lab.frames import read_money

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from nexus_lab._typing import FrameLike

__all__ = ["BENFORD_TESTS", "benford"]

#: The digit tests :func:`benford` runs, one per call.
BENFORD_TESTS = ("first", "first_two", "first_three", "second", "last_two", "summation",
                 "second_order")

# benford_py's constants.py: critical Z per confidence level, and the Kolmogorov-Smirnov
# critical values still to be divided by sqrt(N)
_CONFS = {80: 1.285, 85: 1.435, 90: 1.645, 95: 1.96, 99: 2.576, 99.9: 3.29, 99.99: 3.89,
          99.999: 4.417, 99.9999: 4.892, 99.99999: 5.327}
_CRIT_KS = {80: 1.073, 85: 1.138, 90: 1.224, 95: 1.358, 99: 1.628, 99.9: 1.949,
            99.99: 2.225, 99.999: 2.47, 99.9999: 2.693, 99.99999: 2.899}
# Nigrini's MAD cut-offs (close, acceptable, marginal), benford_py's MAD_CONFORM
_MAD_CONFORM = {"first": (0.006, 0.012, 0.015), "first_two": (0.0012, 0.0018, 0.0022),
                "first_three": (0.00036, 0.00044, 0.00050), "second": (0.008, 0.010, 0.012)}
_SPIKE = 2.0  # a summation group holding this many times its even share is a finding
_BLOCK = 1 << 18  # values per block of the digit count


@dataclass(frozen=True)
class _Test:
    name: str
    low: int  # the first digit value (1, 10, 100 or 0)
    expected: np.ndarray  # the expected share of each digit value, in order
    minimum: int  # the smallest value read, in cents
    reads: str  # what the test reads, for messages
    cutoffs: tuple[float, float, float] | None
    basis: str  # what the verdict rests on

    @property
    def cells(self) -> int:
        return len(self.expected)

    @property
    def min_rows(self) -> int:
        """Rows for an expected count of at least 5 in every digit (the chi-square's
        usual condition)."""
        shares = _benford_shares(10, 100) if self.name == "summation" else self.expected
        return math.ceil(5 / shares.min() - 1e-9)


def _benford_shares(lo: int, hi: int) -> np.ndarray:
    return np.log10(1 + 1 / np.arange(lo, hi))


def _tests() -> dict[str, _Test]:
    two = _benford_shares(10, 100)
    nigrini = "Nigrini's MAD cut-offs for the {} (benford_py MAD_CONFORM)"
    return {
        "first": _Test("first", 1, _benford_shares(1, 10), 1, "the first digit",
                       _MAD_CONFORM["first"], nigrini.format("first digit")),
        "first_two": _Test("first_two", 10, two, 10, "the first two digits",
                           _MAD_CONFORM["first_two"], nigrini.format("first two digits")),
        "first_three": _Test("first_three", 100, _benford_shares(100, 1000), 100,
                             "the first three digits", _MAD_CONFORM["first_three"],
                             nigrini.format("first three digits")),
        "second": _Test("second", 0, two.reshape(9, 10).sum(0), 10, "the second digit",
                        _MAD_CONFORM["second"], nigrini.format("second digit")),
        "last_two": _Test(
            "last_two", 0, np.full(100, 0.01), 1000, "the last two digits (the cents)", None,
            "the chi-square test at the chosen confidence: no MAD cut-offs exist for the "
            "last two digits (Nigrini gives none, benford_py's MAD_CONFORM has none), and "
            "its even expectation (1% per pair) gives the chi-square equal cells"),
        "summation": _Test(
            "summation", 10, np.full(90, 1 / 90), 10, "the first two digits (summed money)",
            None,
            f"spikes: a first-two digits group holding at least {_SPIKE:g} times its even "
            "share (1/90) of the money is a finding; the summation test has no MAD "
            "cut-offs, and Z and the chi-square do not apply to shares of money"),
        "second_order": _Test(
            "second_order", 10, two, 10,
            "the first two digits of the differences between the sorted amounts",
            _MAD_CONFORM["first_two"],
            "Nigrini's first-two digits MAD cut-offs, applied to the first two digits of "
            "the differences (benford_py's second_order(test=2) reports them so)"),
    }


_TESTS = _tests()


# ------------------------------------------------------------------------------ digits

def _narrow(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``values`` as int32 when ``lo..hi`` (their range) fits, which halves the memory
    every later pass reads; else as they are."""
    return values.astype(np.int32) if -(2**31) < lo and hi < 2**31 else values


def _count_digits(test: str, values: np.ndarray, cells: int, minimum: int,
                  bounds: tuple[int, int] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The digit cell ``0..cells-1`` of each value, ``cells`` for a value below
    ``minimum``, the count per cell (``cells + 1``; ``bounds``: no value is below the
    first or above the second) and for the summation test the sum per cell where a
    block's sums are exact in float64 (else None).

    A block at a time (its temporaries stay in the processor's cache), in the values'
    own dtype and with integer arithmetic only (no float ``log10``, which puts 999.99
    or 10**15 - 1 in the wrong decade): the leading ``keep`` digits by dividing by
    10**8, 10**4, 10**2 and 10 in turn those values that still have 8, 4, 2 or 1
    digits too many (a division by a constant and a select by multiplication are
    vector instructions, where a division by a power looked up per value is not). Each
    block is read as int32 when every value fits."""
    codes = np.empty(len(values), np.uint8 if cells < 255 else np.int16)
    counts = np.zeros(cells + 1, np.int64)
    low, top = bounds or ((int(values.min()), int(values.max())) if len(values)
                          else (0, 0))
    sums = (np.zeros(cells + 1, np.int64)
            if test == "summation" and max(-low, top) * _BLOCK < 2**53 else None)
    masked = low < minimum
    keep = {"first": 1, "first_three": 3, "last_two": 0}.get(test, 2)
    base = {"first": 1, "first_three": 100, "second": 0, "last_two": 0}.get(test, 10)
    narrow = -(2**31) < low and top < 2**31
    kind = np.int32 if narrow else values.dtype.type
    steps = [(kind(10**j), kind(10 ** (keep + j - 1))) for j in (8, 4, 2, 1)
             if keep and 10 ** (keep + j - 1) <= top]
    # the block's temporaries, allocated once
    block = min(_BLOCK, len(values))
    q, d, m, xn = (np.empty(block, kind) for _ in range(4))
    for s in range(0, len(values), _BLOCK):
        x = values[s:s + _BLOCK]
        k = len(x)
        qk, dk, mk = q[:k], d[:k], m[:k]
        if narrow and x.dtype != kind:
            xn[:k] = x
            x = xn[:k]
        if keep:
            qk[:] = x
            for power, above in steps:  # q >= above: q //= power
                np.greater_equal(qk, above, out=mk)
                np.floor_divide(qk, power, out=dk)
                np.subtract(dk, qk, out=dk)
                np.multiply(dk, mk, out=dk)
                np.add(qk, dk, out=qk)
            if test == "second":
                np.floor_divide(qk, kind(10), out=dk)
                np.multiply(dk, kind(10), out=dk)
                np.subtract(qk, dk, out=qk)
            elif base:
                np.subtract(qk, base, out=qk)
        else:  # x % 100, as x - x // 100 * 100 (a remainder is no vector instruction)
            np.floor_divide(x, kind(100), out=dk)
            np.multiply(dk, kind(100), out=dk)
            np.subtract(x, dk, out=qk)
        if masked:  # below the minimum: the cell past the last
            np.less(x, minimum, out=mk)
            np.subtract(cells, qk, out=dk)
            np.multiply(dk, mk, out=dk)
            np.add(qk, dk, out=qk)
        out = codes[s:s + _BLOCK]
        out[:] = qk
        counts += np.bincount(out, minlength=cells + 1)
        if sums is not None:
            sums += np.bincount(out, weights=x, minlength=cells + 1).astype(np.int64)
    return codes, counts, sums


def _top(key: np.ndarray, codes: np.ndarray, hit: np.ndarray, limit: int) -> np.ndarray:
    """The positions of the ``limit`` largest ``key`` among those whose code is a
    ``hit``, largest first (ties by position).

    Only the keys at least a threshold are looked at: the threshold comes from a sample
    of the hits, and is lowered (at last to nothing) until enough hits pass it."""
    if limit <= 0 or not len(key):
        return np.zeros(0, np.intp)
    step = max(1, len(key) // (1 << 16))
    sample = np.sort(key[::step][hit[codes[::step]]])[::-1]
    rank = 2 * (-(-limit // step)) + 8  # hits of the sample expected above the threshold
    while True:
        if rank < len(sample):
            at = np.flatnonzero(key >= sample[rank])
            at = at[hit[codes[at]]]
        else:
            at = np.flatnonzero(hit[codes])
        if len(at) >= limit or rank >= len(sample):
            break
        rank *= 4
    return at[np.lexsort((at, -key[at].astype(np.int64)))[:limit]]


# -------------------------------------------------------------------------- statistics

def _statistics(counts: np.ndarray, spec: _Test, confidence: float,
                totals: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per row of ``counts`` (groups x digits): shares, Z, chi-square, KS, MAD, the
    expected and excess MAD and the verdict (summation: ``totals``, money per digit)."""
    from scipy.special import chdtrc

    counts = np.atleast_2d(counts).astype(np.float64)
    n = counts.sum(1)
    nn = np.maximum(n, 1)[:, None]
    p = spec.expected
    if totals is not None:
        totals = np.atleast_2d(totals).astype(np.float64)
        observed = totals / np.maximum(totals.sum(1), 1)[:, None]
    else:
        observed = counts / nn
    diff = observed - p
    mad = np.abs(diff).mean(1)
    out: dict[str, Any] = {"n": n, "observed": observed, "diff": diff, "mad": mad}
    nan = np.full(len(n), np.nan)
    if totals is not None:
        out.update(z=np.full(counts.shape, np.nan), chi2=nan, p=nan, ks=nan, ks_critical=nan,
                   expected_mad=nan, excess_mad=nan,
                   significant=(observed >= _SPIKE * p) & (counts > 0))
    else:
        z = (np.abs(diff) - 1 / (2 * nn)) / np.sqrt(p * (1 - p) / nn)
        expect = n[:, None] * p
        chi2 = ((counts - expect) ** 2 / expect).sum(1)
        c = np.pi / (2 * np.sqrt(p * (1 - p)).mean() ** 2)
        with np.errstate(divide="ignore"):
            expected_mad = np.where(n > 0, 1 / np.sqrt(c * n), np.nan)
        out.update(
            z=z, chi2=chi2, p=chdtrc(spec.cells - 1, chi2),
            ks=np.abs(np.cumsum(observed, 1) - np.cumsum(p)).max(1),
            ks_critical=_CRIT_KS[confidence] / np.sqrt(nn[:, 0]),
            expected_mad=expected_mad, excess_mad=mad - expected_mad,
            significant=(z > _CONFS[confidence]) & (diff > 0))
    out["verdict"] = _verdicts(out, spec, confidence)
    return out


def _verdicts(stats: dict[str, Any], spec: _Test, confidence: float) -> np.ndarray:
    if spec.cutoffs is not None:
        close, acceptable, marginal = spec.cutoffs
        mad = stats["mad"]
        return np.select([mad <= close, mad <= acceptable, mad <= marginal],
                         ["close", "acceptable", "marginal"], "nonconformity")
    if spec.name == "last_two":
        return np.where(stats["p"] >= 1 - confidence / 100, "acceptable", "nonconformity")
    return np.where(stats["significant"].any(1), "findings", "clean")


# ---------------------------------------------------------------------------- the test

def benford(
    df: FrameLike,
    column: str = "amount",
    test: str = "first",
    by: str | None = None,
    *,
    sign: str = "positive",
    confidence: float = 95,
    min_rows: int | None = None,
    limit: int = 100,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Test amounts against Benford's law: first, first-two, first-three, second or
    last-two digits, the summation test or the second-order test.

    Counts the digits of the amounts (exact integer cents), compares their shares
    with Benford's, and gives per digit the Z statistic and per test the chi-square,
    the Kolmogorov-Smirnov statistic, the mean absolute deviation (MAD) with Nigrini's
    verdict, and the expected and excess MAD (Barney & Schulzke 2016). The digits that
    drive a departure (significant Z, more rows than expected) are listed, with the
    rows that carry them, largest first. The figures equal benford_py's on the same
    data (see the module's notes for the few deliberate differences).

    Parameters
    ----------
    df : frame-like
        The amounts (pandas, polars, pyarrow...).
    column : str, default "amount"
        The money column; text amounts (``"$1,234.50"``, ``"1.234,50 €"``) are read.
    test : str, default "first"
        One of :data:`BENFORD_TESTS`: ``"first"``, ``"first_two"``, ``"first_three"``,
        ``"second"``, ``"last_two"``, ``"summation"`` (money per first two digits) or
        ``"second_order"`` (first two digits of the differences between the sorted
        amounts).
    by : str, optional
        A column (vendor, account...) to test each group of; the groups are ranked by
        their excess MAD (by MAD for the summation test) in table ``"groups"``.
    sign : {"positive", "negative"}, default "positive"
        Test the positive amounts, or the negative ones (by their size). Zero amounts,
        those of the other sign and those below the test's minimum are left out and
        counted.
    confidence : float, default 95
        The confidence level of the critical Z and Kolmogorov-Smirnov values (and of
        the last-two digits test's chi-square verdict): 80, 85, 90, 95, 99, 99.9...
    min_rows : int, optional
        With ``by``: the tested rows a group needs to be ranked; by default the test's
        own minimum (an expected count of at least 5 in every digit: 110 for the first
        digit, 1,146 for the first two).
    limit : int, default 100
        At most this many rows in table ``"rows"``.
    columns : mapping, optional
        ``{our name: your column}`` (``column``, ``by`` and ``transaction_id``, whose
        values name the rows).

    Returns
    -------
    Examination
        Tables ``"digits"`` (digit, count, observed, expected, diff, z, significant;
        the summation test adds ``total``), ``"drivers"``, ``"rows"`` and, with ``by``,
        ``"groups"`` (then the first table); the verdict (``close``, ``acceptable``,
        ``marginal``, ``nonconformity``; ``findings`` or ``clean`` for the summation
        test; ``too_few_rows`` below the minimum, see the warning); facts with the
        statistics and how many amounts were left out.

    Raises
    ------
    SchemaError
        For an absent column, amounts that are not money, a test or sign not listed,
        or no amount the test can read.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from nexus_lab.examine import benford
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"amount": np.round(10 ** rng.uniform(0, 5, 20_000), 2)})
    >>> r = benford(df, test="first_two")
    >>> r.verdict, r.summary()["tested"]
    ('close', 20000)
    >>> r["digits"]["digit"].head(3).tolist(), r.facts["mad"] < 0.0012
    ([10, 11, 12], True)
    """
    params = params_of(locals())
    return _benford(df, column, test, by, sign, confidence, min_rows, limit, columns, params)


def _benford(df: FrameLike, column: str, test: str, by: str | None, sign: str,
             confidence: float, min_rows: int | None, limit: int,
             columns: Mapping[str, str] | None, params: dict[str, Any]) -> Examination:
    spec = _checked(test, sign, confidence, limit, min_rows)
    data = table(df, [column, by or ""], ["transaction_id"], columns)
    tally, read = _tally(data, column, spec, by, sign)

    def rows_of(hit: np.ndarray, limit: int) -> pd.DataFrame:
        at = _top(read.values, read.codes, hit, limit)
        return _rows(at, read.keep, read.cents, read.codes, spec.low, read.pairs, data, by,
                     negative=sign == "negative")

    return _conclude(tally, spec, column=column, by=by, sign=sign, confidence=confidence,
                     min_rows=min_rows, limit=limit, params=params, rows_of=rows_of)


def _checked(test: str, sign: str, confidence: float, limit: int,
             min_rows: int | None) -> _Test:
    """The test's spec, once its arguments are checked."""
    check_choice("test", test, BENFORD_TESTS)
    check_choice("sign", sign, ("positive", "negative"))
    check_choice("confidence", confidence, tuple(_CONFS))
    if int(limit) < 0 or (min_rows is not None and int(min_rows) < 1):
        raise SchemaError(f"limit={limit!r} and min_rows={min_rows!r}: give limit >= 0 and "
                          "min_rows >= 1")
    return _TESTS[test]


@dataclass
class _Tally:
    """What the digits of some rows add up to: all a result needs but the rows that
    carry the drivers. Two tallies of parts of a table add up (:meth:`add`) to the
    whole table's, but for the second-order test, whose differences span the parts."""

    facts: dict[str, Any]  # rows, the other sign, zero, below_minimum (second order: more)
    counts: np.ndarray  # per digit cell, then the values not tested
    sums: np.ndarray | None  # summation: the cents per cell
    group_names: np.ndarray | None = None  # by: the groups, in order of first row
    group_counts: np.ndarray | None = None  # groups x digit cells, the tested values
    group_sums: np.ndarray | None = None  # summation: the cents per group and cell
    currency: str | None = None

    @staticmethod
    def add(parts: list[_Tally]) -> _Tally:
        """The tally of the parts' rows together (parts in the table's order)."""
        first = parts[0]
        facts = {k: sum(p.facts[k] for p in parts) for k in first.facts}
        sums = None if first.sums is None else sum(p.sums for p in parts)
        out = _Tally(facts, sum(p.counts for p in parts), sums,
                     currency=next((p.currency for p in parts if p.currency), None))
        if first.group_names is not None:
            code, names = pd.factorize(np.concatenate([p.group_names for p in parts]),
                                        use_na_sentinel=False)
            cells = first.group_counts.shape[1]
            out.group_names = np.asarray(names)
            out.group_counts = np.zeros((len(names), cells), np.int64)
            np.add.at(out.group_counts, code, np.concatenate([p.group_counts for p in parts]))
            if first.group_sums is not None:
                out.group_sums = np.zeros((len(names), cells), np.int64)
                np.add.at(out.group_sums, code, np.concatenate([p.group_sums for p in parts]))
        return out


@dataclass
class _Read:
    """The values a tally read, per row, for listing the rows that drive a departure."""

    cents: np.ndarray  # every row's amount
    keep: np.ndarray | None  # the rows read, where some are not
    values: np.ndarray  # the values read (second order: the sorted amounts after the first)
    codes: np.ndarray  # the digit cell of each value read
    pairs: _Pairs | None


def _tally(data: pd.DataFrame, column: str, spec: _Test, by: str | None,
           sign: str) -> tuple[_Tally, _Read]:
    """The digit counts of ``data`` (our column names) and what they were read from."""
    test = spec.name
    ids = row_ids(data)
    cents, written = read_money(data[column], table=NAME, column=column, ids=ids)
    # the amounts' range says which checks and passes are needed (and whether int32 holds
    # them): the digits are then read from every row, rows not tested in a cell of
    # their own (the second-order test reads every amount of the sign, and the minimum
    # on differences)
    lowest = 1 if test == "second_order" else spec.minimum
    other = "negative" if sign == "positive" else "positive"
    lo, hi = (int(cents.min()), int(cents.max())) if len(cents) else (0, 0)
    facts: dict[str, Any] = {
        "rows": len(cents),
        other: (int(np.count_nonzero(cents < 0)) if lo < 0 else 0) if sign == "positive"
        else (int(np.count_nonzero(cents > 0)) if hi > 0 else 0),
        "zero": int(np.count_nonzero(cents == 0)) if lo <= 0 <= hi else 0}
    smallest, largest = (lo, hi) if sign == "positive" else (-hi, -lo)  # of the sizes
    keep = None  # the rows read, where some are not
    if test == "second_order" or by:
        values = _narrow(cents, lo, hi) if sign == "positive" else -_narrow(cents, lo, hi)
        keep = values >= lowest if smallest < lowest else None
        size = values if keep is None else values[keep]
    else:
        size = cents if sign == "positive" else -cents
    group_codes, group_names = (pd.factorize(
        data[by].to_numpy() if keep is None else data[by].to_numpy()[keep],
        use_na_sentinel=False) if by else (None, None))
    if test == "second_order":
        pairs = _Pairs(size, group_codes)
        read = pairs.diff if pairs.same is None else np.where(pairs.same, pairs.diff, 0)
        codes, counts, sums = _count_digits(test, read, spec.cells, spec.minimum)
        n = len(read) - int(counts[-1])
        facts.update(differences=pairs.differences, repeated=pairs.repeated,
                     below_minimum=pairs.differences - n - pairs.repeated)
    else:
        pairs, read = None, size
        codes, counts, sums = _count_digits(test, read, spec.cells, lowest,
                                            (smallest, largest))
        n = len(read) - int(counts[-1])
        facts["below_minimum"] = len(cents) - n - facts[other] - facts["zero"]
    if test == "summation" and sums is None:  # amounts too large for float64 block sums
        sums = cent_sums(codes, read, spec.cells + 1)
    tally = _Tally(facts, counts, sums if test == "summation" else None,
                   currency=written.get("currency"))
    if by:
        tested = codes < spec.cells
        groups = group_codes if pairs is None else pairs.groups
        size_ = len(group_names)
        flat = groups[tested].astype(np.int64) * spec.cells + codes[tested]
        tally.group_names = np.asarray(group_names)
        tally.group_counts = np.bincount(flat, minlength=size_ * spec.cells).reshape(
            size_, spec.cells)
        if test == "summation":
            tally.group_sums = cent_sums(flat, read[tested], size_ * spec.cells).reshape(
                size_, spec.cells)
    return tally, _Read(cents, keep, read if pairs is None else pairs.sorted[1:], codes, pairs)


def _conclude(tally: _Tally, spec: _Test, *, column: str, by: str | None, sign: str,
              confidence: float, min_rows: int | None, limit: int, params: dict[str, Any],
              rows_of: Callable[[np.ndarray, int], pd.DataFrame]) -> Examination:
    """The result of the test from its tally: the statistics, the tables, the facts, the
    warnings and the verdict; ``rows_of(hit, limit)`` lists the ``limit`` rows (largest
    first) whose digit cell is a ``hit``."""
    test = spec.name
    other = "negative" if sign == "positive" else "positive"
    facts: dict[str, Any] = {"test": test, **tally.facts}
    notes: list[str] = []
    label = f"benford {test}"
    counts = tally.counts[:-1]
    n = int(counts.sum())
    facts.update(minimum=amount_text(spec.minimum), tested=n)
    second = test == "second_order"
    _note_left_out(label, facts, sign, other, spec, notes)
    if n == 0:
        what = "differences between the sorted amounts" if second else "amounts"
        raise SchemaError(
            f"{NAME}.{column}: no {sign} {what} of at least {amount_text(spec.minimum)} in "
            f"{facts['rows']:,} rows, so the {test} test, which reads {spec.reads}, has "
            f"nothing to read; check the column (map another with columns={{'{column}': "
            "'<your column>'}})" + (" or pass sign='negative'" if sign == "positive" and
                                    facts["negative"] else ""),
            table=NAME, column=column)
    if n < spec.min_rows:
        warn(f"{label}: {n:,} {'differences' if second else 'amounts'} tested, fewer than the "
             f"{spec.min_rows:,} the test needs (an expected count of at least 5 for every "
             "digit); read its statistics with caution", notes)

    totals = tally.sums[:-1] if test == "summation" else None
    stats = _statistics(counts, spec, confidence, totals)
    digits = _digits_table(spec, counts, stats, totals)
    drivers = digits.loc[digits["significant"]].sort_values(
        "total" if test == "summation" else "z", ascending=False, kind="stable")
    drivers = drivers.drop(columns="significant").reset_index(drop=True)
    facts.update(_facts(stats, 0, spec, confidence))
    facts["drivers"] = len(drivers)

    hit = np.zeros(spec.cells + 1, bool)
    hit[drivers["digit"].to_numpy() - spec.low] = True
    facts["driver_rows"] = int(counts[hit[:-1]].sum())
    rows = rows_of(hit, int(limit) if len(drivers) else 0)
    tables: dict[str, pd.DataFrame] = {"digits": digits, "drivers": drivers, "rows": rows}
    if facts["driver_rows"] > len(rows):
        facts["rows_listed"] = len(rows)
    if by:
        ranked = _groups(tally.group_counts, tally.group_sums, tally.group_names, spec,
                         confidence, spec.min_rows if min_rows is None else int(min_rows),
                         by, label, notes)
        tables = {"groups": ranked, **tables}
        facts["groups"] = len(ranked)
    if tally.currency:
        facts["currency"] = tally.currency
    # too few amounts for the statistics to mean anything: no verdict but that
    verdict = "too_few_rows" if n < spec.min_rows else str(stats["verdict"][0])
    return Examination("benford", params, tables, facts, verdict=verdict, notes=notes,
                       plotter=_plot)


class _Pairs:
    """The sorted amounts (per group) and the difference of each from the one before.

    Without groups only the distinct amounts are kept: a repeated amount adds a
    difference of zero, which no test reads, and every other difference is one between
    neighbouring distinct amounts (``repeated`` counts the zeros)."""

    def __init__(self, size: np.ndarray, groups: np.ndarray | None) -> None:
        self.differences = max(len(size) - 1, 0)
        if groups is None:
            self.order = None
            self.sorted = _distinct_sorted(size)
            self.repeated = len(size) - len(self.sorted)
            self.same = None  # every pair is of one group
            self.groups = None
        else:
            self.order = np.lexsort((size, groups))
            self.sorted = size[self.order]
            g = groups[self.order]
            self.same = g[1:] == g[:-1]
            self.groups = g[1:]
        self.diff = self.sorted[1:] - self.sorted[:-1]
        if groups is not None:  # differences within a group only
            self.differences = int(np.count_nonzero(self.same))
            self.repeated = int(np.count_nonzero((self.diff == 0) & self.same))


def _distinct_sorted(size: np.ndarray) -> np.ndarray:
    """The distinct values of ``size``, in order.

    Amounts repeat a lot (10 million ledger lines hold about 1.5 million distinct
    amounts): then hashing out the repeats and sorting the rest beats sorting all. A
    strided tenth of the values decides: hashing when at most three quarters of it are
    distinct (of amounts drawn evenly from a set, when the set is at most a sixth of
    them, where hashing still gains)."""
    if len(size) >= 1 << 21:
        sample = size[::10]
        if 4 * len(pd.unique(sample)) <= 3 * len(sample):
            return np.sort(pd.unique(size))
    out = np.sort(size)
    return out[np.concatenate(([True], out[1:] != out[:-1]))] if len(out) else out


def _note_left_out(label: str, facts: dict, sign: str, other: str, spec: _Test,
                   notes: list[str]) -> None:
    rows = [f"{facts[k]:,} {k}" + (" (test them with sign='negative')" if k == "negative"
                                   else "") for k in (other, "zero") if facts[k]]
    small = f"{facts['below_minimum']:,} below {facts['minimum']} (the test reads {spec.reads}"
    small += ")" if spec.name == "second_order" else " of the amount in cents)"
    if "differences" in facts:
        pairs = [f"{facts['repeated']:,} repeated amounts (a difference of zero)"] * bool(
            facts["repeated"]) + [small] * bool(facts["below_minimum"])
        text = ", ".join(
            ([f"{sum(facts[k] for k in (other, 'zero')):,} of {facts['rows']:,} rows left "
              f"out ({', '.join(rows)})"] if rows else [])
            + ([f"{facts['differences'] - facts['tested']:,} of {facts['differences']:,} "
                f"differences left out ({', '.join(pairs)})"] if pairs else []))
    else:
        parts = rows + [small] * bool(facts["below_minimum"])
        text = (f"{facts['rows'] - facts['tested']:,} of {facts['rows']:,} amounts left out: "
                + ", ".join(parts)) if parts else ""
    if text:
        warn(f"{label}: {text}", notes)


def _digits_table(spec: _Test, counts: np.ndarray, stats: dict,
                  totals: np.ndarray | None) -> pd.DataFrame:
    out = {"digit": np.arange(spec.low, spec.low + spec.cells), "count": counts}
    if totals is not None:
        out["total"] = money(totals)
        out["total_cents"] = totals
    out.update(observed=stats["observed"][0], expected=spec.expected, diff=stats["diff"][0],
               z=stats["z"][0], significant=stats["significant"][0])
    return pd.DataFrame(out)


def _facts(stats: dict, i: int, spec: _Test, confidence: float) -> dict[str, Any]:
    def num(key: str) -> float | None:
        v = float(stats[key][i])
        return None if math.isnan(v) else v

    return {"mad": num("mad"), "expected_mad": num("expected_mad"),
            "excess_mad": num("excess_mad"), "chi2": num("chi2"), "chi2_p": num("p"),
            "ks": num("ks"), "ks_critical": num("ks_critical"),
            "z_critical": None if spec.name == "summation" else _CONFS[confidence],
            "cutoffs": list(spec.cutoffs) if spec.cutoffs else None,
            "verdict_basis": spec.basis}


def _rows(at: np.ndarray, keep: np.ndarray | None, cents: np.ndarray, codes: np.ndarray,
          low: int, pairs: _Pairs | None, data: pd.DataFrame, by: str | None, *,
          negative: bool) -> pd.DataFrame:
    """The rows whose digits drive the departure, largest amounts first (``at``: the
    positions of the values read, ``keep`` the rows read where not all are)."""
    extra: dict[str, Any] = {}
    if pairs is None:
        row = at if keep is None else np.flatnonzero(keep)[at]
    else:  # the pair (sorted[at], sorted[at + 1])
        if pairs.order is not None:
            kept = pairs.order[at + 1]
            row = kept if keep is None else np.flatnonzero(keep)[kept]
        else:
            row = _first_rows(cents, pairs.sorted[at + 1].astype(np.int64), negative=negative)
        extra = {"previous": money(np.sign(cents[row]) * pairs.sorted[at].astype(np.int64)),
                 "difference": money(pairs.diff[at].astype(np.int64))}
    out: dict[str, Any] = {"row": row}
    if "transaction_id" in data:
        out["transaction_id"] = data["transaction_id"].to_numpy()[row]
    if by:
        out[by] = data[by].to_numpy()[row]
    out.update(amount=money(cents[row]), **extra, digit=codes[at].astype(np.int64) + low)
    order = np.lexsort((row, -np.abs(cents[row])))
    return pd.DataFrame(out).iloc[order].reset_index(drop=True)


def _first_rows(cents: np.ndarray, values: np.ndarray, negative: bool) -> np.ndarray:
    """For each of ``values`` (distinct sizes), the first row whose amount has that size
    (and the sign tested)."""
    if not len(values):
        return np.zeros(0, np.intp)
    wanted = np.sort(values)
    cand = np.flatnonzero(cents <= -wanted[0] if negative else cents >= wanted[0])
    size = np.abs(cents[cand])
    k = np.minimum(np.searchsorted(wanted, size), len(wanted) - 1)
    match = wanted[k] == size
    found, first = np.unique(k[match], return_index=True)
    pos = np.empty(len(wanted), np.intp)
    pos[found] = cand[match][first]
    return pos[np.searchsorted(wanted, values)]


def _groups(counts: np.ndarray, totals: np.ndarray | None, names: np.ndarray, spec: _Test,
            confidence: float, min_rows: int, by: str, label: str,
            notes: list[str]) -> pd.DataFrame:
    """Every group's statistics from its digit counts (groups x digits), ranked."""
    size = len(names)
    n = counts.sum(1)
    ok = n >= min_rows
    skipped = np.flatnonzero(~ok)
    if len(skipped):
        shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v)
                          for v in names[skipped[:5]])
        warn(f"{label} by {by}: {len(skipped):,} of {size:,} groups have fewer than "
             f"{min_rows:,} tested rows and are not ranked ({shown}"
             f"{' and more' if len(skipped) > 5 else ''}); pass min_rows= to rank smaller "
             "groups", notes)
    counts = counts[ok]
    stats = _statistics(counts, spec, confidence, totals[ok] if totals is not None else None)
    score = stats["observed"] - spec.expected if spec.name == "summation" else stats["z"]
    top = np.argmax(np.where(stats["diff"] > 0, score, -np.inf), 1) if len(counts) else \
        np.zeros(0, np.intp)
    rank = np.arange(len(counts))
    frame = pd.DataFrame({
        by: names[ok], "rows": stats["n"].astype(np.int64), "mad": stats["mad"],
        "expected_mad": stats["expected_mad"], "excess_mad": stats["excess_mad"],
        "chi2": stats["chi2"], "chi2_p": stats["p"], "ks": stats["ks"],
        "ks_critical": stats["ks_critical"], "verdict": stats["verdict"],
        "top_digit": top + spec.low, "top_z": stats["z"][rank, top],
        "drivers": stats["significant"].sum(1)})
    key = "mad" if spec.name == "summation" else "excess_mad"
    return frame.sort_values([key, "rows"], ascending=[False, False],
                             kind="stable").reset_index(drop=True)


def _plot(result: Examination, ax: Axes) -> None:
    """Observed shares as bars (drivers in red), Benford's expectation as a line."""
    digits = result.tables["digits"]
    x = np.arange(len(digits))
    colors = np.where(digits["significant"], "#a8322d", "#33658a")
    ax.bar(x, digits["observed"], color=colors, width=0.8, label="observed")
    ax.plot(x, digits["expected"], color="#edae49", lw=2, label="expected")
    test = result.facts["test"]
    labels = digits["digit"].map("{:02d}".format if test == "last_two" else str)
    step = max(1, len(x) // 30)
    ax.set_xticks(x[::step], labels[::step], fontsize=7)
    ax.set_ylabel("share of money" if test == "summation" else "share of rows")
    ax.set_title(f"Benford {test.replace('_', ' ')}: {result.verdict}")
    ax.legend(fontsize=8)
