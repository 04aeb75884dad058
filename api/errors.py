"""One table from domain errors to HTTP statuses, and the handlers that use it.

Clients get a JSON body ``{"detail": <public message>, "code": <kind>}``
(plus ``errors``, one entry per bad field, on 422s from validation), from
every layer: domain errors, parameter validation, the framework's own body
parser and routing (404, 405), the body size limit (413) and the database
driver. Internal causes (driver messages, tracebacks) are logged, never sent.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import cast

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.auth import Unauthenticated
from geo.crs import CrsError
from layers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    StoreError,
    WanggeError,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[WanggeError], int] = {
    Unauthenticated: 401,
    InvalidInput: 422,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    StoreError: 503,
}


def status_of(error: WanggeError) -> int:
    """Return the HTTP status for ``error``, from the nearest class in :data:`STATUS_OF`."""
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def error_body(detail: str, code: str, **extra: object) -> dict[str, object]:
    """The one shape of every error response."""
    return {"detail": detail, "code": code, **extra}


def _kind(error: Exception) -> str:
    name = type(error).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _field(loc: tuple[int | str, ...]) -> str:
    # drop the 'query'/'body' prefix: clients know where they put it
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("query", "body", "path", "header") else [
        str(p) for p in loc]
    return ".".join(parts) or "request"


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a :class:`WanggeError` with its status and public message."""
    exc = cast(WanggeError, exc)  # registered for WanggeError only
    extra = {k: v for k, v in exc.details.items() if not k.startswith("_")}
    headers = {"WWW-Authenticate": "Bearer"} if extra.pop("authenticate", False) else None
    status = status_of(exc)
    return JSONResponse(error_body(exc.public, _kind(exc), **extra), status_code=status, headers=headers)


async def crs_error(request: Request, exc: Exception) -> JSONResponse:
    """A coordinate the client sent cannot be used: 422 with the reason."""
    return JSONResponse(error_body(str(exc), "invalid_coordinates"), status_code=422)


def _message(error: dict) -> str:
    # pydantic prefixes a validator's own words; and a length checked after a
    # validator (our text types) is counted in "items"
    text = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return text.replace(" items after validation", " characters") if error.get("type") in (
        "too_long", "too_short") else text


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 listing each bad field and why, without echoing the input back."""
    exc = cast(RequestValidationError, exc)  # registered for it only
    errors = [{"field": _field(tuple(e.get("loc", ()))), "message": _message(e)} for e in exc.errors()]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return JSONResponse(error_body(summary, "invalid_request", errors=errors), status_code=422)


# the framework's own refusals, named like the domain errors
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "body_too_large",
              415: "unsupported_media_type"}


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """The framework's refusals (no such route, wrong method, unreadable body) in the one error shape."""
    exc = cast(HTTPException, exc)  # registered for it only
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's body parser gave up (not UTF-8, nested too deep for the
        # decoder): bad input like malformed JSON, so the same 422
        log.info("unreadable body on %s: %r", request.url.path, exc.__cause__)
        return JSONResponse(error_body("the request body is not readable JSON (UTF-8, nested at most "
                                       "a few hundred levels)", "invalid_body"), status_code=422)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    code = HTTP_CODES.get(status, phrase.lower().replace(" ", "_").replace("-", "_"))
    return JSONResponse(error_body(detail, code), status_code=status, headers=exc.headers)


async def driver_data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL in text) that no type caught: 422, never a 500."""
    log.info("data refused by the driver on %s: %s", request.url.path, exc)
    return JSONResponse(error_body("the request holds a value that cannot be stored (e.g. a NUL character)",
                                   "invalid_input"), status_code=422)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: log it with its traceback, tell the client only that it happened."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal error", "internal_error"), status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(WanggeError, domain_error)
    app.add_exception_handler(CrsError, crs_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(psycopg.DataError, driver_data_error)
    # text the driver cannot encode (a lone surrogate from a hand-parsed body)
    app.add_exception_handler(UnicodeEncodeError, driver_data_error)
    app.add_exception_handler(Exception, unexpected_error)
