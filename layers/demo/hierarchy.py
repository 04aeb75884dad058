"""Generate streets, communities and grids that tile a district exactly.

All work here is in a metric CRS (metres), so "about 400 m across" means what
it says. The grids are a Voronoi diagram of jittered seeds, relaxed once,
whose edges are noded together with the district boundary and polygonized:
neighbouring grids then share the very same vertices, which clipping each
cell separately does not guarantee. Communities and streets are grown as
contiguous groups of grids (then of communities) and are the exact unions of
their children, so nesting holds by construction.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Hierarchy:
    """Polygons of each level, plus the parent index of every child."""

    streets: list[MultiPolygon]
    communities: list[MultiPolygon]
    community_street: list[int]
    grids: list[MultiPolygon]
    grid_community: list[int]


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Return ``geom`` as a MultiPolygon (the store's column type)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polygons = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return MultiPolygon([p for g in polygons for p in (g.geoms if isinstance(g, MultiPolygon) else [g])])


def sample_points(area: BaseGeometry, count: int, rng: np.random.Generator,
                  weight: np.ndarray | None = None) -> np.ndarray:
    """Draw ``count`` points uniformly inside ``area`` (rejection sampling).

    ``weight`` is an optional ``(north_bias, )`` parameter: with it, points in
    the northern half are kept more often, as the urban north of a district is
    denser than its lakeside south.
    """
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    found: list[np.ndarray] = []
    total = 0
    while total < count:
        batch = rng.uniform((minx, miny), (maxx, maxy), size=(count * 3, 2))
        inside = shapely.contains_xy(area, batch[:, 0], batch[:, 1])
        if weight is not None:
            north = (batch[:, 1] - miny) / (maxy - miny)
            inside &= rng.random(len(batch)) < (1 - float(weight[0])) + float(weight[0]) * north
        found.append(batch[inside])
        total += int(inside.sum())
    return np.concatenate(found)[:count]


def voronoi_tiling(area: Polygon | MultiPolygon, seeds: np.ndarray) -> list[MultiPolygon]:
    """Split ``area`` into one piece per seed whose pieces share exact edges.

    A seed whose Voronoi cell misses the area yields an empty geometry;
    callers drop those.
    """
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area).geoms
    lines = shapely.union_all([shapely.boundary(c) for c in cells] + [area.boundary])
    faces = [f for f in shapely.polygonize(list(lines.geoms)).geoms
             if area.contains(f.representative_point())]
    tree = shapely.STRtree(list(cells))
    pieces: dict[int, list[Polygon]] = defaultdict(list)
    for face in faces:
        point = face.representative_point()
        hits = tree.query(point, predicate="within")
        pieces[int(hits[0])].append(face)
    seed_of_cell = _seed_order(cells, seeds)
    result: list[MultiPolygon] = [MultiPolygon() for _ in range(len(seeds))]
    for cell_index, parts in pieces.items():
        result[seed_of_cell[cell_index]] = as_multipolygon(shapely.coverage_union_all(parts))
    return result


def _seed_order(cells: list[BaseGeometry] | tuple[BaseGeometry, ...], seeds: np.ndarray) -> list[int]:
    # GEOS returns Voronoi cells in its own order; map each back to its seed.
    tree = shapely.STRtree(list(cells))
    order = [0] * len(cells)
    for seed_index, hit in zip(*tree.query(shapely.points(seeds), predicate="intersects"), strict=False):
        order[int(hit)] = int(seed_index)
    return order


def relaxed_seeds(area: Polygon | MultiPolygon, count: int, rng: np.random.Generator,
                  north_bias: float) -> np.ndarray:
    """Seeds for ``count`` grids, moved once to their cell centroids (Lloyd) for rounder grids."""
    seeds = sample_points(area, count, rng, np.array([north_bias]))
    cells = voronoi_tiling(area, seeds)
    moved = np.array([
        (c.centroid.x, c.centroid.y) if not c.is_empty else tuple(s)
        for c, s in zip(cells, seeds, strict=True)
    ])
    return moved


def adjacency(polygons: list[MultiPolygon], min_shared_m: float = 1.0) -> list[set[int]]:
    """Neighbours of each polygon: those sharing an edge of at least ``min_shared_m``.

    Touching at a point does not count, so groups grown over this graph are
    connected through real boundaries.
    """
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    neighbours: list[set[int]] = [set() for _ in polygons]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        shared = shapely.intersection(polygons[a].boundary, polygons[b].boundary)
        if shared.length >= min_shared_m:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return neighbours


def grow_regions(centroids: np.ndarray, neighbours: list[set[int]], count: int,
                 rng: np.random.Generator) -> list[int]:
    """Group items into ``count`` connected regions around k-means centres.

    Regions grow from the item nearest each centre by a best-first search
    over ``neighbours``, ordered by distance to that centre: every item is
    reached through its own region, so each region is connected. Items in a
    part of the graph no seed reaches join the nearest region afterwards.
    """
    centres = _kmeans(centroids, count, rng)
    label = [-1] * len(centroids)
    heap: list[tuple[float, int, int]] = []
    for region, centre in enumerate(centres):
        start = int(np.argmin(((centroids - centre) ** 2).sum(axis=1)))
        heapq.heappush(heap, (0.0, start, region))
    while heap:
        _, item, region = heapq.heappop(heap)
        if label[item] != -1:
            continue
        label[item] = region
        for other in neighbours[item]:
            if label[other] == -1:
                dist = float(np.hypot(*(centroids[other] - centres[region])))
                heapq.heappush(heap, (dist, other, region))
    for item, value in enumerate(label):
        if value == -1:
            label[item] = int(np.argmin(((centres - centroids[item]) ** 2).sum(axis=1)))
    return _compact_labels(label)


def _kmeans(points: np.ndarray, count: int, rng: np.random.Generator, rounds: int = 12) -> np.ndarray:
    centres = points[rng.choice(len(points), size=count, replace=False)]
    for _ in range(rounds):
        nearest = np.argmin(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for k in range(count):
            members = points[nearest == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    return centres


def _compact_labels(label: list[int]) -> list[int]:
    # A centre whose start item was taken by another region ends up empty;
    # renumber so labels run 0..n-1 with no holes, in first-seen order.
    mapping: dict[int, int] = {}
    return [mapping.setdefault(value, len(mapping)) for value in label]


def _union_groups(children: list[MultiPolygon], labels: list[int]) -> list[MultiPolygon]:
    groups: dict[int, list[MultiPolygon]] = defaultdict(list)
    for child, group in zip(children, labels, strict=True):
        groups[group].append(child)
    return [as_multipolygon(shapely.coverage_union_all(groups[g])) for g in range(len(groups))]


def build_hierarchy(district: Polygon | MultiPolygon, rng: np.random.Generator, *,
                    grids: int, communities: int, streets: int,
                    north_bias: float = 0.6) -> Hierarchy:
    """Tile ``district`` (metric CRS) into grids and group them into communities and streets.

    The result has about the requested numbers: Voronoi cells that miss a
    concave district are dropped, and regions left without items vanish.
    """
    seeds = relaxed_seeds(district, grids, rng, north_bias)
    grid_polys = [g for g in voronoi_tiling(district, seeds) if not g.is_empty]
    grid_centroids = np.array([(g.centroid.x, g.centroid.y) for g in grid_polys])
    grid_community = grow_regions(grid_centroids, adjacency(grid_polys), communities, rng)
    community_polys = _union_groups(grid_polys, grid_community)
    community_centroids = np.array([(c.centroid.x, c.centroid.y) for c in community_polys])
    community_street = grow_regions(community_centroids, adjacency(community_polys), streets, rng)
    street_polys = _union_groups(community_polys, community_street)
    return Hierarchy(street_polys, community_polys, community_street, grid_polys, grid_community)
