"""A GeoJSON FeatureCollection sent over HTTP, read as a layer exactly as ``wangge import`` reads a file.

The admin API must check what it writes the way an import does, so the
body goes through the same reader (:func:`layers.io.read.read_table`):
written to a private temporary ``.geojson`` file and read back by
pyogrio, column lookup, conversions, shape checks and all. Before that,
the document's outline is checked here, because GDAL forgives what a
client should hear about: a body that is not a FeatureCollection, a
feature without a geometry object, coordinates that are not numbers or
not finite (Python's JSON parser accepts ``NaN``), too many features.
Those raise :class:`~layers.io.problems.ImportRefused` with a message
naming the feature (numbered from 1, as in the report's ``rows``).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from geo.crs import Crs
from layers.io.problems import ImportRefused
from layers.io.read import Options, Table, read_table
from layers.io.spec import LayerSpec

MAX_FEATURES = 10_000
"""Features per request; more is a bulk load, which ``wangge import`` does with a progress bar."""
SOURCE_NAME = "request.geojson"
"""The name the body goes by in messages and in the import log."""

_GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")


def _finite_numbers(value: Any) -> bool:
    """True when ``value`` is a (nested) list of finite numbers and nothing else."""
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_feature(feature: Any, number: int) -> dict[str, Any]:
    """The feature as it will be written (without members GDAL would misread), or ImportRefused."""
    where = f"feature {number}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ImportRefused(f"{where}: not a GeoJSON Feature (an object with \"type\": \"Feature\")")
    properties = feature.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise ImportRefused(f"{where}: \"properties\" must be an object")
    geometry = feature.get("geometry")
    if geometry is not None:
        if not isinstance(geometry, dict) or geometry.get("type") not in _GEOMETRY_TYPES:
            raise ImportRefused(f"{where}: \"geometry\" must be a GeoJSON geometry object "
                                f"({', '.join(_GEOMETRY_TYPES)})")
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or not _finite_numbers(coordinates):
            raise ImportRefused(f"{where}: coordinates must be nested arrays of finite numbers "
                                "(no NaN, Infinity, strings or nulls)")
        geometry = {"type": geometry["type"], "coordinates": coordinates}
    # the feature's own "id" would become a column or an FID depending on its type: not ours to read
    return {"type": "Feature", "properties": {k: _gdal_safe(v) for k, v in (properties or {}).items()},
            "geometry": geometry}


def _gdal_safe(value: Any) -> Any:
    """A property value GDAL reads back as sent.

    Booleans go as text: GDAL types a boolean column with a null in it as
    float (0.0/1.0), which no longer reads as a boolean; the field
    conversion reads "true"/"false" like any file's text.
    """
    return ("true" if value else "false") if isinstance(value, bool) else value


def _nul_rows(features: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Property name → features whose value holds a NUL, which GDAL would silently cut off there."""
    found: dict[str, list[int]] = {}
    for number, feature in enumerate(features, start=1):
        for key, value in feature["properties"].items():
            if "\x00" in str(key) or (isinstance(value, str) and "\x00" in value):
                found.setdefault(str(key).replace("\x00", ""), []).append(number)
    return found


def checked_features(body: Any) -> list[dict[str, Any]]:
    """The features of a FeatureCollection body, each outline-checked (ImportRefused on the first fault)."""
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise ImportRefused("the body must be a GeoJSON FeatureCollection "
                            "({\"type\": \"FeatureCollection\", \"features\": [...]})")
    features = body.get("features")
    if not isinstance(features, list):
        raise ImportRefused("the FeatureCollection has no \"features\" array")
    if not features:
        raise ImportRefused("the FeatureCollection has no features")
    if len(features) > MAX_FEATURES:
        raise ImportRefused(f"{len(features):,} features in one request; at most {MAX_FEATURES:,} "
                            "(use wangge import for more)")
    return [_check_feature(f, i) for i, f in enumerate(features, start=1)]


def table_from_geojson(body: Any, spec: LayerSpec, crs: Crs) -> Table:
    """Read a FeatureCollection body as layer ``spec``, its coordinates in ``crs``, like an imported file."""
    features = checked_features(body)
    document = {"type": "FeatureCollection", "features": features}
    with tempfile.TemporaryDirectory(prefix="wangge-body-") as folder:
        path = Path(folder) / SOURCE_NAME
        # allow_nan=False: a non-finite number that slipped past the outline check fails here, not in GDAL
        try:
            text = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ImportRefused("the body holds text that is not valid Unicode (a lone surrogate)") from None
        path.write_bytes(text)
        table = read_table(path, spec, Options(crs=crs))
    for name, rows in _nul_rows(features).items():
        table.problems.error("control_characters", "text holds control characters (e.g. NUL)", rows,
                             field_name=name)
    return table
