"""OGC SensorThings API v1.1, the subset a sensor gateway needs, mapped onto wangge's sensors.

- Each sensor is one **Thing** and one **Datastream**, both with the
  sensor's id as ``@iot.id`` (a Datastream's Thing is the sensor itself).
- An **Observation** is one reading: ``phenomenonTime`` (an instant, or an
  interval ``start/end`` whose start is taken), ``result`` (a number),
  ``resultTime`` (the same instant). Its ``@iot.id`` is the text
  ``"<sensor id>-<epoch milliseconds>"``, as readings are keyed by sensor and
  time; the same sensor and time posted twice is one reading.
- ``POST /sta/v1.1/Observations`` (with ``"Datastream": {"@iot.id": n}``) and
  ``POST /sta/v1.1/Datastreams(n)/Observations`` answer 201 with the entity and
  its ``Location``, after going through the same validation, storage and
  alarm rules as ``POST /sensors/readings``; a refused reading is 422
  ``{"detail", "code", "errors"}``.
- Reading: the service root, ``Things``, ``Things(n)``, ``Things(n)/Datastreams``,
  ``Datastreams``, ``Datastreams(n)``, ``Datastreams(n)/Observations``
  (newest first) and ``Observations('id')``, with ``$top`` (at most 1,000),
  ``$skip`` and ``$count``; only the token's area. Not implemented:
  ``$filter``, ``$expand``, ``$select``, the other entity types, updates.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from api.auth import CurrentPrincipal, Principal
from api.deps import ConnDep
from api.sensing import reading_options
from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows, one_row
from layers.sensing import readings, sensors
from layers.sensing.sensors import Sensor

router = APIRouter(prefix="/sta/v1.1", tags=["sensorthings"])

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
UNITS = {"cm": ("centimetre", "cm", "http://qudt.org/vocab/unit/CentiM"),
         "m": ("metre", "m", "http://qudt.org/vocab/unit/M"),
         "mm": ("millimetre", "mm", "http://qudt.org/vocab/unit/MilliM")}
ENTITY_ID = Annotated[int, Path(ge=1, le=2**31 - 1, description="the sensor's id")]
OBSERVATION_ID = re.compile(r"^'?([0-9]{1,10})-([0-9]{1,15})'?$")
Top = Annotated[int, Query(alias="$top", ge=0, le=1000)]
Skip = Annotated[int, Query(alias="$skip", ge=0, le=10_000_000)]
Count = Annotated[bool, Query(alias="$count")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _thing(base: str, s: Sensor) -> dict[str, Any]:
    link = f"{base}/Things({s.id})"
    return {"@iot.id": s.id, "@iot.selfLink": link, "name": s.code, "description": s.name,
            "properties": {"kind": s.kind, "watches": s.watches, "district_code": s.district_code,
                           "community_code": s.community_code,
                           "location": {"type": "Point", "coordinates": [s.lon, s.lat]}},
            "Datastreams@iot.navigationLink": f"{link}/Datastreams"}


def _datastream(base: str, s: Sensor) -> dict[str, Any]:
    link = f"{base}/Datastreams({s.id})"
    name, symbol, definition = UNITS.get(s.unit, (s.unit, s.unit, ""))
    return {"@iot.id": s.id, "@iot.selfLink": link, "name": f"{s.code} {s.kind}", "description": s.name,
            "observationType": MEASUREMENT,
            "unitOfMeasurement": {"name": name, "symbol": symbol, "definition": definition},
            "Thing@iot.navigationLink": f"{link}/Thing",
            "Observations@iot.navigationLink": f"{link}/Observations"}


def _observation_id(sensor_id: int, time: datetime) -> str:
    return f"{sensor_id}-{round(time.timestamp() * 1000)}"


def _observation(base: str, sensor_id: int, time: datetime, value: float) -> dict[str, Any]:
    key = _observation_id(sensor_id, time)
    instant = time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"@iot.id": key, "@iot.selfLink": f"{base}/Observations('{key}')", "phenomenonTime": instant,
            "resultTime": instant, "result": value,
            "Datastream@iot.navigationLink": f"{base}/Observations('{key}')/Datastream"}


def _page(request: Request, values: list[dict[str, Any]], top: int, skip: int, count: int | None) -> dict[str, Any]:
    page: dict[str, Any] = {}
    if count is not None:
        page["@iot.count"] = count
    page["value"] = values
    if len(values) == top and top > 0:
        url = request.url.include_query_params(**{"$skip": skip + top, "$top": top})
        page["@iot.nextLink"] = str(url).replace("%24", "$")  # SensorThings clients write $top, not %24top
    return page


async def _sensor(conn: ConnDep, principal: Principal, sensor_id: int) -> Sensor:
    found = (await sensors.by_ids(conn, [sensor_id])).get(sensor_id)
    if found is None or not principal.covers(found.place_code):
        raise NotFound(f"no Datastream or Thing {sensor_id}")
    return found


async def _in_area(conn: ConnDep, principal: Principal, top: int, skip: int,
                   count: bool) -> tuple[list[Sensor], int | None]:
    found = await sensors.in_area(conn, principal.area, top, skip)
    total = None
    if count:
        row = await one_row(conn, """SELECT count(*) AS n FROM sensors
            WHERE starts_with(COALESCE(community_code, district_code), %s)""", (principal.area,))
        total = int(row["n"]) if row else 0
    return found, total


@router.get("", summary="SensorThings service root")
async def root(request: Request) -> dict[str, Any]:
    """The entity sets served here and the conformance classes met."""
    base = _base(request)
    return {"value": [{"name": name, "url": f"{base}/{name}"} for name in ("Things", "Datastreams", "Observations")],
            "serverSettings": {"conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/create-entity"]}}


@router.get("/Things", summary="Things: one per sensor")
async def things(request: Request, conn: ConnDep, principal: CurrentPrincipal, top: Top = 100, skip: Skip = 0,
                 count: Count = False) -> dict[str, Any]:
    """The sensors of the token's area as Things."""
    found, total = await _in_area(conn, principal, top, skip, count)
    base = _base(request)
    return _page(request, [_thing(base, s) for s in found], top, skip, total)


@router.get("/Things({thing_id})", summary="One Thing")
async def thing(request: Request, thing_id: ENTITY_ID, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """A sensor as a Thing."""
    return _thing(_base(request), await _sensor(conn, principal, thing_id))


@router.get("/Things({thing_id})/Datastreams", summary="A Thing's Datastreams")
async def thing_datastreams(request: Request, thing_id: ENTITY_ID, conn: ConnDep,
                            principal: CurrentPrincipal) -> dict[str, Any]:
    """The one Datastream of the sensor."""
    return {"value": [_datastream(_base(request), await _sensor(conn, principal, thing_id))]}


@router.get("/Datastreams", summary="Datastreams: one per sensor")
async def datastreams(request: Request, conn: ConnDep, principal: CurrentPrincipal, top: Top = 100, skip: Skip = 0,
                      count: Count = False) -> dict[str, Any]:
    """The sensors of the token's area as Datastreams."""
    found, total = await _in_area(conn, principal, top, skip, count)
    base = _base(request)
    return _page(request, [_datastream(base, s) for s in found], top, skip, total)


@router.get("/Datastreams({datastream_id})", summary="One Datastream")
async def datastream(request: Request, datastream_id: ENTITY_ID, conn: ConnDep,
                     principal: CurrentPrincipal) -> dict[str, Any]:
    """A sensor's readings stream."""
    return _datastream(_base(request), await _sensor(conn, principal, datastream_id))


@router.get("/Datastreams({datastream_id})/Thing", summary="A Datastream's Thing")
async def datastream_thing(request: Request, datastream_id: ENTITY_ID, conn: ConnDep,
                           principal: CurrentPrincipal) -> dict[str, Any]:
    """The sensor the stream belongs to."""
    return _thing(_base(request), await _sensor(conn, principal, datastream_id))


@router.get("/Datastreams({datastream_id})/Observations", summary="A Datastream's Observations")
async def datastream_observations(request: Request, datastream_id: ENTITY_ID, conn: ConnDep,
                                  principal: CurrentPrincipal, top: Top = 100, skip: Skip = 0,
                                  count: Count = False) -> dict[str, Any]:
    """The sensor's readings, newest first."""
    s = await _sensor(conn, principal, datastream_id)
    rows = await all_rows(conn, "SELECT time, value FROM sensor_readings WHERE sensor_id = %s "
                          "ORDER BY time DESC LIMIT %s OFFSET %s", (s.id, top, skip))
    total = None
    if count:
        row = await one_row(conn, "SELECT count(*) AS n FROM sensor_readings WHERE sensor_id = %s", (s.id,))
        total = int(row["n"]) if row else 0
    base = _base(request)
    return _page(request, [_observation(base, s.id, r["time"], r["value"]) for r in rows], top, skip, total)


def _parse_observation_id(key: str) -> tuple[int, datetime]:
    match = OBSERVATION_ID.match(key)
    if match is None or int(match[1]) >= 2**31 or int(match[2]) > 10**14:
        raise NotFound(f"no Observation {key[:40]}")
    return int(match[1]), datetime.fromtimestamp(int(match[2]) / 1000, UTC)


@router.get("/Observations({observation_id})", summary="One Observation")
async def observation(request: Request, observation_id: Annotated[str, Path(max_length=40)], conn: ConnDep,
                      principal: CurrentPrincipal) -> dict[str, Any]:
    """One reading, by the id its post answered."""
    sensor_id, time = _parse_observation_id(observation_id)
    s = await _sensor(conn, principal, sensor_id)
    row = await one_row(conn, "SELECT time, value FROM sensor_readings WHERE sensor_id = %s AND time = %s",
                        (s.id, time))
    if row is None:
        raise NotFound(f"no Observation {observation_id[:40]}")
    return _observation(_base(request), s.id, row["time"], row["value"])


OBSERVATION_DOC = ("An Observation: `phenomenonTime` (ISO 8601 instant or interval), `result` (a number), "
                   "`resultTime` (optional), and on `/Observations` the `Datastream` as `{\"@iot.id\": n}`.")


def _phenomenon_time(raw: object) -> object:
    # an interval start/end: the observation is filed at its start
    return raw.split("/", 1)[0] if isinstance(raw, str) and "/" in raw else raw


async def _create(request: Request, conn: ConnDep, principal: Principal, sensor_id: int,
                  body: dict[str, Any], response: Response) -> dict[str, Any]:
    principal.require_role("sensor", "operator")
    s = await _sensor(conn, principal, sensor_id)
    item = {"sensor": s.code, "time": _phenomenon_time(body.get("phenomenonTime", body.get("resultTime"))),
            "value": body.get("result")}
    outcome = await readings.store(conn, [item], principal, reading_options(request.app))
    if outcome.errors:
        error = outcome.errors[0]
        raise InvalidInput(f"the Observation was refused: {error['detail']}",
                           errors=[{"field": "result" if "value" in error["detail"] else "phenomenonTime",
                                    "message": error["code"]}])
    time = readings.parse_time(item["time"])
    assert time is not None  # the store accepted it
    entity = _observation(_base(request), s.id, time, float(body["result"]))
    response.status_code = 201
    response.headers["Location"] = entity["@iot.selfLink"]
    return entity


def _datastream_ref(body: dict[str, Any]) -> int:
    ref = body.get("Datastream")
    key = ref.get("@iot.id") if isinstance(ref, dict) else None
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if not isinstance(key, int) or isinstance(key, bool) or not 1 <= key < 2**31:
        raise InvalidInput("an Observation names its Datastream: {\"Datastream\": {\"@iot.id\": <id>}}",
                           errors=[{"field": "Datastream", "message": "missing or not an id"}])
    return key


@router.post("/Observations", status_code=201, summary="Create an Observation")
async def create_observation(request: Request, conn: ConnDep, principal: CurrentPrincipal, response: Response,
                             body: Annotated[dict[str, Any], Body(description=OBSERVATION_DOC)]) -> dict[str, Any]:
    """Store one reading of the Datastream (sensor) the body names; 201 with its Location."""
    return await _create(request, conn, principal, _datastream_ref(body), body, response)


@router.post("/Datastreams({datastream_id})/Observations", status_code=201,
             summary="Create an Observation in a Datastream")
async def create_datastream_observation(request: Request, datastream_id: ENTITY_ID, conn: ConnDep,
                                        principal: CurrentPrincipal, response: Response,
                                        body: Annotated[dict[str, Any], Body(description=OBSERVATION_DOC)],
                                        ) -> dict[str, Any]:
    """Store one reading of this Datastream (sensor); 201 with its Location."""
    return await _create(request, conn, principal, datastream_id, body, response)
