"""The live case feed: deltas applied in order reproduce the full answer; levels and caps hold.

A wall keeps its copy of the open cases in view and asks only for what
changed since its version; after any sequence of intakes, loop steps and
direct writes, the copy it builds must equal a fresh full answer. With
many open cases the feed turns to per-street counts or clusters, which must
count exactly the open cases, and no answer may exceed 300 KB.
"""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.routers.live import BYTES_MAX
from layers.walls.feed import POINTS_MAX
from tests.conftest import auth

STREET = "340111002"
BAOHE = "116.9,31.5,117.6,32.0"

step = st.one_of(
    st.tuples(st.just("intake"), st.integers(0, 10_000)),
    st.tuples(st.sampled_from(["dispatch", "reject", "close_sql", "overdue_sql", "reopen_sql", "rekey_sql"]),
              st.integers(0, 10_000)),
)


def _feed(client: TestClient, area: str, bbox: str = BAOHE, since: str | None = None) -> dict[str, Any]:
    params = {"bbox": bbox, **({"since": since} if since else {})}
    r = client.get(f"/live/{area}/cases", params=params, headers=auth(client, "operator", area))
    assert r.status_code == 200, r.text
    assert len(r.content) <= BYTES_MAX
    return dict(r.json())


def _state(answer: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {f["id"]: {"geometry": f["geometry"], **f["properties"]} for f in answer["features"]}


def _apply(held: dict[int, dict[str, Any]], answer: dict[str, Any]) -> dict[int, dict[str, Any]]:
    if answer["complete"]:
        return _state(answer)
    out = {k: v for k, v in held.items() if k not in set(answer["removed"])}
    out.update(_state(answer))
    return out


def _move(client: TestClient, url: str, points: list[tuple[float, float]], move: tuple[str, int]) -> None:
    kind, n = move
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM incidents WHERE street_code = %s ORDER BY id DESC LIMIT 40", (STREET,))]
        case = ids[n % len(ids)]
        if kind == "intake":
            lon, lat = points[n % len(points)]
            body = {"category": "01.03", "channel": "hotline", "location": {"lon": lon, "lat": lat}}
            assert client.post("/incidents", json=body, headers=auth(client, "operator")).status_code == 201
        elif kind in ("dispatch", "reject"):
            reason = {"reason": "不属实"} if kind == "reject" else None
            client.post(f"/incidents/{case}/{kind}", json=reason,
                        headers=auth(client, "dispatcher" if kind == "dispatch" else "operator"))
        elif kind == "close_sql":
            conn.execute("UPDATE incidents SET status = 'closed', closed_at = now() WHERE id = %s", (case,))
        elif kind == "overdue_sql":
            conn.execute("UPDATE incidents SET reported_at = now() - interval '3 days', "
                         "deadline = now() - interval '1 hour' WHERE id = %s", (case,))
        elif kind == "reopen_sql":
            conn.execute("UPDATE incidents SET status = 'accepted', closed_at = NULL WHERE id = %s", (case,))
        else:  # re-keyed to another grid of the street (as a planning publish does)
            conn.execute("UPDATE incidents SET grid_code = g.code, grid_id = g.id FROM grids AS g "
                         "WHERE g.community_code LIKE %s AND g.valid_to IS NULL AND incidents.id = %s "
                         "AND g.code = (SELECT code FROM grids WHERE community_code LIKE %s AND valid_to IS NULL "
                         "ORDER BY code OFFSET %s LIMIT 1)", (STREET + "%", case, STREET + "%", n % 50))


@pytest.fixture
def street_points(client_rw: TestClient, demo_rw: str) -> tuple[TestClient, str, list[tuple[float, float]]]:
    with psycopg.connect(demo_rw) as conn:
        points = [(x, y) for x, y in conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE street_code = %s ORDER BY id LIMIT 100", (STREET,))]
    return client_rw, demo_rw, points


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.lists(step, max_size=6), min_size=1, max_size=4))
def test_deltas_applied_in_order_reproduce_the_full_answer(
    street_points: tuple[TestClient, str, list[tuple[float, float]]], rounds: list[list[tuple[str, int]]]
) -> None:
    client, url, points = street_points
    first = _feed(client, STREET)
    assert first["mode"] == "points" and first["complete"] is True
    held, version = _state(first), first["version"]
    for moves in rounds:
        for move in moves:
            _move(client, url, points, move)
        delta = _feed(client, STREET, since=version)
        held, version = _apply(held, delta), delta["version"]
        full = _feed(client, STREET)
        assert full["mode"] == "points"
        assert held == _state(full)
    with psycopg.connect(url) as conn:
        raw = {r[0] for r in conn.execute(
            "SELECT id FROM incidents WHERE street_code = %s AND status NOT IN ('closed', 'rejected', 'duplicate')",
            (STREET,))}
    assert set(held) == raw


def test_a_case_turning_overdue_is_in_the_delta(
    street_points: tuple[TestClient, str, list[tuple[float, float]]],
) -> None:
    client, url, _ = street_points
    with psycopg.connect(url, autocommit=True) as conn:
        case = conn.execute("SELECT id FROM incidents WHERE street_code = %s AND status = 'accepted' LIMIT 1",
                            (STREET,)).fetchone()[0]  # type: ignore[index]
        conn.execute("UPDATE incidents SET deadline = now() + interval '1 second' WHERE id = %s", (case,))
    first = _feed(client, STREET)
    assert _state(first)[case]["overdue"] is False
    time.sleep(1.5)  # the deadline passes; no row changes
    delta = _feed(client, STREET, since=first["version"])
    assert delta["complete"] is False and _state(delta)[case]["overdue"] is True


def test_a_case_re_keyed_to_another_street_leaves_the_old_streets_copy(
    street_points: tuple[TestClient, str, list[tuple[float, float]]],
) -> None:
    client, url, _ = street_points
    first = _feed(client, STREET)
    held = _state(first)
    with psycopg.connect(url, autocommit=True) as conn:
        case = conn.execute("SELECT id FROM incidents WHERE street_code = %s AND status = 'accepted' "
                            "ORDER BY id LIMIT 1", (STREET,)).fetchone()[0]  # type: ignore[index]
        assert case in held
        moved = conn.execute("""
            UPDATE incidents SET grid_code = g.code, grid_id = g.id, community_code = g.community_code,
                   street_code = left(g.community_code, 9)
            FROM grids AS g WHERE incidents.id = %s AND g.valid_to IS NULL AND g.community_code NOT LIKE %s
              AND g.code = (SELECT min(code) FROM grids WHERE valid_to IS NULL AND community_code NOT LIKE %s)
            RETURNING incidents.street_code""", (case, STREET + "%", STREET + "%")).fetchone()
        assert moved is not None and moved[0] != STREET
    delta = _feed(client, STREET, since=first["version"])
    assert delta["complete"] is False and case in delta["removed"]
    assert case not in _state(delta)
    assert _apply(held, delta) == _state(_feed(client, STREET))


def test_unchanged_delta_is_empty_and_bad_versions_are_refused(client_ro: TestClient) -> None:
    first = _feed(client_ro, STREET)
    again = _feed(client_ro, STREET, since=first["version"])
    assert again["complete"] is False and again["features"] == [] and again["removed"] == []
    for bad in ("abc", "1", "1.2.3", "-1.5", "1" * 25 + ".1"):
        r = client_ro.get(f"/live/{STREET}/cases", params={"since": bad}, headers=auth(client_ro, "operator", STREET))
        assert r.status_code == 422 and r.json()["code"]


def test_many_open_cases_come_as_street_counts_or_clusters(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        conn.execute("UPDATE incidents SET status = 'accepted', closed_at = NULL WHERE status = 'closed'")
        open_by_street: dict[str, int] = dict(conn.execute(
            "SELECT street_code, count(*) FROM incidents WHERE status NOT IN ('closed', 'rejected', 'duplicate') "
            "GROUP BY 1").fetchall())
        overdue_by_street: dict[str, int] = dict(conn.execute(
            "SELECT street_code, count(*) FROM incidents WHERE status NOT IN ('closed', 'rejected', 'duplicate') "
            "AND deadline < now() GROUP BY 1").fetchall())
        cases = conn.execute("SELECT ST_X(geom), ST_Y(geom), street_code FROM incidents "
                             "WHERE status NOT IN ('closed', 'rejected', 'duplicate')").fetchall()
    whole = _feed(client_rw, "340111")
    assert whole["mode"] == "areas"
    counts = {f["id"]: f["properties"] for f in whole["features"]}
    assert {k: v["count"] for k, v in counts.items() if v["count"]} == open_by_street
    assert {k: v["overdue"] for k, v in counts.items() if v["overdue"]} == overdue_by_street
    assert all(sum(v["statuses"].values()) == v["count"] for v in counts.values())

    # a street-sized view: clusters, counting every open case of the cells the view meets
    view = (117.25, 31.75, 117.31, 31.80)
    answer = _feed(client_rw, "340111", bbox=",".join(map(str, view)))
    assert answer["mode"] == "clusters" and 0 < len(answer["features"]) <= 26 * 26
    def meets(x: float, y: float) -> bool:
        return (math.floor(view[0] / 0.002) <= math.floor(x / 0.002) <= math.floor(view[2] / 0.002)
                and math.floor(view[1] / 0.002) <= math.floor(y / 0.002) <= math.floor(view[3] / 0.002))
    expected = sum(meets(x, y) for x, y, _ in cases)
    assert sum(f["properties"]["count"] for f in answer["features"]) == answer["total"] == expected > POINTS_MAX

    # a street's own wall sees only its street's cases, however wide its view
    street = _feed(client_rw, STREET)
    assert street["mode"] == "clusters" and street["total"] == open_by_street[STREET]


def test_crowded_point_layers_stay_under_the_cap(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'cameras' "
            "AND column_name NOT IN ('id', 'code', 'geom') AND is_generated = 'NEVER'")]
        listed = ", ".join(columns)
        # ten copies of every camera, a few metres apart: 5,500 in all
        conn.execute(f"INSERT INTO cameras (code, geom, {listed}) "
                     f"SELECT c.code || '-' || g, ST_Translate(c.geom, g * 1e-5, 0), {listed} "
                     "FROM cameras AS c, generate_series(1, 10) AS g")
        inside = conn.execute("SELECT count(*) FROM cameras AS c, districts AS d "
                              "WHERE d.code = '340111' AND ST_Covers(d.geom, c.geom)").fetchone()[0]  # type: ignore[index]
    r = client_rw.get("/live/340111/cameras", params={"bbox": BAOHE}, headers=auth(client_rw, "operator"))
    assert r.status_code == 200 and len(r.content) <= BYTES_MAX
    answer = r.json()
    assert answer["mode"] == "clusters"
    assert sum(f["properties"]["count"] for f in answer["features"]) == answer["total"] == inside > 5000
