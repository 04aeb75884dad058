"""Suggest a balanced partition of a community: a capacity-constrained power diagram.

Buildings are weighted points (residents, plus one so empty buildings still
count a little). Centres start from weighted k-means++ and then alternate
two steps (Balzer's capacity-constrained Voronoi idea): points go to the
centre with the smallest ``distance² - w``, each centre's additive weight
``w`` grows when its load is below the target and shrinks above it, and the
centre moves to the weighted mean of its points. Balancing runs in metres;
the cells of that power diagram are then brought to WGS84 and noded there
with the community's stored outline and polygonized
(:mod:`geo.planning.tiling`), so the grids tile the community exactly as the
store sees it (straight edges in degrees) and neighbours share vertices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geo.planning.metric import MetricFrame
from geo.planning.tiling import as_polygonal, faces_of, owner_of_faces

NODING_GRID_DEG = 1e-9
"""Snap-rounding grid of the cell linework: about 0.1 mm, below the report's 1 cm."""
ITERATIONS = 60


@dataclass(frozen=True)
class Partition:
    """Suggested grids (WGS84), each a Polygon or, where a cell reaches two parts of the area, a MultiPolygon."""

    grids: list[Polygon | shapely.MultiPolygon]


def _initial_centres(xy: np.ndarray, weight: np.ndarray, count: int, rng: np.random.Generator,
                     ) -> np.ndarray:
    # weighted k-means++: far, heavy points are likelier next centres
    centres = [xy[rng.choice(len(xy), p=weight / weight.sum())]]
    for _ in range(1, count):
        d2 = ((xy[:, None, :] - np.array(centres)[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        score = d2 * weight
        total = score.sum()
        pick = int(rng.choice(len(xy), p=score / total)) if total > 0 else int(rng.integers(len(xy)))
        centres.append(xy[pick])
    return np.array(centres, dtype=float)


def balance_centres(xy: np.ndarray, weight: np.ndarray, count: int, seed: int = 0,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Centres and additive power weights whose cells hold about equal total ``weight``."""
    rng = np.random.default_rng(seed)
    centres = _initial_centres(xy, weight, count, rng)
    power = np.zeros(count)
    target = weight.sum() / count
    for _ in range(ITERATIONS):
        d2 = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        owner = np.argmin(d2 - power[None, :], axis=1)
        load = np.bincount(owner, weights=weight, minlength=count)
        scale = float(np.median(d2.min(axis=1))) + 1.0
        power += 0.5 * scale * (target - load) / target
        for k in range(count):
            mine = owner == k
            if mine.any():
                centres[k] = np.average(xy[mine], axis=0, weights=weight[mine])
    return centres, power


def _clip_half_plane(ring: list[tuple[float, float]], normal: np.ndarray, offset: float,
                     ) -> list[tuple[float, float]]:
    # Sutherland-Hodgman against normal·p <= offset, for a convex ring
    out: list[tuple[float, float]] = []
    for i, p in enumerate(ring):
        q = ring[(i + 1) % len(ring)]
        p_in = normal @ p <= offset
        q_in = normal @ q <= offset
        if p_in:
            out.append(p)
        if p_in != q_in:
            t = (offset - normal @ p) / (normal @ (np.subtract(q, p)))
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def power_cells(centres: np.ndarray, power: np.ndarray, bounds: tuple[float, ...]) -> list[Polygon]:
    """The power-diagram cell of each centre inside the box ``bounds`` (empty when none)."""
    minx, miny, maxx, maxy = bounds
    box = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy)]
    cells = []
    for k, c in enumerate(centres):
        ring = box
        for j, other in enumerate(centres):
            if j == k or not ring:
                continue
            # |x-c|² - w_k <= |x-o|² - w_j  <=>  2x·(o-c) <= |o|²-|c|² - w_j + w_k
            normal = 2 * (other - c)
            offset = float(other @ other - c @ c - power[j] + power[k])
            ring = _clip_half_plane(ring, normal, offset)
        cells.append(Polygon(ring) if len(ring) >= 3 else Polygon())
    return cells


def suggest_partition(area: BaseGeometry, lonlat: np.ndarray, weight: np.ndarray, count: int,
                      frame: MetricFrame, seed: int = 0) -> Partition:
    """Split WGS84 ``area`` into about ``count`` grids of balanced total ``weight``.

    ``lonlat`` are the weighted points (WGS84). With fewer points than
    grids, the area itself is sampled on a regular lattice so the grids come
    out of similar size. Cells that end up empty are dropped, so fewer grids
    than asked may come back for a tiny community.
    """
    metric_area = frame.to_metric(area)
    xy = frame.points_to_metric(lonlat)
    if len(xy) < count:
        xy, weight = _lattice(metric_area, max(count * 20, 200))
    centres, power = balance_centres(xy, weight, count, seed)
    minx, miny, maxx, maxy = metric_area.bounds
    pad = max(maxx - minx, maxy - miny)
    cells = power_cells(centres, power, (minx - pad, miny - pad, maxx + pad, maxy + pad))
    cells = [c for c in cells if not c.is_empty and c.intersects(metric_area)]
    cells_wgs84 = list(frame.to_wgs84(np.asarray(cells, dtype=object)))
    faces = _faces_in(area, cells_wgs84)
    owners = owner_of_faces(faces, cells_wgs84)
    groups: list[list[Polygon]] = [[] for _ in cells_wgs84]
    for face, owner in zip(faces, owners, strict=True):
        # a face on no cell is a rounding crumb between cells: the cell nearest takes it
        if owner < 0:
            owner = int(np.argmin(shapely.distance(np.asarray(cells_wgs84, dtype=object),
                                                   shapely.point_on_surface(face))))
        groups[owner].append(face)
    grids = [as_polygonal(shapely.coverage_union_all(g)) for g in _without_strays(groups) if g]
    return Partition(grids)


def _without_strays(groups: list[list[Polygon]], rounds: int = 4) -> list[list[Polygon]]:
    """Give every stray piece of a grid to the neighbouring grid it shares the longest edge with.

    Where a power cell crosses a concave bend of the community outline, a
    small piece of it can end up apart from the rest: a two-part grid a
    worker cannot patrol, and often a sliver. Faces come from one noded
    linework, so moving a face keeps every shared edge exact.
    """
    for _ in range(rounds):
        faces = [f for g in groups for f in g]
        owner = [i for i, g in enumerate(groups) for _ in g]
        tree = shapely.STRtree(faces)
        moves: list[tuple[Polygon, int, int]] = []
        for index, group in enumerate(groups):
            if len(group) < 2:
                continue
            body = shapely.coverage_union_all(group)
            parts = list(getattr(body, "geoms", [body]))
            if len(parts) < 2:
                continue
            main = max(parts, key=lambda part: part.area)
            for face in group:
                if main.covers(shapely.point_on_surface(face)):
                    continue
                shared: dict[int, float] = {}
                for near in tree.query(face, predicate="intersects"):
                    other = owner[int(near)]
                    if other != index:
                        length = shapely.intersection(face.boundary, faces[int(near)].boundary).length
                        shared[other] = shared.get(other, 0.0) + length
                if shared and max(shared.values()) > 0:
                    moves.append((face, index, max(shared, key=lambda g: shared[g])))
        if not moves:
            break
        for face, source, target in moves:
            groups[source] = [f for f in groups[source] if f is not face]
            groups[target].append(face)
    return groups


def _faces_in(area: BaseGeometry, cells: list[Polygon]) -> list[Polygon]:
    # Cells are clipped one by one, so their shared edges only nearly agree:
    # snap-round the cell linework to clean it, but node it with the
    # community's outline in floating precision so the outline's vertices
    # stay exactly as stored (snapping them too would open centimetre gaps).
    cell_lines = shapely.union_all(np.asarray([shapely.boundary(c) for c in cells], dtype=object),
                                   grid_size=NODING_GRID_DEG)
    # unclipped, so cell edges cross the outline properly and get noded there
    faces = faces_of([cell_lines, shapely.boundary(area)], grid_size=None)
    shapely.prepare(area)
    return [f for f in faces if area.contains(shapely.point_on_surface(f))]


def _lattice(area: BaseGeometry, count: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = area.bounds
    step = max(np.sqrt((maxx - minx) * (maxy - miny) / count), 1.0)
    xs, ys = np.meshgrid(np.arange(minx + step / 2, maxx, step), np.arange(miny + step / 2, maxy, step))
    points = np.column_stack((xs.ravel(), ys.ravel()))
    inside = shapely.contains_xy(area, points[:, 0], points[:, 1])
    points = points[inside] if inside.any() else np.array([[area.centroid.x, area.centroid.y]])
    return points, np.ones(len(points))
