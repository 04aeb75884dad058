"""The walls' counters equal the same figures computed from the raw cases, whatever happened to them.

Hypothesis draws sequences of what happens to cases in a live district:
intake over HTTP, closed-loop steps (good and refused), escalations, cases
made overdue or closed in the past by SQL, direct re-keying to another
grid, and a planning publish that re-keys open cases. After each sequence
the triggers' counters (``wall_case_counts``, ``wall_case_days``,
``wall_case_cells``) and the command view's indicators
(:func:`layers.indicators.child_indicators`) must equal what plain Python
computes from the rows of ``incidents``; so must a rebuild from scratch.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.auth import issue_token
from geo.crs import WGS84
from layers.areas import read_area
from layers.indicators import child_indicators
from layers.io import bulk as bulk_module
from layers.io import history
from layers.io.read import Options
from layers.io.service import Progress, WriteOptions, import_layer
from layers.io.spec import LAYERS
from layers.loop import OPEN_STATES
from layers.walls.aggregates import DAYS_KEPT, prune_days, rebuild_aggregates
from tests.conftest import auth
from tests.planning_cases import COMMUNITY, STREET, collection, feature, grid_code, insert_community, rect

CHINA = ZoneInfo("Asia/Shanghai")
ACTIONS = [("dispatch", "dispatcher", {}), ("handle", "dispatcher", {}), ("feedback", "dispatcher", {}),
           ("verify", "operator", {}), ("close", "operator", {}), ("return", "operator", {"reason": "未完成"}),
           ("reject", "operator", {"reason": "不属实"}), ("escalate", "operator", {"reason": "久拖"})]

step = st.one_of(
    st.tuples(st.just("intake"), st.integers(0, 10_000)),
    st.tuples(st.just("action"), st.integers(0, 10_000), st.sampled_from(range(len(ACTIONS)))),
    st.tuples(st.just("overdue"), st.integers(0, 10_000), st.integers(1, 72)),
    st.tuples(st.just("closed_back"), st.integers(0, 10_000), st.integers(0, 40)),
    st.tuples(st.just("rekey"), st.integers(0, 10_000), st.integers(0, 10_000)),
    st.tuples(st.just("escalations")),
    st.tuples(st.just("publish")),
)


def _raw_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    cur = conn.execute("""
        SELECT id, district_code::text AS d, street_code::text AS s, community_code::text AS c,
               grid_code::text AS g, status, reported_at, closed_at, deadline, ST_X(geom) AS x, ST_Y(geom) AS y
        FROM incidents""")
    names = [c.name for c in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _codes(row: dict[str, Any]) -> list[str]:
    return [code for code in (row["d"], row["s"], row["c"], row["g"]) if code]


def _china_day(t: datetime) -> date:
    return t.astimezone(CHINA).date()


def check_counters(conn: psycopg.Connection) -> None:
    """Every counter table equals the same sums made in Python from the cases (days: the ones kept)."""
    rows = _raw_rows(conn)
    now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    first_kept = _china_day(now) - timedelta(days=DAYS_KEPT - 1)
    counts: Counter[tuple[str, str]] = Counter()
    days: Counter[tuple[str, date, str]] = Counter()
    cells: Counter[tuple[str, int, int]] = Counter()
    for r in rows:
        for code in _codes(r):
            counts[(code, r["status"])] += 1
            if _china_day(r["reported_at"]) >= first_kept:
                days[(code, _china_day(r["reported_at"]), "reported")] += 1
            if r["status"] == "closed" and r["closed_at"] is not None and _china_day(r["closed_at"]) >= first_kept:
                days[(code, _china_day(r["closed_at"]), "closed")] += 1
                days[(code, _china_day(r["closed_at"]), "on_time")] += r["closed_at"] <= r["deadline"]
        if r["status"] in OPEN_STATES:
            cells[(r["c"] or r["s"] or r["d"], math.floor(r["x"] / 0.002), math.floor(r["y"] / 0.002))] += 1
    stored_counts = Counter({(a, s): n for a, s, n in conn.execute(
        "SELECT area_code, status, sum(cases) FROM wall_case_counts GROUP BY 1, 2")})
    stored_days: Counter[tuple[str, date, str]] = Counter()
    for a, d, reported, closed, on_time in conn.execute(
            "SELECT area_code, day, sum(reported), sum(closed), sum(closed_on_time) FROM wall_case_days GROUP BY 1, 2"):
        stored_days.update({(a, d, "reported"): reported, (a, d, "closed"): closed, (a, d, "on_time"): on_time})
    stored_cells = Counter({(a, x, y): n for a, x, y, n in conn.execute(
        "SELECT area_code, cx, cy, cases FROM wall_case_cells")})
    # a counter that went back to zero may stay as a row; Counter's + drops zeros and negatives,
    # so compare both ways with the zeros removed and no negative left behind
    for stored, raw in ((stored_counts, counts), (stored_days, days), (stored_cells, cells)):
        assert all(v >= 0 for v in stored.values())
        assert +stored == +raw
    sums = conn.execute("SELECT sum(sum_lon), sum(sum_lat) FROM wall_case_cells").fetchone()
    open_rows = [r for r in rows if r["status"] in OPEN_STATES]
    assert sums is not None
    assert (sums[0] or 0.0) == pytest.approx(sum(r["x"] for r in open_rows), abs=1e-6)
    assert (sums[1] or 0.0) == pytest.approx(sum(r["y"] for r in open_rows), abs=1e-6)


def check_indicators(url: str, areas: list[tuple[str, str]]) -> None:
    """The command views' indicators equal open, overdue and 30-day closure figures of the raw cases."""
    with psycopg.connect(url) as conn:
        rows = _raw_rows(conn)
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    today = _china_day(now)

    async def read(code: str, level: str) -> list[Any]:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await child_indicators(conn, await read_area(conn, code, level))

    for code, level in areas:
        for child in asyncio.run(read(code, level)):
            mine = [r for r in rows if child.code in _codes(r) and r["d"] == code[:6] and code in _codes(r)]
            open_ = [r for r in mine if r["status"] in OPEN_STATES]
            closed = [r for r in mine if r["status"] == "closed" and r["closed_at"] is not None
                      and _china_day(r["closed_at"]) > today - timedelta(days=30)]
            # a case turning overdue between the two reads would be a false alarm: deadlines here are hours away
            assert child.open_cases == len(open_), (code, child.code)
            assert child.overdue_cases == sum(r["deadline"] < now for r in open_), (code, child.code)
            assert child.closed_30d == len(closed), (code, child.code)
            assert child.on_time_30d == sum(r["closed_at"] <= r["deadline"] for r in closed), (code, child.code)


@pytest.fixture
def live_district(client_rw: TestClient, demo_rw: str) -> tuple[TestClient, str, list[tuple[float, float]]]:
    insert_community(demo_rw)
    with psycopg.connect(demo_rw) as conn:
        points = [(x, y) for x, y in conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE street_code IS NOT NULL ORDER BY id LIMIT 200")]
    return client_rw, demo_rw, points


def _publish(client: TestClient) -> None:
    headers = {"Authorization": "Bearer " + issue_token(client.app.state.token_secret, "planner", COMMUNITY)}  # type: ignore[attr-defined]
    split = {"operations": [{"op": "split", "grid": grid_code(1),
                             "line": [[450_100.0, 3_429_990.0], [450_100.0, 3_430_210.0]]}]}
    proposal = client.post(f"/planning/communities/{COMMUNITY}/proposals", params={"crs": "EPSG:4548"},
                           json=split, headers=headers)
    if proposal.status_code == 201:  # grid 1 is split only once; later draws redraw the whole community
        client.post(f"/planning/proposals/{proposal.json()['id']}/publish", headers=headers)
        return
    current = proposal.status_code
    redraw = collection(feature(rect(0, 0, 250, 200), grid_code(7)), feature(rect(250, 0, 400, 200), grid_code(8)))
    again = client.post(f"/planning/communities/{COMMUNITY}/proposals", params={"crs": "EPSG:4548"},
                        json=redraw, headers=headers)
    assert again.status_code == 201, (current, again.text)
    client.post(f"/planning/proposals/{again.json()['id']}/publish", headers=headers)


def _apply(client: TestClient, url: str, points: list[tuple[float, float]], move: tuple[Any, ...]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM incidents ORDER BY id DESC LIMIT 60")]
        grids = [r[0] for r in conn.execute(
            "SELECT code FROM grids WHERE valid_to IS NULL AND community_code LIKE %s ORDER BY code",
            (STREET + "%",))]
        kind = move[0]
        if kind == "intake":
            lon, lat = points[move[1] % len(points)]
            body = {"category": "01.03", "channel": "hotline", "description": "测试",
                    "location": {"lon": lon, "lat": lat}}
            assert client.post("/incidents", json=body, headers=auth(client, "operator")).status_code == 201
        elif kind == "action":
            action, role, body = ACTIONS[move[2]]
            client.post(f"/incidents/{ids[move[1] % len(ids)]}/{action}", json=body or None,
                        headers=auth(client, role))
        elif kind == "overdue":
            conn.execute("UPDATE incidents SET deadline = now() - make_interval(hours => %s), "
                         "reported_at = now() - make_interval(hours => %s + 24) WHERE id = %s",
                         (move[2], move[2], ids[move[1] % len(ids)]))
        elif kind == "closed_back":
            conn.execute("UPDATE incidents SET status = 'closed', closed_at = now() - make_interval(days => %s), "
                         "reported_at = least(reported_at, now() - make_interval(days => %s + 1)) WHERE id = %s",
                         (move[2], move[2], ids[move[1] % len(ids)]))
        elif kind == "rekey":
            code = grids[move[2] % len(grids)]
            conn.execute("UPDATE incidents SET grid_code = g.code, grid_id = g.id, community_code = g.community_code, "
                         "street_code = left(g.community_code, 9) FROM grids AS g "
                         "WHERE g.code = %s AND g.valid_to IS NULL AND incidents.id = %s",
                         (code, ids[move[1] % len(ids)]))
        elif kind == "escalations":
            client.post("/incidents/escalations", headers=auth(client, "operator"))
        else:
            _publish(client)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(step, min_size=1, max_size=12))
def test_counters_equal_the_raw_cases(
    live_district: tuple[TestClient, str, list[tuple[float, float]]], moves: list[tuple[Any, ...]]
) -> None:
    client, url, points = live_district
    for move in moves:
        _apply(client, url, points, move)
    with psycopg.connect(url) as conn:
        check_counters(conn)
    check_indicators(url, [("340111", "district"), (STREET, "street"), (COMMUNITY, "community"),
                           (STREET + "001", "community")])


def test_a_rebuild_counts_the_same(live_district: tuple[TestClient, str, list[tuple[float, float]]]) -> None:
    client, url, points = live_district
    for move in [("intake", 3), ("action", 0, 0), ("closed_back", 1, 5), ("publish",), ("rekey", 2, 9)]:
        _apply(client, url, points, move)
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT area_code, status, sum(cases) FROM wall_case_counts "
                              "GROUP BY 1, 2 HAVING sum(cases) <> 0 ORDER BY 1, 2").fetchall()
        conn.execute("UPDATE wall_case_counts SET cases = cases + 1")  # spoil them, so the rebuild must count
        rebuild_aggregates(conn)
        after = conn.execute("SELECT area_code, status, sum(cases) FROM wall_case_counts "
                             "GROUP BY 1, 2 HAVING sum(cases) <> 0 ORDER BY 1, 2").fetchall()
        assert after == before and len(after) > 100
        check_counters(conn)


def test_days_before_the_window_are_neither_counted_nor_kept(
        live_district: tuple[TestClient, str, list[tuple[float, float]]]) -> None:
    """A case closed 40 days ago counts in its status but on no day; an aged-out day row is pruned."""
    client, url, points = live_district
    _apply(client, url, points, ("closed_back", 0, 40))
    with psycopg.connect(url) as conn:
        today = _china_day(conn.execute("SELECT now()").fetchone()[0])  # type: ignore[index]
        first_kept = today - timedelta(days=DAYS_KEPT - 1)
        assert conn.execute("SELECT count(*) FROM wall_case_days WHERE day < %s",
                            (first_kept,)).fetchone() == (0,)
        closed = conn.execute("SELECT count(*) FROM incidents WHERE status = 'closed' "
                              "AND closed_at < now() - interval '39 days'").fetchone()
        assert closed is not None and closed[0] >= 1  # the old closure exists, it is just not a kept day
        check_counters(conn)
        # an area of no case, so the rows cannot meet the counters' own
        conn.execute("INSERT INTO wall_case_days VALUES ('000000', %s, 0, 1, 1, 1), ('000000', %s, 0, 1, 0, 0)",
                     (first_kept - timedelta(days=1), first_kept))
        conn.commit()

    async def prune() -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as aconn:
            return await prune_days(aconn)

    assert asyncio.run(prune()) == 1
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT min(day) FROM wall_case_days").fetchone() == (first_kept,)
        assert conn.execute("SELECT day FROM wall_case_days WHERE area_code = '000000'").fetchall() == [(first_kept,)]


def _past_cases(conn: psycopg.Connection, folder: Path, count: int = 60) -> Path:
    """A CSV of ``count`` past cases (refs P0000…) at the points of the first stored ones, a third still open.

    A quarter were reported in the last days the walls count by day, some
    closed there too, and a quarter of the old ones were closed lately.
    """
    points = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id LIMIT %s", (count,)).fetchall()
    lines = ["external_ref,category,channel,description,reported_at,closed_at,status,lon,lat"]
    today = datetime.now(CHINA).date()
    for i, (lon, lat) in enumerate(points):
        reported = f"2024-02-{1 + i % 27:02d} 09:00:00" if i % 4 != 1 else \
            f"{today - timedelta(days=2 + i % 9)} 09:00:00"
        closed = "" if i % 3 == 0 else f"2024-03-{1 + i % 27:02d} 12:00:00" if i % 4 not in (1, 2) else \
            f"{today - timedelta(days=i % 2)} 08:00:00"  # i % 4 == 2: an old case closed lately
        lines.append(f"P{i:04d},01.03,hotline,历史,{reported},{closed},"
                     f"{'handling' if i % 3 == 0 else 'closed'},{lon},{lat}")
    path = folder / "past.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute("""SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
                           WHERE indrelid IN ('incidents'::regclass, 'incident_events'::regclass)
                           ORDER BY 1""").fetchall()


@pytest.mark.parametrize("bulk", [False, True], ids=["added", "bulk"])
def test_a_history_import_is_counted(demo_rw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     bulk: bool) -> None:
    """Past cases loaded with the triggers skipped (as superuser) are counted all the same.

    ``added``: a small load adds its own cases to the counters. ``bulk``: a
    load taken for most of the table (indexes rebuilt at the end, counters
    counted again) and stored in chunks of 7 by the second thread.
    """
    if bulk:
        monkeypatch.setattr(bulk_module, "worth_deferring", lambda conn, table, rows: True)
        monkeypatch.setattr(history, "CHUNK", 7)
    with psycopg.connect(demo_rw) as conn:
        path = _past_cases(conn, tmp_path)
        indexes = _indexes(conn)
    result = import_layer(demo_rw, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions())
    assert result.ok and result.counts and result.counts.inserted == 60, result.report()
    with psycopg.connect(demo_rw) as conn:
        assert _indexes(conn) == indexes
        # every B-tree (rebuilt, or kept up to date by the load: the partial ones) holds every row it should
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        checked = conn.execute("""
            SELECT count(bt_index_check(x.indexrelid, true)) FROM pg_index AS x
            JOIN pg_class AS i ON i.oid = x.indexrelid JOIN pg_am AS m ON m.oid = i.relam
            WHERE x.indrelid IN ('incidents'::regclass, 'incident_events'::regclass) AND m.amname = 'btree'
            """).fetchone()
        assert checked is not None and checked[0] >= 12
        # each imported case has its one import event, made from the stored row
        events = conn.execute("""
            SELECT count(*), count(*) FILTER (WHERE e.to_status = i.status AND e.at = i.reported_at
                                              AND e.reason = 'imported from past.csv')
            FROM incidents AS i JOIN incident_events AS e ON e.incident_id = i.id AND e.action = 'import'
            WHERE i.external_ref LIKE 'P%'""").fetchone()
        assert events == (60, 60)
        # each case is keyed to the grid its point lies in (the first 60 cases' own)
        keyed = conn.execute("""
            SELECT count(*) FROM incidents AS p JOIN grids AS g ON g.id = p.grid_id
            WHERE p.external_ref LIKE 'P%' AND ST_Intersects(g.geom, p.geom)
              AND p.grid_code = g.code AND p.community_code = g.community_code""").fetchone()
        assert keyed == (60,)
        if bulk:  # the load held the table: its ids are one block, reserved in one step, the sequence at its end
            block = conn.execute("""SELECT max(id) - min(id) + 1, max(id) = (SELECT last_value FROM incidents_id_seq)
                                    FROM incidents WHERE external_ref LIKE 'P%'""").fetchone()
            assert block == (60, True)
            # so are their events' ids (their table held too), in the cases' order
            events_block = conn.execute("""
                SELECT max(e.id) - min(e.id) + 1, max(e.id) = (SELECT last_value FROM incident_events_id_seq),
                       bool_and(e.id - i.id = (SELECT min(id) FROM incident_events WHERE action = 'import'
                                                  AND reason = 'imported from past.csv')
                                           - (SELECT min(id) FROM incidents WHERE external_ref LIKE 'P%'))
                FROM incidents AS i JOIN incident_events AS e ON e.incident_id = i.id AND e.action = 'import'
                WHERE i.external_ref LIKE 'P%'""").fetchone()
            assert events_block == (60, True, True)
        # the walls' delta feeds see the imported open cases as written now; the ended ones never show
        marks = conn.execute("""
            SELECT status = 'closed', bool_and(changed_xid IS NULL), bool_and(changed_xid IS NOT NULL)
            FROM incidents WHERE external_ref LIKE 'P%' GROUP BY 1 ORDER BY 1""").fetchall()
        assert marks == [(False, False, True), (True, True, False)]
        check_counters(conn)
        assert conn.execute("SELECT sum(cases) FROM wall_case_counts WHERE area_code = '340111' "
                            "AND status = 'handling'").fetchone()[0] >= 20  # type: ignore[index]
        # the recent cases are on the district's kept days (reported; closed, as are old ones closed lately)
        on_days = conn.execute("SELECT sum(reported), sum(closed) FROM wall_case_days "
                               "WHERE area_code = '340111'").fetchone()
        assert on_days is not None and on_days[0] >= 15 and on_days[1] >= 20


def test_a_history_import_refused_midway_leaves_nothing(demo_rw: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk the database refuses, after others were stored by the second thread, undoes the whole load.

    The cases, their events, the counters and the dropped indexes are all as
    they were before it.
    """
    monkeypatch.setattr(bulk_module, "worth_deferring", lambda conn, table, rows: True)
    monkeypatch.setattr(history, "CHUNK", 7)
    made = history.binary_chunk
    chunks: list[int] = []

    def cut_short(columns: dict[str, Any]) -> bytes:
        data = made(columns)
        if "id" not in columns:  # the chunk's events
            return data
        chunks.append(len(columns["id"]))
        return data[:-10] if len(chunks) == 4 else data  # a stream cut inside its last row: COPY refuses it

    monkeypatch.setattr(history, "binary_chunk", cut_short)
    with psycopg.connect(demo_rw) as conn:
        path = _past_cases(conn, tmp_path)
        before = _state(conn)
    with pytest.raises(psycopg.Error):
        import_layer(demo_rw, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions())
    assert len(chunks) >= 4  # three chunks went in before the bad one
    with psycopg.connect(demo_rw) as conn:
        assert _state(conn) == before
        assert conn.execute("SELECT count(*) FROM incidents WHERE external_ref LIKE 'P%'").fetchone() == (0,)


def _state(conn: psycopg.Connection) -> tuple[Any, ...]:
    """What a history import changes: indexes, events, cases, counters."""
    return (_indexes(conn), conn.execute("SELECT count(*), max(id) FROM incident_events").fetchone(),
            conn.execute("SELECT count(*) FROM incidents").fetchone(),
            conn.execute("SELECT sum(cases), count(*) FROM wall_case_counts").fetchone())


def test_a_history_checked_part_by_part_reports_what_the_whole_file_does(
        demo_rw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Problems spread over the parts a history is converted, checked and stored in are reported as for one part.

    Unknown categories in two parts (each part's own values), a reference
    repeated across parts, a point outside the district, a closure before
    its report: the same problems (counts, rows, values shown) whether the
    file is one part or parts of 7; storing began with the first clean
    parts and was undone, and a dry run reports the same.
    """
    monkeypatch.setattr(bulk_module, "worth_deferring", lambda conn, table, rows: True)
    with psycopg.connect(demo_rw) as conn:
        path = _past_cases(conn, tmp_path)
        before = _state(conn)
    lines = path.read_text(encoding="utf-8").splitlines()

    def change(row: int, column: int, value: str) -> None:
        cells = lines[row].split(",")
        cells[column] = value
        lines[row] = ",".join(cells)

    for row, category in ((25, "99.99"), (41, "88.88"), (44, "77.77"), (58, "99.99")):
        change(row, 1, category)
    change(47, 0, "P0002")  # the third row's reference
    change(33, 7, "121.5")  # far east of Hefei
    change(30, 5, "2020-01-01 00:00:00")  # closed years before its report
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stored: list[int] = []
    store = history._store

    def counted(*args: Any) -> None:
        stored.append(1)
        store(*args)

    monkeypatch.setattr(history, "_store", counted)
    reports = []
    for first, size, dry_run in ((1000, 1000, False), (7, 7, False), (3, 7, True)):
        monkeypatch.setattr(history, "FIRST_CHUNK", first)
        monkeypatch.setattr(history, "CHUNK", size)
        stored.clear()
        result = import_layer(demo_rw, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions(dry_run=dry_run))
        assert not result.ok and result.counts is None
        # in parts of 7, the three before the first problem (row 25) were stored, then undone
        assert len(stored) == (3 if (size, dry_run) == (7, False) else 0)
        with psycopg.connect(demo_rw) as conn:
            assert _state(conn) == before
        reports.append(sorted(result.report()["problems"], key=lambda p: (p["check"], p["message"])))
    assert reports[0] == reports[1] == reports[2]  # in the order found, which differs
    found = {p["check"]: p for p in reports[0]}
    assert found["unknown_value"]["rows"] == [25, 41, 44, 58]
    assert found["unknown_value"]["message"].endswith("(77.77, 88.88, 99.99)")
    assert found["duplicate_code"]["rows"] == [3, 47]
    assert found["outside_district"]["rows"] == [33] and found["times"]["rows"] == [30]


@given(n=st.integers(min_value=0, max_value=2_000), first=st.integers(min_value=1, max_value=50),
       size=st.integers(min_value=1, max_value=300))
def test_history_chunks_cover_every_row_once(n: int, first: int, size: int) -> None:
    """The chunks a history is stored in: in order, each row once, the first no larger than asked."""
    chunks = list(history.chunks(n, first, size))
    covered = [row for start, end in chunks for row in range(start, end)]
    assert covered == list(range(n))
    assert all(end - start == size for start, end in chunks[1:-1])
    assert not chunks or chunks[0][1] - chunks[0][0] == min(first, size, n)


def test_a_history_with_some_cases_stored_already_adds_only_the_new(demo_rw: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored references are looked up across every part: the new cases go in, the stored are left alone."""
    monkeypatch.setattr(history, "CHUNK", 7)
    with psycopg.connect(demo_rw) as conn:
        path = _past_cases(conn, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = tmp_path / "first.csv"
    first.write_text("\n".join(lines[:1] + lines[1::2]) + "\n", encoding="utf-8")  # every other case
    done = import_layer(demo_rw, first, LAYERS["incidents"], Options(crs=WGS84), WriteOptions())
    assert done.ok and done.counts and done.counts.inserted == 30
    progress = _Counted()
    result = import_layer(demo_rw, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions(), progress)
    assert result.ok and result.counts and (result.counts.inserted, result.counts.unchanged) == (30, 30)
    assert progress.rows == {"reading": 0, "importing": 60}  # the bar ends full, the stored rows counted too
    with psycopg.connect(demo_rw) as conn:
        refs = conn.execute("SELECT external_ref, count(*) FROM incidents WHERE external_ref LIKE 'P%' "
                            "GROUP BY 1 ORDER BY 1").fetchall()
        assert refs == [(f"P{i:04d}", 1) for i in range(60)]
        check_counters(conn)


def test_a_reference_repeated_across_parts_alone_undoes_the_load(demo_rw: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Found only once every part is stored (the check across rows), it still leaves nothing behind."""
    monkeypatch.setattr(bulk_module, "worth_deferring", lambda conn, table, rows: True)
    monkeypatch.setattr(history, "CHUNK", 7)
    with psycopg.connect(demo_rw) as conn:
        path = _past_cases(conn, tmp_path)
        before = _state(conn)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[58] = "P0001" + lines[58][len("P0057"):]  # the second row's reference again, 57 rows on
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_layer(demo_rw, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions())
    assert not result.ok and result.counts is None
    assert [(p.check, p.rows) for p in result.problems.errors] == [("duplicate_code", [2, 58])]
    with psycopg.connect(demo_rw) as conn:
        assert _state(conn) == before


class _Counted(Progress):
    """Rows reported done, by stage."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.current = ""

    def stage(self, name: str, total: int | None = None) -> None:
        self.current = name
        self.rows[name] = 0

    def advance(self, rows: int) -> None:
        self.rows[self.current] += rows
