"""Open311 errors: the specification's list of ``{code, description}`` with its HTTP statuses.

Every other route answers errors as ``{"detail", "code"}``; Open311 clients
parse ``<errors><error><code/><description/></error></errors>`` (or the JSON
list) instead, and FixMyStreet logs exactly those two fields. The statuses
are the specification's: 404 for what does not exist, 403 for a missing or
wrong ``api_key`` (and an area that does not cover the place), 400 for any
other bad request; a clash with the current state stays 409 and a store
failure 503, since neither is the client's fault to fix by changing the
request. ``code`` in the body repeats the HTTP status, as the
specification's examples do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.auth import Unauthenticated
from api.open311_xml import Format, reply
from geo.crs import CrsError
from layers.errors import Conflict, Forbidden, InvalidInput, NotFound, StoreError, WanggeError

log = logging.getLogger(__name__)
STATUS = ((Unauthenticated, 403), (Forbidden, 403), (NotFound, 404), (Conflict, 409), (StoreError, 503),
          (InvalidInput, 400))


def reply_format(request: Request) -> Format:
    """The format the client asked for by the path's suffix; JSON unless it ends in ``.xml``."""
    return Format.xml if request.url.path.endswith(".xml") else Format.json


def errors_reply(request: Request, status: int, description: str) -> Response:
    """One Open311 error in the format the path asks for."""
    return reply(reply_format(request), "errors", [{"code": status, "description": description}],
                 status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    problems = exc.errors()
    if any(tuple(p.get("loc", ()))[-1:] == ("fmt",) for p in problems):
        return 404, "no such format: use .xml or .json"
    names = "; ".join(f"{'.'.join(str(p) for p in tuple(e.get('loc', ()))[1:]) or 'request'}: {e.get('msg')}"
                      for e in problems)
    return 400, names or "invalid request"


def as_open311(exc: Exception) -> tuple[int, str] | None:
    """The status and description for ``exc``, or None for an error that is a bug (left to the 500 handler)."""
    if isinstance(exc, WanggeError):
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
        return status, exc.public
    if isinstance(exc, RequestValidationError):
        return _validation_message(exc)
    if isinstance(exc, CrsError):
        return 400, str(exc)
    if isinstance(exc, psycopg.DataError):  # a value the database cannot hold, which no check caught
        log.info("open311 value refused by the driver: %s", exc)
        return 400, "the request holds a value that cannot be stored"
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    return None


class Open311Route(APIRoute):
    """A route whose errors, parameter validation included, come back as Open311's error list."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The framework's handler, with its errors answered in Open311's shape."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                found = as_open311(exc)
                if found is None:
                    raise
                return errors_reply(request, *found)

        return answer


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for Open311 errors: the JSON list, or the XML document."""
    schema = {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
        "code": {"type": "integer"}, "description": {"type": "string"}}}}
    return {status: {"description": "Open311 errors: a list of {code, description}",
                     "content": {"application/json": {"schema": schema}, "text/xml": {"schema": {"type": "string"}}}}
            for status in statuses}
