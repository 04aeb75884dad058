"""Cached tiles answered before the framework: a small cache in front, like a tile proxy's.

A map wall asks for tiles by the hundred and most are cache hits. For a
hit, routing, parameter validation and dependency resolution cost more than
the tile itself, so this middleware answers hits straight from the tile
cache: same token check, same cache key and layer version, same reply
(``api.tilereply``). Anything it is not sure of (no token, a bad one, an
invalid address, a miss, the layer watcher not listening) goes on to the
``/tiles`` route, which validates, renders and fills the cache.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import Unauthenticated, token_from, verify_token
from api.tilereply import Reply, tile_cache, tile_reply
from layers.errors import WanggeError
from layers.tiles import tile_address

_PATH = re.compile(r"^/tiles/(\w+)/(\d{1,2})/(\d{1,8})/(\d{1,8})\.pbf$")


class TileHits:
    """ASGI middleware serving tile cache hits; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a cache hit here; pass anything else on unchanged."""
        match = _PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        reply = self._hit(scope, match) if match else None
        if reply is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = reply
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    def _hit(self, scope: Scope, match: re.Match[str]) -> Reply | None:
        app = scope["app"]
        request = Request(scope)
        display = parse_qs(scope["query_string"].decode("latin-1")).get("display", ["wgs84"])[0]
        token = token_from(request)
        if not token or display not in ("wgs84", "gcj02"):
            return None
        try:
            principal = verify_token(app.state.token_secret, token)
            address = tile_address(match[1], int(match[2]), int(match[3]), int(match[4]))
        except (Unauthenticated, WanggeError):
            return None
        version = app.state.layers.version(address.source.table)
        if version is None:
            return None
        key = (address.source.name, principal.area, display, address.z, address.x, address.y)
        entry = tile_cache(app).peek(key, version)
        if entry is None:
            return None
        return tile_reply(entry, match[1], request.headers.get("if-none-match", ""),
                          request.headers.get("accept-encoding", ""))
