"""Mapbox vector tiles from ``ST_AsMVT``, and the cache that keeps them until their layer changes.

A tile is read for a caller's area (a GB/T 30428 code prefix; for layers
without an area code, the area's outline), so the cache key carries the area.
Each feature's MVT id is its row id. Each layer's version is the ``layer_version_<table>``
sequence that a statement trigger advances (and announces) on every change;
a cached tile is served only while that version is unchanged, so a write is
visible as soon as its change notice arrives (milliseconds after the
commit), without any time-based expiry.

The tile envelope is transformed to the column's SRID (4326) for the index
filter, never the column; only the selected rows are projected to 3857.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from layers.db import translated_errors
from layers.errors import InvalidInput, NotFound
from layers.features import CASE_AREA_CODE
from layers.loop import ENDED_SQL
from layers.rows import all_rows, one_row
from layers.walls.aggregates import CELL_DEG, open_near, prefix_range

MAX_ZOOM = 22
CLUSTER_BELOW_ZOOM = 15
"""Cases tiles below this zoom hold clusters (``count``, ``cluster``), not cases."""
TILE_POINTS_MAX = 1000
"""A cases tile holding more open cases than this holds clusters, whatever its zoom."""
CLUSTERS_ACROSS = 16
"""A cluster cell is about 1/16 of the tile's width."""
EXTENT = 4096
BUFFER = 64
# a quarter pixel of a 256-pixel tile: below what anyone sees, above the
# vertex density of surveyed outlines, so low zooms carry far fewer vertices
SIMPLIFY_EXTENT_UNITS = 4
_WEB_MERCATOR_WIDTH_M = 40075016.685578488


@dataclass(frozen=True)
class TileSource:
    """A layer served as vector tiles: its table, attributes and the zooms it appears at."""

    name: str
    table: str
    # the first is the feature id (an integer column), kept as a property too
    columns: tuple[str, ...]
    # SQL text over alias ``t`` giving the code a caller's area must prefix;
    # None: the layer has no area code, and the area's outline decides
    area_code: str | None
    min_zoom: int
    polygons: bool
    geom: str = "geom"
    # a fixed filter over alias ``t`` (trusted constant, not input)
    where: str = "true"
    max_age_s: int = 0


_OPEN = f"t.status NOT IN {ENDED_SQL}"
TILE_SOURCES: dict[str, TileSource] = {
    source.name: source
    for source in (
        TileSource(
            "grids",
            "grids",
            ("id", "code", "name", "community_code", "worker_name"),
            "t.code",
            min_zoom=10,
            polygons=True,
            where="t.valid_to IS NULL",
            max_age_s=60,
        ),
        # buildings carry no area code: those meeting the caller's area outline are shown
        TileSource(
            "buildings",
            "buildings",
            ("id", "address", "households", "residents", "floors"),
            None,
            min_zoom=15,
            polygons=True,
            max_age_s=300,
        ),
        TileSource(
            "incidents",
            "incidents",
            ("id", "status", "category_code", "grid_code", "level"),
            CASE_AREA_CODE,
            min_zoom=10,
            polygons=False,
            where=_OPEN,
        ),
    )
}


# what each tile attribute holds, for TileJSON's vector_layers
FIELD_TYPES: dict[str, str] = {
    "id": "Number", "code": "String", "name": "String", "community_code": "String",
    "worker_name": "String", "address": "String", "households": "Number", "residents": "Number",
    "floors": "Number", "status": "String", "category_code": "String", "grid_code": "String",
    "level": "String", "count": "Number", "cluster": "Boolean",
}
CLUSTER_FIELDS = ("id", "count", "cluster")
"""What a cluster feature of the cases tiles carries."""


@dataclass(frozen=True)
class TileAddress:
    """A validated tile: layer, zoom and column/row in the XYZ scheme."""

    source: TileSource
    z: int
    x: int
    y: int

    @property
    def below_min_zoom(self) -> bool:
        """True when the layer is not shown at this zoom: the tile is empty by definition."""
        return self.z < self.source.min_zoom


def tile_address(layer: str, z: int, x: int, y: int) -> TileAddress:
    """Validate a tile request: 404 for an unknown layer, 422 for z/x/y out of range."""
    source = TILE_SOURCES.get(layer)
    if source is None:
        raise NotFound(f"no tile layer '{layer}'; one of {', '.join(TILE_SOURCES)}")
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"zoom must be between 0 and {MAX_ZOOM}")
    side = 1 << z
    if not (0 <= x < side and 0 <= y < side):
        raise InvalidInput(f"at zoom {z}, x and y must be between 0 and {side - 1}")
    return TileAddress(source, z, x, y)


# the outline of the caller's area, whichever level it is (each a primary-key lookup)
_AREA_OUTLINE = """(SELECT geom FROM districts WHERE code = %(area)s
    UNION ALL SELECT geom FROM streets WHERE code = %(area)s
    UNION ALL SELECT geom FROM communities WHERE code = %(area)s)"""


def _in_area(source: TileSource) -> tuple[sql.Composable, sql.Composable]:
    """A FROM item to join and a condition over alias ``t``: the row is in the caller's area.

    The area must prefix the row's code; rows without one must meet the
    area's outline, joined once (ST_Intersects: the GiST index on the row's
    geometry narrows, and PostGIS prepares the one outline for the exact tests).
    """
    if not source.area_code:
        return (sql.SQL(", {} AS a").format(sql.SQL(_AREA_OUTLINE)),
                sql.SQL("ST_Intersects(t.{}, a.geom)").format(sql.Identifier(source.geom)))
    return sql.SQL(""), sql.SQL("starts_with({}, %(area)s)").format(sql.SQL(source.area_code))


def _columns(source: TileSource) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in source.columns)


def _tile_query(source: TileSource) -> sql.Composed:
    projected = sql.SQL("ST_Transform(t.{}, 3857)").format(sql.Identifier(source.geom))
    if source.polygons:
        projected = sql.SQL("ST_Simplify({}, %(tolerance)s, true)").format(projected)
    (outline, in_area), columns = _in_area(source), _columns(source)
    feature_id = source.columns[0]
    return sql.SQL("""
        WITH box AS (
            SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS merc,
                   ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326)
                   AS geo),
        feats AS (
            SELECT ST_AsMVTGeom({projected}, box.merc, {extent}, {buffer}, true) AS mvt,
                   t.{id_column}, {columns}
            FROM {table} AS t, box {outline}
            WHERE t.{geom} && box.geo AND {where} AND {in_area})
        SELECT ST_AsMVT(feats, {layer}, {extent}, 'mvt', {id_name}) AS tile
        FROM feats WHERE mvt IS NOT NULL""").format(
        projected=projected,
        extent=sql.Literal(EXTENT),
        buffer=sql.Literal(BUFFER),
        columns=columns,
        table=sql.Identifier(source.table),
        geom=sql.Identifier(source.geom),
        where=sql.SQL(source.where),
        in_area=in_area,
        outline=outline,
        layer=sql.Literal(source.name),
        # ST_AsMVT takes the first column of this name as the MVT feature id
        # and any later one (from {columns}) as a property
        id_column=sql.Identifier(feature_id),
        id_name=sql.Literal(feature_id),
    )


_TILE_QUERIES = {name: _tile_query(source) for name, source in TILE_SOURCES.items()}


def _features_query(source: TileSource) -> sql.Composed:
    geom = sql.SQL("t.{}").format(sql.Identifier(source.geom))
    if source.polygons:
        geom = sql.SQL("ST_Simplify({}, %(tolerance)s, true)").format(geom)
    (outline, in_area), columns = _in_area(source), _columns(source)
    return sql.SQL("""
        SELECT ST_AsBinary({geom}) AS wkb, {columns}
        FROM {table} AS t {outline}
        WHERE t.{column} && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) AND {where} AND {in_area}""").format(
        geom=geom, columns=columns, table=sql.Identifier(source.table), outline=outline,
        column=sql.Identifier(source.geom), where=sql.SQL(source.where), in_area=in_area)


_FEATURE_QUERIES = {name: _features_query(source) for name, source in TILE_SOURCES.items()}


async def tile_features(conn: AsyncConnection, tile: TileAddress, area: str,
                        box: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """The layer's rows in ``area`` meeting the WGS84 ``box``, geometry as WKB (for re-projected tiles)."""
    width_deg = 360.0 / (1 << tile.z)
    w, s, e, n = box
    if tile.source.name == "incidents" and await clustered(conn, tile.z, box, area):
        rows = await all_rows(conn, "SELECT id, count, cluster, ST_AsBinary(ST_MakePoint(lon, lat)) AS wkb "
                                    f"FROM ({_CLUSTERS}) AS c", _cluster_params(tile.z, box, area))
        return rows
    params = {"w": w, "s": s, "e": e, "n": n, "area": area,
              "tolerance": width_deg / EXTENT * SIMPLIFY_EXTENT_UNITS / 2}
    return await all_rows(conn, _FEATURE_QUERIES[tile.source.name], params)


def tile_lonlat_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The WGS84 bounds (west, south, east, north) of tile z/x/y."""
    n = 1 << z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _cluster_cells(box: tuple[float, float, float, float], z: int) -> dict[str, float | int]:
    """The counter cells of the whole cluster cells meeting ``box``, and the cluster cell in counter cells."""
    k = max(1, round((360.0 / (1 << z)) / CLUSTERS_ACROSS / CELL_DEG))
    w, s, e, n = box
    cluster = k * CELL_DEG
    return {"k": k, "x0": math.floor(w / cluster) * k, "x1": math.floor(e / cluster) * k + k - 1,
            "y0": math.floor(s / cluster) * k, "y1": math.floor(n / cluster) * k + k - 1,
            "w": w, "s": s, "e": e, "n": n}


# whole cluster cells summed from the counters; a cluster belongs to the tile holding its mean point
_CLUSTERS = """
    WITH c AS (
        SELECT floor(cx::float8 / %(k)s)::bigint AS gx, floor(cy::float8 / %(k)s)::bigint AS gy,
               sum(cases)::integer AS n, sum(sum_lon) / sum(cases) AS lon, sum(sum_lat) / sum(cases) AS lat
        FROM wall_case_cells
        WHERE area_code >= %(lo)s AND area_code < %(hi)s
          AND cx BETWEEN %(x0)s AND %(x1)s AND cy BETWEEN %(y0)s AND %(y1)s
        GROUP BY 1, 2 HAVING sum(cases) > 0)
    SELECT gx * 1000000 + gy AS id, n AS count, true AS cluster, lon, lat FROM c
    WHERE lon >= %(w)s AND lon < %(e)s AND lat >= %(s)s AND lat < %(n)s"""

_CLUSTER_TILE = """
    WITH feats AS (
        SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326), 3857),
                            ST_TileEnvelope(%(z)s, %(tx)s, %(ty)s), {extent}, 0, true) AS mvt,
               c.id, c.count, c.cluster
        FROM ({clusters}) AS c)
    SELECT ST_AsMVT(feats, 'incidents', {extent}, 'mvt', 'id') AS tile FROM feats WHERE mvt IS NOT NULL"""


async def clustered(conn: AsyncConnection, z: int, box: tuple[float, float, float, float], area: str) -> bool:
    """True when a cases tile at zoom ``z`` over ``box`` is drawn as clusters."""
    return z < CLUSTER_BELOW_ZOOM or await open_near(conn, area, box) > TILE_POINTS_MAX


def _cluster_params(z: int, box: tuple[float, float, float, float], area: str) -> dict[str, object]:
    lo, hi = prefix_range(area)
    return {**_cluster_cells(box, z), "lo": lo, "hi": hi}


async def render_tile(conn: AsyncConnection, tile: TileAddress, area: str) -> bytes:
    """Return the MVT of ``tile`` limited to ``area`` (a code prefix); empty without features.

    Cases tiles at low zoom, or holding many cases, carry clusters from the
    walls' counters (``count`` cases at their mean point) instead of cases.
    """
    if tile.source.name == "incidents":
        box = tile_lonlat_box(tile.z, tile.x, tile.y)
        if await clustered(conn, tile.z, box, area):
            query = sql.SQL(_CLUSTER_TILE).format(extent=sql.Literal(EXTENT), clusters=sql.SQL(_CLUSTERS))
            row = await one_row(conn, query, {**_cluster_params(tile.z, box, area),
                                              "z": tile.z, "tx": tile.x, "ty": tile.y})
            return bytes(row["tile"]) if row and row["tile"] else b""
    width_m = _WEB_MERCATOR_WIDTH_M / (1 << tile.z)
    params = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "area": area,
        "margin": BUFFER / EXTENT,
        "tolerance": width_m / EXTENT * SIMPLIFY_EXTENT_UNITS,
    }
    row = await one_row(conn, _TILE_QUERIES[tile.source.name], params)
    return bytes(row["tile"]) if row and row["tile"] else b""


async def layer_version(conn: AsyncConnection, table: str) -> int:
    """Return a layer's version: its ``layer_version_<table>`` sequence's last value."""
    row = await one_row(
        conn, sql.SQL("SELECT last_value FROM {}").format(sql.Identifier(f"layer_version_{table}"))
    )
    return int(row["last_value"]) if row else 0


@dataclass(frozen=True)
class CachedTile:
    """A rendered tile, the layer version it was rendered at, and its ETag.

    ``gzipped`` is the body compressed once when rendered (vector tiles
    shrink three- to fivefold), so cached tiles are sent compressed for free.
    """

    version: int
    body: bytes
    etag: str
    gzipped: bytes = b""

    @classmethod
    def rendered(cls, layer: str, version: int, body: bytes) -> CachedTile:
        """A freshly rendered tile with its ETag and compressed form."""
        return cls(version, body, tile_etag(layer, version, body), gzip.compress(body, 6) if body else b"")


def tile_etag(layer: str, version: int, body: bytes) -> str:
    """Return a strong ETag: the layer's version plus a digest of the bytes."""
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return f'"{layer}-{version}-{digest}"'


class TileCache:
    """An in-process LRU of tiles, bounded in bytes; an entry is valid only at its layer version.

    Stale entries are not swept: a request that finds one re-renders and
    replaces it, and the LRU pushes out the rest.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[object, ...], CachedTile] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...], version: int) -> CachedTile | None:
        """Return the tile cached under ``key`` if it was rendered at ``version``."""
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def peek(self, key: tuple[object, ...], version: int) -> CachedTile | None:
        """The tile under ``key`` if rendered at ``version``, without counting or reordering.

        For the cache-hit fast path in front of the route: a miss there is
        looked up again (and counted) by the route itself.
        """
        entry = self._entries.get(key)
        return entry if entry is not None and entry.version == version else None

    def put(self, key: tuple[object, ...], entry: CachedTile) -> None:
        """Store ``entry``, evicting the least recently used tiles beyond the byte budget."""
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._entries[key] = entry
        self._bytes += len(entry.body)
        while self._bytes > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= len(evicted.body)

    def clear(self) -> None:
        """Forget every tile (benchmarks use it to measure uncached tiles)."""
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


Renderer = Callable[[AsyncConnection, TileAddress, str], Awaitable[bytes]]


async def cached_tile(
    pool: AsyncConnectionPool, cache: TileCache, tile: TileAddress, area: str, known_version: int | None,
    render: Renderer = render_tile, display: str = "wgs84",
) -> CachedTile:
    """Return the tile from ``cache`` while its layer is unchanged, else render and cache it.

    ``known_version`` is the layer's version as the process's layer watcher
    heard it (None while it is not listening): with it, a cached tile is
    served without touching the database at all. ``render`` and ``display``
    name another way of drawing the tile (a GCJ-02 basemap's), cached apart.
    """
    source = tile.source
    key = (source.name, area, display, tile.z, tile.x, tile.y)
    if known_version is not None:
        entry = cache.get(key, known_version)
        if entry is not None:
            return entry
    async with translated_errors(), pool.connection() as conn:
        version = known_version if known_version is not None else await layer_version(conn, source.table)
        entry = cache.get(key, version)
        if entry is None:
            body = b"" if tile.below_min_zoom else await render(conn, tile, area)
            entry = CachedTile.rendered(source.name, version, body)
            cache.put(key, entry)
    return entry
