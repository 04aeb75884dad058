"""Is each proposed polygon valid (OGC rules)? If not: why, and where.

Nothing is "made valid": a bow-tie is reported with the point where its
edges cross, and the planner redraws it. GEOS gives the reason as text such
as ``Self-intersection[117.2 31.8]``; the location is split off into a
GeoJSON point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geo.planning.geojson import geometry_dict
from geo.planning.grids import PlannedGrid

_REASON = re.compile(r"^(?P<reason>[^\[]+)\[(?P<x>\S+) (?P<y>\S+)\]$")


@dataclass(frozen=True)
class ValidityIssue:
    """A polygon that breaks the OGC validity rules."""

    grid: str
    reason: str
    location: BaseGeometry | None

    def as_json(self) -> dict[str, Any]:
        """The issue as the report shows it."""
        where = geometry_dict(self.location) if self.location is not None else None
        return {"grid": self.grid, "reason": self.reason, "location": where}


def validity_issue(key: str, geom: BaseGeometry) -> ValidityIssue | None:
    """The issue with ``geom``, or None when it is a valid, non-empty polygon."""
    if geom.is_empty:
        return ValidityIssue(key, "Empty geometry", None)
    text = shapely.is_valid_reason(geom)
    if text == "Valid Geometry":
        return None
    match = _REASON.match(text)
    if match is None:
        return ValidityIssue(key, text, None)
    point = shapely.Point(float(match["x"]), float(match["y"]))
    return ValidityIssue(key, match["reason"].strip(), point)


def validity_issues(grids: list[PlannedGrid]) -> list[ValidityIssue]:
    """Every invalid grid of a proposal, in proposal order."""
    found = (validity_issue(g.key, g.geom) for g in grids)
    return [issue for issue in found if issue is not None]
