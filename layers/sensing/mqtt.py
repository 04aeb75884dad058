"""The MQTT subscriber: sensor readings from a broker into the one readings path.

Topic scheme: ``wangge/sensors/{code}/readings``, payload JSON: one reading
``{"time": ..., "value": ...}``, or a list of them (``sensor`` may be left
out: the topic names it; when given it must be the topic's). Validation is
:mod:`layers.sensing.readings`' own; bad messages and bad items are logged
and counted (:attr:`Subscriber.counts`), never fatal.

Nothing a broker accepted at QoS 1 is lost:

- a fixed client id with ``clean_session=False``: the broker keeps the
  subscription and queues messages while wangge is away, and delivers them
  when it comes back;
- acknowledgements are manual: a message is acknowledged (PUBACK) only after
  the transaction holding its readings committed, so a crash between
  delivery and storage gets it delivered again (a repeated reading is the
  same row: the store deduplicates);
- a dropped broker is reconnected to with a growing back-off (1 s to 30 s);
  a database that fails keeps the batch and retries it, unacknowledged.

Only one subscriber per database runs at a time (a PostgreSQL advisory lock
held on a connection of its own): service workers share one client id, and
two clients with one id would take the session from each other in turn.
Messages are taken in batches (what arrived within 20 ms of the first, at
most 1,000 messages) and stored in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import orjson
import psycopg
from psycopg_pool import AsyncConnectionPool

from layers.actors import Actor
from layers.db import translated_errors
from layers.errors import WanggeError
from layers.sensing import readings

log = logging.getLogger(__name__)

TOPIC_PREFIX = "wangge/sensors/"
TOPIC = TOPIC_PREFIX + "+/readings"
CLIENT_ID = "wangge-readings"
LOCK_KEY = 0x77616E67  # 'wang': one subscriber per database
BATCH_MESSAGES = 1_000  # the broker's max_inflight_messages: no more are unacknowledged at once
BATCH_WAIT_S = 0.02
MQTT_ACTOR = Actor("mqtt", "sensor", "")


def topic_for(code: str) -> str:
    """The topic a sensor publishes its readings on."""
    return f"{TOPIC_PREFIX}{code}/readings"


def broker_address(url: str) -> tuple[str, int]:
    """Host and port of ``mqtt://host:port`` (port 1883 by default); ValueError for another scheme."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"an MQTT URL is mqtt://host[:port], not {url!r}")
    return parts.hostname, parts.port or 1883


def items_of(topic: str, payload: bytes) -> list[object] | None:
    """The reading items of one message (``sensor`` filled from the topic), None when unusable."""
    if not topic.startswith(TOPIC_PREFIX) or not topic.endswith("/readings"):
        return None
    code = topic[len(TOPIC_PREFIX):-len("/readings")]
    if not code or "/" in code:
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    listed = body if isinstance(body, list) else [body]
    items: list[object] = []
    for item in listed:
        if not isinstance(item, dict) or item.get("sensor", code) != code:
            return None
        items.append({**item, "sensor": code})
    return items


class Subscriber:
    """Subscribe, store in batches, acknowledge after commit, reconnect; see the module docstring."""

    def __init__(self, url: str, pool: AsyncConnectionPool, database_url: str,
                 options: Callable[[], readings.ReadingOptions], client_id: str = CLIENT_ID) -> None:
        self.host, self.port = broker_address(url)
        self.pool = pool
        self.database_url = database_url
        self.options = options
        self.client_id = client_id
        self.counts: Counter[str] = Counter()
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Disconnect (the broker keeps the session and queues what comes meanwhile)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as lock_conn:
                    cur = await lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                    held = await cur.fetchone()
                    if held and held[0]:
                        await self._subscribe()
            except psycopg.OperationalError as exc:
                log.warning("MQTT subscriber: database unavailable: %s", exc)
            except Exception:  # a bug must not end the subscriber for the life of the process
                log.exception("MQTT subscriber failed; starting again")
            self.connected.clear()
            await asyncio.sleep(5)

    async def _subscribe(self) -> None:
        backoff = 1.0
        while True:
            client = aiomqtt.Client(self.host, self.port, identifier=self.client_id, clean_session=False,
                                    max_queued_incoming_messages=0)
            # acknowledge only after the readings are committed (paho's manual ack)
            client._client.manual_ack_set(True)
            try:
                async with client:
                    await client.subscribe(TOPIC, qos=1)
                    self.connected.set()
                    backoff = 1.0
                    log.info("MQTT subscriber: listening on %s:%d %s", self.host, self.port, TOPIC)
                    await self._consume(client)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self.counts["reconnects"] += 1
                log.warning("MQTT subscriber: broker lost (%s); reconnecting in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _consume(self, client: aiomqtt.Client) -> None:
        # a pump moves messages into a queue of ours: waiting on the client's iterator
        # with a timeout would cancel it mid-message and drop that message
        queue: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()

        async def pump() -> None:
            async for message in client.messages:
                queue.put_nowait(message)

        pumper = asyncio.create_task(pump())
        try:
            while True:
                waiting = asyncio.ensure_future(queue.get())
                await asyncio.wait({waiting, pumper}, return_when=asyncio.FIRST_COMPLETED)
                if not waiting.done():
                    waiting.cancel()
                    pumper.result()  # the broker went away: raise its error
                    raise aiomqtt.MqttError("message iteration ended")
                batch = [waiting.result()]
                self._drain(queue, batch)
                if len(batch) < BATCH_MESSAGES:
                    await asyncio.sleep(BATCH_WAIT_S)  # let a burst gather into one transaction
                    self._drain(queue, batch)
                await self._store(batch)
                for message in batch:
                    if message.qos > 0:
                        client._client.ack(message.mid, message.qos)
        finally:
            pumper.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await pumper

    @staticmethod
    def _drain(queue: asyncio.Queue[aiomqtt.Message], batch: list[aiomqtt.Message]) -> None:
        while len(batch) < BATCH_MESSAGES and not queue.empty():
            batch.append(queue.get_nowait())

    async def _store(self, batch: list[aiomqtt.Message]) -> None:
        items: list[object] = []
        for message in batch:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            found = items_of(str(message.topic), bytes(payload))
            self.counts["messages"] += 1
            if found is None:
                self.counts["bad_messages"] += 1
                log.warning("MQTT: unusable message on %s (%d bytes)", str(message.topic)[:120], len(payload))
            else:
                items.extend(found)
        if not items:
            return
        delay = 1.0
        while True:
            try:
                outcome = await self._store_items(items)
                break
            except WanggeError as exc:  # the database: keep the batch, unacknowledged, and retry
                log.warning("MQTT: readings not stored (%s); retrying in %.0f s", exc.public, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self.counts["stored"] += outcome.stored
        self.counts["duplicates"] += outcome.duplicates
        self.counts["rejected"] += len(outcome.errors)
        for error in outcome.errors[:5]:
            log.warning("MQTT: reading refused: %s %s", error["code"], error["detail"])

    async def _store_items(self, items: list[Any]) -> readings.Outcome:
        async with translated_errors(), self.pool.connection() as conn:
            return await readings.store(conn, items, MQTT_ACTOR, self.options())
