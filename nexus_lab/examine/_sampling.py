"""Audit sampling: how many items to test (:func:`sample_size`), which ones
(:func:`sample`), and what the tested items say about the population (:func:`evaluate`).

The sizes and limits are those of the AICPA Audit Guide *Audit Sampling* (2017):

- attribute sampling (tests of controls): the smallest ``n`` whose one-sided upper
  limit for the expected number of deviations, ``ceil(n × expected rate)``, stays below
  the tolerable rate -- binomial (Clopper-Pearson) as in Tables A-1 and A-2, or
  hypergeometric for a finite population of items;
- monetary-unit sampling (MUS): the same with Poisson (gamma) limits and a fractional
  expected number of misstatements ``n × expected / book value``, which is how
  Table C-1 is computed (its 418 sizes are reproduced exactly); the classic formula
  ``n = book value × CF / (tolerable - expected × expansion factor)`` is offered too;
- classical variables sampling (mean-per-unit or difference estimation):
  ``n = ((z_A + z_R) × SD × N / (tolerable - expected))²`` with the finite-population
  correction ``n / (1 + n / N)``;
- MUS evaluation with the Stringer bound as the guide states it: basic precision
  ``CF(0) × interval``, projected misstatement ``Σ taint × interval`` (items at or
  above the interval count their actual misstatement) and an incremental allowance
  ``Σ (CF(i) - CF(i-1) - 1) × taint(i) × interval`` over the taints ranked from the
  largest; overstatements and understatements are limited separately.

Expected counts are rounded to 9 decimals before they are rounded up, so 400 × 3.5 % is
14 expected deviations (floating point makes it 14.000000000000002, and a plain ceiling
15). Money is read as int64 cents; selection by monetary unit is exact integer arithmetic.
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.frames import cents_text, describe_rows, read_money, select_columns, to_pandas

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["evaluate", "sample", "sample_size"]

_MAX_N = 1_000_000  # the largest sample size searched for
_SIZE_METHODS = ("attribute", "mus", "classical")
_SAMPLE_METHODS = ("random", "interval", "cell", "mus", "stratified")
_EVALUATE_METHODS = ("mus", "attribute")
_DISTRIBUTIONS = {"attribute": ("binomial", "hypergeometric", "poisson"),
                  "mus": ("poisson", "binomial", "expansion")}
#: the columns :func:`sample` adds to the rows it selects
_ADDED = ("sample_row", "sample_draw", "sample_interval", "sample_unit", "sample_hits",
          "sample_top_stratum", "sample_stratum", "sample_weight")


# --------------------------------------------------------------------------- checks


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise SchemaError(f"{name}={value!r}: give one of {', '.join(map(repr, allowed))}")
    return str(value)


def _number(name: str, value: object, *, low: float | None = None, high: float | None = None,
            low_open: bool = True, high_open: bool = True, hint: str = "") -> float:
    """``value`` as a finite float inside the given bounds, or a SchemaError saying why."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        x = math.nan
    bad = not math.isfinite(x) or isinstance(value, bool)
    if low is not None:
        bad |= x <= low if low_open else x < low
    if high is not None:
        bad |= x >= high if high_open else x > high
    if bad:
        where = []
        if low is not None:
            where.append(f"{'above' if low_open else 'at least'} {low:g}")
        if high is not None:
            where.append(f"{'below' if high_open else 'at most'} {high:g}")
        raise SchemaError(f"{name}={value!r}: give a number {' and '.join(where)}"
                          + (f" ({hint})" if hint else ""))
    return x


def _confidence(confidence: object) -> float:
    return _number("confidence", confidence, low=0, high=1,
                   hint="the confidence level, 1 - the risk of overreliance or of incorrect "
                        "acceptance, e.g. 0.95")


def _count(name: str, value: object, *, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and value >= low:
            return int(value)
        raise SchemaError(f"{name}={value!r}: give a whole number of at least {low}")
    return int(value)


def _ceil(x: np.ndarray | float) -> np.ndarray:
    """Round up after rounding to 9 decimals (400 × 0.035 is 14, not 15)."""
    return np.ceil(np.round(np.asarray(x, dtype=np.float64), 9)).astype(np.int64)


def _cents(name: str, value: object) -> int:
    """A money amount given in currency units, as int64 cents."""
    x = _number(name, value, low=0, hint="an amount in currency units")
    cents = round(x * 100)
    if cents >= 2**53:
        raise SchemaError(f"{name}={value!r} is too large to hold exactly in cents; check "
                          "the unit (currency units, not cents)")
    return cents


def _rng(random_state: object, notes: list[str], test: str) -> tuple[np.random.Generator,
                                                                      int | None]:
    """The generator and the seed to record (a fresh one when ``random_state`` is None,
    so that the result can still be replayed exactly)."""
    if isinstance(random_state, np.random.Generator):
        warn(f"{test}: random_state is a numpy Generator, whose state cannot be recorded; "
             "pass an int to make the selection replayable", notes)
        return random_state, None
    if random_state is None:
        seed = secrets.randbits(63)
    else:
        seed = _count("random_state", random_state, low=0)
    return np.random.default_rng(seed), seed


# ---------------------------------------------------------------------- the limits


def _binomial_upper(x: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    """One-sided Clopper-Pearson upper limit of a rate (1 where ``x >= n``)."""
    x, n = np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64)
    return np.where(x < n, stats.beta.ppf(confidence, x + 1, np.maximum(n - x, 1)), 1.0)


def _poisson_factor(x: np.ndarray | float, confidence: float) -> np.ndarray:
    """The Poisson (gamma) confidence factor for ``x`` misstatements: the mean number of
    misstatements whose chance of giving at most ``x`` is ``1 - confidence``."""
    return special.gammaincinv(np.asarray(x, dtype=np.float64) + 1, confidence)


def _hypergeometric_upper(x: int, n: int, population: int, confidence: float) -> int:
    """The largest number of deviations in the population that leaves more than
    ``1 - confidence`` chance of seeing at most ``x`` in the sample."""
    alpha = 1 - confidence
    lo, hi = x, population - (n - x)  # at least x, at most all items not seen clean
    while lo < hi:  # P(X <= x) falls as the population's deviations grow
        mid = (lo + hi + 1) // 2
        if stats.hypergeom.cdf(x, population, mid, n) > alpha:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _smallest(ok: Callable[[np.ndarray], np.ndarray], limit: int, what: str) -> int:
    """The smallest n in 1..limit where ``ok`` holds, searched in growing blocks."""
    start, block = 1, 2048
    while start <= limit:
        ns = np.arange(start, min(start + block, limit + 1), dtype=np.int64)
        hit = np.flatnonzero(ok(ns))
        if hit.size:
            return int(ns[hit[0]])
        start += block
        block *= 2
    raise SchemaError(f"no sample size up to {limit:,} {what}; raise the tolerable amount, "
                      "lower the expected one or the confidence")


# --------------------------------------------------------------------- sample_size


def sample_size(
    method: str = "attribute",
    confidence: float = 0.95,
    tolerable: float | None = None,
    expected: float = 0.0,
    population: float | None = None,
    *,
    distribution: str | None = None,
    expansion: float | None = None,
    sd: float | None = None,
    rejection_risk: float = 0.10,
    estimator: str = "mpu",
) -> Examination:
    """How many items to test: attribute, monetary-unit or classical variables sampling.

    Parameters
    ----------
    method : {"attribute", "mus", "classical"}, default "attribute"
        ``"attribute"``: a test of controls; ``tolerable`` and ``expected`` are deviation
        rates and ``population`` a number of items. ``"mus"``: monetary-unit sampling;
        with ``population`` (the book value) ``tolerable`` and ``expected`` are amounts in
        the same currency, without it they are fractions of the book value.
        ``"classical"``: mean-per-unit or difference estimation; ``population`` is the
        number of items, ``tolerable``, ``expected`` and ``sd`` are amounts.
    confidence : float, default 0.95
        1 - the risk of overreliance (attribute) or of incorrect acceptance.
    tolerable : float
        The tolerable deviation rate or misstatement.
    expected : float, default 0
        The expected deviation rate or misstatement (below ``tolerable``).
    population : float, optional
        The number of items (attribute, classical) or the book value (MUS).
    distribution : str, optional
        Attribute: ``"binomial"`` (Tables A-1, A-2; the default without
        ``population``), ``"hypergeometric"`` (exact for a finite population; the
        default with it) or ``"poisson"``. MUS: ``"poisson"`` (default, Table C-1),
        ``"binomial"`` or ``"expansion"`` (``CF(0) / (tolerable - expected × expansion)``).
    expansion : float, optional
        The expansion factor for ``distribution="expansion"`` (the guide's factor for the
        chosen risk of incorrect acceptance); needed when ``expected > 0``.
    sd : float
        Classical: the expected standard deviation of the audited values (mean-per-unit)
        or of the differences audited - book (difference estimation).
    rejection_risk : float, default 0.10
        Classical: the risk of incorrect rejection (two-sided).
    estimator : {"mpu", "difference"}, default "mpu"
        Classical: which standard deviation ``sd`` is (recorded with the result).

    Returns
    -------
    Examination
        ``facts["n"]`` is the sample size; the facts also hold the inputs, the method,
        the distribution, the formula used, the expected errors and the upper limit they
        would give (MUS: the sampling interval, the confidence factor and the expected
        sum of taints, the guide's last column). The main table ``"plan"`` is one row of
        the same. Replay with ``sample_size(**result.params)``.

    Raises
    ------
    SchemaError
        For a confidence outside (0, 1), a tolerable amount at or below the expected
        one, missing inputs, or no sample size up to 1,000,000.

    Examples
    --------
    >>> from nexus_lab.examine import sample_size
    >>> sample_size("attribute", 0.95, tolerable=0.05, expected=0.01).facts["n"]
    93
    >>> plan = sample_size("mus", 0.95, tolerable=50_000, expected=10_000,
    ...                    population=1_000_000)
    >>> plan.facts["n"], round(plan.facts["interval"], 2)
    (93, 10752.69)
    >>> sample_size("classical", 0.95, tolerable=20_000, population=4_000, sd=25).facts["n"]
    254
    """
    params = params_of(locals())
    method = _choice("method", method, _SIZE_METHODS)
    conf = _confidence(confidence)
    if tolerable is None:
        raise SchemaError("sample_size needs tolerable=, the tolerable deviation rate or "
                          "misstatement (e.g. tolerable=0.05)")
    if method == "classical":
        facts, curve = _classical_size(conf, tolerable, expected, population, sd,
                                       rejection_risk, estimator)
    else:
        facts, curve = _rate_size(method, conf, tolerable, expected, population,
                                  distribution, expansion)
    facts = {"n": facts.pop("n"), "method": method, "confidence": conf, **facts}
    plan = pd.DataFrame([{k: v for k, v in facts.items() if k != "formula"}])
    return Examination("sample_size", params, {"plan": plan}, facts,
                       plotter=_size_plotter(curve) if curve is not None else None)


def _rate_size(method: str, conf: float, tolerable: object, expected: object,
               population: object, distribution: str | None,
               expansion: object) -> tuple[dict, Callable | None]:
    """Attribute and MUS sizes: search the smallest n whose upper limit is below tolerable."""
    dist = distribution
    if dist is None:
        dist = ("hypergeometric" if population is not None else "binomial") \
            if method == "attribute" else "poisson"
    dist = _choice("distribution", dist, _DISTRIBUTIONS[method])
    facts: dict[str, Any] = {"distribution": dist}
    if method == "mus" and population is not None:
        book = _cents("population", population)
        tol_c, exp_c = _cents("tolerable", tolerable), round(
            _number("expected", expected, low=0, low_open=False) * 100)
        if tol_c >= book:
            raise SchemaError(f"tolerable={tolerable!r} is not below the book value "
                              f"population={population!r}; give the tolerable misstatement "
                              "as an amount below the book value")
        t, e = tol_c / book, exp_c / book
        facts.update(book_value=book / 100, tolerable=tol_c / 100, expected=exp_c / 100)
    else:
        word = "rate" if method == "attribute" else "fraction of the book value"
        t = _number("tolerable", tolerable, low=0, high=1,
                    hint=f"the tolerable {word}, e.g. 0.05"
                    + ("; for amounts pass population= (the book value)"
                       if method == "mus" else ""))
        e = _number("expected", expected, low=0, high=1, low_open=False,
                    hint=f"the expected {word}")
        facts.update(tolerable=t, expected=e)
    if e >= t:
        raise SchemaError(f"expected={expected!r} is not below tolerable={tolerable!r}: no "
                          "sample can show a rate below the tolerable one when at least as "
                          "many errors are expected; lower expected or raise tolerable")
    items = None
    if method == "attribute" and population is not None:
        items = _count("population", population)
        facts["population"] = items
    if dist == "hypergeometric" and items is None:
        raise SchemaError("distribution='hypergeometric' needs population=, the number of "
                          "items in the population")
    alpha = 1 - conf
    if dist == "expansion":
        cf0 = float(_poisson_factor(0, conf))
        ef = 1.0
        if e > 0:
            if expansion is None:
                raise SchemaError("distribution='expansion' with expected > 0 needs "
                                  "expansion=, the expansion factor for your risk of "
                                  "incorrect acceptance (from the guide's table)")
            ef = _number("expansion", expansion, low=1, low_open=False)
        room = t - e * ef
        if room <= 0:
            raise SchemaError(f"tolerable - expected × expansion = {room:.4g} is not "
                              "positive: lower expected or raise tolerable")
        n = int(_ceil(cf0 / room))
        facts.update(n=n, confidence_factor=cf0, expansion=ef, expected_errors=n * e,
                     upper_limit=None,
                     formula=f"n = ceil(CF(0) / (tolerable - expected × expansion)) = "
                             f"ceil({cf0:.4f} / ({t:.6g} - {e:.6g} × {ef:g}))")
        facts = _mus_facts(facts, n, population, t, e, conf)
        del facts["expected_taints"]  # Table C-1's column: not this formula's
        return facts, None

    def errors(ns: np.ndarray) -> np.ndarray:
        return ns * e if dist == "poisson" else _ceil(ns * e)

    def upper(ns: np.ndarray) -> np.ndarray:
        x = errors(ns)
        if dist == "poisson":
            return _poisson_factor(x, conf) / ns
        if dist == "binomial":
            return _binomial_upper(x, ns, conf)
        return np.array([_hypergeometric_upper(int(k), int(m), items, conf)  # type: ignore
                         for k, m in zip(x, ns, strict=True)]) / items

    if dist == "hypergeometric":
        bad = int(_ceil(t * items))  # type: ignore[operator]
        if int(_ceil(e * items)) >= bad:  # type: ignore[operator]
            raise SchemaError(f"expected={expected!r} and tolerable={tolerable!r} round to "
                              f"the same number of deviations in {items} items; raise "
                              "tolerable")

        def ok(ns: np.ndarray) -> np.ndarray:
            x = errors(ns)
            return (ns > x) & (stats.hypergeom.cdf(x, items, bad, ns) <= alpha)
        limit = items
    else:
        def ok(ns: np.ndarray) -> np.ndarray:
            return (ns > errors(ns)) & (upper(ns) < t)
        limit = _MAX_N
    what = (f"gives an upper limit below {t:.6g} at {conf:.4g} confidence with "
            f"{e:.6g} expected")
    n = _smallest(ok, limit, what)
    if items is not None and n > items:
        raise SchemaError(f"the sample size, {n}, is larger than the population of {items} "
                          "items; test every item, or use distribution='hypergeometric'")
    x = errors(np.array([n]))[0]
    facts.update(n=n, expected_errors=float(x) if dist == "poisson" else int(x),
                 upper_limit=float(upper(np.array([n]))[0]))
    if dist == "binomial":
        formula = (f"smallest n with the one-sided {conf:.4g} Clopper-Pearson (binomial) "
                   f"upper limit for ceil(n × {e:.6g}) deviations below {t:.6g}")
    elif dist == "poisson":
        formula = (f"smallest n with the {conf:.4g} Poisson (gamma) upper limit for "
                   f"n × {e:.6g} errors, gammaincinv(1 + n × {e:.6g}, {conf:.4g}) / n, "
                   f"below {t:.6g}")
    else:
        formula = (f"smallest n with P(at most ceil(n × {e:.6g}) deviations | {bad} of "
                   f"{items} items deviate) <= {alpha:.4g} (hypergeometric)")
    facts["formula"] = formula
    if method == "mus":
        facts = _mus_facts(facts, n, population, t, e, conf)
    return facts, _curve(upper, n, t)


def _mus_facts(facts: dict, n: int, population: object, t: float, e: float,
               conf: float) -> dict:
    """The interval, the confidence factor for sample size design and the expected sum
    of taints (the guide's Table C-1 columns)."""
    r = e / t
    if r == 0:
        factor = float(_poisson_factor(0, conf))
    else:  # the mean count whose upper limit with r × itself errors is itself
        factor = float(optimize.brentq(lambda lam: _poisson_factor(r * lam, conf) - lam,
                                       1e-12, 1e7, xtol=1e-12))
    facts.setdefault("confidence_factor", factor)
    facts["expected_taints"] = r * factor
    if population is not None:
        facts["interval"] = facts["book_value"] / n
    return facts


def _classical_size(conf: float, tolerable: object, expected: object, population: object,
                    sd: object, rejection_risk: object,
                    estimator: str) -> tuple[dict, None]:
    if population is None:
        raise SchemaError("classical sampling needs population=, the number of items")
    items = _count("population", population)
    if sd is None:
        raise SchemaError("classical sampling needs sd=, the expected standard deviation "
                          "of the audited values (or of the differences for estimator="
                          "'difference'), e.g. from a pilot sample")
    s = _number("sd", sd, low=0, hint="a standard deviation in currency units")
    tol = _number("tolerable", tolerable, low=0, hint="the tolerable misstatement, an amount")
    exp = _number("expected", expected, low=0, low_open=False,
                  hint="the expected misstatement, an amount")
    if exp >= tol:
        raise SchemaError(f"expected={expected!r} is not below tolerable={tolerable!r}; "
                          "lower expected or raise tolerable")
    risk = _number("rejection_risk", rejection_risk, low=0, high=1,
                   hint="the risk of incorrect rejection, e.g. 0.10")
    _choice("estimator", estimator, ("mpu", "difference"))
    z_a, z_r = float(stats.norm.ppf(conf)), float(stats.norm.ppf(1 - risk / 2))
    n0 = ((z_a + z_r) * s * items / (tol - exp)) ** 2
    n = max(1, int(_ceil(n0 / (1 + n0 / items))))
    return {"n": n, "estimator": estimator, "population": items, "sd": s, "tolerable": tol,
            "expected": exp, "rejection_risk": risk, "z_acceptance": z_a,
            "z_rejection": z_r, "n_unadjusted": int(_ceil(n0)),
            "allowance": (tol - exp) * z_r / (z_a + z_r),
            "formula": "n0 = ((z_A + z_R) × SD × N / (tolerable - expected))², "
                       "n = ceil(n0 / (1 + n0 / N))"}, None


def _curve(upper: Callable[[np.ndarray], np.ndarray], n: int,
           tolerable: float) -> Callable[[], tuple[np.ndarray, np.ndarray, int, float]]:
    def points() -> tuple[np.ndarray, np.ndarray, int, float]:
        ns = np.unique(np.linspace(max(1, n // 3), 2 * n, 200).astype(np.int64))
        return ns, upper(ns), n, tolerable
    return points


def _size_plotter(curve: Callable) -> Callable[[Examination, Axes], None]:
    def draw(result: Examination, ax: Axes) -> None:
        ns, up, n, t = curve()
        ax.plot(ns, up, color="#1f4e79", label="upper limit with the expected errors")
        ax.axhline(t, color="#a8322d", linestyle="--", label="tolerable")
        ax.axvline(n, color="#5c6673", linestyle=":", label=f"n = {n}")
        ax.set_xlabel("sample size")
        ax.set_ylabel("rate")
        ax.legend(loc="upper right", fontsize=8)
    return draw


# -------------------------------------------------------------------------- sample


def sample(
    df: object,
    method: str = "random",
    n: int | None = None,
    size: Examination | None = None,
    *,
    random_state: int | np.random.Generator | None = None,
    amount: str = "amount",
    strata: str | Sequence[float] | None = None,
    allocation: str = "proportional",
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Select the items to test.

    Parameters
    ----------
    df : frame-like
        The population, one row per item (pandas, polars, pyarrow...).
    method : {"random", "interval", "cell", "mus", "stratified"}, default "random"
        ``"random"``: simple random sampling without replacement. ``"interval"``:
        systematic, every ``N / n``-th item from a random start. ``"cell"``: one random
        item from each of ``n`` cells of (nearly) equal size. ``"mus"``: monetary-unit
        sampling, systematic over the cumulated absolute book values in cents, so an item
        is selected with probability ``|book| / interval`` and every item at or above the
        interval is selected (once, with its number of hits; flagged top stratum).
        ``"stratified"``: simple random samples within strata.
    n : int, optional
        The sample size (for MUS, the number of selected monetary units).
    size : Examination, optional
        A :func:`sample_size` result to take ``n`` from.
    random_state : int or numpy.random.Generator, optional
        The seed. Without one a fresh seed is drawn and recorded in ``params``, so every
        call can be replayed exactly.
    amount : str, default "amount"
        The column of book values (MUS, value bands, Neyman allocation).
    strata : str or sequence of float, optional
        Stratified: a column whose values are the strata, or the edges of value bands on
        ``amount`` in currency units (``[0, 1000, 10000]`` gives below 0, 0 to 1,000,
        1,000 to 10,000 and 10,000 and above; each band holds its lower edge).
    allocation : {"proportional", "neyman"}, default "proportional"
        Stratified: ``n`` shared in proportion to the strata's sizes, or to size × the
        standard deviation of ``amount`` (Neyman). Every stratum gets at least one item
        and at most all of its items; the shares are rounded by largest remainder, so
        they sum to ``n``.
    columns : mapping, optional
        ``{"amount": "<your column>"}``.

    Returns
    -------
    Examination
        The main table ``"selection"`` holds the selected rows (their own columns and
        index) in population order, with ``sample_row`` (the position in ``df``) and per
        method ``sample_draw`` (order drawn), ``sample_interval`` and ``sample_unit``
        (the interval or cell and the selected unit: an item position, or for MUS the
        cumulated amount of the selected cent), ``sample_hits`` and
        ``sample_top_stratum`` (MUS), ``sample_stratum`` and ``sample_weight``
        (stratified: items in the stratum ÷ items drawn from it). Stratified results also
        have a ``"strata"`` table. The facts hold the interval, the random start, the
        seed and the counts.

    Raises
    ------
    SchemaError
        For ``n`` larger than the population (for MUS: than its items with a non-zero
        book value), no ``n``, a missing column, or unreadable amounts.

    Notes
    -----
    Negative book values are selected on their absolute values (a credit balance has as
    many monetary units as its size) and a warning counts them; items with a zero book
    value cannot be selected by MUS and are counted in a warning too: test them apart.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import sample
    >>> ledger = pd.DataFrame({"invoice": [f"A{i}" for i in range(10)],
    ...                        "amount": [50, 20, 9000, 30, 70, 10, 40, 60, 80, 90]})
    >>> picked = sample(ledger, "mus", n=3, random_state=7)
    >>> picked.facts["interval"]
    3150.0
    >>> picked.to_frame().loc[picked.to_frame()["sample_top_stratum"], "invoice"].tolist()
    ['A2']
    >>> sample(ledger, "random", n=4, random_state=1).to_frame()["invoice"].tolist()
    ['A3', 'A4', 'A6', 'A9']
    """
    params = params_of(locals(), "size")
    notes: list[str] = []
    method = _choice("method", method, _SAMPLE_METHODS)
    frame = to_pandas(df, "population")
    if len(frame) == 0:
        raise SchemaError("the population is empty: it has no rows; check the file or the "
                          "filter that produced it", table="population")
    taken = sorted(set(_ADDED) & {str(c) for c in frame.columns})
    if taken:
        raise SchemaError(f"the population already has columns {taken}, which sample adds; "
                          "rename them", table="population", column=taken[0])
    n = _sample_n(n, size)
    rng, seed = _rng(random_state, notes, "sample")
    params["n"], params["random_state"] = n, seed
    col = _amount_column(amount, columns)
    items = len(frame)
    facts: dict[str, Any] = {"method": method, "n": n, "items": items, "random_state": seed}
    tables: dict[str, pd.DataFrame] = {}
    if method in ("random", "interval", "cell"):
        if n > items:
            raise SchemaError(f"n={n} is larger than the population of {items} items; test "
                              "every item, or lower n", table="population")
        pos, added = _item_selection(method, n, items, rng, facts)
    elif method == "mus":
        cents = _read_amount(frame, col)
        pos, added = _mus_selection(cents, n, rng, facts, notes)
    else:
        pos, added, tables["strata"] = _stratified(frame, col, strata, allocation, n, rng,
                                                   facts, notes)
    chosen = frame.iloc[pos].copy()
    chosen["sample_row"] = pos
    for name, values in added.items():
        chosen[name] = values
    facts["selected"] = len(chosen)
    return Examination("sample", params, {"selection": chosen, **tables}, facts,
                       notes=tuple(notes))


def _sample_n(n: object, size: object) -> int:
    if size is not None:
        if not isinstance(size, Examination) or "n" not in size.facts:
            raise SchemaError("size= takes a sample_size result (an Examination whose facts "
                              "hold n); for a number pass n=")
        planned = int(size.facts["n"])
        if n is not None and _count("n", n) != planned:
            raise SchemaError(f"n={n!r} and size= (n={planned}) disagree; pass one of them")
        return planned
    if n is None:
        raise SchemaError("sample needs n= (the sample size) or size= (a sample_size result)")
    return _count("n", n)


def _amount_column(amount: str, columns: Mapping[str, str] | None) -> str:
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - {"amount"})
    if unknown:
        raise SchemaError(f"columns= names {unknown}, which sample does not use; its key is "
                          "'amount' (e.g. columns={'amount': 'Book value'})")
    if "amount" in mapping and amount != "amount" and mapping["amount"] != amount:
        raise SchemaError(f"amount={amount!r} and columns={{'amount': {mapping['amount']!r}}} "
                          "name different columns; pass one of them")
    return mapping.get("amount", amount)


def _read_amount(frame: pd.DataFrame, col: str) -> np.ndarray:
    picked = select_columns(frame, name="population", required=["amount"],
                            columns={"amount": col})
    return read_money(picked["amount"], table="population", column=col)[0]


def _item_selection(method: str, n: int, items: int, rng: np.random.Generator,
                    facts: dict) -> tuple[np.ndarray, dict]:
    facts["interval"] = items / n
    if method == "random":
        drawn = rng.choice(items, size=n, replace=False)
        order = np.argsort(drawn, kind="stable")
        return drawn[order], {"sample_draw": order + 1}
    if method == "interval":  # every item is one unit: systematic selection over units
        pos, start = _systematic(np.ones(items, dtype=np.int64), n, rng)
        facts["start"] = start
        return pos, {"sample_interval": np.arange(1, n + 1), "sample_unit": pos}
    bounds = np.arange(n + 1, dtype=np.int64) * items // n  # cells of floor/ceil(N / n)
    pos = rng.integers(bounds[:-1], bounds[1:])
    return pos, {"sample_interval": np.arange(1, n + 1), "sample_unit": pos}


def _systematic(units: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                             float]:
    """Select ``n`` units at spacing ``total / n`` from a random start, exactly.

    Unit ``i`` (of ``n``) is ``floor((u + i × total) / n)`` for ``u`` uniform on
    ``0 .. total - 1``: every unit is selected with probability ``n / total`` and an item
    of ``units`` units is hit ``units × n / total`` times on average, at least once when
    ``units >= total / n``. Computed as ``i q + (u + i r) // n`` with
    ``total = q n + r``, in int64 without overflow.
    Returns the unit positions (the offset of the selected unit in the cumulated
    total) and the start (``u / n``, in units).
    """
    total = int(units.sum(dtype=np.int64))
    q, r = divmod(total, n)
    u = int(rng.integers(0, total))
    i = np.arange(n, dtype=np.int64)
    return i * q + (u + i * r) // n, u / n


def _mus_selection(cents: np.ndarray, n: int, rng: np.random.Generator, facts: dict,
                   notes: list[str]) -> tuple[np.ndarray, dict]:
    size = np.abs(cents)
    if float(size.sum(dtype=np.float64)) >= 2**62:
        raise SchemaError("the book values add up to more than int64 cents can hold; check "
                          "the unit of the amount column", table="population")
    zero, negative = int((size == 0).sum()), int((cents < 0).sum())
    if negative:
        warn(f"sample: {negative} items have a negative book value; they are selected on "
             "their absolute values (evaluate credit balances apart if they call for it)",
             notes)
    if zero:
        warn(f"sample: {zero} items have a zero book value and cannot be selected by "
             "monetary unit; test them apart", notes)
    nonzero = len(cents) - zero
    if n > nonzero:
        raise SchemaError(f"n={n} is larger than the {nonzero} items with a non-zero book "
                          "value; test every item, or lower n", table="population")
    units, start = _systematic(size, n, rng)
    ends = np.cumsum(size, dtype=np.int64)
    hit_item = np.searchsorted(ends, units, side="right")
    hits = np.bincount(hit_item, minlength=len(cents))
    pos = np.flatnonzero(hits)
    first = np.searchsorted(hit_item, pos)  # hit_item is sorted: its first hit
    total = int(ends[-1])
    top = size[pos] >= -(-total // n)  # |book| >= total / n, in whole cents
    facts.update(book_value=total / 100, interval=total / n / 100, start=start / 100,
                 top_stratum_items=int(top.sum()),
                 top_stratum_value=int(size[pos][top].sum()) / 100,
                 negative_items=negative, zero_items=zero)
    return pos, {"sample_interval": first + 1, "sample_unit": units[first] / 100,
                 "sample_hits": hits[pos], "sample_top_stratum": top}


def _stratified(frame: pd.DataFrame, col: str, strata: object, allocation: str, n: int,
                rng: np.random.Generator, facts: dict,
                notes: list[str]) -> tuple[np.ndarray, dict, pd.DataFrame]:
    allocation = _choice("allocation", allocation, ("proportional", "neyman"))
    cents = None
    if strata is None:
        raise SchemaError("stratified sampling needs strata=, a column name or the edges of "
                          "value bands (e.g. strata=[0, 1000, 10000])")
    if isinstance(strata, str):
        if strata not in frame.columns:
            select_columns(frame, name="population", required=["strata"],
                           columns={"strata": strata})
        values = frame[strata]
        missing = values.isna().to_numpy()
        if missing.any():
            raise SchemaError(f"population.{strata}: missing strata at "
                              f"{describe_rows(missing)}; fill them or drop those rows",
                              table="population", column=strata,
                              rows=np.flatnonzero(missing)[:5].tolist())
        try:
            codes, labels = pd.factorize(values, sort=True)
        except TypeError:  # values that do not sort together (numbers and text)
            codes, labels = pd.factorize(values.astype(str), sort=True)
        labels = np.asarray([str(v) for v in labels], dtype=object)
    else:
        cents = _read_amount(frame, col)
        try:
            edges = [_number("strata edge", e) for e in strata]  # type: ignore[attr-defined]
        except TypeError:
            edges = []
        edge_c = np.rint(np.asarray(edges, dtype=np.float64) * 100).astype(np.int64)
        if len(edge_c) == 0 or np.any(np.diff(edge_c) <= 0):
            raise SchemaError(f"strata={strata!r}: give a column name, or band edges in "
                              "increasing order, e.g. [0, 1000, 10000]")
        band = np.searchsorted(edge_c, cents, side="right")
        names = ([f"below {cents_text(edge_c[0])}"]
                 + [f"{cents_text(a)} to {cents_text(b)}" for a, b in itertools.pairwise(edge_c)]
                 + [f"{cents_text(edge_c[-1])} and above"])
        used = np.bincount(band, minlength=len(names)) > 0  # empty bands are left out
        codes = (np.cumsum(used) - 1)[band]
        labels = np.asarray(names, dtype=object)[used]
    sizes = np.bincount(codes, minlength=len(labels)).astype(np.int64)
    if n > len(frame):
        raise SchemaError(f"n={n} is larger than the population of {len(frame)} items; test "
                          "every item, or lower n", table="population")
    if n < len(labels):
        raise SchemaError(f"n={n} is smaller than the {len(labels)} strata; every stratum "
                          "needs at least one item: raise n or merge strata",
                          table="population")
    weights = sizes.astype(np.float64)
    table = {"stratum": labels, "items": sizes}
    if cents is None and allocation == "neyman":
        cents = _read_amount(frame, col)
    if cents is not None:
        money = cents / 100
        table["book_value"] = np.bincount(codes, weights=cents,  # whole cents: exact sums
                                          minlength=len(labels)) / 100
        mean = table["book_value"] / sizes
        dev = np.bincount(codes, weights=(money - mean[codes]) ** 2, minlength=len(labels))
        sd = np.sqrt(dev / np.maximum(sizes - 1, 1))
        table["sd"] = sd
        if allocation == "neyman":
            weights = sizes * sd
            if not weights.any():
                warn("sample: every stratum has a standard deviation of 0; the sample is "
                     "shared in proportion to the strata's sizes", notes)
                weights = sizes.astype(np.float64)
    take = _allocate(n, weights, sizes)
    table["n"] = take
    shuffled = rng.permutation(len(frame))
    key = codes[shuffled].astype(np.int16 if len(labels) < 2**15 else np.int64)
    order = shuffled[np.argsort(key, kind="stable")]  # by stratum, at random within
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(len(frame)) - starts[codes[order]]
    pos = np.flatnonzero(rank < take[codes])
    facts.update(strata=len(labels), allocation=allocation)
    return pos, {"sample_stratum": labels[codes[pos]],
                 "sample_weight": sizes[codes[pos]] / take[codes[pos]]}, pd.DataFrame(table)


def _allocate(n: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """``n`` shared in proportion to ``weights``, each share between 1 and its cap, rounded
    by largest remainder so that the shares sum to ``n`` (``len(caps) <= n <= caps.sum()``)."""
    take = np.zeros(len(caps), dtype=np.int64)
    free = np.ones(len(caps), dtype=bool)
    left = n
    for _ in range(len(caps) + 1):  # each pass fixes at least one stratum, or finishes
        w = np.where(free, weights, 0.0)
        if w.sum() <= 0:  # the strata left have no spread: share by size
            w = np.where(free, caps, 0).astype(np.float64)
        raw = left * w / w.sum()
        over, under = free & (raw > caps), free & (raw < 1)
        fix = over if over.any() else under
        if fix.any():
            take[fix] = np.where(over[fix], caps[fix], 1)
            left -= int(take[fix].sum())
            free &= ~fix
            continue
        base = np.floor(raw).astype(np.int64)
        extra = left - int(base[free].sum())
        frac = np.where(free, raw - base, -1.0)
        base[np.argsort(-frac, kind="stable")[:extra]] += 1
        take[free] = base[free]
        break
    return take


# ------------------------------------------------------------------------ evaluate


def evaluate(
    sample_results: object,
    method: str = "mus",
    confidence: float = 0.95,
    *,
    population: float | None = None,
    tolerable: float | None = None,
    distribution: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """What the tested items say about the population: an upper limit and a conclusion.

    Parameters
    ----------
    sample_results : frame-like or Examination
        The tested items, one row each. MUS: ``book`` and ``audited`` values (``book``
        falls back on ``amount``), and optionally ``hits`` (a :func:`sample` selection's
        ``sample_hits`` is used when present; otherwise one hit per row). Attribute:
        ``deviation`` (booleans or 0/1).
    method : {"mus", "attribute"}, default "mus"
    confidence : float, default 0.95
        1 - the risk of incorrect acceptance (MUS) or of overreliance (attribute).
    population : float, optional
        MUS: the population's book value (required). Attribute: the number of items
        (optional: with it the limit is hypergeometric).
    tolerable : float, optional
        The tolerable misstatement (MUS, an amount) or deviation rate (attribute); with
        it the result concludes ``"accept"`` (verdict ``"pass"``) when the upper limit is
        below it, else ``"reject"`` (verdict ``"fail"``).
    distribution : str, optional
        MUS: ``"poisson"`` (default; the guide's confidence factors) or ``"binomial"``
        (Stringer with Clopper-Pearson factors). Attribute: ``"binomial"`` (default
        without ``population``, Tables A-3 and A-4), ``"hypergeometric"`` (default with
        it) or ``"poisson"``.
    columns : mapping, optional
        ``{"book": ..., "audited": ..., "hits": ...}`` or ``{"deviation": ...}``.

    Returns
    -------
    Examination
        MUS: the main table ``"misstatements"`` lists every misstated item with its taint,
        rank, factor increment, projection and incremental allowance; ``"limit"`` builds
        the upper limits (basic precision, projected misstatement, incremental
        allowance) for overstatements and understatements. The facts hold both limits,
        the sampling interval, the most likely (net) misstatement, the overstatement
        limit less the projected understatements (``upper_limit_net``), and the
        conclusion. Attribute: ``"deviations"`` (the deviating rows) and ``"limit"``
        (n, deviations, rate, upper limit, allowance for sampling risk).

    Raises
    ------
    SchemaError
        For missing columns, unreadable amounts, a zero book value (MUS cannot select
        it), deviation flags that are not booleans or 0/1, or bad parameters.

    Notes
    -----
    MUS (the AICPA guide's evaluation): interval ``I = population / n``. An item at or
    above the interval adds its misstatement as found. Every other misstated item has a
    taint ``(book - audited) / book``; the positive taints (overstatements) are ranked
    from the largest and ``upper limit = I × CF(0) + Σ I × (CF(i) - CF(i - 1)) × taint(i)
    + top-stratum misstatement``, ``CF(k)`` the Poisson confidence factor for ``k``
    misstatements; understatements (negative taints, as magnitudes) are limited the same
    way. A negative book value is measured on its magnitude: a balance of -100.00 audited
    at -80.00 is overstated by 20.00. A taint above 1 (an audited value of the other
    sign) counts in full.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import evaluate
    >>> tested = pd.DataFrame({"book": [400.0, 500.0, 4000.0] + [100.0] * 90,
    ...                        "audited": [320.0, 0.0, 3500.0] + [100.0] * 90})
    >>> res = evaluate(tested, "mus", 0.95, population=300_000, tolerable=15_000)
    >>> round(res.facts["interval"], 2), round(res.facts["upper_limit"], 2)
    (3225.81, 16804.03)
    >>> res["limit"].round(2).to_dict("list")["overstatement"]
    [9663.65, 4370.97, 2769.41, 16804.03]
    >>> res.facts["conclusion"]
    'reject'
    >>> flags = pd.DataFrame({"deviation": [True] * 2 + [False] * 98})
    >>> round(evaluate(flags, "attribute", 0.95, tolerable=0.07).facts["upper_limit"], 4)
    0.0616
    """
    params = params_of(locals(), "sample_results")
    method = _choice("method", method, _EVALUATE_METHODS)
    conf = _confidence(confidence)
    frame = sample_results.to_frame() if isinstance(sample_results, Examination) \
        else to_pandas(sample_results, "sample")
    if method == "mus":
        return _evaluate_mus(frame, conf, population, tolerable, distribution, columns,
                             params)
    return _evaluate_attribute(frame, conf, population, tolerable, distribution, columns,
                               params)


def _evaluate_attribute(frame: pd.DataFrame, conf: float, population: object,
                        tolerable: object, distribution: str | None,
                        columns: Mapping[str, str] | None, params: dict) -> Examination:
    dist = distribution or ("hypergeometric" if population is not None else "binomial")
    dist = _choice("distribution", dist, _DISTRIBUTIONS["attribute"])
    data = select_columns(frame, name="sample", required=["deviation"], columns=columns)
    flags = _flags(data["deviation"], (columns or {}).get("deviation", "deviation"))
    n, x = len(flags), int(flags.sum())
    items = None
    if population is not None:
        items = _count("population", population)
        if items < n:
            raise SchemaError(f"population={population!r} is smaller than the {n} items "
                              "tested; give the number of items in the population")
    elif dist == "hypergeometric":
        raise SchemaError("distribution='hypergeometric' needs population=, the number of "
                          "items in the population")
    if dist == "binomial":
        upper = float(_binomial_upper(np.array([x]), np.array([n]), conf)[0])
    elif dist == "poisson":
        upper = float(_poisson_factor(x, conf)) / n
    else:
        upper = _hypergeometric_upper(x, n, items, conf) / items  # type: ignore[arg-type]
    facts: dict[str, Any] = {"method": "attribute", "distribution": dist, "confidence": conf,
                             "n": n, "deviations": x, "rate": x / n, "upper_limit": upper,
                             "allowance": upper - x / n}
    verdict = _conclude(facts, upper, tolerable, rate=True)
    limit = pd.DataFrame([{k: facts[k] for k in ("n", "deviations", "rate", "upper_limit",
                                                 "allowance")}])
    deviations = _rows(frame, np.flatnonzero(flags))
    return Examination("evaluate", params, {"deviations": deviations, "limit": limit},
                       facts, verdict=verdict)


def _rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The tested rows at ``rows``, with ``sample_row``: kept from a selection (the
    position in the population), else the position in the tested table."""
    table = frame.iloc[rows].copy()
    if "sample_row" not in table.columns:
        table.insert(0, "sample_row", rows)
    return table


def _flags(values: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return values.to_numpy(dtype=bool)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = ~numbers.isin([0, 1]).to_numpy()
    if bad.any():
        raise SchemaError(f"sample.{column}: deviation flags that are not True/False or 1/0 "
                          f"at {describe_rows(bad)}; mark every tested item as a deviation "
                          "or not", table="sample", column=column,
                          rows=np.flatnonzero(bad)[:5].tolist())
    return numbers.to_numpy() == 1


def _conclude(facts: dict, upper: float, tolerable: object, *, rate: bool) -> str | None:
    if tolerable is None:
        facts["conclusion"] = None
        return None
    t = (_number("tolerable", tolerable, low=0, high=1, hint="the tolerable deviation rate")
         if rate else _number("tolerable", tolerable, low=0, hint="the tolerable misstatement"))
    facts["tolerable"] = t
    facts["conclusion"] = "accept" if upper < t else "reject"
    return "pass" if upper < t else "fail"


def _evaluate_mus(frame: pd.DataFrame, conf: float, population: object, tolerable: object,
                  distribution: str | None, columns: Mapping[str, str] | None,
                  params: dict) -> Examination:
    dist = _choice("distribution", distribution or "poisson", ("poisson", "binomial"))
    if population is None:
        raise SchemaError("evaluate(method='mus') needs population=, the book value of the "
                          "population the sample was drawn from")
    book_total = _cents("population", population)
    mapping = dict(columns or {})
    have = [str(c) for c in frame.columns]
    if "book" not in mapping and "book" not in have and "amount" in have:
        mapping["book"] = "amount"
    if "hits" not in mapping and "sample_hits" in have:
        mapping["hits"] = "sample_hits"
    data = select_columns(frame, name="sample", required=["book", "audited"],
                          optional=["hits"], columns=mapping)
    book_col, audit_col = mapping.get("book", "book"), mapping.get("audited", "audited")
    book = read_money(data["book"], table="sample", column=book_col)[0]
    audited = read_money(data["audited"], table="sample", column=audit_col)[0]
    if (book == 0).any():
        raise SchemaError(f"sample.{book_col}: a zero book value at "
                          f"{describe_rows(book == 0)}; monetary-unit sampling cannot select "
                          "such items: evaluate them apart", table="sample", column=book_col,
                          rows=np.flatnonzero(book == 0)[:5].tolist())
    if "hits" in data.columns:
        hits = pd.to_numeric(data["hits"], errors="coerce").to_numpy()
        bad = ~(np.isfinite(hits) & (hits >= 1) & (hits == np.round(hits)))
        if bad.any():
            raise SchemaError(f"sample.{mapping.get('hits', 'hits')}: hits that are not whole "
                              f"numbers of at least 1 at {describe_rows(bad)}",
                              table="sample", column="hits", rows=np.flatnonzero(bad)[:5])
        hits = hits.astype(np.int64)
    else:
        hits = np.ones(len(book), dtype=np.int64)
    n = int(hits.sum())
    size = np.abs(book)
    if int(size.sum()) > book_total:
        raise SchemaError(f"population={population!r} is smaller than the book values tested "
                          f"({cents_text(int(size.sum()))}); give the population's book value")
    interval = book_total / n / 100
    top = size >= -(-book_total // n)
    miss = (book - audited) * np.sign(book)  # cents; > 0: the magnitude is overstated
    taint = miss / size
    over = _stringer(taint, hits, top, miss, conf, n, interval, book_total, dist, 1)
    under = _stringer(taint, hits, top, miss, conf, n, interval, book_total, dist, -1)
    most_likely = over["projected"] - under["projected"]
    facts: dict[str, Any] = {
        "method": "mus", "distribution": dist, "confidence": conf, "n": n,
        "items": len(book), "book_value": book_total / 100, "interval": interval,
        "overstatements": over["count"], "understatements": under["count"],
        "top_stratum_items": int(top.sum()),
        "basic_precision": over["basic"], "projected_overstatement": over["projected"],
        "incremental_allowance": over["incremental"], "upper_limit": over["limit"],
        "projected_understatement": under["projected"],
        "upper_limit_understatement": under["limit"], "most_likely": most_likely,
        "upper_limit_net": over["limit"] - under["projected"]}
    verdict = _conclude(facts, max(over["limit"], under["limit"]), tolerable, rate=False)
    rows = np.flatnonzero(miss != 0)
    table = _rows(frame, rows)
    for name, part in (("misstatement", miss[rows] / 100), ("taint", taint[rows]),
                       ("top_stratum", top[rows])):
        table[name] = part
    for name in ("rank", "factor_increment", "projected", "incremental_allowance"):
        table[name] = np.where(miss[rows] > 0, over["items"][name][rows],
                               under["items"][name][rows])
    limit = pd.DataFrame({"part": ["basic precision", "projected misstatement",
                                   "incremental allowance", "upper limit"],
                          "overstatement": [over[k] for k in ("basic", "projected",
                                                              "incremental", "limit")],
                          "understatement": [under[k] for k in ("basic", "projected",
                                                                "incremental", "limit")]})
    return Examination("evaluate", params, {"misstatements": table, "limit": limit}, facts,
                       verdict=verdict, plotter=_limit_plot)


def _stringer(taint: np.ndarray, hits: np.ndarray, top: np.ndarray, miss: np.ndarray,
              conf: float, n: int, interval: float, book_total: int, dist: str,
              sign: int) -> dict[str, Any]:
    """One side's Stringer bound, in currency units, and each item's part in it."""
    rows = len(taint)
    side = sign * taint > 0
    sampled = side & ~top
    # every hit on a sampled item is one misstatement; rank them from the largest taint
    item = np.repeat(np.flatnonzero(sampled), hits[sampled])
    t = sign * taint[item]
    order = np.argsort(-t, kind="stable")
    item, t = item[order], t[order]
    k = len(t)
    if dist == "poisson":
        value = _poisson_factor(np.arange(k + 1), conf) * interval  # CF(i) × I
    else:
        value = _binomial_upper(np.arange(k + 1), np.full(k + 1, n), conf) * book_total / 100
    step = np.diff(value)
    topped = side & top
    top_miss = float(sign * miss[topped].sum()) / 100
    projected = float(t.sum()) * interval + top_miss
    incremental = float(((step - interval) * t).sum())
    out = {"count": int(hits[side].sum()), "basic": float(value[0]),
           "projected": projected, "incremental": incremental,
           "limit": float(value[0]) + projected + incremental}
    first = np.full(rows, -1, dtype=np.int64)
    first[item[::-1]] = np.arange(k)[::-1]  # an item's best-ranked hit
    increment = np.full(rows, np.nan)
    ranked = first >= 0
    increment[ranked] = step[first[ranked]] / interval
    item_projected = np.where(topped, sign * miss / 100, 0.0)
    item_allowance = np.zeros(rows)
    np.add.at(item_projected, item, t * interval)
    np.add.at(item_allowance, item, (step - interval) * t)
    out["items"] = {"rank": np.where(ranked, first + 1, 0), "factor_increment": increment,
                    "projected": item_projected, "incremental_allowance": item_allowance}
    return out


def _limit_plot(result: Examination, ax: Axes) -> None:
    limit = result.to_frame("limit").set_index("part")
    parts = ["basic precision", "projected misstatement", "incremental allowance"]
    colors = ["#1f4e79", "#b25f00", "#6d4c9f"]
    for j, side in enumerate(("overstatement", "understatement")):
        bottom = 0.0
        for part, color in zip(parts, colors, strict=True):
            value = float(limit.loc[part, side])
            ax.barh(j, value, left=bottom, color=color, label=part if j == 0 else None)
            bottom += value
    if result.facts.get("tolerable") is not None:
        ax.axvline(result.facts["tolerable"], color="#a8322d", linestyle="--",
                   label="tolerable")
    ax.set_yticks([0, 1], ["overstatement", "understatement"])
    ax.set_xlabel("upper limit on misstatement")
    ax.legend(loc="lower right", fontsize=8)
