"""Large bulk loads: build a table's secondary indexes once at the end instead of row by row.

Inserting a million rows into a table with ten indexes (two GiST) costs
several times the COPY itself, because every row updates every index. A
build from scratch sorts once (PostgreSQL 15 builds GiST on points by
sorting). So a load that adds a quarter or more to the table drops the indexes
that no constraint needs (partial B-trees excepted, see ``_SECONDARY``),
loads, and recreates them from their own definitions, inside the caller's
transaction: all or nothing still holds.
The price is an exclusive lock on the table until commit, so such loads
belong before go-live or in a quiet hour (the README says so).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg import sql

BULK_ROWS = 100_000
"""Below this a load updates the indexes as it goes."""

# The indexes no constraint needs, but partial B-trees that are not unique: their predicates pick few
# rows of a history (the open cases), and rebuilding each reads the whole table again (0.2 s each at a
# million cases), while keeping them up to date costs the COPYs, which have some slack beside the
# conversion, less (0.6 s less in all, alternating runs; within the machine's noise, not against it).
# A unique one is rebuilt, so a reference repeated in a file is reported by the checks, not refused by
# the COPY; a partial GiST costs more kept than rebuilt.
_SECONDARY = """
    SELECT i.relname, pg_get_indexdef(x.indexrelid)
    FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid JOIN pg_am AS m ON m.oid = i.relam
    WHERE x.indrelid = %(table)s::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
      AND (x.indpred IS NULL OR m.amname <> 'btree' OR x.indisunique)
    ORDER BY i.relname"""


def worth_deferring(conn: psycopg.Connection, table: str, rows: int) -> bool:
    """True when ``rows`` new rows are many, and at least a quarter of what the table holds."""
    if rows < BULK_ROWS:
        return False
    # an exact count (tens of milliseconds at a million rows): the planner's estimate can be far off
    # right after a large load or a rolled-back one
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return rows * 4 >= (row[0] if row else 0)


@contextlib.contextmanager
def deferred_indexes(conn: psycopg.Connection, tables: tuple[str, ...], rows: int) -> Iterator[tuple[bool, ...]]:
    """Drop the secondary indexes of ``tables`` worth deferring (``_SECONDARY``), run the body, rebuild them.

    The body is told, table by table, whether their indexes were deferred,
    i.e. whether the load is a large share (a quarter or more) of what that
    table will hold, and the table is held exclusively until commit.
    """
    kept: list[str] = []
    deferred = [worth_deferring(conn, table, rows) for table in tables]
    for table, defer in zip(tables, deferred, strict=True):
        if not defer:
            continue
        for name, definition in conn.execute(_SECONDARY, {"table": table}).fetchall():
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            kept.append(definition)
    yield tuple(deferred)
    if kept:
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for definition in kept:
        conn.execute(definition)  # the catalogue's own text of an index it held a moment ago


@contextlib.contextmanager
def checked_references(conn: psycopg.Connection, tables: tuple[str, ...]) -> Iterator[bool]:
    """Skip PostgreSQL's per-row foreign-key checks for a load whose references were all checked already.

    A million cases means three million foreign-key lookups, each a query of
    its own: most of the load's time. The importer has checked every
    reference (district, category, grid) against the store inside the same
    transaction, and those rows are never deleted, so the lookups can only
    agree. Skipping them needs a superuser (``session_replication_role``),
    which the embedded cluster and the postgis image's owner are; otherwise
    the checks simply run. Statement triggers are skipped too, so the
    layers' change notices are sent here instead, and the caller, told
    ``True``, redoes what row triggers keep (the walls' case counters).
    """
    superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not (superuser and superuser[0]):
        yield False
        return
    conn.execute("SET LOCAL session_replication_role = replica")
    yield True
    conn.execute("SET LOCAL session_replication_role = DEFAULT")
    for table in tables:
        conn.execute("SELECT pg_notify('wangge_layers', %(table)s || ' ' || nextval(%(seq)s::regclass))",
                     {"table": table, "seq": f"layer_version_{table}"})
