"""The closed loop: transitions, who may take them, the event log, overdue and escalation."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.loop import TRANSITIONS
from tests.conftest import auth

POINT = {"lon": 117.30, "lat": 31.80}


def _new(client: TestClient, category: str = "01.03") -> dict:
    body = {"category": category, "channel": "grid_worker", "location": POINT}
    response = client.post("/incidents", json=body, headers=auth(client, "operator"))
    assert response.status_code == 201
    return response.json()


def _do(client: TestClient, case_id: int, action: str, role: str, **body: object):
    return client.post(f"/incidents/{case_id}/{action}", json=body or None, headers=auth(client, role))


def _team_status(url: str, team_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT status FROM teams WHERE id = %s", (team_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_full_loop_logs_every_step_and_frees_the_team(client_rw: TestClient, demo_rw: str) -> None:
    case = _new(client_rw)
    suggested = case["suggested_team"]["id"]
    dispatched = _do(client_rw, case["id"], "dispatch", "dispatcher").json()
    assert dispatched["status"] == "dispatched" and dispatched["team_id"] == suggested
    assert _team_status(demo_rw, suggested) == "busy"
    for action, role, status in [("handle", "dispatcher", "handling"), ("feedback", "dispatcher", "feedback"),
                                 ("verify", "operator", "verified"), ("close", "operator", "closed")]:
        response = _do(client_rw, case["id"], action, role)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    assert _team_status(demo_rw, suggested) == "free"
    full = client_rw.get(f"/incidents/{case['id']}", headers=auth(client_rw, "operator")).json()
    assert full["closed_at"] is not None
    assert [(e["action"], e["from_status"], e["to_status"]) for e in full["events"]] == [
        ("accept", None, "accepted"), ("dispatch", "accepted", "dispatched"),
        ("handle", "dispatched", "handling"), ("feedback", "handling", "feedback"),
        ("verify", "feedback", "verified"), ("close", "verified", "closed")]
    assert all(e["actor"] and e["at"] for e in full["events"])


def test_return_after_failed_verification(client_rw: TestClient) -> None:
    case = _new(client_rw)
    for action, role in [("dispatch", "dispatcher"), ("handle", "dispatcher"), ("feedback", "dispatcher")]:
        _do(client_rw, case["id"], action, role)
    assert _do(client_rw, case["id"], "return", "operator").status_code == 422  # needs a reason
    back = _do(client_rw, case["id"], "return", "operator", reason="摊贩仍在")
    assert back.status_code == 200 and back.json()["status"] == "handling"


def test_state_machine_refuses_out_of_order_steps(client_rw: TestClient) -> None:
    case = _new(client_rw)
    response = _do(client_rw, case["id"], "close", "operator")
    assert response.status_code == 409 and "accepted" in response.json()["detail"]
    assert _do(client_rw, case["id"], "feedback", "dispatcher").status_code == 409


def test_roles_are_enforced(client_rw: TestClient) -> None:
    case = _new(client_rw)
    assert _do(client_rw, case["id"], "dispatch", "planner").status_code == 403
    assert _do(client_rw, case["id"], "dispatch", "operator").status_code == 403
    assert client_rw.post(f"/incidents/{case['id']}/dispatch").status_code == 401
    assert _do(client_rw, case["id"], "dispatch", "admin").status_code == 200


def test_reads_and_writes_outside_the_area_are_403(client_rw: TestClient) -> None:
    case = _new(client_rw)
    elsewhere = "340111001" if not case["street"]["code"].endswith("001") else "340111002"
    headers = auth(client_rw, "dispatcher", elsewhere)
    assert client_rw.get(f"/incidents/{case['id']}", headers=headers).status_code == 403
    assert client_rw.post(f"/incidents/{case['id']}/dispatch", headers=headers).status_code == 403
    own = auth(client_rw, "dispatcher", case["street"]["code"])
    assert client_rw.get(f"/incidents/{case['id']}", headers=own).status_code == 200


def test_reassign_moves_the_case_to_another_team(client_rw: TestClient, demo_rw: str) -> None:
    case = _new(client_rw)
    first = _do(client_rw, case["id"], "dispatch", "dispatcher").json()["team_id"]
    second = _do(client_rw, case["id"], "reassign", "dispatcher", reason="first team broke down").json()
    assert second["status"] == "dispatched" and second["team_id"] not in (None, first)
    assert _team_status(demo_rw, first) == "free" and _team_status(demo_rw, second["team_id"]) == "busy"


def test_dispatch_to_a_busy_team_is_409_with_next_candidate(client_rw: TestClient, demo_rw: str) -> None:
    a, b = _new(client_rw), _new(client_rw)
    team = _do(client_rw, a["id"], "dispatch", "dispatcher").json()["team_id"]
    response = _do(client_rw, b["id"], "dispatch", "dispatcher", team_id=team)
    assert response.status_code == 409
    nxt = response.json()["next_candidate"]
    assert nxt["id"] != team and nxt["type"] == "city_management"


def test_mark_duplicate_and_reject(client_rw: TestClient) -> None:
    a, b, c = _new(client_rw), _new(client_rw), _new(client_rw)
    assert _do(client_rw, b["id"], "mark_duplicate", "operator").status_code == 422
    dup = _do(client_rw, b["id"], "mark_duplicate", "operator", duplicate_of=a["id"]).json()
    assert dup["status"] == "duplicate" and dup["duplicate_of"] == a["id"]
    rejected = _do(client_rw, c["id"], "reject", "operator", reason="不属于网格事项").json()
    assert rejected["status"] == "rejected"


def test_community_category_cannot_be_dispatched(client_rw: TestClient) -> None:
    case = _new(client_rw, "06.01")
    assert _do(client_rw, case["id"], "dispatch", "dispatcher").status_code == 409


def test_overdue_cases_escalate_one_level_with_a_log_entry(client_rw: TestClient, demo_rw: str) -> None:
    case = _new(client_rw)
    with psycopg.connect(demo_rw) as conn:
        conn.execute("UPDATE incidents SET reported_at = now() - interval '5 hours', "
                     "deadline = now() - interval '1 hour' WHERE id = %s", (case["id"],))
    listed = client_rw.get("/incidents/overdue", headers=auth(client_rw, "operator")).json()
    assert case["id"] in {c["id"] for c in listed["cases"]}
    assert all(c["overdue_hours"] > 0 for c in listed["cases"])
    raised = client_rw.post("/incidents/escalations", headers=auth(client_rw, "operator")).json()
    assert case["id"] in raised["escalated"]
    full = client_rw.get(f"/incidents/{case['id']}", headers=auth(client_rw, "operator")).json()
    assert full["level"] == "street" and full["overdue"] is False
    assert full["events"][-1]["action"] == "escalate"
    # escalated again only once overdue again
    again = client_rw.post("/incidents/escalations", headers=auth(client_rw, "operator")).json()
    assert case["id"] not in again["escalated"]


def test_overdue_list_is_limited_to_the_area(client_rw: TestClient) -> None:
    response = client_rw.get("/incidents/overdue", params={"area": "340111001"},
                             headers=auth(client_rw, "operator", "340111002"))
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/incidents/0/dispatch", "/incidents/abc/dispatch", "/incidents/1/explode",
                                  "/incidents/99999999/dispatch"])
def test_bad_case_paths(client_rw: TestClient, path: str) -> None:
    response = client_rw.post(path, headers=auth(client_rw, "dispatcher"))
    assert response.status_code in (404, 422)
    assert response.status_code == 404 if "99999999" in path else response.status_code == 422


def test_every_action_has_roles() -> None:
    assert all(t.roles for t in TRANSITIONS.values())


def test_the_timer_escalates_overdue_cases_by_itself(demo_rw: str) -> None:
    import time

    from tests.conftest import make_client

    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT id FROM incidents WHERE status = 'accepted' AND level = 'community' "
                           "ORDER BY id LIMIT 1").fetchone()
        assert row is not None
        conn.execute("UPDATE incidents SET deadline = now() - interval '1 minute', "
                     "reported_at = now() - interval '3 hours' WHERE id = %s", row)
    with make_client(demo_rw, escalate_every_s=0.2):
        deadline = time.monotonic() + 20
        level = "community"
        while level == "community" and time.monotonic() < deadline:
            time.sleep(0.1)
            with psycopg.connect(demo_rw) as conn:
                level = conn.execute("SELECT level FROM incidents WHERE id = %s", row).fetchone()[0]
    assert level == "street"
    with psycopg.connect(demo_rw) as conn:
        last = conn.execute("SELECT actor, action FROM incident_events WHERE incident_id = %s ORDER BY id DESC LIMIT 1",
                            row).fetchone()
    assert last == ("wangge", "escalate")
