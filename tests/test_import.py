"""A district's own files in: init, import of every layer in its own format and system, locate on the result.

The truth is the WGS84 district built by ``tests/district_files.py``; files
are written from it in GCJ-02, BD-09, Gauss-Krüger and CGCS2000, and what
wangge stores is compared with the truth by shapely, independently of the
importer's conversions.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely

from api.cli import main
from layers import migrate
from layers.cluster import EmbeddedCluster
from layers.load import point_ewkb
from tests import district_files as df
from tests.conftest import auth, make_client

ORDER = ("streets", "communities", "grids", "cameras", "buildings", "waterlogging_points", "sensors", "stall_zones",
         "teams")
CRS_FLAGS = {"grids": ["--crs", "gcj02"], "cameras": ["--crs", "bd09"], "teams": ["--crs", "wgs84"]}


@pytest.fixture(scope="module")
def truth() -> df.District:
    return df.build()


@pytest.fixture(scope="module")
def files(truth: df.District, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return df.write_all(truth, tmp_path_factory.mktemp("district"))


def fresh_db(cluster: EmbeddedCluster, name: str) -> str:
    cluster.drop_database(name)
    url = cluster.create_database(name)
    migrate.upgrade(url)
    return url


def wangge(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run the CLI in this process against ``url``; its exit status (a message exit is printed, status 1)."""
    from api.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        return main(list(args))
    except SystemExit as exc:
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    finally:
        get_settings.cache_clear()


def load_all(url: str, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    assert wangge(url, monkeypatch, "init", "--district", df.CODE, "--name", df.NAME,
                  "--boundary", str(files["boundary"]), "--crs", "gcj02") == 0
    for layer in ORDER:
        assert wangge(url, monkeypatch, "import", layer, str(files[layer]), *CRS_FLAGS.get(layer, [])) == 0, layer


@pytest.fixture(scope="module")
def district_db(pg_cluster: EmbeddedCluster, files: dict[str, Path]) -> Iterator[str]:
    url = fresh_db(pg_cluster, "district_import")
    with pytest.MonkeyPatch.context() as mp:
        load_all(url, files, mp)
    yield url
    pg_cluster.drop_database("district_import")


def counts(url: str) -> dict[str, int]:
    tables = ("districts", "streets", "communities", "grids", "buildings", "cameras", "waterlogging_points",
              "stall_zones", "teams", "incidents", "incident_events", "data_imports")
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]


def stored(url: str, table: str) -> dict[str, shapely.Geometry]:
    with psycopg.connect(url) as conn:
        where = " WHERE valid_to IS NULL" if table == "grids" else ""
        return {r[0].strip(): shapely.from_wkb(r[1])
                for r in conn.execute(f"SELECT code, ST_AsBinary(geom) FROM {table}{where}")}


def test_every_layer_lands_where_the_truth_is(district_db: str, truth: df.District) -> None:
    for table, expected in (("streets", truth.streets), ("communities", truth.communities), ("grids", truth.grids)):
        got = stored(district_db, table)
        assert set(got) == set(expected), table
        for code, shape in expected.items():
            # GCJ-02 and Gauss-Krüger round trips are sub-millimetre: 1e-8 degree is about 1 mm
            assert shapely.hausdorff_distance(got[code], shape) < 1e-8, (table, code)
    outline = stored(district_db, "districts")[df.CODE]
    assert shapely.hausdorff_distance(outline, truth.outline) < 1e-8
    cameras = stored(district_db, "cameras")
    expected_cams = df.points_inside(truth, 12, seed=3)
    for i, point in enumerate(expected_cams):
        assert shapely.distance(cameras[f"CAM{i:03d}"], point) < 1e-8


def test_locate_on_the_imported_grids_matches_shapely(district_db: str, truth: df.District) -> None:
    codes = sorted(truth.grids)
    polygons = [truth.grids[c] for c in codes]
    with make_client(district_db) as client:
        for p in df.points_inside(truth, 60, seed=21, margin=0.0002):
            expected = [c for c, poly in zip(codes, polygons, strict=True) if poly.covers(p)]
            near_edge = min(shapely.distance(poly.boundary, p) for poly in polygons) < 2e-7
            answer = client.get("/locate", params={"lon": p.x, "lat": p.y})
            assert answer.status_code == 200, answer.text
            if not near_edge:
                assert answer.json()["grid"]["code"] == expected[0]
            assert answer.json()["district"]["code"] == df.CODE
        outside = client.get("/locate", params={"lon": 104.20, "lat": 30.60})
        assert outside.status_code == 404


def test_reimport_changes_nothing(district_db: str, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = counts(district_db)
    with psycopg.connect(district_db) as conn:
        versions = conn.execute("SELECT last_value FROM layer_version_grids").fetchone()
    for layer in ORDER:
        capsys.readouterr()
        assert wangge(district_db, monkeypatch, "import", layer, str(files[layer]), *CRS_FLAGS.get(layer, [])) == 0
        assert "inserted 0, updated 0" in capsys.readouterr().out, layer
    after = counts(district_db)
    assert {k: v for k, v in after.items() if k != "data_imports"} == \
        {k: v for k, v in before.items() if k != "data_imports"}
    with psycopg.connect(district_db) as conn:
        assert conn.execute("SELECT last_value FROM layer_version_grids").fetchone() == versions


def test_the_demo_refuses_a_database_with_a_district(district_db: str, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = counts(district_db)
    capsys.readouterr()
    assert wangge(district_db, monkeypatch, "demo", "--port", "1") == 1
    assert "510108" in capsys.readouterr().err
    assert counts(district_db) == before


def test_template_has_the_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    out = tmp_path / "teams.gpkg"
    assert wangge("postgresql://unused", monkeypatch, "import", "teams", "--template", str(out)) == 0
    info = pyogrio.read_info(out)
    assert list(info["fields"]) == ["code", "name", "type", "home_station", "area_code", "status"]
    assert info["geometry_type"] == "Point"


def test_two_districts_in_one_database(pg_cluster: EmbeddedCluster, files: dict[str, Path], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = fresh_db(pg_cluster, "two_districts")
    load_all(url, files, monkeypatch)
    # a second district east of the first, with its own streets, communities and grids
    moved = shapely.affinity.translate(df.OUTLINE, xoff=0.08)
    other = df.build(moved, "510104")
    other_files = df.write_all(other, tmp_path / "other")
    assert wangge(url, monkeypatch, "init", "--district", "510104", "--name", "锦江区",
                  "--boundary", str(other_files["boundary"]), "--crs", "gcj02") == 0
    for layer in ("streets", "communities", "grids"):
        assert wangge(url, monkeypatch, "import", layer, str(other_files[layer]), *CRS_FLAGS.get(layer, [])) == 0
    with make_client(url) as client:
        for district, truth in ((df.CODE, df.build()), ("510104", other)):
            p = df.points_inside(truth, 1, seed=4)[0]
            answer = client.get("/locate", params={"lon": p.x, "lat": p.y}).json()
            assert answer["district"]["code"] == district
            expected = next(c for c, g in truth.grids.items() if g.covers(p))
            assert answer["grid"]["code"] == expected
        # walls and tokens by district: each district's operator sees its own wall only
        own = client.get("/maps/district/510104", headers=auth(client, "operator", "510104"))
        assert own.status_code == 200 and "510104" in own.text
        assert client.get("/maps/district/510104", headers=auth(client, "operator", df.CODE)).status_code == 403
        # a case filed in the second district lands there, with its own grid and a team of its own if any
        p = df.points_inside(other, 1, seed=6)[0]
        case = client.post("/incidents", headers={**auth(client, "dispatcher", "510104"), "Idempotency-Key": "two-1"},
                           json={"category": "01.01", "channel": "hotline", "description": "暴露垃圾",
                                 "location": {"lon": p.x, "lat": p.y}})
        assert case.status_code == 201, case.text
        assert case.json()["district"]["code"] == "510104"
    pg_cluster.drop_database("two_districts")


def test_changed_grids_become_new_versions(pg_cluster: EmbeddedCluster, files: dict[str, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, truth: df.District) -> None:
    import geopandas as gpd

    url = fresh_db(pg_cluster, "grid_versions")
    load_all(url, files, monkeypatch)
    # move the line between the two grids of one community east by about 100 m
    community = sorted(truth.communities)[0]
    a, b = f"{community}001", f"{community}002"
    line = truth.grids[a].intersection(truth.grids[b])
    cx0, cy0, cx1, cy1 = truth.communities[community].bounds
    cx = (cx0 + cx1) / 2 + 0.001  # the fixture's cut line, 0.001 degree east
    cut = shapely.ops.split(truth.communities[community],
                            shapely.LineString([(cx - 0.002, cy0 - 1), (cx + 0.002, cy1 + 1)]))
    parts = sorted(cut.geoms, key=lambda g: g.centroid.x)
    assert len(parts) == 2
    redrawn = {**truth.grids, a: parts[0], b: parts[1]}
    grids = gpd.GeoDataFrame({"code": sorted(redrawn), "name": [f"网格{i}" for i in range(1, 9)],
                              "worker_name": ["张三"] * 8}, geometry=[redrawn[c] for c in sorted(redrawn)],
                             crs="EPSG:4326")
    path = tmp_path / "redrawn.gpkg"
    grids.to_file(path)
    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute("SELECT grids_version FROM communities WHERE code = %s", (community,)).fetchone()[0]
        before = conn.execute("SELECT now()").fetchone()[0]
    assert wangge(url, monkeypatch, "import", "grids", str(path)) == 0
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT code, valid_to IS NULL FROM grids WHERE code IN (%s, %s) ORDER BY code, id",
                            (a, b)).fetchall()
        assert [(r[0], r[1]) for r in rows] == [(a, False), (a, True), (b, False), (b, True)]
        assert conn.execute("SELECT grids_version FROM communities WHERE code = %s",
                            (community,)).fetchone()[0] == version + 1
        untouched = conn.execute("SELECT count(*) FROM grids WHERE valid_to IS NOT NULL").fetchone()[0]
        assert untouched == 2
    with make_client(url) as client:
        probe = shapely.Point(line.centroid.x + 0.0005, line.centroid.y)
        now = client.get("/locate", params={"lon": probe.x, "lat": probe.y}).json()
        then = client.get("/locate", params={"lon": probe.x, "lat": probe.y,
                                             "at": before.isoformat()}).json()
        assert now["grid"]["code"] == a and then["grid"]["code"] == b
    pg_cluster.drop_database("grid_versions")


def test_cli_has_no_traceback_for_a_missing_file(tmp_path: Path) -> None:
    result = subprocess.run([".venv/bin/wangge", "import", "grids", str(tmp_path / "nope.gpkg")],
                            capture_output=True, text=True, env={"DATABASE_URL": "postgresql://127.0.0.1:1/x",
                                                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr


def test_points_of_the_truth_are_inside(truth: df.District) -> None:
    # the fixture itself: the grids tile the outline, so the checks have a clean case to pass
    union = shapely.union_all(list(truth.grids.values()))
    assert abs(union.area - truth.outline.area) < 1e-12
    assert np.isclose(sum(g.area for g in truth.grids.values()), truth.outline.area)


def test_point_ewkb_from_arrays_is_shapelys_byte_for_byte() -> None:
    """The history importer's array EWKB writer against shapely's own encoder, edge values included."""
    rng = np.random.default_rng(30)
    xy = np.vstack([rng.uniform(-180, 180, (500, 2)), [[0.0, -0.0], [180.0, -90.0], [1e-300, 5e-324],
                                                      [117.283042, 31.861191]]])
    expected = shapely.to_wkb(shapely.set_srid(shapely.points(xy), 4326), include_srid=True)
    assert [bytes(row) for row in point_ewkb(xy)] == list(expected)
    assert point_ewkb(np.empty((0, 2))).shape == (0, 25)
