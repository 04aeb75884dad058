"""Checks of a read layer against itself and the store, all run before anything is written.

Codes: unique in the file; for the admin hierarchy GB/T 30428-shaped
(6/9/12/15 digits) and nested in a parent that exists. Shapes: the
children of each parent must tile it (no gap, overlap or piece outside),
checked by the same function and tolerance as a planning proposal
(:func:`geo.planning.coverage.check_coverage`), on the state the import
would leave: the file's children plus the stored ones it does not name
(or, with ``replace``, the file's alone). Points and buildings must lie in
a stored district. Teams need a known type and area; cases a catalogue
entry.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from shapely.geometry.base import BaseGeometry

from geo.planning.coverage import DEFAULT_SNAP_M, check_coverage
from geo.planning.metric import MetricFrame
from layers.io.read import Table
from layers.io.spec import LAYERS, LayerSpec

GAP_REPORT_LIMIT = 5
"""Gaps and overlaps listed per parent; their count is always given."""


@dataclass
class Store:
    """What the checks need from the database, read once per import."""

    districts: dict[str, BaseGeometry] = field(default_factory=dict)
    parents: dict[str, BaseGeometry] = field(default_factory=dict)
    children: dict[str, dict[str, BaseGeometry]] = field(default_factory=dict)
    team_types: set[str] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)
    sensors: dict[str, str] = field(default_factory=dict)
    points: set[str] = field(default_factory=set)
    """Waterlogging points: each stored sensor id and the code of the point that has it (unique in the store)."""


def _geoms(conn: psycopg.Connection, query: sql.SQL | sql.Composed,
           params: dict | None = None) -> dict[str, BaseGeometry]:
    return {str(code).strip(): shapely.from_wkb(wkb) for code, wkb in conn.execute(query, params or {})}


def load_store(conn: psycopg.Connection, spec: LayerSpec, table: Table | None) -> Store:
    """Read the districts, the parents and current children the file touches, and the lookup lists.

    ``table`` names the codes whose parents are read (layers with a parent only).
    """
    store = Store(districts=_geoms(conn, sql.SQL("SELECT code, ST_AsBinary(geom) FROM districts")))
    if spec.parent and spec.parent_column and spec.code_digits and table is not None:
        prefixes = sorted({str(c)[: spec.code_digits - 3] for c in table.columns["code"] if c})
        store.parents = _geoms(conn, sql.SQL("SELECT code, ST_AsBinary(geom) FROM {} WHERE code = ANY(%(codes)s)")
                               .format(sql.Identifier(spec.parent)), {"codes": prefixes})
        current = sql.SQL(" AND valid_to IS NULL") if spec.table == "grids" else sql.SQL("")
        query = sql.SQL("SELECT {parent}, code, ST_AsBinary(geom) FROM {table} WHERE {parent} = ANY(%(codes)s){cur}")
        children: dict[str, dict[str, BaseGeometry]] = defaultdict(dict)
        for parent, code, wkb in conn.execute(query.format(parent=sql.Identifier(spec.parent_column),
                                                           table=sql.Identifier(spec.table), cur=current),
                                              {"codes": list(store.parents)}):
            children[str(parent).strip()][str(code).strip()] = shapely.from_wkb(wkb)
        store.children = dict(children)
    if spec.name == "teams":
        store.team_types = {r[0] for r in conn.execute("SELECT code FROM team_types")}
        store.areas = {str(r[0]).strip() for r in conn.execute(
            "SELECT code FROM districts UNION ALL SELECT code FROM streets UNION ALL SELECT code FROM communities")}
    if spec.name == "incidents":
        store.categories = {r[0] for r in conn.execute("SELECT code FROM catalogue")}
    if spec.name == "sensors":
        store.points = {str(r[0]) for r in conn.execute("SELECT code FROM waterlogging_points")}
    if spec.name == "waterlogging_points":
        store.sensors = {str(s): str(c).strip() for s, c in conn.execute(
            "SELECT sensor_id, code FROM waterlogging_points")}
    return store


def run_checks(table: Table, store: Store, replace: bool = False, snap_m: float = DEFAULT_SNAP_M,
               whole: bool = True) -> None:
    """Add every problem of ``table`` (against ``store``) to ``table.problems``.

    ``whole=False``: the table is a part of a file; the checks that compare
    rows with each other (repeated codes) wait for :func:`run_file_checks`.
    """
    spec = table.spec
    if "code" in table.columns and whole:
        _unique(table, "code")
    if spec.code_digits:
        _hierarchy_codes(table, store)
        if spec.parent:
            _tiling(table, store, replace, snap_m)
    elif spec.name != "districts":
        _inside_districts(table, store)
    if spec.name == "teams":
        _known(table, "type", store.team_types, "unknown team type")
        _known(table, "area_code", store.areas, "no district, street or community has this code")
    if spec.name == "waterlogging_points":
        _levels(table)
        sensors = np.where(table.columns["sensor_id"] == None, table.columns["code"],  # noqa: E711
                           table.columns["sensor_id"])
        table.columns["sensor_id"] = sensors
        _unique(table, "sensor_id")
        _sensors_free(table, store)
    if spec.name == "sensors":
        _known(table, "watches", store.points, "is not a stored waterlogging point")
        _sensor_levels(table)
    if spec.name == "incidents":
        if whole:
            _unique(table, "external_ref")
        _known(table, "category", store.categories, "not in the catalogue (map old codes with --map-values)")


def run_file_checks(parts: Sequence[Table]) -> None:
    """The checks across rows, for a file checked part by part (``run_checks(..., whole=False)``).

    ``parts`` are the file's parts in order, so their codes, joined, are
    the file's with its own row numbers.
    """
    first = parts[0]
    names: list[str] = [n for n in ("code", "external_ref") if n in first.columns]
    joined: dict[str, np.ndarray] = {n: np.concatenate([p.columns[n] for p in parts]) for n in names}
    whole = Table(first.spec, first.source, first.crs, joined,
                  np.empty(sum(len(p) for p in parts), dtype=object), first.problems, first_row=first.first_row)
    if "code" in whole.columns:
        _unique(whole, "code")
    if first.spec.name == "incidents":
        _unique(whole, "external_ref")


def _as_keys(values: np.ndarray) -> pd.Series:
    """Values compared as their text (so 7 and "7" are one code), hashed rather than sorted."""
    if pd.api.types.infer_dtype(values, skipna=False) not in ("string", "empty"):
        values = np.array([str(v) for v in values], dtype=object)
    return pd.Series(values, dtype=object)


def _unique(table: Table, name: str) -> None:
    values = np.asarray(table.columns[name], dtype=object)
    present = (values != None) & (values != "")  # noqa: E711  (element by element)
    repeated = _as_keys(values[present]).duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = table.rows[present][repeated]
        table.problems.error("duplicate_code", f"{name} used by more than one row", rows, values[present][repeated],
                             field_name=name)


def _sensors_free(table: Table, store: Store) -> None:
    """A sensor id another stored point keeps (one the file does not name) would break the store's unique rule."""
    codes = [str(c) for c in table.columns["code"]]
    named = set(codes)
    owners = [store.sensors.get(str(s)) for s in table.columns["sensor_id"]]
    taken = np.array([o is not None and o != c and o not in named for o, c in zip(owners, codes, strict=True)],
                     dtype=bool)
    if taken.any():
        table.problems.error("duplicate_code", "sensor_id already belongs to another stored waterlogging point",
                             table.rows[taken], table.codes[taken], field_name="sensor_id")


def _hierarchy_codes(table: Table, store: Store) -> None:
    spec, codes, rows = table.spec, table.columns["code"], table.rows
    digits = spec.code_digits or 0
    shape = re.compile(rf"^\d{{{digits}}}$")
    bad = np.array([not (isinstance(c, str) and shape.match(c)) for c in codes], dtype=bool)
    if bad.any():
        table.problems.error("code_shape", f"a {spec.singular} code has {digits} digits (GB/T 30428)",
                             rows[bad], codes[bad], field_name="code")
    if spec.parent:
        orphan = ~bad & np.array([str(c)[: digits - 3] not in store.parents for c in codes], dtype=bool)
        if orphan.any():
            table.problems.error("code_parent", f"no {LAYERS[spec.parent].singular} has the code these begin with "
                                 f"(its first {digits - 3} digits)", rows[orphan], codes[orphan], field_name="code")


def _tiling(table: Table, store: Store, replace: bool, snap_m: float) -> None:
    spec, codes = table.spec, table.columns["code"]
    digits = spec.code_digits or 0
    by_parent: dict[str, list[int]] = defaultdict(list)
    for i, code in enumerate(codes):
        if isinstance(code, str) and code[: digits - 3] in store.parents:
            by_parent[code[: digits - 3]].append(i)
    for parent, idx in sorted(by_parent.items()):
        if any(shapely.is_missing(table.geoms[i]) for i in idx):
            continue  # a shape already refused; coverage needs them all
        keys = [str(codes[i]) for i in idx]
        geoms = [table.geoms[i] for i in idx]
        if not replace:
            kept = {k: g for k, g in store.children.get(parent, {}).items() if k not in set(keys)}
            keys += list(kept)
            geoms += list(kept.values())
        _report_coverage(table, parent, keys, geoms, store.parents[parent], idx, snap_m)


def _report_coverage(table: Table, parent: str, keys: list[str], geoms: list[BaseGeometry],
                     outline: BaseGeometry, idx: list[int], snap_m: float) -> None:
    frame = MetricFrame.around(outline)
    result = check_coverage(keys, np.asarray(geoms, dtype=object), outline, frame, snap_m=snap_m)
    # what is stored is what was checked: the shapes conformed to the parent within the tolerance
    for position, i in enumerate(idx):
        table.geoms[i] = result.grids[position]
    row_of = {str(table.columns["code"][i]): int(table.rows[i]) for i in idx}
    problems, what = table.problems, f"{LAYERS[table.spec.parent].singular if table.spec.parent else 'parent'} {parent}"
    for (a, b), _shape in result.overlaps[:GAP_REPORT_LIMIT]:
        problems.error("overlap", f"overlaps another {table.spec.singular} inside {what}",
                       [row_of.get(a, 0) or row_of.get(b, 0)], [f"{a}/{b}"])
    if len(result.overlaps) > GAP_REPORT_LIMIT:
        problems.error("overlap", f"{len(result.overlaps) - GAP_REPORT_LIMIT} more overlaps inside {what}")
    if result.gaps:
        area = sum(shapely.area(frame.to_metric(np.asarray(result.gaps, dtype=object))))
        problems.error("gap", f"{len(result.gaps)} gap(s), {area:,.1f} m² in all, in {what}: its children "
                       "must cover it", codes=[parent])
    for key, _shape in result.outside[:GAP_REPORT_LIMIT]:
        problems.error("outside", f"reaches outside {what}", [row_of.get(key, 0)], [key])
    if not result.valid_edges and not (result.overlaps or result.gaps or result.outside):
        bad = [k for k, _e in result.invalid_edges]
        problems.error("edges", f"edges that do not match their neighbours' in {what}",
                       [row_of.get(k, 0) for k in bad], bad)


def _inside_districts(table: Table, store: Store) -> None:
    if not store.districts:
        table.problems.error("no_district", "no district is stored yet: run `wangge init` first")
        return
    territory = shapely.union_all(list(store.districts.values()))
    shapely.prepare(territory)
    present = ~shapely.is_missing(table.geoms)
    probes = np.asarray(table.geoms, dtype=object).copy()
    polygons = present & np.isin(shapely.get_type_id(probes), (3, 6))
    probes[polygons] = shapely.point_on_surface(probes[polygons])
    outside = present.copy()
    outside[present] = ~shapely.covers(territory, probes[present])
    if outside.any():
        table.problems.error("outside_district", "lies outside every stored district", table.rows[outside],
                             table.codes[outside])


def _known(table: Table, name: str, known: set[str], message: str) -> None:
    values = np.asarray(table.columns[name], dtype=object)
    given = values != None  # noqa: E711  (element by element)
    unknown = np.zeros(len(values), dtype=bool)
    unknown[given] = ~_as_keys(values[given]).isin(known).to_numpy()
    if unknown.any():
        table.problems.error("unknown_value", f"{name} {message}", table.rows[unknown], table.codes[unknown],
                             field_name=name, values={str(v)[:20] for v in values[unknown]})


def _sensor_levels(table: Table) -> None:
    # a level left empty comes from the watched point, checked there; the given ones must nest
    warn, alarm, clear = (np.array([np.nan if v is None else v for v in table.columns[name]], dtype=float)
                          for name in ("warn_level", "alarm_level", "clear_level"))
    with np.errstate(invalid="ignore"):
        bad = (warn > alarm) | (clear >= alarm)
    if bad.any():
        table.problems.error("levels", "a sensor's warn_level may not be above its alarm_level, nor its "
                             "clear_level at or above it", table.rows[bad], table.codes[bad])


def _levels(table: Table) -> None:
    warn = np.asarray(table.columns["warn_level_cm"], dtype=float)
    alarm = np.asarray(table.columns["alarm_level_cm"], dtype=float)
    with np.errstate(invalid="ignore"):
        bad = alarm <= warn
    if bad.any():
        table.problems.error("levels", "alarm_level_cm must be above warn_level_cm", table.rows[bad],
                             table.codes[bad])
