"""The evaluation: figures recomputed independently from the raw event log, files, bad input.

A seeded random history goes through the real API (intake, dispatch, handle,
feedback, return, verify, close, reject, duplicates, reassign, escalation),
some cases backdated so that dispatch and handling run late. Every figure of
``GET /evaluation`` at every level is then recomputed here in plain Python
from the ``incidents`` rows and the ``incident_events`` table, following the
definitions written in the README and ``layers/time/evaluation.py`` (not the
module's SQL), and compared exactly. The demo's 10,000 cases of the last 90
days are in the same database, so the comparison covers them too.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import auth

CHINA = timezone(timedelta(hours=8))
DISPATCH_LIMIT = timedelta(minutes=30)  # the documented dispatch limit
ROLE = {"dispatch": "dispatcher", "reassign": "dispatcher", "handle": "dispatcher", "feedback": "dispatcher",
        "verify": "operator", "close": "operator", "return": "operator", "reject": "operator",
        "mark_duplicate": "operator", "escalate": "dispatcher", "request_extension": "dispatcher",
        "request_suspension": "dispatcher", "approve": "operator", "refuse": "operator", "resume": "dispatcher",
        "support_feedback": "dispatcher", "release": "dispatcher"}
# time and teams (layers/time): delays asked by the handling side, decided by the level above
TIME_STEPS = ["request_extension", "request_suspension", "approve", "approve", "refuse", "resume",
              "support_feedback", "support_feedback", "release"]
NEXT = {"accepted": ["dispatch", "dispatch", "dispatch", "reject", "escalate", "mark_duplicate"],
        "dispatched": ["handle", "handle", "handle", "reassign", "reject", *TIME_STEPS],
        "handling": ["feedback", "feedback", "feedback", "escalate", *TIME_STEPS],
        "feedback": ["verify", "return"],
        "verified": ["close", "close", "close", "return"]}
NEEDS_REASON = ("reassign", "reject", "return", "escalate", "request_extension", "request_suspension", "refuse",
                "support_feedback", "release")


# --- the history ------------------------------------------------------------------------------------------

def _places(url: str, count: int, rng: random.Random) -> list[tuple[float, float]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM buildings "
                            "ORDER BY id LIMIT 2000").fetchall()
    return [rows[rng.randrange(len(rows))] for _ in range(count)]


def _categories(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM catalogue ORDER BY code")]


def _team_types(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT code FROM team_types ORDER BY code")]


def _level_above(url: str, case_id: int) -> str:
    """The area that decides the case's delay requests: its street for a community-level case, else the district."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT level, street_code FROM incidents WHERE id = %s", (case_id,)).fetchone()
    assert row is not None
    return str(row[1]).strip() if row[0] == "community" else "340111"


def _free_teams(client: TestClient, url: str, case_id: int, types: list[str], rng: random.Random) -> list[int]:
    """One or two free teams near the case, of a type other than the lead's (of other bodies)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_X(i.geom), ST_Y(i.geom), k.team_type FROM incidents i "
                           "JOIN catalogue k ON k.code = i.category_code WHERE i.id = %s", (case_id,)).fetchone()
    assert row is not None
    team_type = rng.choice([t for t in types if t != row[2]])
    found = client.get("/teams/nearest", params={"lon": row[0], "lat": row[1], "type": team_type,
                                                 "k": rng.choice([1, 2])})
    return [team["id"] for team in found.json().get("teams", [])]


def _backdate(url: str, case_id: int, rng: random.Random) -> None:
    """File the case earlier (up to 40 h ago) with a short or long deadline, as an old report would be."""
    hours_ago = rng.uniform(0.2, 40)
    limit = rng.choice([0.1, 2.0, 10.0, 60.0])
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE incidents SET reported_at = now() - %s * interval '1 hour', "
                     "deadline = now() - %s * interval '1 hour' + %s * interval '1 hour' WHERE id = %s",
                     (hours_ago, hours_ago, limit, case_id))


def _step_body(client: TestClient, url: str, rng: random.Random, action: str, case_id: int, ids: list[int],
               supporters: list[int], types: list[str], pending: bool) -> dict[str, Any] | None:
    """The body of a step (None: the step makes no sense now, skip it)."""
    body: dict[str, Any] = {}
    if action in NEEDS_REASON:
        body["reason"] = "测试"
    if action == "mark_duplicate":
        body["duplicate_of"] = rng.choice([i for i in ids if i != case_id])
    if action in ("request_extension", "request_suspension"):
        body["minutes"] = rng.choice([30, 120, 600])
    if action in ("approve", "refuse") and not pending:
        return None
    if action in ("support_feedback", "release"):
        if not supporters:
            return None
        body["team_id"] = rng.choice(supporters)
    if action == "dispatch" and rng.random() < 0.4:  # joint dispatch: a lead and one or two supporters
        body["support_teams"] = _free_teams(client, url, case_id, types, rng)
    return body


def build_history(client: TestClient, url: str, seed: int, count: int = 30) -> list[int]:
    """File ``count`` cases and walk each through random steps of the loop; return their ids."""
    rng = random.Random(seed)
    categories = _categories(url)
    ids: list[int] = []
    for lon, lat in _places(url, count, rng):
        body = {"category": rng.choice(categories), "channel": "hotline", "location": {"lon": lon, "lat": lat}}
        made = client.post("/incidents", json=body, headers=auth(client, "operator"))
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
        if rng.random() < 0.6:
            _backdate(url, ids[-1], rng)
    types = _team_types(url)
    for case_id in ids:
        status, supporters, pending = "accepted", [], False
        for _ in range(rng.randrange(0, 16)):
            if status not in NEXT:
                break
            action = rng.choice(NEXT[status])
            area = _level_above(url, case_id) if action in ("approve", "refuse") else "340111"
            body = _step_body(client, url, rng, action, case_id, ids, supporters, types, pending)
            if body is None:
                continue
            reply = client.post(f"/incidents/{case_id}/{action}", json=body or None,
                                headers=auth(client, ROLE[action], area))
            # 409: no free team, a limit reached, no request pending, supporters still at work...
            # 403: a district-level case's request has no level above to decide it; 404: no pause to resume
            assert (reply.status_code in (200, 409) or (reply.status_code == 403 and area == "340111")
                    or (reply.status_code == 404 and action == "resume")), reply.text
            if reply.status_code == 200:
                status = reply.json()["status"]
                if action == "dispatch":
                    supporters = list(body.get("support_teams", []))
                elif action in ("support_feedback", "release"):
                    supporters.remove(body["team_id"])
                pending = action in ("request_extension", "request_suspension") or (
                    pending and action not in ("approve", "refuse"))
    return ids


# --- the independent recomputation ------------------------------------------------------------------------

def _read(url: str, area: str, start: datetime, end: datetime) -> tuple[list[dict], dict[int, list[dict]]]:
    with psycopg.connect(url) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        cases = cur.execute("""
            SELECT i.id, i.status, i.team_id, i.reported_at, i.deadline, i.street_code, i.community_code,
                   i.grid_code, k.team_type
            FROM incidents i JOIN catalogue k ON k.code = i.category_code
            WHERE i.grid_code LIKE %s AND i.reported_at >= %s AND i.reported_at < %s""",
                            (area + "%", start, end)).fetchall()
        log: dict[int, list[dict]] = defaultdict(list)
        for event in cur.execute("SELECT * FROM incident_events WHERE incident_id = ANY(%s) ORDER BY id",
                                 ([c["id"] for c in cases],)):
            log[event["incident_id"]].append(event)
    return cases, log


def _us(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


BOUNDARY = ("accept", "dispatch", "feedback", "verify", "close", "return", "reject", "mark_duplicate")
STAGE_OF = {"accepted": "dispatch", "dispatched": "handle", "handling": "handle", "feedback": "verify",
            "verified": "feedback"}


def _stage_us(event: dict, started: datetime) -> int:
    """The stage's working microseconds from its stage_end record, else the elapsed time."""
    minutes = (event["details"].get("stage_end") or {}).get("working_minutes")
    if minutes is None:
        return _us(event["at"] - started)
    return int((Decimal(repr(minutes)) * 60_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _on_time(event: dict, due: datetime) -> bool:
    stated = (event["details"].get("stage_end") or {}).get("on_time")
    return bool(stated) if stated is not None else event["at"] <= due


def case_figures(case: dict, events: list[dict], as_of: datetime) -> dict[str, int]:
    """One case's contribution to every count and stage sum, read from its log as the definitions say."""
    statuses = [e["to_status"] for e in events if e["to_status"]]
    assert statuses and statuses[-1] == case["status"], "the log and the case disagree"
    f: dict[str, int] = defaultdict(int)
    f["cases"] = 1
    if case["status"] in ("rejected", "duplicate"):
        return f
    f["filed"] = 1
    boundary = [e for e in events if e["action"] in BOUNDARY]
    limit_due = case["reported_at"] + DISPATCH_LIMIT
    dispatches = [e for e in boundary if e["action"] == "dispatch"]
    feedbacks = [e for e in boundary if e["action"] == "feedback"]
    returns = [e for e in boundary if e["action"] == "return"]
    accept_due = [e["details"]["stage_start"]["due_at"] for e in boundary
                  if e["action"] == "accept" and "stage_start" in e["details"]]
    dispatch_due = datetime.fromisoformat(accept_due[0]) if accept_due else limit_due
    handled = bool(feedbacks) and feedbacks[-1]["id"] > max((e["id"] for e in returns), default=0)
    if case["team_type"] is not None:
        f["dispatch_due"] = int(bool(dispatches) or dispatch_due < as_of)
        f["dispatched_on_time"] = int(any(_on_time(e, limit_due) for e in dispatches))
    if dispatches:
        f["dispatched"] = 1
        f["handling_due"] = int(handled or case["deadline"] < as_of)
    if handled:
        f["handled"] = 1
        f["handled_on_time"] = int(_on_time(feedbacks[-1], case["deadline"]))
    if feedbacks:
        f["fed_back"] = 1
        f["reworked"] = int(bool(returns))
    f["returns"] = len(returns)
    if case["status"] == "closed":
        f["closed"] = 1
        f["closed_first_time"] = int(not returns)
    for previous, event in zip([None, *boundary], boundary, strict=False):
        if event["action"] == "accept":
            continue
        stage = STAGE_OF[event["from_status"]]
        f[f"{stage}_stages"] += 1
        f[f"{stage}_us"] += _stage_us(event, previous["at"] if previous else case["reported_at"])
    return f


RATES = {"on_time_dispatch_rate": ("dispatched_on_time", "dispatch_due"),
         "on_time_handling_rate": ("handled_on_time", "handling_due"),
         "closure_rate": ("closed", "filed"),
         "rework_rate": ("reworked", "fed_back"), "satisfaction_rate": ("closed_first_time", "closed"),
         "support_on_time_rate": ("support_on_time", "support_reported")}
STAGES = {stage: (f"{stage}_us", f"{stage}_stages") for stage in ("dispatch", "handle", "verify", "feedback")}
STAGES["support"] = ("support_us", "support_reported")


def expected_row(parts: list[dict[str, int]]) -> dict[str, Any]:
    keys = {key for part in parts for key in part}
    row: dict[str, Any] = {key: sum(part.get(key, 0) for part in parts) for key in keys}
    for key in ("cases", "filed", "dispatched", "handled", "closed", "fed_back", "dispatch_due", "handling_due",
                "support_on_time", "support_released",
                *(name for pair in STAGES.values() for name in pair)):
        row.setdefault(key, 0)
    for name, (num, den) in RATES.items():
        row[name] = row.get(num, 0) / row[den] if row[den] else None
    row["avg_hours"] = {stage: row[total] / row[count] / 3_600_000_000 if row[count] else None
                        for stage, (total, count) in STAGES.items()}
    return row


def recompute(url: str, area: str, first: date, last: date, as_of: datetime) -> dict[str, Any]:
    start = datetime(first.year, first.month, first.day, tzinfo=CHINA)
    end = datetime(last.year, last.month, last.day, tzinfo=CHINA) + timedelta(days=1)
    cases, log = _read(url, area, start, end)
    child_len = {6: 9, 9: 12, 12: 15, 15: 15}[len(area)]
    by_child: dict[str, list] = defaultdict(list)
    by_team: dict[int | None, list] = defaultdict(list)
    everything = []
    for case in cases:
        figures = case_figures(case, log[case["id"]], as_of)
        everything.append(figures)
        by_child[case["grid_code"][:child_len]].append(figures)
        by_team[case["team_id"]].append(figures)
        if case["status"] in ("rejected", "duplicate"):
            continue
        for event in log[case["id"]]:  # what supporting teams did, for the supporter and the case's place
            if event["action"] not in ("support_feedback", "release"):
                continue
            done = event["details"]["assignment"]
            part: dict[str, int] = {"support_released": int(event["action"] == "release")}
            if event["action"] == "support_feedback":
                part["support_reported"] = 1
                part["support_on_time"] = int(bool(done.get("on_time")))
                minutes = done.get("working_minutes")
                part["support_us"] = 0 if minutes is None else int(
                    (Decimal(repr(minutes)) * 60_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            everything.append(part)
            by_child[case["grid_code"][:child_len]].append(part)
            by_team[done.get("team_id")].append(part)
    return {"total": expected_row(everything), "count": len(cases),
            "children": {code: expected_row(parts) for code, parts in by_child.items()},
            "teams": {team: expected_row(parts) for team, parts in by_team.items()}}


def assert_same(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for key, value in want.items():
        assert got[key] == value, f"{where}: {key} is {got[key]!r}, the log says {value!r}"


# --- tests ------------------------------------------------------------------------------------------------

def _period() -> tuple[date, date]:
    today = datetime.now(CHINA).date()
    return today - timedelta(days=3), today


@pytest.mark.parametrize("seed", [13, 2026])
def test_figures_agree_with_the_event_log_at_every_level(client_rw: TestClient, demo_rw: str, seed: int) -> None:
    ids = build_history(client_rw, demo_rw, seed)
    with psycopg.connect(demo_rw) as conn:
        kinds = {row[0] for row in conn.execute(
            "SELECT CASE WHEN details ? 'stage_end' THEN 'stage_end' END FROM incident_events "
            "WHERE incident_id = ANY(%s) UNION SELECT action FROM incident_events WHERE incident_id = ANY(%s) "
            "UNION SELECT 'joint' FROM incident_events WHERE incident_id = ANY(%s) "
            "AND jsonb_array_length(coalesce(details -> 'assignments', '[]')) > 1", (ids, ids, ids))}
    # the history took every kind of step the figures depend on, working-time records included
    assert {"stage_end", "return", "approve", "joint", "close", "reject", "support_feedback", "release"} <= kinds, kinds
    with psycopg.connect(demo_rw) as conn:
        grid, community, street = conn.execute(
            "SELECT grid_code, community_code, street_code FROM incidents WHERE id = %s", (ids[0],)).fetchone()
    first, last = _period()
    seen_late = seen_rework = 0
    for area in ("340111", street.strip(), community.strip(), grid.strip()):
        reply = client_rw.get("/evaluation", params={"area": area, "from": first.isoformat(), "to": last.isoformat()},
                              headers=auth(client_rw, "operator"))
        assert reply.status_code == 200, reply.text
        got = reply.json()
        as_of = datetime.fromisoformat(got["as_of"])
        want = recompute(demo_rw, area, first, last, as_of)
        assert got["total"]["cases"] == want["count"] > 0
        assert_same(got["total"], want["total"], f"{area} total")
        children = {row["code"]: row for row in got["children"]}
        for code, row in want["children"].items():
            assert_same(children[code], row, f"{area} child {code}")
        assert sum(row["cases"] for row in got["children"]) == want["count"]
        teams = {row["team_id"]: row for row in got["teams"]}
        assert set(teams) == set(want["teams"])
        for team, row in want["teams"].items():
            assert_same(teams[team], row, f"{area} team {team}")
        seen_late += want["total"]["dispatch_due"] - want["total"].get("dispatched_on_time", 0)
        seen_rework += want["total"].get("reworked", 0)
    # the history exercised what the figures are about
    assert seen_late > 0 and seen_rework > 0


def test_demo_months_agree_with_the_log(client_ro: TestClient, demo_ro: str) -> None:
    today = datetime.now(CHINA).date()
    first = (today.replace(day=1) - timedelta(days=40)).replace(day=1)
    reply = client_ro.get("/evaluation", params={"area": "340111", "from": first.isoformat(),
                                                 "to": today.isoformat()}, headers=auth(client_ro, "operator"))
    assert reply.status_code == 200, reply.text
    got = reply.json()
    want = recompute(demo_ro, "340111", first, today, datetime.fromisoformat(got["as_of"]))
    assert want["count"] > 1000
    assert_same(got["total"], want["total"], "district total")
    for row in got["children"]:
        assert_same(row, want["children"][row["code"]], f"street {row['code']}")
    # the demo's late handling shows: neither all nor none on time
    assert 0 < got["total"]["on_time_handling_rate"] < 1
    assert all(got["total"]["avg_hours"][stage] > 0 for stage in ("dispatch", "handle", "verify", "feedback"))


def test_csv_and_workbook_hold_the_same_rows(client_ro: TestClient) -> None:
    params = {"area": "340111001"}
    headers = auth(client_ro, "operator", "340111")
    data = client_ro.get("/evaluation", params=params, headers=headers).json()
    as_csv = client_ro.get("/evaluation.csv", params=params, headers=headers)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    same = client_ro.get("/evaluation", params={**params, "format": "csv"}, headers=headers)
    lines = list(csv.DictReader(io.StringIO(as_csv.text.lstrip("\ufeff"))))
    assert same.text.splitlines()[1:] == as_csv.text.splitlines()[1:]  # same rows (as_of aside, none in CSV)
    assert len(lines) == 1 + len(data["children"]) + len(data["teams"])
    assert lines[0]["group"] == "street" and lines[0]["code"] == "340111001"
    assert int(lines[0]["cases"]) == data["total"]["cases"]
    for line, child in zip(lines[1:], data["children"], strict=False):
        assert line["code"] == child["code"] and int(line["closed"]) == child["closed"]
        assert (line["closure_rate"] == "") == (child["closure_rate"] is None)
        if child["closure_rate"] is not None:
            assert float(line["closure_rate"]) == child["closure_rate"]
    book = client_ro.get("/evaluation.xlsx", params=params, headers=headers)
    assert book.status_code == 200 and "spreadsheetml" in book.headers["content-type"]
    workbook = load_workbook(io.BytesIO(book.content))
    assert workbook.sheetnames == ["评价", "定义"]
    sheet = workbook["评价"]
    keys = [cell.value for cell in sheet[2]]
    first_row = dict(zip(keys, [cell.value for cell in sheet[3]], strict=True))
    assert first_row["code"] == "340111001" and first_row["cases"] == data["total"]["cases"]
    assert first_row["on_time_handling_rate"] == data["total"]["on_time_handling_rate"]
    assert sheet.max_row == 2 + len(lines)
    notes = [row[0].value for row in workbook["定义"].iter_rows()]
    assert "closure_rate" in notes and "satisfaction_rate" in notes


def test_default_period_is_the_current_month_in_china(client_ro: TestClient) -> None:
    reply = client_ro.get("/evaluation", headers=auth(client_ro, "operator", "340111001"))
    assert reply.status_code == 200
    got = reply.json()
    today = datetime.now(UTC).astimezone(CHINA).date()
    assert got["area"]["code"] == "340111001" and got["child_level"] == "community"
    assert got["from"] == today.replace(day=1).isoformat() and got["to"][:7] == today.isoformat()[:7]
    assert {"on_time_handling_rate", "closure_rate", "rework_rate", "satisfaction_rate"} <= set(got["definitions"])


@pytest.mark.parametrize(("params", "status"), [
    ({"area": "340111999"}, 404),
    ({"area": "34011"}, 422),
    ({"area": "340111", "from": "2026-12-10", "to": "2026-12-01"}, 422),
    ({"area": "340111", "from": "2026-13-01"}, 422),
    ({"area": "340111", "from": "yesterday"}, 422),
    ({"area": "340111", "from": "2024-01-01", "to": "2026-01-01"}, 422),
    ({"area": "340111", "format": "pdf"}, 422),
    ({"area": "340111", "to": "9999-12-31"}, 422),
    ({"area": "340111", "from": "0001-01-01", "to": "0001-01-31"}, 422),
    ({"area": "340111000001000"}, 404),
])
def test_bad_input_is_a_clear_4xx_and_changes_nothing(client_ro: TestClient, sync_ro: psycopg.Connection,
                                                     params: dict[str, str], status: int) -> None:
    before = sync_ro.execute("SELECT count(*), max(id) FROM incident_events").fetchone()
    reply = client_ro.get("/evaluation", params=params, headers=auth(client_ro, "operator"))
    assert reply.status_code == status, reply.text
    if status >= 400:
        body = reply.json()
        assert body["code"] and body["detail"] and "Traceback" not in reply.text and "SELECT" not in reply.text
    assert sync_ro.execute("SELECT count(*), max(id) FROM incident_events").fetchone() == before


def test_area_must_lie_in_the_token_area(client_ro: TestClient) -> None:
    street = auth(client_ro, "operator", "340111001")
    assert client_ro.get("/evaluation", params={"area": "340111002"}, headers=street).status_code == 403
    assert client_ro.get("/evaluation", params={"area": "340111"}, headers=street).status_code == 403
    assert client_ro.get("/evaluation.csv", params={"area": "340111"}, headers=street).status_code == 403
    assert client_ro.get("/reports/evaluation/340111", headers=street).status_code == 403
    assert client_ro.get("/evaluation", params={"area": "340111001001"}, headers=street).status_code == 200
    assert client_ro.get("/evaluation").status_code == 401


def test_report_page_ranks_the_children_and_draws_charts(client_ro: TestClient) -> None:
    headers = auth(client_ro, "operator")
    month = datetime.now(CHINA).strftime("%Y-%m")
    page = client_ro.get(f"/reports/evaluation/340111?month={month}", headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    data = client_ro.get("/evaluation", params={"area": "340111"}, headers=headers).json()
    html = page.text
    assert html.count("<svg") >= 5 and "http://" not in html and "https://" not in html
    # streets appear in ranking order: on-time handling rate, best first
    rates = [row["on_time_handling_rate"] for row in data["children"]]
    def key(row: dict) -> tuple:
        def rate(name: str, missing: float) -> float:
            return missing if row[name] is None else row[name]
        return (-rate("on_time_handling_rate", -1), -rate("closure_rate", -1), rate("rework_rate", 2), row["code"])
    ranked = sorted(data["children"], key=key)
    table = html[html.index('class="children"'):html.index("</table>", html.index('class="children"'))]
    positions = [table.index(row["name"]) for row in ranked]
    assert positions == sorted(positions) and len(rates) == 10
    for bad in ("2026-13", "26-01", "x", "9999-12", "0000-01"):
        reply = client_ro.get(f"/reports/evaluation/340111?month={bad}", headers=headers)
        assert reply.status_code == 422 and reply.json()["code"]
    assert client_ro.get("/reports/evaluation/34011x", headers=headers).status_code == 422
    assert client_ro.get("/reports/evaluation/340111999", headers=headers).status_code == 404


def test_wall_panel_fragment_shows_the_month(client_ro: TestClient) -> None:
    headers = auth(client_ro, "operator")
    month = datetime.now(CHINA).strftime("%Y-%m")
    fragment = client_ro.get(f"/reports/evaluation/340111/panel?month={month}", headers=headers)
    assert fragment.status_code == 200
    data = client_ro.get("/evaluation", params={"area": "340111"}, headers=headers).json()
    closure = data["total"]["closure_rate"]
    assert f"结案 {closure * 100:.1f}%" in fragment.text
    assert f'/reports/evaluation/340111?month={month}' in fragment.text
    assert "<script" not in fragment.text and fragment.text.count("<tr>") == len(
        [c for c in data["children"] if c["cases"]]) + 1
    street = auth(client_ro, "operator", "340111002")
    assert client_ro.get("/reports/evaluation/340111/panel", headers=street).status_code == 403


def test_the_wall_links_to_its_evaluation_report(client_ro: TestClient) -> None:
    page = client_ro.get("/maps/street/340111001", headers=auth(client_ro, "operator"))
    assert page.status_code == 200
    assert 'href="/reports/evaluation/340111001"' in page.text


@pytest.mark.parametrize("area", ["340111001", "340111001001", "340111001001001"])
def test_report_and_panel_at_every_level(client_ro: TestClient, area: str) -> None:
    headers = auth(client_ro, "operator")
    data = client_ro.get("/evaluation", params={"area": area}, headers=headers).json()
    page = client_ro.get(f"/reports/evaluation/{area}", headers=headers)
    assert page.status_code == 200 and data["area"]["name"] in page.text
    # one ranked row per child (a grid's only child is itself)
    table = page.text[page.text.index('class="children"'):page.text.index("</table>")]
    assert table.count('<td class="rank">') == len(data["children"]) >= 1
    assert client_ro.get(f"/reports/evaluation/{area}/panel", headers=headers).status_code == 200
