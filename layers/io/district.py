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
import psycopg
import shapely

from layers.demo import catalogue
from layers.io.problems import ImportRefused
from layers.io.read import Options, Table, read_table
from layers.io.service import ImportResult, Rollback, WriteOptions, import_table
from layers.io.spec import DISTRICTS, Field, LayerSpec
from layers.load import copy_rows

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


def seed_catalogue(conn: psycopg.Connection) -> bool:
    """Load the standard team types and catalogue when the database has none; True when loaded."""
    if conn.execute("SELECT 1 FROM catalogue LIMIT 1").fetchone():
        return False
    if not conn.execute("SELECT 1 FROM team_types LIMIT 1").fetchone():
        copy_rows(conn, "team_types", ("code", "name", "name_en", "core"), catalogue.TEAM_TYPES)
    copy_rows(conn, "catalogue", ("code", "major_code", "major_name", "minor_name", "team_type",
                                  "time_limit_hours", "handling_steps", "closing_standard", "level",
                                  "duplicate_radius_m", "duplicate_window_hours"),
              [(c.code, c.code[:2], catalogue.MAJOR_CATEGORIES[c.code[:2]], c.minor_name, c.team_type,
                c.hours, catalogue.HANDLING_STEPS, c.closing_standard, c.level,
                c.duplicate_radius_m, c.duplicate_window_hours) for c in catalogue.CATEGORIES])
    return True


def init_district(url: str, path: Path, info: DistrictInfo, options: Options, dry_run: bool = False,
                  ) -> ImportResult:
    """Create (or update) the district ``info.code`` from its boundary file, all in one transaction."""
    table = outline_table(path, info, options)
    try:
        with psycopg.connect(url) as conn, conn.transaction():
            result = import_table(conn, table, WriteOptions(dry_run=dry_run, actor="init"))
            if not result.ok or dry_run:
                raise Rollback(result)
            if seed_catalogue(conn):
                result.notes.append(f"standard catalogue loaded: {len(catalogue.CATEGORIES)} categories, "
                                    f"{len(catalogue.TEAM_TYPES)} team types")
    except Rollback as stop:
        return stop.result
    return result
