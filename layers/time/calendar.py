"""Working-time arithmetic on a calendar of working periods, weekdays, holidays and adjusted workdays.

All arithmetic is in China's local time (Asia/Shanghai, UTC+8 with no
daylight saving since 1991, so a fixed offset is exact for the covered
years). A **working day** is an adjusted workday (调休), else not a holiday
and one of the calendar's weekdays. Its working time is the calendar's
periods, by default 08:30–12:00 and 13:30–18:00 (8 hours: the working day
of most district offices, so 8 working hours is one working day).

Both functions are O(log days): each calendar gets, once, an index of the
working microseconds before every day from 2000 to 2100, so a span of
years costs the same as a span of minutes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
DEFAULT_PERIODS: tuple[tuple[int, int], ...] = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 18 * 60))
DEFAULT_WEEKDAYS = frozenset(range(5))  # Monday (0) to Friday (4)
_US_PER_MIN = 60_000_000


@dataclass(frozen=True)
class Calendar:
    """A working-time calendar.

    ``periods`` are (start, end) minutes of the day, sorted and disjoint;
    ``weekdays`` Python's (Monday = 0); ``holidays`` days off and
    ``workdays`` adjusted workdays, which win over weekday and holiday.
    """

    periods: tuple[tuple[int, int], ...] = DEFAULT_PERIODS
    weekdays: frozenset[int] = DEFAULT_WEEKDAYS
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    code: str = field(default="CN", compare=False)

    def __post_init__(self) -> None:
        previous = 0
        for start, end in self.periods:
            if not previous <= start < end <= 24 * 60:
                raise ValueError(f"working periods must be sorted, disjoint and within a day: {self.periods}")
            previous = end
        if not self.periods or not self.weekdays | {d.weekday() for d in self.workdays}:
            raise ValueError("a calendar needs working periods and at least one working day")

    def is_working_day(self, day: date) -> bool:
        """True on an adjusted workday, else on a weekday that is not a holiday."""
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() in self.weekdays

    @property
    def day_minutes(self) -> int:
        """Working minutes of one working day."""
        return sum(end - start for start, end in self.periods)


class _Index:
    """Working microseconds before each day (cumulative), for one calendar."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        per_day = calendar.day_minutes * _US_PER_MIN
        first, last = FIRST_DAY.toordinal(), LAST_DAY.toordinal()
        # by ordinals, not dates: the same rule as is_working_day, ten times faster to build
        on = {d.toordinal() for d in calendar.workdays}
        off = {d.toordinal() for d in calendar.holidays} - on
        weekdays = calendar.weekdays
        worked = [per_day if o in on or (o not in off and (o - 1) % 7 in weekdays) else 0
                  for o in range(first, last + 1)]
        self.before = [0, *itertools.accumulate(worked)]

    def position(self, at: datetime) -> int:
        """Working microseconds from the index's first day to ``at``."""
        local = _local(at)
        index = (local.date() - FIRST_DAY).days
        if not 0 <= index < len(self.before) - 1:
            raise ValueError(f"{local.date()} is outside the calendar's years ({FIRST_DAY.year}–{LAST_DAY.year})")
        position = self.before[index]
        if self.before[index + 1] > position:  # a working day
            of_day = (local.hour * 60 + local.minute) * _US_PER_MIN + local.second * 1_000_000 + local.microsecond
            for start, end in self.calendar.periods:
                position += min(max(of_day - start * _US_PER_MIN, 0), (end - start) * _US_PER_MIN)
        return position

    def earliest(self, position: int) -> datetime:
        """The earliest local instant at which ``position`` working microseconds have passed."""
        index = bisect.bisect_left(self.before, position) - 1
        if position <= 0 or index >= len(self.before) - 1:
            if position <= 0:
                return datetime.combine(FIRST_DAY, time(), CHINA)
            raise ValueError(f"the due time lies beyond the calendar's last year ({LAST_DAY.year})")
        left = position - self.before[index]
        day = datetime.combine(FIRST_DAY + timedelta(days=index), time(), CHINA)
        for start, end in self.calendar.periods:
            length = (end - start) * _US_PER_MIN
            if left <= length:
                return day + timedelta(microseconds=start * _US_PER_MIN + left)
            left -= length
        raise AssertionError("working time of a day exceeds its periods")  # pragma: no cover


@functools.lru_cache(maxsize=64)
def _index(calendar: Calendar) -> _Index:
    return _Index(calendar)


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("working-time arithmetic needs an aware datetime")
    return at.astimezone(CHINA)


def add_working_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The earliest instant at which ``minutes`` working minutes have passed since ``start``.

    Outside working hours the clock waits for the next working period; a
    due time that falls at the end of a period is that end (12:00, not
    13:30). ``minutes`` 0 is ``start`` itself. The answer is in China time.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    index = _index(calendar)
    due = index.earliest(index.position(start) + round(minutes * _US_PER_MIN))
    return max(due, _local(start))


def working_minutes_between(calendar: Calendar, a: datetime, b: datetime) -> float:
    """Working minutes from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    index = _index(calendar)
    return (index.position(b) - index.position(a)) / _US_PER_MIN


# wall-clock time as a calendar: every minute counts (limits and clocks kept in calendar minutes)
ROUND_THE_CLOCK = Calendar(periods=((0, 24 * 60),), weekdays=frozenset(range(7)), code="24/7")


def clock_calendar(calendar: Calendar, working: bool) -> Calendar:
    """The calendar a clock counts on: the district's for working minutes, else every minute."""
    return calendar if working else ROUND_THE_CLOCK


def add_minutes(calendar: Calendar, start: datetime, minutes: float, working: bool) -> datetime:
    """``start`` plus ``minutes`` of working time (``working``) or of wall-clock time, in China time."""
    if working:
        return add_working_minutes(calendar, start, minutes)
    return _local(start) + timedelta(minutes=minutes)


def parse_periods(text: str) -> tuple[tuple[int, int], ...]:
    """Periods written ``08:30-12:00,13:30-18:00`` as minutes of the day."""
    periods = []
    for part in text.split(","):
        start, _, end = part.strip().partition("-")
        periods.append((_minute_of_day(start), _minute_of_day(end)))
    return tuple(periods)


def format_periods(periods: tuple[tuple[int, int], ...]) -> str:
    """The inverse of :func:`parse_periods`."""
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in periods)


def _minute_of_day(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"'{text[:20]}' is not a time of day like 08:30")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"'{text[:20]}' is not a time of day like 08:30")
    return value
