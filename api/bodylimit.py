"""The request body size limit, answered in the service's JSON error shape.

FastAPI's own ``max_body_size`` answers 413 in plain text when the route
never reads the body, so the limit lives here, as the outermost user
middleware: a declared ``Content-Length`` over the limit is refused before
anything is read; a chunked body is counted as it arrives and stops the
request at the first byte over (the 413 then comes from the error handlers).
The field routes that carry photos (``/field/...`` posts, multipart) have a
larger limit of their own; every other route keeps the small one.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.responses import json_response


class BodyTooLarge(HTTPException):
    """More bytes arrived than the limit allows (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` with a JSON 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, photo_bytes: int | None = None,
                 photo_prefix: str = "/field/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.photo_bytes = photo_bytes or max_bytes
        self.photo_prefix = photo_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a declared oversize body at once; count an undeclared one as it arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.photo_bytes if scope["path"].startswith(self.photo_prefix) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            error = BodyTooLarge(limit)
            response = json_response(error_body(error.detail, "body_too_large"), status_code=413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
