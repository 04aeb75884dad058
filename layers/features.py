"""Read any layer as RFC 7946 GeoJSON features, limited by a bounding box and paged.

The database builds the GeoJSON text itself (``ST_AsGeoJSON``), with
exterior rings counter-clockwise as RFC 7946 asks, so a page of features is
one query and no per-feature work in Python.

Cases carry personal data (description, address, the reporter, the raw
coordinates as sent). A caller sees a case in full only with a token whose
area covers it; everyone else gets the public view: category, status, grid
and the point snapped to a 0.001° lattice (about 110 m north-south, 95 m
east-west at Hefei's latitude). The bbox filter is applied to the point as
shown, so narrowing boxes cannot find the true position either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection, sql

from layers.registry import LAYERS, Layer
from layers.rows import all_rows, one_row

GEOJSON_DECIMALS = 7  # about 1 cm at these latitudes

CASE_AREA_CODE = "coalesce(t.community_code, t.street_code, t.district_code)::text"
"""SQL over alias ``t``: the code of the smallest area a case belongs to (a token's area must prefix it)."""


@dataclass(frozen=True)
class BBox:
    """A WGS84 box: west, south, east, north in degrees."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class Guard:
    """Rows shown in full only to callers whose area prefixes ``area_code``; others see the public view."""

    area_code: str  # trusted SQL over alias ``t``
    public_columns: tuple[str, ...]
    snap_deg: float  # the lattice the public view's points are snapped to


GUARDS: dict[str, Guard] = {
    "incidents": Guard(CASE_AREA_CODE, ("category_code", "status", "grid_code"), 0.001),
}


TIME_COLUMNS: dict[str, str] = {"incidents": "reported_at", "teams": "position_at",
                                "waterlogging_points": "level_at"}
"""The instant each feature stands for, for the ``datetime`` filter; the other layers have none and ignore it."""


@dataclass(frozen=True)
class Interval:
    """A closed time interval; None at either end means unbounded."""

    start: datetime | None = None
    end: datetime | None = None


ANY_TIME = Interval()


@dataclass(frozen=True)
class FeaturePage:
    """A page of features as GeoJSON text, how many it holds and how many match in all."""

    features_json: str
    returned: int
    matched: int


# extra columns the queries add to each row; never sent as properties
_SHOWN, _FULL = "shown_geom", "full_view"


def _shown(layer: Layer) -> tuple[sql.Composable, sql.Composable]:
    """SQL over alias ``t``: whether the caller sees the row in full, and the geometry shown."""
    geom = sql.SQL("t.{}").format(sql.Identifier(layer.geom))
    guard = GUARDS.get(layer.name)
    if guard is None:
        return sql.SQL("true"), geom
    full = sql.SQL("coalesce(starts_with({}, %(area)s::text), false)").format(sql.SQL(guard.area_code))
    snapped = sql.SQL("CASE WHEN {full} THEN {geom} ELSE ST_SnapToGrid({geom}, {snap}) END").format(
        full=full, geom=geom, snap=sql.Literal(guard.snap_deg))
    return full, snapped


def _moment(layer: Layer, full: sql.Composable) -> sql.Composable | None:
    """SQL over alias ``t``: the instant the ``datetime`` filter tests, None for layers without one.

    The public view of a guarded row is tested to the hour only, so narrowing
    intervals cannot recover its exact time either.
    """
    column = TIME_COLUMNS.get(layer.name)
    if column is None:
        return None
    moment = sql.SQL("t.{}").format(sql.Identifier(column))
    if layer.name not in GUARDS:
        return moment
    return sql.SQL("CASE WHEN {full} THEN {moment} ELSE date_trunc('hour', {moment}) END").format(
        full=full, moment=moment)


def _filters(layer: Layer, full: sql.Composable, shown: sql.Composable, by: str) -> sql.Composable:
    geom = sql.Identifier(layer.geom)
    filters: list[sql.Composable] = [sql.SQL("true")]
    moment = _moment(layer, full)
    if by != "id" and moment is not None:
        filters.append(sql.SQL("(%(t0)s::timestamptz IS NULL OR {m} >= %(t0)s) "
                               "AND (%(t1)s::timestamptz IS NULL OR {m} <= %(t1)s)").format(m=moment))
    if by == "id":
        filters.append(sql.SQL("t.{} = %(fid)s").format(sql.Identifier(layer.id_column)))
    elif by == "bbox":
        envelope = sql.SQL("ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)")
        guard = GUARDS.get(layer.name)
        # the index narrows by the stored geometry; the exact test is on what is shown
        margin = sql.Literal(guard.snap_deg if guard else 0.0)
        filters.append(sql.SQL("t.{} && ST_Expand({}, {})").format(geom, envelope, margin))
        filters.append(sql.SQL("ST_Intersects({}, {})").format(shown, envelope))
    if layer.current_only:
        filters.append(sql.SQL("t.valid_to IS NULL"))
    return sql.SQL(" AND ").join(filters)


def _properties(layer: Layer) -> sql.Composable:
    hidden = sql.Literal([layer.geom, *layer.hidden, _SHOWN, _FULL])
    everything = sql.SQL("to_jsonb(p) - {}::text[]").format(hidden)
    guard = GUARDS.get(layer.name)
    if guard is None:
        return everything
    public = sql.SQL(", ").join(
        sql.SQL("{}, p.{}").format(sql.Literal(c), sql.Identifier(c)) for c in guard.public_columns)
    return sql.SQL("CASE WHEN p.{full} THEN {everything} ELSE jsonb_build_object({public}) END").format(
        full=sql.Identifier(_FULL), everything=everything, public=public)


def _items_query(layer: Layer, by: str) -> sql.Composed:
    """The page query; ``by`` is ``bbox``, ``id`` (one feature) or ``all`` (no spatial test at all)."""
    full, shown = _shown(layer)
    where = _filters(layer, full, shown, by)
    return sql.SQL("""
        WITH page AS (
            SELECT t.*, {full} AS {full_name}, {shown} AS {shown_name} FROM {table} AS t
            WHERE {where}
            ORDER BY t.{id} LIMIT %(limit)s OFFSET %(offset)s)
        SELECT coalesce(string_agg(json_build_object(
                   'type', 'Feature',
                   'id', p.{id},
                   'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(p.{shown_name}), {decimals})::json,
                   'properties', {properties})::text, ',' ORDER BY p.{id}), '') AS features,
               count(*) AS returned,
               (SELECT count(*) FROM {table} AS t WHERE {where}) AS matched
        FROM page AS p""").format(
        full=full, shown=shown, full_name=sql.Identifier(_FULL), shown_name=sql.Identifier(_SHOWN),
        table=sql.Identifier(layer.table), where=where, id=sql.Identifier(layer.id_column),
        decimals=sql.Literal(GEOJSON_DECIMALS), properties=_properties(layer),
    )


_ITEMS_QUERIES = {(name, by): _items_query(layer, by) for name, layer in LAYERS.items()
                  for by in ("bbox", "id", "all")}


async def read_page(conn: AsyncConnection, layer: Layer, bbox: BBox, limit: int, offset: int,
                    area: str | None = None, when: Interval = ANY_TIME) -> FeaturePage:
    """Return up to ``limit`` features of ``layer`` meeting ``bbox`` and ``when``, skipping ``offset``.

    ``area`` is the caller's area (None without a token): it decides which
    guarded rows are shown in full. ``when`` applies to layers in
    :data:`TIME_COLUMNS` only.
    """
    params = {"w": bbox.west, "s": bbox.south, "e": bbox.east, "n": bbox.north,
              "limit": limit, "offset": offset, "area": area, "t0": when.start, "t1": when.end}
    whole_world = bbox.west <= -180 and bbox.south <= -90 and bbox.east >= 180 and bbox.north >= 90
    row = await one_row(conn, _ITEMS_QUERIES[layer.name, "all" if whole_world else "bbox"], params)
    if row is None:  # an aggregate always answers one row; this keeps the type checker honest
        return FeaturePage("", 0, 0)
    return FeaturePage(row["features"], row["returned"], row["matched"])


def feature_key(layer: Layer, feature_id: str) -> str | int | None:
    """The id column's value for ``feature_id`` as sent in a URL; None when it cannot name a row."""
    # every id is digits (codes too); anything else, or beyond bigint, names no feature
    if not (feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 18):
        return None
    return feature_id if layer.id_column == "code" else int(feature_id)


async def read_feature(conn: AsyncConnection, layer: Layer, feature_id: str, area: str | None = None) -> str | None:
    """Return one feature of ``layer`` as GeoJSON text, None when there is no such feature."""
    key = feature_key(layer, feature_id)
    if key is None:
        return None
    row = await one_row(conn, _ITEMS_QUERIES[layer.name, "id"],
                        {"fid": key, "limit": 1, "offset": 0, "area": area})
    return row["features"] if row and row["features"] else None


async def layer_extent(conn: AsyncConnection, layer: Layer) -> BBox | None:
    """Return the bounding box of the layer's rows, or None when it is empty."""
    row = await one_row(conn, sql.SQL(
        "SELECT ST_XMin(e) w, ST_YMin(e) s, ST_XMax(e) e, ST_YMax(e) n "
        "FROM (SELECT ST_Extent({geom}) e FROM {table}) x").format(
        geom=sql.Identifier(layer.geom), table=sql.Identifier(layer.table)))
    if not row or row["w"] is None:
        return None
    return BBox(row["w"], row["s"], row["e"], row["n"])


# JSON Schema of a PostgreSQL column type (information_schema's udt_name)
_JSON_TYPES: dict[str, dict[str, str]] = {
    "int2": {"type": "integer"}, "int4": {"type": "integer"}, "int8": {"type": "integer"},
    "float4": {"type": "number"}, "float8": {"type": "number"}, "numeric": {"type": "number"},
    "bool": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
    "timestamptz": {"type": "string", "format": "date-time"}, "timestamp": {"type": "string", "format": "date-time"},
    "json": {"type": "object"}, "jsonb": {"type": "object"},
}


async def property_types(conn: AsyncConnection, layer: Layer) -> dict[str, dict[str, str]]:
    """The JSON Schema type of each property the layer's features can carry, in column order.

    Clients that need a fixed schema (GDAL's OGC API driver) read it instead
    of guessing from the first page: a column of real numbers whose first
    values happen to be whole would otherwise be taken for integers.
    """
    rows = await all_rows(conn, """
        SELECT column_name, udt_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = %(table)s
        ORDER BY ordinal_position""", {"table": layer.table})
    hidden = {layer.geom, *layer.hidden}
    return {r["column_name"]: _JSON_TYPES.get(r["udt_name"], {"type": "string"})
            for r in rows if r["column_name"] not in hidden and r["udt_name"] != "geometry"}
