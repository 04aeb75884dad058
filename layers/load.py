"""Bulk loading into PostGIS with COPY: the fast path for demo data and imports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from shapely.geometry.base import BaseGeometry

SRID = 4326


def ewkb_hex(geoms: Sequence[BaseGeometry]) -> list[str]:
    """Encode geometries as hex EWKB with SRID 4326, the text form COPY accepts for geometry."""
    with_srid = shapely.set_srid(np.asarray(geoms, dtype=object), SRID)
    return list(shapely.to_wkb(with_srid, hex=True, include_srid=True))


def copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into ``table``; return how many rows went in.

    Geometry values must already be hex EWKB strings (see :func:`ewkb_hex`).
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    count = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
