"""Grid history: every version of a grid, and a community's grids as of a date."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ConnDep
from layers import planning as store
from layers.errors import InvalidInput

router = APIRouter(tags=["grids"])

CHINA_TIME = ZoneInfo("Asia/Shanghai")
"""A date or a time without an offset is read in China Standard Time (all of China uses it)."""

GridCode = Annotated[str, Path(pattern=r"^[0-9]{15}$", description="15-digit grid code")]
CommunityCode = Annotated[str, Path(pattern=r"^[0-9]{12}$", description="12-digit community code")]


def parse_at(text: str) -> datetime:
    """``2024-05-01`` (start of that day) or an ISO 8601 time; no offset means China time."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), CHINA_TIME)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("at must be a date (2024-05-01) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TIME)


async def at_query(
    at: Annotated[str | None, Query(max_length=40, description="a date or ISO time; default now")] = None,
) -> datetime | None:
    """The ``at`` query parameter: the moment to look at, None for now."""
    return parse_at(at) if at is not None else None


AtQuery = Annotated[datetime | None, Depends(at_query)]


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
