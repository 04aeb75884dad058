"""Locate a point: grid, community, street and district (MapIt-like).

The hottest read path of the service (every call, every case). Current
places come from the process's in-memory grid index (``api.gridcache``),
which follows the same rules as the SQL and is reloaded on every change of
the grids; historical ones (``at=``) and any moment the index cannot be
trusted go to the SQL query. The route writes JSON bytes itself rather than
going through generic encoding.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.params import AtText, CrsQuery, LatQuery, LonQuery, normalize_point, parse_at
from api.responses import json_response
from layers.db import translated_errors
from layers.territory import locate as locate_point
from layers.territory import outside

router = APIRouter(tags=["locate"])


@router.get("/locate", summary="Which grid, community, street and district own a point",
            response_class=Response, responses={200: {"content": {"application/json": {}}}})
async def locate(request: Request, lon: LonQuery, lat: LatQuery, crs: CrsQuery = "wgs84",
                 at: AtText = None) -> Response:
    """Answer the place of the point, or 404 when it is outside the territory.

    ``near_boundary`` is true when another grid lies within the configured
    distance (``WANGGE_NEAR_BOUNDARY_M``, default 5 m); ``neighbour`` names it.
    With ``at`` (a date or ISO time) the grids in force then answer.
    """
    # parameters are declared here rather than through dependencies: this
    # route is the service's hottest, and each dependency layer costs time
    point = normalize_point(lon, lat, crs)
    moment = parse_at(at) if at is not None else None
    near_m = request.app.state.settings.near_boundary_m
    index = request.app.state.grids.current() if moment is None else None
    if index is not None:
        place = index.locate(point.lon, point.lat, near_m)
        if place is None:
            raise outside(point.lon, point.lat)
    else:
        async with translated_errors(), request.app.state.pool.connection() as conn:
            place = await locate_point(conn, point.lon, point.lat, near_m, moment)
    neighbour = None
    if place.neighbour_code is not None:
        neighbour = {"code": place.neighbour_code, "name": place.neighbour_name,
                     "distance_m": round(place.distance_m or 0.0, 2)}
    return json_response({
        "point": {"lon": point.lon, "lat": point.lat},
        "input": {"x": point.x, "y": point.y, "crs": point.crs.name},
        "grid": {"code": place.grid_code, "name": place.grid_name},
        "community": {"code": place.community_code, "name": place.community_name},
        "street": {"code": place.street_code, "name": place.street_name},
        "district": {"code": place.district_code, "name": place.district_name},
        "near_boundary": place.near_boundary,
        "neighbour": neighbour,
    })
