"""Cases: intake (POST /incidents), the closed loop, overdue lists and escalation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.intake import take_in
from api.params import Line
from api.responses import json_response
from api.schemas import Action, NewIncident
from layers import incidents
from layers.errors import InvalidInput
from layers.loop import TRANSITIONS
from layers.sensing.cameras import linked_cameras
from layers.time.steps import SUPPORT_ACTIONS, TimeArgs, case_time

router = APIRouter(tags=["incidents"])
IncidentId = Annotated[int, Path(ge=1, le=2**62)]
ACTION_PATTERN = f"^({'|'.join(TRANSITIONS)})$"


@router.post("/incidents", status_code=201, summary="Take in a case from any channel")
async def create_incident(
    body: NewIncident, request: Request, conn: ConnDep, principal: CurrentPrincipal,
    idempotency_key: Annotated[Line | None, Header(max_length=200)] = None,
) -> Response:
    """Locate, look up the catalogue, find duplicates and the nearest free team, store, log.

    A retry with the same ``Idempotency-Key`` returns the first answer (200)
    instead of creating a second case.
    """
    answer, created = await take_in(request, conn, body, principal, idempotency_key)
    return json_response(answer, status_code=201 if created else 200,
                         headers={"Location": f"/incidents/{answer['id']}"})


@router.get("/incidents/overdue", summary="Open cases past their deadline in an area")
async def overdue(conn: ConnDep, principal: CurrentPrincipal,
                  area: Annotated[str | None, Query(pattern=r"^[0-9]{6}([0-9]{3}){0,2}$")] = None,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    """Overdue cases in ``area`` (default: the token's area), most overdue first."""
    area = area or principal.area
    principal.require_area(area)
    cases = await incidents.overdue(conn, area, limit)
    return {"area": area, "count": len(cases), "cases": cases}


@router.post("/incidents/escalations", summary="Raise every overdue case in your area one level")
async def escalate(conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Community → street → district, each with a log entry; run it from a timer or by hand."""
    raised = await incidents.escalate_overdue(conn, principal)
    return {"escalated": raised, "count": len(raised)}


@router.get("/incidents/{incident_id}", summary="A case and its event log")
async def read_incident(incident_id: IncidentId, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The case as it is now, the cameras to call up there, and every step it went through."""
    case = await incidents.read_case(conn, incident_id, principal)
    return {**case, "cameras": await linked_cameras(conn, case["lon"], case["lat"]),
            "events": await incidents.events(conn, incident_id), **await case_time(conn, incident_id)}


@router.post("/incidents/{incident_id}/{action}", summary="Take a step of the closed loop")
async def act(incident_id: IncidentId, action: Annotated[str, Path(pattern=ACTION_PATTERN)], conn: ConnDep,
              principal: CurrentPrincipal,
              body: Annotated[Action | None, Body()] = None) -> Response:
    """Take one step: dispatch, handle, feedback, verify, close, return, reject, reassign, ...

    ``dispatch`` takes an optional ``team_id`` or ``lead_team`` (default: the
    nearest free team) and ``support_teams`` (joint dispatch, 联合派遣);
    ``mark_duplicate`` needs ``duplicate_of``; ``return``, ``reject``,
    ``reassign`` and ``escalate`` need a ``reason``. Time (``layers.time``):
    ``request_extension`` / ``request_suspension`` need ``minutes`` (working
    minutes) and a ``reason``; ``approve`` / ``refuse`` (the level above the
    case) take a ``request_id`` (default: the open request); ``resume`` ends a
    pause; ``support_feedback`` (the feedback as ``reason``) and ``release``
    name the supporting team as ``team_id``. 409 when the case's state does
    not allow the step.
    """
    body = body or Action()
    if body.lead_team is not None and body.team_id not in (None, body.lead_team):
        raise InvalidInput("team_id and lead_team name the same team: give one")
    team_id = body.lead_team or body.team_id
    time_args = TimeArgs(minutes=body.minutes, request_id=body.request_id, support_teams=body.support_teams,
                         team_id=team_id)
    case = await incidents.act(conn, incident_id, action, principal, body.reason,
                               None if action in SUPPORT_ACTIONS else team_id, body.duplicate_of,
                               time_args=time_args)
    return json_response(case)
