"""The map wall: the command view of a district, street or community (HTML)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import COOKIE, DEFAULT_TTL_S, CurrentPrincipal
from api.deps import ConnDep, SettingsDep
from api.mapviews import command_page
from layers.areas import level_of

router = APIRouter(tags=["maps"])

LevelName = Literal["district", "street", "community"]
Indicator = Literal["open_cases", "overdue_cases", "on_time_rate"]


@router.get("/maps", summary="The map wall of the caller's own area", status_code=303,
            response_class=RedirectResponse, responses={303: {"description": "to the view of the token's area"}})
async def my_view(request: Request, principal: CurrentPrincipal) -> RedirectResponse:
    """Redirect to the view of the area the token covers."""
    level = level_of(principal.area).name
    return RedirectResponse(
        str(request.url_for("command_view", level=level, code=principal.area)), 303
    )


@router.get(
    "/maps/{level}/{code}",
    name="command_view",
    response_class=HTMLResponse,
    summary="Command view of an area: children shaded by an indicator, live layers",
)
async def command_view(
    request: Request,
    level: LevelName,
    code: str,
    principal: CurrentPrincipal,
    conn: ConnDep,
    settings: SettingsDep,
    indicator: Annotated[Indicator, Query(description="what shades the children")] = "open_cases",
    kiosk: Annotated[bool, Query(description="hide controls, cycle through children")] = False,
) -> HTMLResponse:
    """Return the page; a ``?token=`` is kept as a cookie so the page's own API calls carry it."""
    level_of(code, level)
    principal.require_area(code)
    html = await command_page(
        conn, settings, level, code, indicator, kiosk, request.scope.get("root_path", "")
    )
    response = HTMLResponse(html, headers={"Cache-Control": "private, no-store"})
    token = request.query_params.get("token")
    if token:
        response.set_cookie(
            COOKIE, token, max_age=DEFAULT_TTL_S, httponly=True, samesite="strict", path="/"
        )
    return response
