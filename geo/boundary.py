"""Read a district boundary file and bring it to WGS84.

Boundary files from Chinese map providers are usually GCJ-02; the file must
say so in its feature's ``crs`` property (``GCJ-02``, ``WGS84`` or
``CGCS2000``), because a boundary in the wrong system is several hundred
metres off and would put every case in the wrong grid. A file that does not
say is refused rather than guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, shape

from geo.chinacrs import gcj02_to_wgs84_array

_CONVERTERS = {"GCJ-02": gcj02_to_wgs84_array, "GCJ02": gcj02_to_wgs84_array}
_IDENTICAL = {"WGS84", "WGS-84", "EPSG:4326", "CGCS2000", "EPSG:4490"}


@dataclass(frozen=True)
class DistrictBoundary:
    """A district's code (6-digit administrative code), names and WGS84 outline."""

    code: str
    name: str
    province: str
    city: str
    geom: MultiPolygon


def read_district(path: Path) -> DistrictBoundary:
    """Read a one-feature GeoJSON district file (properties ``adcode``, ``district``, ``crs``).

    Raises ``ValueError`` when the file has no usable ``crs`` property or
    its geometry is not a valid (multi)polygon.
    """
    feature = json.loads(path.read_text(encoding="utf-8"))["features"][0]
    props = feature["properties"]
    crs = str(props.get("crs", "")).upper()
    geom = shape(feature["geometry"])
    if isinstance(geom, shapely.Polygon):
        geom = MultiPolygon([geom])
    if not isinstance(geom, MultiPolygon):
        raise ValueError(f"{path}: the district geometry must be a (Multi)Polygon")
    if crs in _CONVERTERS:
        convert = _CONVERTERS[crs]

        def to_wgs84(xy: np.ndarray) -> np.ndarray:
            lons, lats = convert(xy[:, 0], xy[:, 1])
            return np.column_stack([lons, lats])

        geom = shapely.transform(geom, to_wgs84)
    elif crs not in _IDENTICAL:
        raise ValueError(f"{path}: the feature's 'crs' property must name its coordinate system")
    if not geom.is_valid:
        raise ValueError(f"{path}: the district outline is not a valid polygon")
    return DistrictBoundary(str(props["adcode"]), str(props["district"]),
                            str(props.get("province", "")), str(props.get("city", "")), geom)
