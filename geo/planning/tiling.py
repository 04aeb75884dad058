"""Tilings from noded linework, so that neighbours share the very same vertices.

Clipping cells to an area one by one leaves a neighbour's edge without the
vertex where another cell's edge met it, and coverage checks (rightly) call
that a mismatch. Noding every boundary together, polygonizing the faces and
handing each face to the cell it lies in gives a tiling whose shared edges
are identical on both sides (used by :mod:`geo.planning.partition`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry


def as_polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """A Polygon stays; anything else becomes a MultiPolygon of its polygon parts."""
    if isinstance(geom, Polygon):
        return geom
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def faces_of(lines: Sequence[BaseGeometry], grid_size: float | None) -> list[Polygon]:
    """The faces of the noded union of ``lines`` (snap-rounded to ``grid_size`` unless None)."""
    noded = shapely.union_all(np.asarray(lines, dtype=object), grid_size=grid_size)
    return [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
            if isinstance(f, Polygon) and f.area > 0]


def owner_of_faces(faces: list[Polygon], owners: Sequence[BaseGeometry]) -> list[int]:
    """For each face, the index of the first owner containing its interior point, -1 if none."""
    tree = shapely.STRtree(np.asarray(owners, dtype=object))
    points = shapely.point_on_surface(np.asarray(faces, dtype=object))
    face_index, owner_index = tree.query(points, predicate="within")
    result = np.full(len(faces), len(owners), dtype=np.int64)
    np.minimum.at(result, face_index, owner_index)
    result[result == len(owners)] = -1
    return result.tolist()


