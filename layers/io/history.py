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

import io
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
            "raw_crs", "geom", "grid_id", "grid_code", "community_code", "street_code", "level", "status",
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


def write_history(conn: psycopg.Connection, table: Table, store: Store, source: str) -> tuple[Counts, int]:
    """COPY the table's cases in; return the counts and how many predate every grid version."""
    cols, n = table.columns, len(table)
    territory_codes = list(store.districts)
    tree = shapely.STRtree([store.districts[c] for c in territory_codes])
    p, d = tree.query(table.geoms, predicate="intersects")
    district = np.full(n, None, dtype=object)
    district[p[::-1]] = np.asarray(territory_codes, dtype=object)[d[::-1]]
    refs = cols["external_ref"].astype(str)
    existing = {(str(r[0]), r[1]) for r in conn.execute(
        "SELECT district_code, external_ref FROM incidents WHERE external_ref = ANY(%(refs)s)",
        {"refs": list(np.unique(refs))})}
    fresh = np.array([(str(dc), ref) not in existing for dc, ref in zip(district, refs, strict=True)], dtype=bool)
    counts = Counts(unchanged=int(n - fresh.sum()))
    if not fresh.any():
        return counts, 0
    idx = np.flatnonzero(fresh)
    frame = _frame(conn, table, idx, district[idx])
    grids = _load_grids(conn)
    chosen, early = locate_in_time(grids, table.geoms[idx], frame["reported_at"].to_numpy(dtype="datetime64[us]"))
    has = chosen >= 0
    frame["grid_id"] = pd.array(np.where(has, grids.ids[np.maximum(chosen, 0)], 0), dtype="Int64")
    frame.loc[~has, "grid_id"] = pd.NA
    frame["grid_code"] = np.where(has, grids.codes[np.maximum(chosen, 0)], None)
    frame["community_code"] = np.where(has, grids.communities[np.maximum(chosen, 0)], None)
    frame["street_code"] = [c[:9] if c else None for c in frame["community_code"]]
    events = pd.DataFrame({"incident_id": frame["id"], "district_code": frame["district_code"],
                           "at": frame["reported_at"], "actor": "import", "role": "admin", "action": "import",
                           "to_status": frame["status"], "reason": f"imported from {source}"})
    conn.execute("SET LOCAL timezone = 'UTC'")
    with deferred_indexes(conn, ("incidents", "incident_events"), len(frame)), checked_references(conn, ("incidents",)):
        _copy_csv(conn, "incidents", frame[list(_COLUMNS)])
        _copy_csv(conn, "incident_events", events)
    counts.inserted = len(idx)
    return counts, int(early.sum())


def _frame(conn: psycopg.Connection, table: Table, idx: np.ndarray, district: np.ndarray) -> pd.DataFrame:
    cols = table.columns
    catalogue = {r[0]: (int(r[1]), r[2]) for r in conn.execute("SELECT code, time_limit_hours, level FROM catalogue")}
    ids = [r[0] for r in conn.execute("SELECT nextval('incidents_id_seq') FROM generate_series(1, %s)", (len(idx),))]
    category = cols["category"][idx]
    reported = cols["reported_at"][idx].astype("datetime64[us]")
    hours = np.array([catalogue[c][0] for c in category], dtype="timedelta64[h]")
    deadline = cols["deadline"][idx].astype("datetime64[us]")
    deadline = np.where(np.isnat(deadline), reported + hours, deadline)
    closed = cols["closed_at"][idx].astype("datetime64[us]")
    raw = table.raw_xy[idx] if table.raw_xy is not None else np.full((len(idx), 2), np.nan)
    points = table.geoms[idx]
    return pd.DataFrame({
        "id": ids, "district_code": district, "category_code": category, "channel": cols["channel"][idx],
        "description": cols["description"][idx], "address": cols["address"][idx],
        "raw_x": raw[:, 0], "raw_y": raw[:, 1], "raw_crs": table.crs.name,
        "geom": shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True),
        "level": [catalogue[c][1] for c in category], "status": cols["status"][idx],
        "reported_at": reported, "deadline": deadline, "closed_at": closed,
        "updated_at": np.where(np.isnat(closed), reported, closed), "external_ref": cols["external_ref"][idx]})


def _copy_csv(conn: psycopg.Connection, target: str, frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    # unquoted empty fields are NULL in CSV; these columns hold '' instead
    not_null = [c for c in ("description", "channel", "raw_crs", "status", "level", "reason") if c in frame.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({}))").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, frame.columns)),
        sql.SQL(", ").join(map(sql.Identifier, not_null)))
    data = buffer.getvalue()
    with conn.cursor() as cur, cur.copy(statement) as copy:
        step = 8 << 20
        for start in range(0, len(data), step):
            copy.write(data[start:start + step])
