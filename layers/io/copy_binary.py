"""Rows for ``COPY ... FROM STDIN (FORMAT binary)``, laid out column by column as arrays.

A million past cases as CSV text cost seconds in Python (numbers and times
turned into digits one by one) and seconds again in PostgreSQL (parsed
back). In the binary format each field is its length and its bytes:
integers, floats and times are their big-endian machine values, text its
UTF-8, a geometry its EWKB. Here every column becomes two arrays (the
fields' lengths, -1 for NULL, and their bytes one after the other), and
the rows are assembled by placing each column's bytes at computed offsets
(one vectorised scatter per column), with no Python loop over rows.

The types must be the columns' own: an ``integer`` column takes 4 bytes,
a ``bigint`` 8, a ``timestamptz`` microseconds since 2000-01-01 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely

from layers.load import SRID, point_ewkb

Kind = Literal["int8", "int4", "float8", "timestamptz", "text", "geometry"]

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no header extension
TRAILER = b"\xff\xff"
_PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)
_SEP = "\x00"


@dataclass(frozen=True)
class Field:
    """One column's fields: each row's length (-1: NULL) and the bytes of the non-NULL ones in row order."""

    lengths: np.ndarray
    data: np.ndarray


def _fixed(values: np.ndarray, null: np.ndarray, dtype: str) -> Field:
    """Fixed-width big-endian values; ``null`` rows carry no bytes."""
    kept = np.ascontiguousarray(values[~null].astype(dtype))
    width = np.dtype(dtype).itemsize
    return Field(np.where(null, -1, width).astype(np.int64), kept.view(np.uint8).reshape(-1))


def _integers(values: np.ndarray, dtype: str) -> Field:
    array = np.asarray(values)
    if array.dtype == object:
        null = np.array([v is None for v in array.tolist()], dtype=bool)
        array = np.where(null, 0, array).astype(np.int64)
    else:
        null = np.zeros(len(array), dtype=bool)
    return _fixed(array, null, dtype)


def _floats(values: np.ndarray) -> Field:
    array = np.asarray(values, dtype=float)
    return _fixed(array, ~np.isfinite(array), ">f8")  # NaN and infinities go as NULL, as in CSV


def _times(values: np.ndarray) -> Field:
    stamps = np.asarray(values).astype("datetime64[us]")
    null = np.isnat(stamps)
    return _fixed(stamps.astype(np.int64) - _PG_EPOCH_US, null, ">i8")


def _texts(values: np.ndarray) -> Field:
    array = np.asarray(values, dtype=object)
    try:
        null = np.asarray(array == None, dtype=bool)  # noqa: E711  (element by element, in C; so is the text test below)
    except TypeError:  # a value that will not compare to None plainly (pandas' NA): ask each one
        null = np.array([v is None for v in array.tolist()], dtype=bool)
    present = array[~null]
    if pd.api.types.infer_dtype(present, skipna=False) in ("string", "empty"):
        kept = present.tolist()
    else:  # numbers or other values: their text
        kept = [v if isinstance(v, str) else str(v) for v in present.tolist()]
    if not kept:
        return Field(np.full(len(array), -1, dtype=np.int64), np.empty(0, dtype=np.uint8))
    # one join and one encode in C; the separators then give each value's byte length
    raw = np.frombuffer(_SEP.join(kept).encode("utf-8"), dtype=np.uint8)
    cuts = np.flatnonzero(raw == 0)
    if len(cuts) != len(kept) - 1:  # a value holds NUL itself (the checks refuse it; PostgreSQL would too)
        encoded = [v.encode("utf-8") for v in kept]
        sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    else:
        bounds = np.concatenate(([-1], cuts, [len(raw)]))
        sizes = np.diff(bounds) - 1
        data = raw[raw != 0] if len(cuts) else raw
    lengths = np.full(len(array), -1, dtype=np.int64)
    lengths[~null] = sizes
    return Field(lengths, data)


def _geometries(values: np.ndarray) -> Field:
    geoms = np.asarray(values, dtype=object)
    null = shapely.is_missing(geoms)
    present = geoms[~null]
    plain_points = (shapely.get_type_id(present) == 0).all() and not shapely.is_empty(present).any() \
        and not shapely.has_z(present).any()
    if plain_points:  # 25 bytes each, laid out as arrays
        data = point_ewkb(shapely.get_coordinates(present)).reshape(-1)
        return Field(np.where(null, -1, 25).astype(np.int64), data)
    encoded = list(shapely.to_wkb(shapely.set_srid(present, SRID), include_srid=True))
    lengths = np.full(len(geoms), -1, dtype=np.int64)
    lengths[~null] = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    return Field(lengths, np.frombuffer(b"".join(encoded), dtype=np.uint8))


def field(values: np.ndarray, kind: Kind) -> Field:
    """A column's values as binary COPY fields of PostgreSQL type ``kind``."""
    if kind == "int8":
        return _integers(values, ">i8")
    if kind == "int4":
        return _integers(values, ">i4")
    if kind == "float8":
        return _floats(values)
    if kind == "timestamptz":
        return _times(values)
    if kind == "geometry":
        return _geometries(values)
    return _texts(values)


def rows(fields: list[Field]) -> bytes:
    """The tuples of ``fields`` (all of one length) in binary COPY format, without header or trailer."""
    n = len(fields[0].lengths)
    sizes = [np.maximum(f.lengths, 0) for f in fields]
    row_size = 2 + 4 * len(fields) + np.sum(sizes, axis=0)
    starts = np.concatenate(([0], np.cumsum(row_size)[:-1])).astype(np.int64)
    out = np.empty(int(row_size.sum()), dtype=np.uint8)
    count = np.frombuffer(len(fields).to_bytes(2, "big"), dtype=np.uint8)
    out[starts[:, None] + np.arange(2)] = count
    at = starts + 2
    for f, size in zip(fields, sizes, strict=True):
        out[at[:, None] + np.arange(4)] = f.lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        at += 4
        if len(f.data):
            # byte k of the data belongs to the row whose field starts at at[row]: shift it there
            first = np.concatenate(([0], np.cumsum(size)[:-1]))
            out[np.repeat(at - first, size) + np.arange(len(f.data))] = f.data
        at += size
    return out.tobytes()
