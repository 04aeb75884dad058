"""Working-time arithmetic against hand-computed cases and a minute-by-minute reference walk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.errors import InvalidInput
from layers.time.calendar import (
    CHINA,
    Calendar,
    add_minutes,
    add_working_minutes,
    format_periods,
    parse_periods,
    working_minutes_between,
)
from layers.time.holidays import OFFICIAL_YEARS, official_calendar, official_days, parse_days


def china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA)  # type: ignore[misc]


CN = official_calendar()
HOURS_8 = 8 * 60


def test_the_issue_s_pinned_case_friday_before_national_day_2022() -> None:
    # Friday 30 Sept 2022 was the last workday; 1-7 Oct off; Saturday 8 Oct an adjusted workday
    filed = china(2022, 9, 30, 10, 0)
    assert add_working_minutes(CN, filed, HOURS_8) == china(2022, 10, 8, 10, 0)
    assert working_minutes_between(CN, filed, china(2022, 10, 8, 10, 0)) == HOURS_8


def test_national_day_2026_last_workday_before_it() -> None:
    # 2026: Friday 25 Sept is Mid-Autumn (off), 26-27 weekend, 28-30 work, 1-7 Oct off, Thu 8 Oct works
    assert add_working_minutes(CN, china(2026, 9, 30, 10, 0), HOURS_8) == china(2026, 10, 8, 10, 0)
    # the Friday before National Day 2026 is a holiday: the clock starts on Monday 28 at 08:30,
    # and 8 hours end exactly at 18:00 that day (the end of a period, not the next morning)
    assert add_working_minutes(CN, china(2026, 9, 25, 10, 0), HOURS_8) == china(2026, 9, 28, 18, 0)
    # 24 working hours from Wednesday 30 Sept: Thu 8, Fri 9, Sat 10 Oct (adjusted workday)
    assert add_working_minutes(CN, china(2026, 9, 30, 10, 0), 3 * HOURS_8) == china(2026, 10, 10, 10, 0)


def test_adjusted_workdays_count() -> None:
    # Sunday 20 Sept 2026 is an adjusted workday (for National Day)
    assert CN.is_working_day(date(2026, 9, 20)) and not CN.is_working_day(date(2026, 9, 19))
    assert add_working_minutes(CN, china(2026, 9, 18, 17, 0), 120) == china(2026, 9, 20, 9, 30)
    # Saturday 10 Oct 2026
    assert add_working_minutes(CN, china(2026, 10, 9, 17, 0), 120) == china(2026, 10, 10, 9, 30)
    # Spring Festival 2026: 15-23 Feb off, Saturday 14 and Saturday 28 Feb work
    assert add_working_minutes(CN, china(2026, 2, 13, 17, 30), 60) == china(2026, 2, 14, 9, 0)
    assert add_working_minutes(CN, china(2026, 2, 14, 17, 30), 60) == china(2026, 2, 24, 9, 0)


def test_cases_filed_outside_working_hours() -> None:
    # Monday 2 Nov 2026 evening: counted from Tuesday 08:30
    assert add_working_minutes(CN, china(2026, 11, 2, 20, 0), 60) == china(2026, 11, 3, 9, 30)
    # lunch break: counted from 13:30
    assert add_working_minutes(CN, china(2026, 11, 2, 12, 30), 30) == china(2026, 11, 2, 14, 0)
    # before the morning and on a Saturday
    assert add_working_minutes(CN, china(2026, 11, 2, 6, 0), 30) == china(2026, 11, 2, 9, 0)
    assert add_working_minutes(CN, china(2026, 11, 7, 10, 0), 30) == china(2026, 11, 9, 9, 0)
    # nothing counts between two instants of the same night
    assert working_minutes_between(CN, china(2026, 11, 2, 19, 0), china(2026, 11, 3, 8, 0)) == 0
    # zero minutes is the instant itself, even at night
    assert add_working_minutes(CN, china(2026, 11, 2, 20, 0), 0) == china(2026, 11, 2, 20, 0)


def test_time_zones_and_seconds() -> None:
    utc = datetime(2026, 11, 2, 1, 0, 30, tzinfo=UTC)  # 09:00:30 in China
    due = add_working_minutes(CN, utc, 10)
    assert due == china(2026, 11, 2, 9, 10, 30) and due.utcoffset() == timedelta(hours=8)
    assert working_minutes_between(CN, utc, due) == 10
    assert working_minutes_between(CN, due, utc) == -10
    with pytest.raises(ValueError):
        add_working_minutes(CN, datetime(2026, 11, 2, 9), 10)
    assert add_minutes(CN, china(2026, 10, 1, 23, 50), 30, working=False) == china(2026, 10, 2, 0, 20)


def test_long_spans_agree_with_a_day_count() -> None:
    a, b = china(2004, 3, 1, 0, 0), china(2026, 12, 31, 23, 59)
    working_days = sum(CN.is_working_day(date(2004, 3, 1) + timedelta(days=n))
                       for n in range((date(2026, 12, 31) - date(2004, 3, 1)).days + 1))
    assert working_minutes_between(CN, a, b) == working_days * HOURS_8
    assert add_working_minutes(CN, a, working_days * HOURS_8) == china(2026, 12, 31, 18, 0)


def test_periods_round_trip_and_bad_calendars() -> None:
    assert parse_periods("08:30-12:00, 13:30-18:00") == ((510, 720), (810, 1080))
    assert format_periods(((510, 720), (810, 1080))) == "08:30-12:00,13:30-18:00"
    for bad in ("8-12", "08:30-12:60", "25:00-26:00"):
        with pytest.raises(ValueError):
            parse_periods(bad)
    with pytest.raises(ValueError):
        Calendar(periods=((600, 700), (650, 800)))
    with pytest.raises(ValueError):
        Calendar(weekdays=frozenset())


def test_official_schedule_and_files() -> None:
    assert 2026 in OFFICIAL_YEARS and 2004 in OFFICIAL_YEARS
    national_day = [d for d in official_days(2026) if d.kind == "holiday" and d.day.month == 10]
    assert [d.day.day for d in national_day] == [1, 2, 3, 4, 5, 6, 7]
    csv_days = parse_days("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,班,\n".encode())
    assert [(d.day, d.kind, d.name) for d in csv_days] == [
        (date(2027, 1, 1), "holiday", "元旦"), (date(2027, 1, 4), "workday", "")]
    json_days = parse_days(b'{"holidays": {"2027-01-01": "New Year"}, "workdays": ["2027-01-04"]}')
    assert [(d.day, d.kind) for d in json_days] == [(date(2027, 1, 1), "holiday"), (date(2027, 1, 4), "workday")]
    for bad in (b"date,kind\n2027-02-30,holiday\n", b"date,kind\n2027-01-01,party\n", b"day,kind\n",
                b'{"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}', b"\xff\xfe", b"[1]",
                b"date,kind\n1999-01-01,holiday\n", b"date,kind,name\n"):
        with pytest.raises(InvalidInput):
            parse_days(bad)


# -- the reference: walk minute by minute over a small calendar ------------------------------------

MONTH = date(2026, 9, 1)
small_calendars = st.builds(
    lambda periods, weekdays, off, on: Calendar(
        periods=periods, weekdays=frozenset(weekdays),
        holidays=frozenset(MONTH + timedelta(days=d) for d in off),
        workdays=frozenset(MONTH + timedelta(days=d) for d in on)),
    st.sampled_from([((510, 720), (810, 1080)), ((0, 60),), ((540, 541), (1439, 1440)), ((0, 1440),)]),
    st.sets(st.integers(0, 6), min_size=1),
    st.sets(st.integers(0, 29), max_size=10),
    st.sets(st.integers(0, 29), max_size=3),
)


def working_minute(calendar: Calendar, at: datetime) -> bool:
    """Is the minute starting at ``at`` working time? (no index, no arithmetic)."""
    of_day = at.hour * 60 + at.minute
    return calendar.is_working_day(at.date()) and any(s <= of_day < e for s, e in calendar.periods)


def reference_add(calendar: Calendar, start: datetime, minutes: int) -> datetime:
    at, left = start, minutes
    while left:
        if working_minute(calendar, at):
            left -= 1
        at += timedelta(minutes=1)
    return at


@settings(max_examples=150)
@given(small_calendars, st.integers(0, 20 * 1440), st.integers(0, 600), st.integers(0, 5 * 1440))
def test_arithmetic_matches_a_minute_by_minute_walk(calendar: Calendar, offset: int, minutes: int,
                                                   span: int) -> None:
    start = china(2026, 9, 1) + timedelta(minutes=offset)
    minutes %= 3 * calendar.day_minutes + 1  # at most three working days: the walk stays short
    assert add_working_minutes(calendar, start, minutes) == reference_add(calendar, start, minutes)
    end = start + timedelta(minutes=span)
    walked = sum(working_minute(calendar, start + timedelta(minutes=m)) for m in range(span))
    assert working_minutes_between(calendar, start, end) == walked
