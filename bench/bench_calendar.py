"""Working-time arithmetic: cost per call by span, beside a day-by-day walk in the same run.

The walk is the obvious implementation (step through the days, add each
working day's periods); the ratio shows what the per-calendar day index
buys for long spans and costs for short ones. Pure Python, no database.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from layers.time.calendar import CHINA, Calendar, add_working_minutes, working_minutes_between
from layers.time.holidays import official_calendar


def walk_between(calendar: Calendar, a: datetime, b: datetime) -> float:
    """The baseline: working minutes from a to b, day by day."""
    total = 0.0
    day = a.date()
    while day <= b.date():
        if calendar.is_working_day(day):
            for start, end in calendar.periods:
                lo = max(a, datetime.combine(day, datetime.min.time(), CHINA) + timedelta(minutes=start))
                hi = min(b, datetime.combine(day, datetime.min.time(), CHINA) + timedelta(minutes=end))
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total


def per_call_us(work, repeat: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    calendar = official_calendar()
    started = time.perf_counter()
    add_working_minutes(calendar, datetime(2026, 9, 30, 10, tzinfo=CHINA), 1)
    print(f"day index of one calendar (2000-2100), built once: {(time.perf_counter() - started) * 1000:.1f} ms")
    start = datetime(2026, 9, 30, 10, tzinfo=CHINA)
    print(f"{'span':<14} {'between (us)':>13} {'day walk (us)':>14} {'ratio':>7} {'add (us)':>9}")
    for name, days in (("1 day", 1), ("1 month", 30), ("1 year", 365), ("10 years", 3650)):
        end = start + timedelta(days=days)
        assert abs(working_minutes_between(calendar, start, end) - walk_between(calendar, start, end)) < 1e-6
        repeat = max(20, 20_000 // days)
        fast = per_call_us(lambda e=end: working_minutes_between(calendar, start, e), repeat)
        slow = per_call_us(lambda e=end: walk_between(calendar, start, e), max(5, repeat // 20))
        minutes = working_minutes_between(calendar, start, end)
        add = per_call_us(lambda m=minutes: add_working_minutes(calendar, start, m), repeat)
        print(f"{name:<14} {fast:>13.1f} {slow:>14.1f} {slow / fast:>6.0f}x {add:>9.1f}")


if __name__ == "__main__":
    main()
