"""Read any layer as RFC 7946 GeoJSON features, limited by a bounding box and paged.

The database builds the GeoJSON text itself (``ST_AsGeoJSON``), with
exterior rings counter-clockwise as RFC 7946 asks, so a page of features is
one query and no per-feature work in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection, sql

from layers.registry import Layer
from layers.rows import one_row

GEOJSON_DECIMALS = 7  # about 1 cm at these latitudes


@dataclass(frozen=True)
class BBox:
    """A WGS84 box: west, south, east, north in degrees."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class FeaturePage:
    """A page of features as GeoJSON text, and whether more follow."""

    features_json: str
    returned: int
    more: bool


def _items_query(layer: Layer) -> sql.Composed:
    geom = sql.Identifier(layer.geom)
    hidden = [layer.geom, *layer.hidden]
    envelope = sql.SQL("ST_Intersects(t.{}, ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326))")
    filters: list[sql.Composable] = [envelope.format(geom)]
    if layer.current_only:
        filters.append(sql.SQL("t.valid_to IS NULL"))
    # one row beyond the page is read only to learn whether another page follows
    return sql.SQL("""
        WITH page AS (
            SELECT t.* FROM {table} AS t
            WHERE {filters}
            ORDER BY t.{id} LIMIT %(limit)s + 1 OFFSET %(offset)s),
        numbered AS (SELECT page.*, row_number() OVER (ORDER BY page.{id}) AS page_row FROM page)
        SELECT coalesce(string_agg(json_build_object(
                   'type', 'Feature',
                   'id', p.{id},
                   'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(p.{geom}), {decimals})::json,
                   'properties', to_jsonb(p) - {hidden}::text[])::text, ',' ORDER BY p.{id})
                   FILTER (WHERE p.page_row <= %(limit)s), '') AS features,
               count(*) FILTER (WHERE p.page_row <= %(limit)s) AS returned,
               count(*) > %(limit)s AS more
        FROM numbered AS p""").format(
        table=sql.Identifier(layer.table), filters=sql.SQL(" AND ").join(filters),
        id=sql.Identifier(layer.id_column), geom=geom, decimals=sql.Literal(GEOJSON_DECIMALS),
        hidden=sql.Literal([*hidden, "page_row"]),
    )


async def read_page(conn: AsyncConnection, layer: Layer, bbox: BBox, limit: int, offset: int) -> FeaturePage:
    """Return up to ``limit`` features of ``layer`` meeting ``bbox``, skipping ``offset``."""
    params = {"w": bbox.west, "s": bbox.south, "e": bbox.east, "n": bbox.north,
              "limit": limit, "offset": offset}
    row = await one_row(conn, _items_query(layer), params)
    if row is None:  # an aggregate always answers one row; this keeps the type checker honest
        return FeaturePage("", 0, False)
    return FeaturePage(row["features"], row["returned"], row["more"])


async def layer_extent(conn: AsyncConnection, layer: Layer) -> BBox | None:
    """Return the bounding box of the layer's rows, or None when it is empty."""
    row = await one_row(conn, sql.SQL(
        "SELECT ST_XMin(e) w, ST_YMin(e) s, ST_XMax(e) e, ST_YMax(e) n "
        "FROM (SELECT ST_Extent({geom}) e FROM {table}) x").format(
        geom=sql.Identifier(layer.geom), table=sql.Identifier(layer.table)))
    if not row or row["w"] is None:
        return None
    return BBox(row["w"], row["s"], row["e"], row["n"])
