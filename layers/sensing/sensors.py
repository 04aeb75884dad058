"""Sensors as the rules and routes see them: identity, place and effective thresholds.

A threshold left null on the sensor comes from the waterlogging point it
watches (warn and alarm levels; the clear level falls back to the warn
level in :class:`layers.sensing.rules.Thresholds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from layers.errors import NotFound
from layers.rows import all_rows
from layers.sensing.rules import Thresholds

_SENSORS = """
    SELECT s.id, s.code, s.name, s.kind, s.unit, s.watches, s.district_code, s.community_code,
           ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
           COALESCE(s.warn_level, w.warn_level_cm)::float8 AS warn,
           COALESCE(s.alarm_level, w.alarm_level_cm)::float8 AS alarm,
           s.clear_level::float8 AS clear, s.min_duration_s, s.offline_after_s, s.cooldown_s
    FROM sensors AS s LEFT JOIN waterlogging_points AS w ON w.code = s.watches
"""


@dataclass(frozen=True)
class Sensor:
    """One sensor with its effective thresholds."""

    id: int
    code: str
    name: str
    kind: str
    unit: str
    watches: str | None
    district_code: str | None
    community_code: str | None
    lon: float
    lat: float
    thresholds: Thresholds

    @property
    def place_code(self) -> str:
        """The most precise area code of its place (community, else district; '' outside the territory)."""
        return (self.community_code or self.district_code or "").strip()

    def as_json(self) -> dict[str, Any]:
        """The sensor as routes show it."""
        t = self.thresholds
        return {"id": self.id, "code": self.code, "name": self.name, "kind": self.kind, "unit": self.unit,
                "watches": self.watches, "district_code": self.district_code,
                "community_code": self.community_code, "lon": self.lon, "lat": self.lat,
                "thresholds": {"warn": t.warn, "alarm": t.alarm, "clear": t.clear_level,
                               "min_duration_s": t.min_duration_s, "offline_after_s": t.offline_after_s,
                               "cooldown_s": t.cooldown_s}}


def _sensor(row: dict[str, Any]) -> Sensor:
    return Sensor(row["id"], row["code"], row["name"], row["kind"], row["unit"], row["watches"],
                  row["district_code"], row["community_code"], row["lon"], row["lat"],
                  Thresholds(row["warn"], row["alarm"], row["clear"], row["min_duration_s"],
                             row["offline_after_s"], row["cooldown_s"]))


async def by_codes(conn: AsyncConnection, codes: list[str]) -> dict[str, Sensor]:
    """The sensors among ``codes``, by code."""
    rows = await all_rows(conn, _SENSORS + " WHERE s.code = ANY(%s)", (codes,))
    return {row["code"]: _sensor(row) for row in rows}


async def by_ids(conn: AsyncConnection, ids: list[int]) -> dict[int, Sensor]:
    """The sensors among ``ids``, by id."""
    rows = await all_rows(conn, _SENSORS + " WHERE s.id = ANY(%s)", (ids,))
    return {row["id"]: _sensor(row) for row in rows}


async def one(conn: AsyncConnection, key: str) -> Sensor:
    """A sensor by its code, or by its numeric id; 404 when neither matches."""
    found = await by_codes(conn, [key])
    if key in found:
        return found[key]
    if key.isdigit() and int(key) < 2**31:
        by_id = await by_ids(conn, [int(key)])
        if by_id:
            return next(iter(by_id.values()))
    raise NotFound(f"no sensor {key[:40]!r}")


async def in_area(conn: AsyncConnection, area: str, limit: int, offset: int = 0) -> list[Sensor]:
    """Sensors whose place lies in ``area`` (a code prefix), by id."""
    rows = await all_rows(conn, _SENSORS + """
        WHERE starts_with(COALESCE(s.community_code, s.district_code), %s)
        ORDER BY s.id LIMIT %s OFFSET %s""", (area, limit, offset))
    return [_sensor(row) for row in rows]
