"""The FastAPI application factory.

Nothing here runs at import time: :func:`create_app` builds the app from the
settings it is given, and its lifespan opens (and closes) the database pool.
Run it with ``uvicorn --factory api.app:create_app`` or through ``wangge``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from api import camera_sweep, errors, escalator, openapi, sensing
from api.bodylimit import BodyLimit
from api.cors import ReadCors
from api.gridcache import GridCache
from api.head import HeadAsGet
from api.routers import (
    admin,
    calendars,
    cameras,
    catalogue,
    collections,
    desk,
    evaluation,
    field,
    grids,
    health,
    incidents,
    landing,
    live,
    locate,
    open311,
    planning,
    ready,
    sensors,
    sta,
    teams,
    tiles,
)
from api.routers import maps as map_views
from api.settings import Settings, get_settings
from api.tilehits import TileHits
from layers.catalogue import CatalogueCache
from layers.db import open_pool
from layers.errors import StoreError
from layers.secrets import token_secret
from layers.watch import LayerWatcher
from maps.assets import STATIC_DIR, STATIC_URL_PREFIX

log = logging.getLogger(__name__)

DESCRIPTION = """GIS command-center service for city grid governance (网格化管理).

Every coordinate input names its system (`crs`: wgs84, cgcs2000, gcj02, bd09
or EPSG:<code>); every geometry output is RFC 7946 GeoJSON in WGS84."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database URL must be resolved (see ``api.cli``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url:
            raise StoreError("no database configured: set DATABASE_URL or start wangge with its CLI")
        app.state.pool = await open_pool(settings.database_url, settings.pool_min, settings.pool_max)
        app.state.token_secret = settings.secret or token_secret(settings.database_url)
        app.state.layers = LayerWatcher(settings.database_url)
        await app.state.layers.start()
        app.state.catalogue = CatalogueCache()
        app.state.grids = GridCache(app.state.pool, app.state.layers)
        await app.state.grids.start()
        timer = escalator.start(app.state.pool, settings.escalate_every_s)
        sweep = camera_sweep.start(app.state.pool, settings.camera_sweep_every_s, settings.camera_offline_after_s)
        app.state.sensing = await sensing.start(app, sensing.mqtt_url(settings.mqtt_url))
        try:
            yield
        finally:
            await sensing.stop(app.state.sensing)
            await camera_sweep.stop(sweep)
            await escalator.stop(timer)
            await app.state.grids.stop()
            await app.state.layers.stop()
            await app.state.pool.close()

    app = FastAPI(title="wangge", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    # routes are matched in order: the hot paths first; planning before map_views,
    # so /maps/planner/{code} wins over /maps/{level}/{code}
    for module in (health, locate, tiles, incidents, live, ready, collections, catalogue, teams, open311,
                   planning, grids, evaluation, admin, calendars, cameras, sensors, sta, landing, map_views, desk,
                   field):
        app.include_router(module.router)
    # scripts, stylesheets and the font's CSS shrink to a fifth gzipped: the phone page's shell fits
    # a slow connection's budget (150 KB) only so
    app.mount(STATIC_URL_PREFIX, GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024),
              name="static")
    app.add_middleware(TileHits)
    app.add_middleware(HeadAsGet)
    # in front of the tile cache hits, so their replies carry the CORS headers too
    app.add_middleware(ReadCors, origins=settings.cors_origins)
    # outermost: a larger body is refused with a JSON 413 before it is read into memory
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, photo_bytes=settings.max_photo_body_bytes)
    return app
