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
    # the view sector: heading clockwise from true north, field of view, range
    heading_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[datetime | None] = mapped_column(Timestamp)
    stream_url: Mapped[str | None] = mapped_column(Text)
    snapshot_url: Mapped[str | None] = mapped_column(Text)


class CameraEventType(Base):
    """A video platform's event type and the catalogue code its cases get."""

    __tablename__ = "camera_event_types"
    type: Mapped[str] = mapped_column(Text, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("catalogue.code"))
    name: Mapped[str] = mapped_column(Text)
    # below this confidence an event is ignored (null: the service's setting)
    min_confidence: Mapped[float | None] = mapped_column(Float)


class CameraEvent(Base):
    """One event a camera platform sent, and what became of it."""

    __tablename__ = "camera_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    type: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(Timestamp)
    snapshot_url: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(geometry("POINT"))
    outcome: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    received_at: Mapped[datetime] = mapped_column(Timestamp)


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
    # the stage of the loop the status is in, and the approved pause stopping its clock (migration 0007)
    stage: Mapped[str | None] = mapped_column(Text, Computed(
        "CASE status WHEN 'accepted' THEN 'dispatch' WHEN 'dispatched' THEN 'handle' WHEN 'handling' THEN 'handle' "
        "WHEN 'feedback' THEN 'verify' WHEN 'verified' THEN 'feedback' END", persisted=True))
    stage_due_at: Mapped[datetime | None] = mapped_column(Timestamp)
    handle_from: Mapped[datetime | None] = mapped_column(Timestamp)
    handle_minutes: Mapped[int | None] = mapped_column(Integer)
    paused_at: Mapped[datetime | None] = mapped_column(Timestamp)
    paused_until: Mapped[datetime | None] = mapped_column(Timestamp)
    rework_count: Mapped[int] = mapped_column(Integer)
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


class CasePhoto(Base):
    """A photo of a case taken in the field, stored re-encoded (no location metadata) under the data folder."""

    __tablename__ = "case_photos"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    stage: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    taken_at: Mapped[datetime] = mapped_column(Timestamp)


class Sensor(Base):
    """A sensor (a water-level gauge, or any numeric one) at a point, with its alarm thresholds."""

    __tablename__ = "sensors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text)
    watches: Mapped[str | None] = mapped_column(Text)
    warn_level: Mapped[float | None] = mapped_column(Float)
    alarm_level: Mapped[float | None] = mapped_column(Float)
    clear_level: Mapped[float | None] = mapped_column(Float)
    min_duration_s: Mapped[int] = mapped_column(Integer)
    offline_after_s: Mapped[int] = mapped_column(Integer)
    cooldown_s: Mapped[int] = mapped_column(Integer)
    district_code: Mapped[str | None] = mapped_column(String(6))
    community_code: Mapped[str | None] = mapped_column(String(12))
    geom: Mapped[Any] = mapped_column(geometry("POINT"))


class SensorReading(Base):
    """One reading of a sensor (partitioned by month)."""

    __tablename__ = "sensor_readings"
    sensor_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class SensorState(Base):
    """The alarm rule's memory for one sensor."""

    __tablename__ = "sensor_states"
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"), primary_key=True)
    level: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime | None] = mapped_column(Timestamp)
    pending_since: Mapped[datetime | None] = mapped_column(Timestamp)
    peak: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_time: Mapped[datetime | None] = mapped_column(Timestamp)
    time_above_s: Mapped[float] = mapped_column(Float)
    offline: Mapped[bool] = mapped_column(Boolean)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    cleared_at: Mapped[datetime | None] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


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


class WorkCalendar(Base):
    """A working-time calendar: the national one (``CN``) or a district's own."""

    __tablename__ = "calendars"
    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    periods: Mapped[str] = mapped_column(Text)
    weekdays: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class CalendarYear(Base):
    """A year a calendar imported from a file, replacing the official schedule of that year."""

    __tablename__ = "calendar_years"
    calendar_code: Mapped[str] = mapped_column(ForeignKey("calendars.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(Timestamp)


class CalendarDay(Base):
    """A holiday or adjusted workday of an imported year."""

    __tablename__ = "calendar_days"
    calendar_code: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer, Computed("extract(year FROM day)", persisted=True))


class StageLimit(Base):
    """A category's time limit for one stage, overriding the default."""

    __tablename__ = "stage_limits"
    category_code: Mapped[str] = mapped_column(ForeignKey("catalogue.code"), primary_key=True)
    stage: Mapped[str] = mapped_column(Text, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer)
    working: Mapped[bool] = mapped_column(Boolean)


class DelayLimit(Base):
    """How often and how long a category's handling may be extended or suspended."""

    __tablename__ = "delay_limits"
    category_code: Mapped[str] = mapped_column(ForeignKey("catalogue.code"), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    max_count: Mapped[int] = mapped_column(Integer)
    max_minutes: Mapped[int] = mapped_column(Integer)


class TimeRequest(Base):
    """An extension (延期) or suspension (挂起) request and its decision."""

    __tablename__ = "time_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    rework: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(Text)
    requested_role: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(Timestamp)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_role: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decision_reason: Mapped[str] = mapped_column(Text)
    paused_from: Mapped[datetime | None] = mapped_column(Timestamp)
    paused_until: Mapped[datetime | None] = mapped_column(Timestamp)


class CaseAssignment(Base):
    """A team on a case: the lead (主办) or a supporter (协办), with its own due time and feedback."""

    __tablename__ = "case_assignments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    district_code: Mapped[str] = mapped_column(String(6))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    role: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(Timestamp)
    due_at: Mapped[datetime] = mapped_column(Timestamp)
    limit_minutes: Mapped[int] = mapped_column(Integer)
    working: Mapped[bool] = mapped_column(Boolean)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
    feedback: Mapped[str] = mapped_column(Text)
