"""The dispatcher's desk: its page and the two look-ups it makes beside the general API.

``/desk/nearby`` answers, for a point and a category, what a dispatcher
weighs before filing (possible duplicates, the nearest free teams of the
category's type by ground distance); ``/desk/queue`` the area's new,
overdue and returned cases, which the desk polls.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from api.auth import CurrentPrincipal, Principal, optional_principal
from api.deps import ConnDep, SettingsDep
from api.pages import loop_steps, role_page
from api.params import Line, PointQuery
from api.responses import json_response
from layers.catalogue import category
from layers.field.queue import desk_queue
from layers.field.work import area_outline
from layers.incidents import duplicates
from layers.rows import all_rows
from layers.teams import nearest_teams
from maps.desk import render_desk

router = APIRouter(tags=["desk"])
DESK_ROLES = ("dispatcher", "operator")


@router.get("/desk", response_class=HTMLResponse, summary="The dispatcher's desk (dispatcher, operator)",
            responses={401: {"description": "no token: a page saying how to get one"},
                       403: {"description": "the token's role is not dispatcher or operator"}})
async def desk_page(request: Request, conn: ConnDep, settings: SettingsDep,
                    principal: Annotated[Principal | None, Depends(optional_principal)]) -> HTMLResponse:
    """One screen for a call: address, place, duplicates, teams, category, submit and dispatch, queue."""

    async def build(caller: Principal) -> str:
        return render_desk({"area": await area_outline(conn, caller.area), "role": caller.role, "who": caller.name,
                            "refreshMs": settings.map_refresh_s * 1000, "steps": loop_steps(),
                            "root": request.scope.get("root_path", "")})

    return await role_page(request, principal, DESK_ROLES, build)


@router.get("/desk/nearby", summary="Possible duplicates and the nearest free teams for a point and a category")
async def nearby(point: PointQuery, conn: ConnDep, principal: CurrentPrincipal,
                 category_code: Annotated[Line, Query(alias="category", min_length=1, max_length=16)],
                 k: Annotated[int, Query(ge=1, le=20)] = 5) -> Any:
    """Duplicates (same category, within its radius and window) and ``k`` free teams of its type, nearest first.

    Duplicates are cases: only those the token's area covers are listed.
    """
    principal.require_role(*DESK_ROLES)
    cat = await category(conn, category_code)
    teams = await nearest_teams(conn, point.lon, point.lat, cat.team_type, k) if cat.team_type else []
    found = await duplicates(conn, cat, point.lon, point.lat)
    if found:
        rows = await all_rows(conn, "SELECT id, grid_code FROM incidents WHERE id = ANY(%s)",
                              ([d["id"] for d in found],))
        covered = {row["id"] for row in rows if principal.covers(row["grid_code"])}
        found = [d for d in found if d["id"] in covered]
    return json_response({
        "point": {"lon": point.lon, "lat": point.lat},
        "category": {"code": cat.code, "major": cat.major_name, "minor": cat.minor_name, "team_type": cat.team_type,
                     "time_limit_hours": cat.time_limit_hours},
        "duplicates": found,
        "teams": [{"id": t.id, "code": t.code, "name": t.name, "type": t.type, "lon": t.lon, "lat": t.lat,
                   "distance_m": round(t.distance_m, 1)} for t in teams],
    })


@router.get("/desk/queue", summary="The area's new, overdue and returned cases")
async def queue(conn: ConnDep, principal: CurrentPrincipal,
                area: Annotated[str | None, Query(pattern=r"^[0-9]{6}([0-9]{3}){0,2}$")] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 30) -> Any:
    """What a dispatcher acts on next, each list at most ``limit`` long (default: the token's area)."""
    principal.require_role(*DESK_ROLES)
    area = area or principal.area
    principal.require_area(area)
    return json_response({"area": area, **await desk_queue(conn, area, limit)})
