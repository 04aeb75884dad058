"""Rows for ``COPY ... FROM STDIN (FORMAT binary)``, laid out column by column as arrays.

A million past cases as CSV text cost seconds in Python (numbers and times
turned into digits one by one) and seconds again in PostgreSQL (parsed
back). In the binary format each field is its length and its bytes:
integers, floats and times are their big-endian machine values, text its
UTF-8, a geometry its EWKB. Here every column becomes two arrays (the
fields' lengths, -1 for NULL, and their bytes one after the other), and
the rows are assembled from those arrays by Arrow (:func:`rows`), with no
Python loop over rows.

The types must be the columns' own: an ``integer`` column takes 4 bytes,
a ``bigint`` 8, a ``timestamptz`` microseconds since 2000-01-01 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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


def _binary(sizes: np.ndarray, data: np.ndarray | bytes) -> pa.BinaryArray:
    """An Arrow array of byte strings: value k is ``data``'s next ``sizes[k]`` bytes (no copy)."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)  # 64-bit: a chunk may pass 2 GB
    np.cumsum(sizes, out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def rows(fields: list[Field]) -> bytes:
    """The tuples of ``fields`` (all of one length) in binary COPY format, without header or trailer.

    Each tuple is its field count, then each field's length and bytes. Every
    one of those pieces is a column of byte strings here, and Arrow's
    element-wise join (C++, one copy of each piece) lays them out row after
    row; placing them by computed byte offsets in numpy took index arrays
    eight times the size of the data, twice as long. The join's cost is per
    piece and row, so a run of fields of one width in every row (numbers
    and times without NULL, points, codes of one length, the same text
    throughout) is first laid out with its lengths as one record per row,
    one piece (:func:`_block`): a past case's 45 pieces become about 15.
    """
    n = len(fields[0].lengths)
    if n == 0:
        return b""
    pieces: list[pa.Array] = []
    run: list[bytes | np.ndarray] = [len(fields).to_bytes(2, "big")]  # the same bytes in each row, or each row's own
    for f in fields:
        width = _one_width(f.lengths)
        if width is not None:
            run += [width.to_bytes(4, "big"), f.data] if width else [width.to_bytes(4, "big")]
            continue
        if run:
            pieces.append(_block(run, n))
            run = []
        pieces.append(_binary(np.full(n, 4, dtype=np.int64), f.lengths.astype(">i4")))
        pieces.append(_binary(np.maximum(f.lengths, 0), f.data))
    if run:
        pieces.append(_block(run, n))
    if len(pieces) == 1:
        return pieces[0].buffers()[2].to_pybytes()
    joined = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64, count=n + 1, offset=joined.offset * 8)
    return joined.buffers()[2][int(offsets[0]):int(offsets[n])].to_pybytes()


def _one_width(lengths: np.ndarray) -> int | None:
    """The byte width every field of a column has, or None (widths differ, or a NULL)."""
    low = int(lengths.min())
    return low if low >= 0 and low == int(lengths.max()) else None


def _block(parts: list[bytes | np.ndarray], n: int) -> pa.Array:
    """Fixed-width parts side by side in each of ``n`` rows, as one piece: each row's bytes one value.

    A part is bytes (the same in every row) or an array of ``n`` values'
    bytes one after the other. Laid out as a record array whose fields are
    the parts: each is copied in one pass, a whole value at a time.
    """
    widths = [len(p) if isinstance(p, bytes) else len(p) // n for p in parts]
    offsets = np.concatenate(([0], np.cumsum(widths)[:-1])).tolist()
    names = [f"p{k}" for k in range(len(parts))]
    record = np.empty(n, dtype=np.dtype({"names": names, "formats": [f"V{w}" for w in widths],
                                         "offsets": offsets, "itemsize": sum(widths)}))
    for name, part, width in zip(names, parts, widths, strict=True):
        record[name] = np.void(part) if isinstance(part, bytes) else np.ascontiguousarray(part).view(f"V{width}")
    return _binary(np.full(n, record.itemsize, dtype=np.int64), record.view(np.uint8))
