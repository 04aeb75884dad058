"""Write a checked layer in one transaction: upsert by code, grids versioned like a planning publish.

Flat layers go through a temporary stage table filled by COPY and one
``INSERT ... ON CONFLICT (code) DO UPDATE ... WHERE the row differs``, so
importing the same file twice changes nothing (not even a layer version).
A row differs when an attribute does or its shape moved by more than the
snapping tolerance (``snap_m``, the planning check's): features read back
from the API at 7 decimals and sent again are unchanged. Teams keep their
live position and status when updated.

Grids are versioned as a planning publish does, with its SQL units and its
test of sameness (:func:`layers.planning.same_grid`): a grid that is not
the stored one within the tolerance, vertex for vertex, is retired (``valid_to``) and a new version starts at
the import's instant; open cases of retired grids are re-keyed to the new
grid covering them, with a ``regrid`` event; the community's grids version
advances, so planning proposals made before are stale (412). A grid with a
new code starts at ``valid_from`` (default the epoch: "since before
history") when its community had no grids yet, else at the import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb

from layers.io.read import Table
from layers.load import copy_rows, ewkb_hex
from layers.planning import METRES_PER_DEGREE, REKEY_OPEN_CASES, RETIRE_GRIDS, same_grid

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass
class Counts:
    """What a write changed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    rekeyed_cases: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return dict(self.__dict__)


def storage_geoms(table: Table) -> list[str]:
    """The table's WGS84 shapes as the store keeps them (MultiPolygon or Polygon), hex EWKB."""
    geoms = np.asarray(table.geoms, dtype=object)
    if table.spec.geometry == "polygon":
        if table.spec.single_polygon:
            multi = shapely.get_type_id(geoms) == 6
            geoms = geoms.copy()
            geoms[multi] = shapely.get_geometry(geoms[multi], 0)
        else:
            single = shapely.get_type_id(geoms) == 3
            geoms = geoms.copy()
            geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return ewkb_hex(list(geoms))


def _value(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _columns(table: Table) -> tuple[list[str], list[tuple]]:
    """The table's columns and rows as the layer's database table takes them."""
    spec, cols = table.spec, table.columns
    names = [f.name for f in spec.fields]
    values = [cols[n] for n in names]
    if spec.parent_column and spec.code_digits:
        names.append(spec.parent_column)
        values.append(np.array([str(c)[: spec.code_digits - 3] for c in cols["code"]], dtype=object))
    names.append("home" if spec.name == "teams" else "geom")
    values.append(np.asarray(storage_geoms(table), dtype=object))
    if spec.name == "teams":
        names.append("position")
        values.append(values[-1])
    rows = [tuple(_value(v) for v in row) for row in zip(*values, strict=True)]
    return names, rows


def upsert(conn: psycopg.Connection, table: Table, snap_m: float) -> Counts:
    """Insert new codes, update changed rows, leave equal ones alone (one statement after COPY)."""
    spec = table.spec
    names, rows = _columns(table)
    target = sql.Identifier(spec.table)
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    conn.execute(sql.SQL("CREATE TEMP TABLE wangge_stage ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                 .format(cols, target))
    copy_rows(conn, "wangge_stage", names, rows)
    # teams keep their live position and status; the file gives their home station
    updated = [n for n in names if not (spec.name == "teams" and n in ("position", "status"))]
    shape = "home" if spec.name == "teams" else "geom"
    sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in updated)
    attrs = [n for n in updated if n != shape]

    def changed(new: str) -> sql.Composed:
        return sql.SQL("({old}) IS DISTINCT FROM ({new}) OR ST_HausdorffDistance(t.{g}, {n}.{g}) > {tol}").format(
            old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in attrs),
            new=sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(new), sql.Identifier(n)) for n in attrs),
            g=sql.Identifier(shape), n=sql.Identifier(new), tol=sql.Literal(snap_m / METRES_PER_DEGREE))

    # a statement that changes nothing still bumps the layer's version (its trigger fires per
    # statement), which would empty every tile cache: look first, write only when something differs
    differs = conn.execute(sql.SQL("""
        SELECT count(*) FROM wangge_stage AS s LEFT JOIN {target} AS t ON t.code = s.code
        WHERE t.code IS NULL OR {changed}""").format(target=target, changed=changed("s"))).fetchone()
    if not differs or not differs[0]:
        conn.execute("DROP TABLE wangge_stage")
        return Counts(unchanged=len(rows))
    row = conn.execute(sql.SQL("""
        WITH up AS (
            INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM wangge_stage
            ON CONFLICT (code) DO UPDATE SET {sets} WHERE {changed}
            RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up""").format(
        target=target, cols=cols, sets=sets, changed=changed("excluded"))).fetchone()
    conn.execute("DROP TABLE wangge_stage")
    inserted, modified = (int(row[0]), int(row[1])) if row else (0, 0)
    return Counts(inserted, modified, len(rows) - inserted - modified)


_CURRENT_GRIDS = """
    SELECT id, code, community_code, name, worker_name, worker_phone, ST_AsBinary(geom)
    FROM grids WHERE community_code = ANY(%(communities)s) AND valid_to IS NULL
    ORDER BY code FOR UPDATE"""

_INSERT_GRID = """
    INSERT INTO grids (code, community_code, name, worker_name, worker_phone, geom, valid_from)
    VALUES (%(code)s, %(community)s, %(name)s, %(worker_name)s, %(worker_phone)s,
            ST_GeomFromEWKB(decode(%(ewkb)s, 'hex')), %(valid_from)s)
    RETURNING id"""

_UPDATE_GRID = """
    UPDATE grids SET name = %(name)s, worker_name = %(worker_name)s, worker_phone = %(worker_phone)s
    WHERE id = %(id)s"""

_BUMP_COMMUNITIES = "UPDATE communities SET grids_version = grids_version + 1 WHERE code = ANY(%(codes)s)"


def write_grids(conn: psycopg.Connection, table: Table, replace: bool, valid_from: datetime,
                actor: str, snap_m: float) -> Counts:
    """Write a grid layer as new versions where shapes changed (see the module docstring)."""
    cols, counts = table.columns, Counts()
    communities = sorted({str(c)[:12] for c in cols["code"]})
    current: dict[str, tuple] = {}
    for row in conn.execute(_CURRENT_GRIDS, {"communities": communities}):
        current[str(row[1]).strip()] = row
    with_grids = {str(r[2]).strip() for r in current.values()}
    now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    ewkb = storage_geoms(table)
    retired_ids, inserts, changed_communities = [], [], set()
    seen = set()
    for i, code in enumerate(cols["code"]):
        code = str(code)
        seen.add(code)
        attrs = {"name": cols["name"][i], "worker_name": cols["worker_name"][i] or "",
                 "worker_phone": cols["worker_phone"][i] or ""}
        old = current.get(code)
        if old is not None and same_grid(table.geoms[i], shapely.from_wkb(old[6]), snap_m):
            if (old[3], old[4], old[5]) == (attrs["name"], attrs["worker_name"], attrs["worker_phone"]):
                counts.unchanged += 1
            else:
                conn.execute(_UPDATE_GRID, {**attrs, "id": old[0]})
                counts.updated += 1
            continue
        community = code[:12]
        start = now if (old is not None or community in with_grids) else valid_from
        if old is not None:
            retired_ids.append(old[0])
            counts.updated += 1
        else:
            counts.inserted += 1
        inserts.append({**attrs, "code": code, "community": community, "ewkb": ewkb[i], "valid_from": start})
        changed_communities.add(community)
    if replace:
        for code, old in current.items():
            if code not in seen:
                retired_ids.append(old[0])
                counts.retired += 1
                changed_communities.add(code[:12])
    # retire first: a code has one current version (a partial unique index)
    if retired_ids:
        conn.execute(RETIRE_GRIDS, {"now": now, "ids": retired_ids})
    new_ids = [conn.execute(_INSERT_GRID, params).fetchone()[0] for params in inserts]  # type: ignore[index]
    if retired_ids:
        moved = conn.execute(REKEY_OPEN_CASES, {"new_ids": new_ids, "old_ids": retired_ids, "now": now,
                                                "actor": actor, "role": "admin", "proposal": None}).fetchall()
        counts.rekeyed_cases = len(moved)
    if changed_communities:
        conn.execute(_BUMP_COMMUNITIES, {"codes": sorted(changed_communities)})
    return counts


def record_import(conn: psycopg.Connection, layer: str, source: str, counts: Counts, actor: str,
                  report: dict[str, Any]) -> int:
    """Log the import of ``layer`` from ``source`` in ``data_imports``; return its id."""
    row = conn.execute(
        "INSERT INTO data_imports (layer, source, actor, inserted, updated, unchanged, retired, report) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (layer, source, actor, counts.inserted, counts.updated, counts.unchanged,
         counts.retired, Jsonb(report))).fetchone()
    return int(row[0]) if row else 0
