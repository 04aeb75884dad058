"""Cameras: which can see a point, heartbeats, and camera events filed as cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.intake import intake_options
from api.params import CHINA_TIME, Line, PointQuery, normalize_point
from api.responses import json_response
from api.schemas import Location, Strict
from geo.sector import Sector, sector_geojson
from layers import incidents, territory
from layers.errors import InvalidInput
from layers.sensing import camera_events, cameras

router = APIRouter(tags=["cameras"])
CameraCode = Annotated[Line, Field(min_length=1, max_length=64)]
FUTURE_SLACK = timedelta(minutes=5)


@router.get("/cameras/around", summary="Cameras that can see a point, then the nearest others")
async def around(point: PointQuery, conn: ConnDep, principal: CurrentPrincipal,
                 r: Annotated[float, Query(ge=1, le=5000, description="metres: list others this close")] = 300,
                 k: Annotated[int, Query(ge=1, le=100, description="cameras at most")] = 10,
                 sectors: Annotated[bool, Query(description="add each camera's view sector (GeoJSON)")] = False,
                 ) -> dict[str, Any]:
    """Cameras that see the point (nearest first), then the nearest others within ``r`` metres.

    Seeing is true ground distance within the camera's range and the geodesic bearing within its
    heading ± fov/2. Each camera has ``distance_m``, ``bearing_deg`` (from the camera to the
    point), ``sees`` and ``status``: offline cameras are listed and marked, never left out.
    The point must lie in the token's area (403 otherwise, 404 outside every grid): the answer
    carries stream URLs, which are the area's business.
    """
    place = await territory.locate(conn, point.lon, point.lat, near_m=0)
    principal.require_area(place.grid_code)
    found = await cameras.around(conn, point.lon, point.lat, cameras.Around(r, k))
    if sectors:
        for cam in found:
            cam["sector"] = sector_geojson(Sector(cam["lon"], cam["lat"], cam["heading_deg"], cam["fov_deg"],
                                                  cam["range_m"]))
    return {"point": {"lon": point.lon, "lat": point.lat, "x": point.x, "y": point.y, "crs": point.crs.name},
            "r": r, "count": len(found), "seeing": sum(1 for c in found if c["sees"]), "cameras": found}


class Beat(Strict):
    """One camera's heartbeat, with its state when the platform knows it."""

    code: CameraCode
    status: Literal["online", "offline"] = "online"


class Heartbeat(Strict):
    """A batch of heartbeats: camera codes (online), or ``{code, status}`` items."""

    cameras: list[CameraCode | Beat] = Field(min_length=1, max_length=10_000)


@router.post("/cameras/heartbeat", summary="Mark cameras online (or offline) as of now")
async def heartbeat(body: Heartbeat, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Cameras named are online now, or as their ``status`` says.

    Codes of no camera in your area come back as ``unknown`` and change nothing. A camera that
    sent heartbeats and then stays silent for ``WANGGE_CAMERA_OFFLINE_AFTER_S`` is marked
    offline by the sweep.
    """
    beats: dict[str, bool] = {}
    for item in body.cameras:  # a code given twice: the last word counts
        if isinstance(item, str):
            beats[item] = True
        else:
            beats[item.code] = item.status == "online"
    return await cameras.heartbeat(conn, beats, principal)


class EventTarget(Location):
    """Where in the picture the platform located the thing, as a point in a named system."""


class NewCameraEvent(Strict):
    """One detection from a camera platform (AI or a patrolling operator)."""

    camera: CameraCode = Field(description="the camera's code")
    type: Annotated[Line, Field(min_length=1, max_length=64, description="the platform's event type, "
                                "mapped to a catalogue code (GET /camera-events/types)")]
    confidence: float = Field(ge=0, le=1)
    time: datetime = Field(description="when it was seen; no offset means China time")
    snapshot_url: Annotated[Line, Field(max_length=2000, pattern=r"^(https?|rtsp|rtmp|ftp)://\S+$")] | None = None
    target: EventTarget | None = Field(default=None, description="default: the middle of the camera's view")


def _event_time(at: datetime) -> datetime:
    """The event's time, aware; refused when more than five minutes ahead of ours."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=CHINA_TIME)
    if at > datetime.now(UTC) + FUTURE_SLACK:
        raise InvalidInput("time is more than 5 minutes in the future", errors=[
            {"field": "time", "message": "more than 5 minutes in the future"}])
    return at


@router.post("/camera-events", status_code=201, summary="A camera's detection: file, update or ignore a case")
async def camera_event(body: NewCameraEvent, request: Request, conn: ConnDep,
                       principal: CurrentPrincipal) -> Response:
    """File, update or ignore a case for one camera detection.

    The type maps to a catalogue code; the case lies at ``target`` or the middle of the camera's
    view. ``ignored`` under the confidence threshold; ``updated`` when an open case of that
    category lies within its duplicate radius and window (the snapshot joins the case's media,
    its log gets a ``camera_event`` entry); else ``created`` through the normal intake (201).
    The same event sent again (camera, type, time) answers what it did the first time (200,
    ``replayed``).
    """
    target, raw = None, None
    if body.target is not None:
        point = normalize_point(body.target.lon, body.target.lat, body.target.crs)
        target, raw = (point.lon, point.lat), (point.x, point.y, point.crs.name)
    event = camera_events.CameraEvent(body.camera, body.type, body.confidence, _event_time(body.time),
                                      body.snapshot_url, target, raw)
    settings = request.app.state.settings
    done = await camera_events.receive(conn, event, principal, intake_options(request),
                                       settings.camera_event_min_confidence)
    answer: dict[str, Any] = {
        "event": done.event_id, "outcome": done.outcome, "replayed": done.replayed, "camera": body.camera,
        "type": body.type, "category": done.category_code, "confidence": body.confidence,
        "threshold": done.threshold, "location": {"lon": done.lon, "lat": done.lat, "placed_at": done.placed_at},
        "incident": None}
    headers = {}
    if done.incident_id is not None:
        case = await incidents.read_case(conn, done.incident_id, principal)
        answer["incident"] = {**case, "cameras": await cameras.linked_cameras(conn, case["lon"], case["lat"])}
        headers["Location"] = f"/incidents/{done.incident_id}"
    created = done.outcome == "created" and not done.replayed
    return json_response(answer, status_code=201 if created else 200, headers=headers)


class EventTypeIn(Strict):
    """A platform event type and the catalogue code its cases get."""

    type: Annotated[Line, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    category_code: Annotated[Line, Field(min_length=1, max_length=16)]
    name: Annotated[Line, Field(max_length=100)] = ""
    min_confidence: float | None = Field(default=None, ge=0, le=1, description="default: the service's setting")


class EventTypes(Strict):
    """The mapping to store; ``replace`` drops the types not listed."""

    types: list[EventTypeIn] = Field(min_length=1, max_length=1000)
    replace: bool = False


@router.get("/camera-events/types", summary="Camera event types and the catalogue codes they map to")
async def list_event_types(request: Request, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The mapping, with the service's default confidence threshold for types without their own."""
    return {"min_confidence": request.app.state.settings.camera_event_min_confidence,
            "types": await camera_events.event_types(conn)}


@router.put("/camera-events/types", summary="Import camera event types (admins)")
async def put_event_types(body: EventTypes, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Upsert the mapping by type, all or nothing: 422 lists every unknown catalogue code."""
    if len({t.type for t in body.types}) != len(body.types):
        raise InvalidInput("a type is listed twice")
    types = [camera_events.EventType(t.type, t.category_code, t.name, t.min_confidence) for t in body.types]
    return await camera_events.put_event_types(conn, types, principal, body.replace)
