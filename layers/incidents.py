"""Cases: intake from any channel, dispatch to a team, and every later step of the loop.

Every change of a case happens in one transaction with its event-log row,
so the log and the case never disagree. Who acts is passed in as a
:class:`layers.actors.Actor`, whose area must cover the case's community.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from layers import loop
from layers.actors import Actor
from layers.catalogue import Category, category
from layers.errors import Conflict, InvalidInput, NotFound, OutsideTerritory
from layers.field.rules import worker_may
from layers.rows import all_rows, one_row
from layers.sensing.cameras import linked_cameras
from layers.teams import Team, claim_nearest, nearest_teams
from layers.territory import Place, box_degrees, locate, outside
from layers.time import stages as time_stages
from layers.time.steps import TimeArgs, on_step

CHANNELS = ("hotline", "police_110", "grid_worker", "wechat", "camera", "sensor")


@dataclass(frozen=True)
class NewCase:
    """A report to take in; ``lon``/``lat`` are WGS84, ``raw_*`` what the client sent."""

    category: str
    channel: str
    description: str
    lon: float
    lat: float
    raw_x: float
    raw_y: float
    raw_crs: str
    address: str | None = None
    idempotency_key: str | None = None
    # Open311's reporter fields, attribute[...] answers and media URL(s), kept as sent
    reporter: dict[str, str] | None = None
    attributes: dict[str, Any] | None = None
    media_url: str | None = None


Locator = Callable[[float, float, float], Place | None]
CategoryLookup = Callable[[AsyncConnection, str], Awaitable[Category]]


@dataclass
class IntakeOptions:
    """Tunables of intake, from the settings, and the process's in-memory look-ups.

    ``locator`` is the grid index when it is fresh (else SQL locates);
    ``category_of`` may answer from a cached catalogue.
    """

    near_boundary_m: float = 5.0
    max_team_range_m: float = 10_000.0
    locator: Locator | None = None
    category_of: CategoryLookup = category


_CASE_COLUMNS = """
    i.id, i.district_code, i.category_code, i.channel, i.description, i.address,
    i.raw_x, i.raw_y, i.raw_crs, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    i.grid_code, i.community_code, i.street_code, i.level, i.status, i.team_id,
    i.duplicate_of, i.reported_at, i.deadline, i.closed_at, i.updated_at,
    i.deadline < now() AND i.status = ANY(%(open)s) AS overdue,
    i.stage, i.stage_due_at, i.paused_at, i.paused_until, i.rework_count, i.handle_from, i.handle_minutes
"""

# the case and its first log entry in one statement: atomic without a
# transaction block, and one round trip on the hottest write path
_FILE = """
    WITH ins AS (
        INSERT INTO incidents (district_code, category_code, channel, description, address,
                               raw_x, raw_y, raw_crs, geom, grid_id, grid_code, community_code,
                               street_code, level, deadline, idempotency_key, reporter, attributes, media_url,
                               reported_at, stage_due_at, handle_from, handle_minutes)
        VALUES (%(district)s, %(category)s, %(channel)s, %(description)s, %(address)s,
                %(raw_x)s, %(raw_y)s, %(raw_crs)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                %(grid_id)s, %(grid)s, %(community)s, %(street)s, %(level)s,
                %(deadline)s, %(key)s, %(reporter)s, %(attributes)s, %(media_url)s,
                %(reported_at)s, %(stage_due_at)s, %(handle_from)s, %(handle_minutes)s)
        ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING *),
    logged AS (
        INSERT INTO incident_events (incident_id, district_code, actor, role, action, to_status, details)
        SELECT id, district_code, %(actor)s, %(role)s, 'accept', 'accepted', %(details)s FROM ins)
    SELECT """ + _CASE_COLUMNS + " FROM ins AS i"

_EVENT = """
    INSERT INTO incident_events (incident_id, district_code, actor, role, action,
                                 from_status, to_status, reason, details)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""

_DUPLICATES = """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g)
    SELECT i.id, i.status, i.reported_at,
           round(ST_Distance(i.geom::geography, pt.g::geography)::numeric, 1)::float8 AS distance_m
    FROM incidents AS i, pt
    WHERE i.category_code = %(category)s
      AND i.geom && ST_Expand(pt.g, %(box_deg)s)
      AND ST_DWithin(i.geom::geography, pt.g::geography, %(radius)s)
      AND i.reported_at > now() - {window}
      AND (i.status = ANY(%(open)s) OR (i.status = 'closed' AND i.closed_at > now() - {window}))
      AND i.id IS DISTINCT FROM %(exclude)s
    ORDER BY distance_m, i.id
    LIMIT 10
"""


@functools.lru_cache(maxsize=64)
def _duplicates_query(hours: int) -> str:
    """The duplicates query for a window of ``hours``, written into its text.

    A category's window is one of a few values. As a parameter, the planner
    of a prepared statement cannot tell how few cases the window holds; in a
    10x city it then plans every call afresh (about 0.3 ms, more than the
    search). Written in, each window gets one plan kept for good.
    """
    # make_interval in hours, as before: a '1 day' interval would be a calendar day across a DST change
    window = sql.SQL("make_interval(hours => {})").format(sql.Literal(int(hours)))
    return sql.SQL(_DUPLICATES).format(window=window).as_string(None)


_CASE = "SELECT " + _CASE_COLUMNS + " FROM incidents AS i WHERE i.id = %(id)s"


async def _log(conn: AsyncConnection, case: dict, actor: Actor, action: str, to_status: str,
               reason: str = "", details: dict | None = None) -> None:
    await conn.execute(_EVENT, (case["id"], case["district_code"], actor.name, actor.role, action,
                                case.get("status"), to_status, reason, Jsonb(details or {})))


def _team_json(team: Team) -> dict[str, Any]:
    return {"id": team.id, "code": team.code, "name": team.name, "type": team.type,
            "status": team.status, "lon": team.lon, "lat": team.lat,
            "distance_m": round(team.distance_m, 1)}


def _place_json(place: Place) -> dict[str, Any]:
    return {
        "grid": {"code": place.grid_code, "name": place.grid_name},
        "community": {"code": place.community_code, "name": place.community_name},
        "street": {"code": place.street_code, "name": place.street_name},
        "district": {"code": place.district_code, "name": place.district_name},
        "near_boundary": place.near_boundary,
    }


async def suggest_team(conn: AsyncConnection, cat: Category, lon: float, lat: float,
                       place: Place, max_range_m: float) -> dict[str, Any]:
    """The nearest free team of the category's type, or the community fallback (属地兜底)."""
    if cat.team_type is not None:
        found = await nearest_teams(conn, lon, lat, cat.team_type, 1)
        if found and found[0].distance_m <= max_range_m:
            return {"team": _team_json(found[0]), "fallback": None}
        reason = f"no free {cat.team_type} team within {max_range_m / 1000:g} km"
    else:
        reason = "no body owns this category"
    return {"team": None, "fallback": {
        "to": "community", "community": {"code": place.community_code, "name": place.community_name},
        "reason": f"{reason}: the territory's community takes it (属地兜底)"}}


async def duplicates(conn: AsyncConnection, cat: Category, lon: float, lat: float,
                     exclude: int | None = None) -> list[dict[str, Any]]:
    """Cases of the same category within its radius and time window, open or recently closed."""
    return await all_rows(conn, _duplicates_query(cat.duplicate_window_hours), {
        "lon": lon, "lat": lat, "category": cat.code, "radius": cat.duplicate_radius_m,
        "box_deg": box_degrees(lat, cat.duplicate_radius_m),
        "open": list(loop.OPEN_STATES), "exclude": exclude})


async def intake(conn: AsyncConnection, case: NewCase, actor: Actor, options: IntakeOptions) -> tuple[dict, bool]:
    """Take in a case; return its description and whether it was created now.

    A retry with the same idempotency key by the same caller returns the
    case made the first time (False) instead of a second case.
    """
    actor.require_role("operator", "dispatcher", "grid_worker")
    key = scoped_key(actor, case.idempotency_key)
    if case.channel not in CHANNELS:
        raise InvalidInput(f"unknown channel '{case.channel[:20]}'; one of {', '.join(CHANNELS)}")
    if key is not None:
        existing = await _by_key(conn, key)
        if existing is not None:
            return await describe_intake(conn, existing, actor, options), False
    cat = await options.category_of(conn, case.category)
    place = await _place(conn, case.lon, case.lat, options)
    # grid codes nest in their community's: a grid worker's area may be one grid
    actor.require_area(place.grid_code)
    # deadlines on the district's working-time calendar (layers.time)
    times = await time_stages.intake_times(conn, place.district_code, cat.code, datetime.now(UTC))
    row = await one_row(conn, _FILE, {
        "district": place.district_code, "category": cat.code, "channel": case.channel,
        "description": case.description, "address": case.address, "raw_x": case.raw_x,
        "raw_y": case.raw_y, "raw_crs": case.raw_crs, "lon": case.lon, "lat": case.lat,
        "grid_id": place.grid_id, "grid": place.grid_code, "community": place.community_code,
        "street": place.street_code, "level": cat.level, "deadline": times["deadline"],
        "reported_at": times["handle_from"], "stage_due_at": times["stage_due_at"], "handle_from": times["handle_from"],
        "handle_minutes": times["handle_minutes"],
        "key": key, "actor": actor.name, "role": actor.role,
        "reporter": _jsonb(case.reporter), "attributes": _jsonb(case.attributes), "media_url": case.media_url,
        "details": Jsonb({"channel": case.channel, "stage_start": times["stage_start"]}),
        "open": list(loop.OPEN_STATES)})
    if row is None:  # a concurrent retry with the same key won the insert
        winner = await _by_key(conn, key or "")
        if winner is None:
            raise Conflict("the same idempotency key is being used right now; retry")
        return await describe_intake(conn, winner, actor, options), False
    return await _answer(conn, row, place, cat, options), True


def _jsonb(value: dict[str, Any] | None) -> Jsonb | None:
    return Jsonb(value) if value else None


async def _place(conn: AsyncConnection, lon: float, lat: float, options: IntakeOptions) -> Place:
    """Where the case lies: from the in-memory index when the caller has a fresh one, else SQL."""
    if options.locator is not None:
        place = options.locator(lon, lat, options.near_boundary_m)
        if place is None:
            raise InvalidInput(outside(lon, lat).public)
        return place
    try:
        return await locate(conn, lon, lat, options.near_boundary_m)
    except OutsideTerritory as exc:
        raise InvalidInput(exc.public) from None


def scoped_key(actor: Actor, key: str | None) -> str | None:
    """The idempotency key as stored: the client's key within the caller's own key space.

    Keys are the client's to choose, so two callers may pick the same one: a
    key only finds cases the same caller (token subject and area) filed, and
    never reveals or blocks another caller's. Stored prefixed (area, a digest
    of the subject, then the key) in the one unique column, so no schema
    change was needed; the prefix is unambiguous (digits, then fixed-length hex).
    """
    if not key:
        return None
    subject = hashlib.sha256(actor.name.encode()).hexdigest()[:16]
    return f"{actor.area}:{subject}:{key}"


async def _by_key(conn: AsyncConnection, key: str) -> int | None:
    row = await one_row(conn, "SELECT id FROM incidents WHERE idempotency_key = %s", (key,))
    return None if row is None else int(row["id"])


async def describe_intake(conn: AsyncConnection, incident_id: int, actor: Actor,
                          options: IntakeOptions) -> dict[str, Any]:
    """The intake answer for a stored case (an idempotent replay)."""
    case = await read_case(conn, incident_id, actor)
    cat = await options.category_of(conn, case["category_code"])
    place = await _place(conn, case["lon"], case["lat"], options)
    return await _answer(conn, case, place, cat, options)


async def _answer(conn: AsyncConnection, case: dict[str, Any], place: Place, cat: Category,
                  options: IntakeOptions) -> dict[str, Any]:
    """The case, its place, catalogue entry, duplicates, suggested team and cameras to call up."""
    suggestion = await suggest_team(conn, cat, case["lon"], case["lat"], place, options.max_team_range_m)
    return {
        **case,
        **_place_json(place),
        "grid": {"code": case["grid_code"], "name": place.grid_name},
        "catalogue": {"code": cat.code, "major": cat.major_name, "minor": cat.minor_name,
                      "team_type": cat.team_type, "time_limit_hours": cat.time_limit_hours,
                      "closing_standard": cat.closing_standard},
        "duplicates": await duplicates(conn, cat, case["lon"], case["lat"], exclude=case["id"]),
        "suggested_team": suggestion["team"],
        "fallback": suggestion["fallback"],
        "cameras": await linked_cameras(conn, case["lon"], case["lat"]),
    }


async def read_case(conn: AsyncConnection, incident_id: int, actor: Actor | None,
                    lock: bool = False) -> dict[str, Any]:
    """One case (locked FOR UPDATE when ``lock``); 404 when missing, 403 outside the actor's area."""
    query = _CASE + (" FOR UPDATE OF i" if lock else "")
    row = await one_row(conn, query, {"id": incident_id, "open": list(loop.OPEN_STATES)})
    if row is None:
        raise NotFound(f"no case {incident_id}")
    if actor is not None:
        actor.require_area(row["grid_code"] or row["community_code"])
    return dict(row)


async def events(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    """The case's event log, oldest first."""
    return await all_rows(conn, """
        SELECT id, at, actor, role, action, from_status, to_status, reason, details
        FROM incident_events WHERE incident_id = %s ORDER BY id""", (incident_id,))


async def _claim(conn: AsyncConnection, case: dict, cat: Category, team_id: int | None) -> Team:
    """Lock and return a free team of the category's type: the one asked for, or the nearest."""
    if cat.team_type is None:
        raise Conflict("no team type owns this category: the community handles it (属地兜底)")
    team = await claim_nearest(conn, case["lon"], case["lat"], cat.team_type, only=team_id)
    if team is not None:
        return team
    if team_id is None:
        raise Conflict(f"no free {cat.team_type} team right now")
    # taken, being taken, busy, or of another type: offer the next candidate
    ranked = await nearest_teams(conn, case["lon"], case["lat"], cat.team_type, 2)
    candidate = next((t for t in ranked if t.id != team_id), None)
    raise Conflict(f"team {team_id} is not a free {cat.team_type} team",
                   next_candidate=_team_json(candidate) if candidate else None)


async def _set_team_status(conn: AsyncConnection, team_id: int | None, status: str) -> None:
    if team_id is not None:
        # a retired team stays retired whatever becomes of its last case
        await conn.execute("UPDATE teams SET status = %s WHERE id = %s AND status <> 'retired'", (status, team_id))


async def act(conn: AsyncConnection, incident_id: int, action: str, actor: Actor, reason: str = "",
              team_id: int | None = None, duplicate_of: int | None = None,
              site: dict[str, Any] | None = None, time_args: TimeArgs | None = None) -> dict[str, Any]:
    """Take one step of the loop on a case; return the case as it is afterwards.

    ``time_args`` carry a delay request's minutes, the request decided, the
    supporting teams of a joint dispatch, the supporter reporting
    (``layers.time.steps``).

    ``site`` is where the actor stood (lon, lat, distance_m), logged with the
    step; a grid worker's verification needs it (``layers.field.rules``).
    """
    if action not in loop.TRANSITIONS:
        raise InvalidInput(f"unknown action '{action[:20]}'; one of {', '.join(loop.TRANSITIONS)}")
    transition = loop.TRANSITIONS[action]
    actor.require_role(*transition.roles)
    if transition.needs_reason and not reason.strip():
        raise InvalidInput(f"{action} needs a reason")
    async with conn.transaction():
        case = await read_case(conn, incident_id, actor, lock=True)
        loop.check(action, case["status"])
        if actor.role == "grid_worker":
            await worker_may(conn, case, action, actor, site)
        target = loop.target_of(transition, case["status"])
        details: dict[str, Any] = {}
        updates: dict[str, Any] = {"status": target}
        if action in ("dispatch", "reassign"):
            cat = await category(conn, case["category_code"])
            team = await _claim(conn, case, cat, team_id)
            await _set_team_status(conn, case["team_id"], "free")
            await _set_team_status(conn, team.id, "busy")
            updates["team_id"] = team.id
            details = {"team": _team_json(team), "previous_team": case["team_id"]}
        elif action == "escalate":
            level = loop.next_level(case["level"])
            if level is None:
                raise Conflict("the case is already at district level")
            updates["level"] = level
            details = {"from_level": case["level"], "to_level": level}
        elif action == "mark_duplicate":
            if duplicate_of is None or duplicate_of == incident_id:
                raise InvalidInput("mark_duplicate needs duplicate_of: the id of another case")
            await read_case(conn, duplicate_of, actor)
            updates["duplicate_of"] = duplicate_of
            details = {"duplicate_of": duplicate_of}
        # stage deadlines, delays, rework and the teams on the case
        clock_updates, clock_details = await on_step(conn, case, action, target, actor, reason,
                                                     updates.get("team_id", case["team_id"]), time_args or TimeArgs())
        updates |= clock_updates
        details |= clock_details
        if case["status"] in loop.TEAM_STATES and target not in loop.TEAM_STATES:
            await _set_team_status(conn, case["team_id"], "free")
        await _update(conn, incident_id, updates, closing=target == "closed")
        await _log(conn, case, actor, action, target, reason, {**details, **({"site": site} if site else {})})
        return await read_case(conn, incident_id, None)


async def _update(conn: AsyncConnection, incident_id: int, updates: dict[str, Any], closing: bool) -> None:
    assignments: list[sql.Composable] = [sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                   for column in updates]
    if closing:
        assignments.append(sql.SQL("closed_at = now()"))
    await conn.execute(sql.SQL("UPDATE incidents SET {}, updated_at = now() WHERE id = %(id)s").format(
        sql.SQL(", ").join(assignments)), {**updates, "id": incident_id})


async def overdue(conn: AsyncConnection, area: str, limit: int = 500) -> list[dict[str, Any]]:
    """Open cases past their deadline in ``area`` (a code prefix), most overdue first."""
    return await all_rows(conn, """
        SELECT i.id, i.category_code, c.minor_name, i.status, i.level, i.grid_code,
               i.community_code, i.street_code, i.deadline, i.team_id,
               round(extract(epoch FROM now() - i.deadline) / 3600, 1)::float8 AS overdue_hours,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
        FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code
        WHERE i.status = ANY(%(open)s) AND i.deadline < now() AND starts_with(i.community_code, %(area)s)
        ORDER BY i.deadline LIMIT %(limit)s""", {"open": list(loop.OPEN_STATES), "area": area, "limit": limit})


async def escalate_overdue(conn: AsyncConnection, actor: Actor) -> list[int]:
    """Raise every overdue open case in the actor's area one level, with a new deadline; log each.

    The level above gets the category's handle limit again, from now, on
    the district's working-time calendar, so a case that stays overdue
    rises once more later (street → district). Cases another worker is
    escalating right now are skipped, not waited for.
    """
    actor.require_role("operator", "dispatcher")
    async with conn.transaction():
        overdue_rows = await all_rows(conn, """
            SELECT i.id, i.district_code, i.category_code, i.deadline, i.stage FROM incidents AS i
            WHERE i.status = ANY(%(open)s) AND i.deadline < now()
              AND i.level <> 'district' AND starts_with(i.community_code, %(area)s)
            ORDER BY i.id FOR UPDATE SKIP LOCKED""", {"open": list(loop.OPEN_STATES), "area": actor.area})
        if not overdue_rows:
            return []
        dues = await time_stages.escalation_dues(conn, overdue_rows)
        rows = await all_rows(conn, """
            WITH u AS (SELECT * FROM unnest(%(ids)s::bigint[], %(dues)s::timestamptz[], %(minutes)s::integer[],
                                            %(details)s::jsonb[]) AS u(id, due, minutes, due_change)),
            up AS (
                UPDATE incidents AS i
                SET level = CASE i.level WHEN 'community' THEN 'street' ELSE 'district' END,
                    deadline = u.due, handle_from = now(), handle_minutes = u.minutes,
                    stage_due_at = CASE WHEN i.stage = 'handle' THEN u.due ELSE i.stage_due_at END,
                    updated_at = now()
                FROM u WHERE i.id = u.id
                RETURNING i.id, i.district_code, i.status, i.level, u.due_change)
            INSERT INTO incident_events (incident_id, district_code, actor, role, action,
                                         from_status, to_status, reason, details)
            SELECT id, district_code, %(actor)s, %(role)s, 'escalate', status, status,
                   'overdue: escalated to ' || level,
                   jsonb_build_object('to_level', level, 'due_change', due_change)
            FROM up
            RETURNING incident_id""", {"ids": [r["id"] for r in overdue_rows], "dues": dues["due"],
                                       "minutes": dues["minutes"], "details": dues["due_change"],
                                       "actor": actor.name, "role": actor.role})
        return sorted(row["incident_id"] for row in rows)


_FIND = """
    SELECT """ + _CASE_COLUMNS + """, c.minor_name AS category_name, c.team_type,
           i.reporter, i.attributes, i.media_url
    FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code
    WHERE starts_with(i.community_code, %(area)s)
      AND (%(ids)s::bigint[] IS NULL OR i.id = ANY(%(ids)s))
      AND (%(categories)s::text[] IS NULL OR i.category_code = ANY(%(categories)s))
      AND (%(start)s::timestamptz IS NULL OR i.reported_at >= %(start)s)
      AND (%(end)s::timestamptz IS NULL OR i.reported_at <= %(end)s)
      AND (%(open_only)s::boolean IS NULL OR (i.status = ANY(%(open)s)) = %(open_only)s)
    ORDER BY i.reported_at DESC, i.id DESC
    LIMIT %(limit)s
"""


async def find_cases(conn: AsyncConnection, area: str, *, ids: list[int] | None = None,
                     categories: list[str] | None = None, start: datetime | None = None,
                     end: datetime | None = None, open_only: bool | None = None,
                     limit: int = 1000) -> list[dict[str, Any]]:
    """Cases in ``area`` matching every filter given, newest first, with their reporter fields.

    The reporter, attributes and media URL are personal: callers show them
    only to readers allowed to see them.
    """
    return await all_rows(conn, _FIND, {
        "area": area, "ids": ids, "categories": categories, "start": start, "end": end,
        "open_only": open_only, "open": list(loop.OPEN_STATES), "limit": limit})
