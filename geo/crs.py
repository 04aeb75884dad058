"""Input coordinate systems: parse their names and convert points to WGS84.

Every function takes and returns easting/longitude first, as GeoJSON does,
whatever axis order the EPSG registry gives the system. CGCS2000 is treated
as WGS84: CGCS2000 is frozen at epoch 2000 while WGS84 moves with the plates,
so the two now differ by up to about a metre in China, which grid
governance data, digitised at metre level, does not resolve.
"""

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyproj
from pyproj.exceptions import CRSError

from geo import chinacrs


class CrsError(ValueError):
    """A coordinate system or a point that cannot be used; the message is for clients."""


@dataclass(frozen=True)
class Crs:
    """A parsed coordinate system.

    ``name`` is canonical: "wgs84", "cgcs2000", "gcj02", "bd09" or
    "EPSG:<code>"; ``epsg`` is None for GCJ-02 and BD-09, which have no code.
    """

    name: str
    epsg: int | None


WGS84 = Crs("wgs84", 4326)
CGCS2000 = Crs("cgcs2000", 4490)
GCJ02 = Crs("gcj02", None)
BD09 = Crs("bd09", None)

_NAMED = {crs.name: crs for crs in (WGS84, CGCS2000, GCJ02, BD09)}
_BY_EPSG = {4326: WGS84, 4490: CGCS2000}
_CRS84 = re.compile(
    r"(?:ogc:|urn:ogc:def:crs:ogc:[\d.]*:|https?://www\.opengis\.net/def/crs/ogc/[\d.]+/)crs84",
    re.IGNORECASE,
)
_EPSG = re.compile(
    r"(?:epsg:|urn:ogc:def:crs:epsg:[\d.]*:|https?://www\.opengis\.net/def/crs/epsg/[\d.]+/)"
    r"(\d{1,9})",
    re.IGNORECASE,
)

_Convert = Callable[[float, float], tuple[float, float]]
# The China shifts, keyed by Crs.name: (to WGS84, from WGS84).
_SHIFTS: dict[str, tuple[_Convert, _Convert]] = {
    "gcj02": (chinacrs.gcj02_to_wgs84, chinacrs.wgs84_to_gcj02),
    "bd09": (chinacrs.bd09_to_wgs84, chinacrs.wgs84_to_bd09),
}

# Registry areas of use are drawn tightly around territory, and surveys near
# a zone's edge routinely stay in the neighbouring zone.
_AREA_MARGIN_DEG = 0.5

# CGCS2000 3-degree Gauss-Krüger zones, CM 75E (EPSG:4534) to CM 135E (EPSG:4554).
_GK_FIRST_EPSG, _GK_ZONES = 4534, 21


def parse_crs(text: str | None) -> Crs:
    """Parse a coordinate system name, case-insensitively; None or "" means WGS84.

    Accepts "wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:<code>" (4326 and 4490
    become wgs84 and cgcs2000), the OGC URN and URL forms of EPSG codes and
    OGC CRS84 (WGS84 in lon/lat order). Other EPSG codes must be 2D
    geographic or projected systems known to PROJ with an area of use.
    Anything else raises :class:`CrsError`.
    """
    cleaned = (text or "").strip()
    if not cleaned:
        return WGS84
    named = _NAMED.get(cleaned.lower())
    if named is not None:
        return named
    if _CRS84.fullmatch(cleaned):
        return WGS84
    match = _EPSG.fullmatch(cleaned)
    if match is None:
        raise _unknown(cleaned if len(cleaned) <= 60 else cleaned[:57] + "...")
    code = int(match.group(1))
    if code in _BY_EPSG:
        return _BY_EPSG[code]
    _epsg_system(code)
    return Crs(f"EPSG:{code}", code)


def to_wgs84(x: float, y: float, crs: Crs) -> tuple[float, float]:
    """Convert a point given easting/longitude first to WGS84 (lon, lat).

    Raises :class:`CrsError` for non-finite input, for longitudes or
    latitudes out of range, for GCJ-02 or BD-09 points outside China (where
    those systems are undefined), and for EPSG points whose position falls
    outside the system's area of use (plus half a degree) or does not
    project at all.
    """
    _require_finite(x, y)
    if crs.name in _SHIFTS:
        _require_lon_lat(x, y)
        _require_in_china(x, y, crs)
        return _SHIFTS[crs.name][0](x, y)
    code = _epsg_of(crs)
    if code in _BY_EPSG:
        _require_lon_lat(x, y)
        return float(x), float(y)
    system = _epsg_system(code)
    if system.geographic:
        _require_lon_lat(x, y)
    lon, lat = transformer(code, 4326).transform(x, y)
    if not (math.isfinite(lon) and math.isfinite(lat) and system.covers(lon, lat)):
        raise CrsError(f"point ({x:.10g}, {y:.10g}) is outside the area of use of EPSG:{code}")
    return float(lon), float(lat)


def from_wgs84(lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    """Convert a WGS84 (lon, lat) to ``crs``, easting/longitude first.

    Raises :class:`CrsError` in the cases of :func:`to_wgs84`, judged on the
    WGS84 point.
    """
    _require_finite(lon, lat)
    _require_lon_lat(lon, lat)
    if crs.name in _SHIFTS:
        _require_in_china(lon, lat, crs)
        return _SHIFTS[crs.name][1](lon, lat)
    code = _epsg_of(crs)
    if code in _BY_EPSG:
        return float(lon), float(lat)
    if not _epsg_system(code).covers(lon, lat):
        raise CrsError(f"point ({lon:.10g}, {lat:.10g}) is outside the area of use of EPSG:{code}")
    x, y = transformer(4326, code).transform(lon, lat)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CrsError(f"point ({lon:.10g}, {lat:.10g}) cannot be expressed in EPSG:{code}")
    return float(x), float(y)


def metric_crs_for(lon: float) -> int:
    """Return the EPSG code of the CGCS2000 3-degree Gauss-Krüger zone for ``lon``.

    The zone is the one whose central meridian is nearest; a longitude
    exactly between two goes east, except at 136.5, the last zone's edge.
    Raises :class:`CrsError` outside 73.5..136.5 degrees east, which the
    zones 4534 (CM 75E) to 4554 (CM 135E) cover.
    """
    if not (math.isfinite(lon) and 73.5 <= lon <= 136.5):
        raise CrsError(
            f"longitude {lon:.10g} is outside China's Gauss-Krüger zones (73.5 to 136.5 east)"
        )
    return _GK_FIRST_EPSG + min(math.floor((lon - 73.5) / 3.0), _GK_ZONES - 1)


def _unknown(shown: str) -> CrsError:
    return CrsError(
        f"unknown coordinate system {shown!r}; use wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"
    )


def _epsg_of(crs: Crs) -> int:
    if crs.epsg is None:
        raise CrsError(f"unknown coordinate system {crs.name!r}")
    return crs.epsg


@dataclass(frozen=True)
class _EpsgSystem:
    """Where a registry system is meant to be used, in WGS84 degrees."""

    west: float
    south: float
    east: float
    north: float
    geographic: bool

    def covers(self, lon: float, lat: float) -> bool:
        """Return True if (lon, lat) is inside the area of use widened by the margin."""
        margin = _AREA_MARGIN_DEG
        if not self.south - margin <= lat <= self.north + margin:
            return False
        if self.west <= self.east:
            return self.west - margin <= lon <= self.east + margin
        # The area crosses the antimeridian, e.g. Pacific systems from 98E to 68W.
        return lon >= self.west - margin or lon <= self.east + margin


@functools.lru_cache(maxsize=256)
def _epsg_system(code: int) -> _EpsgSystem:
    """Look up a usable EPSG system: 2D geographic or projected, with an area of use.

    Raises CrsError otherwise. Failures are not cached, which only costs a
    registry lookup per bad request.
    """
    try:
        crs = pyproj.CRS.from_epsg(code)
    except CRSError:
        raise _unknown(f"EPSG:{code}") from None
    if not (crs.is_geographic or crs.is_projected) or len(crs.axis_info) != 2:
        raise CrsError(f"EPSG:{code} is not a 2D geographic or projected coordinate system")
    area = crs.area_of_use
    if area is None:
        raise CrsError(f"EPSG:{code} has no known area of use")
    return _EpsgSystem(area.west, area.south, area.east, area.north, crs.is_geographic)


@functools.lru_cache(maxsize=256)
def transformer(source: int, target: int) -> pyproj.Transformer:
    """The cached ``always_xy`` transformer between two EPSG codes, shared by every module.

    pyproj >= 3.1 transformers are thread-safe, so one per pair serves every
    request thread.
    """
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def _require_finite(x: float, y: float) -> None:
    if not (math.isfinite(x) and math.isfinite(y)):
        raise CrsError("coordinates must be finite numbers")


def _require_lon_lat(lon: float, lat: float) -> None:
    if not -180.0 <= lon <= 180.0:
        raise CrsError(f"longitude {lon:.10g} is outside -180 to 180")
    if not -90.0 <= lat <= 90.0:
        raise CrsError(f"latitude {lat:.10g} is outside -90 to 90")


def _require_in_china(lon: float, lat: float, crs: Crs) -> None:
    if chinacrs.out_of_china(lon, lat):
        raise CrsError(
            f"point ({lon:.10g}, {lat:.10g}) is outside China, where {crs.name} is not defined"
        )
