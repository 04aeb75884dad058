"""Vector tiles ``/tiles/{layer}/{z}/{x}/{y}.pbf`` from ``ST_AsMVT``, cached per layer version."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request, Response

from api.auth import current_principal
from api.display import render_gcj02_tile
from layers.tiles import TILE_SOURCES, TileCache, cached_tile, render_tile, tile_address

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"


def tile_cache(app: FastAPI) -> TileCache:
    """Return the app's tile cache, made on first use (one per process)."""
    cache: TileCache | None = getattr(app.state, "tile_cache", None)
    if cache is None:
        cache = app.state.tile_cache = TileCache()
    return cache


def etag_matches(request: Request, etag: str) -> bool:
    """Return True when the client's ``If-None-Match`` names ``etag`` (or ``*``)."""
    wanted = request.headers.get("if-none-match", "")
    return (
        any(tag.strip() in (etag, "*", f"W/{etag}") for tag in wanted.split(","))
        if wanted
        else False
    )


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
    max_age = TILE_SOURCES[layer].max_age_s
    headers = {
        "ETag": entry.etag,
        "Vary": "Cookie, Authorization, Accept-Encoding",
        "Cache-Control": f"private, max-age={max_age}" if max_age else "private, no-cache",
    }
    if etag_matches(request, entry.etag):
        return Response(status_code=304, headers=headers)
    if not entry.body:
        return Response(status_code=204, headers=headers)
    if entry.gzipped and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(entry.gzipped, media_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return Response(entry.body, media_type=MVT, headers=headers)
