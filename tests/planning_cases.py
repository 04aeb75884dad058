"""Hand-made planning geometry: a 400 m x 200 m community in Gauss-Krüger metres, and helpers.

The community lies near 116.48E 31.0N, outside the demo district, in the
CGCS2000 zone EPSG:4548 (central meridian 117E), the zone the report itself
picks there, so areas in the report are the areas drawn here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geo.planning.grids import CurrentGrid
from geo.planning.workload import AssetPoints, Assets

ZONE = 4548
X0, Y0 = 450_000.0, 3_430_000.0
STREET = "340111001"
COMMUNITY = STREET + "901"
_TO_WGS84 = pyproj.Transformer.from_crs(ZONE, 4326, always_xy=True)


def local(geom: BaseGeometry) -> BaseGeometry:
    """Shift a shape drawn around (0, 0) in metres to the community's place in the zone."""
    return shapely.transform(geom, lambda xy: xy + np.array([X0, Y0]))


def wgs84(geom: BaseGeometry) -> BaseGeometry:
    """A zone shape (already placed) in WGS84."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_WGS84.transform(xy[:, 0], xy[:, 1])))


def rect(x1: float, y1: float, x2: float, y2: float) -> BaseGeometry:
    """A rectangle in local metres, placed in the zone (not yet WGS84)."""
    return local(box(x1, y1, x2, y2))


def grid_code(n: int) -> str:
    """The 15-digit code of the community's grid number ``n``."""
    return f"{COMMUNITY}{n:03d}"


COMMUNITY_ZONE = rect(0, 0, 400, 200)
GRID_A = rect(0, 0, 200, 200)
GRID_B = rect(200, 0, 400, 200)


def community_geom() -> BaseGeometry:
    """The community outline in WGS84, the exact union of A and B (they share vertices)."""
    return shapely.coverage_union_all([wgs84(GRID_A), wgs84(GRID_B)])


def current_grids() -> list[CurrentGrid]:
    """Today's grids A (code 001) and B (code 002), in WGS84."""
    return [CurrentGrid(1, grid_code(1), "A", wgs84(GRID_A)), CurrentGrid(2, grid_code(2), "B", wgs84(GRID_B))]


def feature(geom: BaseGeometry, code: str | None = None, name: str = "") -> dict[str, Any]:
    """A GeoJSON feature in zone coordinates (for proposals sent with crs=EPSG:4548)."""
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom),
            "properties": {"code": code, "name": name}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    """A FeatureCollection, JSON-ready (lists, not tuples)."""
    import json
    return json.loads(json.dumps({"type": "FeatureCollection", "features": list(features)}))


# buildings at known local points: three in A (10+20+30 residents), one in B (40)
BUILDING_POINTS = [(50, 50, 10, 4), (150, 150, 20, 8), (195, 100, 30, 12), (300, 100, 40, 16)]
CAMERA_POINTS = [(100, 100), (350, 50)]


def lonlat(points: list[tuple[float, float]]) -> np.ndarray:
    """Zone points → an ``(n, 2)`` WGS84 array."""
    xy = np.array(points, dtype=float)
    return np.column_stack(_TO_WGS84.transform(xy[:, 0], xy[:, 1]))


def assets() -> Assets:
    """Buildings and cameras at :data:`BUILDING_POINTS` / :data:`CAMERA_POINTS`, in WGS84."""
    bxy = lonlat([(X0 + x, Y0 + y) for x, y, _, _ in BUILDING_POINTS])
    buildings = AssetPoints(np.arange(1, 5), [f"b{i}" for i in range(1, 5)], bxy,
                            {"residents": np.array([r for *_, r, _ in BUILDING_POINTS], dtype=float),
                             "households": np.array([h for *_, h in BUILDING_POINTS], dtype=float)})
    cxy = lonlat([(X0 + x, Y0 + y) for x, y in CAMERA_POINTS])
    cameras = AssetPoints(np.arange(1, 3), ["c1", "c2"], cxy)
    return Assets(buildings, cameras, AssetPoints.empty(), AssetPoints.empty(), AssetPoints.empty())


def insert_community(url: str) -> dict[str, int]:
    """Store the hand-made community with grids A and B (valid since 30 days), buildings and cases.

    Cases: an open one in A at (50, 50), a closed one in A at (60, 60), an
    open one in B at (300, 100). Returns their ids by name.
    """
    import psycopg

    def ewkt(geom: BaseGeometry) -> str:
        return "SRID=4326;" + wgs84(geom).wkt if geom is not None else ""

    point = lambda x, y: ewkt(shapely.Point(X0 + x, Y0 + y))  # noqa: E731
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("INSERT INTO communities (code, street_code, name, geom) VALUES (%s, %s, %s, ST_Multi(%s))",
                     (COMMUNITY, STREET, "试验社区", "SRID=4326;" + community_geom().wkt))
        for n, geom in ((1, GRID_A), (2, GRID_B)):
            conn.execute("INSERT INTO grids (code, community_code, name, geom, valid_from) "
                         "VALUES (%s, %s, %s, ST_Multi(%s), now() - interval '30 days')",
                         (grid_code(n), COMMUNITY, "AB"[n - 1], ewkt(geom)))
        for i, (x, y, residents, households) in enumerate(BUILDING_POINTS, start=1):
            footprint = shapely.Point(X0 + x, Y0 + y).buffer(2, quad_segs=1)
            conn.execute("INSERT INTO buildings (code, address, road, door_number, households, residents, geom) "
                         "VALUES (%s, %s, '试验路', %s, %s, %s, %s)",
                         (f"T{i:07d}", f"试验路{i}号", i, households, residents, ewkt(footprint)))
        category = conn.execute("SELECT code, time_limit_hours FROM catalogue ORDER BY code LIMIT 1").fetchone()
        ids = {}
        for name, (x, y), grid, status in (("open_a", (50, 50), 1, "handling"), ("closed_a", (60, 60), 1, "closed"),
                                           ("open_b", (300, 100), 2, "accepted")):
            row = conn.execute(
                "INSERT INTO incidents (district_code, category_code, channel, raw_x, raw_y, raw_crs, geom, "
                "grid_id, grid_code, community_code, street_code, status, reported_at, deadline) "
                "SELECT '340111', %s, 'hotline', ST_X(p), ST_Y(p), 'wgs84', p, g.id, g.code, %s, %s, %s, "
                "now() - interval '2 days', now() + interval '2 days' "
                "FROM (SELECT %s::geometry AS p) AS pt, grids AS g WHERE g.code = %s AND g.valid_to IS NULL "
                "RETURNING id",
                (category[0], COMMUNITY, STREET, status, point(x, y), grid_code(grid))).fetchone()
            ids[name] = row[0]
        conn.commit()
    return ids


def in_metres(geoms: BaseGeometry | np.ndarray, around: BaseGeometry) -> Any:
    """Degrees scaled to metres at ``around``'s latitude: affine, so edges straight in degrees (as the
    store draws them) stay straight; a projection would bend them by a millimetre over 300 m."""
    scale = np.array([111_320 * math.cos(math.radians(around.centroid.y)), 110_574])
    return shapely.transform(geoms, lambda xy: xy * scale)


def tiles_exactly(outline: BaseGeometry, grids: list[BaseGeometry]) -> bool:
    """Independent truth: union = outline within 1 mm, overlaps under 1 cm², neighbours share vertices."""
    metric = in_metres(np.asarray(grids, dtype=object), outline)
    area = in_metres(outline, outline)
    union = shapely.union_all(metric)
    if shapely.hausdorff_distance(shapely.boundary(union), shapely.boundary(area), densify=0.1) >= 1e-3:
        return False
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    overlap = sum(shapely.area(shapely.intersection(metric[a], metric[b])) for a, b in zip(left, right, strict=True)
                  if a < b)
    return overlap < 1e-4 and bool(shapely.coverage_is_valid(np.asarray(grids, dtype=object)))
