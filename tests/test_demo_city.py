"""The demo city: sizes from the issue, exact tiling and nesting, determinism."""

from __future__ import annotations

import numpy as np
import psycopg
import shapely
from pyproj import Transformer
from shapely import wkb

from layers.demo.build import DemoSpec, District
from layers.demo.hierarchy import build_hierarchy


def _count(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_sizes(sync_ro: psycopg.Connection) -> None:
    c = sync_ro
    assert 8 <= _count(c, "SELECT count(*) FROM streets") <= 12
    assert 90 <= _count(c, "SELECT count(*) FROM communities") <= 110
    assert _count(c, "SELECT count(*) FROM grids WHERE valid_to IS NULL") >= 2000
    assert _count(c, "SELECT count(*) FROM buildings") == 20_000
    # 500 along the streets, two looking at each waterlogging point
    assert _count(c, "SELECT count(*) FROM cameras") == 700
    assert _count(c, "SELECT count(*) FROM waterlogging_points") == 100
    assert _count(c, "SELECT count(*) FROM stall_zones") == 50
    assert _count(c, "SELECT count(*) FROM teams") == 300
    assert _count(c, "SELECT count(DISTINCT type) FROM teams") >= 8
    assert _count(c, "SELECT count(DISTINCT major_code) FROM catalogue") >= 10
    assert _count(c, "SELECT count(*) FROM catalogue") >= 60
    assert _count(c, "SELECT count(*) FROM incidents WHERE reported_at > now() - interval '91 days'") == 10_000
    # every case landed on a grid and has a history
    assert _count(c, "SELECT count(*) FROM incidents WHERE grid_id IS NULL") == 0
    assert _count(c, "SELECT count(DISTINCT incident_id) FROM incident_events") == 10_000


def _shapes(conn: psycopg.Connection, sql: str) -> dict[str, list]:
    groups: dict[str, list] = {}
    for parent, geom in conn.execute(sql).fetchall():
        groups.setdefault(parent, []).append(wkb.loads(bytes(geom)))
    return groups


def _assert_tiles(children: list, parent: object) -> None:
    assert shapely.coverage_is_valid(children), "children overlap"
    union = shapely.coverage_union_all(children)
    # equal up to floating point: no gap, no part outside
    assert union.symmetric_difference(parent).area < 1e-12


def test_grids_tile_communities_tile_streets_tile_district(sync_ro: psycopg.Connection) -> None:
    levels = [
        ("SELECT community_code, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL",
         "SELECT code, ST_AsBinary(geom) FROM communities"),
        ("SELECT street_code, ST_AsBinary(geom) FROM communities",
         "SELECT code, ST_AsBinary(geom) FROM streets"),
        ("SELECT district_code, ST_AsBinary(geom) FROM streets",
         "SELECT code, ST_AsBinary(geom) FROM districts"),
    ]
    for child_sql, parent_sql in levels:
        children = _shapes(sync_ro, child_sql)
        parents = {code: geoms[0] for code, geoms in _shapes(sync_ro, parent_sql).items()}
        assert set(children) == set(parents)
        for code, parent in parents.items():
            _assert_tiles(children[code], parent)


def test_postgis_agrees_no_grid_overlaps(sync_ro: psycopg.Connection) -> None:
    # a second method: PostGIS's own predicates on the stored rows
    overlapping = _count(sync_ro, """
        SELECT count(*) FROM grids a JOIN grids b ON a.id < b.id AND a.geom && b.geom
        WHERE a.valid_to IS NULL AND b.valid_to IS NULL AND ST_Overlaps(a.geom, b.geom)""")
    assert overlapping == 0
    outside = _count(sync_ro, """
        SELECT count(*) FROM grids g JOIN communities c ON c.code = g.community_code
        WHERE NOT ST_CoveredBy(g.geom, c.geom)""")
    assert outside == 0


def test_district_keeps_the_boundary_file_outline(sync_ro: psycopg.Connection, district: District) -> None:
    row = sync_ro.execute("SELECT ST_AsBinary(geom) FROM districts").fetchone()
    assert row is not None
    stored = wkb.loads(bytes(row[0]))
    # the same outline in the metric CRS the city was generated in...
    assert shapely.hausdorff_distance(_metric(district, stored), _metric(district), densify=0.01) < 0.01
    # ...and in WGS84 within the bow of a long straight edge between the two CRSs (~1.3 m)
    assert shapely.hausdorff_distance(stored, district.geom, densify=0.001) < 2e-5


def _metric(district: District, geom: shapely.Geometry | None = None) -> shapely.Geometry:
    t = Transformer.from_crs(4326, district.metric_epsg, always_xy=True)
    return shapely.transform(district.geom if geom is None else geom,
                             lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def test_hierarchy_is_deterministic_per_seed(district: District) -> None:
    area = _metric(district)
    spec = DemoSpec()

    def grids(seed: int) -> list:
        h = build_hierarchy(area, np.random.default_rng(seed), grids=300, communities=20,
                            streets=spec.streets)
        return h.grids

    first, again, other = grids(1), grids(1), grids(2)
    assert all(a.equals_exact(b, 0) for a, b in zip(first, again, strict=True))
    assert not all(a.equals_exact(b, 0) for a, b in zip(first, other, strict=False))
