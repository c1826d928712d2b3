"""Cron expressions and time zones of schedules: checked, and their next run."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from nexus_lab.errors import NexusError

_FIELDS = "minute hour day-of-month month day-of-week"


def _croniter() -> Any:
    try:
        from croniter import croniter
    except ImportError:
        from nexus_lab.errors import DependencyError

        raise DependencyError("schedules need croniter (jupyter-scheduler's cron parser): "
                              "pip install 'nexus-lab[lab]'") from None
    return croniter


def check_cron(cron: str, tz: str | None = None) -> str:
    """``cron`` with its blanks made single, refused unless it is a five-field cron
    expression; ``tz`` refused unless it is a time zone name.

    Examples
    --------
    >>> check_cron("0  6 * * 1", "Europe/Madrid")
    '0 6 * * 1'
    >>> check_cron("every monday")
    Traceback (most recent call last):
    ...
    nexus_lab.errors.NexusError: 'every monday' is not a cron expression: write five fields, minute hour day-of-month month day-of-week, e.g. '0 6 * * 1' for 6:00 every Monday
    """  # noqa: E501
    if tz is not None:
        zone(tz)
    fields = str(cron).split()
    example = "e.g. '0 6 * * 1' for 6:00 every Monday"
    if len(fields) != 5:
        raise NexusError(f"{cron!r} is not a cron expression: write five fields, {_FIELDS}, "
                         f"{example}")
    text = " ".join(fields)
    croniter = _croniter()
    try:
        croniter(text, datetime.now(timezone.utc)).get_next(datetime)
    except Exception as err:  # croniter's errors differ between its versions
        raise NexusError(f"{cron!r} is not a valid cron expression ({err}); the five fields "
                         f"are {_FIELDS}, {example}") from None
    return text


def zone(tz: str) -> Any:
    """The time zone named ``tz`` (an IANA name such as ``"Europe/Madrid"`` or ``"UTC"``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise NexusError(f"unknown time zone {tz!r}: give an IANA name such as 'UTC', "
                         "'Europe/Madrid' or 'America/New_York'") from None


def next_run(cron: str, tz: str | None = None, after: datetime | None = None) -> datetime:
    """When ``cron`` next fires after ``after`` (default: now), in ``tz`` (default: UTC);
    returned in UTC.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> next_run("0 6 * * 1", "Europe/Madrid", datetime(2025, 1, 1, tzinfo=timezone.utc))
    datetime.datetime(2025, 1, 6, 5, 0, tzinfo=datetime.timezone.utc)
    """
    local = zone(tz or "UTC")
    start = (after or datetime.now(timezone.utc)).astimezone(local)
    return _croniter()(cron, start).get_next(datetime).astimezone(timezone.utc)
