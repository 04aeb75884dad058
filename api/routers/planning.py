"""Planning: proposals with their report, suggestions, publish, and the planner map page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from api.auth import CurrentPrincipal, Principal, Unauthenticated, keep_token
from api.deps import ConnDep, SettingsDep
from api.params import CRS_HELP, CommunityCode
from api.routers.maps import PagePrincipal, sign_in_page
from geo.crs import parse_crs
from geo.planning import service
from geo.planning.report import ReportOptions
from layers import planning as store
from layers.errors import PreconditionFailed
from maps.planner import planner_page

router = APIRouter(tags=["planning"])

ProposalId = Annotated[int, Path(ge=1, le=2**62, description="proposal id")]


async def report_options(
    settings: SettingsDep,
    gap_width_m: Annotated[float, Query(ge=0, le=100, description="gaps narrower than this mark edges")] = 1.0,
    sliver_m2: Annotated[float, Query(ge=0, le=100_000, description="parts below this area are slivers")] = 100.0,
) -> ReportOptions:
    """Thresholds of the report from the query; the snapping tolerance is the service's setting."""
    return ReportOptions(gap_width_m, sliver_m2, settings.snap_tolerance_m)


OptionsDep = Annotated[ReportOptions, Depends(report_options)]


class SuggestionRequest(BaseModel):
    """Size the suggested grids by count or by residents per grid (exactly one)."""

    grids: int | None = Field(default=None, ge=1, le=service.MAX_SUGGESTED_GRIDS)
    residents_per_grid: int | None = Field(default=None, ge=10, le=1_000_000)
    seed: int = Field(default=0, ge=0, le=2**31, description="seed of the clustering, for repeatable answers")

    @model_validator(mode="after")
    def _one_target(self) -> SuggestionRequest:
        if (self.grids is None) == (self.residents_per_grid is None):
            raise ValueError("give exactly one of grids or residents_per_grid")
        return self


def planner_of(principal: Principal, community_code: str) -> Principal:
    """Refuse (403) anyone but a planner or admin whose area covers the community."""
    principal.require_role("planner")
    principal.require_area(community_code)
    return principal


async def proposal_for_planner(proposal_id: ProposalId, conn: ConnDep,
                               principal: CurrentPrincipal) -> dict[str, Any]:
    """The proposal (404 when unknown), once the caller may plan its community."""
    found = await service.proposal(conn, proposal_id)
    planner_of(principal, found["community"])
    return found


ProposalDep = Annotated[dict[str, Any], Depends(proposal_for_planner)]


def _created(response: Response, answer: dict[str, Any]) -> dict[str, Any]:
    response.status_code = 201
    response.headers["ETag"] = answer["etag"]
    response.headers["Location"] = f"/planning/proposals/{answer['id']}"
    return answer


@router.post("/planning/communities/{code}/proposals", status_code=201,
             summary="Propose new grids for a community and get the report")
async def create_proposal(
    code: CommunityCode, conn: ConnDep, principal: CurrentPrincipal, options: OptionsDep,
    response: Response,
    body: Annotated[Any, Body(description="a FeatureCollection of the new grids, or {'operations': [...]}")],
    crs: Annotated[str, Query(max_length=64, description=CRS_HELP)] = "wgs84",
) -> dict[str, Any]:
    """Store a proposal and answer its report (validity, coverage, workload, impact).

    Operations: ``{"op": "split", "grid": code, "line": [[x, y], ...]}``,
    ``{"op": "merge", "grids": [code, ...]}``,
    ``{"op": "move_boundary", "grids": [a, b], "line": [[x, y], ...]}``.
    Coordinates are in ``crs``; a FeatureCollection may also name it in a
    top-level ``crs`` member (a string), which wins over the query.
    """
    planner_of(principal, code)
    named = body.get("crs") if isinstance(body, dict) and isinstance(body.get("crs"), str) else crs
    answer = await service.propose(conn, code, body, parse_crs(named), principal.name, options)
    return _created(response, answer)


@router.post("/planning/communities/{code}/suggestions", status_code=201,
             summary="Suggest balanced grids for a community (stored as a proposal)")
async def create_suggestion(code: CommunityCode, request_body: SuggestionRequest, conn: ConnDep,
                            principal: CurrentPrincipal, options: OptionsDep,
                            response: Response) -> dict[str, Any]:
    """Partition the community into balanced grids that tile it exactly, with the report."""
    planner_of(principal, code)
    target = service.SuggestionTarget(request_body.grids, request_body.residents_per_grid)
    answer = await service.suggest(conn, code, target, principal.name, options, request_body.seed)
    return _created(response, answer)


@router.get("/planning/proposals/{proposal_id}", summary="A proposal with its report")
async def read_proposal(proposal: ProposalDep, response: Response) -> dict[str, Any]:
    """The stored proposal: features, report, status."""
    response.headers["ETag"] = proposal["etag"]
    return proposal


@router.post("/planning/proposals/{proposal_id}/publish", summary="Publish a proposal as the new grids")
async def publish_proposal(
    proposal: ProposalDep, conn: ConnDep, principal: CurrentPrincipal, response: Response, settings: SettingsDep,
    request: Request, if_match: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Replace the community's grids in one transaction; 412 when the community changed since.

    A proposal whose grids are all the ones in force (within the snapping
    tolerance) changes nothing: ``changed`` is false, no version is made.
    """
    if if_match is not None and if_match.strip().removeprefix("W/") not in (proposal["etag"], "*"):
        raise PreconditionFailed("If-Match does not match the proposal's version")
    answer = await service.publish(conn, proposal["id"], principal.name, principal.role,
                                   snap_m=settings.snap_tolerance_m)
    request.app.state.grids.mark_stale()
    response.headers["ETag"] = answer["etag"]
    return answer


@router.get("/planning/communities/{code}/workload", summary="Each grid in force with its workload")
async def grid_workload(code: CommunityCode, conn: ConnDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Residents, households, buildings, stall zones, cameras and 90-day cases per current grid."""
    planner_of(principal, code)
    return {"community": code, "grids": await service.current_workload(conn, code)}


@router.get("/maps/planner/{code}", response_class=HTMLResponse, summary="The planner's map of a community")
async def planner_map(request: Request, code: CommunityCode, conn: ConnDep, principal: PagePrincipal,
                      ) -> Response:
    """Edit the community's grids in the browser, post them as a proposal, see the report, publish.

    A browser without a token gets the sign-in page; a ``?token=`` is kept as
    a cookie for the page's tiles and API calls.
    """
    if isinstance(principal, Unauthenticated):
        return sign_in_page(request, str(principal))
    planner_of(principal, code)
    place = await store.community(conn, code)
    return keep_token(request, HTMLResponse(planner_page(place.code, place.name, place.geom.bounds)))
