"""Readings in: the one validation and storage path of HTTP batches, MQTT messages and SensorThings posts.

An item is ``{"sensor": code, "time": ISO 8601 (an offset, or China time
without one) or epoch seconds, "value": number}``. Each bad item is reported
by its index and code (``invalid_item``, ``unknown_sensor``,
``outside_area``, ``not_finite``, ``future_time`` more than five minutes
ahead of the server's clock, ``too_old`` before the retention window) and
the good ones are stored. The same sensor and time twice, in one batch or
across batches, is one reading (the first value wins).

The good items are written in one transaction: the months they fall in are
prepared (:func:`prepare_months`), the rows inserted from arrays with ``ON
CONFLICT DO NOTHING``, the watched waterlogging points get their latest
level, and the alarm rules run on the new readings
(:func:`layers.sensing.alarms.evaluate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from psycopg import AsyncConnection

from layers.actors import Actor
from layers.rows import all_rows, one_row
from layers.sensing import alarms
from layers.sensing.sensors import Sensor, by_codes

MAX_BATCH = 10_000
FUTURE_SLACK = timedelta(minutes=5)
CHINA = timezone(timedelta(hours=8))


@dataclass
class ReadingOptions:
    """Tunables of the readings path, from the settings."""

    retention_months: int = 24
    alarms: alarms.AlarmOptions = field(default_factory=alarms.AlarmOptions)


@dataclass
class Outcome:
    """What a batch did: stored, duplicates, refused items by index, alarm actions."""

    received: int
    stored: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "rejected": len(self.errors), "errors": self.errors, "alarms": self.alarms}


def _error(index: int, code: str, detail: str) -> dict[str, Any]:
    return {"index": index, "code": code, "detail": detail}


def parse_time(raw: object) -> datetime | None:
    """An aware datetime from ISO 8601 text or epoch seconds; None when it is neither."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or not 0 <= raw < 1e11:
            return None
        return datetime.fromtimestamp(raw, UTC)
    if not isinstance(raw, str) or not 10 <= len(raw) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA)


def _shape(index: int, item: object) -> tuple[str, datetime, float] | dict[str, Any]:
    """The item's sensor code, time and value, or the error for it."""
    if not isinstance(item, dict):
        return _error(index, "invalid_item", "each reading is an object {sensor, time, value}")
    sensor, raw_time, value = item.get("sensor"), item.get("time"), item.get("value")
    if not isinstance(sensor, str) or not 0 < len(sensor) <= 100 or not sensor.isprintable():
        return _error(index, "invalid_item", "sensor must be the sensor's code (text)")
    time = parse_time(raw_time)
    if time is None:
        return _error(index, "invalid_item", "time must be ISO 8601 text or epoch seconds")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _error(index, "invalid_item", "value must be a number")
    if not math.isfinite(value):
        return _error(index, "not_finite", "value must be a finite number")
    return sensor, time, float(value)


def horizon(now: datetime, retention_months: int) -> datetime:
    """The oldest time kept: the start of the month ``retention_months`` before this one (UTC)."""
    year, month = now.year, now.month - retention_months
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC)


async def validate(conn: AsyncConnection, items: Sequence[object], actor: Actor, now: datetime,
                   retention_months: int) -> tuple[list[tuple[Sensor, datetime, float]], list[dict[str, Any]]]:
    """Split ``items`` into good readings and errors by index (see the module docstring)."""
    shaped: list[tuple[int, str, datetime, float]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        result = _shape(index, item)
        if isinstance(result, dict):
            errors.append(result)
        else:
            shaped.append((index, *result))
    known = await by_codes(conn, sorted({code for _, code, _, _ in shaped}))
    covered = {code: actor.covers(sensor.place_code) for code, sensor in known.items()}
    latest, oldest = now + FUTURE_SLACK, horizon(now, retention_months)
    good: list[tuple[Sensor, datetime, float]] = []
    for index, code, time, value in shaped:
        sensor = known.get(code)
        if sensor is None:
            errors.append(_error(index, "unknown_sensor", f"no sensor {code[:40]!r}"))
        elif not covered[code]:
            errors.append(_error(index, "outside_area", f"sensor {code[:40]!r} is outside your area {actor.area}"))
        elif time > latest:
            errors.append(_error(index, "future_time", "time is more than 5 minutes ahead of the server's clock"))
        elif time < oldest:
            errors.append(_error(index, "too_old", f"time is before {oldest.date()}, outside the retention"))
        else:
            good.append((sensor, time, value))
    errors.sort(key=lambda e: e["index"])
    return good, errors


# months known to have a partition, per database (host, port, name); a month is
# only ever dropped once it is past the retention, and older readings are refused
_prepared: set[tuple[str, str, str, datetime]] = set()


def _month(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC)


async def prepare_months(conn: AsyncConnection, times: list[datetime]) -> int:
    """Create the monthly partitions ``times`` fall in that do not exist yet; return how many were made.

    Runs as its own statement (the connection is in autocommit), outside the
    batch's transaction, so the lock that serializes partition creation is
    held for one statement only.
    """
    info = conn.info
    where = (info.host, str(info.port), info.dbname)
    first, last = _month(min(times)), _month(max(times))
    months = [first]
    while months[-1] < last:
        m = months[-1]
        months.append(m.replace(year=m.year + 1, month=1) if m.month == 12 else m.replace(month=m.month + 1))
    missing = [m for m in months if (*where, m) not in _prepared]
    if not missing:
        return 0
    row = await one_row(conn, "SELECT wangge_reading_partitions(%s, %s) AS made", (missing[0], missing[-1]))
    _prepared.update((*where, m) for m in months)
    return int(row["made"]) if row else 0


def forget_prepared() -> None:
    """Forget which months were prepared (after partitions are dropped by hand)."""
    _prepared.clear()


async def drop_old_months(conn: AsyncConnection, retention_months: int) -> int:
    """Drop the readings' months that ended before the retention window; return how many."""
    row = await one_row(conn, "SELECT wangge_drop_reading_partitions(%s) AS dropped", (retention_months,))
    dropped = int(row["dropped"]) if row else 0
    if dropped:
        forget_prepared()
    return dropped


# the arrays go as text literals built here: psycopg's list dumper quotes item by
# item and cost more than the insert itself on a batch of 10,000
_INSERT = """
    INSERT INTO sensor_readings (sensor_id, time, value)
    SELECT * FROM unnest(%s::text::int[], %s::text::timestamptz[], %s::text::float8[])
    ON CONFLICT DO NOTHING
"""


def _array(values: list[str]) -> str:
    # items are digits, ISO 8601 times or float reprs: nothing to quote or escape
    return "{" + ",".join(values) + "}"

# the watched point shows its sensor's latest level (the wall's waterlogging layer)
_LEVELS = """
    UPDATE waterlogging_points AS w SET current_level_cm = greatest(n.value, 0), level_at = n.time
    FROM unnest(%s::text[], %s::timestamptz[], %s::float8[]) AS n(code, time, value)
    WHERE w.code = n.code AND w.level_at < n.time
"""


async def store(conn: AsyncConnection, items: Sequence[object], actor: Actor, options: ReadingOptions,
                now: datetime | None = None) -> Outcome:
    """Validate and store a batch; evaluate the alarm rules on what is new."""
    now = now or datetime.now(UTC)
    outcome = Outcome(len(items))
    good, outcome.errors = await validate(conn, items, actor, now, options.retention_months)
    if not good:
        return outcome
    # the same sensor and time twice in one batch: the first wins
    unique: dict[tuple[int, datetime], tuple[Sensor, datetime, float]] = {}
    for reading in good:
        unique.setdefault((reading[0].id, reading[1]), reading)
    rows = list(unique.values())
    await prepare_months(conn, [r[1] for r in rows])
    sensors = {r[0].id: r[0] for r in rows}
    per_sensor: dict[int, list[tuple[datetime, float]]] = {}
    for sensor, time, value in rows:
        per_sensor.setdefault(sensor.id, []).append((time, value))
    async with conn.transaction():
        cur = await conn.execute(_INSERT, (_array([str(r[0].id) for r in rows]),
                                           _array([r[1].isoformat() for r in rows]),
                                           _array([repr(r[2]) for r in rows])))
        outcome.stored = max(cur.rowcount, 0)
        outcome.duplicates = len(good) - outcome.stored
        await _update_levels(conn, sensors, per_sensor)
        outcome.alarms = await alarms.evaluate(conn, sensors, per_sensor, options.alarms)
    return outcome


async def _update_levels(conn: AsyncConnection, sensors: dict[int, Sensor],
                         per_sensor: dict[int, list[tuple[datetime, float]]]) -> None:
    latest = [(sensors[sid].watches, *max(readings)) for sid, readings in per_sensor.items()
              if sensors[sid].kind == "water_level" and sensors[sid].watches]
    if latest:
        codes, times, values = zip(*latest, strict=True)
        await conn.execute(_LEVELS, (list(codes), list(times), list(values)))


async def series(conn: AsyncConnection, sensor: Sensor, start: datetime, end: datetime,
                 step_s: int | None, limit: int = 10_000) -> list[dict[str, Any]]:
    """Readings of ``sensor`` in ``[start, end)``: raw, or one row per ``step_s`` bucket (min/avg/max/last)."""
    if step_s is None:
        return await all_rows(conn, """
            SELECT time, value FROM sensor_readings
            WHERE sensor_id = %s AND time >= %s AND time < %s ORDER BY time LIMIT %s""",
                              (sensor.id, start, end, limit))
    return await all_rows(conn, """
        SELECT date_bin(%(step)s * interval '1 second', time, %(start)s) AS time,
               min(value) AS min, avg(value) AS avg, max(value) AS max,
               (array_agg(value ORDER BY time DESC))[1] AS last, count(*) AS count
        FROM sensor_readings
        WHERE sensor_id = %(id)s AND time >= %(start)s AND time < %(end)s
        GROUP BY 1 ORDER BY 1 LIMIT %(limit)s""",
                          {"step": step_s, "start": start, "end": end, "id": sensor.id, "limit": limit})
