"""OGC API - Features style read access to every layer, as RFC 7946 GeoJSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from api.deps import ConnDep
from api.params import BBoxQuery, Limit, Offset
from layers.errors import NotFound
from layers.features import layer_extent, read_page
from layers.registry import LAYERS, Layer

router = APIRouter(tags=["features"])
GEOJSON = "application/geo+json"


async def layer_by_name(collection: Annotated[str, Path(max_length=64)]) -> Layer:
    """The layer named in the path, or 404."""
    layer = LAYERS.get(collection)
    if layer is None:
        raise NotFound(f"no collection '{collection}'; see /collections")
    return layer


LayerDep = Annotated[Layer, Depends(layer_by_name)]


def _describe(request: Request, layer: Layer, extent: Any = None) -> dict[str, Any]:
    items = str(request.url_for("items", collection=layer.name))
    description: dict[str, Any] = {
        "id": layer.name, "title": layer.title, "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "geometryType": layer.geometry_type,
        "links": [{"href": items, "rel": "items", "type": GEOJSON, "title": layer.title}],
    }
    if extent is not None:
        description["extent"] = {"spatial": {"bbox": [[extent.west, extent.south, extent.east, extent.north]]}}
    return description


@router.get("/collections", summary="Every layer wangge serves")
async def collections(request: Request) -> dict[str, Any]:
    """List the collections with links to their items."""
    return {
        "collections": [_describe(request, layer) for layer in LAYERS.values()],
        "links": [{"href": str(request.url), "rel": "self", "type": "application/json"}],
    }


@router.get("/collections/{collection}", summary="One layer and its extent")
async def collection(request: Request, layer: LayerDep, conn: ConnDep) -> dict[str, Any]:
    """Describe one collection, with its spatial extent."""
    return _describe(request, layer, await layer_extent(conn, layer))


@router.get("/collections/{collection}/items", name="items", summary="Features of a layer",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def items(request: Request, layer: LayerDep, conn: ConnDep, bbox: BBoxQuery,
                limit: Limit = 100, offset: Offset = 0) -> Response:
    """Features meeting ``bbox``, ``limit`` at a time, with a ``next`` link while more follow."""
    page = await read_page(conn, layer, bbox, limit, offset)
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if page.more:
        following = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"href": str(following), "rel": "next", "type": GEOJSON})
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    # the features arrive as GeoJSON text from PostGIS; only the envelope is written here
    body = (f'{{"type": "FeatureCollection", "features": [{page.features_json}], '
            f'"numberReturned": {page.returned}, "timeStamp": "{stamp}", "links": {json.dumps(links)}}}')
    return Response(body, media_type=GEOJSON)
