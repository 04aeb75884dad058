"""Teams: the nearest free ones of a type, and live positions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.params import Line, PointQuery
from api.schemas import Position, PositionBatch
from geo.crs import parse_crs, to_wgs84
from layers import teams
from layers.catalogue import team_types
from layers.errors import InvalidInput

router = APIRouter(tags=["teams"])
TeamId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/teams/nearest", summary="The k nearest free teams of a type")
async def nearest(point: PointQuery, conn: ConnDep,
                  type: Annotated[Line, Query(max_length=40, description="team type, e.g. city_management")],
                  k: Annotated[int, Query(ge=1, le=50)] = 5) -> dict[str, Any]:
    """Free teams by true ground distance (WGS84 spheroid), nearest first, with ``distance_m``."""
    if type not in await team_types(conn):
        raise InvalidInput(f"unknown team type '{type[:40]}'")
    found = await teams.nearest_teams(conn, point.lon, point.lat, type, k)
    return {"point": {"lon": point.lon, "lat": point.lat},
            "teams": [{**t.__dict__, "distance_m": round(t.distance_m, 1)} for t in found]}


def _wgs84(position: Position) -> tuple[float, float]:
    return to_wgs84(position.lon, position.lat, parse_crs(position.crs))


@router.put("/teams/{team_id}/position", summary="Move one team")
async def move(team_id: TeamId, body: Position, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Set a team's live position (dispatchers and admins of its area)."""
    principal.require_role("dispatcher")
    lon, lat = _wgs84(body)
    await teams.update_positions(conn, [teams.Position(team_id, lon, lat, body.at)], principal.area)
    return {"id": team_id, "lon": lon, "lat": lat}


@router.put("/teams/positions", summary="Move many teams at once")
async def move_many(body: PositionBatch, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Set many live positions in one statement; all or none (404 names unknown teams)."""
    principal.require_role("dispatcher")
    moves = [teams.Position(p.id, *_wgs84(p), p.at) for p in body.positions]
    return {"updated": await teams.update_positions(conn, moves, principal.area)}
