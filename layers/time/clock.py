"""The handling clock: working minutes counted from an origin, stopped by approved pauses.

A case's handling is due at the first instant when the working minutes
since its origin (the report; after a rework or an escalation, that step),
outside every approved pause, reach its allowance (the handle limit plus
approved extensions). Pure functions: the store keeps the origin, the
allowance and the pauses, and calls these to get the deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from layers.time.calendar import Calendar, add_working_minutes, working_minutes_between


@dataclass(frozen=True)
class Pause:
    """A span in which the clock stands still: [start, end)."""

    start: datetime
    end: datetime


def planned_pause(calendar: Calendar, at: datetime, minutes: float) -> Pause:
    """A pause approved at ``at`` for ``minutes`` working minutes."""
    return Pause(at, add_working_minutes(calendar, at, minutes))


def handling_due(calendar: Calendar, origin: datetime, minutes: float, pauses: Sequence[Pause]) -> datetime:
    """When ``minutes`` working minutes outside ``pauses`` have passed since ``origin``."""
    position, left = origin, float(minutes)
    for pause in sorted(pauses, key=lambda p: p.start):
        if pause.end <= position:
            continue
        if pause.start > position:
            available = working_minutes_between(calendar, position, pause.start)
            if available >= left:
                break
            left -= available
        position = pause.end
    return add_working_minutes(calendar, position, left)


def paused_minutes(calendar: Calendar, pauses: Sequence[Pause], start: datetime, end: datetime) -> float:
    """Working minutes of ``pauses`` inside [start, end)."""
    total = 0.0
    for pause in pauses:
        a, b = max(pause.start, start), min(pause.end, end)
        if b > a:
            total += working_minutes_between(calendar, a, b)
    return total


def net_minutes(calendar: Calendar, pauses: Sequence[Pause], start: datetime, end: datetime) -> float:
    """Working minutes from ``start`` to ``end`` outside ``pauses``."""
    return working_minutes_between(calendar, start, end) - paused_minutes(calendar, pauses, start, end)
