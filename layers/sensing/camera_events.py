"""Camera events as cases: a video platform's detection becomes a case, once per scene.

An event names its camera, its type, a confidence, the time and a snapshot.
The type maps to a catalogue code through ``camera_event_types`` (a table a
district fills with its platform's types; :data:`DEFAULT_TYPES` is the
start). Below the type's confidence threshold (or the service's) the event
is kept but ignored. Otherwise it is placed at the ``target`` the platform
gives or at the middle of what the camera shows (half its range along its
heading, on the spheroid), then:

- an **open** case of the same category within the category's duplicate
  radius and window (the duplicate rule intake reports) takes it: the
  snapshot is added to the case's media, a ``camera_event`` entry to its log;
  the same stall seen again updates one case.
- otherwise a new case is filed through the normal intake (channel
  ``camera``), with the snapshot as its media.

A closed case is not reopened: a stall back after the case closed is a new
case. Events are serialized per category (a transaction advisory lock), so
two detections of one scene arriving together make one case, and the same
event sent again (camera, type and time) answers what it did the first time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from layers import incidents, loop
from layers.actors import Actor
from layers.errors import InvalidInput
from layers.rows import all_rows, one_row
from layers.sensing.cameras import camera_by_code

DEFAULT_TYPES: tuple[tuple[str, str, str, float | None], ...] = (
    # (platform type, catalogue code, name, own confidence threshold or None)
    ("street_stall", "01.03", "占道经营", None),
    ("store_outside", "01.04", "店外经营", None),
    ("garbage_exposed", "01.01", "暴露垃圾", None),
    ("goods_piled", "01.02", "乱堆物堆料", None),
    ("open_barbecue", "01.08", "露天烧烤", None),
    ("banner", "02.03", "违规悬挂条幅", None),
    ("muck_spill", "03.03", "渣土车抛洒滴漏", None),
    ("bike_disorder", "04.01", "非机动车乱停放", None),
    ("illegal_parking", "04.02", "机动车违停", None),
    ("bike_pileup", "04.05", "共享单车堆积", None),
    ("fight", "06.06", "打架斗殴", 0.8),
    ("fire_lane_blocked", "07.01", "消防通道堵塞", None),
    ("open_burning", "08.03", "露天焚烧", 0.7),
    ("river_debris", "08.05", "河道漂浮物", None),
    ("road_water", "10.04", "道路积水", None),
)
MEDIA_LINES = 20
"""Snapshots a case keeps (one URL a line): the first and the latest."""


def seed_event_types(conn: psycopg.Connection) -> int:
    """Map the default event types whose catalogue code exists; return how many were added."""
    cur = conn.execute("""
        INSERT INTO camera_event_types (type, category_code, name, min_confidence)
        SELECT t.type, t.code, t.name, t.min_confidence
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::real[]) AS t(type, code, name, min_confidence)
        JOIN catalogue AS c ON c.code = t.code
        ON CONFLICT (type) DO NOTHING""", [list(column) for column in zip(*DEFAULT_TYPES, strict=True)])
    return cur.rowcount


@dataclass(frozen=True)
class EventType:
    """One row of the mapping."""

    type: str
    category_code: str
    name: str = ""
    min_confidence: float | None = None


async def event_types(conn: AsyncConnection) -> list[dict[str, Any]]:
    """The mapping, by type."""
    return await all_rows(conn, """
        SELECT t.type, t.category_code, t.name, t.min_confidence::numeric::float8 AS min_confidence,
               c.minor_name AS category_name
        FROM camera_event_types AS t JOIN catalogue AS c ON c.code = t.category_code ORDER BY t.type""")


async def put_event_types(conn: AsyncConnection, types: list[EventType], actor: Actor,
                          replace: bool = False) -> dict[str, Any]:
    """Upsert the mapping (all or nothing; ``replace`` drops the types not given).

    Unknown catalogue codes are refused together, by index (422), nothing stored.
    """
    actor.require_role("admin")
    codes = {row["code"] for row in await all_rows(conn, "SELECT code FROM catalogue")}
    problems = [{"field": f"types[{i}].category_code", "message": f"no catalogue code {t.category_code[:16]!r}"}
                for i, t in enumerate(types) if t.category_code not in codes]
    if problems:
        raise InvalidInput(f"{len(problems)} event type(s) map to no catalogue code", errors=problems)
    async with conn.transaction():
        if replace:
            await conn.execute("DELETE FROM camera_event_types WHERE NOT (type = ANY(%s))", ([t.type for t in types],))
        await conn.execute("""
            INSERT INTO camera_event_types (type, category_code, name, min_confidence)
            SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::real[])
            ON CONFLICT (type) DO UPDATE SET category_code = EXCLUDED.category_code, name = EXCLUDED.name,
                                              min_confidence = EXCLUDED.min_confidence""",
                           ([t.type for t in types], [t.category_code for t in types], [t.name for t in types],
                            [t.min_confidence for t in types]))
    return {"stored": len(types), "types": await event_types(conn)}


@dataclass(frozen=True)
class CameraEvent:
    """An event as received; ``target`` is WGS84 (lon, lat) with the raw values sent, or None."""

    camera: str
    type: str
    confidence: float
    at: datetime
    snapshot_url: str | None = None
    target: tuple[float, float] | None = None
    raw_target: tuple[float, float, str] | None = None


_VIEW_CENTRE = """
    SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
        SELECT ST_Project(c.geom::geography, c.range_m / 2.0, radians(c.heading_deg))::geometry AS p
        FROM cameras AS c WHERE c.id = %s) AS centre"""

_STORED = """
    SELECT e.id, e.outcome, e.incident_id, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat
    FROM camera_events AS e WHERE e.camera_id = %s AND e.type = %s AND e.at = %s"""

_RECORD = """
    INSERT INTO camera_events (camera_id, type, confidence, at, snapshot_url, geom, outcome, incident_id)
    VALUES (%(camera)s, %(type)s, %(confidence)s, %(at)s, %(snapshot)s,
            ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), %(outcome)s, %(incident)s)
    RETURNING id"""


def with_snapshot(media: str | None, url: str, keep: int = MEDIA_LINES) -> str:
    """A case's media lines with ``url`` added last: once, the first and the latest ``keep - 1`` kept."""
    lines = [line for line in (media or "").split("\n") if line]
    if url in lines:
        return "\n".join(lines)
    lines.append(url)
    if len(lines) > keep:
        lines = lines[:1] + lines[len(lines) - keep + 1:]
    return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    """What became of an event: ``created``, ``updated`` or ``ignored``, and whether it is a replay."""

    event_id: int
    outcome: str
    incident_id: int | None
    lon: float
    lat: float
    placed_at: str
    threshold: float
    category_code: str
    replayed: bool = False


async def receive(conn: AsyncConnection, event: CameraEvent, actor: Actor, options: incidents.IntakeOptions,
                  min_confidence: float) -> Outcome:
    """File, attach or ignore one event (see the module's rules); 422 for an unknown camera or type."""
    actor.require_role("operator", "dispatcher")
    camera = await camera_by_code(conn, event.camera)
    if camera is None:
        raise InvalidInput(f"no camera {event.camera[:64]!r}")
    mapping = await one_row(conn, "SELECT category_code, name, min_confidence::numeric::float8 AS min_confidence "
                                  "FROM camera_event_types WHERE type = %s", (event.type,))
    if mapping is None:
        raise InvalidInput(f"unknown event type {event.type[:64]!r}: map it first (PUT /camera-events/types)")
    threshold = mapping["min_confidence"] if mapping["min_confidence"] is not None else min_confidence
    if event.target is not None:
        lon, lat, placed_at = event.target[0], event.target[1], "target"
    else:
        centre = await one_row(conn, _VIEW_CENTRE, (camera["id"],))
        assert centre is not None  # the camera was just read
        lon, lat, placed_at = centre["lon"], centre["lat"], "view_centre"
    category_code = mapping["category_code"]

    def outcome(event_id: int, kind: str, incident_id: int | None) -> Outcome:
        return Outcome(event_id, kind, incident_id, lon, lat, placed_at, threshold, category_code)

    async with conn.transaction():
        # one scene, one case: events of a category wait for each other
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('camera-event:' || %s))", (category_code,))
        stored = await one_row(conn, _STORED, (camera["id"], event.type, event.at))
        if stored is not None:  # sent again: what it did the first time
            return Outcome(stored["id"], stored["outcome"], stored["incident_id"], stored["lon"], stored["lat"],
                           placed_at, threshold, category_code, replayed=True)
        record = {"camera": camera["id"], "type": event.type, "confidence": event.confidence, "at": event.at,
                  "snapshot": event.snapshot_url, "lon": lon, "lat": lat}
        if event.confidence < threshold:
            row = await one_row(conn, _RECORD, {**record, "outcome": "ignored", "incident": None})
            assert row is not None
            return outcome(row["id"], "ignored", None)
        cat = await options.category_of(conn, category_code)
        open_ones = [d for d in await incidents.duplicates(conn, cat, lon, lat) if d["status"] in loop.OPEN_STATES]
        if open_ones:
            case = await incidents.read_case(conn, open_ones[0]["id"], actor, lock=True)
            if event.snapshot_url:
                media = await one_row(conn, "SELECT media_url FROM incidents WHERE id = %s", (case["id"],))
                stored_media = None if media is None else media["media_url"]
                await conn.execute("UPDATE incidents SET media_url = %s, updated_at = now() WHERE id = %s",
                                   (with_snapshot(stored_media, event.snapshot_url), case["id"]))
            await conn.execute("""
                INSERT INTO incident_events (incident_id, district_code, actor, role, action,
                                             from_status, to_status, details)
                VALUES (%s, %s, %s, %s, 'camera_event', %s, %s, %s)""",
                               (case["id"], case["district_code"], actor.name, actor.role, case["status"],
                                case["status"], Jsonb({"camera": camera["code"], "type": event.type,
                                                       "confidence": event.confidence, "at": event.at.isoformat(),
                                                       "snapshot_url": event.snapshot_url})))
            row = await one_row(conn, _RECORD, {**record, "outcome": "updated", "incident": case["id"]})
            assert row is not None
            return outcome(row["id"], "updated", case["id"])
        raw = event.raw_target or (lon, lat, "wgs84")
        description = f"{mapping['name'] or event.type}（{camera['name']}识别，置信度 {event.confidence:.2f}）"
        answer, _ = await incidents.intake(conn, incidents.NewCase(
            category_code, "camera", description, lon, lat, *raw, media_url=event.snapshot_url), actor, options)
        row = await one_row(conn, _RECORD, {**record, "outcome": "created", "incident": answer["id"]})
        assert row is not None
        return outcome(row["id"], "created", answer["id"])
