"""Build the demo city into PostGIS, once per seed, and reuse it afterwards.

The caller gives the district outline already in WGS84 (``geo.boundary``
converts the GCJ-02 file) and the EPSG code of a metric CRS for it (the
district's Gauss-Krüger zone): generation happens in metres, storage in
EPSG:4326. Grid edges add vertices on the district's long straight edges;
those lie on the edge as drawn in the metric CRS, which bows up to about
1.3 m from the same edge drawn straight in degrees (measured on Baohe).
The whole load is one transaction, so a failed build leaves the
previous data untouched.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb
from pyproj import Transformer
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

from layers.demo import features, history
from layers.demo.hierarchy import Hierarchy, as_multipolygon, build_hierarchy
from layers.demo.names import STREETS, community_names, person_name, phone_number
from layers.io.catalogue import seed_catalogue
from layers.load import copy_rows, ewkb_hex

log = logging.getLogger(__name__)

GENERATOR_VERSION = 3
DEMO_TABLES = (
    "sensor_states", "sensor_readings", "sensors",
    "incident_events", "incidents", "planning_proposals", "catalogue", "teams", "team_types",
    "buildings", "stall_zones", "waterlogging_points", "cameras", "grids", "communities",
    "streets", "districts",
)


DEMO_SENSORS = """
    INSERT INTO sensors (code, name, kind, unit, watches, geom)
    SELECT sensor_id, name || '水位计', 'water_level', 'cm', code, geom FROM waterlogging_points ORDER BY code"""


@dataclass(frozen=True)
class DemoSpec:
    """What to generate; the defaults are the demo city of the README."""

    seed: int = 2024
    streets: int = 10
    communities: int = 100
    grids: int = 2200
    buildings: int = 20_000
    cameras: int = 500
    waterlogging_points: int = 100
    stall_zones: int = 50
    incidents: int = 10_000
    history_days: int = 90


@dataclass(frozen=True)
class District:
    """The district to build on: code, names, WGS84 outline and metric EPSG code."""

    code: str
    name: str
    province: str
    city: str
    geom: MultiPolygon
    metric_epsg: int


def current_demo(conn: psycopg.Connection) -> dict | None:
    """Return the stored demo's description, or None when none was built."""
    row = conn.execute("SELECT value FROM wangge_meta WHERE key = 'demo'").fetchone()
    return row[0] if row else None


def ensure_demo(url: str, district: District, spec: DemoSpec) -> bool:
    """Build the demo unless the same one is already stored; return True when built."""
    wanted = _description(district, spec)
    with psycopg.connect(url) as conn:
        stored = current_demo(conn)
    if stored and {k: stored.get(k) for k in wanted} == wanted:
        return False
    build_demo(url, district, spec)
    return True


def _description(district: District, spec: DemoSpec) -> dict:
    return {"district": district.code, "generator": GENERATOR_VERSION, **asdict(spec)}


class _Projector:
    """Moves geometries between WGS84 and the metric CRS, vertex by vertex."""

    def __init__(self, metric_epsg: int) -> None:
        self._to_metric = Transformer.from_crs(4326, metric_epsg, always_xy=True)
        self._to_wgs84 = Transformer.from_crs(metric_epsg, 4326, always_xy=True)

    def metric(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: np.column_stack(self._to_metric.transform(xy[:, 0], xy[:, 1])))

    def wgs84(self, geoms: list) -> list[str]:
        moved = shapely.transform(np.asarray(geoms, dtype=object),
                                  lambda xy: np.column_stack(self._to_wgs84.transform(xy[:, 0], xy[:, 1])))
        return ewkb_hex(list(moved))

    def lonlat(self, points: np.ndarray) -> np.ndarray:
        return np.column_stack(self._to_wgs84.transform(points[:, 0], points[:, 1]))


def build_demo(url: str, district: District, spec: DemoSpec) -> None:
    """Generate the demo city from ``spec.seed`` and replace whatever demo data is stored."""
    rng = np.random.default_rng(spec.seed)
    proj = _Projector(district.metric_epsg)
    area = proj.metric(district.geom)
    h = build_hierarchy(area, rng, grids=spec.grids, communities=spec.communities, streets=spec.streets)
    street_codes = [f"{district.code}{i + 1:03d}" for i in range(len(h.streets))]
    street_names = list(STREETS[: len(h.streets)])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE " + ", ".join(DEMO_TABLES) + " RESTART IDENTITY CASCADE")
        _load_hierarchy(conn, district, h, street_codes, street_names, proj, rng, now)
        building_rows = features.buildings(h, area, street_names, district.name, spec.buildings, rng)
        _load_features(conn, h, area, building_rows, street_codes, street_names, proj, spec, rng)
        # a radar level sensor in each waterlogging point, obeying the point's levels (issue 10)
        conn.execute(DEMO_SENSORS)
        team_rows = _load_catalogue_and_teams(conn, h, street_codes, street_names, proj, rng)
        centroids = np.array([(b[-1].centroid.x, b[-1].centroid.y) for b in building_rows])
        drafts = history.cases(centroids, [b[1] for b in building_rows], team_rows, now,
                               spec.incidents * 21 // 20, spec.history_days, rng)
        # a case jittered off a building near the edge may fall outside the district
        shapely.prepare(area)
        drafts = [d for d in drafts if area.contains(d.point)][: spec.incidents]
        _load_cases(conn, district.code, drafts, proj)
        conn.execute(
            "INSERT INTO wangge_meta (key, value) VALUES ('demo', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            (Jsonb({**_description(district, spec), "built_at": now.isoformat()}),),
        )
    log.info("demo city built: %d grids, %d communities, %d streets",
             len(h.grids), len(h.communities), len(h.streets))


def _load_hierarchy(conn: psycopg.Connection, district: District, h: Hierarchy,
                    street_codes: list[str], street_names: list[str], proj: _Projector,
                    rng: np.random.Generator, now: datetime) -> None:
    outline = as_multipolygon(shapely.coverage_union_all(h.streets))
    copy_rows(conn, "districts", ("code", "name", "province", "city", "geom"),
              [(district.code, district.name, district.province, district.city, proj.wgs84([outline])[0])])
    copy_rows(conn, "streets", ("code", "district_code", "name", "geom"),
              zip(street_codes, [district.code] * len(street_codes), street_names,
                  proj.wgs84(h.streets), strict=True))
    community_codes, names = [], community_names(len(h.communities))
    per_street: dict[int, int] = {}
    for street in h.community_street:
        per_street[street] = per_street.get(street, 0) + 1
        community_codes.append(f"{street_codes[street]}{per_street[street]:03d}")
    copy_rows(conn, "communities", ("code", "street_code", "name", "geom"),
              zip(community_codes, [street_codes[s] for s in h.community_street], names,
                  proj.wgs84(h.communities), strict=True))
    per_community: dict[int, int] = {}
    grid_rows = []
    valid_from = now.replace(year=now.year - 1)
    for community, geom in zip(h.grid_community, proj.wgs84(h.grids), strict=True):
        per_community[community] = per_community.get(community, 0) + 1
        n = per_community[community]
        grid_rows.append((f"{community_codes[community]}{n:03d}", community_codes[community],
                          f"{names[community][:-2]}第{n}网格", person_name(rng), phone_number(rng),
                          geom, valid_from))
    copy_rows(conn, "grids", ("code", "community_code", "name", "worker_name", "worker_phone",
                              "geom", "valid_from"), grid_rows)


def _load_features(conn: psycopg.Connection, h: Hierarchy, area: BaseGeometry, building_rows: list[tuple],
                   street_codes: list[str], street_names: list[str], proj: _Projector,
                   spec: DemoSpec, rng: np.random.Generator) -> None:
    # codes as the migration gives rows stored before buildings had one: B + the row number
    copy_rows(conn, "buildings", ("code", "address", "road", "door_number", "building_no", "households",
                                  "residents", "floors", "geom"),
              [(f"B{i:08d}", *row) for i, row in enumerate(_with_geoms(building_rows, proj), start=1)])
    camera_rows = features.cameras(area, spec.cameras, rng)
    water_rows = features.waterlogging_points(area, spec.waterlogging_points, rng)
    # their own generator, so the rest of the city stays what the seed always gave
    camera_rows += features.waterlogging_cameras(water_rows, len(camera_rows), np.random.default_rng([spec.seed, 6]))
    copy_rows(conn, "cameras", ("code", "name", "kind", "online", "heading_deg", "fov_deg", "range_m",
                                "stream_url", "snapshot_url", "geom"), _with_geoms(camera_rows, proj))
    copy_rows(conn, "waterlogging_points", ("code", "name", "sensor_id", "warn_level_cm",
                                            "alarm_level_cm", "current_level_cm", "geom"),
              _with_geoms(water_rows, proj))
    copy_rows(conn, "stall_zones", ("code", "name", "kind", "opens", "closes", "daily_visitors", "geom"),
              _with_geoms(features.stall_zones(area, spec.stall_zones, rng), proj))


def _with_geoms(rows: list[tuple], proj: _Projector) -> list[tuple]:
    # the geometry is each row's last value; convert them all in one call
    geoms = proj.wgs84([r[-1] for r in rows])
    return [(*r[:-1], g) for r, g in zip(rows, geoms, strict=True)]


def _load_catalogue_and_teams(conn: psycopg.Connection, h: Hierarchy, street_codes: list[str],
                              street_names: list[str], proj: _Projector,
                              rng: np.random.Generator) -> list[tuple]:
    seed_catalogue(conn)
    team_rows = features.teams(h, street_codes, street_names, rng)
    homes = proj.wgs84([r[6] for r in team_rows])
    positions = proj.wgs84([r[7] for r in team_rows])
    copy_rows(conn, "teams", ("code", "name", "type", "home_station", "area_code", "status",
                              "home", "position"),
              [(*r[:6], home, pos) for r, home, pos in zip(team_rows, homes, positions, strict=True)])
    return team_rows


def _load_cases(conn: psycopg.Connection, district_code: str, drafts: list[history.CaseDraft],
                proj: _Projector) -> None:
    lonlat = proj.lonlat(np.array([(d.point.x, d.point.y) for d in drafts]))
    geoms = ewkb_hex(list(shapely.points(lonlat)))
    copy_rows(conn, "incidents", (
        "district_code", "category_code", "channel", "description", "raw_x", "raw_y", "raw_crs",
        "geom", "level", "status", "team_id", "reported_at", "deadline", "closed_at", "updated_at"),
        ((district_code, d.category.code, d.channel, d.description, float(xy[0]), float(xy[1]),
          "wgs84", g, d.category.level, d.status, d.team_id, d.reported_at, d.deadline, d.closed_at,
          d.steps[-1][1]) for d, xy, g in zip(drafts, lonlat, geoms, strict=True)))
    copy_rows(conn, "incident_events", ("incident_id", "district_code", "at", "actor", "role",
                                        "action", "from_status", "to_status", "reason"),
              (row for i, d in enumerate(drafts, start=1)
               for row in history.event_rows(i, district_code, d)))
    # a case keeps the grid version it was filed in: the one current at filing
    conn.execute("""
        UPDATE incidents AS i
        SET grid_id = g.id, grid_code = g.code, community_code = g.community_code,
            street_code = left(g.community_code, 9)
        FROM grids AS g
        WHERE ST_Covers(g.geom, i.geom) AND g.valid_to IS NULL""")
