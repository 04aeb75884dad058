"""The layers wangge serves: one entry per collection, read by the features and tiles code.

Table and column names here are trusted constants; queries still pass them
through ``psycopg.sql.Identifier`` (the one quoting helper), never f-strings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """A collection: its table, geometry column and the rows it shows."""

    name: str
    title: str
    table: str
    geometry_type: str
    geom: str = "geom"
    id_column: str = "id"
    # columns never sent to clients (internal keys, secondary geometries)
    hidden: tuple[str, ...] = ()
    # a fixed filter on the table's columns, e.g. only current grid versions
    current_only: bool = False


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (
    Layer("districts", "Districts (区)", "districts", "MultiPolygon", id_column="code"),
    Layer("streets", "Streets and towns (街道/街镇)", "streets", "MultiPolygon", id_column="code"),
    Layer("communities", "Communities (社区/居村)", "communities", "MultiPolygon", id_column="code"),
    Layer("grids", "Basic grids (基础网格), current versions", "grids", "MultiPolygon",
          current_only=True),
    Layer("buildings", "Buildings with addresses", "buildings", "Polygon", hidden=("address_key",)),
    Layer("cameras", "Cameras", "cameras", "Point"),
    Layer("waterlogging_points", "Waterlogging points (易涝点) and their sensors",
          "waterlogging_points", "Point"),
    Layer("sensors", "Sensors (水位计 and others) and their alarm thresholds", "sensors", "Point"),
    Layer("stall_zones", "Street-stall zones (摊群点)", "stall_zones", "MultiPolygon"),
    Layer("teams", "Enforcement teams, live positions", "teams", "Point", geom="position",
          hidden=("home",)),
    Layer("incidents", "Cases (事件)", "incidents", "Point",
          hidden=("idempotency_key", "reporter", "attributes", "media_url")),
)}
