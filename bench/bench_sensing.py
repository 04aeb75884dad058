"""Sensor readings in: HTTP batches, MQTT at QoS 1, and an alarm's way to the wall, each with a baseline.

Budgets (issue 10): batch readings over HTTP at least 20,000 readings/s;
MQTT at least 5,000 readings/s sustained at QoS 1; from the reading that
completes an alarm's duration to the case in the wall's live feed
(``/live/{area}/cases``), p99 under 2 s.

- HTTP: batches of 10,000 readings (100 demo sensors × 100 seconds, below
  their warn level) posted one after another by one client, then by two at
  once (the service's two workers), against the same rows written by a bare
  ``COPY`` into the partitioned table, one transaction a batch (the baseline).
- MQTT: every sensor publishes one reading per message (the plain device
  case) and then 20 per message (a gateway), QoS 1, acknowledged by the broker;
  the rate is readings stored per second, from the first publish to the last
  row committed, beside the broker's own delivery rate to a bare subscriber.
- Alarm latency: for each of 30 sensors a reading above its alarm level, then
  one 60 s later (its duration) over MQTT; the time until the new case's id is
  in the live feed of the sensor's street zoomed on it, polled every 20 ms.

Run on the durable store the service uses (a throwaway cluster of its own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import orjson
import paho.mqtt.client as paho
import psycopg

from api.auth import issue_token
from bench.common import served, throwaway_demo
from layers.cluster import free_port
from layers.secrets import token_secret
from layers.sensing.broker import EmbeddedBroker
from layers.sensing.mqtt import topic_for

Sensor = tuple[int, str, float, str, float, float]


def _sensors(url: str) -> list[Sensor]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1], float(r[2]), str(r[3]), r[4], r[5]) for r in conn.execute("""
            SELECT s.id, s.code, w.alarm_level_cm, left(s.community_code, 9), ST_X(s.geom), ST_Y(s.geom)
            FROM sensors AS s JOIN waterlogging_points AS w ON w.code = s.watches ORDER BY s.id""")]


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sensor_readings").fetchone()
    return int(row[0]) if row else 0


def _batches(codes: list[str], start: datetime, batches: int, per_sensor: int = 100) -> list[bytes]:
    out = []
    for b in range(batches):
        base = start + timedelta(seconds=b * per_sensor)
        out.append(orjson.dumps([{"sensor": code, "time": (base + timedelta(seconds=i)).isoformat(), "value": 1.0}
                                 for code in codes for i in range(per_sensor)]))
    return out


def http_batches(base: str, token: str, bodies: list[bytes], clients: int = 1) -> float:
    """Readings/s of the batches posted by ``clients`` clients at once, each one batch after another."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(share: list[bytes]) -> int:
        with httpx.Client(base_url=base, timeout=120) as client:
            stored = 0
            for body in share:
                answer = client.post("/sensors/readings", content=body, headers=headers)
                answer.raise_for_status()
                stored += answer.json()["stored"]
            return stored

    post(bodies[:1])  # warm up
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(post, [bodies[1 + i::clients] for i in range(clients)]))
    return total / (time.perf_counter() - started)


def raw_copy(url: str, ids: list[int], start: datetime, batches: int, per_sensor: int = 100) -> float:
    """Baseline: the same rows by COPY into the partitioned table, one transaction per batch."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        total = 0
        for b in range(batches):
            base = start + timedelta(seconds=b * per_sensor)
            with conn.cursor() as cur, cur.copy("COPY sensor_readings (sensor_id, time, value) FROM STDIN") as copy:
                for sid in ids:
                    for i in range(per_sensor):
                        copy.write_row((sid, base + timedelta(seconds=i), 1.0))
                        total += 1
            conn.commit()
        return total / (time.perf_counter() - started)


def _publisher(port: int) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{time.monotonic_ns()}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def mqtt_rate(url: str, port: int, codes: list[str], start: datetime, rounds: int, per_message: int) -> float:
    """Readings stored per second from the first publish to the last commit."""
    before = _count(url)
    client = _publisher(port)
    expected = before + rounds * per_message * len(codes)
    started = time.perf_counter()
    infos = []
    for r in range(rounds):
        for code in codes:
            base = start + timedelta(seconds=r * per_message)
            payload = orjson.dumps([{"time": (base + timedelta(seconds=i)).isoformat(), "value": 1.0}
                                    for i in range(per_message)])
            infos.append(client.publish(topic_for(code), payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    while _count(url) < expected:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return (expected - before) / elapsed


def broker_rate(port: int, messages: int) -> float:
    """Baseline: messages/s the broker delivers at QoS 1 to a bare paho subscriber that stores nothing."""
    got = 0

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal got
        got += 1

    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{time.monotonic_ns()}")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("bench/rate", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    pub = _publisher(port)
    started = time.perf_counter()
    infos = [pub.publish("bench/rate", b'{"time": "2026-12-01T00:00:00Z", "value": 1}', qos=1)
             for _ in range(messages)]
    for info in infos:
        info.wait_for_publish(120)
    while got < messages:
        time.sleep(0.01)
    rate = messages / (time.perf_counter() - started)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return rate


def alarm_latency(url: str, base: str, token: str, port: int,
                  sensors: list[Sensor]) -> list[float]:
    """Seconds from the duration-completing reading to the case in the live feed, per sensor."""
    client = _publisher(port)
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    with httpx.Client(base_url=base, timeout=30, headers=headers) as http, psycopg.connect(url) as conn:
        for _sid, code, alarm, street, lon, lat in sensors:
            # the wall of the sensor's street, zoomed on it: each case a point with its id (a case
            # on a community boundary may be keyed to the neighbouring community)
            feed = f"/live/{street}/cases?bbox={lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
            # the run starts 30 s ago and the next reading, 61 s after it, completes the duration: the
            # rule clock (every 15 s) cannot raise the alarm on its own before that reading
            now = datetime.now(UTC).replace(microsecond=0)
            first = {"time": (now - timedelta(seconds=30)).isoformat(), "value": alarm + 5}
            client.publish(topic_for(code), orjson.dumps(first), qos=1).wait_for_publish(30)
            time.sleep(0.3)  # the first reading is in: the pending run has begun
            seen = {f["id"] for f in http.get(feed).json()["features"]}
            started = time.perf_counter()
            second = {"time": (now + timedelta(seconds=31)).isoformat(), "value": alarm + 6}
            client.publish(topic_for(code), orjson.dumps(second), qos=1).wait_for_publish(30)
            while time.perf_counter() - started < 30:
                features = http.get(feed).json()["features"]
                new = {f["id"] for f in features} - seen
                if new and _is_alarm_case(conn, new, code):
                    latencies.append(time.perf_counter() - started)
                    break
                time.sleep(0.02)
    client.loop_stop()
    client.disconnect()
    return latencies


def _is_alarm_case(conn: psycopg.Connection, ids: set, code: str) -> bool:
    row = conn.execute("SELECT count(*) FROM incidents WHERE id = ANY(%s) AND channel = 'sensor' "
                       "AND attributes->>'sensor' = %s", ([int(i) for i in ids if str(i).isdigit()], code)).fetchone()
    return bool(row and row[0])


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="wangge-bench-mqtt-"))
    broker = EmbeddedBroker(folder / "mqtt", free_port())
    broker.start()
    os.environ["WANGGE_MQTT_URL"] = broker.url
    try:
        with throwaway_demo(durable=True) as url, served(url) as base:
            token = issue_token(token_secret(url), "sensor", "340111")
            sensors = _sensors(url)
            codes, ids = [s[1] for s in sensors], [s[0] for s in sensors]
            day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            if sys.argv[1:] == ["latency"]:
                lat = np.array(alarm_latency(url, base, token, broker.port, sensors[:30]))
                print(f"alarm → case: p50 {np.percentile(lat, 50) * 1000:.0f} ms, p99 "
                      f"{np.percentile(lat, 99) * 1000:.0f} ms, max {lat.max() * 1000:.0f} ms ({len(lat)}/30 seen)")
                return
            http = http_batches(base, token, _batches(codes, day - timedelta(hours=20), 11))
            copy = raw_copy(url, ids, day - timedelta(hours=10), 10)
            both = http_batches(base, token, _batches(codes, day - timedelta(hours=16), 13), clients=2)
            print(f"HTTP batch readings (10,000 a batch): one client {http:,.0f} readings/s, two clients "
                  f"{both:,.0f} readings/s (budget 20,000); raw COPY of the same rows {copy:,.0f}/s; "
                  f"ratio {http / copy:.2f} and {both / copy:.2f}")
            single = mqtt_rate(url, broker.port, codes, day - timedelta(hours=6), 30, 1)
            gateway = mqtt_rate(url, broker.port, codes, day - timedelta(hours=4), 15, 20)
            bare = broker_rate(broker.port, 3000)
            print(f"MQTT QoS 1, stored: {single:,.0f} readings/s at one reading a message, {gateway:,.0f} "
                  f"readings/s at 20 a message (budget 5,000); the broker alone delivers {bare:,.0f} "
                  f"messages/s to a bare subscriber; ratio (one a message) {single / bare:.2f}")
            lat = np.array(alarm_latency(url, base, token, broker.port, sensors[:30]))
            if len(lat):
                print(f"alarm → case in /live/{{street}}/cases over MQTT: "
                      f"p50 {np.percentile(lat, 50) * 1000:.0f} ms, "
                      f"p99 {np.percentile(lat, 99) * 1000:.0f} ms, max {lat.max() * 1000:.0f} ms "
                      f"({len(lat)}/30 seen; budget p99 < 2 s)")
            else:
                print("alarm → case: no case seen")
    finally:
        broker.stop()
        os.environ.pop("WANGGE_MQTT_URL", None)
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
