"""Carry out what the alarm rules ask: one ongoing case per alarm, through the normal intake.

Called inside the transaction that stored the readings. The sensors' state
rows are locked ``FOR UPDATE`` in id order before the rule runs, so two
batches (HTTP, MQTT, SensorThings, or two service processes) for the same
sensor are evaluated one after the other and never open two cases.

What the rule's actions do to the case (``channel = 'sensor'``, the
configured waterlogging category, filed by the actor ``sensor <code>`` with
the operator role in the sensor's district, located, keyed to its grid and
given its nearest free team like any intake):

- ``open``: a new case; its ``attributes`` hold the sensor's code, levels,
  peak, last value and time above, updated by later readings (no new case).
- ``clear``: a ``sensor_clear`` event in the case's log (value, peak, time
  above); a case being handled then moves on to ``feedback``, the state
  that waits for verification (核查), through the loop's own action. A case
  not yet handled keeps its state: the clearing is in its log for whoever
  verifies it.
- ``reopen`` (raised again within the cool-down): a ``sensor_alarm`` event on
  the same case; a case in ``feedback`` or ``verified`` is returned to the
  team (the loop's ``return``). A case that has ended meanwhile (closed,
  rejected, duplicate) cannot reopen: a new case is filed.
- ``offline``/``online``: the state's flag only.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from layers import incidents, loop
from layers.actors import Actor
from layers.errors import WanggeError
from layers.rows import all_rows, one_row
from layers.sensing.rules import Action, State, on_readings, on_tick
from layers.sensing.sensors import Sensor, by_ids

log = logging.getLogger(__name__)

DEFAULT_CATEGORY = "10.04"  # 道路积水 in the demo catalogue (layers/demo/catalogue.py)

_STATE_COLUMNS = ("level", "since", "pending_since", "peak", "last_value", "last_time", "time_above_s",
                  "offline", "case_id", "cleared_at")

_SAVE = ("UPDATE sensor_states SET " + ", ".join(f"{c} = %({c})s" for c in _STATE_COLUMNS)
         + ", updated_at = now() WHERE sensor_id = %(sensor_id)s")

_EVENT = """
    INSERT INTO incident_events (incident_id, district_code, actor, role, action,
                                 from_status, to_status, reason, details)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


@dataclass
class AlarmOptions:
    """How alarms become cases: the category and the intake's tunables."""

    category: str = DEFAULT_CATEGORY
    intake: incidents.IntakeOptions = field(default_factory=incidents.IntakeOptions)


def _state(row: dict[str, Any]) -> State:
    return State(**{c: row[c] for c in _STATE_COLUMNS})


async def lock_states(conn: AsyncConnection, sensor_ids: list[int]) -> dict[int, State]:
    """The rule states of ``sensor_ids`` (created when missing), locked for this transaction."""
    ids = sorted(set(sensor_ids))
    await conn.execute("INSERT INTO sensor_states (sensor_id) SELECT unnest(%s::int[]) ON CONFLICT DO NOTHING",
                       (ids,))
    rows = await all_rows(conn, "SELECT * FROM sensor_states WHERE sensor_id = ANY(%s) ORDER BY sensor_id "
                          "FOR UPDATE", (ids,))
    return {row["sensor_id"]: _state(row) for row in rows}


async def _save(conn: AsyncConnection, states: dict[int, State]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(_SAVE, [{**asdict(s), "sensor_id": sid} for sid, s in states.items()])


def _actor(sensor: Sensor) -> Actor:
    return Actor(f"sensor {sensor.code}", "operator", (sensor.district_code or "").strip())


def _details(sensor: Sensor, state: State) -> dict[str, Any]:
    t = sensor.thresholds
    return {"sensor": sensor.code, "unit": sensor.unit, "alarm_level": t.alarm, "clear_level": t.clear_level,
            "peak": state.peak, "last_value": state.last_value, "time_above_s": round(state.time_above_s, 1),
            "since": state.pending_since.isoformat() if state.pending_since else None,
            "last_time": state.last_time.isoformat() if state.last_time else None, "alarm": state.level == "alarm"}


async def _event(conn: AsyncConnection, case: dict[str, Any], sensor: Sensor, action: str, reason: str,
                 details: dict[str, Any]) -> None:
    await conn.execute(_EVENT, (case["id"], case["district_code"], _actor(sensor).name, "operator", action,
                                case["status"], case["status"], reason, Jsonb(details)))


async def _open(conn: AsyncConnection, sensor: Sensor, state: State, options: AlarmOptions) -> int | None:
    t = sensor.thresholds
    new = incidents.NewCase(
        category=options.category, channel="sensor",
        description=(f"{sensor.name}（{sensor.code}）读数 {state.peak:g} {sensor.unit}，"
                     f"达到报警线 {t.alarm:g} {sensor.unit}"),
        lon=sensor.lon, lat=sensor.lat, raw_x=sensor.lon, raw_y=sensor.lat, raw_crs="wgs84",
        idempotency_key=f"sensor-{sensor.id}-{state.pending_since.isoformat() if state.pending_since else ''}",
        attributes=_details(sensor, state))
    try:
        async with conn.transaction():
            answer, _ = await incidents.intake(conn, new, _actor(sensor), options.intake)
    except WanggeError as exc:
        # a sensor outside the territory, a category the catalogue lacks: the alarm
        # stands (and shows on the sensor), the case cannot be filed; say so loudly
        log.error("sensor %s alarm: no case filed: %s", sensor.code, exc.public)
        return None
    return int(answer["id"])


async def _case(conn: AsyncConnection, case_id: int) -> dict[str, Any] | None:
    return await one_row(conn, "SELECT id, district_code, status FROM incidents WHERE id = %s FOR UPDATE",
                         (case_id,))


async def _reopen(conn: AsyncConnection, sensor: Sensor, state: State, options: AlarmOptions) -> int | None:
    case = await _case(conn, state.case_id) if state.case_id is not None else None
    if case is None or case["status"] in loop.ENDED_STATES:
        return await _open(conn, sensor, state, options)
    reason = "传感器再次达到报警线（冷却期内）: the level rose above the alarm level again within the cool-down"
    await _event(conn, case, sensor, "sensor_alarm", reason, _details(sensor, state))
    if case["status"] in loop.TRANSITIONS["return"].sources:
        await incidents.act(conn, case["id"], "return", _actor(sensor), reason=reason)
    return int(case["id"])


async def _clear(conn: AsyncConnection, sensor: Sensor, state: State) -> None:
    case = await _case(conn, state.case_id) if state.case_id is not None else None
    if case is None:
        return
    await conn.execute("UPDATE incidents SET attributes = %s, updated_at = now() WHERE id = %s",
                       (Jsonb(_details(sensor, state)), case["id"]))
    if case["status"] in loop.ENDED_STATES:
        return
    reason = f"读数回落到解除线以下: {state.last_value:g} {sensor.unit} < {sensor.thresholds.clear_level:g}"
    await _event(conn, case, sensor, "sensor_clear", reason, _details(sensor, state))
    if case["status"] in loop.TRANSITIONS["feedback"].sources:
        await incidents.act(conn, case["id"], "feedback", _actor(sensor), reason=reason)


async def _carry_out(conn: AsyncConnection, sensor: Sensor, state: State, actions: list[Action],
                     options: AlarmOptions) -> State:
    touched = False
    for action in actions:
        if action.kind == "open":
            state = State(**{**asdict(state), "case_id": await _open(conn, sensor, state, options)})
        elif action.kind == "reopen":
            state = State(**{**asdict(state), "case_id": await _reopen(conn, sensor, state, options)})
        elif action.kind == "clear":
            await _clear(conn, sensor, state)
            touched = False
            continue
        touched = touched or action.kind in ("open", "reopen", "update")
    if touched and state.level == "alarm" and state.case_id is not None:
        # one update per batch however many readings it held
        await conn.execute("UPDATE incidents SET attributes = %s, updated_at = now() WHERE id = %s",
                           (Jsonb(_details(sensor, state)), state.case_id))
    return state


async def evaluate(conn: AsyncConnection, sensors: dict[int, Sensor],
                   readings: dict[int, list[tuple[datetime, float]]], options: AlarmOptions) -> list[dict[str, Any]]:
    """Run each sensor's rule over its new readings (time order) and act; return what happened.

    Must run inside a transaction: the states stay locked until it commits.
    """
    states = await lock_states(conn, list(readings))
    happened: list[dict[str, Any]] = []
    for sensor_id in sorted(readings):
        sensor, state = sensors[sensor_id], states[sensor_id]
        state, actions = on_readings(state, sensor.thresholds, sorted(readings[sensor_id]))
        states[sensor_id] = await _carry_out(conn, sensor, state, actions, options)
        happened.extend({"sensor": sensor.code, "action": a.kind, "time": a.time.isoformat(),
                         "case_id": states[sensor_id].case_id}
                        for a in actions if a.kind not in ("update",))
    await _save(conn, states)
    return happened


async def tick(conn: AsyncConnection, now: datetime, options: AlarmOptions) -> list[dict[str, Any]]:
    """The clock's turn: raise alarms whose duration passed, flag sensors gone quiet (once each)."""
    async with conn.transaction():
        due = await all_rows(conn, """
            SELECT st.sensor_id FROM sensor_states AS st JOIN sensors AS s ON s.id = st.sensor_id
            WHERE NOT st.offline AND st.last_time IS NOT NULL
              AND (st.last_time <= %(now)s - s.offline_after_s * interval '1 second'
                   OR (st.pending_since IS NOT NULL AND st.level <> 'alarm'
                       AND st.pending_since <= %(now)s - s.min_duration_s * interval '1 second'))
            ORDER BY st.sensor_id FOR UPDATE OF st SKIP LOCKED""", {"now": now})
        if not due:
            return []
        ids = [row["sensor_id"] for row in due]
        sensors = await by_ids(conn, ids)
        rows = await all_rows(conn, "SELECT * FROM sensor_states WHERE sensor_id = ANY(%s)", (ids,))
        states = {row["sensor_id"]: _state(row) for row in rows}
        happened: list[dict[str, Any]] = []
        for sensor_id in ids:
            state, actions = on_tick(states[sensor_id], sensors[sensor_id].thresholds, now)
            states[sensor_id] = await _carry_out(conn, sensors[sensor_id], state, actions, options)
            happened.extend({"sensor": sensors[sensor_id].code, "action": a.kind, "time": a.time.isoformat(),
                             "case_id": states[sensor_id].case_id} for a in actions)
        await _save(conn, states)
        return happened
