"""Edit today's grids by operations: split by a line, merge, move a shared boundary.

Operations apply in order to the community's current grids (WGS84) and give
the planned grids of a proposal. Where a cut line meets a grid's edge, the
neighbour on the other side gets the same new vertex (GEOS snapping inserts
it into the neighbour's segment), so the edges still match exactly; grids
that touch nothing changed keep their geometry bit for bit. A split gives
new grids (new codes at publish), a merge gives one new grid, a moved
boundary keeps both codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import split

from geo.crs import Crs
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.parse import line_positions
from geo.planning.tiling import as_polygonal
from layers.errors import InvalidInput

MAX_OPERATIONS = 50
SHARED_VERTEX_TOLERANCE_DEG = 1e-9
"""How close (about 0.1 mm) a neighbour's edge must pass to a new vertex to receive it."""


class _Draft:
    """The grids while operations run: key → (code kept or None, name, geometry)."""

    def __init__(self, current: list[CurrentGrid]) -> None:
        self.grids: dict[str, tuple[str | None, str, BaseGeometry]] = {
            g.code: (g.code, g.name, g.geom) for g in current}
        self.workers = {g.code: (g.worker_name, g.worker_phone) for g in current}
        self.serial = 0
        self.changed: set[str] = set()

    def put(self, key: str, code: str | None, name: str, geom: BaseGeometry) -> None:
        self.grids[key] = (code, name, geom)
        self.changed.add(key)

    def take(self, key: Any, where: str) -> tuple[str | None, str, BaseGeometry]:
        if not isinstance(key, str) or key not in self.grids:
            raise InvalidInput(f"{where}: no grid {str(key)[:40]!r} in this community (at this step)")
        return self.grids[key]

    def new_key(self) -> str:
        self.serial += 1
        return f"new-{self.serial}"


def _pieces(geom: BaseGeometry, line: LineString) -> list[Polygon]:
    return [p for p in split(geom, line).geoms if isinstance(p, Polygon) and p.area > 0]


def _split(draft: _Draft, op: dict[str, Any], crs: Crs, where: str) -> None:
    key = op.get("grid")
    _, name, geom = draft.take(key, f"{where}.grid")
    line = LineString(line_positions(op.get("line"), crs, f"{where}.line"))
    pieces = _pieces(geom, line)
    if len(pieces) < 2:
        raise InvalidInput(f"{where}: the line does not cut grid {key} in two; it must cross it edge to edge")
    del draft.grids[str(key)]
    for n, piece in enumerate(pieces, start=1):
        draft.put(draft.new_key(), None, f"{name}-{n}", piece)


def _merge(draft: _Draft, op: dict[str, Any], crs: Crs, where: str) -> None:
    keys = op.get("grids")
    if not isinstance(keys, list) or len(keys) < 2 or len(set(map(str, keys))) != len(keys):
        raise InvalidInput(f"{where}.grids: name two or more different grids to merge")
    taken = [draft.take(k, f"{where}.grids") for k in keys]
    # today's grids are a valid coverage, whose union keeps every vertex
    merged = shapely.coverage_union_all(np.asarray([g for _, _, g in taken], dtype=object))
    for k in keys:
        del draft.grids[k]
    draft.put(draft.new_key(), None, str(op.get("name") or taken[0][1])[:200], as_polygonal(merged))


def _move_boundary(draft: _Draft, op: dict[str, Any], crs: Crs, where: str) -> None:
    keys = op.get("grids")
    if not isinstance(keys, list) or len(keys) != 2 or keys[0] == keys[1]:
        raise InvalidInput(f"{where}.grids: name the two grids whose shared boundary moves")
    first, second = (draft.take(k, f"{where}.grids") for k in keys)
    line = LineString(line_positions(op.get("line"), crs, f"{where}.line"))
    both = shapely.coverage_union_all([first[2], second[2]])
    pieces = _pieces(both, line)
    if len(pieces) < 2:
        raise InvalidInput(f"{where}: the line must cross the two grids edge to edge")
    # each piece goes to the grid it overlapped most before the move
    mine = [p for p in pieces if p.intersection(first[2]).area >= p.intersection(second[2]).area]
    theirs = [p for p in pieces if p not in mine]
    if not mine or not theirs:
        raise InvalidInput(f"{where}: the new boundary leaves one of the two grids empty")
    draft.put(keys[0], first[0], first[1], as_polygonal(shapely.union_all(mine)))
    draft.put(keys[1], second[0], second[1], as_polygonal(shapely.union_all(theirs)))


_OPERATIONS = {"split": _split, "merge": _merge, "move_boundary": _move_boundary}


def apply_operations(current: list[CurrentGrid], operations: Any, crs: Crs) -> list[PlannedGrid]:
    """Apply ``operations`` to the current grids; InvalidInput for any that cannot apply."""
    if not isinstance(operations, list) or not operations:
        raise InvalidInput("operations must be a non-empty list")
    if len(operations) > MAX_OPERATIONS:
        raise InvalidInput(f"too many operations: at most {MAX_OPERATIONS}")
    draft = _Draft(current)
    for i, op in enumerate(operations):
        where = f"operations[{i}]"
        kind = op.get("op") if isinstance(op, dict) else None
        if kind not in _OPERATIONS:
            raise InvalidInput(f"{where}.op must be one of {', '.join(_OPERATIONS)}")
        _OPERATIONS[kind](draft, op, crs, where)
    keys = list(draft.grids)
    geoms = _share_new_vertices(draft, keys)
    planned = []
    for key, geom in zip(keys, geoms, strict=True):
        code, name, _ = draft.grids[key]
        worker = draft.workers.get(code or "", ("", ""))
        planned.append(PlannedGrid(key, code, name, geom, *worker))
    return planned


def _share_new_vertices(draft: _Draft, keys: list[str]) -> list[BaseGeometry]:
    geoms = [draft.grids[k][2] for k in keys]
    changed = [g for k, g in zip(keys, geoms, strict=True) if k in draft.changed]
    if not changed:
        return geoms
    vertices = shapely.multipoints(shapely.get_coordinates(np.asarray(changed, dtype=object)))
    zone = shapely.union_all(np.asarray(changed, dtype=object)).buffer(SHARED_VERTEX_TOLERANCE_DEG * 10)
    return [shapely.snap(g, vertices, SHARED_VERTEX_TOLERANCE_DEG) if g.intersects(zone) else g
            for g in geoms]
