"""The OpenAPI document as the service really behaves: its error shape, statuses and tokens.

FastAPI's generated document declares its own 422 shape and nothing else
that can go wrong. Generated clients then mis-parse every wangge error and
know nothing of tokens. This module reshapes the document once, when it is
first asked for:

- one ``Error`` schema (``{"detail", "code", "errors"?}``, see ``api.errors``)
  for every error status, replacing FastAPI's ``HTTPValidationError``;
- the statuses each route can send, derived from what the route depends on
  (a token: 401 and 403; parameters: 422; a body: 413; the database: 503; a
  path parameter: 404) plus the few only the route's code knows (:data:`EXTRA`);
- the token, as three equivalent security schemes: the bearer header (a JWT,
  HS256), the ``token`` query parameter and the ``wangge_token`` cookie.

A status a route declares itself (``responses=`` on the decorator) is kept as
it is, so a route with its own error format (Open311's list) keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi import utils as openapi_utils
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.auth import COOKIE, current_principal, optional_principal

ERROR_REF = "#/components/schemas/Error"

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "type": "object",
        "description": "Every error wangge sends. ``code`` names the kind (e.g. invalid_request, forbidden, "
                       "conflict); some kinds carry more fields (e.g. ``next_candidate`` on a taken team).",
        "required": ["detail", "code"],
        "properties": {
            "detail": {"type": "string", "description": "what went wrong, safe to show a user"},
            "code": {"type": "string", "description": "the kind of error, stable for programs"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"},
                       "description": "on validation errors: each bad field and why"},
        },
        "additionalProperties": True,
    },
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
}

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "a wangge token (`wangge token create`): a JWT signed HS256 with the claims "
                              "sub, role, area, iat and exp"},
    "token_query": {"type": "apiKey", "in": "query", "name": "token",
                    "description": "the same token in the URL (map-wall links)"},
    "token_cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                     "description": "the same token in the cookie that map pages set"},
}
WITH_TOKEN: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]

MEANING = {
    400: "the request is malformed for this interface",
    401: "no valid token: missing where needed, malformed, badly signed or expired",
    403: "the token's role or area does not allow this",
    404: "no such thing (or the point lies outside the territory)",
    409: "the current state does not allow this (e.g. the team was taken)",
    412: "the version the client holds is stale (If-Match)",
    413: "the request body is larger than WANGGE_MAX_BODY_BYTES",
    422: "invalid input; `errors` lists each bad field",
    503: "the database is unavailable",
}

# statuses only the route's own code knows of, by (method, path)
EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/incidents"): (409,),
    ("POST", "/incidents/{incident_id}/{action}"): (409,),
    ("POST", "/planning/communities/{code}/proposals"): (404,),
    ("POST", "/planning/proposals/{proposal_id}/publish"): (409, 412),
    ("GET", "/locate"): (404,),
    ("GET", "/cameras/around"): (404,),  # a point outside every grid
    ("GET", "/geocode"): (404,),
    ("PUT", "/teams/{team_id}/position"): (404,),
    ("PUT", "/teams/positions"): (404,),
    ("POST", "/sta/v1.1/Observations"): (404,),
}
# routes that read the token inline rather than through a dependency (hot paths)
# the HTML pages read the token themselves (api.routers.maps.page_principal: a browser
# without one gets a sign-in page, still a 401), as does the tile route
INLINE_TOKEN = {"/tiles/{layer}/{z}/{x}/{y}.pbf": "required", "/maps": "required",
                "/maps/{level}/{code}": "required", "/maps/planner/{code}": "required"}
# routes that never touch the database
NO_STORE = {"/health"}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _token_use(route: APIRoute) -> str | None:
    """'required', 'optional' or None: whether the route reads a token."""
    calls = set(_calls(route.dependant))
    if current_principal in calls:
        return "required"
    if optional_principal in calls:
        return "optional"
    return INLINE_TOKEN.get(route.path_format)


def _has_params(dependant: Dependant) -> bool:
    return bool(dependant.query_params or dependant.path_params or dependant.header_params
                or dependant.cookie_params or dependant.body_params) or any(
        _has_params(sub) for sub in dependant.dependencies)


def statuses_of(route: APIRoute, method: str) -> set[int]:
    """The error statuses ``route`` can answer ``method`` with."""
    found: set[int] = set(EXTRA.get((method, route.path_format), ()))
    token = _token_use(route)
    if token is not None:
        found.add(401)
    if token == "required":
        found.add(403)
    if _has_params(route.dependant):
        found.add(422)
    if route.dependant.path_params or "{" in route.path_format:
        found.add(404)
    if route.body_field is not None or method in ("POST", "PUT", "PATCH"):
        found.add(413)
    if route.path_format not in NO_STORE:
        found.add(503)
    return found


def _error_response(status: int) -> dict[str, Any]:
    return {"description": MEANING.get(status, "error"),
            "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def _uses_default_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _schema_of(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema


def _shape_operation(route: APIRoute, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    own = {int(code) for code in route.responses if str(code).isdigit()}
    declared_errors = {str(code) for code in own if code >= 400}
    # a route declaring errors with a schema of its own (Open311's list) answers
    # them itself: only the body limit, a middleware in front of every route, is added
    foreign = any(_schema_of(responses.get(code, {})) not in ({}, {"$ref": ERROR_REF}) for code in declared_errors)
    for code in declared_errors:  # declared with a description only: the usual body
        if not foreign and not _schema_of(responses.get(code, {})):
            responses[code] = {**_error_response(int(code)), "description": responses[code]["description"]}
    wanted = statuses_of(route, method)
    # a route that declares 400 and not 422 answers bad parameters with 400 (OGC API, Open311)
    if foreign or (400 in own and 422 not in own):
        if 422 not in own:
            responses.pop("422", None)
        wanted = {413} & wanted if foreign else (wanted - {422}) | ({400} if 422 in wanted else set())
    elif "422" in responses and _uses_default_422(responses["422"]):
        responses["422"] = _error_response(422)
    for status in sorted(wanted - own):
        responses.setdefault(str(status), _error_response(status))
    token = _token_use(route)
    if token is not None:
        operation["security"] = WITH_TOKEN + ([{}] if token == "optional" else [])


def _api_routes(app: FastAPI) -> list[Any]:
    """Every API route as the document sees it.

    An APIRoute, or (FastAPI 0.165+, which keeps included routers nested) a
    context standing for one, with the same attributes.
    """
    iterate = getattr(routing, "iter_route_contexts", None)
    resolve = getattr(openapi_utils, "_get_api_route_for_openapi", None)
    if iterate is None or resolve is None:  # older FastAPI lists routes flat
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [route for context in iterate(app.routes)
            if (route := resolve(context)) is not None and hasattr(route, "dependant")]


def _shape(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(ERROR_SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _shape_operation(route, method, operation)
    return document


def install(app: FastAPI) -> None:
    """Serve the reshaped document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes, tags=app.openapi_tags, servers=app.servers)
            app.openapi_schema = _shape(app, document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
