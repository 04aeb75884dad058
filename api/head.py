"""HEAD on every GET route: answered as GET, without the body.

FastAPI routes declare GET only, and OGC API clients (and caches) ask with
HEAD. Rewriting the method here keeps the OpenAPI document to one
operation per route; the server, which still knows the request was HEAD,
keeps the GET reply's headers (``Content-Length`` included) and sends no body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware turning HEAD into GET and dropping the body of the reply."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass anything but HEAD on unchanged."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
