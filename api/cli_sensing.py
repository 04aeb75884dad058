"""``wangge simulate rain``, and the embedded MQTT broker that ``wangge demo``/``serve`` run.

The storm: every water-level sensor gets a susceptibility (how badly its
underpass floods, from the seed); the rain's intensity rises to a peak at
40% of the storm and recedes; a sensor reads ``alarm × susceptibility ×
intensity`` (plus a little noise), so the worst points pass their alarm
level for a few minutes and fall back below their clear level as the storm
passes. ``--minutes`` is the storm's length at ``--speed 1``; ``--speed X``
plays it X times faster. Readings are stamped with the real time of
publication and sent every ``--every`` seconds (default 10) at QoS 1 on
``wangge/sensors/{code}/readings``, so the alarm rules see real durations.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import orjson
import paho.mqtt.client as paho
import psycopg

from api.sensing import mqtt_url
from api.settings import Settings
from api.store import open_store
from layers.sensing.broker import EmbeddedBroker
from layers.sensing.mqtt import broker_address, topic_for


@contextlib.contextmanager
def broker_for(settings: Settings) -> Iterator[str | None]:
    """Run the embedded mosquitto while serving when no broker is configured; yield the URL in use.

    Its URL goes to ``WANGGE_MQTT_URL``, which the service's workers read.
    """
    if settings.mqtt_url is not None:
        yield mqtt_url(settings.mqtt_url)
        return
    broker = EmbeddedBroker(settings.data_dir / "mqtt", settings.mqtt_port)
    broker.start()
    os.environ["WANGGE_MQTT_URL"] = broker.url
    print(f"  MQTT broker:       {broker.url} (topic {topic_for('{code}')})", flush=True)
    try:
        yield broker.url
    finally:
        broker.stop()


def intensity(fraction: float) -> float:
    """The rain's intensity (0-1) at ``fraction`` (0-1) of the storm: up to a peak at 0.4, then down."""
    if not 0 <= fraction <= 1:
        return 0.0
    if fraction <= 0.4:
        return math.sin(fraction / 0.4 * math.pi / 2) ** 2
    return math.cos((fraction - 0.4) / 0.6 * math.pi / 2) ** 2


def storm_levels(alarms: np.ndarray, susceptibility: np.ndarray, fraction: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Every sensor's level at ``fraction`` of the storm (never below 0)."""
    noise = rng.normal(0, 0.5, len(alarms))
    return np.maximum(0.0, alarms * susceptibility * intensity(fraction) + noise).round(1)


def _sensors(url: str) -> list[tuple[str, float]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("""
            SELECT s.code, COALESCE(s.alarm_level, w.alarm_level_cm)::float8
            FROM sensors AS s LEFT JOIN waterlogging_points AS w ON w.code = s.watches
            WHERE s.kind = 'water_level' AND COALESCE(s.alarm_level, w.alarm_level_cm) IS NOT NULL
            ORDER BY s.code""").fetchall()
    return [(r[0], r[1]) for r in rows]


def cmd_rain(args: argparse.Namespace, settings: Settings) -> None:
    """Publish a storm's readings over MQTT (see the module docstring)."""
    if args.minutes <= 0 or args.speed <= 0 or args.every <= 0:
        raise SystemExit("wangge: --minutes, --speed and --every must be more than 0")
    store = open_store(settings)
    try:
        sensors = _sensors(store.url)
    finally:
        store.close()
    if not sensors:
        raise SystemExit("wangge: no water-level sensor with an alarm level (wangge demo adds them)")
    url = args.url or mqtt_url(settings.mqtt_url) or f"mqtt://127.0.0.1:{settings.mqtt_port}"
    host, port = broker_address(url)
    rng = np.random.default_rng(args.seed)
    codes = [code for code, _ in sensors]
    alarms = np.array([alarm for _, alarm in sensors])
    # most points stay below their alarm; about a third pass it at the peak, and half of those
    # long enough (the rule's duration) to raise an alarm with the default storm
    susceptibility = rng.uniform(0.2, 1.4, len(sensors))
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"wangge-rain-{os.getpid()}")
    client.connect(host, port)
    client.loop_start()
    length_s = args.minutes * 60 / args.speed
    print(f"raining on {len(codes)} sensors for {length_s / 60:.1f} min via {url} "
          f"({int((susceptibility > 1).sum())} will pass their alarm level)", flush=True)
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            fraction = min(elapsed / length_s, 1.0)
            now = datetime.now(UTC).isoformat()
            levels = storm_levels(alarms, susceptibility, fraction, rng)
            infos = [client.publish(topic_for(code), orjson.dumps({"time": now, "value": float(level)}), qos=1)
                     for code, level in zip(codes, levels, strict=True)]
            for info in infos:
                info.wait_for_publish(30)
            print(f"  {fraction:4.0%} rain {intensity(fraction):.2f}: {int((levels >= alarms).sum())} sensors "
                  f"at alarm, highest {levels.max():.0f} cm", flush=True)
            if fraction >= 1.0:
                break
            time.sleep(args.every)
    finally:
        client.loop_stop()
        client.disconnect()


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``wangge simulate rain``."""
    simulate = sub.add_parser("simulate", help="simulated sensor input").add_subparsers(dest="what", required=True)
    rain = simulate.add_parser("rain", help="publish a storm's water levels over MQTT: alarms rise and clear")
    rain.add_argument("--minutes", type=float, default=60.0, help="the storm's length at speed 1 (default 60)")
    rain.add_argument("--speed", type=float, default=10.0, help="play it this many times faster (default 10)")
    rain.add_argument("--every", type=float, default=10.0, help="seconds between readings (default 10)")
    rain.add_argument("--seed", type=int, default=7, help="which points flood (default 7)")
    rain.add_argument("--url", help="the broker (default WANGGE_MQTT_URL, else the embedded one)")
    rain.set_defaults(func=cmd_rain)
