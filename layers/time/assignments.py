"""Joint dispatch (联合派遣): one lead team (主办) and supporting teams (协办), each with its own due time.

Every team on a case has a ``case_assignments`` row; a partial unique index
allows a team one active assignment anywhere, and supporters are locked
``FOR UPDATE`` in id order and taken only when free, so of two dispatches
wanting one team exactly one gets it (the lead is claimed as before). A supporter may be of any type or body.
It ends by reporting (``support_feedback``, its feedback text the reason)
or being released by a dispatcher (``release``); either frees the team.
The lead's ``feedback`` is refused while any supporter is active.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from layers.errors import Conflict, InvalidInput
from layers.rows import all_rows, one_row
from layers.time.calendar import Calendar
from layers.time.clock import net_minutes
from layers.time.deadlines import Limit, due
from layers.time.stages import iso

MAX_SUPPORT_TEAMS = 20

_INSERT = """
    INSERT INTO case_assignments (incident_id, district_code, team_id, role, assigned_at, due_at,
                                  limit_minutes, working)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""


async def claim_supporters(conn: AsyncConnection, team_ids: list[int], lead_id: int) -> list[int]:
    """Lock the supporting teams, all free, for this transaction; 409 naming those not to be had."""
    wanted = sorted(set(team_ids))
    if len(wanted) != len(team_ids) or lead_id in wanted:
        raise InvalidInput("support_teams lists each team once, and not the lead team")
    if len(wanted) > MAX_SUPPORT_TEAMS:
        raise InvalidInput(f"at most {MAX_SUPPORT_TEAMS} supporting teams")
    try:
        # waited for, in id order: of two dispatches wanting one team, exactly one gets it
        rows = await all_rows(conn, "SELECT id, status FROM teams WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                              (wanted,))
    except psycopg.errors.DeadlockDetected:  # a lead claimed by one is a supporter wanted by the other
        raise Conflict("another dispatch is claiming the same teams; try again") from None
    free = {row["id"] for row in rows if row["status"] == "free"}
    missing = [t for t in wanted if t not in free]
    if missing:
        raise Conflict(f"team(s) {', '.join(map(str, missing))} are not free to support", teams=missing)
    await conn.execute("UPDATE teams SET status = 'busy' WHERE id = ANY(%s)", (wanted,))
    return wanted


async def assign(conn: AsyncConnection, case: dict[str, Any], team_id: int, role: str, now: datetime,
                 due_at: datetime, limit: Limit) -> dict[str, Any]:
    """Record a team on the case (the lead's previous assignment, if any, is released first)."""
    if role == "lead":
        await conn.execute("UPDATE case_assignments SET status = 'released', ended_at = %s "
                           "WHERE incident_id = %s AND role = 'lead' AND status = 'active'", (now, case["id"]))
    await conn.execute(_INSERT, (case["id"], case["district_code"], team_id, role, now, due_at,
                                 limit.minutes, limit.working))
    return {"team_id": team_id, "role": role, "due_at": iso(due_at), "limit_minutes": limit.minutes,
            "working": limit.working}


async def dispatch_supporters(conn: AsyncConnection, calendar: Calendar, case: dict[str, Any], team_ids: list[int],
                              lead_id: int, now: datetime, limit: Limit) -> list[dict[str, Any]]:
    """Claim and assign the supporting teams, each due its own handle limit from now."""
    claimed = await claim_supporters(conn, team_ids, lead_id)
    return [await assign(conn, case, team, "support", now, due(calendar, now, limit), limit) for team in claimed]


async def waiting_on(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    """The supporters still active on a case: whom the lead's feedback waits for."""
    return await all_rows(conn, """
        SELECT a.team_id, t.name, t.type, a.due_at FROM case_assignments AS a JOIN teams AS t ON t.id = a.team_id
        WHERE a.incident_id = %s AND a.role = 'support' AND a.status = 'active' ORDER BY a.team_id""",
                          (incident_id,))


async def of_case(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    """Every team ever on the case, lead first, with its due time, status and feedback."""
    return await all_rows(conn, """
        SELECT a.team_id, t.name AS team_name, t.type AS team_type, a.role, a.status, a.assigned_at,
               a.due_at, a.ended_at, a.feedback, a.ended_at IS NULL AND a.due_at < now() AS overdue
        FROM case_assignments AS a JOIN teams AS t ON t.id = a.team_id
        WHERE a.incident_id = %s ORDER BY a.role, a.id""", (incident_id,))


async def end_supporter(conn: AsyncConnection, calendar: Calendar, case: dict[str, Any], team_id: int | None,
                        status: str, feedback: str, now: datetime) -> dict[str, Any]:
    """A supporter reports (``reported``) or is released (``released``); its team is freed."""
    if team_id is None:
        raise InvalidInput("name the supporting team: team_id")
    row = await one_row(conn, """
        UPDATE case_assignments SET status = %s, ended_at = %s, feedback = %s
        WHERE incident_id = %s AND team_id = %s AND role = 'support' AND status = 'active'
        RETURNING assigned_at, due_at""", (status, now, feedback, case["id"], team_id))
    if row is None:
        raise Conflict(f"team {team_id} is not an active supporter of case {case['id']}")
    await conn.execute("UPDATE teams SET status = 'free' WHERE id = %s AND status = 'busy'", (team_id,))
    return {"team_id": team_id, "role": "support", "status": status, "due_at": iso(row["due_at"]),
            "on_time": now <= row["due_at"],
            "working_minutes": round(net_minutes(calendar, [], row["assigned_at"], now), 3)}


async def end_all(conn: AsyncConnection, incident_id: int, lead_status: str, now: datetime) -> None:
    """The handling ended: the lead's assignment ends as ``lead_status``, supporters are released and freed."""
    freed = await all_rows(conn, """
        UPDATE case_assignments SET status = CASE role WHEN 'lead' THEN %s ELSE 'released' END, ended_at = %s
        WHERE incident_id = %s AND status = 'active' RETURNING team_id, role""", (lead_status, now, incident_id))
    supporters = [row["team_id"] for row in freed if row["role"] == "support"]
    if supporters:
        await conn.execute("UPDATE teams SET status = 'free' WHERE id = ANY(%s) AND status = 'busy'", (supporters,))


async def reclaim_lead(conn: AsyncConnection, team_id: int | None) -> None:
    """A rework gives the case back to its lead team, which must be free again (409 when it is not)."""
    if team_id is None:
        return
    row = await one_row(conn, "UPDATE teams SET status = 'busy' WHERE id = %s AND status = 'free' RETURNING id",
                        (team_id,))
    if row is None:
        raise Conflict(f"team {team_id} is on another case now: wait until it is free to return this one")
