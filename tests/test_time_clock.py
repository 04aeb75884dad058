"""The handling clock under sequences of extensions, suspensions and resumes, against a minute-by-minute walk."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from layers.time.calendar import Calendar
from layers.time.clock import Pause, handling_due, net_minutes, paused_minutes, planned_pause
from layers.time.holidays import official_calendar
from tests.test_time_calendar import china, small_calendars, working_minute

steps = st.lists(st.tuples(st.integers(0, 3 * 1440), st.sampled_from(["extend", "suspend", "resume"]),
                           st.integers(1, 10_000)), max_size=6)


def walk_due(calendar: Calendar, origin: datetime, allowance: int, pauses: list[Pause]) -> datetime:
    """The reference: step minute by minute, counting working minutes outside every pause."""
    at, left = origin, allowance
    while left:
        if working_minute(calendar, at) and not any(p.start <= at < p.end for p in pauses):
            left -= 1
        at += timedelta(minutes=1)
    return at


@settings(max_examples=120)
@given(small_calendars, st.integers(0, 7 * 1440), st.integers(1, 10_000), steps)
def test_the_clock_matches_a_minute_walk_through_any_sequence(calendar: Calendar, offset: int, allowance: int,
                                                              sequence: list[tuple[int, str, int]]) -> None:
    origin = china(2026, 9, 1) + timedelta(minutes=offset)
    allowance = 1 + allowance % (3 * calendar.day_minutes)
    pauses: list[Pause] = []
    at = origin
    for gap, kind, amount in sequence:
        at += timedelta(minutes=gap)
        paused_now = bool(pauses) and pauses[-1].start <= at < pauses[-1].end
        # approvals may come after the deadline (the request came before it); one pause at a time
        if kind == "extend":
            allowance += 1 + amount % calendar.day_minutes
        elif kind == "suspend" and not paused_now:
            pauses.append(planned_pause(calendar, at, 1 + amount % (2 * calendar.day_minutes)))
        elif kind == "resume" and paused_now:
            pauses[-1] = Pause(pauses[-1].start, at)
        expected = walk_due(calendar, origin, allowance, pauses)
        assert handling_due(calendar, origin, allowance, pauses) == expected
        # the stage's working minutes net of pauses, at the due time, are exactly the allowance
        assert net_minutes(calendar, pauses, origin, expected) == allowance
    end = origin + timedelta(days=12)
    walked = sum(working_minute(calendar, origin + timedelta(minutes=m))
                 and any(p.start <= origin + timedelta(minutes=m) < p.end for p in pauses)
                 for m in range(12 * 1440))
    assert paused_minutes(calendar, pauses, origin, end) == walked


def test_a_suspension_across_national_day_2026() -> None:
    calendar = official_calendar()
    origin, allowance = china(2026, 9, 29, 9, 0), 2 * 480  # two working days from Tuesday 29 September
    # without a pause: 450 + 480 minutes by Wednesday 18:00, the last 30 after the holiday
    assert handling_due(calendar, origin, allowance, []) == china(2026, 10, 8, 9, 0)
    # a pause of one working day approved on Wednesday at 16:00 spans the holiday: until Thursday 8 Oct 16:00
    pause = planned_pause(calendar, china(2026, 9, 30, 16, 0), 480)
    assert pause.end == china(2026, 10, 8, 16, 0)
    # 810 minutes were used before it, 150 are left after it: 16:00-18:00, then Friday 9 Oct 08:30-09:00
    assert handling_due(calendar, origin, allowance, [pause]) == china(2026, 10, 9, 9, 0)
    # resumed on Thursday at 10:00: the 150 minutes run from then, across lunch
    resumed = Pause(pause.start, china(2026, 10, 8, 10, 0))
    assert handling_due(calendar, origin, allowance, [resumed]) == china(2026, 10, 8, 14, 0)
    assert paused_minutes(calendar, [resumed], origin, china(2026, 10, 9)) == 120 + 90
