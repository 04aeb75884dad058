"""Vector tiles ``/tiles/{layer}/{z}/{x}/{y}.pbf`` from ``ST_AsMVT``, cached per layer version."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth import current_principal
from api.display import render_gcj02_tile
from api.tilereply import MVT, tile_cache, tile_reply
from layers.tiles import cached_tile, render_tile, tile_address

router = APIRouter(tags=["tiles"])


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.pbf",
    summary="A Mapbox vector tile of grids, buildings or cases",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}},
        204: {"description": "empty tile"},
        304: {"description": "unchanged"},
    },
)
async def tile(
    request: Request, layer: str, z: int, x: int, y: int,
    display: Annotated[Literal["wgs84", "gcj02"], Query(
        description="the basemap's system: gcj02 for AMap/Tencent tiles (the tile grid is then GCJ-02's)")] = "wgs84",
) -> Response:
    """Return the tile, limited to the caller's area; 204 when empty, 422 for z/x/y out of range.

    Grids are read at zoom 10 and above, cases (open only) at 10 and above,
    buildings at 15 and above; lower zooms answer an empty tile.
    """
    # the caller, read here rather than through a dependency: map walls ask
    # for tiles by the hundred, and cached ones should cost next to nothing
    principal = await current_principal(request)
    address = tile_address(layer, z, x, y)
    known = request.app.state.layers.version(address.source.table)
    render = render_gcj02_tile if display == "gcj02" else render_tile
    entry = await cached_tile(request.app.state.pool, tile_cache(request.app), address, principal.area, known,
                              render, display)
    status, headers, body = tile_reply(entry, layer, request.headers.get("if-none-match", ""),
                                       request.headers.get("accept-encoding", ""))
    return Response(body, status_code=status, headers=headers)
