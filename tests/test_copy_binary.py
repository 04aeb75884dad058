"""Binary COPY rows made as arrays, read back by PostgreSQL and compared with the values sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from layers.cluster import EmbeddedCluster
from layers.io import copy_binary
from layers.io.copy_binary import Kind

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS: dict[str, Kind] = {"big": "int8", "small": "int4", "x": "float8", "at": "timestamptz", "label": "text",
                            "code": "text", "geom": "geometry"}


@pytest.fixture(scope="module")
def postgis(pg_cluster: EmbeddedCluster) -> Iterator[str]:
    url = pg_cluster.create_database("copy_binary")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("""CREATE TABLE t (n serial, big bigint, small integer, x double precision, at timestamptz,
                        label text, code char(6), geom geometry(Geometry, 4326))""")
    yield url
    pg_cluster.drop_database("copy_binary")


def _send(url: str, columns: dict[str, np.ndarray]) -> list[tuple[object, ...]]:
    fields = [copy_binary.field(values, COLUMNS[name]) for name, values in columns.items()]
    data = copy_binary.HEADER + copy_binary.rows(fields) + copy_binary.TRAILER
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE t RESTART IDENTITY")
        with conn.cursor() as cur, cur.copy(f"COPY t ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(data)
        return conn.execute(f"SELECT {', '.join(c if c != 'geom' else 'ST_AsEWKB(geom)' for c in columns)} "
                            "FROM t ORDER BY n").fetchall()


def test_every_kind_and_null_comes_back_as_sent(postgis: str) -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    big = rng.integers(-(2**62), 2**62, n)
    small = np.array([None if i % 7 == 0 else int(v) for i, v in enumerate(rng.integers(-(2**31), 2**31 - 1, n))],
                     dtype=object)
    x = rng.normal(0, 1e6, n)
    x[::11] = np.nan
    x[5] = np.inf
    at = (np.datetime64("1990-01-01T00:00:00", "us")
          + rng.integers(0, 60 * 365 * 86_400 * 10**6, n).astype("timedelta64[us]"))
    at[::13] = np.datetime64("NaT")
    words = ["", "历史案件", "a\"b,c\\d", "e\u00e9\U0001f600", "tab\there", "line\nbreak"]
    label = np.array([None if i % 5 == 0 else words[i % len(words)] * (i % 4) for i in range(n)], dtype=object)
    code = np.array([f"{i:06d}" for i in range(n)], dtype=object)
    xy = rng.uniform(-180, 180, (n, 2))
    geom = shapely.points(xy)
    geom[3] = None
    rows = _send(postgis, {"big": big, "small": small, "x": x, "at": at, "label": label, "code": code, "geom": geom})
    assert len(rows) == n
    for i, (b, s, f, t, lab, c, g) in enumerate(rows):
        assert b == int(big[i]) and s == small[i] and c == code[i]
        assert f is None if not np.isfinite(x[i]) else f == x[i]
        expected_at = None if np.isnat(at[i]) else EPOCH + timedelta(microseconds=int(at[i].astype(np.int64)))
        assert t == expected_at
        assert lab == label[i]
        if geom[i] is None:
            assert g is None
        else:
            assert shapely.from_wkb(g).equals_exact(geom[i], 0) and shapely.get_srid(shapely.from_wkb(g)) == 4326


def test_shapes_other_than_points_and_all_null_columns(postgis: str) -> None:
    shapes = np.array([shapely.box(0, 0, 1, 1), shapely.Point(1, 2), None,
                       shapely.LineString([(0, 0), (3, 4)])], dtype=object)
    rows = _send(postgis, {"label": np.full(4, None, dtype=object), "geom": shapes})
    assert [r[0] for r in rows] == [None] * 4
    assert [None if r[1] is None else shapely.from_wkb(r[1]).wkt for r in rows] == \
        [None if s is None else s.wkt for s in shapes]


def test_a_value_holding_nul_is_refused_by_postgresql_not_misplaced(postgis: str) -> None:
    """A NUL inside text shifts nothing: the field keeps its length and PostgreSQL refuses it."""
    with pytest.raises(psycopg.errors.CharacterNotInRepertoire):
        _send(postgis, {"label": np.array(["ok", "bad\x00text", "fine"], dtype=object)})


def test_text_fields_of_mixed_values_are_their_text() -> None:
    """None is NULL; numbers and pandas' NA (which will not compare to None) are sent as their text, as before."""
    mixed = np.array(["东", None, 3, pd.NA, ""], dtype=object)
    field = copy_binary.field(mixed, "text")
    assert field.lengths.tolist() == [3, -1, 1, 4, 0]
    assert bytes(field.data) == "东".encode() + b"3<NA>"


def _reference_rows(fields: list[copy_binary.Field]) -> bytes:
    """The tuples built one row and one field at a time, the format's plain definition."""
    out = bytearray()
    starts = [np.concatenate(([0], np.cumsum(np.maximum(f.lengths, 0)))) for f in fields]
    for i in range(len(fields[0].lengths)):
        out += len(fields).to_bytes(2, "big")
        for f, start in zip(fields, starts, strict=True):
            size = int(f.lengths[i])
            out += size.to_bytes(4, "big", signed=True)
            out += bytes(f.data[start[i]:start[i] + max(size, 0)])
    return bytes(out)


column_shapes = st.lists(st.tuples(st.sampled_from(["same", "same_empty", "varied", "nulls"]),
                                   st.integers(min_value=0, max_value=9)), min_size=1, max_size=8)


@given(shapes=column_shapes, n=st.integers(min_value=1, max_value=40), seed=st.integers(0, 2**32 - 1))
def test_rows_are_the_formats_tuples_whatever_the_mix_of_widths(shapes: list[tuple[str, int]], n: int,
                                                                 seed: int) -> None:
    """Runs of one-width fields laid side by side give the same bytes as tuples written one by one."""
    rng = np.random.default_rng(seed)
    fields = []
    for shape, width in shapes:
        if shape == "same":
            lengths = np.full(n, width, dtype=np.int64)
        elif shape == "same_empty":
            lengths = np.zeros(n, dtype=np.int64)
        elif shape == "varied":
            lengths = rng.integers(0, 10, n)
        else:
            lengths = np.where(rng.random(n) < 0.3, -1, width).astype(np.int64)
        data = rng.integers(0, 256, int(np.maximum(lengths, 0).sum()), dtype=np.uint8)
        fields.append(copy_binary.Field(lengths, data))
    assert copy_binary.rows(fields) == _reference_rows(fields)
