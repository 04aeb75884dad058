"""Every import check fails on a broken file, all problems are reported together, and nothing is written."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from layers.cluster import EmbeddedCluster
from layers.io.convert import _has_edge_blank, as_floats
from layers.io.problems import ImportRefused
from layers.io.read import Options, _read_csv
from layers.io.service import WriteOptions, import_layer
from layers.io.spec import layer_spec
from tests import district_files as df
from tests.test_import import counts, fresh_db, load_all


@pytest.fixture(scope="module")
def truth() -> df.District:
    return df.build()


@pytest.fixture(scope="module")
def loaded(pg_cluster: EmbeddedCluster, truth: df.District, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[str]:
    files = df.write_all(truth, tmp_path_factory.mktemp("checks"))
    url = fresh_db(pg_cluster, "import_checks")
    with pytest.MonkeyPatch.context() as mp:
        load_all(url, files, mp)
    yield url
    pg_cluster.drop_database("import_checks")


M2_PER_DEG2 = 111_320.0 ** 2 * math.cos(math.radians(30.66))


def grids_frame(grids: dict[str, shapely.Geometry]) -> gpd.GeoDataFrame:
    codes = sorted(grids)
    return gpd.GeoDataFrame({"code": codes, "name": codes}, geometry=[grids[c] for c in codes], crs="EPSG:4326")


def run(url: str, layer: str, path: Path, **read: object) -> tuple[set[str], dict]:
    before = counts(url)
    result = import_layer(url, path, layer_spec(layer), Options(**read), WriteOptions())  # type: ignore[arg-type]
    assert counts(url) == before, "a refused import wrote something"
    assert not result.ok
    return {p.check for p in result.problems.errors}, result.report()


def test_gap_overlap_outside_and_bad_codes_reported_together(loaded: str, truth: df.District, tmp_path: Path,
                                                             ) -> None:
    grids = dict(truth.grids)
    codes = sorted(grids)
    grids[codes[0]] = grids[codes[0]].buffer(-0.0002)  # a gap around it
    grids[codes[2]] = grids[codes[2]].buffer(0.0003)  # overlaps its neighbours and reaches outside
    frame = grids_frame(grids)
    frame.loc[len(frame)] = ["12345", "bad", shapely.box(104.1, 30.65, 104.101, 30.651)]  # wrong shape of code
    frame.loc[len(frame)] = [codes[4], "again", grids[codes[4]]]  # duplicate code
    path = tmp_path / "broken.gpkg"
    frame.to_file(path)
    checks, report = run(loaded, "grids", path)
    assert {"gap", "overlap", "code_shape", "duplicate_code"} <= checks
    assert json.dumps(report, ensure_ascii=False)  # the report is JSON


def test_orphan_codes_and_a_point_outside(loaded: str, truth: df.District, tmp_path: Path) -> None:
    grids = grids_frame({"510108999001001": truth.grids[sorted(truth.grids)[0]]})
    path = tmp_path / "orphan.geojson"
    grids.to_file(path, driver="GeoJSON")
    assert "code_parent" in run(loaded, "grids", path)[0]
    cams = tmp_path / "cams.csv"
    pd.DataFrame({"code": ["C1", "C2"], "name": ["a", "b"], "lon": [104.10, 105.5], "lat": [30.66, 30.66]},
                 ).to_csv(cams, index=False)
    assert "outside_district" in run(loaded, "cameras", cams, crs=df.parse_crs("wgs84"))[0]


def test_bad_values_types_and_missing_fields(loaded: str, tmp_path: Path) -> None:
    teams = tmp_path / "teams.csv"
    pd.DataFrame({"code": ["T9", "T10"], "name": ["x\x00y", "z"], "type": ["dragons", "city_management"],
                  "area_code": ["510108", "999999"], "status": ["free", "asleep"],
                  "lon": [104.10, "abc"], "lat": [30.66, 30.66]}).to_csv(teams, index=False)
    checks, _ = run(loaded, "teams", teams, crs=df.parse_crs("wgs84"))
    assert {"control_characters", "unknown_value", "coordinates"} <= checks
    no_type = tmp_path / "no_type.csv"
    pd.DataFrame({"code": ["T9"], "name": ["x"], "area_code": ["510108"], "lon": [104.1], "lat": [30.66]},
                 ).to_csv(no_type, index=False)
    assert "missing_field" in run(loaded, "teams", no_type, crs=df.parse_crs("wgs84"))[0]


def test_wrong_geometry_type_invalid_shape_z_and_too_many_vertices(loaded: str, truth: df.District,
                                                                    tmp_path: Path) -> None:
    centre = truth.outline.centroid
    bowtie = shapely.Polygon([(centre.x, centre.y), (centre.x + 0.001, centre.y + 0.001),
                              (centre.x + 0.001, centre.y), (centre.x, centre.y + 0.001)])
    wiggly = shapely.Point(centre.x, centre.y).buffer(0.0005, quad_segs=3000)
    assert len(wiggly.exterior.coords) > 10_000
    frame = gpd.GeoDataFrame({"code": ["S1", "S2", "S3"], "name": ["a", "b", "c"]},
                             geometry=[bowtie, wiggly, shapely.LineString([(104.1, 30.66), (104.11, 30.67)])],
                             crs="EPSG:4326")
    path = tmp_path / "stalls.gpkg"
    frame.to_file(path)
    checks, _ = run(loaded, "stall_zones", path)
    assert {"invalid_geometry", "geometry_type"} <= checks
    big = gpd.GeoDataFrame({"code": ["B1"], "address": ["x"]}, geometry=[wiggly], crs="EPSG:4326")
    big_path = tmp_path / "big.geojson"
    big.to_file(big_path, driver="GeoJSON")
    assert "too_many_vertices" in run(loaded, "buildings", big_path)[0]
    z = gpd.GeoDataFrame({"code": ["W1"], "name": ["z"]}, geometry=[shapely.Point(centre.x, centre.y, 12.0)],
                         crs="EPSG:4326")
    z_path = tmp_path / "z.gpkg"
    z.to_file(z_path)
    assert "z_values" in run(loaded, "waterlogging_points", z_path)[0]


def test_make_valid_repairs_and_reports(loaded: str, truth: df.District, tmp_path: Path) -> None:
    centre = truth.outline.centroid
    bowtie = shapely.Polygon([(centre.x, centre.y), (centre.x + 0.001, centre.y + 0.001),
                              (centre.x + 0.001, centre.y), (centre.x, centre.y + 0.001)])
    path = tmp_path / "bowtie.gpkg"
    gpd.GeoDataFrame({"code": ["BT"], "name": ["bow"]}, geometry=[bowtie], crs="EPSG:4326").to_file(path)
    result = import_layer(loaded, path, layer_spec("stall_zones"), Options(make_valid=True),
                          WriteOptions(dry_run=True))
    assert result.ok and any(p.check == "repaired" for p in result.problems.items)


@pytest.mark.parametrize("case", ["unreadable", "empty", "no_crs", "several_layers", "not_utf8"])
def test_unusable_files_are_refused_with_a_message(loaded: str, tmp_path: Path, truth: df.District,
                                                   case: str) -> None:
    before = counts(loaded)
    path, options = _unusable(case, tmp_path, truth)
    with pytest.raises(ImportRefused) as refused:
        result = import_layer(loaded, path, layer_spec("cameras"), options, WriteOptions())
        # a file that reads (non-UTF-8 text decoded by GDAL with replacement characters) is refused by its checks
        if not result.ok:
            raise ImportRefused("; ".join(p.message for p in result.problems.errors))
    assert str(refused.value)
    assert counts(loaded) == before


def _unusable(case: str, tmp_path: Path, truth: df.District) -> tuple[Path, Options]:
    point = truth.outline.centroid
    if case == "unreadable":
        path = tmp_path / "junk.gpkg"
        path.write_bytes(b"\x00\x01 not a geopackage")
        return path, Options()
    if case == "empty":
        path = tmp_path / "empty.gpkg"
        gpd.GeoDataFrame({"code": [], "name": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_file(path)
        return path, Options()
    if case == "no_crs":
        path = tmp_path / "nocrs.shp"
        gpd.GeoDataFrame({"code": ["C"], "name": ["n"]}, geometry=[point]).to_file(path)
        return path, Options()
    if case == "several_layers":
        path = tmp_path / "two.gpkg"
        for layer, epsg in (("a", 4326), ("b", 4545)):
            gpd.GeoDataFrame({"code": ["C"], "name": ["n"]}, geometry=[point], crs="EPSG:4326").to_crs(epsg=epsg
                                                                                                     ).to_file(
                path, layer=layer)
        return path, Options()
    path = tmp_path / "gbk.csv"
    path.write_bytes("code,name,lon,lat\nC1,监控一号,104.1,30.66\n".encode("gbk"))
    return path, Options(crs=df.parse_crs("wgs84"))


def test_gbk_file_reads_with_its_encoding(loaded: str, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("code,name,lon,lat\nC1,监控一号,104.1,30.66\n".encode("gbk"))
    result = import_layer(loaded, path, layer_spec("cameras"), Options(crs=df.parse_crs("wgs84"), encoding="gbk"),
                          WriteOptions(dry_run=True))
    assert result.ok, result.report()


def test_value_mapping_translates_old_codes(loaded: str, tmp_path: Path) -> None:
    path = tmp_path / "teams_old.csv"
    pd.DataFrame({"编号": ["T20"], "名称": ["老队"], "类型": ["城管"], "area_code": ["510108"],
                  "lon": [104.1], "lat": [30.66]}).to_csv(path, index=False)
    options = Options(crs=df.parse_crs("wgs84"), fields={"code": "编号", "name": "名称", "type": "类型"},
                      values={"type": {"城管": "city_management"}})
    result = import_layer(loaded, path, layer_spec("teams"), options, WriteOptions())
    assert result.ok, result.report()
    with psycopg.connect(loaded) as conn:
        assert conn.execute("SELECT type FROM teams WHERE code = 'T20'").fetchone() == ("city_management",)


def test_rounded_grids_import_conformed_to_their_community(pg_cluster: EmbeddedCluster, truth: df.District,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Grids rounded to 6 decimals (up to 8 cm off) pass with the snapping tolerance and are stored tiling exactly.

    Areas are planar in degrees (scaled to m² at the district's latitude), the frame where the store draws
    its straight edges: the leftover of a difference is zero-width slivers kilometres long, which a geodesic
    or Gauss-Krüger area would count as hundreds of square metres.
    """
    files = df.write_all(truth, tmp_path / "files")
    url = fresh_db(pg_cluster, "rounded_grids")
    load_all(url, files, monkeypatch)
    rounded = {c: shapely.set_precision(g, 1e-6) for c, g in truth.grids.items()}
    assert max(shapely.hausdorff_distance(rounded[c], truth.grids[c]) for c in rounded) > 1e-7
    path = tmp_path / "rounded.geojson"
    grids_frame(rounded).to_file(path, driver="GeoJSON")
    result = import_layer(url, path, layer_spec("grids"), Options(), WriteOptions(snap_m=0.1))
    assert result.ok, result.problems.as_list()
    with psycopg.connect(url) as conn:
        for community in truth.communities:
            gap, overlap = conn.execute("""
                SELECT ST_Area(ST_Difference(c.geom, ST_Union(g.geom))) * %(m2)s,
                       (sum(ST_Area(g.geom)) - ST_Area(ST_Union(g.geom))) * %(m2)s
                FROM communities c JOIN grids g ON g.community_code = c.code AND g.valid_to IS NULL
                WHERE c.code = %(code)s GROUP BY c.geom""", {"code": community, "m2": M2_PER_DEG2}).fetchone()
            assert gap < 0.01 and abs(overlap) < 0.01, (community, gap, overlap)
    strict = import_layer(url, path, layer_spec("grids"), Options(), WriteOptions(snap_m=0.0, dry_run=True))
    assert not strict.ok  # the same file, checked without snapping, does not tile
    pg_cluster.drop_database("rounded_grids")


def test_numbers_beyond_the_store_and_gdal_booleans(loaded: str, truth: df.District, tmp_path: Path) -> None:
    centre = truth.outline.centroid
    stalls = tmp_path / "stalls.csv"
    pd.DataFrame({"code": ["S9"], "name": ["大"], "daily_visitors": [10**12],
                  "wkt": [centre.buffer(0.0003).wkt]}).to_csv(stalls, index=False)
    checks, _ = run(loaded, "stall_zones", stalls, crs=df.parse_crs("wgs84"))
    assert checks == {"out_of_range"}
    cams = tmp_path / "cams.csv"
    pd.DataFrame({"code": ["C8", "C9"], "name": ["a", "b"], "online": ["1.0", "0.0"], "lon": [centre.x] * 2,
                  "lat": [centre.y] * 2}).to_csv(cams, index=False)
    result = import_layer(loaded, cams, layer_spec("cameras"), Options(crs=df.parse_crs("wgs84")),
                          WriteOptions(dry_run=True))
    assert result.ok, result.problems.as_list()


@given(st.lists(st.text(alphabet=st.sampled_from(["a", "中", " ", "\t", "\r", "\n", "\u3000"]), max_size=6),
                min_size=1, max_size=8))
def test_blanks_at_a_values_edge_are_found_in_the_joined_column(values: list[str]) -> None:
    """The byte scan agrees with looking at every value of the joined text (split where values meet)."""
    joined = "\n".join(values)
    truth = any(part[:1] in (" ", "\t", "\r") or part[-1:] in (" ", "\t", "\r") for part in joined.split("\n"))
    assert _has_edge_blank(joined) == truth


_NUMBER_LIKE = st.sampled_from(["1", "-2.5", "+3", "1e3", "117.29485486297794", "31.8", "inf", "nan", "0x10",
                                " 4", "5 ", "", "1_000", "１２", "abc", "1.2.3", "-", ".5", "5."])


@given(st.lists(_NUMBER_LIKE, min_size=1, max_size=8))
def test_numbers_read_as_pandas_reads_them(values: list[str]) -> None:
    """Arrow's fast parse, or the fallback, gives exactly what pandas' coercion gives, value by value."""
    series = pd.Series(values, dtype=object)
    fast = as_floats(series)
    truth = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    assert [(math.isnan(a), a if not math.isnan(a) else 0) for a in fast] == \
        [(math.isnan(b), b if not math.isnan(b) else 0) for b in truth]


@pytest.mark.parametrize("text", ["a,b,c\n1,2\n3,4,5\n", "a,b\n1,2,3\n", "\ufeffa,b\n\"x,y\",\"l1\nl2\"\r\n3, 4 \n",
                                  "a,b\nNA,null\n,N/A\n"])
def test_csv_read_as_pandas_reads_it(tmp_path: Path, text: str) -> None:
    """Ragged rows, quoting, a byte-order mark, NA words: the same frame as pandas' own reader gives."""
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    frame, _ = _read_csv(path, Options())
    truth = pd.read_csv(path, dtype=object, keep_default_na=False)
    assert list(frame.columns) == list(truth.columns)
    assert frame.to_numpy().tolist() == truth.to_numpy().tolist()
