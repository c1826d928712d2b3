"""The period a report covers: a month, a quarter, a year, a range of days, or everything."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

import pandas as pd

from nexus_lab.errors import NexusError

FORMS = ("2025-11 (a month)", "2025-Q4 (a quarter)", "2025 (a year)",
         "2025-11-01..2025-11-30 (days, both included)")


@dataclass(frozen=True)
class Period:
    """The days ``start`` to ``end`` (both included); neither for everything."""

    label: str
    start: _dt.date | None = None
    end: _dt.date | None = None

    @property
    def everything(self) -> bool:
        return self.start is None

    @property
    def slug(self) -> str:
        """The label as it goes into a file name."""
        return self.label.replace("..", "_")

    def holds(self, when: pd.Series) -> pd.Series:
        """Which of the dates or times ``when`` fall in the period (missing ones do not,
        unless the period is everything)."""
        if self.everything:
            return pd.Series(True, index=when.index)
        days = _days(when)
        return (days >= pd.Timestamp(self.start)) & (days <= pd.Timestamp(self.end))

    def overlaps(self, first: pd.Series, last: pd.Series) -> pd.Series:
        """Which spans ``first..last`` share a day with the period."""
        if self.everything:
            return pd.Series(True, index=first.index)
        return (_days(first) <= pd.Timestamp(self.end)) & (
            _days(last) >= pd.Timestamp(self.start))


def _days(when: pd.Series) -> pd.Series:
    """Dates or times as timezone-free days (times are taken in UTC)."""
    stamps = pd.to_datetime(when, utc=True, errors="coerce")
    return stamps.dt.tz_localize(None).dt.normalize()


def parse_period(text: str | None) -> Period:
    """Read a period: ``"2025-11"``, ``"2025-Q4"``, ``"2025"``, ``"2025-11-01..2025-11-30"``,
    or None for everything.

    Examples
    --------
    >>> parse_period("2025-Q4")
    Period(label='2025-Q4', start=datetime.date(2025, 10, 1), end=datetime.date(2025, 12, 31))
    >>> parse_period(None).label
    'all'
    >>> parse_period("Nov 2025")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: the period 'Nov 2025' is not one of the accepted forms: ...
    """
    if text is None or (isinstance(text, str) and text.strip() in ("", "all")):
        return Period("all")
    t = text.strip() if isinstance(text, str) else text
    try:
        if not isinstance(t, str):
            raise ValueError
        if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
            first = _dt.date(int(m[1]), int(m[2]), 1)
            return Period(t, first, _month_end(first, 1))
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", t):
            first = _dt.date(int(m[1]), 3 * int(m[2]) - 2, 1)
            return Period(f"{m[1]}-Q{m[2]}", first, _month_end(first, 3))
        if re.fullmatch(r"\d{4}", t):
            return Period(t, _dt.date(int(t), 1, 1), _dt.date(int(t), 12, 31))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t):
            first, last = _dt.date.fromisoformat(m[1]), _dt.date.fromisoformat(m[2])
            if last < first:
                raise NexusError(f"the period {t!r} ends ({last}) before it starts ({first}); "
                                 f"write the earlier day first: {last}..{first}")
            return Period(t, first, last)
    except ValueError:
        pass
    raise NexusError(f"the period {text!r} is not one of the accepted forms: "
                     f"{', '.join(FORMS)}; or leave it out for everything")


def _month_end(first: _dt.date, months: int) -> _dt.date:
    year, month = divmod(first.month - 1 + months, 12)
    return _dt.date(first.year + year, month + 1, 1) - _dt.timedelta(days=1)
