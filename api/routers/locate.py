"""Locate a point: grid, community, street and district (MapIt-like)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ConnDep, SettingsDep
from api.params import PointQuery
from layers.territory import locate as locate_point

router = APIRouter(tags=["locate"])


@router.get("/locate", summary="Which grid, community, street and district own a point")
async def locate(point: PointQuery, conn: ConnDep, settings: SettingsDep) -> dict[str, Any]:
    """Answer the place of the point, or 404 when it is outside the territory.

    ``near_boundary`` is true when another grid lies within the configured
    distance (``WANGGE_NEAR_BOUNDARY_M``, default 5 m); ``neighbour`` names it.
    """
    place = await locate_point(conn, point.lon, point.lat, settings.near_boundary_m)
    neighbour = None
    if place.neighbour_code is not None:
        neighbour = {"code": place.neighbour_code, "name": place.neighbour_name,
                     "distance_m": round(place.distance_m or 0.0, 2)}
    return {
        "point": {"lon": point.lon, "lat": point.lat},
        "input": {"x": point.x, "y": point.y, "crs": point.crs.name},
        "grid": {"code": place.grid_code, "name": place.grid_name},
        "community": {"code": place.community_code, "name": place.community_name},
        "street": {"code": place.street_code, "name": place.street_name},
        "district": {"code": place.district_code, "name": place.district_name},
        "near_boundary": place.near_boundary,
        "neighbour": neighbour,
    }
