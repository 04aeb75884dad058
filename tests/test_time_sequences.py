"""Any sequence of time steps through the API leaves a deadline that the event log alone reproduces.

The reference reads nothing but the case's log (what evaluation reads): the
handling clock's origin (the report, or the last return or escalation), the
allowance (the limit plus the extensions approved since), the approved
pauses (cut short by a resume), and counts them with the clock's pure
function, itself checked against a minute-by-minute walk in
``tests/test_time_clock.py``.
"""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.time.clock import Pause, handling_due
from layers.time.holidays import official_calendar
from tests.test_time_loop import do, handle_hours, new_case, read

CN = official_calendar()
# macro steps (ask then decide, a rework's three steps), so that sequences reach approvals often
STEPS = st.lists(st.tuples(st.sampled_from(["extend", "suspend", "refused", "resume", "rework", "escalate"]),
                           st.integers(1, 3000)), min_size=1, max_size=6)
MACROS = {
    "extend": [("request_extension", "dispatcher"), ("approve", "above")],
    "suspend": [("request_suspension", "dispatcher"), ("approve", "above")],
    "refused": [("request_extension", "dispatcher"), ("refuse", "above")],
    "resume": [("resume", "dispatcher")],
    "rework": [("handle", "dispatcher"), ("feedback", "dispatcher"), ("return", "operator")],
    "escalate": [("escalate", "operator")],
}


def expected_deadline(case: dict, events: list[dict], limit: int) -> datetime:
    origin = datetime.fromisoformat(case["reported_at"])
    allowance, pauses = limit, []
    for e in events:
        details, at = e["details"], datetime.fromisoformat(e["at"])
        if e["action"] in ("return", "escalate"):
            origin, allowance, pauses = at, limit, []
        elif e["action"] == "approve" and details["request"]["kind"] == "extension":
            allowance += details["request"]["minutes"]
        elif e["action"] == "approve":
            pauses.append(Pause(datetime.fromisoformat(details["pause"]["from"]),
                                datetime.fromisoformat(details["pause"]["until"])))
        elif e["action"] == "resume":
            pauses[-1] = Pause(pauses[-1].start, datetime.fromisoformat(details["pause"]["until"]))
    return handling_due(CN, origin, allowance, pauses)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STEPS)
def test_the_log_alone_gives_the_deadline(client_rw: TestClient, steps: list[tuple[str, int]]) -> None:
    case = new_case(client_rw)
    street = str(case["street"]["code"])  # decides for a community-level case; the district above that
    limit = handle_hours(client_rw, "01.03") * 60
    do(client_rw, case["id"], "dispatch")
    for macro, minutes in steps:
        for action, role in MACROS[macro]:
            level = read(client_rw, case["id"])["level"]
            area = street if role == "above" and level == "community" else "340111"
            body: dict[str, object] = {"reason": "理由"}
            if action.startswith("request_"):
                body["minutes"] = minutes % 600 + 1
            response = do(client_rw, case["id"], action, "operator" if role == "above" else role, area, **body)
            assert response.status_code in (200, 404, 409), (action, response.text)
        now = read(client_rw, case["id"])
        if now["status"] in ("dispatched", "handling"):
            assert datetime.fromisoformat(now["deadline"]) == expected_deadline(now, now["events"], limit), action
        assert now["rework_count"] == sum(e["action"] == "return" for e in now["events"])
