"""Export then import into an empty district gives the same rows, for every layer and format; history too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely

from layers.cluster import EmbeddedCluster
from layers.io.export import export
from layers.io.read import Options
from layers.io.service import WriteOptions, import_layer
from layers.io.spec import LAYERS, LayerSpec
from tests import district_files as df
from tests.test_import import fresh_db, load_all

HISTORY = 400


@pytest.fixture(scope="module")
def truth() -> df.District:
    return df.build()


@pytest.fixture(scope="module")
def source(pg_cluster: EmbeddedCluster, truth: df.District, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("export_source")
    files = df.write_all(truth, folder)
    url = fresh_db(pg_cluster, "export_source")
    with pytest.MonkeyPatch.context() as mp:
        load_all(url, files, mp)
    history = folder / "history.csv"
    df.incidents(truth, HISTORY).to_csv(history, index=False)
    result = import_layer(url, history, LAYERS["incidents"], Options(crs=df.parse_crs("wgs84")), WriteOptions())
    assert result.ok and result.counts and result.counts.inserted == HISTORY, result.report()
    yield url
    pg_cluster.drop_database("export_source")


def rows(url: str, spec: LayerSpec) -> dict[str, tuple]:
    """A layer's rows by code (cases by their reference): attributes and geometry."""
    if spec.name == "incidents":
        query = ("SELECT external_ref, category_code, channel, description, status, reported_at, closed_at, "
                 "deadline, grid_code, ST_AsBinary(geom) FROM incidents")
    else:
        geom = "home" if spec.name == "teams" else "geom"
        where = " WHERE valid_to IS NULL" if spec.name == "grids" else ""
        query = f"SELECT {', '.join(spec.field_names)}, ST_AsBinary({geom}) FROM {spec.table}{where}"
    with psycopg.connect(url) as conn:
        return {str(r[0]).strip(): (*tuple(r[1:-1]), shapely.from_wkb(r[-1])) for r in conn.execute(query)}


def same(a: dict[str, tuple], b: dict[str, tuple], tolerance_deg: float) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key][:-1] == b[key][:-1], key
        assert shapely.hausdorff_distance(a[key][-1], b[key][-1]) <= tolerance_deg, key


def test_history_is_keyed_to_the_grid_of_its_time(source: str, truth: df.District) -> None:
    with psycopg.connect(source) as conn:
        stored = conn.execute("SELECT grid_code, ST_X(geom), ST_Y(geom) FROM incidents").fetchall()
        events = conn.execute("SELECT count(*) FROM incident_events WHERE action = 'import'").fetchone()
    assert events == (HISTORY,)
    codes = sorted(truth.grids)
    for grid_code, x, y in stored:
        p = shapely.Point(x, y)
        expected = min(c for c in codes if truth.grids[c].covers(p))
        assert grid_code == expected


def test_history_reimport_is_a_no_op(source: str, truth: df.District, tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    df.incidents(truth, HISTORY).to_csv(history, index=False)
    result = import_layer(source, history, LAYERS["incidents"], Options(crs=df.parse_crs("wgs84")), WriteOptions())
    assert result.ok and result.counts and (result.counts.inserted, result.counts.unchanged) == (0, HISTORY)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv"])
def test_export_then_import_gives_the_same_rows(source: str, pg_cluster: EmbeddedCluster, tmp_path: Path,
                                                 fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = fresh_db(pg_cluster, f"export_target_{fmt}")
    out = tmp_path / ("all.gpkg" if fmt == "gpkg" else "all")
    counts = export(source, list(LAYERS.values()), out, fmt, df.parse_crs("wgs84"))  # type: ignore[arg-type]
    assert counts["grids"] == 8 and counts["incidents"] == HISTORY
    for spec in LAYERS.values():
        path = out if fmt == "gpkg" else out / f"{spec.name}.{'geojson' if fmt == 'geojson' else fmt}"
        options = Options(layer=spec.name if fmt == "gpkg" else None,
                          crs=df.parse_crs("wgs84") if fmt == "csv" else None)
        result = import_layer(target, path, spec, options, WriteOptions())
        assert result.ok, (spec.name, result.problems.as_list())
    for spec in LAYERS.values():
        # GeoJSON keeps 15 significant digits: about 1e-13 degree; the others are exact doubles
        same(rows(source, spec), rows(target, spec), 1e-9)
    pg_cluster.drop_database(f"export_target_{fmt}")


def test_export_in_gauss_kruger_and_gcj02_comes_back(source: str, tmp_path: Path, pg_cluster: EmbeddedCluster,
                                                     ) -> None:
    for crs_name in ("EPSG:4545", "gcj02"):
        crs = df.parse_crs(crs_name)
        out = tmp_path / f"grids_{crs_name.replace(':', '')}.gpkg"
        export(source, [LAYERS["grids"]], out, "gpkg", crs)
        import geopandas as gpd

        frame = gpd.read_file(out)
        assert not np.allclose(frame.total_bounds, [104.07, 30.63, 104.15, 30.7], atol=0.001)
        target = fresh_db(pg_cluster, "export_crs")
        for layer in ("districts", "streets", "communities"):
            export(source, [LAYERS[layer]], tmp_path / f"{layer}.gpkg", "gpkg", df.parse_crs("wgs84"))
            assert import_layer(target, tmp_path / f"{layer}.gpkg", LAYERS[layer], Options(), WriteOptions()).ok
        result = import_layer(target, out, LAYERS["grids"], Options(crs=crs if crs.epsg is None else None),
                              WriteOptions())
        assert result.ok, result.report()
        same(rows(source, LAYERS["grids"]), rows(target, LAYERS["grids"]), 1e-8)
        pg_cluster.drop_database("export_crs")
