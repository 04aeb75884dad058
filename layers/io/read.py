"""Read a district's file into a table of wangge fields and WGS84 geometries, noting every problem.

Formats: GeoJSON, GeoPackage (``layer`` picks one of several), Shapefile
(also inside a ``.zip``) through pyogrio, and CSV with longitude/latitude
columns. The coordinate system is the file's own when it declares one with
an EPSG code, else ``Options.crs``; ``Options.crs`` also overrides a file
that declares the wrong one (a GeoJSON in GCJ-02 claims WGS84 by RFC 7946).
A file with no system and no ``crs`` is refused: a guess puts every point
hundreds of metres off.

Columns are found by wangge's field name, the field's Shapefile short
name, or ``Options.fields`` (wangge name → column), case-insensitively.
Values may be translated first with ``Options.values`` (wangge name →
{file value: wangge value}). Reading never raises for bad rows: they are
recorded in :class:`~layers.io.problems.Problems`; it raises
:class:`~layers.io.problems.ImportRefused` only when the file as a whole
cannot be used.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from geo.crs import Crs, CrsError, parse_crs
from geo.reproject import bad_coordinates, to_wgs84
from layers.io.convert import as_floats, convert_columns
from layers.io.problems import ImportRefused, Problems
from layers.io.spec import LayerSpec

LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
MAX_VERTICES = {"districts": 500_000, "streets": 100_000, "communities": 50_000, "grids": 5_000,
                "buildings": 1_000, "stall_zones": 2_000}
"""Vertices per feature; beyond this a shape is a mistake (a grid of 10,000 vertices is a traced raster)."""


@dataclass
class Options:
    """How to read a file: its system, layer, column names, value translations, encoding."""

    crs: Crs | None = None
    layer: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    encoding: str | None = None
    make_valid: bool = False
    drop_z: bool = False
    timezone: str = "Asia/Shanghai"


@dataclass
class Table:
    """A layer as read: wangge-named, converted columns and WGS84 geometries, row-aligned.

    ``rows`` are 1-based feature numbers in the file; ``usable`` marks rows
    without an error so far (later checks still look at every row).
    """

    spec: LayerSpec
    source: str
    crs: Crs
    columns: dict[str, np.ndarray]
    geoms: np.ndarray
    problems: Problems
    raw_xy: np.ndarray | None = None
    """Point layers: each point as the file gave it, in ``crs`` (kept with imported cases)."""
    first_row: int = 1
    """The file's row number of the first row (a part of a file starts further on)."""

    def __len__(self) -> int:
        return len(self.geoms)

    @property
    def rows(self) -> np.ndarray:
        """1-based row numbers in the file."""
        return np.arange(self.first_row, self.first_row + len(self))

    @property
    def codes(self) -> np.ndarray:
        """The code of each row (or its external reference for history), for the report."""
        key = "code" if "code" in self.columns else "external_ref"
        return self.columns.get(key, np.array([""] * len(self), dtype=object))


def _open_path(path: Path) -> str:
    if not path.exists():
        raise ImportRefused(f"{path}: no such file")
    return f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)


def _read_csv(path: Path, options: Options) -> tuple[pd.DataFrame, None]:
    # every value as the text it is (no guessed types, no "NA" read as missing); Arrow's strings,
    # made Python's only for the columns that are read as text (numbers are parsed from Arrow's)
    read = functools.partial(pd.read_csv, path, dtype=str, keep_default_na=False,
                             encoding=options.encoding or "utf-8")
    try:
        try:
            # Arrow's reader parses on every core outside Python's lock (a million rows: 1.3 s
            # against 1.7 s); a file it will not take as it is (a ragged row, bytes not in the
            # encoding, anything) is read again by pandas' own, whose answers and messages stand
            frame = read(engine="pyarrow")
        except Exception:  # any refusal: the second reader decides
            frame = read()
    except UnicodeDecodeError:
        raise ImportRefused(f"{path.name}: not valid {options.encoding or 'UTF-8'} text; "
                            "give the file's encoding with --encoding (e.g. GBK)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ImportRefused(f"{path.name}: not a readable CSV file ({str(exc)[:120]})") from None
    return frame, None


def _read_ogr(path: Path, options: Options) -> tuple[pd.DataFrame, Any]:
    target = _open_path(path)
    try:
        layers = pyogrio.list_layers(target)
    except (DataSourceError, DataLayerError, OSError):
        raise ImportRefused(f"{path.name}: not a file GDAL can read as GeoJSON, GeoPackage or Shapefile") from None
    names = [str(n) for n in layers[:, 0]]
    if options.layer is None and len(names) > 1:
        raise ImportRefused(f"{path.name} holds {len(names)} layers ({', '.join(names[:10])}); "
                            "choose one with --layer")
    if options.layer is not None and options.layer not in names:
        raise ImportRefused(f"{path.name} has no layer {options.layer!r}; it has: {', '.join(names[:10])}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's notes on encodings go to the report instead
            frame = pyogrio.read_dataframe(target, layer=options.layer, encoding=options.encoding)
    except (DataSourceError, DataLayerError, UnicodeDecodeError, ValueError, OSError,
            shapely.errors.GEOSException) as exc:  # GEOS: a shape GDAL passed on unchecked (an unclosed ring)
        raise ImportRefused(f"{path.name}: cannot be read ({str(exc).splitlines()[0][:160]})") from None
    return frame, getattr(frame, "crs", None)


def _declared_crs(declared: Any, source: str) -> Crs | None:
    if declared is None:
        return None
    code = declared.to_epsg(min_confidence=70)
    if code is None:
        raise ImportRefused(f"{source}: its coordinate system ({declared.name}) has no EPSG code; "
                            "name it with --crs")
    try:
        return parse_crs(f"EPSG:{code}")
    except CrsError as exc:
        raise ImportRefused(f"{source}: {exc}") from None


def _column_lookup(frame: pd.DataFrame, spec: LayerSpec, options: Options) -> dict[str, str]:
    """Wangge field → file column, by explicit mapping, then name, then Shapefile short name."""
    by_lower = {str(c).lower(): str(c) for c in frame.columns if c != "geometry"}
    found: dict[str, str] = {}
    for wanted, column in options.fields.items():
        if column.lower() not in by_lower:
            raise ImportRefused(f"--field {wanted}={column}: the file has no column {column!r}; "
                                f"it has: {', '.join(list(by_lower.values())[:20])}")
        found[wanted] = by_lower[column.lower()]
    for f in spec.fields:
        if f.name in found:
            continue
        for candidate in (f.name, f.dbf_name):
            if candidate.lower() in by_lower:
                found[f.name] = by_lower[candidate.lower()]
                break
    return found


def _csv_points(frame: pd.DataFrame, options: Options, problems: Problems, source: str,
                first_row: int) -> np.ndarray:
    lookup = {str(c).lower(): str(c) for c in frame.columns}

    def pick(names: tuple[str, ...], which: str) -> str:
        if which in options.fields:
            names = (options.fields[which].lower(),)
        for name in names:
            if name in lookup:
                return lookup[name]
        raise ImportRefused(f"{source}: no {which} column (looked for {', '.join(names)}); "
                            f"name it with --field {which}=COLUMN")

    xs = as_floats(frame[pick(LON_NAMES, "lon")])
    ys = as_floats(frame[pick(LAT_NAMES, "lat")])
    missing = ~(np.isfinite(xs) & np.isfinite(ys))
    if missing.any():
        problems.error("coordinates", "longitude/latitude missing or not a number",
                       np.flatnonzero(missing) + first_row)
    points = shapely.points(xs, ys)
    points[missing] = None
    return np.asarray(points, dtype=object)


def _csv_wkt(frame: pd.DataFrame, problems: Problems, source: str, first_row: int) -> np.ndarray:
    lookup = {str(c).lower(): str(c) for c in frame.columns}
    column = lookup.get("wkt") or lookup.get("geometry")
    if column is None:
        raise ImportRefused(f"{source}: polygons in CSV need a 'wkt' column of WKT shapes; "
                            "or use GeoJSON, GeoPackage or Shapefile")
    geoms = np.full(len(frame), None, dtype=object)
    for i, text in enumerate(frame[column].to_numpy(dtype=object)):
        try:
            geoms[i] = shapely.from_wkt(text) if text else None
        except shapely.errors.ShapelyError:
            problems.error("geometry", "not a WKT shape", [i + first_row])
    return geoms


@dataclass
class Source:
    """A file read but not yet converted; :meth:`table` converts its rows, all or a slice at a time.

    A large file can so be converted, checked and stored part by part, each
    part's problems going to the one :attr:`problems` with the file's own
    row numbers (:func:`read_table` converts it whole).
    """

    spec: LayerSpec
    name: str
    crs: Crs
    frame: pd.DataFrame
    is_csv: bool
    options: Options
    columns: dict[str, str]
    """Wangge field → the file's column."""
    problems: Problems = field(default_factory=Problems)

    def __len__(self) -> int:
        return len(self.frame)

    def table(self, start: int = 0, stop: int | None = None) -> Table:
        """Rows ``start`` to ``stop`` (0-based, ``stop`` excluded) converted: columns, WGS84 shapes, problems."""
        spec, options, problems = self.spec, self.options, self.problems
        frame = self.frame.iloc[start:stop] if start or stop is not None else self.frame
        first_row = start + 1
        if self.is_csv:
            raw_geoms = _csv_points(frame, options, problems, self.name, first_row) if spec.geometry == "point" \
                else _csv_wkt(frame, problems, self.name, first_row)
        else:
            raw_geoms = np.asarray(frame.geometry.array, dtype=object) if "geometry" in frame else \
                np.full(len(frame), None, dtype=object)
        converted = convert_columns(frame, spec, self.columns, options.values, options.timezone, problems, first_row)
        geoms = _geometries(raw_geoms, spec, self.crs, options, problems, first_row)
        raw_xy = None
        if spec.geometry == "point":
            raw_xy = np.full((len(geoms), 2), np.nan)
            present = ~shapely.is_missing(geoms)
            raw_points = np.asarray(raw_geoms, dtype=object)[present]
            single = shapely.get_type_id(raw_points) == 0
            raw_xy[np.flatnonzero(present)[single]] = shapely.get_coordinates(raw_points[single])[:, :2]
        return Table(spec, self.name, self.crs, converted, geoms, problems, raw_xy, first_row)


def open_source(path: Path, spec: LayerSpec, options: Options) -> Source:
    """Read ``path`` for layer ``spec``: its rows, columns and coordinate system, nothing converted yet."""
    path = Path(path)
    is_csv = path.suffix.lower() in (".csv", ".txt")
    frame, declared = _read_csv(path, options) if is_csv else _read_ogr(path, options)
    if len(frame) == 0:
        raise ImportRefused(f"{path.name}: the layer is empty")
    crs = options.crs or _declared_crs(declared, path.name)
    if crs is None:
        raise ImportRefused(f"{path.name} does not say which coordinate system it is in; "
                            "name it with --crs (wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>)")
    return Source(spec, path.name, crs, frame, is_csv, options, _column_lookup(frame, spec, options))


def read_table(path: Path, spec: LayerSpec, options: Options) -> Table:
    """Read ``path`` as layer ``spec``: columns converted, geometries in WGS84, problems noted."""
    return open_source(path, spec, options).table()


def _geometries(raw: np.ndarray, spec: LayerSpec, crs: Crs, options: Options, problems: Problems,
                first_row: int = 1) -> np.ndarray:
    """Check shapes (presence, type, Z, size, validity), convert to WGS84."""
    rows = np.arange(first_row, first_row + len(raw))
    missing = shapely.is_missing(raw) | shapely.is_empty(raw)
    if missing.any():
        problems.error("geometry", "no geometry", rows[missing])
    geoms = raw.copy()
    geoms[missing] = None
    geoms = _shape_types(geoms, spec, rows, problems)
    has_z = shapely.has_z(geoms)
    if has_z.any() and not options.drop_z:
        problems.error("z_values", "the shapes carry Z (height) values; wangge keeps 2D shapes: "
                       "rerun with --drop-z to drop them", rows[has_z])
    limit = MAX_VERTICES.get(spec.name)
    if limit:
        big = shapely.get_num_coordinates(geoms) > limit
        if big.any():
            problems.error("too_many_vertices", f"more than {limit:,} vertices in one {spec.singular}",
                           rows[big])
            geoms[big] = None
    try:
        wgs = to_wgs84(geoms, crs)
    except (CrsError, ValueError) as exc:
        raise ImportRefused(f"cannot convert from {crs.name}: {exc}") from None
    bad = ~shapely.is_missing(wgs) & bad_coordinates(wgs)
    if bad.any():
        problems.error("coordinates", f"coordinates that are not valid in {crs.name}: is the coordinate "
                       "system right (--crs)?", rows[bad])
        wgs[bad] = None
    if spec.geometry == "polygon":
        wgs = _valid_polygons(wgs, rows, options.make_valid, problems)
    return np.asarray(wgs, dtype=object)


def _shape_types(geoms: np.ndarray, spec: LayerSpec, rows: np.ndarray, problems: Problems) -> np.ndarray:
    """Refuse shapes of the wrong kind; a one-point MultiPoint becomes its point."""
    missing = shapely.is_missing(geoms)
    kinds = shapely.get_type_id(geoms)
    wanted = (3, 6) if spec.geometry == "polygon" else (0, 4)
    wrong = ~missing & ~np.isin(kinds, wanted)
    if wrong.any():
        names = sorted({shapely.get_type_id(g) for g in geoms[wrong]})
        shown = ", ".join(_TYPE_NAMES.get(int(n), str(n)) for n in names)
        problems.error("geometry_type", f"{spec.name} need {spec.geometry}s; found {shown}", rows[wrong])
        geoms[wrong] = None
    multi_points = shapely.get_type_id(geoms) == 4
    if multi_points.any():
        several = multi_points & (shapely.get_num_geometries(geoms) != 1)
        if several.any():
            problems.error("geometry_type", "a MultiPoint with several points; one point per feature",
                           rows[several])
            geoms[several] = None
        geoms[multi_points & ~several] = shapely.get_geometry(geoms[multi_points & ~several], 0)
    if spec.single_polygon:
        several = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) > 1)
        if several.any():
            problems.error("geometry_type", f"{spec.name} are single polygons; found a MultiPolygon of "
                           "several parts", rows[several])
            geoms[several] = None
    return geoms


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def _valid_polygons(geoms: np.ndarray, rows: np.ndarray, make_valid: bool, problems: Problems) -> np.ndarray:
    present = ~shapely.is_missing(geoms)
    invalid = present & ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms
    reasons = [shapely.is_valid_reason(g) for g in geoms[invalid]]
    if not make_valid:
        for reason in sorted(set(reasons)):
            which = rows[invalid][[r == reason for r in reasons]]
            problems.error("invalid_geometry", f"invalid shape: {reason.split('[')[0].strip()} "
                           "(repair with --make-valid)", which)
        geoms = geoms.copy()
        geoms[invalid] = None
        return geoms
    repaired = geoms.copy()
    for i in np.flatnonzero(invalid):
        fixed = shapely.make_valid(geoms[i])
        parts = [p for p in shapely.get_parts(fixed) if shapely.get_type_id(p) in (3, 6)]
        repaired[i] = shapely.union_all(parts) if parts else None
    problems.warning("repaired", "invalid shape repaired (--make-valid)", rows[invalid])
    lost = invalid & shapely.is_missing(repaired)
    if lost.any():
        problems.error("invalid_geometry", "invalid shape with no area left after repair", rows[lost])
    return repaired
