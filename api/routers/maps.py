"""The map wall: the command view of a district, street or community (HTML), and its live panel.

A browser that opens a page without a (valid) token gets a sign-in page
(401, HTML) where the token can be pasted, not a JSON error; API clients
(no ``text/html`` in ``Accept``) still get the JSON 401.
"""

from __future__ import annotations

import hashlib
import json
import time
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import CurrentPrincipal, Principal, Unauthenticated, keep_token, optional_principal
from api.deps import ConnDep, SettingsDep
from api.mapviews import command_page, known_area, view_urls, wall_pages
from api.tilereply import etag_matches
from layers.areas import level_of
from layers.errors import Forbidden
from layers.indicators import child_indicators, overdue_cases
from maps import panel
from maps.assets import font_links
from maps.command import child_fills

router = APIRouter(tags=["maps"])

LevelName = Literal["district", "street", "community"]
Indicator = Literal["open_cases", "overdue_cases", "on_time_rate"]
# a case turns overdue with time alone: the panel's ETag changes at least this often
PANEL_CLOCK_S = 30
ACTING_ROLES = ("operator", "admin")

_SIGN_IN = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 Sign in · wangge</title>
<link rel="icon" href="data:,">{fonts}<style>
body {{ font-family: "Noto Sans SC", sans-serif; background: #0b1622; color: #e2e8f0; margin: 0;
       display: flex; min-height: 100vh; align-items: center; justify-content: center;
       font-size: clamp(16px, 1vw, 40px); }}
form {{ background: #0f2236; padding: 2em; border-radius: .5em; width: min(90vw, 34em); }}
h1 {{ font-size: 1.5em; margin: 0 0 .5em; }} p {{ color: #94a3b8; }}
textarea {{ width: 100%; box-sizing: border-box; font: inherit; font-size: .8em; height: 6em; }}
button {{ font: inherit; margin-top: 1em; padding: .4em 1.2em; }}
</style></head><body><form method="get" action="{action}" data-testid="sign-in">
<h1>请登录 Sign in</h1><p>{reason}</p>
<label for="token">令牌 Token (<code>wangge token create</code>)</label>
<textarea id="token" name="token" required autofocus></textarea>{hidden}
<button type="submit">打开 Open</button></form></body></html>"""


def sign_in_page(request: Request, reason: str) -> HTMLResponse:
    """A 401 page with a form that reopens the same URL (its other parameters kept) with a token."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in request.query_params.multi_items()
        if k != "token"
    )
    html = _SIGN_IN.format(fonts=font_links(), action=escape(request.url.path),
                           reason=escape(reason), hidden=hidden)
    return HTMLResponse(html, status_code=401,
                        headers={"Cache-Control": "no-store", "WWW-Authenticate": "Bearer"})


def wants_html(request: Request) -> bool:
    """A browser navigating (``Accept: text/html``), as opposed to an API client."""
    return "text/html" in request.headers.get("accept", "")


async def page_principal(request: Request) -> Principal | Unauthenticated:
    """The caller of an HTML page, or (for a browser only) why there is none; API clients get the 401."""
    try:
        principal = await optional_principal(request)
    except Unauthenticated as refused:
        if wants_html(request):
            return refused
        raise
    if principal is None:
        missing = Unauthenticated("this needs a bearer token (wangge token create)", authenticate=True)
        if wants_html(request):
            return missing
        raise missing
    return principal


PagePrincipal = Annotated[Principal | Unauthenticated, Depends(page_principal)]


@router.get("/maps", summary="The map wall of the caller's own area", status_code=303,
            response_class=RedirectResponse, responses={303: {"description": "to the view of the token's area"},
                                                    403: {"description": "a grid's token: no wall below community"},
                                                    422: {"description": "a query that cannot be kept (e.g. control "
                                                                          "characters)"}})
async def my_view(request: Request, principal: PagePrincipal) -> Response:
    """Redirect to the view of the area the token covers, keeping the query (``token`` included)."""
    if isinstance(principal, Unauthenticated):
        return sign_in_page(request, str(principal))
    if len(principal.area) > 12:
        # a grid worker's token (a grid's code): walls start at community level, its screen is the phone page
        raise Forbidden(f"a token for grid {principal.area} has no map wall; the grid worker's screen is /m")
    level = level_of(principal.area).name
    target = str(request.url_for("command_view", level=level, code=principal.area))
    query = request.url.query
    return keep_token(request, RedirectResponse(target + ("?" + query if query else ""), 303))


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
    principal: PagePrincipal,
    conn: ConnDep,
    settings: SettingsDep,
    indicator: Annotated[Indicator, Query(description="what shades the children")] = "open_cases",
    kiosk: Annotated[bool, Query(description="hide controls, cycle through children")] = False,
) -> Response:
    """Return the page; a ``?token=`` is kept as a cookie so the page's own API calls carry it."""
    level_of(code, level)
    if isinstance(principal, Unauthenticated):
        return sign_in_page(request, str(principal))
    principal.require_area(code)
    # the page holds no caller: only the area checked just above decides what it shows
    html = await command_page(
        conn, settings, level, code, indicator, kiosk, request.scope.get("root_path", ""),
        wall_pages(request.app.state), request.app.state.layers,
    )
    return keep_token(request, HTMLResponse(html, headers={"Cache-Control": "private, no-store"}))


def _overdue_row(case: Any) -> dict[str, Any]:
    return {"id": case.id, "category": case.category, "status": case.status,
            "deadline": case.deadline.isoformat(), "child": case.child_code}


@router.get(
    "/maps/{level}/{code}/panel",
    summary="What a map wall updates as cases change: KPIs, shading, legend, overdue list (304 when unchanged)",
    responses={304: {"description": "unchanged"}},
)
async def command_panel(
    request: Request,
    level: LevelName,
    code: str,
    principal: CurrentPrincipal,
    conn: ConnDep,
    indicator: Annotated[Indicator, Query(description="what shades the children")] = "open_cases",
    kiosk: Annotated[bool, Query(description="the links keep kiosk mode")] = False,
) -> Response:
    """The panel's HTML, each child's fill and value, the legend's shading part, the overdue cases."""
    level_of(code, level)
    principal.require_area(code)
    versions = await request.app.state.layers.versions(conn, ("incidents",))
    tick = int(time.time() // PANEL_CLOCK_S)
    key = f"{level}|{code}|{indicator}|{kiosk}|{sorted(versions.items())}|{tick}|{principal.role}"
    etag = '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    area = await known_area(conn, level, code, wall_pages(request.app.state), request.app.state.layers)
    indicators = await child_indicators(conn, area)
    overdue = await overdue_cases(conn, area)
    urls = view_urls(request.scope.get("root_path", ""), level, code, indicator, kiosk)
    template = urls.child_view
    child_urls = {c.code: template.format(code=c.code) for c in indicators} if template else {}
    breaks, fills, shown, no_data = child_fills(indicator, indicators)
    body = {
        "panel": panel.panel_body(level, indicators, overdue, child_urls),
        "legend": panel.indicator_legend(indicator, breaks, no_data),
        "fills": fills,
        "values": shown,
        "open_cases": sum(c.open_cases for c in indicators),
        "overdue": [_overdue_row(c) for c in overdue],
        "can_act": principal.role in ACTING_ROLES,
    }
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, media_type="application/json", headers=headers)
