"""Export layers to the files a district's tools read: GeoPackage, GeoJSON, Shapefile, CSV.

The inverse of import, field for field (:mod:`layers.io.spec`), so
exporting and importing into an empty district gives the same rows. Times
are written as ISO 8601 text in UTC (Shapefile has no time of day);
Shapefile field names are the specs' short names. CSV holds points as
``lon``/``lat`` (or ``x``/``y`` in a projected system) and polygons as WKT
in ``wkt``. GCJ-02 and BD-09 have no EPSG code, so such files say no
coordinate system: import them back with ``--crs gcj02``/``bd09``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pyproj
import shapely
from psycopg import sql

from geo.crs import Crs
from geo.reproject import from_wgs84
from layers.io.spec import LAYERS, LayerSpec

Format = Literal["gpkg", "geojson", "shp", "csv"]
SUFFIX = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".shp", "csv": ".csv"}
DRIVER = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile"}

# the columns of each layer as import takes them back (incidents: their import names)
_INCIDENT_COLUMNS = sql.SQL("""
    coalesce(external_ref, id::text) AS external_ref, category_code AS category, channel, description, address,
    reported_at, closed_at, deadline, status""")


def _select(spec: LayerSpec, at: datetime | None) -> tuple[sql.Composed, dict[str, Any]]:
    if spec.name == "incidents":
        return sql.SQL("SELECT {}, ST_AsBinary(geom) FROM incidents ORDER BY id").format(_INCIDENT_COLUMNS), {}
    columns = sql.SQL(", ").join(sql.SQL("{}").format(sql.Identifier(f.name)) for f in spec.fields)
    geom = sql.Identifier("home" if spec.name == "teams" else "geom")
    where, params = sql.SQL(""), {}
    if spec.name == "grids":
        if at is None:
            where = sql.SQL(" WHERE valid_to IS NULL")
        else:
            where = sql.SQL(" WHERE valid_from <= %(at)s AND (valid_to IS NULL OR valid_to > %(at)s)")
            params = {"at": at}
    query = sql.SQL("SELECT {}, ST_AsBinary({}) FROM {}{} ORDER BY code").format(
        columns, geom, sql.Identifier(spec.table), where)
    return query, params


def layer_frame(conn: psycopg.Connection, spec: LayerSpec, crs: Crs, at: datetime | None = None,
                ) -> gpd.GeoDataFrame:
    """One layer as a GeoDataFrame in ``crs`` with the import's field names."""
    query, params = _select(spec, at)
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description or []][:-1]
    rows = cur.fetchall()
    frame = pd.DataFrame([r[:-1] for r in rows], columns=names)
    for column in frame.columns:
        frame[column] = [_plain(v) for v in frame[column]]
    geoms = from_wgs84(shapely.from_wkb([r[-1] for r in rows]), crs) if rows else np.array([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=f"EPSG:{crs.epsg}" if crs.epsg else None)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if hasattr(value, "isoformat"):  # time of day
        return value.isoformat(timespec="minutes")
    if isinstance(value, str):
        return value.strip()
    return value


def write_frame(frame: gpd.GeoDataFrame, spec: LayerSpec, out: Path, fmt: Format, crs: Crs,
                geometry_type: str | None = None) -> None:
    """Write one layer's frame to ``out`` (a GeoPackage may hold several layers)."""
    if fmt == "csv":
        _write_csv(frame, spec, out, crs)
        return
    if fmt == "shp":
        frame = frame.rename(columns={f.name: f.dbf_name for f in spec.fields})
    kwargs: dict[str, Any] = {"layer": spec.name} if fmt == "gpkg" else {}
    if fmt == "shp":
        kwargs["encoding"] = "UTF-8"
    if geometry_type:
        kwargs["geometry_type"] = geometry_type
    pyogrio.write_dataframe(frame, out, driver=DRIVER[fmt], **kwargs)


def _write_csv(frame: gpd.GeoDataFrame, spec: LayerSpec, out: Path, crs: Crs) -> None:
    plain = pd.DataFrame(frame.drop(columns="geometry"))
    geoms = np.asarray(frame.geometry.array, dtype=object)
    if spec.geometry == "point":
        projected = crs.epsg is not None and crs.epsg not in (4326, 4490) and not _geographic(crs)
        x_name, y_name = ("x", "y") if projected else ("lon", "lat")
        coords = shapely.get_coordinates(geoms) if len(geoms) else np.empty((0, 2))
        plain[x_name], plain[y_name] = coords[:, 0], coords[:, 1]
    else:
        plain["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1) if len(geoms) else []
    plain.to_csv(out, index=False, encoding="utf-8")


def _geographic(crs: Crs) -> bool:
    return bool(crs.epsg and pyproj.CRS.from_epsg(crs.epsg).is_geographic)


def export(url: str, layers: list[LayerSpec], out: Path, fmt: Format, crs: Crs, at: datetime | None = None,
           ) -> dict[str, int]:
    """Export ``layers`` to ``out`` (a file for one layer or a GeoPackage; else a folder); rows per layer."""
    counts: dict[str, int] = {}
    several = len(layers) > 1 and fmt != "gpkg"
    if several:
        out.mkdir(parents=True, exist_ok=True)
    elif out.exists() and fmt != "shp":
        out.unlink()
    with psycopg.connect(url) as conn:
        for spec in layers:
            frame = layer_frame(conn, spec, crs, at)
            target = out / f"{spec.name}{SUFFIX[fmt]}" if several else out
            if len(frame) == 0 and fmt != "csv":
                counts[spec.name] = 0
                continue
            write_frame(frame, spec, target, fmt, crs)
            counts[spec.name] = len(frame)
    return counts


def export_order() -> list[LayerSpec]:
    """Every layer, parents first (the order an import of everything takes)."""
    return list(LAYERS.values())
