"""Generate the demo city's buildings, cameras, waterlogging points, stall zones and teams.

Everything is drawn in the district's metric CRS from one seeded generator,
so the same seed always gives the same city. Rows are plain tuples in the
column order of their table (see :mod:`layers.demo.build`), geometries in
metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from layers.demo.catalogue import TEAM_TYPES
from layers.demo.hierarchy import Hierarchy, as_multipolygon, sample_points
from layers.demo.names import ROADS, person_name

ROAD_SPACING_M = 700.0
DOOR_SPACING_M = 40.0
PROVINCE, CITY = "安徽省", "合肥市"


@dataclass(frozen=True)
class RoadNet:
    """Axis-aligned demo roads: east-west ones at ``ys``, north-south ones at ``xs``."""

    xs: np.ndarray
    ys: np.ndarray
    names_x: list[str]
    names_y: list[str]
    origin: tuple[float, float]

    def nearest(self, x: float, y: float) -> tuple[str, float, bool]:
        """Name the nearest road, the distance along it and which side of it the point is on."""
        ix = int(np.argmin(np.abs(self.xs - x)))
        iy = int(np.argmin(np.abs(self.ys - y)))
        if abs(self.ys[iy] - y) <= abs(self.xs[ix] - x):
            return self.names_y[iy], x - self.origin[0], bool(y > self.ys[iy])
        return self.names_x[ix], y - self.origin[1], bool(x > self.xs[ix])


def road_net(district: Polygon | MultiPolygon) -> RoadNet:
    """Lay a road every ``ROAD_SPACING_M`` across the district's bounds, named from Baohe's roads."""
    minx, miny, maxx, maxy = district.bounds
    xs = np.arange(minx + ROAD_SPACING_M / 2, maxx, ROAD_SPACING_M)
    ys = np.arange(miny + ROAD_SPACING_M / 2, maxy, ROAD_SPACING_M)
    names = [_road_name(i) for i in range(len(xs) + len(ys))]
    return RoadNet(xs, ys, names[: len(xs)], names[len(xs):], (minx, miny))


def _road_name(index: int) -> str:
    base = ROADS[index % len(ROADS)]
    # once Baohe's names run out, use the 支路 (branch road) of each
    return base if index < len(ROADS) else base[:-1] + "支路"


def _rectangle(x: float, y: float, width: float, depth: float, angle: float) -> Polygon:
    corners = np.array([(-width, -depth), (width, -depth), (width, depth), (-width, depth)]) / 2
    c, s = np.cos(angle), np.sin(angle)
    rotated = corners @ np.array([[c, s], [-s, c]])
    return Polygon(rotated + np.array([x, y]))


def buildings(h: Hierarchy, district: Polygon | MultiPolygon, street_names: list[str],
              district_name: str, count: int, rng: np.random.Generator) -> list[tuple]:
    """Rows ``(address, road, door_number, building_no, households, residents, floors, polygon)``.

    Buildings lie wholly inside one grid. Two buildings that fall on the same
    door number are told apart by a building number (栋).
    """
    roads = road_net(district)
    grid_tree = shapely.STRtree(h.grids)
    street_of_grid = [h.community_street[c] for c in h.grid_community]
    drafts: list[tuple[str, str, float, bool, Polygon]] = []
    for x, y in sample_points(district, count * 2, rng, np.array([0.8])):
        if len(drafts) == count:
            break
        footprint = _rectangle(x, y, rng.uniform(15, 40), rng.uniform(10, 20), rng.uniform(0, np.pi))
        hits = grid_tree.query(footprint, predicate="within")
        if len(hits) != 1:
            continue
        road, along, side = roads.nearest(x, y)
        drafts.append((street_names[street_of_grid[int(hits[0])]], road, along, side, footprint))
    # door numbers count from where each road's first building stands, odd on one side
    start: dict[str, float] = {}
    for _, road, along, _, _ in drafts:
        start[road] = min(along, start.get(road, along))
    rows = []
    seen: dict[tuple[str, int], int] = {}
    for street, road, along, side, footprint in drafts:
        door = 2 * int((along - start[road]) // DOOR_SPACING_M) + (1 if side else 2)
        number = seen.get((road, door), 0) + 1
        seen[(road, door)] = number
        floors = int(rng.choice([2, 3, 6, 6, 11, 18, 26, 33]))
        households = int(rng.integers(1, 5)) * floors if floors > 3 else int(rng.integers(1, 4))
        residents = round(households * rng.uniform(2.2, 3.1))
        address = f"{PROVINCE}{CITY}{district_name}{street}{road}{door}号{number}栋"
        rows.append((address, road, door, number, households, residents, floors, footprint))
    return rows


# field of view (degrees) and useful range (metres) by kind: a fixed bullet camera
# sees a stretch of street, a dome zooms over a wider angle, a high point sees far
CAMERA_VIEWS = {"fixed": (60.0, 80.0), "dome": (90.0, 120.0), "high_point": (120.0, 400.0)}


def _stream_urls(code: str, serial: int) -> tuple[str, str]:
    # the three forms video platforms hand out (RTSP, HLS, FLV), kept as given
    host = f"10.34.{serial // 250 % 250}.{serial % 250 + 1}"
    stream = (f"rtsp://{host}:554/Streaming/Channels/101", f"http://video.baohe.local/live/{code}.m3u8",
              f"http://video.baohe.local/live/{code}.flv")[serial % 3]
    return stream, f"http://video.baohe.local/snapshot/{code}.jpg"


def cameras(district: Polygon | MultiPolygon, count: int, rng: np.random.Generator) -> list[tuple]:
    """Rows ``(code, name, kind, online, heading, fov, range, stream_url, snapshot_url, point)``.

    Most cameras are in the dense north; each looks along its nearest road
    (every other one the other way). Headings are grid bearings in the metric
    CRS, within a fraction of a degree of true north near the zone's meridian.
    """
    roads = road_net(district)
    rows = []
    for i, (x, y) in enumerate(sample_points(district, count, rng, np.array([0.7])), start=1):
        road = roads.nearest(x, y)[0]
        kind = ("fixed", "dome", "high_point")[int(rng.choice(3, p=[0.6, 0.3, 0.1]))]
        along_east_west = np.abs(roads.ys - y).min() <= np.abs(roads.xs - x).min()
        heading = (90.0 if along_east_west else 0.0) + 180.0 * (i % 2)
        code = f"CAM{i:05d}"
        rows.append((code, f"{road}监控{i}", kind, bool(rng.random() > 0.03), heading, *CAMERA_VIEWS[kind],
                     *_stream_urls(code, i), Point(x, y)))
    return rows


def waterlogging_cameras(points: list[tuple], first_serial: int, rng: np.random.Generator) -> list[tuple]:
    """Two cameras 25-60 m from each waterlogging point, pointing at it; rows as :func:`cameras`."""
    rows = []
    for n, point_row in enumerate(points):
        target = point_row[-1]
        for j in (1, 2):
            angle = rng.uniform(0, 2 * np.pi)
            distance = rng.uniform(25, 60)
            x, y = target.x + distance * np.sin(angle), target.y + distance * np.cos(angle)
            heading = float(np.degrees(np.arctan2(target.x - x, target.y - y)) % 360)
            kind = ("fixed", "dome")[j - 1]
            serial = first_serial + 2 * n + j
            code = f"CAM{serial:05d}"
            rows.append((code, f"{point_row[1]}监控{j}", kind, True, round(heading, 1), *CAMERA_VIEWS[kind],
                         *_stream_urls(code, serial), Point(x, y)))
    return rows


def waterlogging_points(district: Polygon | MultiPolygon, count: int,
                        rng: np.random.Generator) -> list[tuple]:
    """Rows ``(code, name, sensor_id, warn_cm, alarm_cm, current_cm, point)``.

    A few points are above their warning or alarm level, so the map wall has
    something red to show.
    """
    roads = road_net(district)
    rows = []
    for i, (x, y) in enumerate(sample_points(district, count, rng, np.array([0.5])), start=1):
        road = roads.nearest(x, y)[0]
        warn = float(rng.choice([15, 20, 25]))
        alarm = warn + float(rng.choice([10, 15, 20]))
        level = float(rng.choice([0, 0, 0, 0, 2, 5, warn + 2, alarm + 5], p=[.4, .2, .1, .1, .08, .06, .04, .02]))
        rows.append((f"WL{i:04d}", f"{road}下穿易涝点{i}", f"RADAR-{i:05d}", warn, alarm, level, Point(x, y)))
    return rows


def stall_zones(district: Polygon | MultiPolygon, count: int, rng: np.random.Generator) -> list[tuple]:
    """Rows ``(code, name, kind, opens, closes, daily_visitors, multipolygon)``: 150-300 m street strips."""
    roads = road_net(district)
    kinds = (("夜市", time(17), time(23, 30)), ("小龙虾美食街", time(18), time(2)),
             ("早市", time(5, 30), time(9)), ("便民摊群点", time(7), time(21)))
    rows: list[tuple] = []
    for x, y in sample_points(district, count * 3, rng, np.array([0.9])):
        if len(rows) == count:
            break
        length, angle = rng.uniform(150, 300), rng.uniform(0, np.pi)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        strip = LineString([(x - dx, y - dy), (x + dx, y + dy)]).buffer(12, cap_style="flat")
        if not district.contains(strip):
            continue
        road = roads.nearest(x, y)[0]
        kind, opens, closes = kinds[int(rng.integers(0, len(kinds)))]
        visitors = int(rng.integers(5, 100)) * 100
        i = len(rows) + 1
        rows.append((f"STALL{i:03d}", f"{road}{kind}", kind, opens, closes, visitors, as_multipolygon(strip)))
    return rows


TEAM_COUNTS = {
    "city_management": 80, "market_supervision": 45, "police_station": 55, "traffic_police": 45,
    "emergency_safety": 15, "environment": 15, "housing": 15, "water_affairs": 15, "municipal": 15,
}


def teams(h: Hierarchy, street_codes: list[str], street_names: list[str],
          rng: np.random.Generator) -> list[tuple]:
    """Rows ``(code, name, type, home_station, area_code, status, home, position)``.

    Each team has a home station in one street and is somewhere within 2 km
    of it; 70% are free, 20% busy, 10% off duty.
    """
    type_names = {t.code: t.name for t in TEAM_TYPES}
    rows = []
    serial = 0
    for type_code, count in TEAM_COUNTS.items():
        for n in range(1, count + 1):
            serial += 1
            street = int(rng.integers(0, len(h.streets)))
            home = sample_points(h.streets[street], 1, rng)[0]
            position = sample_points(h.streets[street].buffer(0).intersection(
                Point(*home).buffer(2000)), 1, rng)[0]
            status = ("free", "busy", "off_duty")[int(rng.choice(3, p=[0.7, 0.2, 0.1]))]
            station = f"{street_names[street]}{type_names[type_code]}站"
            rows.append((f"T{serial:04d}", f"{station}{n}组（{person_name(rng)}）", type_code,
                         station, street_codes[street], status, Point(*home), Point(*position)))
    return rows
