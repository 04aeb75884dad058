"""What map walls poll: bbox-limited GeoJSON of an area's live layers, 304 when unchanged.

Open cases come by level (:mod:`layers.walls.feed`): child-area counts,
clusters, or points with deltas (``?since=``); no answer exceeds
:data:`BYTES_MAX`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from psycopg import AsyncConnection

from api import display
from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.params import BBoxQuery
from api.tilereply import etag_matches
from geo.chinacrs import wgs84_to_gcj02_array
from layers import live
from layers.areas import level_of
from layers.features import BBox
from layers.live import LivePoint
from layers.walls.aggregates import Cluster
from layers.walls.feed import (
    CLUSTERS_ACROSS,
    CaseFeed,
    Version,
    case_feed,
    clusters_in_view,
    parse_version,
    view_of,
)

router = APIRouter(tags=["live"])
GEOJSON = "application/geo+json"
Render = Callable[[AsyncConnection, str, BBox, str], Awaitable[str]]
BYTES_MAX = 300_000
"""No live answer is larger: a wall polls every 15 seconds, for hours."""


@dataclass(frozen=True)
class LiveLayer:
    """A pollable layer: the tables whose versions decide a 304, and how to read it.

    ``clock_s``: answers that change with time alone (a case turning overdue)
    also change their ETag every ``clock_s`` seconds.
    """

    tables: tuple[str, ...]
    render: Render
    clock_s: int = 0


def case_feed_json(feed: CaseFeed, shown: str) -> bytes:
    """The feed as a GeoJSON FeatureCollection with ``mode``, ``version``, ``complete``, ``removed``, ``total``."""
    items: list[tuple[Any, float, float, dict[str, Any]]] = []
    for p in feed.points:
        items.append((p.id, p.lon, p.lat, p.properties))
    for c in feed.clusters:
        items.append((c.key, c.lon, c.lat, {"count": c.count}))
    for a in feed.areas:
        items.append((a.code, a.lon, a.lat, {"code": a.code, "name": a.name, "count": a.count,
                                              "overdue": a.overdue, "statuses": a.statuses}))
    lons = np.fromiter((i[1] for i in items), float, len(items))
    lats = np.fromiter((i[2] for i in items), float, len(items))
    if shown == "gcj02" and items:
        lons, lats = wgs84_to_gcj02_array(lons, lats)
    features = [{"type": "Feature", "id": i[0], "properties": i[3],
                 "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]}}
                for i, x, y in zip(items, lons.tolist(), lats.tolist(), strict=True)]
    return orjson.dumps({"type": "FeatureCollection", "mode": feed.mode, "version": feed.version,
                         "complete": feed.complete, "total": feed.total, "removed": feed.removed,
                         "features": features})


async def capped_case_feed(conn: AsyncConnection, area: str, bbox: BBox, shown: str,
                           since: Version | None = None) -> bytes:
    """The case feed, never above :data:`BYTES_MAX`: coarser clusters until it fits."""
    feed = await case_feed(conn, area, bbox, since)
    body = case_feed_json(feed, shown)
    across = CLUSTERS_ACROSS
    view = await view_of(conn, area, bbox) if len(body) > BYTES_MAX else None
    while view is not None and len(body) > BYTES_MAX and across > 1:
        across //= 2
        body = case_feed_json(await clusters_in_view(conn, area, view, across), shown)
    return body


async def _cases(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return (await capped_case_feed(conn, area, bbox, shown)).decode()


def capped_points_geojson(points: list[LivePoint], shown: str, across: int = CLUSTERS_ACROSS) -> str:
    """The points as GeoJSON, or, above :data:`BYTES_MAX`, their counts per cell (``mode: clusters``).

    Cells are 1/``across`` of the points' extent; each cluster sits at the
    mean of its points and carries ``count``, as the cases feed's clusters.
    """
    body = display.points_geojson(points, shown)
    while len(body) > BYTES_MAX // 3 and across >= 1:  # characters: Chinese names are 3 bytes each
        if len(body.encode()) <= BYTES_MAX:
            break
        lons = np.fromiter((p.lon for p in points), float, len(points))
        lats = np.fromiter((p.lat for p in points), float, len(points))
        cell = max(lons.max() - lons.min(), lats.max() - lats.min(), 1e-9) / across
        keys = np.column_stack([np.floor(lons / cell), np.floor(lats / cell)]).astype(np.int64)
        cells, which = np.unique(keys, axis=0, return_inverse=True)
        which = which.ravel()
        counts = np.bincount(which)
        clusters = [Cluster(f"c{gx}_{gy}_{across}", float(x), float(y), int(n)) for (gx, gy), x, y, n in zip(
            cells.tolist(), (np.bincount(which, lons) / counts).tolist(),
            (np.bincount(which, lats) / counts).tolist(), counts.tolist(), strict=True)]
        body = case_feed_json(CaseFeed("clusters", "", total=len(points), clusters=clusters), shown).decode()
        across //= 2
    return body


async def _teams(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return capped_points_geojson(await live.teams(conn, area, bbox), shown)


async def _water(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return capped_points_geojson(await live.waterlogging(conn, area, bbox), shown)


async def _cameras(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return capped_points_geojson(await live.cameras(conn, area, bbox), shown)


async def _stalls(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.shapes_geojson(await live.stall_zones(conn, area, bbox), shown)


async def _heat(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.heat_json(await live.case_heat(conn, area), shown)


LIVE_LAYERS: dict[str, LiveLayer] = {
    "cases": LiveLayer(("incidents",), _cases, clock_s=60),
    "teams": LiveLayer(("teams",), _teams),
    # a sensor's alarm may rise on the rules' timer, with no new level: the clock catches it
    "waterlogging": LiveLayer(("waterlogging_points",), _water, clock_s=15),
    "cameras": LiveLayer(("cameras",), _cameras),
    "stall_zones": LiveLayer(("stall_zones",), _stalls),
    "heat": LiveLayer(("incidents",), _heat, clock_s=600),
}
LiveName = Literal["cases", "teams", "waterlogging", "cameras", "stall_zones", "heat"]
Display = Literal["wgs84", "gcj02"]


def live_etag(
    name: str, area: str, bbox: BBox, shown: str, versions: dict[str, int], clock_s: int
) -> str:
    """Return an ETag over layer versions, the request and the clock bucket."""
    tick = int(time.time() // clock_s) if clock_s else 0
    key = f"{name}|{area}|{bbox}|{shown}|{sorted(versions.items())}|{tick}"
    return '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'


@router.get(
    "/live/{area}/{layer}",
    summary="Live GeoJSON of an area's layer in a bbox (304 when unchanged)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}, 304: {"description": "unchanged"}},
)
async def live_layer(
    request: Request,
    area: Annotated[str, Path(max_length=12)],
    layer: LiveName,
    principal: CurrentPrincipal,
    conn: ConnDep,
    bbox: BBoxQuery,
    display_crs: Annotated[
        Display,
        Query(
            alias="display",
            description=("coordinate system to draw in: gcj02 for a GCJ-02 basemap"),
        ),
    ] = "wgs84",
    since: Annotated[str | None, Query(
        max_length=40, description="cases only: the last answer's ``version``; answers what changed since")] = None,
) -> Response:
    """Answer open cases (by level; closed drop out), teams, water levels, cameras, stalls or heat."""
    level_of(area)
    principal.require_area(area)
    after = parse_version(since) if since is not None and layer == "cases" else None
    spec = LIVE_LAYERS[layer]
    versions = await request.app.state.layers.versions(conn, spec.tables)
    etag = live_etag(layer + (f"|{after}" if after else ""), area, bbox, display_crs, versions, spec.clock_s)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Cookie, Authorization"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if layer == "cases":
        return Response(await capped_case_feed(conn, area, bbox, display_crs, after), media_type=GEOJSON,
                        headers=headers)
    body = await spec.render(conn, area, bbox, display_crs)
    return Response(
        body, media_type=GEOJSON if layer != "heat" else "application/json", headers=headers
    )
