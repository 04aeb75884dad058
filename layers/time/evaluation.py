"""The evaluation that rates each level (考核评价), after the indices of GB/T 30428.4 (绩效评价).

Every figure comes from the case table and its append-only event log, read
once by :mod:`layers.time.evaluation_sql`; nothing is estimated.

**Which cases.** The *cohort* of a period is the cases **reported** in it
(``reported_at`` from 00:00 of ``from`` to 24:00 of ``to``, China time,
UTC+8) whose grid lies in the area. Each case counts once, in the period it
was filed, for the child area its row names at filing time (street,
community, grid: the attribution the closed loop uses) and for the team on
it (``incidents.team_id``: the lead team, the last one dispatched or
reassigned). Its figures are its whole log as read at ``as_of`` (the moment
of the query, returned with the answer): a month's closure rate still rises
while its cases are being closed, and stops changing once they all have.

**Which events.** The stages and the events that start and end them are the
contract of :mod:`layers.time` (dispatch, handle, verify, feedback): an
event ends the stage of the status it leaves. The first ``dispatch`` ends
the dispatch stage; the last ``feedback`` ends handling unless a ``return``
(rework, 返工) came after it; ``close`` ends the case; ``reject`` and
``mark_duplicate`` void it (status ``rejected``/``duplicate``).

**On time and working time.** Whether a stage ended on time, and how many
working minutes it took, is what its ending event's ``stage_end`` record
says (``on_time``, ``working_minutes``: the working-time calendar, approved
pauses taken out, extensions granted). Events logged before working-time
calendars (the demo's history, imported cases) have no such record; for
them dispatch is on time within :data:`DISPATCH_LIMIT` (30 minutes) of the
report, handling by the case's ``deadline``, and a stage's time is the
elapsed time since the previous stage-boundary event. A case not yet
dispatched is due for dispatch at its ``accept`` event's
``stage_start.due_at`` (else 30 minutes after the report); a dispatched case
not yet handled falls due at its ``deadline`` (the current stage's due
time). Cases of a category no team type owns (属地兜底: the community
handles it) are left out of the dispatch rate only.

**Indices** (numerator / denominator; "filed" = reported and not voided):

=========================  =====================================  ===========================================
index                      numerator                              denominator
=========================  =====================================  ===========================================
上报数 cases                --                                     cases reported in the period (voided too)
立案数 filed                --                                     cases not rejected or marked duplicate
按时派遣率 on-time dispatch  first dispatch on time                  应派遣数: filed, of a team-owned category,
                                                                  dispatched or past the dispatch due time
按期处置率 on-time handling  handling ended (last feedback, no      应处置数: filed, dispatched, and either
                           later return) on time                  handling ended or its due time passed
结案率 closure              closed                                 filed
返工率 rework               with at least one ``return``          处置数: filed with at least one ``feedback``
满意率 satisfaction (proxy)  closed with no ``return`` ever         结案数: closed
平均用时 avg hours / stage    working time of every ended stage      the number of ended stages of that kind
                           (rework rounds each count)             (dispatch, handle, verify, feedback)
协办按时反馈率 support        supporters' reports on time by their   supporters' reports (``support_feedback``)
                           own due time (``assignment.on_time``)  on the filed cases
=========================  =====================================  ===========================================

A team's row counts the cases it led (``incidents.team_id``) and, in the
``support_*`` figures, the reports it gave and the releases it got as a
supporting team (联合派遣 协办) on other cases; an area's rows count all
support given on its cases.

Denominators count a stage once it *ended or fell due*: a case still inside
its time limit is neither on time nor late yet, so a running month is not
rated down for work not yet due. A rate with a zero denominator is None
(no data is not 0 %).

**Satisfaction.** wangge records no resident survey (no channel asks one and
no case field holds one), so there is no satisfaction datum to count. The
figure shown as 满意率 is its usual proxy in grid centres, 一次办结率: the
share of closed cases that were closed without any rework. It is labelled a
proxy wherever it is shown; a survey field, once one exists, replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from psycopg import AsyncConnection, sql

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows, one_row
from layers.time.evaluation_sql import BOUNDARY_ACTIONS, COUNTS, STAGES, evaluation_query, support_query

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
DISPATCH_LIMIT = timedelta(minutes=30)
MAX_PERIOD_DAYS = 366
# the days a period may name: no case is older, and the day after the last still has a date
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# the aggregate sorts a month's events (about 6 per case) for its window; at a district month of
# 100,000 cases PostgreSQL's default 4 MB sends that sort to disk (60 MB), so its own transaction asks for more
WORK_MEM = "128MB"
_CODE = re.compile(r"^[0-9]{6}(?:[0-9]{3}){0,3}$")


@dataclass(frozen=True)
class EvalLevel:
    """One level an evaluation can be asked for: its table, its children and their column."""

    name: str
    table: str
    column: str  # the incidents column naming the area
    child_level: str
    child_column: str  # the incidents column naming the child
    child_table: str
    child_parent: str | None  # None: the child is the area itself (a grid)


_LEVELS = {
    6: EvalLevel("district", "districts", "district_code", "street", "street_code", "streets", "district_code"),
    9: EvalLevel("street", "streets", "street_code", "community", "community_code", "communities", "street_code"),
    12: EvalLevel("community", "communities", "community_code", "grid", "grid_code", "grids", "community_code"),
    15: EvalLevel("grid", "grids", "grid_code", "grid", "grid_code", "grids", None),
}

# the rates: (name, numerator, denominator, label shown in files and the report)
RATES: tuple[tuple[str, str, str, str], ...] = (
    ("on_time_dispatch_rate", "dispatched_on_time", "dispatch_due", "按时派遣率"),
    ("on_time_handling_rate", "handled_on_time", "handling_due", "按期处置率"),
    ("closure_rate", "closed", "filed", "结案率"),
    ("rework_rate", "reworked", "fed_back", "返工率"),
    ("satisfaction_rate", "closed_first_time", "closed", "满意率(一次办结,代理)"),
    ("support_on_time_rate", "support_on_time", "support_reported", "协办按时反馈率"),
)
# each stage's average: (stage, summed microseconds column, count column, label)
STAGE_AVERAGES: tuple[tuple[str, str, str, str], ...] = (
    ("dispatch", "dispatch_us", "dispatch_stages", "派遣用时(小时)"),
    ("handle", "handle_us", "handle_stages", "处置用时(小时)"),
    ("verify", "verify_us", "verify_stages", "核查用时(小时)"),
    ("feedback", "feedback_us", "feedback_stages", "办结反馈用时(小时)"),
    ("support", "support_us", "support_reported", "协办用时(小时)"),
)
COUNT_LABELS = {
    "cases": "上报数", "filed": "立案数", "dispatch_due": "应派遣数", "dispatched_on_time": "按时派遣数",
    "dispatched": "派遣数", "handling_due": "应处置数", "handled_on_time": "按期处置数", "handled": "处置数",
    "fed_back": "反馈数", "reworked": "返工案件数", "returns": "返工次数", "closed": "结案数",
    "closed_first_time": "一次办结数", "dispatch_stages": "派遣环节数", "handle_stages": "处置环节数",
    "verify_stages": "核查环节数", "feedback_stages": "办结反馈环节数",
    "support_reported": "协办反馈数", "support_on_time": "协办按时反馈数", "support_released": "协办释放数",
}
# one line per figure, for the files' definitions sheet and the report's footnotes
DEFINITIONS: tuple[tuple[str, str, str], ...] = (
    ("cases", "上报数", "cases reported in the period in the area (rejected and duplicates included)"),
    ("filed", "立案数", "cases reported in the period, not rejected and not marked duplicate"),
    ("on_time_dispatch_rate", "按时派遣率",
     "first dispatch on time (its stage_end record; older logs: within 30 minutes of the report) / filed "
     "cases of a team-owned category that were dispatched or are past their dispatch due time"),
    ("on_time_handling_rate", "按期处置率",
     "handling ended on time (the last feedback, with no later return; its stage_end record, older logs: by "
     "the case deadline) / filed dispatched cases whose handling ended or fell due"),
    ("closure_rate", "结案率", "closed / filed"),
    ("rework_rate", "返工率", "filed cases returned at least once / filed cases with at least one feedback"),
    ("satisfaction_rate", "满意率(代理)",
     "no survey is recorded: closed without any return (一次办结) / closed"),
    ("avg_hours", "平均用时",
     "per stage (dispatch, handle, verify, feedback): working hours of every ended stage of the filed cases "
     "(stage_end.working_minutes; older logs: elapsed hours since the previous stage event) / their number"),
    ("support_on_time_rate", "协办按时反馈率",
     "joint dispatch: supporting teams' reports (support_feedback) on time by their own due time / their "
     "reports; a team's row counts the cases it supported, the area's and children's all support given; "
     "support_released counts supporters let go (release); avg_hours.support: their working hours per report"),
    ("period", "统计周期", "cases reported from 00:00 of 'from' to 24:00 of 'to', China time (UTC+8); "
                         "each case's figures are its log as of 'as_of'"),
)


@dataclass(frozen=True)
class Period:
    """The reporting days, inclusive, and their instants [start, end)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """00:00 China time of the first day."""
        return datetime.combine(self.first, time(), CHINA)

    @property
    def end(self) -> datetime:
        """00:00 China time of the day after the last (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA)


@dataclass(frozen=True)
class AreaRef:
    """The evaluated area: code, name and level."""

    code: str
    name: str
    level: EvalLevel


@dataclass
class Evaluation:
    """The figures of one area over one period: the whole, per child area and per team."""

    area: AreaRef
    period: Period
    as_of: datetime
    total: dict[str, Any]
    children: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "area": {"code": self.area.code, "name": self.area.name, "level": self.area.level.name},
            "from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
            "timezone": "Asia/Shanghai", "as_of": self.as_of.isoformat(),
            "child_level": self.area.level.child_level,
            "total": self.total, "children": self.children, "teams": self.teams,
            "definitions": {key: f"{label}: {text}" for key, label, text in DEFINITIONS},
        }


def china_today(now: datetime | None = None) -> date:
    """Today's date in China."""
    return (now or datetime.now(UTC)).astimezone(CHINA).date()


def month_period(month: str | None, now: datetime | None = None) -> Period:
    """The calendar month ``YYYY-MM`` (default: the current one in China); 422 when malformed."""
    if month is None:
        today = china_today(now)
        year, number = today.year, today.month
    else:
        found = re.fullmatch(r"([0-9]{4})-([0-9]{2})", month)
        if found is None or not 1 <= int(found.group(2)) <= 12 or not 1900 <= int(found.group(1)) <= 2999:
            raise InvalidInput("month must be YYYY-MM, e.g. 2026-11")
        year, number = int(found.group(1)), int(found.group(2))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return Period(first, following - timedelta(days=1))


def period_of(first: date | None, last: date | None, now: datetime | None = None) -> Period:
    """The days ``first``..``last``; a missing end is its month's (the current month's when both are missing).

    422 when ``first`` is after ``last`` or the period is longer than :data:`MAX_PERIOD_DAYS`.
    """
    if first is None:
        first = month_period(None, now).first if last is None else last.replace(day=1)
    if last is None:
        last = month_period(f"{first.year:04d}-{first.month:02d}").last
    if not (FIRST_DAY <= first <= LAST_DAY and FIRST_DAY <= last <= LAST_DAY):
        raise InvalidInput(f"dates lie between {FIRST_DAY} and {LAST_DAY}")
    if first > last:
        raise InvalidInput(f"'from' ({first}) is after 'to' ({last})")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(f"a period is at most {MAX_PERIOD_DAYS} days")
    return Period(first, last)


def eval_level(code: str) -> EvalLevel:
    """The level of an area code (6, 9, 12 or 15 digits); 422 when malformed."""
    if not _CODE.match(code):
        raise InvalidInput("area must be a 6 (district), 9 (street), 12 (community) or 15 (grid) digit code")
    return _LEVELS[len(code)]


async def read_area_ref(conn: AsyncConnection, code: str) -> AreaRef:
    """The area with ``code`` (a grid by its newest version); 404 when the store has none."""
    level = eval_level(code)
    order = sql.SQL(" ORDER BY valid_to IS NULL DESC, valid_from DESC" if level.table == "grids" else "")
    query = sql.SQL("SELECT name FROM {} WHERE code = %s{} LIMIT 1").format(sql.Identifier(level.table), order)
    row = await one_row(conn, query, (code,))
    if row is None:
        raise NotFound(f"no {level.name} with code {code}")
    return AreaRef(code, row["name"], level)


async def _child_names(conn: AsyncConnection, area: AreaRef) -> dict[str, str]:
    """The area's children, code → name, in code order (current grids; the grid itself for a grid)."""
    level = area.level
    if level.child_parent is None:
        return {area.code: area.name}
    current = sql.SQL(" AND valid_to IS NULL" if level.child_table == "grids" else "")
    query = sql.SQL("SELECT code, name FROM {} WHERE {} = %s{} ORDER BY code").format(
        sql.Identifier(level.child_table), sql.Identifier(level.child_parent), current)
    rows = await all_rows(conn, query, (area.code,))
    return {row["code"].strip(): row["name"] for row in rows}


async def _grid_names(conn: AsyncConnection, codes: list[str]) -> dict[str, str]:
    """Names of grids no longer current (a case keeps the grid version it was filed in)."""
    rows = await all_rows(conn, """
        SELECT DISTINCT ON (code) code, name FROM grids WHERE code = ANY(%s)
        ORDER BY code, valid_from DESC""", (codes,))
    return {row["code"].strip(): row["name"] for row in rows}


async def _team_names(conn: AsyncConnection, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await all_rows(conn, "SELECT id, code, name, type FROM teams WHERE id = ANY(%s)", (ids,))
    return {row["id"]: row for row in rows}


def derive(counts: dict[str, int]) -> dict[str, Any]:
    """A figures row: the counts, the stage sums, each rate and each stage's mean hours."""
    row: dict[str, Any] = {name: int(counts.get(name) or 0) for name in COUNTS}
    for stage in (*STAGES, "support"):
        row[f"{stage}_us"] = int(counts.get(f"{stage}_us") or 0)
    for name, numerator, denominator, _ in RATES:
        row[name] = row[numerator] / row[denominator] if row[denominator] else None
    row["avg_hours"] = {stage: (row[total] / row[count] / 3_600_000_000 if row[count] else None)
                        for stage, total, count, _ in STAGE_AVERAGES}
    return row


async def evaluate(conn: AsyncConnection, area_code: str, period: Period,
                   as_of: datetime | None = None) -> Evaluation:
    """The evaluation of ``area_code`` over ``period``, as the log stands at ``as_of`` (default now)."""
    area = await read_area_ref(conn, area_code)
    as_of = as_of or datetime.now(UTC)
    params = {"district": area_code[:6], "area": area_code, "start": period.start, "end": period.end,
              "as_of": as_of, "dispatch_limit": DISPATCH_LIMIT, "boundary": list(BOUNDARY_ACTIONS)}
    level = area.level
    async with conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        rows = await all_rows(conn, evaluation_query(level.column, level.child_column), params)
        rows += await all_rows(conn, support_query(level.column, level.child_column), params)
    # each group's counts from both statements (lead work, support work), then the derived figures
    raw: dict[tuple[str, Any], dict[str, Any]] = {}
    for row in rows:
        key = (("child", (row["child"] or "").strip()) if row["by_child"]
               else ("team", row["team_id"]) if row["by_team"] else ("total", None))
        raw.setdefault(key, {}).update({k: v for k, v in row.items() if k not in ("child", "team_id")})
    total = derive(raw.get(("total", None), {}))
    by_child = {code: derive(counts) for (kind, code), counts in raw.items() if kind == "child"}
    by_team = {team: derive(counts) for (kind, team), counts in raw.items() if kind == "team"}
    names = await _child_names(conn, area)
    stray = [code for code in by_child if code not in names and code]
    if stray and area.level.child_table == "grids":
        names.update(await _grid_names(conn, stray))
    children = [{"code": code, "name": names.get(code, ""), **by_child.get(code, derive({}))}
                for code in sorted(set(names) | set(by_child))]
    teams_known = await _team_names(conn, [tid for tid in by_team if tid is not None])
    teams = []
    for team_id, figures in sorted(by_team.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        team = teams_known.get(team_id) if team_id is not None else None
        teams.append({"team_id": team_id, "code": team["code"] if team else None,
                      "name": team["name"] if team else "未派遣 (no team)",
                      "type": team["type"] if team else None, **figures})
    return Evaluation(area, period, as_of, total, children, teams)
