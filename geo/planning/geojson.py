"""GeoJSON out, as RFC 7946 wants it: WGS84, counter-clockwise exterior rings, no NaN."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

GEOJSON_DECIMALS = 7  # about 1 cm at these latitudes; plenty for report shapes


def geometry_dict(geom: BaseGeometry, decimals: int | None = GEOJSON_DECIMALS) -> dict[str, Any]:
    """A GeoJSON geometry object for a WGS84 shapely geometry.

    Rings are oriented (exterior CCW, holes CW). ``decimals`` rounds the
    coordinates, which is right for report shapes; pass None to keep full
    precision where the exact vertices matter (stored proposals, whose
    neighbours must keep sharing them).
    """
    oriented = shapely.orient_polygons(geom, exterior_cw=False)
    if decimals is not None:
        oriented = shapely.transform(oriented, lambda xy: np.round(xy, decimals))
    return dict(mapping(oriented))


def feature(geom: BaseGeometry, properties: dict[str, Any], decimals: int | None = GEOJSON_DECIMALS,
            ) -> dict[str, Any]:
    """A GeoJSON Feature."""
    return {"type": "Feature", "geometry": geometry_dict(geom, decimals), "properties": properties}


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}
