"""Empty files with a layer's expected fields, for a district to fill in its own tool."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.crs import WGS84
from layers.io.export import DRIVER, write_frame
from layers.io.spec import LayerSpec

_DTYPES = {"text": "object", "int": "Int64", "real": "float64", "bool": "boolean", "time": "object",
           "timestamp": "object"}


def write_template(spec: LayerSpec, out: Path) -> None:
    """Write an empty layer (GeoPackage, GeoJSON, Shapefile or CSV by ``out``'s suffix) in WGS84."""
    suffix = out.suffix.lower().lstrip(".")
    fmt = {"json": "geojson"}.get(suffix, suffix)
    if fmt not in (*DRIVER, "csv"):
        fmt = "gpkg"
    columns = {f.name: pd.Series([], dtype=_DTYPES[f.kind]) for f in spec.fields}
    frame = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")
    if out.exists():
        out.unlink()
    kind = "MultiPolygon" if spec.geometry == "polygon" else "Point"
    write_frame(frame, spec, out, fmt, WGS84, geometry_type=kind)  # type: ignore[arg-type]
