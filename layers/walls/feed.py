"""The open cases a map wall polls, by what its screen can show: child-area counts, clusters or points.

Sending every open case every 15 seconds costs what the years have left
open (44,000 cases, 6.7 MB at 1.1 million filed). So the answer depends on
the view:

* ``points``: at most :data:`POINTS_MAX` open cases in view: each case, as
  before, with a ``version``; a client that sends it back (``since``) gets
  only what changed: cases written since (upserts, or removals when they
  ended) and cases that turned overdue since;
* ``areas``: a district's wall showing most of the district: one count per
  street (open, overdue, by status) from the counters;
* ``clusters``: anything else: open cases summed into cells of about 1/24
  of the view, from the counters' 200 m cells.

The version is ``<xmin>.<ms>``: the xmin of the snapshot the answer was
read in (every transaction older has finished, so cases written after it
carry ``changed_xid >= xmin``) and the database clock in milliseconds
(cases due between then and now turned overdue).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from psycopg import AsyncConnection, sql

from layers.errors import InvalidInput
from layers.features import BBox
from layers.live import LivePoint, points_of
from layers.loop import ENDED_SQL, OPEN_STATES
from layers.rows import all_rows, one_row
from layers.walls.aggregates import Cluster, case_clusters, open_near

POINTS_MAX = 500
"""More open cases than this in view are shown as clusters or counts."""
CHANGES_MAX = 2000
"""A delta looks at no more than this many cases written in the district since; beyond, the whole view again."""
CLUSTERS_ACROSS = 24
"""A cluster cell is about this fraction of the view's longer side."""
AREAS_SHARE = 0.5
"""A district wall whose view spans at least this share of the district's width gets per-street counts."""
_VERSION = re.compile(r"^([0-9]{1,19})\.([0-9]{1,15})$")
_AREA_COLUMNS = {6: "district_code", 9: "street_code", 12: "community_code"}


@dataclass(frozen=True)
class Version:
    """Where a client's copy stands: a snapshot xmin and the database clock (ms since the epoch)."""

    xmin: int
    ms: int

    def __str__(self) -> str:
        return f"{self.xmin}.{self.ms}"


def parse_version(text: str) -> Version:
    """Read a ``since`` value; 422 for anything not made by :class:`Version`."""
    match = _VERSION.match(text)
    if not match:
        raise InvalidInput("since must be a version from an earlier answer, e.g. 123456.1764640000000")
    return Version(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class AreaCount:
    """Open cases of one child area at its label point."""

    code: str
    name: str
    lon: float
    lat: float
    count: int
    overdue: int
    statuses: dict[str, int]


@dataclass
class CaseFeed:
    """One answer: its mode, the version to send back, and what to draw (or change)."""

    mode: str
    version: str
    complete: bool = True
    total: int = 0
    points: list[LivePoint] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    areas: list[AreaCount] = field(default_factory=list)


_CASE_COLUMNS = """i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.status, i.level,
           k.minor_name AS category, i.grid_code, i.reported_at, i.deadline,
           i.deadline < now() AS overdue"""

# the version and the rows in one statement, so in one snapshot
_FULL = """
    WITH v AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                      (extract(epoch FROM now()) * 1000)::bigint AS ms)
    SELECT v.xmin, v.ms, c.* FROM v LEFT JOIN LATERAL (
        SELECT {columns}, true AS open
        FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
        WHERE i.district_code = %(district)s AND i.{area_col} = %(area)s
          AND i.status NOT IN {ended}
          AND i.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
        ORDER BY i.id LIMIT %(limit)s) AS c ON true"""

# written since the client's snapshot, or turned overdue since; anything of the district written
# that is not (or no longer) open in this area and view is a removal: a case re-keyed to another
# street or ended leaves the client's copy (only its id is sent; unknown ids are no-ops)
_CHANGED = """
    WITH v AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                      (extract(epoch FROM now()) * 1000)::bigint AS ms),
    changed AS (
        SELECT i.id FROM incidents AS i
        WHERE i.district_code = %(district)s AND i.changed_xid >= %(xmin)s
        UNION
        SELECT i.id FROM incidents AS i
        WHERE i.district_code = %(district)s AND i.status NOT IN {ended}
          AND i.deadline >= to_timestamp(%(ms)s / 1000.0) AND i.deadline < now())
    SELECT v.xmin, v.ms, c.* FROM v LEFT JOIN LATERAL (
        SELECT {columns},
               i.status NOT IN {ended} AND i.{area_col} IS NOT DISTINCT FROM %(area)s
               AND i.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) AS open
        FROM changed JOIN incidents AS i ON i.id = changed.id
        JOIN catalogue AS k ON k.code = i.category_code
        ORDER BY i.id LIMIT %(limit)s) AS c ON true"""


def _query(template: str, area: str) -> sql.Composed:
    return sql.SQL(template).format(columns=sql.SQL(_CASE_COLUMNS), ended=sql.SQL(ENDED_SQL),
                                    area_col=sql.Identifier(_AREA_COLUMNS[len(area)]))


async def _points(conn: AsyncConnection, area: str, bbox: BBox, since: Version | None) -> CaseFeed | None:
    """The points answer (a delta when ``since`` is given); None when more than the limit changed."""
    limit = POINTS_MAX if since is None else CHANGES_MAX
    params = {"district": area[:6], "area": area, "limit": limit + 1,
              "w": bbox.west, "s": bbox.south, "e": bbox.east, "n": bbox.north}
    if since is not None:
        params |= {"xmin": since.xmin, "ms": since.ms}
    rows = await all_rows(conn, _query(_FULL if since is None else _CHANGED, area), params)
    cases = [r for r in rows if r["id"] is not None]
    kept = [{k: v for k, v in r.items() if k not in ("xmin", "ms", "open")} for r in cases if r["open"]]
    if len(cases) > limit or len(kept) > POINTS_MAX:
        return None
    version = str(Version(rows[0]["xmin"], rows[0]["ms"]))
    removed = [r["id"] for r in cases if not r["open"]]
    return CaseFeed("points", version, complete=since is None, total=len(kept), points=points_of(kept),
                    removed=removed)


_EXTENT = """SELECT ST_XMin(geom) AS w, ST_YMin(geom) AS s, ST_XMax(geom) AS e, ST_YMax(geom) AS n
    FROM (SELECT geom FROM districts WHERE code = %(area)s
          UNION ALL SELECT geom FROM streets WHERE code = %(area)s
          UNION ALL SELECT geom FROM communities WHERE code = %(area)s) AS a"""


async def area_extent(conn: AsyncConnection, area: str) -> BBox | None:
    """The bounding box of a district, street or community; None when there is no such area."""
    row = await one_row(conn, _EXTENT, {"area": area})
    return BBox(row["w"], row["s"], row["e"], row["n"]) if row else None


def _clip(bbox: BBox, extent: BBox) -> BBox | None:
    w, s = max(bbox.west, extent.west), max(bbox.south, extent.south)
    e, n = min(bbox.east, extent.east), min(bbox.north, extent.north)
    return BBox(w, s, e, n) if w <= e and s <= n else None


# per child: open cases by status from the counters, overdue = open - not yet due (recent cases only)
_AREAS = """
    SELECT c.code::text AS code, c.name,
           coalesce(o.statuses, '{{}}'::jsonb) AS statuses, coalesce(f.not_due, 0) AS not_due
    FROM {children} AS c
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(s.status, s.cases) AS statuses
        FROM (SELECT w.status, sum(w.cases)::integer AS cases FROM wall_case_counts AS w
              WHERE w.area_code = c.code::text AND w.status = ANY(%(open)s)
              GROUP BY w.status HAVING sum(w.cases) > 0) AS s) AS o ON true
    LEFT JOIN (
        SELECT i.street_code AS code, count(*)::integer AS not_due FROM incidents AS i
        WHERE i.district_code = %(area)s AND i.status NOT IN {ended} AND i.deadline >= now()
        GROUP BY 1) AS f ON f.code = c.code
    WHERE c.district_code = %(area)s
    ORDER BY c.code"""

LABELS_TTL_S = 300.0
"""Streets' label points are kept this long (a point inside a detailed outline costs milliseconds)."""
_labels: dict[str, tuple[float, dict[str, tuple[float, float]]]] = {}


async def street_labels(conn: AsyncConnection, district: str) -> dict[str, tuple[float, float]]:
    """A point inside each street of ``district`` (ST_PointOnSurface), kept for :data:`LABELS_TTL_S`."""
    kept = _labels.get(district)
    if kept and time.monotonic() - kept[0] < LABELS_TTL_S:
        return kept[1]
    rows = await all_rows(conn, "SELECT code::text AS code, ST_X(p) AS lon, ST_Y(p) AS lat FROM "
                                "(SELECT code, ST_PointOnSurface(geom) AS p FROM streets "
                                "WHERE district_code = %(area)s) AS s", {"area": district})
    labels = {r["code"]: (r["lon"], r["lat"]) for r in rows}
    _labels[district] = (time.monotonic(), labels)
    return labels


async def street_counts(conn: AsyncConnection, district: str) -> list[AreaCount]:
    """Open and overdue cases of each street of ``district``, at a point inside the street."""
    query = sql.SQL(_AREAS).format(children=sql.Identifier("streets"), ended=sql.SQL(ENDED_SQL))
    rows = await all_rows(conn, query, {"area": district, "open": list(OPEN_STATES)})
    labels = await street_labels(conn, district)
    if any(r["code"] not in labels for r in rows):  # a street added since: read the labels again
        _labels.pop(district, None)
        labels = await street_labels(conn, district)
    counts = []
    for r in rows:
        total = sum(r["statuses"].values())
        lon, lat = labels[r["code"]]
        counts.append(AreaCount(r["code"], r["name"], lon, lat, total, total - r["not_due"],
                                dict(r["statuses"])))
    return counts


async def _version(conn: AsyncConnection) -> str:
    row = await one_row(conn, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, "
                              "(extract(epoch FROM now()) * 1000)::bigint AS ms")
    return str(Version(row["xmin"], row["ms"])) if row else "0.0"


async def clusters_in_view(conn: AsyncConnection, area: str, view: BBox, across: int = CLUSTERS_ACROSS) -> CaseFeed:
    """Open cases of ``area`` in ``view`` as clusters of about 1/``across`` of its longer side."""
    cell = max(view.east - view.west, view.north - view.south) / across
    clusters = await case_clusters(conn, area, (view.west, view.south, view.east, view.north), cell)
    return CaseFeed("clusters", await _version(conn), total=sum(c.count for c in clusters), clusters=clusters)


async def view_of(conn: AsyncConnection, area: str, bbox: BBox) -> BBox | None:
    """The part of ``bbox`` over the area's bounding box; None when they do not meet."""
    extent = await area_extent(conn, area)
    return _clip(bbox, extent) if extent else None


async def case_feed(conn: AsyncConnection, area: str, bbox: BBox, since: Version | None = None) -> CaseFeed:
    """What a wall of ``area`` looking at ``bbox`` should draw of the open cases (see the module)."""
    extent = await area_extent(conn, area)
    view = _clip(bbox, extent) if extent else None
    if view is None:
        return CaseFeed("points", await _version(conn), complete=True)
    box = (view.west, view.south, view.east, view.north)
    wide = extent and len(area) == 6 and view.east - view.west >= AREAS_SHARE * (extent.east - extent.west)
    # the area's own counter first (a few rows): a district with thousands open needs no look at its cells
    total = await open_in_area(conn, area)
    if total > POINTS_MAX and wide:
        areas = await street_counts(conn, area)
        return CaseFeed("areas", await _version(conn), total=sum(a.count for a in areas), areas=areas)
    if total <= POINTS_MAX or await open_near(conn, area, box) <= POINTS_MAX:
        feed = await _points(conn, area, view, since)
        if feed is not None:
            return feed
        if since is not None:  # too much changed for a delta: the whole view again
            feed = await _points(conn, area, view, None)
            if feed is not None:
                return feed
    if wide:
        areas = await street_counts(conn, area)
        return CaseFeed("areas", await _version(conn), total=sum(a.count for a in areas), areas=areas)
    return await clusters_in_view(conn, area, view)


_OPEN_IN_AREA = """SELECT coalesce(sum(cases), 0)::integer AS cases FROM wall_case_counts
    WHERE area_code = %(area)s AND status = ANY(%(open)s)"""


async def open_in_area(conn: AsyncConnection, area: str) -> int:
    """Open cases of ``area`` from its counters."""
    row = await one_row(conn, _OPEN_IN_AREA, {"area": area, "open": list(OPEN_STATES)})
    return int(row["cases"]) if row else 0
