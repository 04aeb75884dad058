"""The OGC API landing page ``/`` and ``/conformance``: where a client such as GDAL starts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
JSON = "application/json"


def _link(href: object, rel: str, media: str, title: str) -> dict[str, str]:
    return {"href": str(href), "rel": rel, "type": media, "title": title}


@router.get("/", summary="Landing page: links to the API document, conformance and data")
async def landing(request: Request) -> dict[str, Any]:
    """The OGC API landing page."""
    openapi_version = request.app.openapi().get("openapi", "3.0")
    return {
        "title": "wangge",
        "description": "GIS command-center service for city grid governance (网格化管理): "
                       "every layer as OGC API - Features collections and vector tiles.",
        "links": [
            _link(request.url_for("landing"), "self", JSON, "this document"),
            _link(request.url_for("openapi"), "service-desc",
                  f"application/vnd.oai.openapi+json;version={openapi_version[:3]}", "the API definition"),
            _link(request.url_for("swagger_ui_html"), "service-doc", "text/html", "the API documentation"),
            _link(request.url_for("conformance"), "conformance", JSON, "conformance classes implemented"),
            _link(request.url_for("collections"), "data", JSON, "the layers (collections)"),
        ],
    }


@router.get("/conformance", summary="The OGC API conformance classes wangge implements")
async def conformance() -> dict[str, list[str]]:
    """OGC API - Features Part 1: Core and GeoJSON."""
    return {"conformsTo": CONFORMANCE}
