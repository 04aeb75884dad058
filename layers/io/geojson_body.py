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

# how deep each type nests its positions (RFC 7946 section 3.1)
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def _position(value: Any) -> bool:
    """Two finite numbers, or three (a height, refused later by the import's Z check)."""
    return isinstance(value, list) and len(value) in (2, 3) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)


def _level(coordinates: Any, depth: int) -> list[Any] | None:
    """Everything ``depth`` arrays down (None when the nesting is not that deep)."""
    level = [coordinates]
    for _ in range(depth):
        if not all(isinstance(v, list) for v in level):
            return None
        level = [item for v in level for item in v]
    return level


def _shape_fault(kind: str, coordinates: Any) -> str | None:
    """Why ``coordinates`` cannot be a ``kind`` (None when they can).

    GDAL passes an unclosed ring on to GEOS, which raises deep inside the
    reader, so rings are checked here: closed, at least four positions.
    """
    depth = _DEPTH[kind]
    positions = _level(coordinates, depth)
    if positions is None or not all(_position(p) for p in positions):
        return (f"a {kind}'s coordinates are arrays nested {depth + 1} deep whose positions are 2 finite numbers "
                "(3 with a height): no NaN, Infinity, strings or nulls")
    parts = _level(coordinates, depth - 1) or [] if depth else []
    if kind in ("Polygon", "MultiPolygon") and not all(len(r) >= 4 and r[0] == r[-1] for r in parts):
        return "each polygon ring must be closed (last position = first) with at least 4 positions"
    if kind in ("LineString", "MultiLineString") and not all(len(line) >= 2 for line in parts):
        return "each line needs at least 2 positions"
    return None


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
        if not isinstance(geometry, dict) or geometry.get("type") not in _DEPTH:
            raise ImportRefused(f"{where}: \"geometry\" must be a GeoJSON geometry object "
                                f"({', '.join(_DEPTH)})")
        fault = _shape_fault(geometry["type"], geometry.get("coordinates"))
        if fault:
            raise ImportRefused(f"{where}: {fault}")
        geometry = {"type": geometry["type"], "coordinates": geometry["coordinates"]}
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
        # allow_nan=False: a non-finite property value (1e400 parses as inf) is refused here, not by GDAL
        try:
            text = json.dumps(document, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ImportRefused("the body holds text that is not valid Unicode (a lone surrogate)") from None
        except ValueError:
            raise ImportRefused("a property holds a number that is not finite (NaN, Infinity or too large)") from None
        except RecursionError:
            raise ImportRefused("a property holds values nested too deep") from None
        path.write_bytes(text)
        table = read_table(path, spec, Options(crs=crs))
    for name, rows in _nul_rows(features).items():
        table.problems.error("control_characters", "text holds control characters (e.g. NUL)", rows,
                             field_name=name)
    return table
