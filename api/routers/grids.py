"""Grid history: every version of a grid, and a community's grids as of a date."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ConnDep
from api.params import AtQuery, CommunityCode, GridCode
from layers import planning as store

router = APIRouter(tags=["grids"])



def _version(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature", "id": row["id"], "geometry": row["geometry"],
        "properties": {
            "code": row["code"], "name": row["name"], "worker_name": row["worker_name"],
            "valid_from": row["valid_from"].isoformat(),
            "valid_to": row["valid_to"].isoformat() if row["valid_to"] else None,
            "current": row["valid_to"] is None,
            **({"replaced": row["replaced"], "replaced_by": row["replaced_by"]} if "replaced" in row else {}),
        },
    }


@router.get("/grids/{code}/history", summary="Every version of a grid, oldest first")
async def grid_history(code: GridCode, conn: ConnDep) -> dict[str, Any]:
    """All versions of a grid code as GeoJSON features, with the codes each replaced and was replaced by."""
    rows = await store.grid_history(conn, code)
    return {"type": "FeatureCollection", "code": code, "features": [_version(r) for r in rows]}


@router.get("/communities/{code}/grids", summary="A community's grids, now or as of a date")
async def community_grids(code: CommunityCode, conn: ConnDep, at: AtQuery) -> dict[str, Any]:
    """The grid versions in force at ``at`` (default now) as a FeatureCollection."""
    rows = await store.community_grids(conn, code, at)
    return {"type": "FeatureCollection", "community": code,
            "at": at.isoformat() if at else None, "features": [_version(r) for r in rows]}
