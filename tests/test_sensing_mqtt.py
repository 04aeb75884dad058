"""MQTT readings against a real mosquitto started here: QoS 1, nothing lost while wangge or the broker is away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import psycopg
import pytest

from layers.cluster import free_port
from layers.sensing.broker import EmbeddedBroker
from layers.sensing.mqtt import broker_address, items_of, topic_for
from tests.conftest import make_client

CODE = "RADAR-00002"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    running = EmbeddedBroker(tmp_path / "mqtt", free_port())
    running.start()
    yield running
    running.stop()


def _publish(broker: EmbeddedBroker, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait for every PUBACK (the broker accepted each)."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.monotonic_ns()}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


def _readings(start: datetime, first: int, count: int) -> list[tuple[str, bytes]]:
    return [(topic_for(CODE), orjson.dumps({"time": (start + timedelta(seconds=i)).isoformat(), "value": i % 10}))
            for i in range(first, first + count)]


def _stored(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM sensor_readings AS r JOIN sensors AS s ON s.id = r.sensor_id "
                           "WHERE s.code = %s", (CODE,)).fetchone()
    return int(row[0]) if row else 0


def _wait(check: object, timeout_s: float = 30.0, what: object = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what() if what else ''}")  # type: ignore[operator]


def test_topics_and_payloads() -> None:
    assert broker_address("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884)
    assert broker_address("mqtt://broker") == ("broker", 1883)
    with pytest.raises(ValueError):
        broker_address("http://x")
    assert items_of("wangge/sensors/A/readings", b'{"time": "t", "value": 1}') == [
        {"time": "t", "value": 1, "sensor": "A"}]
    assert items_of("wangge/sensors/A/readings", b'[{"time": 1}, {"time": 2, "sensor": "A"}]') == [
        {"time": 1, "sensor": "A"}, {"time": 2, "sensor": "A"}]
    for topic, payload in [("wangge/sensors/A/readings", b"{not json"), ("other/A/readings", b"{}"),
                           ("wangge/sensors/A/readings", b'{"sensor": "B"}'), ("wangge/sensors//readings", b"{}"),
                           ("wangge/sensors/A/readings", b"[1]")]:
        assert items_of(topic, payload) is None


def test_nothing_accepted_is_lost_while_wangge_or_the_broker_is_away(demo_rw: str, broker: EmbeddedBroker) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    with make_client(demo_rw, mqtt_url=broker.url) as client:
        subscriber = client.app.state.sensing.subscriber
        _wait(subscriber.connected.is_set)
        unknown = (topic_for("NO-SUCH"), b'{"time": "2026-01-01T00:00:00Z", "value": 1}')
        _publish(broker, [*_readings(start, 0, 200), (topic_for(CODE), b"{broken"), unknown])
        _wait(lambda: _stored(demo_rw) == 200, what=lambda: (_stored(demo_rw), dict(subscriber.counts)))
        _wait(lambda: subscriber.counts["rejected"] == 1 and subscriber.counts["bad_messages"] == 1,
              what=lambda: dict(subscriber.counts))
    # wangge is down: the broker keeps its persistent session's messages
    _publish(broker, _readings(start, 200, 300))
    assert _stored(demo_rw) == 200
    with make_client(demo_rw, mqtt_url=broker.url) as client:
        subscriber = client.app.state.sensing.subscriber
        _wait(lambda: _stored(demo_rw) == 500)
        # the broker goes away and comes back: the subscriber reconnects by itself
        broker.stop()
        _wait(lambda: not subscriber.connected.is_set())
        broker.start()
        _wait(subscriber.connected.is_set, 60)
        assert subscriber.counts["reconnects"] >= 1
        _publish(broker, _readings(start, 500, 100) + _readings(start, 0, 50))  # 50 repeats: one row each
        _wait(lambda: _stored(demo_rw) == 600)
        _wait(lambda: subscriber.counts["duplicates"] >= 50)
    assert _stored(demo_rw) == 600


def test_compose_runs_a_persistent_mosquitto_for_the_service() -> None:
    import yaml

    root = Path(__file__).resolve().parent.parent
    services = yaml.safe_load((root / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert services["mqtt"]["image"].startswith("eclipse-mosquitto:")
    for name in ("wangge", "demo"):
        assert broker_address(services[name]["environment"]["WANGGE_MQTT_URL"]) == ("mqtt", 1883)
    mount = services["mqtt"]["volumes"][0].split(":")
    config = (root / mount[0]).read_text(encoding="utf-8")
    assert mount[1] == "/mosquitto/config/mosquitto.conf"
    assert "listener 1883" in config and "persistence true" in config
