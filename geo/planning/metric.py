"""Move geometries between WGS84 and the city's Gauss-Krüger zone, where a unit is a metre.

Areas, sliver thresholds and snapping are meaningless in degrees, so every
planning check runs in the zone whose central meridian is nearest the
community. The transform is applied vertex by vertex and is deterministic:
two grids sharing a vertex in WGS84 still share it in metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import metric_crs_for
from geo.crs import transformer as _transformer


@dataclass(frozen=True)
class MetricFrame:
    """A metric zone (EPSG code) and the transforms into and out of it."""

    epsg: int

    @classmethod
    def around(cls, geom: BaseGeometry) -> MetricFrame:
        """The Gauss-Krüger zone of the centre of ``geom`` (WGS84)."""
        centre = geom.envelope.centroid
        return cls(metric_crs_for(centre.x))

    @overload
    def to_metric(self, geoms: np.ndarray) -> np.ndarray: ...

    @overload
    def to_metric(self, geoms: BaseGeometry) -> BaseGeometry: ...

    def to_metric(self, geoms: np.ndarray | BaseGeometry) -> np.ndarray | BaseGeometry:
        """Project WGS84 geometries (one or an array) into the zone."""
        forward = _transformer(4326, self.epsg)
        return shapely.transform(geoms, lambda xy: np.column_stack(forward.transform(xy[:, 0], xy[:, 1])))

    @overload
    def to_wgs84(self, geoms: np.ndarray) -> np.ndarray: ...

    @overload
    def to_wgs84(self, geoms: BaseGeometry) -> BaseGeometry: ...

    def to_wgs84(self, geoms: np.ndarray | BaseGeometry) -> np.ndarray | BaseGeometry:
        """Project zone geometries (one or an array) back to WGS84."""
        back = _transformer(self.epsg, 4326)
        return shapely.transform(geoms, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))

    def points_to_metric(self, lonlat: np.ndarray) -> np.ndarray:
        """Project an ``(n, 2)`` array of WGS84 lon/lat into zone x/y."""
        if len(lonlat) == 0:
            return np.empty((0, 2))
        x, y = _transformer(4326, self.epsg).transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack((x, y))
