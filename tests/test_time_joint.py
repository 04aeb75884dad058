"""Joint dispatch: a lead and supporting teams, each with its own due time; the lead's feedback waits for them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import psycopg
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from layers.time.calendar import add_working_minutes
from layers.time.holidays import official_calendar
from tests.conftest import token_headers
from tests.live_server import serving
from tests.test_time_loop import POINT, do, handle_hours, new_case, read

CN = official_calendar()


def free_teams(client: TestClient, team_type: str, k: int) -> list[int]:
    found = client.get("/teams/nearest", params={**POINT, "type": team_type, "k": k}).json()["teams"]
    assert len(found) == k
    return [team["id"] for team in found]


def team_statuses(url: str, ids: list[int]) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, status FROM teams WHERE id = ANY(%s)", (ids,)).fetchall())


def test_the_lead_waits_for_every_supporter(client_rw: TestClient, demo_rw: str) -> None:
    case = new_case(client_rw)
    supporters = sorted(free_teams(client_rw, "traffic_police", 2))
    dispatched = do(client_rw, case["id"], "dispatch", support_teams=supporters)
    assert dispatched.status_code == 200, dispatched.text
    lead = dispatched.json()["team_id"]
    assert team_statuses(demo_rw, [lead, *supporters]) == {t: "busy" for t in [lead, *supporters]}
    log = read(client_rw, case["id"])
    event = next(e for e in log["events"] if e["action"] == "dispatch")
    teams = event["details"]["assignments"]
    assert [(a["team_id"], a["role"]) for a in teams] == [(lead, "lead")] + [(s, "support") for s in supporters]
    limit = handle_hours(client_rw, "01.03") * 60
    for assignment in teams[1:]:  # each supporter is due its own limit from the dispatch
        assert datetime.fromisoformat(assignment["due_at"]) == add_working_minutes(
            CN, datetime.fromisoformat(event["at"]), limit)
    assert log["waiting_on"]["lead_team"] == lead
    assert [w["team_id"] for w in log["waiting_on"]["supporting_teams"]] == supporters
    do(client_rw, case["id"], "handle")
    refused = do(client_rw, case["id"], "feedback")
    assert refused.status_code == 409 and refused.json()["waiting_on"] == supporters
    # a supporter reports, the other is released; then the lead's feedback ends the handling
    reported = do(client_rw, case["id"], "support_feedback", team_id=supporters[0], reason="已协助疏导交通")
    assert reported.status_code == 200, reported.text
    assert do(client_rw, case["id"], "release", "operator", team_id=supporters[1], reason="x").status_code == 403
    assert do(client_rw, case["id"], "release", team_id=supporters[1], reason="无需协办").status_code == 200
    assert do(client_rw, case["id"], "support_feedback", team_id=supporters[1], reason="again").status_code == 409
    assert team_statuses(demo_rw, supporters) == {t: "free" for t in supporters}
    assert do(client_rw, case["id"], "feedback").status_code == 200
    after = read(client_rw, case["id"])
    ends = {(a["team_id"], a["role"]): (a["status"], a["feedback"]) for a in after["assignments"]}
    assert ends == {(lead, "lead"): ("reported", ""), (supporters[0], "support"): ("reported", "已协助疏导交通"),
                    (supporters[1], "support"): ("released", "无需协办")}
    support_events = [e["details"]["assignment"] for e in after["events"] if "assignment" in e["details"]]
    assert [(a["team_id"], a["status"], a["on_time"]) for a in support_events] == [
        (supporters[0], "reported", True), (supporters[1], "released", True)]


def test_a_team_not_free_spoils_the_whole_dispatch(client_rw: TestClient, demo_rw: str) -> None:
    first, second = new_case(client_rw), new_case(client_rw)
    supporters = sorted(free_teams(client_rw, "traffic_police", 2))
    assert do(client_rw, first["id"], "dispatch", support_teams=supporters[:1]).status_code == 200
    before = team_statuses(demo_rw, supporters)
    refused = do(client_rw, second["id"], "dispatch", support_teams=supporters)
    assert refused.status_code == 409 and str(supporters[0]) in refused.json()["detail"]
    assert read(client_rw, second["id"])["status"] == "accepted"
    assert team_statuses(demo_rw, supporters) == before
    for bad, status in [({"support_teams": [supporters[1], supporters[1]]}, 422), ({"support_teams": [0]}, 422),
                        ({"support_teams": list(range(1, 30))}, 422), ({"lead_team": 1, "team_id": 2}, 422)]:
        response = do(client_rw, second["id"], "dispatch", **bad)
        assert response.status_code == status, (bad, response.text)
        assert set(response.json()) >= {"detail", "code"}
    assert read(client_rw, second["id"])["assignments"] == []


def test_racing_joint_dispatches_give_each_team_to_one_case(demo_rw: str) -> None:
    app = create_app(Settings(database_url=demo_rw, pool_max=20))
    with serving(app) as base:
        headers = token_headers(app.state.token_secret, "dispatcher")
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            cases = [client.post("/incidents", json={"category": "01.03", "channel": "hotline",
                                                      "location": POINT}).json()["id"] for _ in range(6)]
            pool = client.get("/teams/nearest", params={**POINT, "type": "traffic_police", "k": 9}).json()["teams"]
        ids = [team["id"] for team in pool]
        # three pairs of cases; in each the two want overlapping supporters (a, b) and (b, c)
        wanted = {case: ids[3 * (i // 2) + i % 2:3 * (i // 2) + i % 2 + 2] for i, case in enumerate(cases)}

        def dispatch(case_id: int) -> int:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                return client.post(f"/incidents/{case_id}/dispatch",
                                   json={"support_teams": wanted[case_id]}).status_code

        with ThreadPoolExecutor(max_workers=6) as workers:
            statuses = dict(zip(cases, workers.map(dispatch, cases), strict=True))
    assert set(statuses.values()) <= {200, 409}
    with psycopg.connect(demo_rw) as conn:
        active = conn.execute("""
            SELECT team_id, incident_id FROM case_assignments
            WHERE incident_id = ANY(%s) AND role = 'support' AND status = 'active'""", (cases,)).fetchall()
        busy = {r[0] for r in conn.execute("SELECT id FROM teams WHERE id = ANY(%s) AND status = 'busy'",
                                           (ids,)).fetchall()}
    holders: dict[int, list[int]] = {}
    for team, case in active:
        holders.setdefault(team, []).append(case)
    assert all(len(c) == 1 for c in holders.values()), f"a team was claimed twice: {holders}"
    # every winner holds all it asked for, every loser nothing; the shared team of each pair went to one case
    for case, status in statuses.items():
        held = sorted(t for t, c in active if c == case)
        assert held == (sorted(wanted[case]) if status == 200 else [])
    for pair in range(3):
        shared = ids[3 * pair + 1]
        assert len(holders.get(shared, [])) == 1, f"nobody or two got team {shared}"
        assert sorted(statuses[c] for c in cases[2 * pair:2 * pair + 2]) == [200, 409]
    assert busy == set(holders)
