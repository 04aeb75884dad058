"""A small made-up district (code 510108, near Chengdu) written as a real district's IT department would.

The truth is built in WGS84 by splitting an irregular outline with lines
(so neighbours share their nodes exactly), then each layer is written in
another format and coordinate system:

- boundary: GeoJSON in GCJ-02 (the ``crs`` member absent: the file claims WGS84 by RFC 7946)
- streets: Shapefile in the 3-degree Gauss-Krüger zone (EPSG:4545, CM 105E)
- communities: GeoPackage in CGCS2000 (EPSG:4490)
- grids: GeoJSON in GCJ-02
- cameras: CSV in BD-09
- buildings: zipped Shapefile in WGS84; waterlogging points: GeoPackage; stall zones: GeoJSON;
  teams: CSV in WGS84; incidents: CSV in WGS84
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import split

from geo import chinacrs
from geo.crs import parse_crs  # noqa: F401  (re-exported for tests)

CODE = "510108"
NAME = "成华区"
GK_EPSG = 4545
OUTLINE = Polygon([(104.080, 30.640), (104.130, 30.636), (104.142, 30.668), (104.118, 30.690),
                   (104.084, 30.684), (104.074, 30.662)])


@dataclass
class District:
    """The WGS84 truth of every layer, by code."""

    outline: Polygon
    streets: dict[str, Polygon] = field(default_factory=dict)
    communities: dict[str, Polygon] = field(default_factory=dict)
    grids: dict[str, Polygon] = field(default_factory=dict)


def _cut(shape: Polygon, line: LineString) -> list[Polygon]:
    parts = sorted(split(shape, line).geoms, key=lambda p: (round(p.centroid.x, 6), round(p.centroid.y, 6)))
    return [p for p in parts if isinstance(p, Polygon)]


def build(outline: Polygon = OUTLINE, code: str = CODE) -> District:
    """Two streets, two communities each, two grids each: 8 grids that tile the outline exactly."""
    d = District(outline)
    x0, y0, x1, y1 = outline.bounds
    mid_x = (x0 + x1) / 2 + 0.0013
    for s, street in enumerate(_cut(outline, LineString([(mid_x, y0 - 1), (mid_x + 0.004, y1 + 1)])), start=1):
        s_code = f"{code}{s:03d}"
        d.streets[s_code] = street
        sx0, sy0, sx1, sy1 = street.bounds
        mid_y = (sy0 + sy1) / 2 - 0.0007
        for c, community in enumerate(_cut(street, LineString([(sx0 - 1, mid_y), (sx1 + 1, mid_y + 0.003)])),
                                      start=1):
            c_code = f"{s_code}{c:03d}"
            d.communities[c_code] = community
            cx0, cy0, cx1, cy1 = community.bounds
            cx = (cx0 + cx1) / 2
            for g, grid in enumerate(_cut(community, LineString([(cx - 0.002, cy0 - 1), (cx + 0.002, cy1 + 1)])),
                                     start=1):
                d.grids[f"{c_code}{g:03d}"] = grid
    return d


def _shift(geoms: list, convert: object) -> list:
    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(convert(xy[:, 0], xy[:, 1]))  # type: ignore[operator]

    return list(shapely.transform(np.asarray(geoms, dtype=object), move))


def gcj02(geoms: list) -> list:
    """WGS84 → GCJ-02 shapes."""
    return _shift(geoms, chinacrs.wgs84_to_gcj02_array)


def bd09(geoms: list) -> list:
    """WGS84 → BD-09 shapes."""
    return _shift(geoms, chinacrs.wgs84_to_bd09_array)


def _frame(rows: dict[str, Polygon], names: str, extra: dict | None = None) -> gpd.GeoDataFrame:
    codes = sorted(rows)
    data = {"code": codes, "name": [f"{names}{i}" for i in range(1, len(codes) + 1)], **(extra or {})}
    return gpd.GeoDataFrame(data, geometry=[rows[c] for c in codes], crs="EPSG:4326")


def buildings(d: District, per_grid: int = 3, seed: int = 7) -> gpd.GeoDataFrame:
    """Small square buildings well inside each grid."""
    rng = np.random.default_rng(seed)
    rows = []
    for g_code, grid in sorted(d.grids.items()):
        inner = grid.buffer(-0.0008)
        made = 0
        while made < per_grid:
            x0, y0, x1, y1 = inner.bounds
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if not inner.contains(shapely.Point(x, y)):
                continue
            made += 1
            n = len(rows) + 1
            rows.append({"code": f"B{n:05d}", "address": f"四川省成都市成华区建设路{n}号", "road": "建设路",
                         "door_number": n, "households": int(rng.integers(10, 60)),
                         "residents": int(rng.integers(20, 150)), "floors": int(rng.integers(1, 30)),
                         "geometry": shapely.box(x, y, x + 0.0002, y + 0.00015), "grid": g_code})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def points_inside(d: District, count: int, seed: int, margin: float = 0.0004) -> list[shapely.Point]:
    """Random points at least ``margin`` degrees inside the outline."""
    rng = np.random.default_rng(seed)
    inner = d.outline.buffer(-margin)
    x0, y0, x1, y1 = inner.bounds
    points: list[shapely.Point] = []
    while len(points) < count:
        p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if inner.contains(p):
            points.append(p)
    return points


def write_all(d: District, folder: Path) -> dict[str, Path]:
    """Write every layer of ``d`` into ``folder``; return the files by layer name."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    boundary = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": NAME},
                "geometry": shapely.geometry.mapping(gcj02([d.outline])[0])}]}
    files["boundary"] = folder / "boundary_gcj02.geojson"
    files["boundary"].write_text(json.dumps(boundary, ensure_ascii=False), encoding="utf-8")

    files["streets"] = folder / "streets_gk.shp"
    _frame(d.streets, "街道").to_crs(epsg=GK_EPSG).to_file(files["streets"], encoding="UTF-8")

    files["communities"] = folder / "communities.gpkg"
    communities = _frame(d.communities, "社区").set_crs(epsg=4490, allow_override=True)
    communities.to_file(files["communities"], layer="communities")

    files["grids"] = folder / "grids_gcj02.geojson"
    grids = _frame(d.grids, "网格", {"worker_name": ["张三"] * len(d.grids)})
    grids.geometry = gcj02(list(grids.geometry))
    grids.to_file(files["grids"], driver="GeoJSON")

    cams = points_inside(d, 12, seed=3)
    shifted = bd09(cams)
    files["cameras"] = folder / "cameras_bd09.csv"
    pd.DataFrame({"code": [f"CAM{i:03d}" for i in range(len(cams))], "name": [f"监控{i}" for i in range(len(cams))],
                  "kind": ["dome"] * len(cams), "lng": [p.x for p in shifted], "lat": [p.y for p in shifted]}
                 ).to_csv(files["cameras"], index=False)

    b = buildings(d)
    shp = folder / "buildings" / "buildings.shp"
    shp.parent.mkdir(exist_ok=True)
    b.drop(columns="grid").rename(columns={"door_number": "door", "households": "househlds"}).to_file(
        shp, encoding="UTF-8")
    files["buildings"] = folder / "buildings.zip"
    with zipfile.ZipFile(files["buildings"], "w") as archive:
        for part in shp.parent.iterdir():
            archive.write(part, part.name)

    wl = points_inside(d, 5, seed=5)
    files["waterlogging_points"] = folder / "waterlogging.gpkg"
    gpd.GeoDataFrame({"code": [f"WL{i:02d}" for i in range(5)], "name": [f"易涝点{i}" for i in range(5)],
                      "warn_level_cm": [15.0] * 5, "alarm_level_cm": [30.0] * 5}, geometry=wl, crs="EPSG:4326",
                     ).to_file(files["waterlogging_points"], layer="waterlogging_points")

    # a level sensor in each waterlogging point (its levels from the point) and a rain gauge of its own
    files["sensors"] = folder / "sensors.geojson"
    gauge = points_inside(d, 1, seed=6)
    gpd.GeoDataFrame({"code": [f"LV{i:02d}" for i in range(5)] + ["RAIN0"],
                      "name": [f"水位计{i}" for i in range(5)] + ["雨量计"],
                      "kind": ["water_level"] * 5 + ["numeric"], "unit": ["cm"] * 5 + ["mm"],
                      "watches": [f"WL{i:02d}" for i in range(5)] + [None],
                      "alarm_level": [None] * 5 + [50.0], "clear_level": [None] * 5 + [20.0]},
                     geometry=wl + gauge, crs="EPSG:4326").to_file(files["sensors"], driver="GeoJSON")

    files["stall_zones"] = folder / "stalls.geojson"
    centres = points_inside(d, 3, seed=9, margin=0.002)
    gpd.GeoDataFrame({"code": [f"ST{i}" for i in range(3)], "name": [f"夜市{i}" for i in range(3)],
                      "opens": ["17:00"] * 3, "closes": ["23:30"] * 3, "daily_visitors": [5000, 800, 12000]},
                     geometry=[p.buffer(0.0005, quad_segs=4) for p in centres], crs="EPSG:4326",
                     ).to_file(files["stall_zones"], driver="GeoJSON")

    teams = points_inside(d, 6, seed=11)
    files["teams"] = folder / "teams.csv"
    pd.DataFrame({"code": [f"T{i}" for i in range(6)], "name": [f"城管{i}队" for i in range(6)],
                  "type": ["city_management", "market_supervision", "police_station"] * 2,
                  "area_code": [CODE] * 6, "lon": [p.x for p in teams], "lat": [p.y for p in teams]},
                 ).to_csv(files["teams"], index=False)
    return files


def incidents(d: District, count: int, seed: int = 13, start: str = "2025-06-01") -> pd.DataFrame:
    """Past cases as an old system exports them: its own ids, local times, WGS84 lon/lat."""
    rng = np.random.default_rng(seed)
    points = points_inside(d, count, seed=seed, margin=0.0003)
    reported = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 180 * 24 * 60, count), unit="min")
    closed = reported + pd.to_timedelta(rng.integers(30, 72 * 60, count), unit="min")
    status = np.where(rng.random(count) < 0.96, "closed", "handling")
    return pd.DataFrame({
        "external_ref": [f"OLD-{i:07d}" for i in range(count)],
        "category": rng.choice(["01.01", "01.02", "01.03", "01.04"], count),
        "channel": rng.choice(["hotline", "grid_worker", "wechat"], count),
        "description": [f"历史案件{i}" for i in range(count)],
        "reported_at": reported.strftime("%Y-%m-%d %H:%M:%S"),
        "closed_at": np.where(status == "closed", closed.strftime("%Y-%m-%d %H:%M:%S"), ""),
        "status": status, "lon": [p.x for p in points], "lat": [p.y for p in points]})
