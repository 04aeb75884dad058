"""A new district from its boundary file, and the standard catalogue it starts with.

``wangge init`` reads the outline (any format and system import reads; the
features are merged into one outline), stores the district by its
six-digit code (an upsert: running it again changes nothing) and, in a
database with no catalogue yet, loads the standard one: the "4+X" team
types and the 11 major categories of Baohe's list (a district replaces or
extends it later with its own). Nothing else is created: streets,
communities and grids come from the district's own files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from layers.io.problems import ImportRefused
from layers.io.read import Options, Table, read_table
from layers.io.service import ImportResult, WriteOptions, import_read
from layers.io.spec import DISTRICTS, Field, LayerSpec

# the boundary file need not carry code or name: they come from the command line
_OUTLINE = LayerSpec("districts", "districts", "polygon",
                     tuple(Field(f.name, f.kind, False, f.default, f.short) for f in DISTRICTS.fields),
                     code_digits=6)


@dataclass(frozen=True)
class DistrictInfo:
    """What ``wangge init`` is told about the district."""

    code: str
    name: str
    province: str = ""
    city: str = ""


def outline_table(path: Path, info: DistrictInfo, options: Options) -> Table:
    """The boundary file as a one-row districts table (all features merged)."""
    table = read_table(path, _OUTLINE, options)
    present = [g for g in table.geoms if g is not None]
    if not table.problems.ok or not present:
        merged = None
    else:
        merged = shapely.union_all(present)
        if not isinstance(merged, shapely.Polygon | shapely.MultiPolygon):
            raise ImportRefused(f"{path.name}: the boundary's features do not merge into one area")
    columns = {"code": np.array([info.code], dtype=object), "name": np.array([info.name], dtype=object),
               "province": np.array([info.province], dtype=object), "city": np.array([info.city], dtype=object)}
    return Table(DISTRICTS, table.source, table.crs, columns, np.array([merged], dtype=object), table.problems)


def init_district(url: str, path: Path, info: DistrictInfo, options: Options, write: WriteOptions) -> ImportResult:
    """Create (or update) the district ``info.code`` from its boundary file, all in one transaction."""
    return import_read(url, outline_table(path, info, options), write)
