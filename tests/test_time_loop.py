"""Stage deadlines through the API: intake, stages in the log, extension, suspension, rework, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.time.calendar import add_working_minutes, working_minutes_between
from layers.time.holidays import official_calendar
from tests.conftest import auth

POINT = {"lon": 117.30, "lat": 31.80}


CN = official_calendar()


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def new_case(client: TestClient, category: str = "01.03") -> dict:
    response = client.post("/incidents", json={"category": category, "channel": "hotline", "location": POINT},
                           headers=auth(client, "operator"))
    assert response.status_code == 201, response.text
    return response.json()


def do(client: TestClient, case_id: int, action: str, role: str = "dispatcher", area: str = "340111",
       **body: object):
    return client.post(f"/incidents/{case_id}/{action}", json=body or None, headers=auth(client, role, area))


def read(client: TestClient, case_id: int) -> dict:
    return client.get(f"/incidents/{case_id}", headers=auth(client, "operator")).json()


def events(client: TestClient, case_id: int, action: str) -> list[dict]:
    return [e for e in read(client, case_id)["events"] if e["action"] == action]


def handle_hours(client: TestClient, category: str) -> int:
    return next(c["time_limit_hours"] for c in client.get("/catalogue").json()["categories"] if c["code"] == category)


def test_intake_counts_the_handling_limit_in_working_time(client_rw: TestClient) -> None:
    case = new_case(client_rw)
    reported = t(case["reported_at"])
    minutes = handle_hours(client_rw, "01.03") * 60
    assert t(case["deadline"]) == add_working_minutes(CN, reported, minutes)
    assert t(case["stage_due_at"]) == reported + timedelta(minutes=30)
    assert case["stage"] == "dispatch" and case["rework_count"] == 0
    accept = events(client_rw, case["id"], "accept")[0]["details"]["stage_start"]
    assert t(accept.pop("due_at")) == t(case["stage_due_at"])
    assert accept == {"stage": "dispatch", "limit_minutes": 30, "working": False, "team_id": None, "rework": 0,
                      "calendar": "CN"}


def test_every_stage_is_started_and_ended_in_the_log_and_rework_restarts_handling(client_rw: TestClient) -> None:
    case = new_case(client_rw)
    limit = handle_hours(client_rw, "01.03") * 60
    dispatched = do(client_rw, case["id"], "dispatch").json()
    assert dispatched["stage"] == "handle" and dispatched["stage_due_at"] == dispatched["deadline"]
    for action, role in [("handle", "dispatcher"), ("feedback", "dispatcher")]:
        assert do(client_rw, case["id"], action, role).status_code == 200
    back = do(client_rw, case["id"], "return", "operator", reason="摊贩仍在")
    assert back.status_code == 200
    returned = back.json()
    assert returned["rework_count"] == 1 and returned["stage"] == "handle"
    for action, role in [("feedback", "dispatcher"), ("verify", "operator"), ("close", "operator")]:
        assert do(client_rw, case["id"], action, role).status_code == 200, action
    log = read(client_rw, case["id"])["events"]
    starts = [(e["action"], e["details"]["stage_start"]["stage"]) for e in log if "stage_start" in e["details"]]
    ends = [(e["action"], e["details"]["stage_end"]["stage"]) for e in log if "stage_end" in e["details"]]
    assert starts == [("accept", "dispatch"), ("dispatch", "handle"), ("feedback", "verify"), ("return", "handle"),
                      ("feedback", "verify"), ("verify", "feedback")]
    assert ends == [("dispatch", "dispatch"), ("feedback", "handle"), ("return", "verify"), ("feedback", "handle"),
                    ("verify", "verify"), ("close", "feedback")]
    by_action = {e["action"]: e for e in log}
    # the rework's handling is due its full limit from the return, counted on the calendar
    rework = by_action["return"]
    assert rework["details"]["stage_start"]["rework"] == 1
    assert t(rework["details"]["stage_start"]["due_at"]) == add_working_minutes(CN, t(rework["at"]), limit)
    assert t(returned["deadline"]) == add_working_minutes(CN, t(rework["at"]), limit)
    # verification is due 4 working hours after the feedback; every end says whether it was on time
    first_feedback = next(e for e in log if e["action"] == "feedback")
    verify_start = first_feedback["details"]["stage_start"]
    assert t(verify_start["due_at"]) == add_working_minutes(CN, t(first_feedback["at"]), 240)
    # each stage ends counted from the event that started it (not from a step inside it, like handle)
    started = [e["at"] for e in log if "stage_start" in e["details"]]
    ended = [e["details"]["stage_end"]["started_at"] for e in log if "stage_end" in e["details"]]
    assert [t(a) for a in ended] == [t(a) for a in started]
    for e in log:
        end = e.get("details", {}).get("stage_end")
        if end:
            assert end["on_time"] == (t(e["at"]) <= t(end["due_at"]))
            started = t(end["started_at"])
            assert end["working_minutes"] == pytest.approx(working_minutes_between(CN, started, t(e["at"])), abs=1e-3)


def _street_of(case: dict) -> str:
    return str(case["street"]["code"])


def test_extension_needs_the_level_above_and_moves_the_deadline(client_rw: TestClient, demo_rw: str) -> None:
    case = new_case(client_rw)
    do(client_rw, case["id"], "dispatch")
    before = read(client_rw, case["id"])
    assert do(client_rw, case["id"], "request_extension", minutes=120).status_code == 422  # no reason
    asked = do(client_rw, case["id"], "request_extension", minutes=120, reason="需协调物业")
    assert asked.status_code == 200, asked.text
    # a second request while one waits: 409
    assert do(client_rw, case["id"], "request_suspension", minutes=60, reason="x").status_code == 409
    # the community itself, or the district over a community-level case, may not decide it
    community = str(case["community"]["code"])
    assert do(client_rw, case["id"], "approve", "operator", community).status_code == 403
    assert do(client_rw, case["id"], "approve", "operator", "340111").status_code == 403
    approved = do(client_rw, case["id"], "approve", "operator", _street_of(case))
    assert approved.status_code == 200, approved.text
    after = approved.json()
    assert t(after["deadline"]) == add_working_minutes(CN, t(before["deadline"]), 120)
    last = events(client_rw, case["id"], "approve")[-1]["details"]
    change = last["due_change"]
    assert (change["stage"], change["cause"]) == ("handle", "extension")
    assert (t(change["due_at"]), t(change["previous_due_at"])) == (t(after["deadline"]), t(before["deadline"]))
    assert last["request"]["status"] == "approved"
    # nothing left to decide
    refused = do(client_rw, case["id"], "refuse", "operator", _street_of(case), reason="不同意")
    assert refused.status_code == 409 and "already approved" in refused.json()["detail"]
    # the default limit: two approved extensions per handling, 1,440 working minutes in all
    assert do(client_rw, case["id"], "request_extension", minutes=1400, reason="再延").status_code == 409
    assert do(client_rw, case["id"], "request_extension", minutes=60, reason="再延").status_code == 200
    assert do(client_rw, case["id"], "approve", "operator", _street_of(case)).status_code == 200
    third = do(client_rw, case["id"], "request_extension", minutes=10, reason="三延")
    assert third.status_code == 409 and "2 approved extension" in third.json()["detail"]
    times = read(client_rw, case["id"])["time_requests"]
    assert [(r["kind"], r["minutes"], r["status"]) for r in times] == [("extension", 120, "approved"),
                                                                        ("extension", 60, "approved")]


def test_suspension_stops_the_clock_and_resume_gives_back_the_rest(client_rw: TestClient, demo_rw: str) -> None:
    case = new_case(client_rw)
    do(client_rw, case["id"], "dispatch")
    before = t(read(client_rw, case["id"])["deadline"])
    assert do(client_rw, case["id"], "request_suspension", minutes=600, reason="等待鉴定").status_code == 200
    refused = do(client_rw, case["id"], "refuse", "dispatcher", _street_of(case))
    assert refused.status_code == 422  # a refusal needs a reason
    approved = do(client_rw, case["id"], "approve", "dispatcher", _street_of(case)).json()
    pause = events(client_rw, case["id"], "approve")[-1]["details"]["pause"]
    start, planned = t(pause["from"]), t(pause["until"])
    assert planned == add_working_minutes(CN, start, 600)
    left = working_minutes_between(CN, start, before)
    assert t(approved["deadline"]) == add_working_minutes(CN, planned, left)
    assert t(approved["paused_until"]) == planned
    # a pause cannot be asked while paused, and resuming gives the clock back from now
    assert do(client_rw, case["id"], "request_suspension", minutes=60, reason="x").status_code == 409
    resumed = do(client_rw, case["id"], "resume")
    assert resumed.status_code == 200, resumed.text
    resume = events(client_rw, case["id"], "resume")[-1]
    assert t(resume["details"]["pause"]["until"]) == t(resume["at"])
    assert t(resumed.json()["deadline"]) == add_working_minutes(CN, t(resume["at"]), left)
    assert resumed.json()["paused_until"] is None
    assert do(client_rw, case["id"], "resume").status_code == 409


def test_escalation_counts_the_new_limit_on_the_calendar(client_rw: TestClient, demo_rw: str) -> None:
    case = new_case(client_rw)
    with psycopg.connect(demo_rw) as conn:
        conn.execute("UPDATE incidents SET reported_at = now() - interval '2 hours', "
                     "deadline = now() - interval '1 hour' WHERE id = %s", (case["id"],))
    raised = client_rw.post("/incidents/escalations", headers=auth(client_rw, "operator")).json()
    assert case["id"] in raised["escalated"]
    up = events(client_rw, case["id"], "escalate")[-1]
    change = up["details"]["due_change"]
    limit = handle_hours(client_rw, "01.03") * 60
    assert change["cause"] == "escalation" and change["stage"] == "dispatch"
    assert t(change["due_at"]) == add_working_minutes(CN, t(up["at"]), limit)
    assert t(read(client_rw, case["id"])["deadline"]) == t(change["due_at"])


def test_bad_time_input_is_refused_and_changes_nothing(client_rw: TestClient, demo_rw: str) -> None:
    case = new_case(client_rw)
    do(client_rw, case["id"], "dispatch")
    before = read(client_rw, case["id"])
    bad = [
        ("request_extension", {"minutes": 0, "reason": "x"}, 422),
        ("request_extension", {"minutes": "many", "reason": "x"}, 422),
        ("request_extension", {"reason": "x"}, 422),  # no minutes
        ("request_extension", {"minutes": 100_000, "reason": "x"}, 422),  # above the category's limit
        ("request_suspension", {"minutes": 60, "reason": "x\u0000"}, 422),
        ("approve", {"request_id": 99_999}, 403),  # a district token is not the level above
        ("handle", {"support_teams": [1]}, 422),
        ("support_feedback", {"reason": "done"}, 422),  # which supporter?
        ("support_feedback", {"reason": "done", "team_id": 1}, 409),  # not a supporter
        ("resume", {}, 409),
        ("dispatch", {"support_teams": [1]}, 409),  # already dispatched
    ]
    for action, body, status in bad:
        response = do(client_rw, case["id"], action, **body)
        assert response.status_code == status, (action, body, response.text)
        assert set(response.json()) >= {"detail", "code"}
    after = read(client_rw, case["id"])
    assert after["events"] == before["events"] and after["deadline"] == before["deadline"]
    assert after["time_requests"] == []
    approve = do(client_rw, case["id"], "approve", "operator", _street_of(case), request_id=99_999)
    assert approve.status_code == 404


def test_category_limits_override_the_defaults(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        conn.execute("INSERT INTO stage_limits VALUES ('01.03', 'handle', 90, false), ('01.03', 'dispatch', 15, true)")
        conn.execute("INSERT INTO delay_limits VALUES ('01.03', 'extension', 1, 30), ('01.03', 'suspension', 0, 60)")
    case = new_case(client_rw)
    reported = t(case["reported_at"])
    # handling in wall-clock minutes, dispatch in working minutes
    assert t(case["deadline"]) == reported + timedelta(minutes=90)
    assert t(case["stage_due_at"]) == add_working_minutes(CN, reported, 15)
    do(client_rw, case["id"], "dispatch")
    assert do(client_rw, case["id"], "request_suspension", minutes=10, reason="x").status_code == 409
    assert do(client_rw, case["id"], "request_extension", minutes=31, reason="x").status_code == 422
    assert do(client_rw, case["id"], "request_extension", minutes=30, reason="x").status_code == 200
    approved = do(client_rw, case["id"], "approve", "operator", _street_of(case)).json()
    # a wall-clock handle limit is extended in wall-clock minutes
    assert t(approved["deadline"]) == reported + timedelta(minutes=120)
    assert do(client_rw, case["id"], "request_extension", minutes=1, reason="x").status_code == 409
