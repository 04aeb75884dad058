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


# EWKB of a 2D point with an SRID, little-endian: byte order 1, type 1 with the SRID flag, SRID 4326
_POINT_HEADER = np.frombuffer(bytes.fromhex("0101000020") + SRID.to_bytes(4, "little"), dtype=np.uint8)


def point_ewkb(xy: np.ndarray) -> np.ndarray:
    """EWKB (SRID 4326) of the points ``xy`` (n × 2) as an n × 25 byte array, byte for byte what shapely gives.

    A million points in a fraction of a second: the bytes are laid out as
    arrays, where going through shapely costs seconds for the same million.
    """
    coords = np.ascontiguousarray(xy, dtype="<f8")
    raw = np.empty((len(coords), 25), dtype=np.uint8)
    raw[:, :9] = _POINT_HEADER
    raw[:, 9:] = coords.view(np.uint8).reshape(len(coords), 16)
    return raw


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
