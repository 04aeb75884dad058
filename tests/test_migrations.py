"""Migrations from an empty database: every table, typmod geometry and GiST index; down and up again."""

from __future__ import annotations

import psycopg
import pytest

from layers import migrate
from layers.registry import LAYERS


def _geometry_columns(url: str) -> dict[tuple[str, str], tuple[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns").fetchall()
    return {(t, c): (kind, srid) for t, c, kind, srid in rows}


def _gist_indexed_columns(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("""
            SELECT t.relname, a.attname
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_am am ON am.oid = i.relam
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
            WHERE am.amname = 'gist'""").fetchall()
    return set(rows)


def test_upgrade_from_empty_creates_typmod_geometries_with_gist(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    columns = _geometry_columns(empty_db)
    for layer in LAYERS.values():
        kind, srid = columns[(layer.table, layer.geom)]
        assert srid == 4326
        assert kind.upper() == layer.geometry_type.upper()
    # every geometry column, not only the served ones, has a GiST index
    assert set(columns) <= _gist_indexed_columns(empty_db)


def test_downgrade_to_base_and_up_again(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    migrate.downgrade(empty_db, "base")
    assert not _geometry_columns(empty_db)
    migrate.upgrade(empty_db)
    assert ("grids", "geom") in _geometry_columns(empty_db)


def test_event_log_is_append_only(demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE incident_events SET reason = 'rewritten' WHERE id = 1")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM incident_events WHERE id = 1")


def test_codes_must_nest(demo_rw: str) -> None:
    # a grid's code must start with its community's code (GB/T 30428 layout)
    with psycopg.connect(demo_rw) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("""
            INSERT INTO grids (code, community_code, name, geom)
            SELECT '999999999999001', code, 'bad', geom FROM communities LIMIT 1""")


def test_address_key_normalizes_digits_and_building_words(demo_ro: str) -> None:
    with psycopg.connect(demo_ro) as conn:
        key = conn.execute("SELECT wangge_address_key('宁国路８８號 3幢')").fetchone()
    assert key == ("宁国路88号3栋",)
