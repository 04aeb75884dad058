"""Past cases from the system being replaced, in bulk: located, keyed to the grid of their time.

A case keeps the grid version valid when it was reported, as a live case
does; points are matched in memory against every stored grid version
(an STRtree, the lowest code on a shared edge, as locate decides), which
is one vectorised pass instead of a million index probes. Rows go in by
COPY (CSV text), the import event of each case too; a load that at least doubles
the cases table builds its indexes once at the end (:mod:`layers.io.bulk`).
A case whose ``external_ref`` is already stored for its district is left
alone, so re-importing a file changes nothing. Cases reported before any
grid version covering their point are keyed to the earliest such version
and counted in a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from layers.io.bulk import checked_references, deferred_indexes
from layers.io.checks import Store
from layers.io.read import Table
from layers.io.write import Counts

ENDED = ("closed", "rejected", "duplicate")
_COLUMNS = ("id", "district_code", "category_code", "channel", "description", "address", "raw_x", "raw_y",
            "raw_crs", "lon", "lat", "grid_id", "grid_code", "community_code", "street_code", "level", "status",
            "reported_at", "deadline", "closed_at", "updated_at", "external_ref")


@dataclass
class _Grids:
    ids: np.ndarray
    codes: np.ndarray
    communities: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray
    tree: shapely.STRtree


def _load_grids(conn: psycopg.Connection) -> _Grids:
    rows = conn.execute("""
        SELECT id, code, community_code, valid_from, coalesce(valid_to, '9999-12-31'::timestamptz), ST_AsBinary(geom)
        FROM grids ORDER BY code, valid_from""").fetchall()
    def stamp(v: object) -> np.datetime64:
        return np.datetime64(pd.Timestamp(v).tz_convert("UTC").tz_localize(None).to_datetime64(), "us")

    return _Grids(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=object),
                  np.array([r[2] for r in rows], dtype=object),
                  np.array([stamp(r[3]) for r in rows], dtype="datetime64[us]"),
                  np.array([stamp(r[4]) for r in rows], dtype="datetime64[us]"),
                  shapely.STRtree(shapely.from_wkb([r[5] for r in rows])))


def locate_in_time(grids: _Grids, points: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the index of its grid version at ``at`` (-1: none) and whether it predates them all.

    Among versions valid at the time that cover the point, the lowest code
    wins; with none valid, the earliest version covering the point.
    """
    chosen = np.full(len(points), -1, dtype=np.int64)
    early = np.zeros(len(points), dtype=bool)
    if len(grids.ids) == 0 or len(points) == 0:
        return chosen, early
    p, g = grids.tree.query(points, predicate="intersects")
    valid = (grids.valid_from[g] <= at[p]) & (at[p] < grids.valid_to[g])
    # grids are ordered by code then valid_from, so the first index per point is the lowest code
    order = np.lexsort((g, ~valid, p))
    p, g, valid = p[order], g[order], valid[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    chosen[p[first]] = g[first]
    early[p[first]] = ~valid[first]
    return chosen, early


def write_history(conn: psycopg.Connection, table: Table, store: Store, source: str,
                  done: Callable[[int], None] | None = None) -> tuple[Counts, int]:
    """COPY the table's cases in; return the counts and how many predate every grid version."""
    cols, n = table.columns, len(table)
    territory_codes = list(store.districts)
    tree = shapely.STRtree([store.districts[c] for c in territory_codes])
    p, d = tree.query(table.geoms, predicate="intersects")
    district = np.full(n, None, dtype=object)
    district[p[::-1]] = np.asarray(territory_codes, dtype=object)[d[::-1]]
    refs = cols["external_ref"].astype(str)
    # a join with the list (a hash join), not "= ANY(list)", which PostgreSQL tests row by row
    existing = {(str(r[0]), r[1]) for r in conn.execute(
        "SELECT i.district_code, i.external_ref FROM unnest(%(refs)s::text[]) AS r(ref) "
        "JOIN incidents AS i ON i.external_ref = r.ref", {"refs": list(np.unique(refs))})}
    fresh = np.array([(str(dc), ref) not in existing for dc, ref in zip(district, refs, strict=True)], dtype=bool)
    counts = Counts(unchanged=int(n - fresh.sum()))
    if not fresh.any():
        return counts, 0
    idx = np.flatnonzero(fresh)
    rows = _rows(conn, table, idx, district[idx])
    grids = _load_grids(conn)
    chosen, early = locate_in_time(grids, table.geoms[idx], rows["reported_at"])
    has, at = chosen >= 0, np.maximum(chosen, 0)
    streets = np.array([c[:9] for c in grids.communities], dtype=object)
    for column, values in (("grid_id", grids.ids.astype(object)), ("grid_code", grids.codes),
                           ("community_code", grids.communities), ("street_code", streets)):
        picked = np.full(len(idx), None, dtype=object)
        picked[has] = values[at[has]]
        rows[column] = picked
    events = {"incident_id": rows["id"], "district_code": rows["district_code"], "at": rows["reported_at"],
              "actor": np.full(len(idx), "import", dtype=object), "role": np.full(len(idx), "admin", dtype=object),
              "action": np.full(len(idx), "import", dtype=object), "to_status": rows["status"],
              "reason": np.full(len(idx), f"imported from {source}", dtype=object)}
    conn.execute("SET LOCAL timezone = 'UTC'")
    with deferred_indexes(conn, ("incidents", "incident_events"), len(idx)), \
            checked_references(conn, ("incidents",)):
        _insert(conn, "incidents", {c: rows[c] for c in _COLUMNS}, done)
        _insert(conn, "incident_events", events)
    counts.inserted = len(idx)
    return counts, int(early.sum())


def _rows(conn: psycopg.Connection, table: Table, idx: np.ndarray, district: np.ndarray) -> dict[str, np.ndarray]:
    cols = table.columns
    catalogue = {r[0]: (int(r[1]), r[2]) for r in conn.execute("SELECT code, time_limit_hours, level FROM catalogue")}
    ids = np.array([r[0] for r in conn.execute(
        "SELECT nextval('incidents_id_seq') FROM generate_series(1, %s)", (len(idx),))], dtype=np.int64)
    category = cols["category"][idx]
    codes = np.array(sorted(catalogue), dtype=object)
    which = np.searchsorted(codes, category)
    hours = np.array([catalogue[c][0] for c in codes], dtype="timedelta64[h]")[which]
    reported = cols["reported_at"][idx].astype("datetime64[us]")
    deadline = cols["deadline"][idx].astype("datetime64[us]")
    deadline = np.where(np.isnat(deadline), reported + hours, deadline)
    closed = cols["closed_at"][idx].astype("datetime64[us]")
    raw = table.raw_xy[idx] if table.raw_xy is not None else np.full((len(idx), 2), np.nan)
    return {
        "id": ids, "district_code": district, "category_code": category, "channel": cols["channel"][idx],
        "description": cols["description"][idx], "address": cols["address"][idx],
        "raw_x": raw[:, 0], "raw_y": raw[:, 1], "raw_crs": np.full(len(idx), table.crs.name, dtype=object),
        "lon": shapely.get_x(table.geoms[idx]), "lat": shapely.get_y(table.geoms[idx]),
        "level": np.array([catalogue[c][1] for c in codes], dtype=object)[which], "status": cols["status"][idx],
        "reported_at": reported, "deadline": deadline, "closed_at": closed,
        "updated_at": np.where(np.isnat(closed), reported, closed), "external_ref": cols["external_ref"][idx]}


# PostgreSQL's type for each column sent; times go as microseconds since the epoch (UTC)
_TYPES = {"id": "bigint", "incident_id": "bigint", "grid_id": "integer", "raw_x": "float8", "raw_y": "float8",
          "lon": "float8", "lat": "float8", "reported_at": "bigint", "deadline": "bigint", "closed_at": "bigint",
          "updated_at": "bigint", "at": "bigint"}
_EXPRESSIONS = {"geom": "ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)"}
CHUNK = 250_000
"""Rows per statement: each sends its columns as arrays, about 100 MB for a chunk of cases."""


_NULL = "\x01"  # stands for NULL while a column is joined; control characters never pass the checks


def array_literal(values: np.ndarray, kind: str) -> str:
    """A column as PostgreSQL's array text (``{1,2,NULL}``, ``{"a","b"}``), built by whole-string operations.

    Formatting a million values one by one in Python costs seconds; joining
    and escaping the column as one string is done in C. The text is parsed
    by PostgreSQL's own array input on the other side.
    """
    array = np.asarray(values)
    if array.dtype.kind == "M":
        stamps = array.astype("datetime64[us]")
        text = np.where(np.isnat(stamps), "NULL", stamps.astype(np.int64).astype(str))
        return "{" + ",".join(text.tolist()) + "}"
    if kind == "float8":
        numbers = array.astype(float)
        return "{" + ",".join(np.where(np.isfinite(numbers), numbers.astype(str), "NULL").tolist()) + "}"
    items = [_NULL if v is None else str(v) for v in array.tolist()]
    if kind in ("bigint", "integer"):
        return "{" + ",".join(items).replace(_NULL, "NULL") + "}"
    joined = "\x00".join(items).replace("\\", "\\\\").replace('"', '\\"')
    quoted = '"' + joined.replace("\x00", '","') + '"'
    return "{" + quoted.replace(f'"{_NULL}"', "NULL") + "}"


def _insert(conn: psycopg.Connection, target: str, columns: dict[str, np.ndarray],
            done: Callable[[int], None] | None = None) -> None:
    """INSERT ... SELECT FROM unnest(arrays): one set-based statement per chunk, no text formatting."""
    names = list(columns)
    sources = sql.SQL(", ").join(
        sql.SQL("%s::text::{}[]").format(sql.SQL(_TYPES.get(n, "text"))) for n in names)
    aliases = sql.SQL(", ").join(map(sql.Identifier, names))
    stored = [n for n in names if n not in ("lon", "lat")] + (["geom"] if "lon" in names else [])

    def value(name: str) -> sql.Composable:
        if name in _EXPRESSIONS:
            return sql.SQL(_EXPRESSIONS[name])
        if _TYPES.get(name) == "bigint" and name not in ("id", "incident_id"):
            # integer microseconds: exact, where a division would round through a double
            return sql.SQL("'epoch'::timestamptz + u.{} * interval '1 microsecond'").format(sql.Identifier(name))
        return sql.SQL("u.{}").format(sql.Identifier(name))

    statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u({})").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, stored)),
        sql.SQL(", ").join(value(n) for n in stored), sources, aliases)
    total = len(columns[names[0]])

    def literals(start: int) -> list[str]:
        return [array_literal(columns[n][start:start + CHUNK], _TYPES.get(n, "text")) for n in names]

    # the next chunk's text is built in a thread while the database stores this one (psycopg
    # waits for the server without holding the GIL), so both cores work
    with ThreadPoolExecutor(max_workers=1) as builder:
        pending = builder.submit(literals, 0)
        for start in range(0, total, CHUNK):
            chunk = pending.result()
            if start + CHUNK < total:
                pending = builder.submit(literals, start + CHUNK)
            conn.execute(statement, chunk)
            if done:
                done(min(CHUNK, total - start))
