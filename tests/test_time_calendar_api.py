"""Calendars through the admin API and the CLI: imported years count in deadlines; bad files change nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from layers.time.calendar import CHINA, Calendar, add_working_minutes
from layers.time.holidays import OFFICIAL_HOLIDAYS, OFFICIAL_WORKDAYS
from tests.conftest import auth
from tests.test_import import wangge
from tests.test_time_loop import handle_hours, new_case


def test_the_official_schedule_is_served(client_ro: TestClient) -> None:
    answer = client_ro.get("/calendars/CN", params={"year": 2026}).json()
    assert answer["periods"] == "08:30-12:00,13:30-18:00" and answer["weekdays"] == "12345"
    days = {d["date"]: d["kind"] for d in answer["days"]}
    assert days["2026-10-01"] == "holiday" and days["2026-10-10"] == "workday"
    assert answer["source"] == "chinese-calendar"
    assert client_ro.get("/calendars/XX").status_code == 422
    assert client_ro.get("/calendars/CN", params={"year": 1999}).status_code == 422


def test_an_imported_district_year_counts_in_deadlines(client_rw: TestClient) -> None:
    today = datetime.now(CHINA).date()
    # the district declares the next 3 days off (a local holiday) and works on a Sunday after it
    off = [today + timedelta(days=n) for n in range(1, 4)]
    sunday = next(today + timedelta(days=n) for n in range(5, 12) if (today + timedelta(days=n)).weekday() == 6)
    rows = [f"{d},holiday,区级假日" for d in off] + [f"{sunday},班,"]
    years = sorted({d.year for d in [*off, sunday]})
    csv = ("date,kind,name\n" + "\n".join(rows) + "\n").encode()
    headers = {**auth(client_rw, "admin"), "Content-Type": "text/csv"}
    done = client_rw.post("/admin/calendars/340111/days", content=csv, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json() == {"calendar": "340111", "years": years, "holidays": 3, "workdays": 1}
    # the imported years replace the official ones for this district: nothing else of them is special
    expected = Calendar(
        holidays=frozenset({d for d in OFFICIAL_HOLIDAYS if d.year not in years} | set(off)),
        workdays=frozenset({d for d in OFFICIAL_WORKDAYS if d.year not in years} | {sunday}))
    case = new_case(client_rw)
    minutes = handle_hours(client_rw, "01.03") * 60
    assert datetime.fromisoformat(case["deadline"]) == add_working_minutes(
        expected, datetime.fromisoformat(case["reported_at"]), minutes)
    served = client_rw.get("/calendars/340111", params={"year": today.year}).json()
    assert {d["date"] for d in served["days"]} == {str(d) for d in [*off, sunday] if d.year == today.year}
    # working hours of the district's own calendar
    hours = client_rw.put("/admin/calendars/340111/hours", json={"periods": "09:00-12:00,14:00-17:30",
                                                                "weekdays": "123456"}, headers=auth(client_rw, "admin"))
    assert hours.json() == {"calendar": "340111", "periods": "09:00-12:00,14:00-17:30", "weekdays": "123456"}
    assert client_rw.get("/calendars/CN").json()["weekdays"] == "12345"


def test_bad_calendar_input_is_refused_and_changes_nothing(client_rw: TestClient) -> None:
    before = client_rw.get("/calendars/CN", params={"year": 2027}).json()
    admin = {**auth(client_rw, "admin"), "Content-Type": "text/csv"}
    good = b"date,kind,name\n2027-01-01,holiday,\n"
    cases = [
        (admin, b"date,kind,name\n2027-02-30,holiday,\n2027-01-01,party,\n", 422),
        (admin, b"\xff\xfe\x00", 422),
        (admin, b"", 422),
        ({**admin, "Content-Type": "application/json"}, b'{"holidays": 5}', 422),
        ({**auth(client_rw, "operator"), "Content-Type": "text/csv"}, good, 403),
        ({"Content-Type": "text/csv"}, good, 401),
    ]
    for headers, body, status in cases:
        response = client_rw.post("/admin/calendars/CN/days", content=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()) >= {"detail", "code"}
    problems = client_rw.post("/admin/calendars/CN/days", content=cases[0][1], headers=admin).json()
    assert "2 error(s)" in problems["detail"] and "line 2" in problems["detail"] and "line 3" in problems["detail"]
    # another district's calendar is not this admin's (a street admin of 340111 here)
    street_admin = {**auth(client_rw, "admin", "340111001"), "Content-Type": "text/csv"}
    assert client_rw.post("/admin/calendars/340111/days", content=good, headers=street_admin).status_code == 403
    assert client_rw.post("/admin/calendars/999999/days", content=good, headers=admin).status_code == 403
    for bad in ({"periods": "18:00-09:00"}, {"weekdays": "1238"}, {"weekdays": ""}, {"periods": "x"}):
        response = client_rw.put("/admin/calendars/CN/hours", json=bad, headers=auth(client_rw, "admin"))
        assert response.status_code == 422, (bad, response.text)
    assert client_rw.get("/calendars/CN", params={"year": 2027}).json() == before
    assert client_rw.get("/calendars/CN").json()["periods"] == "08:30-12:00,13:30-18:00"


def test_the_cli_imports_a_later_year(demo_rw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    later = max(OFFICIAL_HOLIDAYS).year + 1
    file = tmp_path / f"{later}.json"
    file.write_text(f'{{"holidays": {{"{later}-01-01": "元旦"}}, "workdays": ["{later}-01-04"]}}', encoding="utf-8")
    assert wangge(demo_rw, monkeypatch, "calendar", "import", str(file)) == 0
    assert wangge(demo_rw, monkeypatch, "calendar", "show", "--year", str(later)) == 0
    shown = capsys.readouterr().out
    assert f'"{later}-01-01"' in shown and f'"{later}-01-04"' in shown
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind\nnot-a-date,holiday\n", encoding="utf-8")
    assert wangge(demo_rw, monkeypatch, "calendar", "import", str(bad)) == 1
    assert "not a date" in capsys.readouterr().err
    assert date(later, 1, 1) not in OFFICIAL_HOLIDAYS  # the package does not carry it: the file did
