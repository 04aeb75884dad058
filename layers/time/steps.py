"""What a step of the loop does to a case's time: one hook that :func:`layers.incidents.act` calls.

It runs inside the step's transaction, with the case locked, after the
step's own checks and the lead team's claim, and returns the case-row
updates and log details to merge: stage ends and starts, due times,
requests and pauses, the teams' assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from layers.actors import Actor
from layers.errors import Conflict, InvalidInput
from layers.rows import all_rows, one_row
from layers.time import STAGE_OF_STATUS, assignments, requests
from layers.time.deadlines import stage_limit
from layers.time.district_calendars import calendar_for
from layers.time.stages import step as stage_step

SUPPORT_ACTIONS = ("support_feedback", "release")


@dataclass(frozen=True)
class TimeArgs:
    """The parts of a step's body that concern time and teams."""

    minutes: int | None = None
    request_id: int | None = None
    support_teams: list[int] = field(default_factory=list)
    team_id: int | None = None


async def now(conn: AsyncConnection) -> datetime:
    """The transaction's time: the same instant the step's log entry gets."""
    row = await one_row(conn, "SELECT now() AS now")
    assert row is not None
    return row["now"]


async def on_step(conn: AsyncConnection, case: dict[str, Any], action: str, target: str, actor: Actor,
                  reason: str, lead_team: int | None, args: TimeArgs) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case-row updates and log details of ``action``'s time and teams."""
    if args.support_teams and action != "dispatch":
        raise InvalidInput("support_teams go with dispatch only")
    at = await now(conn)
    if action in requests.ACTIONS:
        return await requests.act(conn, case, action, actor, reason, args.minutes, args.request_id, at)
    calendar = await calendar_for(conn, case["district_code"])
    if action in SUPPORT_ACTIONS:
        status = "reported" if action == "support_feedback" else "released"
        ended = await assignments.end_supporter(conn, calendar, case, args.team_id, status, reason, at)
        return {}, {"assignment": ended}
    if action == "feedback":
        waiting = await assignments.waiting_on(conn, case["id"])
        if waiting:
            names = ", ".join(f"{w['name']} ({w['team_id']})" for w in waiting)
            raise Conflict(f"the lead's feedback waits for the supporting teams: {names}",
                           waiting_on=[w["team_id"] for w in waiting])
    updates, details = await stage_step(conn, case, action, target, at, lead_team)
    old, new = STAGE_OF_STATUS.get(case["status"]), STAGE_OF_STATUS.get(target)
    if old == "handle" and new != "handle":
        await requests.lapse(conn, case["id"], at)
        await assignments.end_all(conn, case["id"], "reported" if action == "feedback" else "released", at)
    if action in ("dispatch", "reassign", "return") and lead_team is not None:
        if action == "return":
            await assignments.reclaim_lead(conn, lead_team)
        limit = await stage_limit(conn, case["category_code"], "handle")
        deadline = updates.get("deadline", case["deadline"])
        teams = [await assignments.assign(conn, case, lead_team, "lead", at, deadline, limit)]
        if args.support_teams:
            teams += await assignments.dispatch_supporters(conn, calendar, case, args.support_teams, lead_team,
                                                           at, limit)
        details["assignments"] = teams
    return updates, details


async def case_time(conn: AsyncConnection, incident_id: int) -> dict[str, Any]:
    """A case's teams (lead and supporters, and whom the lead waits for) and its delay requests."""
    teams = await assignments.of_case(conn, incident_id)
    lead = next((t["team_id"] for t in teams if t["role"] == "lead" and t["status"] == "active"), None)
    return {
        "assignments": teams,
        "waiting_on": {"lead_team": lead, "supporting_teams": await assignments.waiting_on(conn, incident_id)},
        "time_requests": await all_rows(conn, """
            SELECT id, kind, minutes, reason, status, team_id, rework, requested_by, requested_at, decided_by,
                   decided_at, decision_reason, paused_from, paused_until
            FROM time_requests WHERE incident_id = %s ORDER BY id""", (incident_id,)),
    }
