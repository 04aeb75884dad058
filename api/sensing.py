"""The sensing parts of the running service: readings options, the MQTT subscriber and the rule clock.

The lifespan (``api.app``) calls :func:`start` and :func:`stop`. The
subscriber feeds MQTT messages to the same path as ``POST
/sensors/readings`` (``layers.sensing.readings.store``); the clock runs the
alarm rules' time-driven steps (a sensor gone quiet is flagged offline, a
pending alarm rises once its duration passed) every ``WANGGE_SENSOR_TICK_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI

from api.intake import app_intake_options
from layers.db import translated_errors
from layers.errors import WanggeError
from layers.sensing import alarms, readings
from layers.sensing.mqtt import Subscriber

log = logging.getLogger(__name__)


def reading_options(app: FastAPI) -> readings.ReadingOptions:
    """The readings path's options from the app's settings and its fresh in-memory look-ups."""
    settings = app.state.settings
    return readings.ReadingOptions(
        settings.readings_retention_months,
        alarms.AlarmOptions(settings.sensor_category, app_intake_options(app)))


@dataclass
class Sensing:
    """What :func:`start` started."""

    subscriber: Subscriber | None
    clock: asyncio.Task | None


async def _clock(app: FastAPI, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            async with translated_errors(), app.state.pool.connection() as conn:
                options = reading_options(app)
                await alarms.tick(conn, datetime.now(UTC), options.alarms)
                await readings.drop_old_months(conn, options.retention_months)
        except WanggeError as exc:
            log.warning("sensor clock: %s", exc.public)


async def start(app: FastAPI, mqtt_url: str | None) -> Sensing:
    """Start the MQTT subscriber (when a broker is configured) and the rule clock."""
    subscriber = None
    if mqtt_url:
        subscriber = Subscriber(mqtt_url, app.state.pool, app.state.settings.database_url,
                                lambda: reading_options(app))
        subscriber.start()
    every = app.state.settings.sensor_tick_s
    clock = asyncio.create_task(_clock(app, every)) if every > 0 else None
    return Sensing(subscriber, clock)


async def stop(sensing: Sensing) -> None:
    """Stop what :func:`start` started."""
    if sensing.clock is not None:
        sensing.clock.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sensing.clock
    if sensing.subscriber is not None:
        await sensing.subscriber.stop()


def mqtt_url(setting: str | None) -> str | None:
    """The broker the app subscribes to: the setting, unless empty or ``off`` (then none).

    The app never starts a broker itself: the ``wangge`` command does that
    (``layers.sensing.broker``) and passes its URL in ``WANGGE_MQTT_URL``; an
    app built without one (tests, a bare ``uvicorn``) has no MQTT.
    """
    if setting is None or setting.strip().lower() in ("", "off"):
        return None
    return setting.strip()
