"""Extension (延期) and suspension (挂起) of a case's handling: asked, decided by the level above, resumed.

* ``request_extension`` / ``request_suspension`` (the handling side: a
  dispatcher or operator whose area covers the case) ask for ``minutes``
  working minutes with a reason, before the handling deadline; one open
  request per case.
* ``approve`` / ``refuse`` (the level above the case: an operator or
  dispatcher whose area **is** the case's street when the case is at
  community level, its district when at street or district level; or an
  admin covering the case). An approved extension adds its minutes to the
  clock's allowance; an approved suspension stops the clock from the
  approval for its minutes (it ends by itself, or earlier by ``resume``).
* Limits per category (:mod:`layers.time.deadlines`): approvals per handling
  and working minutes, per request and in total; a rework starts a new count.
  Minutes are those of the category's handling clock: working minutes, or
  wall-clock minutes when its handle limit is set in wall-clock minutes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from layers.actors import Actor
from layers.errors import Conflict, Forbidden, InvalidInput, NotFound
from layers.rows import one_row
from layers.time.calendar import working_minutes_between
from layers.time.clock import planned_pause
from layers.time.deadlines import delay_limit
from layers.time.stages import handle_clock, handling_deadline, iso

ACTIONS = ("request_extension", "request_suspension", "approve", "refuse", "resume")


def approver_area(case: dict[str, Any]) -> str:
    """The area whose principals decide a case's requests: the level above the case's level."""
    if case["level"] == "community":
        return str(case["street_code"])
    return str(case["district_code"])


async def act(conn: AsyncConnection, case: dict[str, Any], action: str, actor: Actor, reason: str,
              minutes: int | None, request_id: int | None, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """One delay step on a locked case: the case-row updates and the log details."""
    if action.startswith("request_"):
        return {}, await _ask(conn, case, action.removeprefix("request_"), actor, reason, minutes, now)
    if action == "resume":
        return await _resume(conn, case, now)
    if actor.role != "admin" and actor.area != approver_area(case):
        raise Forbidden(f"a {case['level']}-level case's requests are decided by the level above: "
                        f"a token of area {approver_area(case)}")
    request = await _pending(conn, case["id"], request_id)
    decided = {"status": "approved" if action == "approve" else "refused", "by": actor.name,
               "role": actor.role, "reason": reason, "id": request["id"]}
    # decided first: an approved pause is one of the pauses the deadline is recounted from
    await conn.execute("""
        UPDATE time_requests SET status = %(status)s, decided_by = %(by)s, decided_role = %(role)s,
               decided_at = now(), decision_reason = %(reason)s
        WHERE id = %(id)s""", decided)
    updates: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if action == "approve":
        updates, details = await _approve(conn, case, request, now)
    details["request"] = {"id": request["id"], "kind": request["kind"], "minutes": request["minutes"],
                          "status": decided["status"]}
    return updates, details


async def _ask(conn: AsyncConnection, case: dict[str, Any], kind: str, actor: Actor, reason: str,
               minutes: int | None, now: datetime) -> dict[str, Any]:
    limit = await delay_limit(conn, case["category_code"], kind)
    if minutes is None or not 1 <= minutes <= limit.max_minutes:
        raise InvalidInput(f"a {kind} asks for minutes: working minutes from 1 to {limit.max_minutes}")
    if now > case["deadline"]:
        raise Conflict(f"the handling was due at {iso(case['deadline'])}: a {kind} is asked before the deadline")
    if kind == "suspension" and case["paused_until"] is not None and case["paused_until"] > now:
        raise Conflict(f"the case is suspended until {iso(case['paused_until'])}")
    used = await one_row(conn, """
        SELECT count(*) FILTER (WHERE status = 'approved') AS approved,
               coalesce(sum(minutes) FILTER (WHERE status = 'approved'), 0) AS minutes,
               count(*) FILTER (WHERE status = 'pending') AS pending
        FROM time_requests WHERE incident_id = %s AND kind = %s AND rework = %s""",
                         (case["id"], kind, case["rework_count"]))
    assert used is not None
    if await one_row(conn, "SELECT 1 FROM time_requests WHERE incident_id = %s AND status = 'pending'",
                     (case["id"],)) is not None:
        raise Conflict("the case has a request waiting for a decision")
    if used["approved"] >= limit.max_count:
        raise Conflict(f"this category allows {limit.max_count} approved {kind}(s) per handling")
    if used["minutes"] + minutes > limit.max_minutes:
        raise Conflict(f"this category allows {limit.max_minutes} working minutes of {kind} per handling; "
                       f"{used['minutes']} already approved")
    row = await one_row(conn, """
        INSERT INTO time_requests (incident_id, district_code, kind, minutes, reason, team_id, rework,
                                   requested_by, requested_role)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                        (case["id"], case["district_code"], kind, minutes, reason, case["team_id"],
                         case["rework_count"], actor.name, actor.role))
    assert row is not None
    return {"request": {"id": row["id"], "kind": kind, "minutes": minutes, "status": "pending"}}


async def _pending(conn: AsyncConnection, incident_id: int, request_id: int | None) -> dict[str, Any]:
    row = await one_row(conn, """
        SELECT id, kind, minutes, status FROM time_requests
        WHERE incident_id = %s AND (%s::bigint IS NULL OR id = %s) ORDER BY (status = 'pending') DESC, id DESC
        LIMIT 1 FOR UPDATE""", (incident_id, request_id, request_id))
    if row is None:
        raise NotFound("the case has no such request" if request_id else "the case has no request")
    if row["status"] != "pending":
        raise Conflict(f"request {row['id']} is already {row['status']}")
    return dict(row)


async def _approve(conn: AsyncConnection, case: dict[str, Any], request: dict[str, Any],
                   now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    calendar, limit = await handle_clock(conn, case)
    details: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    if case["handle_from"] is None:  # a case filed before working-time deadlines: its clock from the report
        updates["handle_from"] = case["reported_at"]
    if request["kind"] == "extension":
        base = case["handle_minutes"] or limit.minutes
        updates["handle_minutes"] = base + request["minutes"]
    else:
        pause = planned_pause(calendar, now, request["minutes"])
        updates |= {"paused_at": pause.start, "paused_until": pause.end}
        details["pause"] = {"from": iso(pause.start), "until": iso(pause.end), "minutes": request["minutes"]}
        # the pause is stored before the deadline is recounted from the pauses
        await conn.execute("UPDATE time_requests SET paused_from = %s, paused_until = %s WHERE id = %s",
                           (pause.start, pause.end, request["id"]))
    deadline = await handling_deadline(conn, {**case, **updates})
    updates |= {"deadline": deadline, "stage_due_at": deadline}
    details["due_change"] = {"stage": "handle", "due_at": iso(deadline), "previous_due_at": iso(case["deadline"]),
                             "cause": request["kind"]}
    return updates, details


async def _resume(conn: AsyncConnection, case: dict[str, Any], now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    if case["paused_until"] is None or case["paused_until"] <= now:
        raise Conflict("the case is not suspended")
    calendar, _ = await handle_clock(conn, case)
    await conn.execute("""
        UPDATE time_requests SET paused_until = %s
        WHERE incident_id = %s AND kind = 'suspension' AND status = 'approved' AND paused_until = %s""",
                       (now, case["id"], case["paused_until"]))
    deadline = await handling_deadline(conn, case)
    paused = working_minutes_between(calendar, case["paused_at"], now)
    return ({"paused_at": None, "paused_until": None, "deadline": deadline, "stage_due_at": deadline},
            {"pause": {"from": iso(case["paused_at"]), "until": iso(now), "minutes": round(paused, 3)},
             "due_change": {"stage": "handle", "due_at": iso(deadline), "previous_due_at": iso(case["deadline"]),
                            "cause": "resume"}})


async def lapse(conn: AsyncConnection, incident_id: int, now: datetime) -> None:
    """The handling ended: open requests lapse and a running pause ends now."""
    await conn.execute("UPDATE time_requests SET status = 'lapsed', decided_at = now() "
                       "WHERE incident_id = %s AND status = 'pending'", (incident_id,))
    await conn.execute("""
        UPDATE time_requests SET paused_until = %s
        WHERE incident_id = %s AND kind = 'suspension' AND status = 'approved' AND paused_until > %s
          AND paused_from < %s""", (now, incident_id, now, now))
