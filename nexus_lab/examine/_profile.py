"""Profiles of a money column: per amount band (ACL STRATIFY), per age band before a
cutoff date (ACL AGE) and per group (ACL SUMMARIZE and STATISTICS).

Every table has, per band or group: the rows, their share of the rows, the total in
exact integer cents (``total_cents``; ``total`` in currency units), its share of the
money (the band's total over the sum of all bands' totals, sizes taken: negative bands
count by their size), and the smallest, largest and mean amount. The bands' rows and
totals add up to the column's: nothing is dropped. Table ``"extremes"`` lists the
largest and the smallest items (ACL STATISTICS' TOP and BOTTOM).

Default bands of :func:`stratify`: powers of ten (0.00 - 0.99, 1.00 - 9.99, 10.00 -
99.99...) up to the largest amount. Amounts span orders of magnitude, so equal-width
bands (ACL's default, ``bands=10`` here) put nearly every row in the first band, and
quantile bands move with the data, so two periods cannot be compared band by band.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.examine._tally import NAME, money, row_ids, table
from nexus_lab.frames import cents_text, parse_days, read_money

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from nexus_lab._typing import FrameLike

__all__ = ["age", "stratify", "summarize"]

_AGE_BANDS = (0, 30, 60, 90, 120)


def stratify(
    df: FrameLike,
    column: str = "amount",
    bands: int | Sequence[float] | None = None,
    *,
    top: int = 5,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Count and total the amounts per band (ACL STRATIFY).

    Parameters
    ----------
    df : frame-like
        The table.
    column : str, default "amount"
        The money column (text amounts such as ``"1.234,50 €"`` are read).
    bands : None, int or sequence of float, optional
        None: powers of ten (0.00 - 0.99, 1.00 - 9.99, ...) up to the largest amount;
        an int ``k``: ``k`` bands of equal width from the smallest to the largest
        non-negative amount (ACL's intervals); a sequence: the band edges in currency
        units, increasing (``[0, 1000, 10000]``), amounts below the first and from the
        last on making their own bands.
    top : int, default 5
        The largest and smallest items listed in table ``"extremes"``.
    columns : mapping, optional
        ``{our name: your column}`` (``column`` and ``transaction_id``).

    Returns
    -------
    Examination
        Table ``"bands"`` (band, lower, upper, count, count_share, total,
        total_cents, value_share, min, max, mean) and ``"extremes"``. Negative amounts
        are their own band, first, unless the given edges start below zero.

    Raises
    ------
    SchemaError
        For an absent column, amounts that are not money, or bands that are not
        increasing.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import stratify
    >>> df = pd.DataFrame({"amount": ["5.00", "12.50", "80.00", "1,250.00", "-20.00"]})
    >>> r = stratify(df)
    >>> r["bands"][["band", "count", "total_cents"]].values.tolist()
    [['negative', 1, -2000], ['0.00 – 0.99', 0, 0], ['1.00 – 9.99', 1, 500], \
['10.00 – 99.99', 2, 9250], ['100.00 – 999.99', 0, 0], ['1,000.00 – 9,999.99', 1, 125000]]
    """
    params = params_of(locals())
    data = table(df, [column], ["transaction_id"], columns)
    ids = row_ids(data)
    cents = read_money(data[column], table=NAME, column=column, ids=ids)[0]
    strata = _Strata(_edges(_span(cents), bands))
    codes = strata.codes(cents)
    extremes = _extremes(cents, strata.band_of(codes), "band", data, top)
    return _stratified(params, strata, _tally(codes, cents), extremes)


@dataclass(frozen=True)
class _Strata:
    """The bands of :func:`stratify` from their edges (in cents): labels, bounds, the
    bands always shown, and whether negative amounts make a band of their own."""

    edges: np.ndarray

    @property
    def separate(self) -> bool:
        return bool(self.edges[0] >= 0)

    @property
    def labels(self) -> list[str]:
        edges = self.edges
        return ([f"< {cents_text(edges[0])}"]
                + [f"{cents_text(a)} – {cents_text(b - 1)}" for a, b in pairwise(edges)]
                + [f"≥ {cents_text(edges[-1])}"] + ["negative"] * self.separate)

    def codes(self, cents: np.ndarray) -> np.ndarray:
        """The band of each amount (0: below the first edge)."""
        codes = np.searchsorted(self.edges, cents, side="right")
        return np.where(cents < 0, len(self.edges) + 1, codes) if self.separate else codes

    def band_of(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[codes]


def _stratified(params: dict[str, Any], strata: _Strata, tally: pd.DataFrame,
                extremes: pd.DataFrame) -> Examination:
    """The result of :func:`stratify` from the tally of the amounts per band."""
    edges, separate, labels = strata.edges, strata.separate, strata.labels
    lower = np.r_[np.nan, money(edges)]
    upper = np.r_[money(edges), np.nan]
    keep = np.r_[False, np.ones(len(edges) - 1, bool), False]  # the bands always shown
    if separate:
        lower, upper = np.r_[lower, np.nan], np.r_[upper, 0.0]
        keep = np.r_[keep, False]
    frame = _bands(tally, len(labels), labels)
    frame.insert(1, "lower", lower)
    frame.insert(2, "upper", upper)
    shown = keep | (frame["count"].to_numpy() > 0)
    order = np.r_[len(labels) - 1, np.arange(len(labels) - 1)] if separate else \
        np.arange(len(labels))
    frame = frame.iloc[order][shown[order]].reset_index(drop=True)
    total = int(tally["sum"].sum())
    facts = {"rows": int(tally["count"].sum()), "total_cents": total,
             "total": cents_text(total), "bands": len(frame),
             "edges": money(edges).tolist(),
             "negative": int(tally["count"].get(len(edges) + 1, 0)) if separate else None,
             "min": money(int(tally["min"].min())), "max": money(int(tally["max"].max()))}
    return Examination("stratify", params, {"bands": frame, "extremes": extremes}, facts,
                       plotter=_plot_bands)


def age(
    df: FrameLike,
    date_column: str,
    cutoff: Any,
    bands: Sequence[int] = _AGE_BANDS,
    *,
    amount: str | None = "amount",
    top: int = 5,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Count and total the items per age band: days before a cutoff date (ACL AGE).

    Parameters
    ----------
    df : frame-like
        The table (open invoices, receivables...).
    date_column : str
        The date items are aged from (invoice or due date).
    cutoff : date-like
        The date ages are counted to (``"2025-12-31"``).
    bands : sequence of int, default (0, 30, 60, 90, 120)
        The first day of each band, increasing: 0-29, 30-59, 60-89, 90-119 and 120+
        days. (ACL's default adds 10000; give it to close the last band.) Items dated
        after the cutoff are their own band, first.
    amount : str or None, default "amount"
        The money column to total; None counts rows only.
    top : int, default 5
        The largest and smallest items listed in table ``"extremes"``.
    columns : mapping, optional
        ``{our name: your column}`` (``date_column``, ``amount``, ``transaction_id``).

    Returns
    -------
    Examination
        Table ``"bands"`` (band, from_days, to_days, count, count_share and, with an
        amount, total, total_cents, value_share, min, max, mean) and ``"extremes"``.

    Raises
    ------
    SchemaError
        For an absent column, dates that are not dates or are out of range, a cutoff
        that is not a date, or bands that are not increasing.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import age
    >>> df = pd.DataFrame({"date": ["2025-12-20", "2025-11-15", "2025-06-01", "2026-01-05"],
    ...                    "amount": [100.0, 250.0, 75.5, 10.0]})
    >>> r = age(df, "date", "2025-12-31")
    >>> r["bands"][["band", "count", "total_cents"]].values.tolist()
    [['after cutoff', 1, 1000], ['0-29', 1, 10000], ['30-59', 1, 25000], ['60-89', 0, 0], \
['90-119', 0, 0], ['120+', 1, 7550]]
    """
    params = params_of(locals())
    edges = np.asarray(list(bands), dtype=np.float64)
    if not len(edges) or (np.diff(edges) <= 0).any() or edges[0] < 0 or \
            (edges != np.round(edges)).any():
        raise SchemaError(f"bands={list(bands)!r}: give whole numbers of days, 0 or more and "
                          "increasing, e.g. (0, 30, 60, 90, 120)")
    edges = edges.astype(np.int64)
    data = table(df, [date_column, amount or ""], ["transaction_id"], columns)
    ids = row_ids(data)
    days = parse_days(data[date_column], table=NAME, column=date_column, ids=ids)
    try:
        cut = int(parse_days(pd.Series([cutoff]), table="cutoff", column="cutoff")[0])
    except SchemaError as exc:
        raise SchemaError(f"cutoff={cutoff!r} is not a date: give one such as '2025-12-31' "
                          f"({exc})", column="cutoff") from exc
    old = cut - days
    codes = np.searchsorted(edges, old, side="right")  # 0: after cutoff or before the 1st
    after = old < 0
    labels = ([f"0-{edges[0] - 1}"] if edges[0] > 0 else ["-"]) + [
        f"{a}-{b - 1}" for a, b in pairwise(edges)] + [f"{edges[-1]}+"]
    frm = np.r_[0, edges].astype(np.float64)
    to = np.r_[edges - 1, np.nan].astype(np.float64)
    codes = np.where(after, len(labels), codes)
    labels.append("after cutoff")
    frm, to = np.r_[frm, np.nan], np.r_[to, -1.0]
    if amount:
        cents = read_money(data[amount], table=NAME, column=amount, ids=ids)[0]
    else:
        cents = np.zeros(len(days), np.int64)
    frame = _bands(_tally(codes, cents), len(labels), labels)
    frame.insert(1, "from_days", frm)
    frame.insert(2, "to_days", to)
    shown = np.ones(len(labels), bool)
    shown[0] = edges[0] > 0 and frame["count"].iloc[0] > 0
    shown[-1] = frame["count"].iloc[-1] > 0
    order = np.r_[len(labels) - 1, np.arange(len(labels) - 1)]
    frame = frame.iloc[order][shown[order]].reset_index(drop=True)
    if not amount:
        frame = frame.drop(columns=["total", "total_cents", "value_share", "min", "max",
                                    "mean"])
    notes: list[str] = []
    if after.any():
        warn(f"age {date_column}: {int(after.sum()):,} item{'s' * (int(after.sum()) != 1)} "
             "dated after the cutoff "
             f"{pd.Timestamp(cut, unit='D').date()} (band 'after cutoff')", notes)
    band_of = np.asarray(labels, dtype=object)[codes]
    extremes = (_extremes(cents, band_of, "band", data, top) if amount
                else pd.DataFrame(columns=["which", "rank", "row", "amount", "band"]))
    facts = {"rows": len(days), "cutoff": str(pd.Timestamp(cut, unit="D").date()),
             "after_cutoff": int(after.sum()), "oldest_days": int(old.max()),
             "mean_days": float(old.mean()), "bands": len(frame)}
    if amount:
        facts.update(total_cents=int(cents.sum()), total=cents_text(int(cents.sum())))
    return Examination("age", params, {"bands": frame, "extremes": extremes}, facts,
                       notes=notes, plotter=_plot_bands)


def summarize(
    df: FrameLike,
    by: str | Sequence[str],
    values: str = "amount",
    *,
    top: int = 5,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Count, total and describe the amounts per group (ACL SUMMARIZE and STATISTICS).

    Parameters
    ----------
    df : frame-like
        The table.
    by : str or sequence of str
        The column(s) that make a group (vendor; vendor and account...).
    values : str, default "amount"
        The money column.
    top : int, default 5
        The largest and smallest items of each group listed in ``"extremes"``.
    columns : mapping, optional
        ``{our name: your column}`` (``by``, ``values``, ``transaction_id``).

    Returns
    -------
    Examination
        Table ``"groups"`` (the group columns, count, count_share, total, total_cents,
        value_share, min, max, mean, std), largest total first, and ``"extremes"``
        (per group its ``top`` largest and smallest items).

    Raises
    ------
    SchemaError
        For an absent column or amounts that are not money.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import summarize
    >>> df = pd.DataFrame({"vendor": ["A", "B", "A", "A"],
    ...                    "amount": ["10.00", "$99.99", "0.01", "5.50"]})
    >>> r = summarize(df, "vendor", top=1)
    >>> r["groups"][["vendor", "count", "total_cents"]].values.tolist()
    [['B', 1, 9999], ['A', 3, 1551]]
    >>> r["extremes"][["which", "vendor", "amount"]].values.tolist()
    [['largest', 'B', 99.99], ['largest', 'A', 10.0], ['smallest', 'B', 99.99], \
['smallest', 'A', 0.01]]
    """
    params = params_of(locals())
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise SchemaError("by=[]: name at least one column to group by")
    data = table(df, [*keys, values], ["transaction_id"], columns)
    ids = row_ids(data)
    cents = read_money(data[values], table=NAME, column=values, ids=ids)[0]
    codes, names = _group_codes(data, keys)
    std = pd.Series(cents / 100.0).groupby(codes).std()

    def extremes_of(place: np.ndarray) -> pd.DataFrame:
        return _extremes(cents, None, None, data, top, groups=codes, keys=keys,
                         group_of=names.to_numpy(), place=place)

    return _summarized(params, names, _tally(codes, cents), std, extremes_of)


def _group_codes(data: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """The group of each row (in order of first row) and the groups' key values."""
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(data[keys]), use_na_sentinel=False)
    names = uniques.to_frame(index=False)
    names.columns = keys
    return codes, names


def _summarized(params: dict[str, Any], names: pd.DataFrame, tally: pd.DataFrame,
                std: pd.Series, extremes_of: Callable[[np.ndarray], pd.DataFrame]
                ) -> Examination:
    """The result of :func:`summarize` from the groups (in order of first row), their
    tally and standard deviations; ``extremes_of(place)`` lists the extremes, ``place``
    being each group's line in the groups table."""
    frame = _bands(tally, len(names), None)
    std = std.reindex(range(len(names)))
    frame = pd.concat([names, frame], axis=1).assign(std=std.to_numpy())
    order = np.lexsort((-frame["count"].to_numpy(), -frame["total_cents"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    place = np.empty(len(names), np.int64)
    place[order] = np.arange(len(names))  # each group's line in the table
    total = int(tally["sum"].sum())
    facts = {"rows": int(tally["count"].sum()), "groups": len(names), "total_cents": total,
             "total": cents_text(total)}
    return Examination("summarize", params, {"groups": frame, "extremes": extremes_of(place)},
                       facts, plotter=_plot_groups)


# ------------------------------------------------------------------------------ pieces

def _span(cents: np.ndarray) -> tuple[int, int | None, int | None]:
    """What the default bands read of the amounts: the largest, and the smallest and
    largest of those not negative (None when none is)."""
    plus = cents[cents >= 0]
    return (int(cents.max()), *((int(plus.min()), int(plus.max())) if len(plus)
                                else (None, None)))


def _edges(span: tuple[int, int | None, int | None],
           bands: int | Sequence[float] | None) -> np.ndarray:
    """Band edges in cents, increasing (``span``: from :func:`_span`)."""
    if bands is None:
        top = max(span[0], 0)
        edges = [0, 100]
        while edges[-1] <= top:
            edges.append(edges[-1] * 10)
        return np.asarray(edges, np.int64)
    if isinstance(bands, (int, np.integer)) and not isinstance(bands, bool):
        if bands < 1:
            raise SchemaError(f"bands={bands!r}: give 1 or more bands")
        low, high = (span[1], span[2]) if span[1] is not None else (0, 0)
        width = max(-(-(high - low + 1) // int(bands)), 1)
        return low + width * np.arange(int(bands) + 1, dtype=np.int64)
    try:
        edges = np.rint(np.asarray(list(bands), dtype=np.float64) * 100).astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"bands={bands!r}: give None, a number of bands, or increasing "
                          "band edges such as [0, 1000, 10000]") from exc
    if len(edges) < 2 or (np.diff(edges) <= 0).any():
        raise SchemaError(f"bands={list(bands)!r}: give at least two band edges, increasing "
                          "(e.g. [0, 1000, 10000])")
    return edges


def _tally(codes: np.ndarray, cents: np.ndarray) -> pd.DataFrame:
    """Count, exact total, min and max of the amounts per code present (the index); the
    tallies of parts of a table add up (counts and totals add, min of mins, max of
    maxes)."""
    return pd.Series(cents).groupby(codes).agg(["count", "sum", "min", "max"])


def _bands(tally: pd.DataFrame, size: int, labels: Sequence[str] | None) -> pd.DataFrame:
    """Count, exact total, shares, min, max and mean per code ``0..size-1``."""
    agg = tally.reindex(range(size))
    count = agg["count"].fillna(0).to_numpy(np.int64)
    total = agg["sum"].fillna(0).to_numpy(np.int64)
    rows, moved = max(int(count.sum()), 1), max(int(np.abs(total).sum()), 1)
    out = pd.DataFrame({
        "count": count, "count_share": count / rows, "total": money(total),
        "total_cents": total, "value_share": np.abs(total) / moved,
        "min": agg["min"].to_numpy(np.float64) / 100, "max": agg["max"].to_numpy(np.float64)
        / 100, "mean": np.where(count > 0, total / np.maximum(count, 1) / 100, np.nan)})
    if labels is not None:
        out.insert(0, "band", list(labels))
    return out


def _extremes(cents: np.ndarray, label: np.ndarray | None, name: str | None,
              data: pd.DataFrame, top: int, *, groups: np.ndarray | None = None,
              keys: list[str] | None = None, group_of: np.ndarray | None = None,
              place: np.ndarray | None = None) -> pd.DataFrame:
    """The ``top`` largest and smallest items, overall or per group."""
    top = int(top)
    if top < 0:
        raise SchemaError(f"top={top!r}: give a number of items, 0 or more")
    parts = []
    for which, sign in (("largest", -1), ("smallest", 1)):
        if groups is None:
            k = min(top, len(cents))
            pick = np.argpartition(sign * cents, k - 1)[:k] if k else np.zeros(0, np.intp)
            pick = pick[np.lexsort((pick, sign * cents[pick]))]
            rank = np.arange(1, len(pick) + 1)
        else:
            order = np.lexsort((sign * cents, groups))
            g = groups[order]
            start = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
            rank = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))
            pick, rank = order[rank < top], rank[rank < top] + 1
        part = {"which": which, "rank": rank, "row": pick}
        if "transaction_id" in data:
            part["transaction_id"] = data["transaction_id"].to_numpy()[pick]
        if groups is not None:
            for i, key in enumerate(keys):
                part[key] = group_of[groups[pick], i]
        part["amount"] = money(cents[pick])
        if label is not None:
            part[name] = label[pick]
        parts.append(pd.DataFrame(part))
    out = pd.concat(parts, ignore_index=True)
    if groups is not None and len(out):
        # groups in the order of the groups table (largest total first)
        at = place[np.concatenate([groups[p["row"].to_numpy()] for p in parts])]
        out = out.iloc[np.lexsort((out["rank"], at, out["which"] != "largest"))]
        out = out.reset_index(drop=True)
    return out


def _plot_bands(result: Examination, ax: Axes) -> None:
    """Each band's share of the rows and of the money, side by side."""
    bands = result.tables["bands"]
    y = np.arange(len(bands))
    ax.barh(y - 0.2, bands["count_share"], height=0.4, color="#33658a", label="rows")
    if "value_share" in bands:
        ax.barh(y + 0.2, bands["value_share"], height=0.4, color="#edae49", label="money")
    ax.set_yticks(y, bands["band"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("share")
    ax.set_title(result.test)
    ax.legend(fontsize=8)


def _plot_groups(result: Examination, ax: Axes) -> None:
    """The 20 largest groups by total."""
    groups = result.tables["groups"].head(20)
    keys = [c for c in groups.columns if c not in (
        "count", "count_share", "total", "total_cents", "value_share", "min", "max", "mean",
        "std")]
    labels = groups[keys].astype(str).agg(" / ".join, axis=1)
    ax.barh(np.arange(len(groups)), groups["total"], color="#33658a")
    ax.set_yticks(np.arange(len(groups)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("total")
    ax.set_title("summarize: largest groups")
