"""Mainland China's official holidays and adjusted workdays, and files that add a year.

The State Council publishes each year's schedule (放假安排) late in the year
before; the ``chinese-calendar`` package carries every notice since 2004
(:data:`OFFICIAL_YEARS`). A year it does not carry yet, or a district's own
days, come from a small file (:func:`parse_days`), imported with
``wangge calendar import FILE`` or ``POST /admin/calendars/{code}/days``.
An imported year replaces the package's schedule of that year entirely.

File forms (UTF-8):

* CSV with a header ``date,kind,name``: ``2027-01-01,holiday,元旦``;
  ``kind`` is ``holiday`` (also ``休``) or ``workday`` (also ``班``, an
  adjusted workday, 调休上班); ``name`` may be empty.
* JSON: ``{"holidays": {"2027-01-01": "元旦", ...}, "workdays": [...]}``,
  each a list of dates or an object of date → name.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from chinese_calendar import constants

from layers.errors import InvalidInput
from layers.time.calendar import FIRST_DAY, LAST_DAY, Calendar

KINDS = {"holiday": "holiday", "休": "holiday", "workday": "workday", "班": "workday"}
OFFICIAL_HOLIDAYS: dict[date, str] = dict(constants.holidays)
OFFICIAL_WORKDAYS: dict[date, str] = dict(constants.workdays)
OFFICIAL_YEARS = range(min(OFFICIAL_HOLIDAYS).year, max(OFFICIAL_HOLIDAYS).year + 1)
_MAX_ERRORS = 20


@dataclass(frozen=True)
class Day:
    """One special day of a calendar: a holiday or an adjusted workday."""

    day: date
    kind: str
    name: str = ""


def official_days(year: int) -> list[Day]:
    """The State Council's holidays and adjusted workdays of ``year`` (empty when not carried)."""
    holidays = [Day(d, "holiday", str(n)) for d, n in OFFICIAL_HOLIDAYS.items() if d.year == year]
    workdays = [Day(d, "workday", str(n)) for d, n in OFFICIAL_WORKDAYS.items() if d.year == year]
    return sorted(holidays + workdays, key=lambda d: d.day)


def official_calendar() -> Calendar:
    """The national calendar with the default working hours and the package's schedule of every year."""
    return Calendar(holidays=frozenset(OFFICIAL_HOLIDAYS), workdays=frozenset(OFFICIAL_WORKDAYS))


def parse_days(data: bytes, filename: str = "") -> list[Day]:
    """The days a CSV or JSON file lists, checked; :class:`InvalidInput` naming every problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the calendar file is not UTF-8 text") from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("{", "[")):
        rows = _json_rows(stripped)
    else:
        rows = _csv_rows(text)
    return _checked(rows)


def _json_rows(text: str) -> list[tuple[str, Any, Any, Any]]:
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidInput("the calendar file is not readable JSON") from None
    if not isinstance(doc, dict) or not set(doc) <= {"holidays", "workdays"} or not doc:
        raise InvalidInput('a JSON calendar file is an object with "holidays" and/or "workdays"')
    rows: list[tuple[str, Any, Any, Any]] = []
    for kind in ("holidays", "workdays"):
        entries = doc.get(kind, [])
        if isinstance(entries, dict):
            items = list(entries.items())
        elif isinstance(entries, list):
            items = [(entry, "") for entry in entries]
        else:
            raise InvalidInput(f'"{kind}" must be a list of dates or an object of date → name')
        rows += [(f"{kind}[{i}]", day, kind[:-1], name) for i, (day, name) in enumerate(items)]
    return rows


def _csv_rows(text: str) -> list[tuple[str, Any, Any, Any]]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["date", "kind"]:
        raise InvalidInput("a CSV calendar file starts with the header date,kind,name")
    padded = ([*row, "", "", ""] for row in reader)
    return [(f"line {n}", row[0], row[1], row[2])
            for n, row in enumerate(padded, start=2) if any(cell.strip() for cell in row)]


def _checked(rows: list[tuple[str, Any, Any, Any]]) -> list[Day]:
    errors: list[str] = []
    days: dict[date, Day] = {}
    for where, raw_day, raw_kind, raw_name in rows:
        problem, day = _one_day(raw_day, raw_kind, raw_name)
        if problem:
            errors.append(f"{where}: {problem}")
        elif day is not None:
            if day.day in days and days[day.day].kind != day.kind:
                errors.append(f"{where}: {day.day} is listed both as a holiday and as a workday")
            days[day.day] = day
    if not rows:
        errors.append("the file lists no days")
    if errors:
        shown = "; ".join(errors[:_MAX_ERRORS])
        raise InvalidInput(f"{len(errors)} error(s) in the calendar file: {shown}", errors=errors[:_MAX_ERRORS])
    return sorted(days.values(), key=lambda d: d.day)


def _one_day(raw_day: Any, raw_kind: Any, raw_name: Any) -> tuple[str, Day | None]:
    if not isinstance(raw_day, str):
        return "a date is written YYYY-MM-DD", None
    try:
        day = date.fromisoformat(raw_day.strip())
    except ValueError:
        return f"'{raw_day[:20]}' is not a date (YYYY-MM-DD)", None
    if not FIRST_DAY <= day <= LAST_DAY:
        return f"{day} is outside the years the calendar covers ({FIRST_DAY.year}–{LAST_DAY.year})", None
    kind = KINDS.get(str(raw_kind).strip().lower())
    if kind is None:
        return f"kind '{str(raw_kind)[:20]}' is neither holiday nor workday", None
    name = "" if raw_name is None else str(raw_name).strip()
    if len(name) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a name is one line of at most 100 characters", None
    return "", Day(day, kind, name)
