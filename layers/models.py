"""Typed SQLAlchemy/GeoAlchemy2 models of wangge's tables, for scripts and integrators.

The service itself runs hand-written SQL units on psycopg (``layers/*.py``);
the schema is owned by the Alembic migrations. These models describe the
same tables for Python users (ORM sessions, pandas/geopandas reads, admin
scripts), and ``tests/test_models.py`` checks them against a migrated
database so they cannot drift from it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, Computed, Date, Float, ForeignKey, Integer, String, Text, Time
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326
Timestamp = TIMESTAMP(timezone=True)


def geometry(kind: str) -> Geometry:
    """A typmod geometry column in EPSG:4326 (the GiST index comes from the migration)."""
    return Geometry(kind, srid=SRID, spatial_index=False)


class Base(DeclarativeBase):
    """Declarative base of the wangge models."""


class District(Base):
    """区: the top of the hierarchy."""

    __tablename__ = "districts"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    province: Mapped[str] = mapped_column(Text)
    city: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))


class Street(Base):
    """街道/街镇."""

    __tablename__ = "streets"
    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))


class Community(Base):
    """社区/居村; ``grids_version`` advances with each published redraw."""

    __tablename__ = "communities"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    street_code: Mapped[str] = mapped_column(ForeignKey("streets.code"))
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))
    grids_version: Mapped[int] = mapped_column(Integer)


class Grid(Base):
    """One version of a basic grid (基础网格); current while ``valid_to`` is None."""

    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(ForeignKey("communities.code"))
    name: Mapped[str] = mapped_column(Text)
    worker_name: Mapped[str] = mapped_column(Text)
    worker_phone: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))
    valid_from: Mapped[datetime] = mapped_column(Timestamp)
    valid_to: Mapped[datetime | None] = mapped_column(Timestamp)


class Camera(Base):
    """A video camera."""

    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    online: Mapped[bool] = mapped_column(Boolean)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))


class WaterloggingPoint(Base):
    """易涝点 with its water-level sensor and thresholds."""

    __tablename__ = "waterlogging_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    sensor_id: Mapped[str] = mapped_column(Text)
    warn_level_cm: Mapped[float] = mapped_column(Float)
    alarm_level_cm: Mapped[float] = mapped_column(Float)
    current_level_cm: Mapped[float] = mapped_column(Float)
    level_at: Mapped[datetime] = mapped_column(Timestamp)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))


class StallZone(Base):
    """摊群点 and its opening hours."""

    __tablename__ = "stall_zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    daily_visitors: Mapped[int] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(geometry("MULTIPOLYGON"))


class Building(Base):
    """A building with its address, households and residents."""

    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    address_key: Mapped[str | None] = mapped_column(Text, Computed("wangge_address_key(address)", persisted=True))
    road: Mapped[str] = mapped_column(Text)
    door_number: Mapped[int | None] = mapped_column(Integer)
    estate: Mapped[str] = mapped_column(Text)
    building_no: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)
    floors: Mapped[int] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(geometry("POLYGON"))


class TeamType(Base):
    """A kind of team of the "4+X"."""

    __tablename__ = "team_types"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    core: Mapped[bool] = mapped_column(Boolean)


class Team(Base):
    """An enforcement team with its home and live position."""

    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(ForeignKey("team_types.code"))
    home_station: Mapped[str] = mapped_column(Text)
    area_code: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(Text)
    home: Mapped[Any] = mapped_column(geometry("POINT"))
    position: Mapped[Any] = mapped_column(geometry("POINT"))
    position_at: Mapped[datetime] = mapped_column(Timestamp)


class Category(Base):
    """A catalogue entry: who handles it, in how many hours, to what standard."""

    __tablename__ = "catalogue"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(Text)
    minor_name: Mapped[str] = mapped_column(Text)
    team_type: Mapped[str | None] = mapped_column(ForeignKey("team_types.code"))
    time_limit_hours: Mapped[int] = mapped_column(Integer)
    handling_steps: Mapped[str] = mapped_column(Text)
    closing_standard: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    duplicate_radius_m: Mapped[float] = mapped_column(Float)
    duplicate_window_hours: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    """A case (事件), with the raw and normalized point and its place at filing time."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    category_code: Mapped[str] = mapped_column(ForeignKey("catalogue.code"))
    channel: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    raw_x: Mapped[float] = mapped_column(Float)
    raw_y: Mapped[float] = mapped_column(Float)
    raw_crs: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    grid_code: Mapped[str | None] = mapped_column(String(15))
    community_code: Mapped[str | None] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(9))
    level: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    reported_at: Mapped[datetime] = mapped_column(Timestamp)
    deadline: Mapped[datetime] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    # Open311 reporter fields, attribute[...] answers and media URLs (personal: see layers.visibility)
    reporter: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    media_url: Mapped[str | None] = mapped_column(Text)
    # the transaction that last wrote the case: live feeds' "changed since" (migration 0008)
    changed_xid: Mapped[int | None] = mapped_column(BigInteger)


class IncidentEvent(Base):
    """One step in a case's append-only log: who, when, what, why."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    at: Mapped[datetime] = mapped_column(Timestamp)
    actor: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)


class DataImport(Base):
    """One import or admin write of a layer: where it came from, what it changed, its report."""

    __tablename__ = "data_imports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    layer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(Timestamp)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    retired: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class PlanningProposal(Base):
    """A planner's proposal of new grids for a community, with its report."""

    __tablename__ = "planning_proposals"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("communities.code"))
    based_on_version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    status: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp)
    features: Mapped[dict[str, Any]] = mapped_column(JSONB)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)


class WallCaseCount(Base):
    """Cases per area and status, kept by triggers for the map walls.

    Each writing connection adds to its own ``slot``; readers sum the slots.
    """

    __tablename__ = "wall_case_counts"
    area_code: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)


class WallCaseDay(Base):
    """Per area and China day: cases reported, closed, and closed by their deadline."""

    __tablename__ = "wall_case_days"
    area_code: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    reported: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)


class WallCaseCell(Base):
    """Open cases per community and ~200 m cell, with coordinate sums (a cluster sits at the mean)."""

    __tablename__ = "wall_case_cells"
    area_code: Mapped[str] = mapped_column(Text, primary_key=True)
    cx: Mapped[int] = mapped_column(Integer, primary_key=True)
    cy: Mapped[int] = mapped_column(Integer, primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)
    sum_lon: Mapped[float] = mapped_column(Float)
    sum_lat: Mapped[float] = mapped_column(Float)
