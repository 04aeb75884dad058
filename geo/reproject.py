"""Whole arrays of geometries between a named coordinate system and WGS84, vertex by vertex.

:mod:`geo.crs` converts one point at a request's edge; files and exports
move hundreds of thousands of geometries at once, so this module does the
same conversions on coordinate arrays: PROJ for EPSG systems, wangge's own
GCJ-02/BD-09 formulas for the two systems PROJ lacks. Axis order is always
easting/longitude first, as in :mod:`geo.crs`.

Nothing is guessed or repaired here: a vertex that cannot be converted
comes back non-finite, and :func:`bad_coordinates` tells the caller which
geometries hold one, or lie outside the range of longitude and latitude.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import shapely

from geo import chinacrs
from geo.crs import Crs, transformer

_Array = npt.NDArray[np.float64]
_Shift = Callable[[npt.ArrayLike, npt.ArrayLike], tuple[_Array, _Array]]

_TO_WGS84: dict[str, _Shift] = {
    "gcj02": chinacrs.gcj02_to_wgs84_array,
    "bd09": chinacrs.bd09_to_wgs84_array,
}
_FROM_WGS84: dict[str, _Shift] = {
    "gcj02": chinacrs.wgs84_to_gcj02_array,
    "bd09": chinacrs.wgs84_to_bd09_array,
}
# CGCS2000 is taken as WGS84 (see geo.crs): the same numbers
_IDENTICAL = {4326, 4490}


def _converter(crs: Crs, shifts: dict[str, _Shift], forward: bool) -> Callable[[_Array], _Array] | None:
    if crs.name in shifts:
        shift = shifts[crs.name]
        return lambda xy: np.column_stack(shift(xy[:, 0], xy[:, 1]))
    if crs.epsg is None or crs.epsg in _IDENTICAL:
        return None
    projection = transformer(crs.epsg, 4326) if forward else transformer(4326, crs.epsg)

    def convert(xy: _Array) -> _Array:
        # errcheck off: a vertex PROJ cannot convert becomes inf and is reported by the caller
        x, y = projection.transform(xy[:, 0], xy[:, 1], errcheck=False)
        return np.column_stack([x, y])

    return convert


def to_wgs84(geoms: np.ndarray, crs: Crs) -> np.ndarray:
    """Geometries given in ``crs`` → WGS84 (lon, lat), dropping Z/M values."""
    geoms = np.asarray(geoms, dtype=object)
    # force_2d copies every geometry; a million plain 2D points need no copy
    flat = shapely.force_2d(geoms) if (shapely.has_z(geoms) | shapely.has_m(geoms)).any() else geoms
    convert = _converter(crs, _TO_WGS84, forward=True)
    return flat if convert is None else shapely.transform(flat, convert)


def from_wgs84(geoms: np.ndarray, crs: Crs) -> np.ndarray:
    """WGS84 geometries → ``crs`` (easting/longitude first)."""
    geoms = np.asarray(geoms, dtype=object)
    convert = _converter(crs, _FROM_WGS84, forward=False)
    return geoms if convert is None else shapely.transform(geoms, convert)


def bad_coordinates(geoms: np.ndarray) -> npt.NDArray[np.bool_]:
    """True for each WGS84 geometry with a non-finite vertex or one outside lon ±180 / lat ±90."""
    geoms = np.asarray(geoms, dtype=object)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad_vertex = ~np.isfinite(coords).all(axis=1)
    with np.errstate(invalid="ignore"):
        bad_vertex |= (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    bad = np.zeros(len(geoms), dtype=bool)
    bad[owner[bad_vertex]] = True
    return bad
