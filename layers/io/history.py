"""Past cases from the system being replaced, in bulk: located, keyed to the grid of their time.

A case keeps the grid version valid when it was reported, as a live case
does; points are matched in memory against every stored grid version
(an STRtree, the lowest code on a shared edge, as locate decides), which
is one vectorised pass instead of a million index probes. Rows go in by
COPY in the binary format (made column by column, :mod:`layers.io.copy_binary`),
with the import event of each case beside them (a second COPY); a load
that adds a quarter or more to the cases table builds its indexes once at
the end (:mod:`layers.io.bulk`).
A case whose ``external_ref`` is already stored for its district is left
alone, so re-importing a file changes nothing. Cases reported before any
grid version covering their point are keyed to the earliest such version
and counted in a warning.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from layers.io import copy_binary
from layers.io.bulk import checked_references, deferred_indexes
from layers.io.checks import Store
from layers.io.copy_binary import Kind
from layers.io.read import Table
from layers.io.write import Counts
from layers.walls.aggregates import GROUPED, count_loaded, day_counted_since
from layers.walls.counter_sql import COLUMNS as COUNTED

ENDED = ("closed", "rejected", "duplicate")
# those of one width in every row first (fixed-width values, codes of one length), so they make one run
# of bytes in each COPY tuple (copy_binary.rows); text of varied length and columns with NULLs after
_COLUMNS = ("id", "reported_at", "deadline", "updated_at", "geom", "raw_x", "raw_y", "raw_crs", "district_code",
            "category_code", "grid_id", "grid_code", "community_code", "street_code", "external_ref", "level",
            "status", "channel", "description", "address", "closed_at", "changed_xid")


@dataclass
class _Grids:
    ids: np.ndarray
    codes: np.ndarray
    communities: np.ndarray
    valid_from: np.ndarray
    valid_to: np.ndarray
    tree: shapely.STRtree

    @functools.cached_property
    def streets(self) -> np.ndarray:
        return np.array([c[:9] for c in self.communities], dtype=object)


def _load_grids(conn: psycopg.Connection) -> _Grids:
    rows = conn.execute("""
        SELECT id, code, community_code, valid_from, coalesce(valid_to, '9999-12-31'::timestamptz), ST_AsBinary(geom)
        FROM grids ORDER BY code, valid_from""").fetchall()
    def stamp(v: object) -> np.datetime64:
        return np.datetime64(pd.Timestamp(v).tz_convert("UTC").tz_localize(None).to_datetime64(), "us")

    return _Grids(np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=object),
                  np.array([r[2] for r in rows], dtype=object),
                  np.array([stamp(r[3]) for r in rows], dtype="datetime64[us]"),
                  np.array([stamp(r[4]) for r in rows], dtype="datetime64[us]"),
                  shapely.STRtree(shapely.from_wkb([r[5] for r in rows])))


def locate_in_time(grids: _Grids, points: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the index of its grid version at ``at`` (-1: none) and whether it predates them all.

    Among versions valid at the time that cover the point, the lowest code
    wins; with none valid, the earliest version covering the point.
    """
    chosen = np.full(len(points), -1, dtype=np.int64)
    early = np.zeros(len(points), dtype=bool)
    if len(grids.ids) == 0 or len(points) == 0:
        return chosen, early
    p, g = grids.tree.query(points, predicate="intersects")
    valid = (grids.valid_from[g] <= at[p]) & (at[p] < grids.valid_to[g])
    # grids are ordered by code then valid_from, so the first index per point is the lowest code
    order = np.lexsort((g, ~valid, p))
    p, g, valid = p[order], g[order], valid[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    chosen[p[first]] = g[first]
    early[p[first]] = ~valid[first]
    return chosen, early


def write_history(conn: psycopg.Connection, parts: Iterator[Table], total: int, store: Store, source: str,
                  done: Callable[[int], None] | None = None,
                  across: Callable[[], None] | None = None) -> tuple[Counts, int] | None:
    """COPY the cases of ``parts`` (a file's, in order, ``total`` rows) in; the counts and how many predate every grid.

    ``parts`` come converted and checked as they are drawn (their problems
    go to the one ``Problems`` they share), so a district's first history
    is stored while the rest of its file is still being converted: in two
    threads, the database storing one part (its rows and their import
    events) while this one converts, checks and encodes the next, so
    neither core waits for the other. ``across`` runs the checks across
    rows once every part is drawn, while the database stores the last one.
    The sums the walls' counters need when the load skipped their triggers
    (:class:`_Tally`: the database then adds a few thousand rows instead of
    reading the million back) are made in the second thread while the
    database rebuilds the indexes. Once a check fails nothing more is
    stored, the remaining parts are still checked, and the answer is
    ``None``: what was stored is for the caller to roll back. When cases
    with an ``external_ref`` are stored already (a re-import, or the next
    year of a history), every part is drawn and checked first and the
    stored ones are looked up, so only the new rows decide how to load.
    """
    across = across or _nothing
    first = next(parts)
    problems = first.problems
    if not problems.ok:
        _drain(parts)
        across()
        return None
    # a case whose external_ref is stored is left alone; with none stored (a first history) none is looked up
    refs_stored = conn.execute("SELECT EXISTS (SELECT 1 FROM incidents WHERE external_ref IS NOT NULL)").fetchone()
    queue: Iterator[tuple[Table, np.ndarray | None, np.ndarray | None]]
    if refs_stored and refs_stored[0]:
        # every part read and checked first: how many rows are new decides how they are stored
        ready = [first, *parts]
        across()
        if not problems.ok:
            return None
        across = _nothing  # done
        districts = [_districts(part, store) for part in ready]
        fresh = _fresh(conn, ready, districts)
        new = sum(len(f) for f in fresh)
        if not new:
            return Counts(unchanged=total), 0
        queue = zip(ready, districts, fresh, strict=True)
    else:
        new, queue = total, ((part, None, None) for part in itertools.chain([first], parts))
    keys = _Keys(_catalogue(conn), _load_grids(conn), _current_xid(conn))
    tally = _Tally(day_counted_since(datetime.now(UTC)))
    counts, early, used = Counts(unchanged=total - new), 0, 0
    # outside the contexts below, so it works on while they end (the indexes rebuilt)
    with ThreadPoolExecutor(max_workers=1) as second:
        try:
            with contextlib.ExitStack() as stack:
                indexes_deferred, events_deferred = stack.enter_context(
                    deferred_indexes(conn, ("incidents", "incident_events"), new))
                triggers_skipped = stack.enter_context(checked_references(conn, ("incidents",)))
                ids = _new_ids(conn, "incidents", new, table_locked=indexes_deferred)
                # the events' ids too when their table is held (drawn one by one per row, 0.6 s a million)
                event_ids = _new_ids(conn, "incident_events", new, table_locked=True) if events_deferred else None
                store_chunk = functools.partial(_store, conn, _copy("incidents", _COLUMNS),
                                                _copy("incident_events", _event_columns(event_ids is not None)))
                storing: tuple[Future[None], int] | None = None
                for part, part_district, part_fresh in queue:
                    if not problems.ok:
                        continue  # checked to the end, stored no further
                    district = _districts(part, store) if part_district is None else part_district
                    idx = np.arange(len(part)) if part_fresh is None else part_fresh
                    if done and len(idx) < len(part):
                        done(len(part) - len(idx))  # stored already: left alone
                    if not len(idx):
                        continue
                    part_ids = ids[used:used + len(idx)]
                    rows, part_early = _rows(part, idx, district[idx], part_ids, keys)
                    cases = binary_chunk({c: rows[c] for c in _COLUMNS})
                    events = binary_chunk(_events(rows, None if event_ids is None else
                                                  event_ids[used:used + len(idx)], f"imported from {source}"))
                    used += len(idx)
                    early += part_early
                    tally.add(rows)
                    _stored(storing, done)
                    storing = second.submit(store_chunk, cases, events), len(idx)
                across()  # while the database stores the last part; a unique index would refuse a repeat
                _stored(storing, done)
                if not problems.ok:
                    raise _Refused  # leaves every context at once: no index is rebuilt for a load rolled back
                summing = second.submit(tally.streams) if triggers_skipped else None
            if summing:  # made while the indexes were rebuilt
                count_loaded(conn, *summing.result())
        except _Refused:
            return None
    counts.inserted = used
    return counts, early


def _nothing() -> None:
    """No checks across rows left to run."""


class _Refused(Exception):
    """A part's checks failed after storing began."""


def _drain(parts: Iterator[Table]) -> None:
    """Check the remaining parts (their problems are reported) without storing them."""
    for _ in parts:
        pass


def _fresh(conn: psycopg.Connection, parts: list[Table], districts: list[np.ndarray]) -> list[np.ndarray]:
    """For each part, its rows whose external_ref their district (``districts``, row by row) has not stored yet.

    One query for the whole file: the stored references are read once
    (a hash join with the list, not "= ANY(list)", which PostgreSQL tests
    row by row; per part, each would read the cases table again).
    """
    refs = np.concatenate([part.columns["external_ref"] for part in parts])
    existing = {(str(r[0]), r[1]) for r in conn.execute(
        "SELECT i.district_code, i.external_ref FROM unnest(%(refs)s::text[]) AS r(ref) "
        "JOIN incidents AS i ON i.external_ref = r.ref", {"refs": refs.tolist()})}
    if not existing:
        return [np.arange(len(part)) for part in parts]
    district = np.concatenate(districts)
    fresh = np.array([(str(dc), ref) not in existing for dc, ref in zip(district, refs, strict=True)], dtype=bool)
    bounds = np.cumsum([len(part) for part in parts])[:-1]
    return [np.flatnonzero(f) for f in np.split(fresh, bounds)]


def chunks(n: int, first: int | None = None, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Row ranges to convert, check and store: a small first one, so the database starts early, then ``CHUNK`` each.

    The two sides are about even (some 7 µs a case to convert, check, key
    and encode here, as much to store there), so the database waits little
    once it has its first part. Parts of 50,000 rather than 200,000: the
    encoding of a part that fits the processor's caches cost a third less.
    """
    size = CHUNK if size is None else size
    start, step = 0, min(FIRST_CHUNK if first is None else first, size)
    while start < n:
        yield start, min(start + step, n)
        start, step = start + step, size


def _stored(storing: tuple[Future[None], int] | None, done: Callable[[int], None] | None) -> None:
    """Wait for the chunk being stored (its error is raised here) and report its rows done."""
    if storing is None:
        return
    future, rows = storing
    future.result()
    if done:
        done(rows)


_EVENT_COLUMNS = ("incident_id", "at", "district_code", "actor", "role", "action", "reason", "to_status")


def _event_columns(with_ids: bool) -> tuple[str, ...]:
    return ("id", *_EVENT_COLUMNS) if with_ids else _EVENT_COLUMNS


def _copy(table: str, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))


def _store(conn: psycopg.Connection, cases_copy: sql.Composed, events_copy: sql.Composed,
           cases: bytes, events: bytes) -> None:
    """Store one chunk: its cases and their import events (a binary COPY each)."""
    for statement, data in ((cases_copy, cases), (events_copy, events)):
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)


def _events(rows: dict[str, np.ndarray], ids: np.ndarray | None, reason: str) -> dict[str, np.ndarray]:
    """One ``import`` event per case: at its report, by the importer, into the status it was imported in.

    Made here with the rows (a COPY beside theirs) rather than by the
    database from the stored cases: reading them back cost it more than
    storing the events.
    """
    n = len(rows["id"])

    def same(value: str) -> np.ndarray:
        return np.full(n, value, dtype=object)

    values: dict[str, np.ndarray | None] = {
        "id": ids, "incident_id": rows["id"], "district_code": rows["district_code"], "at": rows["reported_at"],
        "actor": same("import"), "role": same("admin"), "action": same("import"), "to_status": rows["status"],
        "reason": same(reason)}
    # in the order the COPY names them
    return {c: v for c in _event_columns(ids is not None) if (v := values[c]) is not None}


class _Tally:
    """The stored cases as the walls' counters take them (:func:`~layers.walls.aggregates.count_loaded`).

    How many per area and status, and the cases that may count on a kept
    day or in a cell (open, or reported or closed since ``since``). Summed
    up once, at the end, while the database stores the last chunk.
    """

    def __init__(self, since: datetime) -> None:
        self.since = np.datetime64(since.astimezone(UTC).replace(tzinfo=None), "us")
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, rows: dict[str, np.ndarray]) -> None:
        """Keep one chunk of stored rows."""
        self.parts.append({c: rows[c] for c in _COUNTED})

    def streams(self) -> tuple[bytes, bytes]:
        """The binary COPY streams of the sums (``sign`` is a group's size) and of the cases kept."""
        rows = {c: np.concatenate([part[c] for part in self.parts]) for c in _COUNTED}
        keys = pd.DataFrame({c: pd.Series(rows[c], dtype=object) for c in _GROUPED})
        sums = keys.value_counts(dropna=False, sort=False)
        groups = {"sign": sums.to_numpy(dtype=np.int64)}
        for level, name in enumerate(_GROUPED):
            values = sums.index.get_level_values(level).to_numpy(dtype=object)
            groups[name] = np.where(pd.isna(values), None, values)
        with np.errstate(invalid="ignore"):
            kept = ~np.isin(rows["status"], ENDED) | (rows["reported_at"] >= self.since) | \
                (rows["closed_at"] >= self.since)  # NaT compares False
        return binary_chunk(groups), binary_chunk({c: rows[c][kept] for c in _COUNTED})


_GROUPED = tuple(c.strip() for c in GROUPED.split(","))
_COUNTED = tuple(c.strip() for c in COUNTED.split(","))


@dataclass(frozen=True)
class _Keys:
    """What keys a case to the store: the catalogue's time limits and levels, the grids, the writing transaction."""

    catalogue: dict[str, tuple[int, str]]
    grids: _Grids
    xid: int | None


def _catalogue(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    return {r[0]: (int(r[1]), r[2]) for r in conn.execute("SELECT code, time_limit_hours, level FROM catalogue")}


def _current_xid(conn: psycopg.Connection) -> int | None:
    row = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
    return int(row[0]) if row else None


def _changed_xid(status: np.ndarray, xid: int | None) -> np.ndarray:
    """The writing transaction's id for the open cases, none for the ended ones.

    Walls ask for the cases written since their last answer
    (``changed_xid``, see migration 0008): an imported open case is new to
    them, an imported ended one was never on a wall and never will be, so
    it is left out of that index (most of a history is ended cases).
    """
    marks = np.full(len(status), xid, dtype=object)
    marks[np.isin(status, ENDED)] = None
    return marks


def _districts(table: Table, store: Store) -> np.ndarray:
    """The district of each case (the checks made sure there is one)."""
    codes = list(store.districts)
    if len(codes) == 1:
        return np.full(len(table), codes[0], dtype=object)
    p, d = shapely.STRtree([store.districts[c] for c in codes]).query(table.geoms, predicate="intersects")
    district = np.full(len(table), None, dtype=object)
    district[p[::-1]] = np.asarray(codes, dtype=object)[d[::-1]]  # the first district wins on a shared edge
    return district


def _rows(table: Table, idx: np.ndarray, district: np.ndarray, ids: np.ndarray,
          keys: _Keys) -> tuple[dict[str, np.ndarray], int]:
    """The cases' columns for rows ``idx`` of the table, and how many predate every grid version."""
    cols = table.columns
    category = cols["category"][idx]
    by_category = pd.Series(category, dtype=object)  # as they are: not turned into pandas' own strings
    hours = by_category.map({c: v[0] for c, v in keys.catalogue.items()}).to_numpy(dtype="timedelta64[h]")
    level = by_category.map({c: v[1] for c, v in keys.catalogue.items()}).to_numpy(dtype=object)
    reported = cols["reported_at"][idx].astype("datetime64[us]")
    deadline = cols["deadline"][idx].astype("datetime64[us]")
    deadline = np.where(np.isnat(deadline), reported + hours, deadline)
    closed = cols["closed_at"][idx].astype("datetime64[us]")
    raw = table.raw_xy[idx] if table.raw_xy is not None else np.full((len(idx), 2), np.nan)
    status = cols["status"][idx]
    rows = {
        "id": ids, "district_code": district, "category_code": category, "channel": cols["channel"][idx],
        "description": cols["description"][idx], "address": cols["address"][idx],
        "raw_x": raw[:, 0], "raw_y": raw[:, 1], "raw_crs": np.full(len(idx), table.crs.name, dtype=object),
        "geom": table.geoms[idx],
        "level": level, "status": status,
        "reported_at": reported, "deadline": deadline, "closed_at": closed,
        "updated_at": np.where(np.isnat(closed), reported, closed), "external_ref": cols["external_ref"][idx],
        "changed_xid": _changed_xid(status, keys.xid)}
    grids = keys.grids
    chosen, early = locate_in_time(grids, rows["geom"], reported)
    has, at = chosen >= 0, np.maximum(chosen, 0)
    for column, values in (("grid_id", grids.ids.astype(object)), ("grid_code", grids.codes),
                           ("community_code", grids.communities), ("street_code", grids.streets)):
        picked = np.full(len(idx), None, dtype=object)
        picked[has] = values[at[has]]
        rows[column] = picked
    return rows, int(early.sum())


def _new_ids(conn: psycopg.Connection, table: str, count: int, table_locked: bool = False) -> np.ndarray:
    """``count`` fresh ids from ``table``'s id sequence.

    Drawn one by one, another session filing a case may draw ids in
    between, so the block is not assumed unbroken; they come back as one
    comma-joined text rather than a million rows (fetching rows cost
    seconds). With ``table_locked`` (this transaction holds the cases
    table exclusively, as a load that dropped its indexes does) no other
    session can write a row before it commits, and only writing a row
    draws from this sequence: the block is then reserved in one step.
    """
    sequence = f"{table}_id_seq"
    if table_locked and count:
        # held already (dropped indexes): said here
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(table)))
        row = conn.execute("SELECT setval(%(seq)s, nextval(%(seq)s) + %(n)s - 1)",
                           {"seq": sequence, "n": count}).fetchone()
        last = int(row[0]) if row else 0
        return np.arange(last - count + 1, last + 1, dtype=np.int64)
    row = conn.execute("SELECT string_agg(nextval(%(seq)s)::text, ',') FROM generate_series(1, %(n)s)",
                       {"seq": sequence, "n": count}).fetchone()
    if not row or row[0] is None:
        return np.empty(0, dtype=np.int64)
    return np.array(row[0].split(","), dtype=np.int64)


# PostgreSQL's type of each column sent (the rest are text)
_KINDS: dict[str, Kind] = {
    "id": "int8", "sign": "int4", "incident_id": "int8", "at": "timestamptz", "changed_xid": "int8", "grid_id": "int4",
    "raw_x": "float8", "raw_y": "float8", "geom": "geometry",
    "reported_at": "timestamptz", "deadline": "timestamptz", "closed_at": "timestamptz", "updated_at": "timestamptz"}
CHUNK = 50_000
"""Rows per part (one COPY statement each); the next is made while the database stores this one."""
FIRST_CHUNK = 25_000


def binary_chunk(columns: dict[str, np.ndarray]) -> bytes:
    """The rows of ``columns`` as one binary COPY stream (header, tuples, trailer)."""
    fields = [copy_binary.field(values, _KINDS.get(name, "text")) for name, values in columns.items()]
    return copy_binary.HEADER + copy_binary.rows(fields) + copy_binary.TRAILER
