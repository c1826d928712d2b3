"""Journal-entry tests: the standard queries of a general ledger as one report, with a
risk score per entry."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab._arrays import small_pages
from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.frames import (
    parse_cents,
    parse_days,
    parse_timestamps,
    read_dates,
    read_debit_credit,
    select_columns,
    to_pandas,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from nexus_lab._typing import FrameLike

__all__ = ["JE_TESTS", "JE_WEIGHTS", "journal_entry_tests"]

#: Default weight of each test in an entry's risk score (the gap test has none: a
#: missing number has no entry to score). Tuned on the ``"misstated"`` ledgers of
#: :func:`nexus_lab.datasets.synth_general_ledger`: closing entries are posted after the
#: period end and dated at it in every business, so ``backdated`` and ``period_end``
#: weigh little; people posting at night, on weekends and holidays, rarely, or approving
#: their own entries weigh much.
JE_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "unbalanced": 10.0,
    "duplicate_numbers": 8.0,
    "self_approved": 8.0,
    "unusual_users": 7.0,
    "unusual_times": 7.0,
    "keywords": 7.0,
    "large_amounts": 6.0,
    "below_limit": 5.0,
    "weekend": 5.0,
    "holiday": 5.0,
    "rare_accounts": 4.0,
    "backdated": 3.0,
    "unusual_pairs": 3.0,
    "round_amounts": 2.0,
    "manual": 2.0,
    "period_end": 1.0,
})
#: The tests, in the order of the report.
JE_TESTS = ("unbalanced", "gaps", "duplicate_numbers", "round_amounts", "weekend", "holiday",
            "backdated", "below_limit", "rare_accounts", "unusual_pairs", "manual",
            "unusual_users", "unusual_times", "keywords", "period_end", "large_amounts",
            "self_approved")
# the columns each test needs besides entry_id, date and the amount
_NEEDS = {
    "duplicate_numbers": (), "round_amounts": (), "weekend": (), "holiday": (),
    "backdated": ("posted_at",), "below_limit": (), "rare_accounts": ("account",),
    "unusual_pairs": ("account",), "manual": ("source",), "unusual_users": ("posted_by",),
    "unusual_times": ("posted_at",), "keywords": ("description",), "period_end": (),
    "large_amounts": ("account",), "self_approved": ("posted_by", "approved_by"),
    "unbalanced": (), "gaps": (),
}
_OPTIONAL = ("line", "account", "posted_by", "posted_at", "source", "description",
             "approved_by", "currency", "entity")
_MANUAL = ("manual", "gj", "je", "journal", "general journal", "adjustment", "adjusting",
           "spreadsheet", "topside")
_SYSTEM = ("system", "sys", "batch", "interface", "auto", "automatic", "recurring",
           "scheduled")
_KEYWORDS = ("plug", "override", "topside", "top side", "top-side", "per cfo", "per ceo",
             "per management", "per owner", "as instructed", "as discussed", "no support",
             "without support", "do not reverse", "to target", "squeeze", "fudge",
             "kickback", "bribe", "conceal", "hide")
_WEEKDAYS = np.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                      "Sunday"])


@dataclass
class _Ledger:
    """The ledger's columns as arrays, and its entries."""

    cols: pd.DataFrame  # canonical columns (for the tables)
    codes: np.ndarray  # entry of each line (0..E-1, in order of first appearance)
    ids: pd.Index  # entry ids
    first: np.ndarray  # first line of each entry
    cents: np.ndarray
    day: np.ndarray  # entry date of each line, days since 1970
    order: np.ndarray | None  # lines grouped by entry (None: they already are)
    starts: np.ndarray  # where each entry starts among the grouped lines
    lines: np.ndarray  # lines per entry
    debits: np.ndarray  # per entry, cents
    credits: np.ndarray
    posted: np.ndarray | None = None  # local wall clock of each entry's posting, seconds
    source: np.ndarray | None = None  # per entry: 1 manual, -1 system, 0 other
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.first)

    def grouped(self, values: np.ndarray) -> np.ndarray:
        return values if self.order is None else values[self.order]

    def any_line(self, mask: np.ndarray) -> np.ndarray:
        """Entries with at least one line in ``mask``."""
        return np.bincount(self.codes[mask], minlength=self.n) > 0

    def entry_table(self, hit: np.ndarray, **extra: Any) -> pd.DataFrame:
        """The entries of ``hit`` (a mask, or entry numbers in the order wanted)."""
        at = np.flatnonzero(hit) if hit.dtype == bool else hit
        rows = self.first[at]
        keep = [c for c in ("date", "posted_at", "posted_by", "source", "description",
                            "approved_by", "entity", "currency") if c in self.cols]
        out = self.cols[keep].iloc[rows].reset_index(drop=True)
        out.insert(0, "entry_id", self.ids[at])
        out["lines"] = self.lines[at]
        out["amount"] = self.debits[at] / 100.0
        for name, values in extra.items():
            out[name] = np.asarray(values)[at]  # one value per entry
        return out

    def line_table(self, hit: np.ndarray, **extra: Any) -> pd.DataFrame:
        rows = np.flatnonzero(hit)
        out = self.cols.iloc[rows].reset_index(drop=True)
        out["amount"] = self.cents[rows] / 100.0
        for name, values in extra.items():
            out[name] = values[rows] if len(values) == len(hit) else values
        return out


# ------------------------------------------------------------------------------ reading


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column (-1 for missing) and its distinct values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), values.cat.categories.to_numpy()
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques)


def _normal(values: np.ndarray) -> np.ndarray:
    """Values compared loosely: text, stripped, lower case."""
    return np.char.lower(np.char.strip(np.asarray(values).astype(str)))


def _read(df: pd.DataFrame, columns: Mapping[str, str] | None, notes: list[str],
          ) -> tuple[pd.DataFrame, np.ndarray]:
    """The canonical columns and the amounts in cents (debits positive)."""
    sel = select_columns(df, name="gl", required=["entry_id", "date"],
                         optional=["amount", "debit", "credit", *_OPTIONAL], columns=columns)
    if "amount" in sel:
        cents = parse_cents(sel["amount"], table="gl")
        sel = sel.drop(columns=[c for c in ("debit", "credit") if c in sel])
    elif "debit" in sel and "credit" in sel:
        cents = -read_debit_credit(sel, table="gl")[0]  # a ledger's debits are positive
        sel = sel.drop(columns=["debit", "credit"])
    else:
        select_columns(df, name="gl", required=["entry_id", "date", "amount"],
                       optional=["debit", "credit"], columns=columns)
        raise SchemaError("gl needs an amount column, or debit and credit columns",
                          table="gl", column="amount")  # pragma: no cover
    missing = sel["entry_id"].isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5].tolist()
        raise SchemaError(f"gl.entry_id: missing entry numbers at rows {rows}; every line "
                          "needs the number of its entry", table="gl", column="entry_id",
                          rows=rows)
    return sel, cents


def _period(period_end: Any, period_start: Any) -> tuple[int, int]:
    def day(value: Any, name: str) -> int:
        try:
            return int(parse_days(pd.Series([value]), table="arguments", column=name)[0])
        except SchemaError as exc:
            raise SchemaError(f"{name}={value!r} is not a date; give it as YYYY-MM-DD "
                              f"({exc})", table="arguments", column=name) from None

    end = day(period_end, "period_end")
    if period_start is None:
        end_ts = pd.Timestamp(np.datetime64(end, "D"))
        start = int((end_ts - pd.DateOffset(years=1) + pd.Timedelta(days=1)).to_datetime64()
                    .astype("datetime64[D]").astype(np.int64))
    else:
        start = day(period_start, "period_start")
    if start > end:
        raise SchemaError(f"period_start {np.datetime64(start, 'D')} is after period_end "
                          f"{np.datetime64(end, 'D')}; swap them", table="arguments",
                          column="period_start")
    return start, end


def _ledger(sel: pd.DataFrame, cents: np.ndarray, start: int, end: int, notes: list[str],
            manual: Sequence[str], system: Sequence[str]) -> _Ledger:
    codes, uniq = pd.factorize(sel["entry_id"])
    if isinstance(sel["entry_id"].dtype, pd.CategoricalDtype):  # codes by first appearance
        codes, seen = pd.factorize(codes)
        uniq = np.asarray(uniq)[seen]
    codes = codes.astype(np.int64)
    n_entries = len(uniq)
    cm = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, codes[1:] > cm[:-1]])
    contiguous = bool(np.all(np.diff(codes) >= 0))
    order = None if contiguous else np.argsort(codes, kind="stable")
    lines = np.bincount(codes, minlength=n_entries)
    starts = np.r_[0, np.cumsum(lines)[:-1]]
    pos = np.where(cents > 0, cents, 0)
    debits = _sum(codes, pos, n_entries)
    credits = _sum(codes, pos - cents, n_entries)
    day = parse_days(sel["date"], table="gl", column="date")
    inside = (day >= start) & (day <= end)
    if not inside.any():
        lo, hi = (np.datetime64(int(x), "D") for x in (day.min(), day.max()))
        raise SchemaError(
            f"gl.date: no line is dated inside the period {np.datetime64(start, 'D')} to "
            f"{np.datetime64(end, 'D')} (the dates run from {lo} to {hi}); check period_end, "
            "or give period_start for a period other than the year to period_end",
            table="gl", column="date")
    if not inside.all():
        out = ~inside
        rows = np.flatnonzero(out)[:5].tolist()
        notes.append(
            f"journal_entry_tests: {int(out.sum())} lines of "
            f"{int((np.bincount(codes[out], minlength=n_entries) > 0).sum())} entries are dated "
            f"outside the period {np.datetime64(start, 'D')} to {np.datetime64(end, 'D')} "
            f"(rows {rows}...); they are tested like the others")
    led = _Ledger(cols=sel, codes=codes, ids=pd.Index(uniq), first=first, cents=cents, day=day,
                  order=order, starts=starts, lines=lines, debits=debits, credits=credits,
                  notes=notes)
    if "posted_at" in sel:
        wall = parse_timestamps(sel["posted_at"].iloc[first], table="gl", column="posted_at")[1]
        led.posted = wall.astype("datetime64[s]").astype(np.int64)
    if "source" in sel:
        src, names = _codes(sel["source"].iloc[first])
        kind = np.select([np.isin(_normal(names), [m.lower() for m in manual]),
                          np.isin(_normal(names), [s.lower() for s in system])], [1, -1], 0)
        led.source = np.where(src >= 0, kind[np.maximum(src, 0)], 0) if len(kind) else \
            np.zeros(n_entries, np.int64)
    return led


def _sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 sums of ``values`` per code."""
    if np.abs(values).max(initial=0) * max(len(values), 1) < 2**53:
        return np.bincount(codes, weights=values, minlength=n).astype(np.int64)
    out = np.zeros(n, np.int64)  # pragma: no cover - sums beyond 2**53 cents
    np.add.at(out, codes, values)  # pragma: no cover
    return out  # pragma: no cover


# ------------------------------------------------------------------------------ the tests


@dataclass
class _Found:
    """What one test found: entries hit, the table, facts."""

    entries: np.ndarray  # bool per entry, or None for the gap test
    table: pd.DataFrame
    lines: int
    facts: dict[str, Any] = field(default_factory=dict)


def _unbalanced(led: _Ledger, tolerance: int) -> _Found:
    diff = led.debits - led.credits
    hit = np.abs(diff) > tolerance
    table = led.entry_table(hit, debits=led.debits / 100.0, credits=led.credits / 100.0,
                            difference=diff / 100.0)
    return _Found(hit, table, int(led.lines[hit].sum()),
                  {"difference": float(np.abs(diff[hit]).sum() / 100.0)})


def _gaps(led: _Ledger) -> _Found:
    ids = led.ids
    if pd.api.types.is_integer_dtype(ids.dtype):
        prefix = np.zeros(len(ids), np.int64)
        prefixes = np.array([""])
        number = ids.to_numpy().astype(np.int64)
        width = np.zeros(len(ids), np.int64)
        usable = np.ones(len(ids), bool)
    else:
        text = (pa.array(ids.array) if hasattr(ids.array, "__arrow_array__")
                else pa.array(ids.astype(str).to_numpy(object), pa.string()))
        if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
            text = pc.cast(text, pa.string())
        parts = pc.extract_regex(text, r"^(?P<prefix>.*?)(?P<number>\d{1,18})$")
        usable = np.asarray(parts.is_valid())
        if not usable.any():
            return _Found(None, pd.DataFrame(columns=["series", "after", "before", "missing"]),
                          0, {"missing": 0, "numbered": 0})
        digits = pc.struct_field(parts, "number")
        width = np.asarray(pc.fill_null(pc.utf8_length(digits), 0))
        number = np.asarray(pc.fill_null(pc.cast(digits, pa.int64()), 0))
        encoded = pc.dictionary_encode(pc.fill_null(pc.struct_field(parts, "prefix"), ""))
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        prefix = np.asarray(encoded.indices).astype(np.int64)
        prefixes = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    keep = np.flatnonzero(usable)
    order = keep[np.lexsort((number[keep], prefix[keep]))]
    p, num = prefix[order], number[order]
    step = np.diff(num)
    gap = (p[1:] == p[:-1]) & (step > 1)
    at = np.flatnonzero(gap)
    before, after = order[at], order[at + 1]
    missing = step[at] - 1

    def label(numbers: np.ndarray, like: np.ndarray) -> Any:
        """Missing numbers written like their neighbour (its series, its zero padding)."""
        if not len(numbers) or pd.api.types.is_integer_dtype(ids.dtype):
            return numbers
        return np.char.add(prefixes[prefix[like]].astype(str),
                           np.char.zfill(numbers.astype(str), width[like]))

    table = pd.DataFrame({
        "series": prefixes[prefix[before]] if len(at) else np.array([], dtype=object),
        "after": ids[before], "before": ids[after],
        "first_missing": label(number[before] + 1, before),
        "last_missing": label(number[after] - 1, after),
        "missing": missing,
    })
    return _Found(None, table, 0, {"missing": int(missing.sum()),
                                   "numbered": int(usable.sum()),
                                   "unnumbered": int((~usable).sum())})


def _duplicates(led: _Ledger) -> _Found:
    cols = led.cols
    n = led.n
    first_line = led.first[led.codes]
    differ = led.day != led.day[first_line]
    reasons = []
    if "posted_at" in cols:
        posted = cols["posted_at"].to_numpy()
        differ |= posted != posted[first_line]
    many_dates = led.any_line(differ)
    reasons.append(("several dates or postings", many_dates))
    if "line" in cols:  # fewer distinct line numbers than lines
        line_codes, _ = _codes(cols["line"])
        width = int(line_codes.max(initial=0)) + 2
        distinct = _distinct(led, line_codes + 1, width) // width
        repeat = np.bincount(distinct, minlength=n) < led.lines
        reasons.append(("line numbers repeat", repeat))
    hit = np.zeros(n, bool)
    why = np.full(n, "", dtype=object)
    for text, mask in reasons:
        why = np.where(mask & hit, why + "; " + text, np.where(mask, text, why))
        hit |= mask
    return _Found(hit, led.entry_table(hit, reason=why), int(led.lines[hit].sum()))


def _round(led: _Ledger, unit: float) -> _Found:
    a = np.abs(led.cents)
    step = round(unit * 100)
    zeros = (a >= step) & (a % step == 0)
    nines = (a % 100 == 0) & ((a // 100) % 1000 == 999)
    hit = zeros | nines
    pattern = np.where(zeros, f"multiple of {unit:g}", "ends in 999")
    return _Found(led.any_line(hit), led.line_table(hit, pattern=pattern), int(hit.sum()))


def _calendar_days(led: _Ledger) -> np.ndarray:
    """The day each entry was posted (its date where posted_at is missing)."""
    if led.posted is not None:
        return led.posted // 86_400
    return led.day[led.first]


def _people(led: _Ledger) -> np.ndarray:
    """Entries a person made (not the system), where the source says."""
    return np.ones(led.n, bool) if led.source is None else led.source >= 0


def _weekend(led: _Ledger, weekend: Sequence[int]) -> _Found:
    day = _calendar_days(led)
    weekday = (day + 3) % 7
    hit = np.isin(weekday, list(weekend)) & _people(led)
    return _Found(hit, led.entry_table(hit, weekday=_WEEKDAYS[weekday]),
                  int(led.lines[hit].sum()))


def _holiday(led: _Ledger, holidays: np.ndarray) -> _Found:
    day = _calendar_days(led)
    hit = np.isin(day, holidays) & _people(led)
    return _Found(hit, led.entry_table(hit), int(led.lines[hit].sum()))


def _backdated(led: _Ledger, end: int) -> _Found:
    posted_day = led.posted // 86_400
    date = led.day[led.first]
    hit = (date <= end) & (posted_day > end)
    return _Found(hit, led.entry_table(hit, days_after_end=posted_day - end,
                                       days_to_post=posted_day - date),
                  int(led.lines[hit].sum()))


def _below_limit(led: _Ledger, limits: Any, near: float, notes: list[str]) -> _Found:
    amount = led.debits
    limit_of = np.zeros(led.n, np.int64)
    if isinstance(limits, Mapping):
        cur, names = _codes(led.cols["currency"].iloc[led.first])
        known = {str(k).upper(): v for k, v in limits.items()}
        unknown = sorted({str(x) for x in names} - set(known))
        if unknown:
            notes.append(f"journal_entry_tests: below_limit has no approval limits for "
                         f"currencies {unknown}; their entries are not tested")
        table = [sorted(round(float(x) * 100) for x in known.get(str(c).upper(), ()))
                 for c in names]
    else:
        cur = np.zeros(led.n, np.int64)
        table = [sorted(round(float(x) * 100) for x in limits)]
    for k, lims in enumerate(table):
        mine = cur == k
        for lim in lims:
            near_it = mine & (amount < lim) & (amount >= lim * (1 - near))
            limit_of = np.where(near_it & (limit_of == 0), lim, limit_of)
    hit = limit_of > 0
    return _Found(hit, led.entry_table(hit, limit=limit_of / 100.0,
                                       below_by=(limit_of - amount) / 100.0),
                  int(led.lines[hit].sum()))


def _threshold(count: int, rare: int, rare_share: float) -> int:
    return max(int(rare), math.ceil(rare_share * count))


def _distinct(led: _Ledger, key: np.ndarray, n_keys: int) -> np.ndarray:
    """The distinct (entry, key) pairs as ``entry * n_keys + key``, sorted. With the lines
    grouped by entry the pairs are nearly sorted already, which a stable sort (timsort)
    finishes in a pass or two, several times faster than hashing them."""
    pairs = led.grouped(led.codes) * np.int64(n_keys) + led.grouped(key)
    pairs = np.sort(pairs, kind="stable")
    return pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs


def _entries_per_key(led: _Ledger, key: np.ndarray, n_keys: int,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each line, how many entries have a line with its key (``0 <= key < n_keys``);
    and the counts of the keys in use."""
    keys = _distinct(led, key, n_keys) % n_keys
    if n_keys <= 4 * len(key) + 4096:
        per = np.bincount(keys, minlength=n_keys)
        return per[key], per[per > 0]
    used, counts = np.unique(keys, return_counts=True)
    return counts[np.searchsorted(used, key)], counts


def _too_few(led: _Ledger, tests: list[str], what: str, kinds: int, limit: int,
             entries: int, among: str = "entries") -> None:
    """Note frequency tests run on fewer ``entries`` than their ``kinds`` (accounts,
    users) need for their usual use to show: (limit + 1) entries each."""
    need = (limit + 1) * kinds
    if tests and entries < need:
        led.notes.append(
            f"journal_entry_tests: {' and '.join(tests)} judge{'s' * (len(tests) == 1)} "
            f"what is rare among the {among} (in at most {limit}), and {entries:,} "
            f"{among} are fewer than the {need:,} that {kinds:,} {what} need "
            f"({limit + 1} each), so many of them look rare; read the hits with caution, "
            "or run the tests on the whole period")


def _rare_accounts(led: _Ledger, account: np.ndarray, n_acc: int, limit: int) -> _Found:
    count, per = _entries_per_key(led, account, n_acc)
    hit = count <= limit
    return _Found(led.any_line(hit), led.line_table(hit, entries_on_account=count),
                  int(hit.sum()), {"accounts": int((per <= limit).sum()), "threshold": limit})


def _counter_accounts(led: _Ledger, account: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The account of each entry's largest debit and of its largest credit (-1: none)."""
    out = []
    for sign in (1, -1):
        side = np.maximum(sign * led.cents, 0)
        g = led.grouped(side)
        top = np.maximum.reduceat(g, led.starts) if len(g) else g
        codes = led.grouped(led.codes)
        cand = (g == top[codes]) & (g > 0)
        where = np.flatnonzero(cand)
        ent = codes[where]
        firsts = where[np.r_[True, ent[1:] != ent[:-1]]] if len(where) else where
        acc = np.full(led.n, -1, np.int64)
        acc[codes[firsts]] = led.grouped(account)[firsts]
        out.append(acc)
    return out[0], out[1]


def _unusual_pairs(led: _Ledger, account: np.ndarray, limit: int, names: np.ndarray,
                   ) -> _Found:
    top_debit, top_credit = _counter_accounts(led, account)
    debit = np.where(led.cents > 0, account, top_debit[led.codes])
    credit = np.where(led.cents > 0, top_credit[led.codes], account)
    valid = (debit >= 0) & (credit >= 0) & (led.cents != 0)
    n_keys = len(names) * len(names) + 1  # the last: lines without a pair
    key = np.where(valid, debit * np.int64(len(names)) + credit, n_keys - 1)
    count, _ = _entries_per_key(led, key, n_keys)
    hit = valid & (count <= limit)
    return _Found(led.any_line(hit), led.line_table(
        hit, debit_account=names[np.maximum(debit, 0)], credit_account=names[np.maximum(
            credit, 0)], entries_with_pair=count), int(hit.sum()),
        {"pairs": len(np.unique(key[hit])), "threshold": limit})


def _manual(led: _Ledger) -> _Found:
    hit = led.source == 1
    return _Found(hit, led.entry_table(hit), int(led.lines[hit].sum()))


def _unusual_users(led: _Ledger, rare: int, rare_share: float) -> _Found:
    user, _ = _codes(led.cols["posted_by"].iloc[led.first])
    scope = np.ones(led.n, bool) if led.source is None else led.source == 1
    u = np.where(user >= 0, user, user.max(initial=0) + 1)
    counts = np.bincount(u[scope], minlength=int(u.max(initial=0)) + 1)
    limit = _threshold(int(scope.sum()), rare, rare_share)
    _too_few(led, ["unusual_users"], "users", int((counts > 0).sum()), limit,
             int(scope.sum()), "manual entries" if led.source is not None else "entries")
    hit = scope & (counts[u] <= limit)
    return _Found(hit, led.entry_table(hit, user_entries=counts[u]), int(led.lines[hit].sum()),
                  {"users": int(((counts > 0) & (counts <= limit)).sum()), "threshold": limit})


def _unusual_times(led: _Ledger, hours: tuple[float, float]) -> _Found:
    secs = led.posted % 86_400
    lo, hi = (h * 3600 for h in hours)
    hit = ((secs < lo) | (secs >= hi)) & _people(led)
    at = secs[hit]
    hhmm = np.full(led.n, "", dtype=object)
    if len(at):
        hhmm[hit] = np.char.add(np.char.zfill((at // 3600).astype(str), 2),
                                np.char.add(":", np.char.zfill((at % 3600 // 60).astype(str), 2)))
    return _Found(hit, led.entry_table(hit, time=hhmm), int(led.lines[hit].sum()))


def _keywords(led: _Ledger, words: Sequence[str]) -> _Found:
    text, uniq = _codes(led.cols["description"])
    phrases = [r"\s+".join(re.escape(part) for part in str(w).split()) for w in words]
    phrases = [p for p in phrases if p]
    if not phrases:  # no words, no hits
        none = np.zeros(led.n, bool)
        return _Found(none, led.entry_table(none, keyword=np.full(led.n, "")), 0)
    pattern = r"(?i)\b(?P<keyword>" + "|".join(phrases) + r")\b"
    found = pc.extract_regex(pa.array(pd.Series(uniq, dtype=object).astype(str).to_numpy(),
                                      pa.string()), pattern)
    which = np.asarray(pc.fill_null(pc.utf8_lower(pc.struct_field(found, "keyword")), ""),
                       dtype=object)
    line_word = np.where(text >= 0, which[np.maximum(text, 0)] if len(which) else "", "")
    hit_line = line_word != ""
    hit = led.any_line(hit_line)
    word = np.full(led.n, "", dtype=object)
    at = np.flatnonzero(hit_line)
    word[led.codes[at[::-1]]] = line_word[at[::-1]]
    return _Found(hit, led.entry_table(hit, keyword=word), int(led.lines[hit].sum()))


def _period_end(led: _Ledger, start: int, end: int, days: int) -> _Found:
    date = led.day[led.first]
    scope = np.ones(led.n, bool) if led.source is None else led.source == 1
    window = (date > end - days) & (date <= end)
    hit = window & scope
    inside = scope & (date >= start) & (date <= end)
    share = hit.sum() / max(int(inside.sum()), 1)
    expected = days / (end - start + 1)
    amount = led.debits[hit].sum() / max(int(led.debits[inside].sum()), 1)
    return _Found(hit, led.entry_table(hit, days_before_end=end - date),
                  int(led.lines[hit].sum()),
                  {"share_of_entries": round(float(share), 4),
                   "share_of_amount": round(float(amount), 4),
                   "share_of_days": round(float(expected), 4),
                   "concentration": round(float(share / expected), 2)})


def _large(led: _Ledger, account: np.ndarray, currency: np.ndarray | None, z: float,
           multiple: float | None, min_lines: int) -> _Found:
    size = np.abs(led.cents)
    ok = size > 0
    key = account if currency is None else account * np.int64(currency.max(initial=0) + 2) + (
        currency + 1)
    group, _ = pd.factorize(key)
    x = np.log10(np.where(ok, size, 1).astype(np.float64))
    g = group[ok]
    s = pd.Series(x[ok])
    med = s.groupby(g).median()
    med_line = np.zeros(group.max(initial=0) + 1)
    med_line[med.index.to_numpy()] = med.to_numpy()
    dev = (s - med_line[g]).abs()
    mad = np.zeros_like(med_line)
    mean_ad = np.zeros_like(med_line)
    mad[med.index.to_numpy()] = dev.groupby(g).median().to_numpy()
    mean_ad[med.index.to_numpy()] = dev.groupby(g).mean().to_numpy()
    count = np.bincount(g, minlength=len(med_line))
    scale = np.where(mad > 0, mad / 0.6745, mean_ad * 1.253314)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = (x - med_line[group]) / scale[group]
    judged = ok & (count[group] >= min_lines)
    if judged.sum() * 2 < ok.sum():
        led.notes.append(
            f"journal_entry_tests: large_amounts judges a line against the other lines of "
            f"its account and needs at least {min_lines} lines on an account; "
            f"{int((ok & ~judged).sum()):,} of {int(ok.sum()):,} lines are on accounts with "
            "fewer and are not judged; run the test on the whole period")
    score = np.where(judged & np.isfinite(score), score, 0.0)
    # many times the account's typical line is large however spread the account is (a
    # z alone misses a line 100x the median of an account that spans four decades)
    times = np.where(judged, 10 ** (x - med_line[group]), 0.0)
    hit = (score > z) | (times >= (np.inf if multiple is None else multiple))
    typical = np.round(10 ** med_line[group] / 100.0, 2)
    return _Found(led.any_line(hit), led.line_table(hit, z=np.round(score, 2),
                                                    typical=typical), int(hit.sum()))


def _self_approved(led: _Ledger) -> _Found:
    ca, ua = _codes(led.cols["posted_by"].iloc[led.first])
    cb, ub = _codes(led.cols["approved_by"].iloc[led.first])
    na, nb = _normal(ua), _normal(ub)
    vocab = pd.Index(np.unique(np.r_[na, nb]))
    a = np.where(ca >= 0, vocab.get_indexer(na)[np.maximum(ca, 0)] if len(na) else -1, -1)
    b = np.where(cb >= 0, vocab.get_indexer(nb)[np.maximum(cb, 0)] if len(nb) else -2, -2)
    hit = (a == b) & (a >= 0)
    return _Found(hit, led.entry_table(hit), int(led.lines[hit].sum()))


# ------------------------------------------------------------------------------ public


def journal_entry_tests(
    gl: FrameLike,
    period_end: Any,
    *,
    columns: Mapping[str, str] | None = None,
    period_start: Any = None,
    approval_limits: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
    holidays: Sequence[Any] | None = None,
    keywords: Sequence[str] | None = None,
    weights: Mapping[str, float] | None = None,
    tests: Sequence[str] | None = None,
    weekend: Sequence[int] = (5, 6),
    work_hours: tuple[float, float] = (7, 20),
    round_unit: float = 1000,
    near_limit: float = 0.05,
    rare: int = 3,
    rare_share: float = 0.0005,
    end_days: int = 3,
    z: float = 3.5,
    multiple: float | None = 50.0,
    tolerance: float = 0.0,
    manual_sources: Sequence[str] = _MANUAL,
    system_sources: Sequence[str] = _SYSTEM,
) -> Examination:
    """Run the standard journal-entry tests on a general ledger and rank its entries.

    The queries of the Center for Audit Quality's practice aid, as IDEA
    SmartAnalyzer, CCH Axcess and Arbutus run them, in one pass over the
    ledger (one row per journal line, an entry's lines sharing its
    ``entry_id``):

    * ``unbalanced``: entries whose debits and credits differ by more than
      ``tolerance``; a finding, never an error.
    * ``gaps``: numbers missing from each series of entry numbers (the text
      before the trailing digits names the series: ``AP-000123``); no entry
      to score, so it has no weight.
    * ``duplicate_numbers``: entry numbers used for more than one entry:
      line numbers that repeat, or lines of one number with different dates
      or posting times.
    * ``round_amounts``: lines of a multiple of ``round_unit`` (1,000) or of
      whole units ending in 999.
    * ``weekend``, ``holiday``: entries posted (``posted_at``, else dated) on
      a ``weekend`` day (Saturday and Sunday; Monday is 0) or on one of
      ``holidays`` (US federal holidays by default); entries of the system
      (``system_sources``) are left out.
    * ``backdated``: entries dated up to ``period_end`` but posted after it.
    * ``below_limit``: entries whose amount (their debits) lies within
      ``near_limit`` (5%) below one of ``approval_limits`` (a list, or a list
      per ``currency``); not run without limits.
    * ``rare_accounts``: lines on accounts used by at most ``rare`` entries
      (or ``rare_share`` of them, whichever is more).
    * ``unusual_pairs``: lines whose debit-credit account pair is that rare;
      a line is paired with the account of its entry's largest line on the
      other side.
    * ``manual``: entries whose ``source`` is one of ``manual_sources``
      (compared ignoring case).
    * ``unusual_users``: manual entries (all entries when there is no
      ``source``) posted by someone who posted that rarely.
    * ``unusual_times``: entries people posted outside ``work_hours`` (7:00
      to 20:00, their local time).
    * ``keywords``: descriptions with one of ``keywords`` as whole words
      ("plug", "override", "topside", "per CFO", "per CEO", "per
      management", "as instructed", "as discussed", "no support", "do not
      reverse", "to target", "kickback", "conceal"... by default).
    * ``period_end``: manual entries dated in the last ``end_days`` days of
      the period; the facts say how concentrated they are there.
    * ``large_amounts``: lines large for their account (and currency): a
      robust z of log10 of the amount, (x - median) / (MAD / 0.6745), above
      ``z`` (3.5), or an amount at least ``multiple`` (50) times the account's
      median line, on accounts with at least 20 lines.
    * ``self_approved``: entries approved by the person who posted them.

    Each entry's risk score is 100 x Σ(test hit x weight) ÷ Σ weight over
    the tests that ran (MindBridge's control-point score), in [0, 100]. The
    default weights (:data:`JE_WEIGHTS`) are: unbalanced 10; duplicate
    numbers and self-approved 8; unusual users, unusual times and keywords 7;
    large amounts 6; below limit, weekend and holiday 5; rare accounts 4;
    backdated and unusual pairs 3; round amounts and manual 2; period end 1.
    ``weights`` changes some of them (0 leaves a test out of the score).

    A test whose column is missing (no ``posted_at``, no ``approved_by``...)
    is skipped with an :class:`ExamineWarning` naming the column; weekend and
    holiday are then judged on the entry's date. A ledger too small for a test
    gets a warning with the minimum: rare accounts and unusual pairs need
    (rare + 1) entries per account in use, unusual users as many per user, and
    large amounts 20 lines on an account (most lines on smaller accounts warn).

    Parameters
    ----------
    gl : DataFrame
        ``entry_id, date, amount`` (debits positive, credits negative; or
        ``debit`` and ``credit`` columns) and, as available, ``line, account,
        posted_by, posted_at, source, description, approved_by, currency,
        entity``.
    period_end : date or str
        The last day of the period audited.
    columns : mapping, optional
        ``{our_name: your_column}``.
    period_start : date or str, optional
        The first day of the period; a year before ``period_end`` by default.
    approval_limits : list of float or dict, optional
        Approval limits in currency units, or ``{currency: limits}``.
    holidays : list of dates, optional
        Public holidays; US federal holidays by default, ``[]`` for none.
    keywords : list of str, optional
        Words and phrases that make a description suspicious.
    weights : mapping, optional
        Weights of some tests in the risk score, over :data:`JE_WEIGHTS`.
    tests : list of str, optional
        The tests to run (:data:`JE_TESTS`); all by default.
    weekend : sequence of int, default (5, 6)
        Weekend days, Monday 0 (``(4, 5)`` for Friday and Saturday).
    work_hours : (float, float), default (7, 20)
        The working day, in hours.
    round_unit : float, default 1000
        What a round amount is a multiple of.
    near_limit : float, default 0.05
        How far below an approval limit counts as just below it.
    rare, rare_share : int, float
        How few entries make an account, a pair or a user rare: at most
        ``max(rare, rare_share x entries)``.
    end_days : int, default 3
        The last days of the period.
    z : float, default 3.5
        The robust z above which a line is large for its account.
    multiple : float, default 50
        A line at least this many times its account's median line is large too,
        however widely the account's lines spread (``None``: the z alone).
    tolerance : float, default 0
        The difference (currency units) below which an entry counts as
        balanced.
    manual_sources, system_sources : sequence of str
        Sources of manual entries and of the system's.

    Returns
    -------
    Examination
        Tables ``entries`` (every entry: ``entry_id, score, tests, hits``, its
        date, posting, poster, source, description, lines and amount, ranked
        by score then amount), ``tests`` (per test: weight, entries, lines,
        amount, status), then one table per test that ran: the hit entries
        (with what made them hit: ``difference``, ``days_after_end``,
        ``limit``, ``keyword``...) or, for line tests (``round_amounts``,
        ``rare_accounts``, ``unusual_pairs``, ``large_amounts``), the hit
        lines; ``gaps`` lists the missing ranges. Facts: ``entries``,
        ``lines``, the period, ``flagged`` (entries with a score), per test
        ``{entries, lines, amount}`` under ``tests``, ``skipped`` (test:
        why). Verdict ``findings`` when entries do not balance or numbers are
        missing or used twice, else ``clean``.

    Raises
    ------
    SchemaError
        For a missing ``entry_id``, ``date`` or amount column, unreadable
        amounts or dates, a ``period_end`` that is not a date, no line dated
        in the period, unknown test names or negative weights.

    Examples
    --------
    >>> import pandas as pd
    >>> gl = pd.DataFrame({
    ...     "entry_id": [1, 1, 2, 2, 4, 4],
    ...     "date": ["2025-12-30"] * 2 + ["2025-06-02"] * 2 + ["2025-06-07"] * 2,
    ...     "account": ["6000", "2000", "1000", "4000", "1000", "4000"],
    ...     "amount": [5000.0, -5000.0, 120.5, -120.5, 99.0, -98.0],
    ...     "posted_by": ["ann", "ann", "bob", "bob", "bob", "bob"],
    ...     "approved_by": ["ann", "ann", None, None, None, None],
    ...     "posted_at": ["2025-12-30 23:10"] * 2 + ["2025-06-02 10:00"] * 2
    ...                  + ["2025-06-07 11:00"] * 2,
    ...     "source": ["manual"] * 2 + ["AR"] * 4,
    ...     "description": ["plug to balance"] * 2 + ["invoice 88"] * 2 + ["invoice 89"] * 2})
    >>> r = journal_entry_tests(gl, "2025-12-31", holidays=[])
    >>> r["unbalanced"]["entry_id"].tolist(), r["gaps"]["missing"].tolist()
    ([4], [1])
    >>> r["entries"]["entry_id"].tolist(), r["entries"]["score"].tolist()
    ([1, 4, 2], [52.56, 28.21, 8.97])
    >>> r["entries"].loc[0, "tests"].split(", ")[-3:]
    ['keywords', 'period_end', 'self_approved']
    """
    params = params_of(locals())
    notes: list[str] = []
    weights_all = dict(JE_WEIGHTS)
    for name, w in (weights or {}).items():
        if name not in JE_WEIGHTS:
            raise SchemaError(f"weights names {name!r}, which is not a scored test; the tests "
                              f"are {', '.join(JE_WEIGHTS)}", table="arguments",
                              column="weights")
        if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0):
            raise SchemaError(f"weights[{name!r}]={w!r}: give a number >= 0",
                              table="arguments", column="weights")
        weights_all[name] = float(w)
    chosen = list(JE_TESTS if tests is None else tests)
    unknown = [t for t in chosen if t not in JE_TESTS]
    if unknown:
        raise SchemaError(f"tests names {unknown}; the tests are {', '.join(JE_TESTS)}",
                          table="arguments", column="tests")
    if multiple is not None and not (isinstance(multiple, int | float)
                                     and not isinstance(multiple, bool)
                                     and math.isfinite(multiple) and multiple > 1):
        raise SchemaError(f"multiple={multiple!r}: give how many times its account's median "
                          "line makes a line large, a number above 1 (e.g. 50), or None for "
                          "the z alone", table="arguments", column="multiple")
    if len(work_hours) != 2 or not 0 <= work_hours[0] < work_hours[1] <= 24:
        raise SchemaError(f"work_hours={work_hours!r}: give (start, end) hours with "
                          "0 <= start < end <= 24", table="arguments", column="work_hours")
    start, end = _period(period_end, period_start)
    df = to_pandas(gl, "gl")
    with small_pages():
        sel, cents = _read(df, columns, notes)
        led = _ledger(sel, cents, start, end, notes, manual_sources, system_sources)
        found, skipped = _run(led, chosen, start, end, locals_=dict(
            approval_limits=approval_limits, holidays=holidays, keywords=keywords,
            weekend=weekend, work_hours=work_hours, round_unit=round_unit,
            near_limit=near_limit, rare=rare, rare_share=rare_share, end_days=end_days, z=z,
            multiple=multiple, tolerance=tolerance))
        entries, summary = _score(led, found, skipped, weights_all, chosen)
    for message in notes:
        warn(message, [])
    facts = _facts(led, found, skipped, start, end, entries)
    integrity = [t for t in ("unbalanced", "gaps", "duplicate_numbers") if t in found]
    bad = any((len(found[t].table) > 0) for t in integrity)
    tables = {"entries": entries, "tests": summary}
    tables.update({name: found[name].table for name in JE_TESTS if name in found})
    return Examination("journal_entry_tests", params, tables, facts,
                       verdict="findings" if bad else "clean", notes=tuple(notes),
                       plotter=_plot)


def _run(led: _Ledger, chosen: list[str], start: int, end: int, locals_: dict[str, Any],
         ) -> tuple[dict[str, _Found], dict[str, str]]:
    """Run the chosen tests; the skipped ones with the reason."""
    p = locals_
    notes = led.notes
    cols = led.cols
    skipped: dict[str, str] = {}
    for column in ("posted_at", "account", "source", "posted_by", "description",
                   "approved_by"):
        if column not in cols:
            lost = [t for t in chosen if column in _NEEDS[t]]
            if lost:
                extra = (" (weekend and holiday are judged on the entry's date)"
                         if column == "posted_at" else "")
                notes.append(f"journal_entry_tests: gl has no column {column!r}, so "
                             f"{', '.join(lost)} cannot run{extra}; map it with "
                             f"columns={{{column!r}: '<your column>'}}")
                for t in lost:
                    skipped[t] = f"no column {column!r}"
    if led.posted is not None and not (led.posted % 86_400).any():
        notes.append("journal_entry_tests: posted_at holds dates without times, so "
                     "unusual_times cannot run; give the posting time")
        skipped.setdefault("unusual_times", "posted_at has no times")
    if p["approval_limits"] is None:
        skipped.setdefault("below_limit", "no approval_limits given")
    elif isinstance(p["approval_limits"], Mapping) and "currency" not in cols:
        notes.append("journal_entry_tests: approval_limits are given per currency but gl has "
                     "no column 'currency'; map it with columns={'currency': '<column>'}")
        skipped.setdefault("below_limit", "no column 'currency'")
    run = [t for t in chosen if t not in skipped]
    found: dict[str, _Found] = {}
    account = names = None
    if "account" in cols:  # a blank account is an account of its own
        account, names = _codes(cols["account"])
        account = np.where(account >= 0, account, len(names))
        names = np.r_[names.astype(object), [None]]
    limit = _threshold(led.n, p["rare"], p["rare_share"])
    if names is not None:  # names ends with the blank account's None
        _too_few(led, [t for t in ("rare_accounts", "unusual_pairs") if t in run],
                 "accounts in use", len(names) - 1, limit, led.n)
    for t in run:
        if t == "unbalanced":
            found[t] = _unbalanced(led, round(p["tolerance"] * 100))
        elif t == "gaps":
            found[t] = _gaps(led)
        elif t == "duplicate_numbers":
            found[t] = _duplicates(led)
        elif t == "round_amounts":
            found[t] = _round(led, p["round_unit"])
        elif t == "weekend":
            found[t] = _weekend(led, p["weekend"])
        elif t == "holiday":
            found[t] = _holiday(led, _holidays(p["holidays"], led))
        elif t == "backdated":
            found[t] = _backdated(led, end)
        elif t == "below_limit":
            found[t] = _below_limit(led, p["approval_limits"], p["near_limit"], notes)
        elif t == "rare_accounts":
            found[t] = _rare_accounts(led, account, len(names), limit)
        elif t == "unusual_pairs":
            found[t] = _unusual_pairs(led, account, limit, names)
        elif t == "manual":
            found[t] = _manual(led)
        elif t == "unusual_users":
            found[t] = _unusual_users(led, p["rare"], p["rare_share"])
        elif t == "unusual_times":
            found[t] = _unusual_times(led, p["work_hours"])
        elif t == "keywords":
            found[t] = _keywords(led, _KEYWORDS if p["keywords"] is None else p["keywords"])
        elif t == "period_end":
            found[t] = _period_end(led, start, end, int(p["end_days"]))
        elif t == "large_amounts":
            currency = _codes(cols["currency"])[0] if "currency" in cols else None
            found[t] = _large(led, account, currency, p["z"], p["multiple"], 20)
        elif t == "self_approved":
            found[t] = _self_approved(led)
    return found, skipped


def _holidays(holidays: Sequence[Any] | None, led: _Ledger) -> np.ndarray:
    if holidays is not None:
        if len(holidays) == 0:
            return np.zeros(0, np.int64)
        try:
            stamps = read_dates(pd.Series(list(holidays)), table="holidays", column="holidays")[0]
        except SchemaError as exc:
            raise SchemaError(f"holidays: {exc}", table="arguments",
                              column="holidays") from None
        return stamps.astype("datetime64[D]").astype(np.int64)
    from pandas.tseries.holiday import USFederalHolidayCalendar

    days = _calendar_days(led)
    lo, hi = (np.datetime64(int(d), "D") for d in (days.min() - 1, days.max() + 1))
    cal = USFederalHolidayCalendar().holidays(str(lo), str(hi))
    return cal.values.astype("datetime64[D]").astype(np.int64)


def _score(led: _Ledger, found: dict[str, _Found], skipped: dict[str, str],
           weights: dict[str, float], chosen: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    scored = [t for t in JE_TESTS if t in found and found[t].entries is not None]
    total = sum(weights[t] for t in scored)
    score = np.zeros(led.n)
    bits = np.zeros(led.n, np.int64)
    for k, t in enumerate(scored):
        hit = found[t].entries
        score += hit * weights[t]
        bits |= hit.astype(np.int64) << k
    score = np.round(100.0 * score / total, 2) if total > 0 else score
    kinds, inverse = np.unique(bits, return_inverse=True)
    labels = np.array([", ".join(t for k, t in enumerate(scored) if b >> k & 1) for b in kinds],
                      dtype=object)
    hits = np.array([bin(b).count("1") for b in kinds])[inverse]
    order = np.lexsort((-led.debits, -score))
    table = led.entry_table(order, score=score, tests=labels[inverse], hits=hits)
    front = ["entry_id", "score", "tests", "hits"]
    table = table[front + [c for c in table.columns if c not in front]]
    rows = []
    for t in chosen:
        if t in found:
            f = found[t]
            n_ent = int(f.entries.sum()) if f.entries is not None else 0
            amount = float(led.debits[f.entries].sum() / 100.0) if f.entries is not None else 0.0
            rows.append((t, weights.get(t, 0.0) if t in JE_WEIGHTS else None, n_ent, f.lines,
                         amount, len(f.table), "ran"))
        else:
            rows.append((t, weights.get(t), 0, 0, 0.0, 0, f"skipped: {skipped[t]}"))
    summary = pd.DataFrame(rows, columns=["test", "weight", "entries", "lines", "amount", "rows",
                                          "status"])
    return table, summary


def _facts(led: _Ledger, found: dict[str, _Found], skipped: dict[str, str], start: int,
           end: int, entries: pd.DataFrame) -> dict[str, Any]:
    per = {}
    for t, f in found.items():
        item: dict[str, Any] = {"rows": len(f.table), "lines": f.lines}
        if f.entries is not None:
            item["entries"] = int(f.entries.sum())
            item["amount"] = float(led.debits[f.entries].sum() / 100.0)
        item.update(f.facts)
        per[t] = item
    return {
        "entries": led.n,
        "lines": len(led.codes),
        "period_start": str(np.datetime64(start, "D")),
        "period_end": str(np.datetime64(end, "D")),
        "amount": float(led.debits.sum() / 100.0),
        "flagged": int((entries["score"] > 0).sum()),
        "top_score": float(entries["score"].max()) if len(entries) else 0.0,
        "unbalanced": per.get("unbalanced", {}).get("entries", 0),
        "missing_numbers": per.get("gaps", {}).get("missing", 0),
        "tests": per,
        "skipped": dict(skipped),
    }


def _plot(result: Examination, ax: Axes) -> None:
    t = result.tables["tests"]
    t = t[t["status"] == "ran"]
    ax.barh(t["test"], t["entries"], color="#3b6ea8")
    ax.invert_yaxis()
    ax.set_xlabel("entries hit")
    ax.set_title("journal-entry tests")
