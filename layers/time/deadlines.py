"""Stage limits and delay limits per category, and the due times they give.

Defaults (a ``stage_limits`` / ``delay_limits`` row of a category overrides them):

=========  ==========================================  =====================================
stage      limit                                       counted from
=========  ==========================================  =====================================
dispatch   30 wall-clock minutes (the centre is 24/7)  the report
handle     the catalogue's ``time_limit_hours``,       the report; after a rework, the
           in working hours of the calendar            ``return``
verify     4 working hours (核查)                       the team's feedback
feedback   8 working hours, one working day (办结反馈)   the verification
=========  ==========================================  =====================================

=============  =====================  ==========================================
delay          how often per handling  how long (working minutes), per request
                                       and all approvals of a handling together
=============  =====================  ==========================================
extension      2                      1,440 (3 working days)
suspension     1                      2,400 (5 working days)
=============  =====================  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

from layers.rows import all_rows, one_row
from layers.time import STAGES
from layers.time.calendar import Calendar, add_minutes

DISPATCH_MINUTES = 30
VERIFY_MINUTES = 4 * 60
FEEDBACK_MINUTES = 8 * 60
DELAY_DEFAULTS = {"extension": (2, 1440), "suspension": (1, 2400)}


@dataclass(frozen=True)
class Limit:
    """A stage's limit: minutes of working time (``working``) or of wall-clock time."""

    stage: str
    minutes: int
    working: bool


@dataclass(frozen=True)
class DelayLimit:
    """How many approvals a handling may get, and how many working minutes at most."""

    kind: str
    max_count: int
    max_minutes: int


def default_limit(stage: str, time_limit_hours: int) -> Limit:
    """The limit of ``stage`` when the category sets none."""
    if stage == "dispatch":
        return Limit(stage, DISPATCH_MINUTES, False)
    if stage == "handle":
        return Limit(stage, time_limit_hours * 60, True)
    return Limit(stage, VERIFY_MINUTES if stage == "verify" else FEEDBACK_MINUTES, True)


async def stage_limit(conn: AsyncConnection, category_code: str, stage: str) -> Limit:
    """The limit of ``stage`` for a category: its own row, else the default."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage}")
    row = await one_row(conn, """
        SELECT c.time_limit_hours, s.minutes, s.working FROM catalogue AS c
        LEFT JOIN stage_limits AS s ON s.category_code = c.code AND s.stage = %s
        WHERE c.code = %s""", (stage, category_code))
    if row is None:
        raise ValueError(f"unknown category {category_code}")
    if row["minutes"] is not None:
        return Limit(stage, row["minutes"], row["working"])
    return default_limit(stage, row["time_limit_hours"])


async def stage_limits(conn: AsyncConnection, category_code: str) -> dict[str, Limit]:
    """Every stage's limit for a category, in one query (intake's path)."""
    rows = await all_rows(conn, """
        SELECT c.time_limit_hours, s.stage, s.minutes, s.working FROM catalogue AS c
        LEFT JOIN stage_limits AS s ON s.category_code = c.code
        WHERE c.code = %s""", (category_code,))
    if not rows:
        raise ValueError(f"unknown category {category_code}")
    own = {r["stage"]: Limit(r["stage"], r["minutes"], r["working"]) for r in rows if r["stage"] is not None}
    return {stage: own.get(stage) or default_limit(stage, rows[0]["time_limit_hours"]) for stage in STAGES}


async def delay_limit(conn: AsyncConnection, category_code: str, kind: str) -> DelayLimit:
    """How often and how long a category's handling may be extended or suspended."""
    row = await one_row(conn, "SELECT max_count, max_minutes FROM delay_limits WHERE category_code = %s "
                        "AND kind = %s", (category_code, kind))
    if row is None:
        return DelayLimit(kind, *DELAY_DEFAULTS[kind])
    return DelayLimit(kind, row["max_count"], row["max_minutes"])


def due(calendar: Calendar, start: datetime, limit: Limit) -> datetime:
    """When a stage started at ``start`` with ``limit`` is due."""
    return add_minutes(calendar, start, limit.minutes, limit.working)
