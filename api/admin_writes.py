"""Admin writes: features sent as GeoJSON, checked like an import, inside the token's area, all or nothing.

A city's IT department syncs teams, cameras, waterlogging points, stall
zones and buildings from its own systems with these calls instead of SQL.
Each call is one transaction on its own (synchronous) connection, run by
the router in a worker thread: the token's area is checked first (403),
then the import's own checks (:func:`layers.io.service.import_table`, 422
with every problem), then the upsert by code; a refusal writes nothing.

The area rule: every feature sent, and every stored row it would change,
lies in the token's area: a point covered by the area's polygon, a polygon
covered by it give or take the planning snapping tolerance (shapes that
went out rounded to 7 decimals come back a few millimetres off); a team's
``area_code`` starts with the token's area. Retiring follows the same rule
on the stored row. Teams are retired (status ``retired``: they keep their
cases and are never chosen again); rows of the other layers are deleted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from shapely.geometry.base import BaseGeometry

from geo.crs import Crs
from geo.planning.metric import MetricFrame
from layers.actors import Actor
from layers.errors import Conflict, Forbidden, InvalidInput, NotFound, StoreError
from layers.io.geojson_body import table_from_geojson
from layers.io.problems import ImportRefused
from layers.io.read import Table
from layers.io.service import ImportResult, Rollback, WriteOptions, import_table
from layers.io.spec import LayerSpec, layer_spec
from layers.loop import OPEN_STATES

ADMIN_LAYERS = ("teams", "cameras", "waterlogging_points", "sensors", "stall_zones", "buildings")
"""Layers an admin may write over the API; the hierarchy goes through import and planning, cases through intake."""
EXAMPLES = 20

log = logging.getLogger(__name__)


class UnreadableBody(InvalidInput):
    """The body is not a FeatureCollection wangge can read (422)."""


class DataRefused(InvalidInput):
    """A check failed; ``errors`` lists every problem, as the import report does (422)."""


def admin_layer(name: str) -> LayerSpec:
    """The writable layer called ``name`` (or an alias of it); 404 for any other."""
    try:
        spec = layer_spec(name)
    except KeyError:
        spec = None
    if spec is None or spec.name not in ADMIN_LAYERS:
        raise NotFound(f"no writable layer {name[:40]!r}; admin writes take: {', '.join(ADMIN_LAYERS)}")
    return spec


def describe_layers() -> list[dict[str, Any]]:
    """What each writable layer takes: geometry and fields (type, required, default, choices)."""
    return [{"name": spec.name, "description": spec.description, "geometry": spec.geometry,
             "fields": [{"name": f.name, "type": f.kind, "required": f.required, "default": f.default,
                         "choices": list(f.choices), "minimum": f.minimum, "help": f.help} for f in spec.fields]}
            for spec in map(layer_spec, ADMIN_LAYERS)]


def one_feature(body: Any, code: str) -> dict[str, Any]:
    """A PUT body (one Feature) as a collection of one, its code the path's (422 when it names another)."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise UnreadableBody("the body must be one GeoJSON Feature ({\"type\": \"Feature\", ...})")
    properties = body.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise UnreadableBody("feature 1: \"properties\" must be an object")
    given = properties.get("code")
    if given is not None and str(given).strip() != code:
        raise UnreadableBody(f"properties.code {str(given)[:64]!r} is not the code in the path ({code!r})")
    return {"type": "FeatureCollection", "features": [{**body, "properties": {**properties, "code": code}}]}


def _area_shape(conn: psycopg.Connection, area: str) -> BaseGeometry:
    table = {6: "districts", 9: "streets", 12: "communities"}.get(len(area))
    row = conn.execute(sql.SQL("SELECT ST_AsBinary(geom) FROM {} WHERE code = %s").format(sql.Identifier(table)),
                       (area,)).fetchone() if table else None
    if row is None:
        raise Forbidden(f"your token's area {area} is not a district, street or community of this service")
    return shapely.from_wkb(row[0])


def _covered(area: BaseGeometry, geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """For each shape (None counts as covered): inside ``area``, polygons give or take ``tolerance_m``."""
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    inside = np.ones(len(geoms), dtype=bool)
    shapely.prepare(area)
    inside[present] = shapely.covers(area, geoms[present])
    near = ~inside & np.isin(shapely.get_type_id(geoms), (3, 6))
    if near.any():
        frame = MetricFrame.around(area)
        grown = frame.to_metric(area).buffer(tolerance_m)
        inside[near] = shapely.covers(grown, frame.to_metric(geoms[near]))
    return inside


def _outside(where: str, rows: np.ndarray, codes: np.ndarray) -> dict[str, Any]:
    return {"field": where, "message": "outside your token's area", "count": len(rows),
            "rows": [int(r) for r in rows[:EXAMPLES]], "codes": [str(c)[:64] for c in codes[:EXAMPLES]]}


def _stored(conn: psycopg.Connection, spec: LayerSpec, codes: list[str]) -> list[tuple[str, bytes, str]]:
    """The stored rows with these codes, locked: code, shape, area code (teams; else '')."""
    shape = "home" if spec.name == "teams" else "geom"
    area = "area_code" if spec.name == "teams" else "''"
    query = sql.SQL("SELECT code, ST_AsBinary({shape}), {area} FROM {table} WHERE code = ANY(%s) ORDER BY code "
                    "FOR UPDATE").format(shape=sql.Identifier(shape), area=sql.SQL(area),
                                         table=sql.Identifier(spec.table))
    return [(str(c).strip(), bytes(g), str(a).strip()) for c, g, a in conn.execute(query, (codes,))]


def require_area(conn: psycopg.Connection, table: Table, actor: Actor, tolerance_m: float) -> None:
    """Refuse (403, nothing written) any feature, or stored row it changes, outside the actor's area."""
    area = _area_shape(conn, actor.area)
    codes = np.asarray(table.codes, dtype=object)
    faults = []
    outside = ~_covered(area, table.geoms, tolerance_m)
    if outside.any():
        faults.append(_outside("geometry", table.rows[outside], codes[outside]))
    if table.spec.name == "teams":
        team_areas = table.columns["area_code"]
        foreign = np.array([v is not None and not actor.covers(str(v)) for v in team_areas], dtype=bool)
        if foreign.any():
            faults.append(_outside("area_code", table.rows[foreign], codes[foreign]))
    stored = _stored(conn, table.spec, sorted({str(c) for c in codes if c}))
    if stored:
        shapes = np.asarray(shapely.from_wkb([g for _c, g, _a in stored]), dtype=object)
        moved_out = ~_covered(area, shapes, tolerance_m) | np.array(
            [bool(a) and not actor.covers(a) for _c, _g, a in stored], dtype=bool)
        if moved_out.any():
            row_of = {str(c): r for c, r in zip(codes, table.rows, strict=True)}
            taken = [c for (c, _g, _a), out in zip(stored, moved_out, strict=True) if out]
            faults.append({**_outside("stored", np.array([row_of.get(c, 0) for c in taken]), np.array(taken)),
                           "message": "already stored outside your token's area"})
    if faults:
        shown = "; ".join(f"{f['count']} {f['field']} ({', '.join(f['codes'][:5])})" for f in faults)
        raise Forbidden(f"your token's area {actor.area} does not cover every feature: {shown}", errors=faults)


def write_features(url: str, spec: LayerSpec, body: Any, crs: Crs, actor: Actor, tolerance_m: float,
                   dry_run: bool = False) -> ImportResult:
    """Check and upsert a FeatureCollection in one transaction; its import result (DataRefused on errors)."""
    try:
        table = table_from_geojson(body, spec, crs)
    except ImportRefused as exc:
        raise UnreadableBody(str(exc)) from None
    try:
        with _transaction(url) as conn:
            require_area(conn, table, actor, tolerance_m)
            result = import_table(conn, table, WriteOptions(dry_run=dry_run, actor=actor.name, snap_m=tolerance_m))
            if not result.ok or dry_run:
                raise Rollback(result)
    except Rollback as stop:
        result = stop.result
    if not result.ok:
        errors = result.problems.errors
        first = errors[0].message if errors else "a check failed"
        raise DataRefused(f"{len(errors)} check(s) failed, nothing written; first: {first}",
                          errors=[_as_field_error(p) for p in result.problems.as_list()], report=result.report())
    return result


_SHAPE_CHECKS = ("geometry", "geometry_type", "z_values", "too_many_vertices", "coordinates", "invalid_geometry",
                 "repaired", "outside_district")


def _as_field_error(problem: dict[str, Any]) -> dict[str, Any]:
    """A report problem in the API's error list: ``field`` always names what is wrong (as validation errors do)."""
    named = problem["field"] or ("geometry" if problem["check"] in _SHAPE_CHECKS else "feature")
    return {**problem, "field": named}


@contextlib.contextmanager
def _transaction(url: str) -> Iterator[psycopg.Connection]:
    """One transaction on a connection of its own; driver errors become domain errors (logged, not shown)."""
    try:
        with psycopg.connect(url, application_name="wangge-admin") as conn, conn.transaction():
            yield conn
    except psycopg.errors.ForeignKeyViolation as exc:
        log.info("admin write refused by a reference: %s", exc)
        raise Conflict("other records still refer to this one") from exc
    except (psycopg.IntegrityError, psycopg.DataError) as exc:
        # a store rule the checks do not mirror: checked input should never get here
        log.warning("admin write refused by the store: %s", exc)
        raise DataRefused("the data was refused by a store rule", errors=[]) from exc
    except psycopg.OperationalError as exc:
        log.error("database unavailable: %s", exc)
        raise StoreError("the database is unavailable") from exc


# any open case, not only one in the team's hands: a case in feedback can be returned to it, and the
# loop frees (status 'free') the team of a case leaving its hands, which would undo the retirement
_OPEN_CASE = "SELECT id, status FROM incidents WHERE team_id = %s AND status = ANY(%s) ORDER BY id LIMIT 1"
_LOG = ("INSERT INTO data_imports (layer, source, actor, unchanged, retired, report) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id")


def retire(url: str, spec: LayerSpec, code: str, actor: Actor, tolerance_m: float) -> dict[str, Any]:
    """Retire a team (status ``retired``) or delete a row of another layer, inside the actor's area."""
    shape = "home" if spec.name == "teams" else "geom"
    team_cols = ", id, status, area_code" if spec.name == "teams" else ""
    query = sql.SQL("SELECT ST_AsBinary({shape}){team} FROM {table} WHERE code = %s FOR UPDATE").format(
        shape=sql.Identifier(shape), team=sql.SQL(team_cols), table=sql.Identifier(spec.table))
    with _transaction(url) as conn:
        row = conn.execute(query, (code,)).fetchone()
        if row is None:
            raise NotFound(f"no {spec.name} row has the code {code!r}")
        area = _area_shape(conn, actor.area)
        inside = bool(_covered(area, np.array([shapely.from_wkb(row[0])], dtype=object), tolerance_m)[0])
        if not inside or (spec.name == "teams" and not actor.covers(str(row[3]).strip())):
            raise Forbidden(f"{spec.name} {code} lies outside your token's area {actor.area}")
        action = "deleted"
        if spec.name == "teams":
            action = "retired"
            open_case = conn.execute(_OPEN_CASE, (row[1], list(OPEN_STATES))).fetchone()
            if open_case is not None:
                raise Conflict(f"team {code} still has case {open_case[0]} ({open_case[1]}) open: close, reject "
                               "or reassign it first", incident=open_case[0])
            changed = row[2] != "retired"
            conn.execute("UPDATE teams SET status = 'retired' WHERE id = %s", (row[1],))
        else:
            changed = True
            conn.execute(sql.SQL("DELETE FROM {} WHERE code = %s").format(sql.Identifier(spec.table)), (code,))
        answer: dict[str, Any] = {"layer": spec.name, "code": code, "action": action,
                                  "counts": {"retired": int(changed), "unchanged": int(not changed)}}
        logged = conn.execute(_LOG, (spec.name, f"DELETE /admin/layers/{spec.name}/{code}", actor.name,
                                     int(not changed), int(changed), Jsonb(answer))).fetchone()
        answer["import_id"] = int(logged[0]) if logged else None
    return answer
