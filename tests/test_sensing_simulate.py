"""``wangge simulate rain``: the storm's shape, and its readings arriving over MQTT into the store."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import psycopg

from api.cli import build_parser
from api.cli_sensing import cmd_rain, intensity, storm_levels
from api.settings import Settings
from layers.cluster import free_port
from layers.sensing.broker import EmbeddedBroker
from tests.conftest import make_client


def test_the_storm_rises_to_a_peak_and_passes() -> None:
    assert intensity(0) == 0 and intensity(1) < 1e-12 and intensity(0.4) == 1
    rising = [intensity(f / 100) for f in range(41)]
    falling = [intensity(f / 100) for f in range(40, 101)]
    assert rising == sorted(rising) and falling == sorted(falling, reverse=True)
    alarms = np.full(1000, 40.0)
    susceptibility = np.linspace(0.2, 1.4, 1000)
    peak = storm_levels(alarms, susceptibility, 0.4, np.random.default_rng(1))
    after = storm_levels(alarms, susceptibility, 1.0, np.random.default_rng(1))
    # the susceptible points pass their alarm level at the peak, and everything is below it after
    assert 0.2 < (peak >= alarms).mean() < 0.45 and (after < 5).all() and (peak >= 0).all()


def test_rain_is_published_and_stored(demo_rw: str, tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "mqtt", free_port())
    broker.start()
    try:
        with make_client(demo_rw, mqtt_url=broker.url) as client:
            subscriber = client.app.state.sensing.subscriber
            deadline = time.monotonic() + 30
            while not subscriber.connected.is_set() and time.monotonic() < deadline:
                time.sleep(0.05)
            args = build_parser().parse_args(["simulate", "rain", "--minutes", "0.05", "--speed", "1",
                                              "--every", "1", "--url", broker.url])
            assert args.func is cmd_rain and isinstance(args, argparse.Namespace)
            cmd_rain(args, Settings(database_url=demo_rw))  # type: ignore[call-arg]
            with psycopg.connect(demo_rw) as conn:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    stored, sensors = conn.execute(
                        "SELECT count(*), count(DISTINCT sensor_id) FROM sensor_readings").fetchone()
                    if stored >= 300 and subscriber.counts["stored"] == stored:
                        break
                    time.sleep(0.1)
    finally:
        broker.stop()
    # at least three rounds of every sensor, nothing refused
    assert sensors == 100 and stored >= 300 and subscriber.counts["rejected"] == 0
