"""OGC API - Features (Part 1 Core, GeoJSON) read access to every layer, as RFC 7946 GeoJSON.

The standard asks for 400 on a bad or unknown query parameter where the rest
of wangge answers 422, so these routes use :class:`OgcRoute`, which answers
the same error body with status 400. A ``limit`` above the maximum is
clamped, not refused (``/req/core/fc-limit-response-1``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from api import errors
from api.auth import Principal, optional_principal
from api.deps import ConnDep
from api.params import BBoxQuery, parse_at
from layers.errors import InvalidInput, NotFound
from layers.features import ANY_TIME, Interval, layer_extent, property_types, read_feature, read_page
from layers.registry import LAYERS, Layer
from layers.tiles import TILE_SOURCES

GEOJSON = "application/geo+json"
JSON = "application/json"
SCHEMA = "application/schema+json"
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
# the token query form is wangge's (map-wall URLs), f picks the media type
_ITEMS_PARAMS = frozenset({"bbox", "datetime", "limit", "offset", "f", "token"})
_FEATURE_PARAMS = frozenset({"f", "token"})


class OgcRoute(APIRoute):
    """A route answering bad parameters with 400 (OGC API - Features) instead of 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: the usual error body, status 400."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                response = await errors.validation_error(request, exc)
            except InvalidInput as exc:
                response = await errors.domain_error(request, exc)
            response.status_code = 400
            return response

        return answer


router = APIRouter(tags=["features"], route_class=OgcRoute)
BAD_PARAMETER: dict[int | str, dict[str, Any]] = {400: {"description": "a bad or unknown query parameter"}}


def known_parameters(allowed: frozenset[str]) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A dependency refusing query parameters the route does not define (``/req/core/query-param-unknown``)."""

    async def check(request: Request) -> None:
        # the names are not echoed back: they are the client's input
        if set(request.query_params) - allowed:
            raise InvalidInput(f"unknown query parameter; this route takes {', '.join(sorted(allowed))}")

    return check


async def layer_by_name(collection: Annotated[str, Path(max_length=64)]) -> Layer:
    """The layer named in the path, or 404."""
    layer = LAYERS.get(collection)
    if layer is None:
        raise NotFound(f"no collection '{collection}'; see /collections")
    return layer


LayerDep = Annotated[Layer, Depends(layer_by_name)]
Limit = Annotated[int, Query(ge=1, description=f"features per page; above {MAX_LIMIT} counts as {MAX_LIMIT}",
                             json_schema_extra={"maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="features to skip")]
Format = Annotated[Literal["geojson", "json"], Query(
    description="geojson (application/geo+json, the default) or json (the same body as application/json)")]


def parse_interval(text: str) -> Interval:
    """OGC ``datetime``: an instant, a date (that whole day) or ``start/end`` with ``..`` or nothing for open.

    A date or a time without an offset is read in China time, as ``at=`` is elsewhere.
    """
    if "/" not in text:
        instant = parse_at(text)
        return Interval(instant, instant + timedelta(days=1, microseconds=-1) if len(text) == 10 else instant)
    first, _, last = text.partition("/")
    start = parse_at(first) if first not in ("", "..") else None
    end = parse_at(last) if last not in ("", "..") else None
    if end is not None and len(last) == 10:
        end += timedelta(days=1, microseconds=-1)
    if start is not None and end is not None and start > end:
        raise InvalidInput("datetime: the interval ends before it starts")
    return Interval(start, end)


async def datetime_query(datetime: Annotated[str | None, Query(
        max_length=100, description="an instant, a date, or start/end (.. for open); filters cases by report "
                                    "time, teams by position time, waterlogging points by reading time")] = None,
) -> Interval:
    """The ``datetime`` query parameter, any time when absent."""
    return parse_interval(datetime) if datetime is not None else ANY_TIME


def _link(href: object, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": str(href), "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _describe(request: Request, layer: Layer, extent: Any = None) -> dict[str, Any]:
    items = request.url_for("items", collection=layer.name)
    links = [
        _link(request.url_for("collection", collection=layer.name), "self", JSON, layer.title),
        _link(items, "items", GEOJSON, layer.title),
    ]
    if layer.name in TILE_SOURCES:
        links.append(_link(request.url_for("tilejson", layer=layer.name), "describedby", JSON,
                           f"{layer.title}: TileJSON of its vector tiles"))
    # OGC API - Features Part 5's schema link, and a describedby that GDAL follows for the field types
    # (the last describedby: GDAL keeps the last one it meets)
    schema_url = request.url_for("schema", collection=layer.name)
    links += [_link(schema_url, "http://www.opengis.net/def/rel/ogc/1.0/schema", SCHEMA),
              _link(schema_url, "describedby", SCHEMA, f"{layer.title}: JSON Schema of its features' properties")]
    description: dict[str, Any] = {
        "id": layer.name, "title": layer.title, "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "geometryType": layer.geometry_type,
        "links": links,
    }
    if extent is not None:
        description["extent"] = {"spatial": {
            "bbox": [[extent.west, extent.south, extent.east, extent.north]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    return description


def _alternates(request: Request, media: str) -> list[dict[str, str]]:
    """``self`` in the media type sent and ``alternate`` in the other one."""
    other = JSON if media == GEOJSON else GEOJSON
    return [_link(request.url, "self", media),
            _link(request.url.include_query_params(f="json" if other == JSON else "geojson"), "alternate", other)]


# the caller, if a token came along: it decides which cases are shown in full
Caller = Annotated[Principal | None, Depends(optional_principal)]


@router.get("/collections", summary="Every layer wangge serves", responses=BAD_PARAMETER)
async def collections(request: Request) -> dict[str, Any]:
    """List the collections with links to their items."""
    return {
        "collections": [_describe(request, layer) for layer in LAYERS.values()],
        "links": [_link(request.url, "self", JSON)],
    }


@router.get("/collections/{collection}", name="collection", summary="One layer and its extent",
            responses=BAD_PARAMETER)
async def collection(request: Request, layer: LayerDep, conn: ConnDep) -> dict[str, Any]:
    """Describe one collection, with its spatial extent."""
    return _describe(request, layer, await layer_extent(conn, layer))


@router.get("/collections/{collection}/schema", name="schema", summary="The properties of a layer's features",
            response_class=Response, responses={200: {"content": {SCHEMA: {}}}, **BAD_PARAMETER})
async def schema(request: Request, layer: LayerDep, conn: ConnDep) -> Response:
    """JSON Schema of the layer's GeoJSON features, each property with its type.

    Which properties are filled depends on the caller (cases show less to
    anonymous callers), so none is required.
    """
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": str(request.url),
            "title": layer.title, "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": {"type": "object", "description": f"a GeoJSON {layer.geometry_type}"},
                "properties": {"type": "object", "properties": await property_types(conn, layer)}}}
    return Response(json.dumps(body, ensure_ascii=False), media_type=SCHEMA)


@router.get("/collections/{collection}/items", name="items", summary="Features of a layer",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}, **BAD_PARAMETER},
            dependencies=[Depends(known_parameters(_ITEMS_PARAMS))])
async def items(request: Request, layer: LayerDep, conn: ConnDep, bbox: BBoxQuery, caller: Caller,
                when: Annotated[Interval, Depends(datetime_query)],
                limit: Limit = DEFAULT_LIMIT, offset: Offset = 0, f: Format = "geojson") -> Response:
    """Features meeting ``bbox``, ``limit`` at a time, with ``numberMatched`` and a ``next`` link while more follow.

    Cases (incidents) are shown in full only to a token whose area covers
    them; anyone else sees category, status, grid and a point rounded to
    about 100 m.
    """
    limit = min(limit, MAX_LIMIT)
    page = await read_page(conn, layer, bbox, limit, offset, caller.area if caller else None, when)
    media = GEOJSON if f == "geojson" else JSON
    links = [*_alternates(request, media),
             _link(request.url_for("collection", collection=layer.name), "collection", JSON)]
    if offset + page.returned < page.matched:
        following = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(_link(following, "next", media))
    if offset > 0:
        previous = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append(_link(previous, "prev", media))
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    # the features arrive as GeoJSON text from PostGIS; only the envelope is written here
    body = (f'{{"type": "FeatureCollection", "features": [{page.features_json}], '
            f'"numberMatched": {page.matched}, "numberReturned": {page.returned}, '
            f'"timeStamp": "{stamp}", "links": {json.dumps(links)}}}')
    return Response(body, media_type=media, headers={"Vary": "Authorization, Cookie"})


@router.get("/collections/{collection}/items/{feature_id}", name="feature", summary="One feature of a layer",
            response_class=Response,
            responses={200: {"content": {GEOJSON: {}}}, 404: {"description": "no such feature"},
                       **BAD_PARAMETER},
            dependencies=[Depends(known_parameters(_FEATURE_PARAMS))])
async def feature(request: Request, layer: LayerDep, conn: ConnDep, caller: Caller,
                  feature_id: Annotated[str, Path(max_length=64)], f: Format = "geojson") -> Response:
    """One feature by its id (a code for districts, streets and communities); 404 when there is none."""
    text = await read_feature(conn, layer, feature_id, caller.area if caller else None)
    if text is None:
        raise NotFound(f"no feature '{feature_id}' in collection '{layer.name}'")
    media = GEOJSON if f == "geojson" else JSON
    links = [*_alternates(request, media),
             _link(request.url_for("collection", collection=layer.name), "collection", JSON)]
    # splice the links into the feature PostGIS wrote, after its opening brace
    body = f'{{"links": {json.dumps(links)}, {text[1:]}'
    return Response(body, media_type=media, headers={"Vary": "Authorization, Cookie"})
