"""Vector tiles ``/tiles/{layer}/{z}/{x}/{y}.pbf`` from ``ST_AsMVT``, cached per layer version, and their TileJSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from api.auth import current_principal
from api.deps import ConnDep
from api.display import render_gcj02_tile
from api.tilereply import MVT, tile_cache, tile_reply
from layers.errors import NotFound
from layers.features import layer_extent
from layers.registry import LAYERS
from layers.tiles import CLUSTER_FIELDS, FIELD_TYPES, MAX_ZOOM, TILE_SOURCES, cached_tile, render_tile, tile_address

router = APIRouter(tags=["tiles"])
DisplayQuery = Annotated[Literal["wgs84", "gcj02"], Query(
    description="the basemap's system: gcj02 for AMap/Tencent tiles (the tile grid is then GCJ-02's)")]
# Web Mercator's latitude limit: TileJSON's default bounds
_WORLD = [-180.0, -85.0511, 180.0, 85.0511]


@router.get("/tiles/{layer}.json", name="tilejson", summary="TileJSON 3.0 of a tile layer")
async def tilejson(request: Request, layer: str, conn: ConnDep, display: DisplayQuery = "wgs84") -> dict[str, Any]:
    """Describe a tile layer for MapLibre GL and other clients: URL template, zooms, attributes, bounds.

    The tiles themselves need a token (send it as ``Authorization: Bearer``,
    e.g. from MapLibre's ``transformRequest``); each caller sees its area.
    """
    source = TILE_SOURCES.get(layer)
    if source is None:
        raise NotFound(f"no tile layer '{layer}'; one of {', '.join(TILE_SOURCES)}")
    extent = await layer_extent(conn, LAYERS[source.name])
    bounds = [extent.west, extent.south, extent.east, extent.north] if extent else _WORLD
    template = f"{str(request.base_url).rstrip('/')}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"
    if display != "wgs84":
        template += f"?display={display}"
    # cases tiles carry clusters below CLUSTER_BELOW_ZOOM (or when crowded): their fields too
    columns = source.columns + (CLUSTER_FIELDS[1:] if source.name == "incidents" else ())
    fields = {column: FIELD_TYPES[column] for column in columns}
    return {
        "tilejson": "3.0.0",
        "name": f"wangge {layer}",
        "description": LAYERS[source.name].title,
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": source.min_zoom,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(source.min_zoom, 14)],
        "vector_layers": [{"id": layer, "description": LAYERS[source.name].title, "fields": fields,
                           "minzoom": source.min_zoom, "maxzoom": MAX_ZOOM}],
    }


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
async def tile(request: Request, layer: str, z: int, x: int, y: int, display: DisplayQuery = "wgs84") -> Response:
    """Return the tile, limited to the caller's area; 204 when empty, 422 for z/x/y out of range.

    Grids are read at zoom 10 and above, cases (open only) at 10 and above,
    buildings at 15 and above; lower zooms answer an empty tile. Cases
    tiles below zoom 15, or holding more than 1,000 open cases, carry
    clusters instead (``count`` cases at their mean point, ``cluster``
    true), at most one per 1/16 of the tile. Grids and
    cases are those whose code the caller's area prefixes; buildings, which
    carry no code, those meeting the area's outline. Each feature's MVT id
    is its row id.
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
