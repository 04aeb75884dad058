"""Time as grid centres count it: working-time calendars, stage deadlines, delays, rework, joint dispatch.

Modules: :mod:`layers.time.calendar` (working-time arithmetic, Asia/Shanghai
local time), :mod:`layers.time.holidays` (the State Council's schedule from
the ``chinese-calendar`` package, imported years from files),
:mod:`layers.time.deadlines` (stage limits per category, due times),
:mod:`layers.time.requests` (extension and suspension),
:mod:`layers.time.assignments` (lead and supporting teams).

The case log contract (stable: evaluation reads it)
===================================================

A case is always in at most one **stage**; the stage follows from its status
(``incidents.stage`` is a generated column, :data:`STAGE_OF_STATUS`):

==========  =====================  ==========================================  ===========================
stage       status                 started by (event ``action``)               ended by
==========  =====================  ==========================================  ===========================
dispatch    accepted               ``accept`` (intake)                         ``dispatch``, ``reject``,
                                                                               ``mark_duplicate``
handle      dispatched, handling   ``dispatch``; ``return`` (rework, 返工)      ``feedback``, ``reject``,
                                                                               ``mark_duplicate``
verify      feedback               ``feedback`` (the team has reported)        ``verify``, ``return``,
            (核查)                                                               ``mark_duplicate``
feedback    verified               ``verify``                                  ``close``, ``return``,
            (办结反馈)                                                            ``mark_duplicate``
==========  =====================  ==========================================  ===========================

``handle``, ``reassign``, ``escalate``, the delay actions and the joint
dispatch actions never start or end a stage.

Due times. ``incidents.deadline`` is the case's **handling** due time (处置
时限): the category's handle limit counted on the district's calendar from
the report, moved by approved extensions and suspensions and by escalation
(the limit again from the escalation), and counted afresh from a ``return``
(rework). The handle stage's ``due_at`` is that deadline; the overdue list,
escalation and the walls' countdowns use it. The other stages are due their
own limit after they start (dispatch: 30 wall-clock minutes after the
report by default); ``incidents.stage_due_at`` is the current stage's due
time. Limits per category and stage: :mod:`layers.time.deadlines`.

Every time-related fact is in ``incident_events.details`` (JSON; times are
ISO 8601 strings with their UTC offset, durations integer or fractional
minutes), under these keys:

``stage_start`` -- on the event that starts a stage::

    {"stage": "handle", "due_at": "2026-10-08T10:00:00+08:00",
     "limit_minutes": 480, "working": true,        # working minutes of the calendar, else wall-clock
     "team_id": 17,                                # the lead team on the case (null before dispatch)
     "rework": 1,                                  # handlings before this one (0: first handling)
     "calendar": "CN"}                             # the calendar the due time was counted on

``stage_end`` -- on the event that ends a stage::

    {"stage": "handle", "started_at": "...", "due_at": "...",   # the due time in force at the end
     "on_time": true,                                          # event time <= due_at
     "working_minutes": 312.0,   # working minutes from start to end by the calendar, minus approved pauses
     "elapsed_minutes": 4380.0,  # wall-clock minutes from start to end, pauses included
     "paused_minutes": 0.0}      # working minutes of approved pauses inside the stage

``due_change`` -- whenever the current stage's due time moves without the
stage ending (``cause``: ``extension``, ``suspension``, ``resume``,
``escalation``)::

    {"stage": "handle", "due_at": "...", "previous_due_at": "...", "cause": "extension"}

``request`` -- on ``request_extension``, ``request_suspension``,
``approve`` and ``refuse``: ``{"id", "kind": "extension"|"suspension",
"minutes" (working minutes asked), "status": "pending"|"approved"|"refused"}``.

``pause`` -- on ``approve`` of a suspension (the approved pause, ``until``
planned) and on ``resume`` (``until`` the actual end)::

    {"from": "...", "until": "...", "minutes": 120}   # working minutes of the pause

An approved pause stops the handling clock from ``from`` to ``until``; it
ends by itself at the planned ``until`` (no event) or earlier by
``resume``. An extension adds its working minutes to the due time.

``assignments`` -- on ``dispatch`` (and ``reassign``/``return`` for the lead):
the teams put on the case, the lead first::

    [{"team_id": 17, "role": "lead", "due_at": "...", "limit_minutes": 480, "working": true},
     {"team_id": 23, "role": "support", "due_at": "...", "limit_minutes": 480, "working": true}]

``assignment`` -- on ``support_feedback`` (a supporting team reports, 协办反馈)
and ``release`` (the dispatcher lets a supporter go)::

    {"team_id": 23, "role": "support", "status": "reported"|"released",
     "due_at": "...", "on_time": true, "working_minutes": 95.0}

The lead's ``feedback`` is refused (409) while any supporter is still
active: it ends the handling stage only when every supporter has reported
or been released. The rework count is ``stage_start.rework`` of a
``return`` event (also ``incidents.rework_count``).
"""

from __future__ import annotations

# which stage each open status is in (ended states: none)
STAGE_OF_STATUS: dict[str, str] = {
    "accepted": "dispatch",
    "dispatched": "handle",
    "handling": "handle",
    "feedback": "verify",
    "verified": "feedback",
}
STAGES = ("dispatch", "handle", "verify", "feedback")
