"""Alarms in the database: two writers never open two cases; the rule clock flags offline once and raises."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from layers.actors import Actor
from layers.sensing import alarms, readings

OPERATOR = Actor("test", "operator", "340111")


def _alarm(url: str, code: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT w.alarm_level_cm FROM sensors AS s JOIN waterlogging_points AS w "
                           "ON w.code = s.watches WHERE s.code = %s", (code,)).fetchone()
    assert row is not None
    return float(row[0])


def _cases(url: str, code: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM incidents WHERE channel = 'sensor' "
                                           "AND attributes->>'sensor' = %s", (code,))]


async def _store(url: str, items: list[dict]) -> readings.Outcome:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return await readings.store(conn, items, OPERATOR, readings.ReadingOptions())


def test_concurrent_batches_open_one_case(demo_rw: str) -> None:
    code = "RADAR-00004"
    alarm = _alarm(demo_rw, code)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # each batch alone completes the duration; eight of them race, with different times
    batches = [[{"sensor": code, "time": (start + timedelta(seconds=k * 3 + i * 61)).isoformat(),
                 "value": alarm + 1} for i in range(2)] for k in range(8)]

    async def race() -> list[readings.Outcome]:
        return await asyncio.gather(*(_store(demo_rw, b) for b in batches))

    outcomes = asyncio.run(race())
    assert sum(o.stored for o in outcomes) == 16
    opened = [a for o in outcomes for a in o.alarms if a["action"] in ("open", "reopen")]
    assert len(opened) == 1 and len(_cases(demo_rw, code)) == 1


def test_the_clock_flags_offline_once_and_raises_a_pending_alarm(demo_rw: str) -> None:
    code = "RADAR-00005"
    alarm = _alarm(demo_rw, code)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    options = alarms.AlarmOptions()

    async def tick(at: datetime) -> list[dict]:
        async with await psycopg.AsyncConnection.connect(demo_rw, autocommit=True, row_factory=dict_row) as conn:
            return await alarms.tick(conn, at, options)

    asyncio.run(_store(demo_rw, [{"sensor": code, "time": t0.isoformat(), "value": alarm + 2}]))
    assert asyncio.run(tick(t0 + timedelta(seconds=30))) == []
    # the duration passes with no new reading: the clock raises the alarm, one case
    raised = asyncio.run(tick(t0 + timedelta(seconds=61)))
    assert [a["action"] for a in raised] == ["open"] and len(_cases(demo_rw, code)) == 1
    # quiet for the offline time: flagged once, not again
    assert [a["action"] for a in asyncio.run(tick(t0 + timedelta(seconds=900)))] == ["offline"]
    assert asyncio.run(tick(t0 + timedelta(seconds=1900))) == []
    with psycopg.connect(demo_rw) as conn:
        level, offline = conn.execute("SELECT st.level, st.offline FROM sensor_states AS st JOIN sensors AS s "
                                      "ON s.id = st.sensor_id WHERE s.code = %s", (code,)).fetchone()
    assert (level, offline) == ("alarm", True)
    back = asyncio.run(_store(demo_rw, [{"sensor": code, "time": (t0 + timedelta(seconds=1950)).isoformat(),
                                         "value": 0.0}]))
    assert [a["action"] for a in back.alarms] == ["online", "clear"] and len(_cases(demo_rw, code)) == 1
