"""Service settings, read from the environment (pydantic-settings).

Standard names where they exist (``DATABASE_URL``); wangge's own under the
``WANGGE_`` prefix. Nothing reads settings at import time: the app factory
and the CLI call :func:`get_settings`, and tests pass their own object.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.planning.tolerance import DEFAULT_SNAP_M

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything the service can be told from outside."""

    model_config = SettingsConfigDict(env_prefix="WANGGE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "WANGGE_DATABASE_URL"),
        description="PostgreSQL/PostGIS server to use; unset: run the embedded cluster",
    )
    data_dir: Path = Field(default=PROJECT_DIR / ".wangge", description="embedded cluster and secrets")
    pg_port: int = Field(default=55432, ge=1024, le=65535, description="embedded cluster's loopback port")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64, description="uvicorn worker processes")
    # few connections per worker: the database has only the machine's cores,
    # and more concurrent queries just queue inside it. Measured on 2 cores,
    # intake p99 at 16 clients: 20 connections 106 ms, 3 per worker 53 ms,
    # 2 per worker 35 ms. Raise it with the core count.
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=2, ge=1)
    near_boundary_m: float = Field(default=5.0, ge=0, le=1000,
                                   description="distance to another grid that flags a located point")
    secret: str | None = Field(default=None, min_length=32, description="token signing secret; "
                               "unset: a random one kept in the database")
    max_team_range_m: float = Field(default=10_000, gt=0,
                                    description="beyond this a case falls back to its community")
    escalate_every_s: float = Field(default=300, ge=0, description="how often overdue cases rise a "
                                    "level (community → street → district); 0: only by hand")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest request body accepted")
    basemap_url: str | None = Field(default=None, description="map-wall basemap tile URL template "
                                    "({z}/{x}/{y}); unset: a plain background")
    basemap_attribution: str = Field(default="", description="the basemap provider's attribution")
    basemap_crs: Literal["wgs84", "gcj02"] = Field(default="wgs84", description="the basemap's "
                                                   "coordinate system; gcj02 shifts overlays for display")
    map_refresh_s: int = Field(default=15, ge=2, le=3600, description="map-wall polling interval")
    # one tolerance for every check that grids tile their area (planning and
    # import): see geo.planning.tolerance.DEFAULT_SNAP_M for why 0.1 m; above
    # half a metre it would hide the narrowest gaps the report must show
    snap_tolerance_m: float = Field(default=DEFAULT_SNAP_M, ge=0, le=0.5, description="vertices this close "
                                    "(metres) to a stored vertex or edge are taken to be on it")
    cors_origins: str = Field(default="", description="comma-separated origins (https://host:port) allowed "
                              "to read the read routes cross-origin, * for any; none by default")
    # sensing (layers/sensing): the MQTT broker, the readings' retention, what an alarm files
    mqtt_url: str | None = Field(default=None, description="MQTT broker for sensor readings "
                                 "(mqtt://host:port); unset: the embedded mosquitto; '' or 'off': no MQTT")
    mqtt_port: int = Field(default=51883, ge=1024, le=65535, description="embedded mosquitto's loopback port")
    readings_retention_months: int = Field(default=24, ge=1, le=1200, description="months of sensor "
                                           "readings kept; older monthly partitions are dropped")
    sensor_category: str = Field(default="10.04", max_length=20, description="catalogue code of the "
                                 "cases sensor alarms open (道路积水 in the demo catalogue)")
    sensor_tick_s: float = Field(default=15, ge=0, description="how often quiet sensors are checked "
                                 "(offline, alarms whose duration passed); 0: never")
    camera_offline_after_s: float = Field(default=300, ge=0, description="a camera that sent heartbeats "
                                          "and then none for this long is marked offline; 0: never")
    camera_sweep_every_s: float = Field(default=30, ge=0, description="how often silent cameras are looked "
                                        "for; 0: never")
    camera_event_min_confidence: float = Field(default=0.6, ge=0, le=1, description="camera events below "
                                               "this confidence are ignored, unless their type sets its own")
    verify_distance_m: float = Field(default=100, gt=0, le=10_000, description="a grid worker verifies a "
                                     "case on site: within this true ground distance (metres) of its point")
    max_photo_body_bytes: int = Field(default=16_000_000, ge=1024, description="largest body of the field "
                                      "routes that carry photos (three of at most 5 MB, and the form)")


@lru_cache
def get_settings() -> Settings:
    """Return the settings from the environment (cached; tests build their own)."""
    return Settings()
