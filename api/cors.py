"""CORS for the read routes, so a MapLibre or Leaflet page served elsewhere can use wangge's data.

Only origins listed in ``WANGGE_CORS_ORIGINS`` (comma-separated, ``*`` for
any; none by default) get the ``Access-Control-Allow-*`` headers, and only
on the read routes: the landing page and conformance, collections, tiles and
TileJSON, live feeds, locate, geocode and the catalogue. Writes stay
same-origin. Tokens travel in the ``Authorization`` header, so no
credentials (cookies) are allowed across origins.

It sits in front of every other middleware, the tile cache-hit path
(``api.tilehits``) included, so those replies carry the headers too. A
refused preflight is 403 with the usual JSON error body.
"""

from __future__ import annotations

import json
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_PATHS = re.compile(r"^/(?:conformance|collections|tiles|live|locate|geocode|catalogue)?(?:/|$)")
METHODS = ("GET", "HEAD")
ALLOWED_HEADERS = frozenset({"authorization", "if-none-match", "accept", "accept-language", "content-language"})
EXPOSED_HEADERS = "ETag, Content-Encoding"
MAX_AGE_S = 600


def parse_origins(text: str) -> frozenset[str]:
    """The comma-separated origins of the setting, without spaces or trailing slashes."""
    return frozenset(o.strip().rstrip("/") for o in text.split(",") if o.strip())


def is_read_path(path: str) -> bool:
    """True for the routes that answer cross-origin reads."""
    return bool(READ_PATHS.match(path))


class ReadCors:
    """ASGI middleware adding CORS headers for allowed origins on the read routes."""

    def __init__(self, app: ASGIApp, origins: str = "") -> None:
        self.app = app
        self.origins = parse_origins(origins)

    def allowed(self, origin: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for ``origin``, None when it is refused."""
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer preflights here; add the headers to allowed cross-origin replies."""
        if scope["type"] != "http" or not is_read_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(headers, origin, send)
            return
        allow = self.allowed(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if allow is not None:
                    out["Access-Control-Allow-Origin"] = allow
                    out["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, headers: Headers, origin: str, send: Send) -> None:
        allow = self.allowed(origin)
        method = headers["access-control-request-method"].upper()
        asked = {h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()}
        refused = ("origin not allowed" if allow is None else
                   "method not allowed" if method not in METHODS else
                   "header not allowed" if not asked <= ALLOWED_HEADERS else None)
        if refused:
            body = json.dumps({"detail": f"cross-origin request refused: {refused}", "code": "cors_refused"}).encode()
            reply = [(b"content-type", b"application/json"), (b"vary", b"Origin")]
            await _answer(send, 403, reply, body)
            return
        reply = [
            (b"access-control-allow-origin", (allow or "").encode("latin-1")),
            (b"access-control-allow-methods", ", ".join(METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(sorted(ALLOWED_HEADERS)).encode()),
            (b"access-control-max-age", str(MAX_AGE_S).encode()),
            (b"vary", b"Origin"),
        ]
        await _answer(send, 204, reply, b"")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
