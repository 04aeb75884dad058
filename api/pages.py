"""What the pages built without Folium (the desk, the phone) share: the role gate, the token cookie, the loop's table.

A page's own API calls carry the token as the cookie set here from its
``?token=``; a browser without a token gets a page saying how to get one
rather than a JSON 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.auth import Principal, keep_token
from layers import loop
from maps.shell import token_page


def loop_steps() -> dict[str, Any]:
    """The loop's table as the pages need it: which states and roles allow each step."""
    return {action: {"from": list(t.sources), "roles": list(t.roles), "reason": t.needs_reason}
            for action, t in loop.TRANSITIONS.items()}


async def role_page(request: Request, principal: Principal | None, roles: tuple[str, ...],
                    build: Callable[[Principal], Awaitable[str]]) -> HTMLResponse:
    """The page ``build`` makes for the caller; 401 page without a token, 403 for another role.

    A ``?token=`` is kept as the cookie the page's own API calls carry.
    """
    if principal is None:
        return HTMLResponse(token_page("需要令牌 Token needed", f"打开 {request.url.path}?token=… (wangge token "
                                       f"create --role {roles[0]} --area CODE)"), status_code=401)
    principal.require_role(*roles)
    response = HTMLResponse(await build(principal), headers={"Cache-Control": "private, no-store"})
    keep_token(request, response)
    return response
