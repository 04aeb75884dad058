"""Planning as the API uses it: make a proposal or a suggestion with its report, publish.

The one module of :mod:`geo.planning` that touches the store: it reads the
community, its grids and assets through :mod:`layers.planning`, runs the
pure checks in a worker thread (they take tens to hundreds of milliseconds
of CPU, which must not stall the event loop) and stores the result.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from geo.crs import Crs
from geo.planning.coverage import DEFAULT_SNAP_M
from geo.planning.geojson import feature, feature_collection
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.metric import MetricFrame
from geo.planning.operations import apply_operations
from geo.planning.parse import planned_grids
from geo.planning.partition import suggest_partition
from geo.planning.report import ReportOptions, check_proposal
from geo.planning.workload import AssetPoints, Assets, workload
from layers import planning as store
from layers.errors import InvalidInput

MAX_SUGGESTED_GRIDS = 200


@dataclass(frozen=True)
class SuggestionTarget:
    """How to size suggested grids: a number of grids, or residents per grid."""

    grids: int | None = None
    residents_per_grid: int | None = None

    def grid_count(self, residents: int) -> int:
        """The number of grids to make for a community of ``residents``."""
        if self.grids is not None:
            return self.grids
        if self.residents_per_grid is None:
            raise InvalidInput("give either grids or residents_per_grid")
        return min(max(1, math.ceil(residents / self.residents_per_grid)), MAX_SUGGESTED_GRIDS)


@dataclass(frozen=True)
class _Context:
    place: store.CommunityRow
    current: list[CurrentGrid]
    assets: Assets
    frame: MetricFrame


def _points(rows: list[dict[str, Any]], weights: tuple[str, ...] = ()) -> AssetPoints:
    if not rows:
        return AssetPoints.empty()
    return AssetPoints(np.array([r["id"] for r in rows], dtype=np.int64), [str(r["label"]) for r in rows],
                       np.array([(r["lon"], r["lat"]) for r in rows], dtype=float),
                       {w: np.array([r[w] for r in rows], dtype=float) for w in weights})


async def _context(conn: AsyncConnection, code: str) -> _Context:
    place = await store.community(conn, code)
    grids = await store.current_grids(conn, code)
    rows = await store.asset_rows(conn, code)
    frame = MetricFrame.around(place.geom)
    assets = Assets(_points(rows["buildings"], ("residents", "households")),
                    _points(rows["cameras"]), _points(rows["stall_zones"]),
                    _points(rows["recent_cases"]), _points(rows["open_cases"]))
    current = [CurrentGrid(g.id, g.code, g.name, g.geom, g.worker_name, g.worker_phone)
               for g in grids]
    return _Context(place, current, assets, frame)


async def current_workload(conn: AsyncConnection, code: str) -> list[dict[str, Any]]:
    """Each grid in force with its workload (residents, buildings, 90-day cases, ...); nothing is stored.

    The planner's map shows this before any proposal is made.
    """
    ctx = await _context(conn, code)
    rows = workload(ctx.assets, np.array([g.geom for g in ctx.current], dtype=object))
    return [{"code": g.code, "name": g.name, **row} for g, row in zip(ctx.current, rows, strict=True)]


def _stored_features(planned: list[PlannedGrid]) -> dict[str, Any]:
    # the conformed grids at full precision: they are what publish stores
    return feature_collection([
        feature(g.geom, {"key": g.key, "code": g.code, "name": g.name,
                         "worker_name": g.worker_name, "worker_phone": g.worker_phone}, decimals=None)
        for g in planned])


def etag(community_code: str, version: int) -> str:
    """The entity tag of a community's grids at ``version`` (If-Match on publish)."""
    return f'"{community_code}-v{version}"'


def _answer(row: dict[str, Any], features: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "community": row["community_code"], "status": row["status"],
        "based_on_version": row["based_on_version"],
        "etag": etag(row["community_code"], row["based_on_version"]),
        "created_by": row["created_by"], "created_at": row["created_at"].isoformat(),
        "published_at": row["published_at"].isoformat() if row["published_at"] else None,
        "features": features, "report": report,
    }


async def _store(conn: AsyncConnection, ctx: _Context, planned: list[PlannedGrid], author: str,
                 options: ReportOptions) -> dict[str, Any]:
    conformed, report = await asyncio.to_thread(check_proposal, ctx.place.geom, ctx.current, planned,
                                                ctx.assets, ctx.frame, options)
    features = _stored_features(conformed)
    row = await store.insert_proposal(conn, ctx.place.code, ctx.place.grids_version, author,
                                      features, report)
    return _answer(row, features, report)


async def propose(conn: AsyncConnection, community_code: str, body: Any, crs: Crs, author: str,
                  options: ReportOptions | None = None) -> dict[str, Any]:
    """Store a proposal (a FeatureCollection, or ``{"operations": [...]}``) and its report."""
    ctx = await _context(conn, community_code)
    if isinstance(body, dict) and "operations" in body:
        planned = apply_operations(ctx.current, body["operations"], crs)
    else:
        planned = planned_grids(body, crs, community_code)
    return await _store(conn, ctx, planned, author, options or ReportOptions())


async def suggest(conn: AsyncConnection, community_code: str, target: SuggestionTarget, author: str,
                  options: ReportOptions | None = None, seed: int = 0) -> dict[str, Any]:
    """Suggest a balanced partition of the community and store it as a proposal with its report."""
    ctx = await _context(conn, community_code)
    buildings = ctx.assets.buildings
    residents = buildings.weights.get("residents", np.zeros(len(buildings)))
    count = target.grid_count(int(residents.sum()))
    partition = await asyncio.to_thread(suggest_partition, ctx.place.geom, buildings.lonlat,
                                        residents + 1.0, count, ctx.frame, seed)
    grids = partition.grids
    planned = [PlannedGrid(f"new-{i + 1}", None, f"建议网格{i + 1}", g) for i, g in enumerate(grids)]
    return await _store(conn, ctx, planned, author, options or ReportOptions())


async def proposal(conn: AsyncConnection, proposal_id: int) -> dict[str, Any]:
    """A stored proposal with its features and report."""
    row = await store.proposal(conn, proposal_id)
    return _answer(row, row["features"], row["report"])


async def publish(conn: AsyncConnection, proposal_id: int, actor: str, role: str,
                  expected_version: int | None = None, snap_m: float = DEFAULT_SNAP_M) -> dict[str, Any]:
    """Publish a proposal (see :func:`layers.planning.publish_proposal`).

    ``changed`` is false when every grid is the one in force within
    ``snap_m`` metres: then nothing was written and the version stayed.
    """
    result = await store.publish_proposal(conn, proposal_id, actor, role, expected_version, snap_m)
    message = (f"published as version {result.grids_version}" if result.changed else
              f"nothing changed: every grid is the one in force (within {snap_m} m); version "
              f"{result.grids_version} stays")
    return {
        "proposal": proposal_id, "community": result.community, "changed": result.changed, "message": message,
        "grids_version": result.grids_version,
        "etag": etag(result.community, result.grids_version),
        "published_at": result.published_at.isoformat(), "retired": result.retired,
        "created": result.created, "kept": result.kept, "rekeyed_open_cases": result.rekeyed_cases,
    }
