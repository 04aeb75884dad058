"""Sensors: readings in by the batch, series out, and each sensor's alarm state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.sensing import reading_options
from layers.errors import InvalidInput
from layers.rows import all_rows, one_row
from layers.sensing import readings, sensors
from layers.sensing.cameras import linked_cameras

router = APIRouter(tags=["sensors"])
SensorKey = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                                description="the sensor's code (or its numeric id)")]
MAX_POINTS = 10_000

BATCH_DOC = ("Up to 10,000 readings `{sensor, time, value}` (a JSON array, or `{\"readings\": [...]}`): "
             "`sensor` a sensor's code, `time` ISO 8601 (China time without an offset) or epoch seconds, "
             "`value` a finite number in the sensor's unit.")


@router.post("/sensors/readings", summary="Store a batch of readings")
async def post_readings(request: Request, conn: ConnDep, principal: CurrentPrincipal,
                        body: Annotated[list[Any] | dict[str, Any], Body(description=BATCH_DOC)]) -> dict[str, Any]:
    """Store the good readings and report each bad one by its index; the alarm rules run on what is new.

    The same sensor and time twice is one reading. Needs a `sensor` (device)
    token, or an operator's or admin's, whose area covers the sensors. 422
    when no item was usable (nothing stored).
    """
    principal.require_role("sensor", "operator")
    items = body.get("readings") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise InvalidInput("the body is a list of readings, or {\"readings\": [...]}")
    if len(items) > readings.MAX_BATCH:
        raise InvalidInput(f"at most {readings.MAX_BATCH} readings in one batch; this one has {len(items)}")
    if not items:
        raise InvalidInput("the batch holds no readings")
    outcome = await readings.store(conn, items, principal, reading_options(request.app))
    if not outcome.stored and not outcome.duplicates:
        raise InvalidInput("no reading in the batch was usable; nothing was stored", errors=[
            {"field": f"{e['index']}", "message": f"{e['code']}: {e['detail']}"} for e in outcome.errors[:1000]],
            items=outcome.errors[:1000])
    return outcome.as_json()


@router.get("/sensors", summary="Sensors of your area, with their alarm state")
async def list_sensors(conn: ConnDep, principal: CurrentPrincipal,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                       offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
    """Every sensor in the token's area, by id, with its thresholds and rule state."""
    found = await sensors.in_area(conn, principal.area, limit, offset)
    states = await _states(conn, [s.id for s in found])
    return {"sensors": [{**s.as_json(), "state": states.get(s.id)} for s in found]}


async def _states(conn: ConnDep, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await all_rows(conn, """
        SELECT sensor_id, level, since, pending_since, peak, last_value, last_time, time_above_s,
               offline, case_id, cleared_at FROM sensor_states WHERE sensor_id = ANY(%s)""", (ids,))
    return {row.pop("sensor_id"): row for row in rows}


@router.get("/sensors/{sensor}", summary="One sensor and its alarm state")
async def get_sensor(sensor: SensorKey, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Thresholds (the watched point's where the sensor sets none), rule state and the case it opened."""
    found = await sensors.one(conn, sensor)
    principal.require_area(found.place_code)
    state = (await _states(conn, [found.id])).get(found.id)
    case = None
    if state and state["case_id"] is not None:
        case = await one_row(conn, "SELECT id, status, category_code, reported_at, attributes FROM incidents "
                             "WHERE id = %s", (state["case_id"],))
    # the cameras to call up at the sensor's place (layers.sensing.cameras)
    return {**found.as_json(), "state": state, "case": case,
            "cameras": await linked_cameras(conn, found.lon, found.lat)}


def _time(raw: str | None, name: str, default: datetime) -> datetime:
    if raw is None:
        return default
    parsed = readings.parse_time(raw)
    if parsed is None:
        raise InvalidInput(f"{name} must be an ISO 8601 time", errors=[{"field": name, "message": "not a time"}])
    return parsed


@router.get("/sensors/{sensor}/readings", summary="A sensor's readings, raw or downsampled")
async def get_readings(sensor: SensorKey, conn: ConnDep, principal: CurrentPrincipal,
                       start: Annotated[str | None, Query(alias="from", max_length=40,
                                                          description="ISO 8601; default 24 h before `to`")] = None,
                       end: Annotated[str | None, Query(alias="to", max_length=40,
                                                        description="ISO 8601, exclusive; default now")] = None,
                       step: Annotated[int | None, Query(ge=1, le=31 * 86400,
                                                         description="bucket in seconds: min/avg/max/last "
                                                         "per bucket; none: the raw readings")] = None,
                       ) -> dict[str, Any]:
    """Readings in `[from, to)`, at most 10,000 points (raw, or one per `step` seconds)."""
    found = await sensors.one(conn, sensor)
    principal.require_area(found.place_code)
    stop = _time(end, "to", datetime.now(UTC))
    begin = _time(start, "from", stop - timedelta(days=1))
    if begin >= stop:
        raise InvalidInput("from must be before to", errors=[{"field": "from", "message": "not before to"}])
    span = (stop - begin).total_seconds()
    if step is not None and span / step > MAX_POINTS:
        raise InvalidInput(f"from..to / step gives more than {MAX_POINTS} points; take a larger step",
                           errors=[{"field": "step", "message": "too small for the range"}])
    points = await readings.series(conn, found, begin, stop, step, MAX_POINTS)
    t = found.thresholds
    return {"sensor": found.code, "unit": found.unit, "from": begin, "to": stop, "step": step,
            "thresholds": {"warn": t.warn, "alarm": t.alarm, "clear": t.clear_level}, "readings": points}
