"""The grids a proposal is made of, and the limits on what a client may send."""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import MultiPolygon, Polygon

MAX_FEATURES = 500
"""Grids in one proposal; a community has tens, so this only stops abuse."""
MAX_VERTICES = 100_000
"""Vertices over all grids of one proposal (or in one operation line)."""


@dataclass(frozen=True)
class PlannedGrid:
    """One grid of a proposal, in WGS84, exactly as the client drew it (never repaired).

    ``key`` names the grid in the report: its current code when the client
    kept one (a reshaped grid keeps its code), otherwise ``new-<n>``. A new
    grid gets its real code only when the proposal is published.
    """

    key: str
    code: str | None
    name: str
    geom: Polygon | MultiPolygon
    worker_name: str = ""
    worker_phone: str = ""


@dataclass(frozen=True)
class CurrentGrid:
    """A grid version in force now, as the store holds it (WGS84)."""

    id: int
    code: str
    name: str
    geom: Polygon | MultiPolygon
    worker_name: str = ""
    worker_phone: str = ""
