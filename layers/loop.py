"""The closed loop of a case (受理→派遣→处置→反馈→核查→结案) as one transition table.

Each action names the states it may start from, the state it leads to and
the roles that may take it. Admins may take any action. A team is on a case
while it is ``dispatched`` or ``handling``; leaving those states frees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import Conflict

OPEN_STATES = ("accepted", "dispatched", "handling", "feedback", "verified")
ENDED_STATES = ("closed", "rejected", "duplicate")
# for SQL text over a status column; spelled as the partial indexes of
# migration 0001 spell it, so the planner can use them
ENDED_SQL = "(" + ", ".join(f"'{state}'" for state in ENDED_STATES) + ")"
TEAM_STATES = ("dispatched", "handling")
LEVELS = ("community", "street", "district")


@dataclass(frozen=True)
class Transition:
    """An action of the loop: from which states, to which state, by whom."""

    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    needs_reason: bool = False


TRANSITIONS: dict[str, Transition] = {
    "dispatch": Transition(("accepted",), "dispatched", ("dispatcher",)),
    "reassign": Transition(("dispatched", "handling"), "dispatched", ("dispatcher",), needs_reason=True),
    # a grid worker handles and reports back on its own team's cases, and
    # verifies on site only (layers.field.rules)
    "handle": Transition(("dispatched",), "handling", ("dispatcher", "operator", "grid_worker")),
    "feedback": Transition(("handling",), "feedback", ("dispatcher", "operator", "grid_worker")),
    "verify": Transition(("feedback",), "verified", ("operator", "grid_worker")),
    "close": Transition(("verified",), "closed", ("operator",)),
    # verification failed on site: back to the team's hands
    "return": Transition(("feedback", "verified"), "handling", ("operator",), needs_reason=True),
    # not a matter for the grid system (wrong report, outside remit)
    "reject": Transition(("accepted", "dispatched"), "rejected", ("operator", "dispatcher"),
                         needs_reason=True),
    "mark_duplicate": Transition(OPEN_STATES, "duplicate", ("operator", "dispatcher")),
    # moves the case one level up without changing its state
    "escalate": Transition(OPEN_STATES, "", ("operator", "dispatcher"), needs_reason=True),
    # time and teams (layers.time): the handling side asks for more time or a pause, the level
    # above decides (layers.time.requests.approver_area); a supporting team reports or is released
    "request_extension": Transition(TEAM_STATES, "", ("dispatcher", "operator"), needs_reason=True),
    "request_suspension": Transition(TEAM_STATES, "", ("dispatcher", "operator"), needs_reason=True),
    "approve": Transition(TEAM_STATES, "", ("operator", "dispatcher")),
    "refuse": Transition(TEAM_STATES, "", ("operator", "dispatcher"), needs_reason=True),
    "resume": Transition(TEAM_STATES, "", ("dispatcher", "operator")),
    "support_feedback": Transition(TEAM_STATES, "", ("dispatcher", "operator"), needs_reason=True),
    "release": Transition(TEAM_STATES, "", ("dispatcher",), needs_reason=True),
}


def check(action: str, status: str) -> Transition:
    """The transition for ``action`` from ``status``, or :class:`Conflict` saying why not."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        allowed = ", ".join(transition.sources)
        raise Conflict(f"cannot {action.replace('_', ' ')} a case that is {status} (only from: {allowed})",
                       status=status)
    return transition


def target_of(transition: Transition, status: str) -> str:
    """The state after the transition (escalation keeps the state)."""
    return transition.target or status


def next_level(level: str) -> str | None:
    """The level above ``level`` (community → street → district), None at the top."""
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None
