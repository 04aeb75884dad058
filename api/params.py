"""Parameters parsed at the edge: each type validates itself, so bad input is a 422, never a 500."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator, Field, FiniteFloat

from geo.crs import Crs, parse_crs, to_wgs84
from layers.errors import InvalidInput
from layers.features import BBox

# Control characters never belong in what a client types, and NUL cannot even
# be stored (pydantic already refuses lone surrogates). One-line text refuses them all,
# free text (descriptions, reasons) keeps tab and line breaks. Refused, not
# stripped: a client that sends them has a bug worth seeing (422).
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_LINE = re.compile(r"[\x00-\x1f\x7f]")
_FREE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def one_line(text: object) -> object:
    """``text`` unchanged, or ValueError when it is a string holding a control character."""
    if isinstance(text, str) and _LINE.search(text):
        raise ValueError("control characters (U+0000-U+001F, U+007F) are not allowed here")
    return text


def free_text(text: object) -> object:
    """``text`` unchanged, or ValueError on control characters other than tab and line breaks."""
    if isinstance(text, str) and _FREE.search(text):
        raise ValueError("control characters other than tab and line breaks are not allowed")
    return text


Line = Annotated[str, BeforeValidator(one_line), Field(json_schema_extra={"pattern": LINE_PATTERN})]
"""A one-line string (names, codes, addresses, queries): no control characters."""
FreeText = Annotated[str, BeforeValidator(free_text), Field(json_schema_extra={"pattern": FREE_TEXT_PATTERN})]
"""Free text (descriptions, reasons): tab and line breaks, no other control characters."""

CRS_HELP = "coordinate system of the input: wgs84 (default), cgcs2000, gcj02, bd09 or EPSG:<code>"


@dataclass(frozen=True)
class InputPoint:
    """A point as the client sent it and as wangge stores it (WGS84)."""

    x: float
    y: float
    crs: Crs
    lon: float
    lat: float


GridCode = Annotated[str, Path(pattern=r"^[0-9]{15}$", description="15-digit grid code")]
CommunityCode = Annotated[str, Path(pattern=r"^[0-9]{12}$", description="12-digit community code")]

LonQuery = Annotated[FiniteFloat, Query(description="longitude, or easting for a projected EPSG code")]
LatQuery = Annotated[FiniteFloat, Query(description="latitude, or northing for a projected EPSG code")]
CrsQuery = Annotated[Line, Query(max_length=64, description=CRS_HELP)]


def normalize_point(x: float, y: float, crs: str) -> InputPoint:
    """Normalize a client's point to WGS84 once, keeping what was sent (422 on any problem)."""
    system = parse_crs(crs)
    lon, lat = to_wgs84(x, y, system)
    return InputPoint(x, y, system, lon, lat)


async def input_point(lon: LonQuery, lat: LatQuery, crs: CrsQuery = "wgs84") -> InputPoint:
    """Read ``lon``/``lat``/``crs`` from the query and normalize to WGS84."""
    return normalize_point(lon, lat, crs)


PointQuery = Annotated[InputPoint, Depends(input_point)]


def parse_bbox(text: str) -> BBox:
    """Parse ``minlon,minlat,maxlon,maxlat`` in WGS84 degrees; refuse anything else."""
    parts = text.split(",")
    if len(parts) != 4:
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat") from None
    if not all(abs(v) != float("inf") and v == v for v in (w, s, e, n)):
        raise InvalidInput("bbox values must be finite numbers")
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidInput("bbox must satisfy -180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90")
    return BBox(w, s, e, n)


WORLD = BBox(-180, -90, 180, 90)


async def bbox_query(
    bbox: Annotated[Line | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
) -> BBox:
    """The ``bbox`` query parameter, the whole world when absent."""
    return parse_bbox(bbox) if bbox is not None else WORLD


BBoxQuery = Annotated[BBox, Depends(bbox_query)]
Limit = Annotated[int, Query(ge=1, le=10_000, description="features per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="features to skip")]


CHINA_TIME = ZoneInfo("Asia/Shanghai")
"""A date or a time without an offset is read in China Standard Time (all of China uses it)."""


def parse_at(text: str) -> datetime:
    """``2024-05-01`` (start of that day) or an ISO 8601 time; no offset means China time."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), CHINA_TIME)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("at must be a date (2024-05-01) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TIME)


AtText = Annotated[Line | None, Query(max_length=40, description="a date or ISO time; default now")]


async def at_query(at: AtText = None) -> datetime | None:
    """The ``at`` query parameter: the moment to look at, None for now."""
    return parse_at(at) if at is not None else None


AtQuery = Annotated[datetime | None, Depends(at_query)]
