"""What map walls poll: bbox-limited GeoJSON of an area's live layers, 304 when unchanged."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from psycopg import AsyncConnection

from api import display
from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.params import BBoxQuery
from api.tilereply import etag_matches
from layers import live
from layers.areas import level_of
from layers.features import BBox

router = APIRouter(tags=["live"])
GEOJSON = "application/geo+json"
Render = Callable[[AsyncConnection, str, BBox, str], Awaitable[str]]


@dataclass(frozen=True)
class LiveLayer:
    """A pollable layer: the tables whose versions decide a 304, and how to read it.

    ``clock_s``: answers that change with time alone (a case turning overdue)
    also change their ETag every ``clock_s`` seconds.
    """

    tables: tuple[str, ...]
    render: Render
    clock_s: int = 0


async def _cases(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.points_geojson(await live.open_cases(conn, area, bbox), shown)


async def _teams(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.points_geojson(await live.teams(conn, area, bbox), shown)


async def _water(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.points_geojson(await live.waterlogging(conn, area, bbox), shown)


async def _cameras(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.points_geojson(await live.cameras(conn, area, bbox), shown)


async def _stalls(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.shapes_geojson(await live.stall_zones(conn, area, bbox), shown)


async def _heat(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.heat_json(await live.case_heat(conn, area), shown)


LIVE_LAYERS: dict[str, LiveLayer] = {
    "cases": LiveLayer(("incidents",), _cases, clock_s=60),
    "teams": LiveLayer(("teams",), _teams),
    "waterlogging": LiveLayer(("waterlogging_points",), _water),
    "cameras": LiveLayer(("cameras",), _cameras),
    "stall_zones": LiveLayer(("stall_zones",), _stalls),
    "heat": LiveLayer(("incidents",), _heat, clock_s=600),
}
LiveName = Literal["cases", "teams", "waterlogging", "cameras", "stall_zones", "heat"]
Display = Literal["wgs84", "gcj02"]


def live_etag(
    name: str, area: str, bbox: BBox, shown: str, versions: dict[str, int], clock_s: int
) -> str:
    """Return an ETag over layer versions, the request and the clock bucket."""
    tick = int(time.time() // clock_s) if clock_s else 0
    key = f"{name}|{area}|{bbox}|{shown}|{sorted(versions.items())}|{tick}"
    return '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'


@router.get(
    "/live/{area}/{layer}",
    summary="Live GeoJSON of an area's layer in a bbox (304 when unchanged)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, 304: {"description": "unchanged"}},
)
async def live_layer(
    request: Request,
    area: Annotated[str, Path(max_length=12)],
    layer: LiveName,
    principal: CurrentPrincipal,
    conn: ConnDep,
    bbox: BBoxQuery,
    display_crs: Annotated[
        Display,
        Query(
            alias="display",
            description=("coordinate system to draw in: gcj02 for a GCJ-02 basemap"),
        ),
    ] = "wgs84",
) -> Response:
    """Answer open cases (closed drop out), teams, water levels, cameras, stalls or heat."""
    level_of(area)
    principal.require_area(area)
    spec = LIVE_LAYERS[layer]
    versions = await request.app.state.layers.versions(conn, spec.tables)
    etag = live_etag(layer, area, bbox, display_crs, versions, spec.clock_s)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    body = await spec.render(conn, area, bbox, display_crs)
    return Response(
        body, media_type=GEOJSON if layer != "heat" else "application/json", headers=headers
    )
