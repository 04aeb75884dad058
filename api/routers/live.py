"""What map walls poll: bbox-limited GeoJSON of an area's live layers, 304 when unchanged.

Open cases come by level (:mod:`layers.walls.feed`): child-area counts,
clusters, or points with deltas (``?since=``); no answer exceeds
:data:`BYTES_MAX`.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
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
from layers.live import PointsInView
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
    # the same view of an unchanged layer is the same answer for every wall: kept by ETag
    shared: bool = False


class AnswerCache:
    """Rendered answers by ETag (layer versions, area, view, clock tick), least recently used out first."""

    def __init__(self, max_chars: int = 16_000_000) -> None:
        self.max_chars = max_chars
        self._answers: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def get(self, etag: str) -> str | None:
        """The answer rendered under ``etag``, if still kept."""
        body = self._answers.get(etag)
        if body is not None:
            self._answers.move_to_end(etag)
        return body

    def put(self, etag: str, body: str) -> None:
        """Keep ``body`` under ``etag``, pushing out the least recently used beyond the budget."""
        if etag not in self._answers:
            self._answers[etag] = body
            self._chars += len(body)
        while self._chars > self.max_chars and self._answers:
            self._chars -= len(self._answers.popitem(last=False)[1])


ANSWERS = AnswerCache()


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


def points_in_view_json(view: PointsInView, shown: str) -> str:
    """A point layer as GeoJSON: each point, or when crowded, counts per cell (``mode: clusters``)."""
    if view.clusters:
        return case_feed_json(CaseFeed("clusters", "", total=view.total, clusters=view.clusters), shown).decode()
    return display.points_geojson(view.points, shown)


async def _teams(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return points_in_view_json(await live.teams(conn, area, bbox), shown)


async def _water(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return points_in_view_json(await live.waterlogging(conn, area, bbox), shown)


async def _cameras(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return points_in_view_json(await live.cameras(conn, area, bbox), shown)


async def _stalls(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.shapes_geojson(await live.stall_zones(conn, area, bbox), shown)


async def _heat(conn: AsyncConnection, area: str, bbox: BBox, shown: str) -> str:
    return display.heat_json(await live.case_heat(conn, area), shown)


LIVE_LAYERS: dict[str, LiveLayer] = {
    "cases": LiveLayer(("incidents",), _cases, clock_s=60),
    "teams": LiveLayer(("teams",), _teams, shared=True),
    # a sensor's alarm may rise on the rules' timer, with no new level: the clock catches it
    "waterlogging": LiveLayer(("waterlogging_points",), _water, clock_s=15, shared=True),
    "cameras": LiveLayer(("cameras",), _cameras, shared=True),
    "stall_zones": LiveLayer(("stall_zones",), _stalls, shared=True),
    # the week's heat, recomputed once a minute for every wall (not on each new case): its cost
    # follows the week's cases, so walls share one reading
    "heat": LiveLayer((), _heat, clock_s=60, shared=True),
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
    body = ANSWERS.get(etag) if spec.shared else None
    if body is None:
        body = await spec.render(conn, area, bbox, display_crs)
        if spec.shared:
            ANSWERS.put(etag, body)
    return Response(
        body, media_type=GEOJSON if layer != "heat" else "application/json", headers=headers
    )
