"""Generate the demo's historical cases and their event logs.

Cases fall near buildings over the last ``days`` days. Each goes as far
through the closed loop as its age allows: most old cases are closed (about
four in five within their time limit), a few stay open past their deadline,
and recent ones are spread over the open states. Every step is written to the
event log, as the real loop does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from shapely.geometry import Point

from layers.demo.catalogue import CATEGORIES, Category
from layers.demo.names import person_name

CHANNELS = ("hotline", "grid_worker", "wechat", "police_110", "camera", "sensor")
CHANNEL_WEIGHTS = (0.35, 0.30, 0.12, 0.08, 0.10, 0.05)
LOOP = ("accepted", "dispatched", "handling", "feedback", "verified", "closed")
# (action, role) that moves a case into each state of the loop
STEP = {"accepted": ("accept", "operator"), "dispatched": ("dispatch", "dispatcher"),
        "handling": ("handle", "team"), "feedback": ("feedback", "team"),
        "verified": ("verify", "grid_worker"), "closed": ("close", "operator")}


@dataclass
class CaseDraft:
    """One historical case before it gets its database id."""

    category: Category
    channel: str
    description: str
    point: Point
    reported_at: datetime
    deadline: datetime
    status: str
    team_id: int | None
    closed_at: datetime | None
    steps: list[tuple[str, datetime, str]]  # (to_status, at, actor)


def _team_pools(team_rows: list[tuple]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    # team ids are 1-based in load order; busy teams may hold one open case
    everyone: dict[str, list[int]] = {}
    busy: dict[str, list[int]] = {}
    for team_id, row in enumerate(team_rows, start=1):
        everyone.setdefault(row[2], []).append(team_id)
        if row[5] == "busy":
            busy.setdefault(row[2], []).append(team_id)
    return everyone, busy


def cases(building_points: np.ndarray, road_of_building: list[str], team_rows: list[tuple],
          now: datetime, count: int, days: int, rng: np.random.Generator) -> list[CaseDraft]:
    """Draw ``count`` cases reported in the ``days`` days before ``now``."""
    everyone, busy = _team_pools(team_rows)
    drafts = []
    for _ in range(count):
        category = CATEGORIES[int(rng.integers(0, len(CATEGORIES)))]
        b = int(rng.integers(0, len(building_points)))
        x, y = building_points[b] + rng.normal(0, 25, 2)
        reported = now - timedelta(seconds=float(rng.uniform(600, days * 86400)))
        limit = timedelta(hours=category.hours)
        channel = CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNEL_WEIGHTS))]
        description = f"群众反映{road_of_building[b]}附近{category.minor_name}"
        took = limit * float(rng.uniform(0.2, 1.35))
        stays_open = rng.random() < 0.03
        progress = min(1.0, (now - reported) / took) if not stays_open else float(rng.uniform(0.1, 0.7))
        reached = max(1, int(progress * (len(LOOP) - 1)) + 1) if progress < 1 else len(LOOP)
        team_id = _pick_team(category, reached, everyone, busy, rng)
        if team_id is None and reached in (2, 3) and category.team_type is not None:
            reached = 1  # no busy team free to hold it: still waiting for dispatch
        steps = _steps(reported, took, reached, rng)
        status = LOOP[reached - 1]
        drafts.append(CaseDraft(category, channel, description, Point(x, y), reported,
                                reported + limit, status, team_id,
                                steps[-1][1] if status == "closed" else None, steps))
    return drafts


def _pick_team(category: Category, reached: int, everyone: dict[str, list[int]],
               busy: dict[str, list[int]], rng: np.random.Generator) -> int | None:
    if category.team_type is None or reached < 2:
        return None
    if reached in (2, 3):  # dispatched or handling: the team is busy with it alone
        pool = busy.get(category.team_type, [])
        return pool.pop() if pool else None
    pool = everyone[category.team_type]
    return pool[int(rng.integers(0, len(pool)))]


def _steps(reported: datetime, took: timedelta, reached: int,
           rng: np.random.Generator) -> list[tuple[str, datetime, str]]:
    fractions = np.sort(rng.uniform(0.02, 0.98, len(LOOP) - 2))
    at = [reported, *(reported + took * float(f) for f in fractions), reported + took]
    return [(LOOP[i], at[i], person_name(rng)) for i in range(reached)]


def event_rows(incident_id: int, district_code: str, draft: CaseDraft) -> list[tuple]:
    """Event-log rows ``(incident_id, district_code, at, actor, role, action, from, to, reason)``."""
    rows = []
    previous: str | None = None
    for status, at, actor in draft.steps:
        action, role = STEP[status]
        rows.append((incident_id, district_code, at, actor, role, action, previous, status, ""))
        previous = status
    return rows
