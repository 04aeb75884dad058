"""The store side of planning: communities and their grids, assets, proposals, publish, history.

Each query is a named unit with bound parameters. Publishing is one
transaction that locks the community row first (then the proposal), so two
publishes of one community queue on that lock and the second sees the
version the first wrote: it gets a 412, never a half-applied tiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from layers.errors import Conflict, NotFound, PreconditionFailed, StoreError
from layers.loop import ENDED_SQL
from layers.rows import all_rows, one_row

"""Statuses after which a case is no longer open; open cases follow their grid."""

METRES_PER_DEGREE = 111_320.0
"""Of latitude, about; a degree of longitude is shorter, so a tolerance turned into degrees with it errs strict."""

ASSET_MARGIN_DEG = 0.003
"""Assets this close outside the community are read too: a proposal may reach them."""

COMMUNITY = """
    SELECT code, name, grids_version, ST_AsBinary(geom) AS wkb
    FROM communities WHERE code = %(code)s"""

COMMUNITY_FOR_UPDATE = COMMUNITY + " FOR UPDATE"

CURRENT_GRIDS = """
    SELECT id, code, name, worker_name, worker_phone, ST_AsBinary(geom) AS wkb
    FROM grids WHERE community_code = %(code)s AND valid_to IS NULL
    ORDER BY code"""

_NEAR_COMMUNITY = "geom && (SELECT ST_Expand(geom, %(margin)s) FROM communities WHERE code = %(code)s)"

BUILDINGS = f"""
    SELECT id, address AS label, residents, households,
           ST_X(ST_Centroid(geom)) AS lon, ST_Y(ST_Centroid(geom)) AS lat
    FROM buildings WHERE {_NEAR_COMMUNITY} ORDER BY id"""

CAMERAS = f"""
    SELECT id, code AS label, ST_X(geom) AS lon, ST_Y(geom) AS lat
    FROM cameras WHERE {_NEAR_COMMUNITY} ORDER BY id"""

STALL_ZONES = f"""
    SELECT id, code AS label, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
    FROM stall_zones WHERE {_NEAR_COMMUNITY} ORDER BY id"""

RECENT_CASES = f"""
    SELECT id, category_code AS label, ST_X(geom) AS lon, ST_Y(geom) AS lat
    FROM incidents WHERE {_NEAR_COMMUNITY}
      AND reported_at >= now() - interval '90 days' AND status <> 'duplicate'
    ORDER BY id"""

OPEN_CASES = f"""
    SELECT id, status AS label, ST_X(geom) AS lon, ST_Y(geom) AS lat
    FROM incidents WHERE {_NEAR_COMMUNITY} AND status NOT IN {ENDED_SQL}
    ORDER BY id"""

INSERT_PROPOSAL = """
    INSERT INTO planning_proposals (community_code, based_on_version, created_by, features, report)
    VALUES (%(community)s, %(version)s, %(author)s, %(features)s, %(report)s)
    RETURNING id, community_code, based_on_version, created_by, created_at, status, published_at"""

PROPOSAL = """
    SELECT id, community_code, based_on_version, created_by, created_at, status, published_at,
           features, report
    FROM planning_proposals WHERE id = %(id)s"""

PROPOSAL_FOR_UPDATE = PROPOSAL + " FOR UPDATE"

CURRENT_GRIDS_FOR_UPDATE = CURRENT_GRIDS + " FOR UPDATE"

LAST_GRID_NUMBER = """
    SELECT coalesce(max(right(code, 3)::int), 0) AS last FROM grids WHERE community_code = %(code)s"""

RETIRE_GRIDS = "UPDATE grids SET valid_to = %(now)s WHERE id = ANY(%(ids)s)"

INSERT_GRID = """
    INSERT INTO grids (code, community_code, name, worker_name, worker_phone, geom, valid_from)
    VALUES (%(code)s, %(community)s, %(name)s, %(worker_name)s, %(worker_phone)s,
            ST_Multi(ST_GeomFromWKB(%(wkb)s, 4326)), %(now)s)
    RETURNING id"""

# Open cases of a retired grid go to the new grid that covers them (lowest
# code on a shared edge, as locate does) and the move is logged; closed
# cases keep the grid version they were filed in.
REKEY_OPEN_CASES = f"""
    WITH moved AS (
        SELECT i.id, i.district_code, i.status, i.grid_id AS from_id, i.grid_code AS from_code,
               n.id AS to_id, n.code AS to_code
        FROM incidents AS i
        JOIN LATERAL (
            SELECT g.id, g.code FROM grids AS g
            WHERE g.id = ANY(%(new_ids)s) AND ST_Covers(g.geom, i.geom)
            ORDER BY g.code LIMIT 1) AS n ON true
        WHERE i.grid_id = ANY(%(old_ids)s) AND i.status NOT IN {ENDED_SQL}
        FOR UPDATE OF i),
    updated AS (
        UPDATE incidents AS i SET grid_id = m.to_id, grid_code = m.to_code, updated_at = %(now)s
        FROM moved AS m WHERE i.id = m.id RETURNING i.id)
    INSERT INTO incident_events (incident_id, district_code, at, actor, role, action,
                                 from_status, to_status, reason, details)
    SELECT m.id, m.district_code, %(now)s, %(actor)s, %(role)s, 'regrid', m.status, m.status,
           'grid boundaries redrawn',
           jsonb_build_object('proposal', %(proposal)s::bigint, 'from_grid', m.from_code,
                              'to_grid', m.to_code, 'from_grid_id', m.from_id, 'to_grid_id', m.to_id)
    FROM moved AS m JOIN updated AS u ON u.id = m.id
    RETURNING incident_id"""

BUMP_COMMUNITY = """
    UPDATE communities SET grids_version = grids_version + 1 WHERE code = %(code)s
    RETURNING grids_version"""

MARK_PUBLISHED = """
    UPDATE planning_proposals SET status = 'published', published_at = %(now)s WHERE id = %(id)s"""

TRANSACTION_NOW = "SELECT now() AS now"

# predecessors/successors: versions of the same community whose interiors
# overlap this one's and whose validity ends (starts) where this one starts (ends)
GRID_HISTORY = """
    SELECT g.id, g.code, g.name, g.community_code, g.worker_name, g.valid_from, g.valid_to,
           ST_AsGeoJSON(ST_ForcePolygonCCW(g.geom), 7)::json AS geometry,
           ARRAY(SELECT DISTINCT p.code FROM grids AS p
                 WHERE p.community_code = g.community_code AND p.valid_to = g.valid_from
                   AND p.geom && g.geom AND ST_Relate(p.geom, g.geom, '2********')
                 ORDER BY p.code) AS replaced,
           ARRAY(SELECT DISTINCT s.code FROM grids AS s
                 WHERE s.community_code = g.community_code AND s.valid_from = g.valid_to
                   AND s.geom && g.geom AND ST_Relate(s.geom, g.geom, '2********')
                 ORDER BY s.code) AS replaced_by
    FROM grids AS g WHERE g.code = %(code)s ORDER BY g.valid_from"""

COMMUNITY_GRIDS_AS_OF = """
    SELECT g.id, g.code, g.name, g.worker_name, g.valid_from, g.valid_to,
           ST_AsGeoJSON(ST_ForcePolygonCCW(g.geom), 7)::json AS geometry
    FROM grids AS g
    WHERE g.community_code = %(code)s
      AND g.valid_from <= %(at)s AND (g.valid_to IS NULL OR g.valid_to > %(at)s)
    ORDER BY g.code"""

COMMUNITY_GRIDS_CURRENT = """
    SELECT g.id, g.code, g.name, g.worker_name, g.valid_from, g.valid_to,
           ST_AsGeoJSON(ST_ForcePolygonCCW(g.geom), 7)::json AS geometry
    FROM grids AS g WHERE g.community_code = %(code)s AND g.valid_to IS NULL
    ORDER BY g.code"""


@dataclass(frozen=True)
class CommunityRow:
    """A community as planning needs it: outline (WGS84) and grids version."""

    code: str
    name: str
    grids_version: int
    geom: BaseGeometry


@dataclass(frozen=True)
class GridRow:
    """A current grid version."""

    id: int
    code: str
    name: str
    worker_name: str
    worker_phone: str
    geom: BaseGeometry


@dataclass(frozen=True)
class PublishResult:
    """What a publish changed."""

    community: str
    grids_version: int
    published_at: datetime
    retired: list[str]
    created: list[str]
    kept: list[str]
    rekeyed_cases: int
    changed: bool = True


def _community(row: dict[str, Any] | None, code: str) -> CommunityRow:
    if row is None:
        raise NotFound(f"no community {code}")
    return CommunityRow(row["code"], row["name"], row["grids_version"], shapely.from_wkb(row["wkb"]))


def _grid(row: dict[str, Any]) -> GridRow:
    return GridRow(row["id"], row["code"], row["name"], row["worker_name"], row["worker_phone"],
                   shapely.from_wkb(row["wkb"]))


def _value(row: dict[str, Any] | None, column: str) -> Any:
    # for statements that always return one row (aggregates, RETURNING of a locked row)
    if row is None:
        raise StoreError("the database returned no row where one was expected")
    return row[column]


async def community(conn: AsyncConnection, code: str) -> CommunityRow:
    """The community ``code``; NotFound when there is none."""
    return _community(await one_row(conn, COMMUNITY, {"code": code}), code)


async def current_grids(conn: AsyncConnection, code: str) -> list[GridRow]:
    """The community's grid versions in force now, by code."""
    return [_grid(row) for row in await all_rows(conn, CURRENT_GRIDS, {"code": code})]


async def asset_rows(conn: AsyncConnection, code: str) -> dict[str, list[dict[str, Any]]]:
    """Rows (id, label, lon, lat, weights) of every asset kind in and near the community."""
    params = {"code": code, "margin": ASSET_MARGIN_DEG}
    kinds = (("buildings", BUILDINGS), ("cameras", CAMERAS), ("stall_zones", STALL_ZONES),
             ("recent_cases", RECENT_CASES), ("open_cases", OPEN_CASES))
    return {kind: await all_rows(conn, query, params) for kind, query in kinds}


async def insert_proposal(conn: AsyncConnection, community_code: str, based_on: int, author: str,
                          features: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Store a draft proposal and its report; returns its row (without features and report)."""
    row = await one_row(conn, INSERT_PROPOSAL, {
        "community": community_code, "version": based_on, "author": author,
        "features": Jsonb(features), "report": Jsonb(report)})
    if row is None:
        raise StoreError("the proposal was not stored")
    return row


async def proposal(conn: AsyncConnection, proposal_id: int) -> dict[str, Any]:
    """The proposal ``proposal_id`` with features and report; NotFound when there is none."""
    row = await one_row(conn, PROPOSAL, {"id": proposal_id})
    if row is None:
        raise NotFound(f"no proposal {proposal_id}")
    return row


def same_grid(proposed: BaseGeometry, stored: BaseGeometry, snap_m: float) -> bool:
    """Whether ``proposed`` is ``stored`` within ``snap_m`` metres (both WGS84).

    The same number of vertices, and each outline within the tolerance of
    the other (and back), measured along the edges too, so the same
    vertices joined in another order (a bow-tie) are not the same grid.
    Counting vertices matters: a neighbour that received the vertex of a
    split on its edge looks the same, but must be stored with that vertex
    so the stored grids keep sharing every vertex.
    """
    if shapely.get_num_coordinates(proposed) != shapely.get_num_coordinates(stored):
        return False
    distance = shapely.hausdorff_distance(shapely.boundary(proposed), shapely.boundary(stored), densify=0.25)
    return bool(distance <= snap_m / METRES_PER_DEGREE)


def _unchanged(feature: dict[str, Any], current: dict[str, GridRow], snap_m: float) -> bool:
    code = feature["properties"].get("code")
    return code in current and same_grid(shape(feature["geometry"]), current[code].geom, snap_m)


async def publish_proposal(conn: AsyncConnection, proposal_id: int, actor: str, role: str,
                           expected_version: int | None = None, snap_m: float = 0.0) -> PublishResult:
    """Publish a draft proposal in one transaction.

    Grids whose code is kept and whose geometry is the same within
    ``snap_m`` metres keep their row. When that is every grid and there is
    no other, nothing changed: no row is written, the version stays, and
    the proposal is marked published with ``changed`` false. Every other
    current grid gets ``valid_to``; each proposed grid that is not unchanged
    gets a new row from the same instant, with its kept code or the next
    unused number of the community. Open cases of retired grids move to the
    new grid covering them, with a ``regrid`` event. Raises
    PreconditionFailed when the community's grids changed since the
    proposal was made (or ``expected_version`` differs), Conflict when the
    proposal is already published or its report is not clean.
    """
    async with conn.transaction():
        code = (await proposal(conn, proposal_id))["community_code"]
        # lock order: community, then proposal, so concurrent publishes queue, never deadlock
        place = _community(await one_row(conn, COMMUNITY_FOR_UPDATE, {"code": code}), code)
        row = await one_row(conn, PROPOSAL_FOR_UPDATE, {"id": proposal_id})
        if row is None:
            raise NotFound(f"no proposal {proposal_id}")
        _check_publishable(row, place, expected_version)
        now = _value(await one_row(conn, TRANSACTION_NOW), "now")
        return await _apply(conn, row, place, actor, role, now, snap_m)


def _check_publishable(row: dict[str, Any], place: CommunityRow, expected_version: int | None) -> None:
    if place.grids_version != row["based_on_version"]:
        raise PreconditionFailed(
            f"community {place.code} changed since this proposal was made "
            f"(version {row['based_on_version']}, now {place.grids_version}); make a new proposal",
            current_version=place.grids_version)
    if expected_version is not None and expected_version != row["based_on_version"]:
        raise PreconditionFailed("If-Match does not match this proposal's version",
                                 current_version=place.grids_version)
    if row["status"] != "draft":
        raise Conflict(f"proposal {row['id']} is already published")
    if not row["report"].get("ok"):
        raise Conflict(f"proposal {row['id']} does not tile its community; fix its report first")


async def _apply(conn: AsyncConnection, row: dict[str, Any], place: CommunityRow, actor: str,
                 role: str, now: datetime, snap_m: float) -> PublishResult:
    current = {g.code: g for g in map(_grid, await all_rows(conn, CURRENT_GRIDS_FOR_UPDATE, {"code": place.code}))}
    features = row["features"]["features"]
    unchanged = [_unchanged(f, current, snap_m) for f in features]
    kept_codes = {f["properties"]["code"] for f, same in zip(features, unchanged, strict=True) if same}
    if all(unchanged) and kept_codes == set(current):
        await conn.execute(MARK_PUBLISHED, {"now": now, "id": row["id"]})
        return PublishResult(place.code, place.grids_version, now, [], [], sorted(kept_codes), 0, changed=False)
    retired = [g for c, g in current.items() if c not in kept_codes]
    await conn.execute(RETIRE_GRIDS, {"now": now, "ids": [g.id for g in retired]})
    last = int(_value(await one_row(conn, LAST_GRID_NUMBER, {"code": place.code}), "last"))
    created, new_ids = [], []
    for feature in (f for f, same in zip(features, unchanged, strict=True) if not same):
        props = feature["properties"]
        code = props.get("code") if props.get("code") in current else None
        if code is None:
            last += 1
            if last > 999:
                raise Conflict(f"community {place.code} has used all 999 grid numbers")
            code = f"{place.code}{last:03d}"
        inserted = await one_row(conn, INSERT_GRID, {
            "code": code, "community": place.code, "name": props.get("name") or code,
            "worker_name": props.get("worker_name") or "", "worker_phone": props.get("worker_phone") or "",
            "wkb": shapely.to_wkb(shape(feature["geometry"])), "now": now})
        new_ids.append(_value(inserted, "id"))
        created.append(code)
    moved = await all_rows(conn, REKEY_OPEN_CASES, {
        "new_ids": new_ids, "old_ids": [g.id for g in retired], "now": now, "actor": actor,
        "role": role, "proposal": row["id"]})
    version = _value(await one_row(conn, BUMP_COMMUNITY, {"code": place.code}), "grids_version")
    await conn.execute(MARK_PUBLISHED, {"now": now, "id": row["id"]})
    return PublishResult(place.code, version, now, sorted(g.code for g in retired), created,
                         sorted(kept_codes), len(moved))


async def grid_history(conn: AsyncConnection, code: str) -> list[dict[str, Any]]:
    """Every version of grid ``code``, oldest first, with the codes it replaced and was replaced by."""
    rows = await all_rows(conn, GRID_HISTORY, {"code": code})
    if not rows:
        raise NotFound(f"no grid {code}")
    return rows


async def community_grids(conn: AsyncConnection, code: str, at: datetime | None) -> list[dict[str, Any]]:
    """The grid versions of community ``code`` in force at ``at`` (now when None)."""
    await community(conn, code)
    if at is None:
        return await all_rows(conn, COMMUNITY_GRIDS_CURRENT, {"code": code})
    return await all_rows(conn, COMMUNITY_GRIDS_AS_OF, {"code": code, "at": at})
