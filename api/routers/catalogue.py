"""The case catalogue and geocoding: the two look-ups a dispatcher makes before intake."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ConnDep
from api.params import Line
from layers.catalogue import all_categories
from layers.geocode import geocode as geocode_text

router = APIRouter(tags=["lookups"])


@router.get("/catalogue", summary="Case categories with team type, time limit and standards")
async def catalogue(conn: ConnDep) -> dict[str, Any]:
    """Every category: ``code``, major/minor name, ``team_type`` (null: the community), hours."""
    return {"categories": [c.__dict__ for c in await all_categories(conn)]}


@router.get("/geocode", summary="Address text to ranked buildings")
async def geocode(conn: ConnDep, q: Annotated[Line, Query(min_length=2, max_length=200)],
                  limit: Annotated[int, Query(ge=1, le=20)] = 5) -> dict[str, Any]:
    """Candidates best first; 404 with the closest suggestions when nothing matches."""
    found = await geocode_text(conn, q, limit)
    return {"query": q, "candidates": [c.__dict__ for c in found]}
