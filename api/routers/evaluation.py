"""The evaluation of an area (考核评价): JSON, CSV, Excel, and the printable monthly report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.auth import CurrentPrincipal, Principal, keep_token
from api.deps import ConnDep
from api.responses import json_response
from layers.time.evaluation import Evaluation, eval_level, evaluate, month_period, period_of
from layers.time.evaluation_files import to_csv, to_xlsx
from maps.report import report_page, wall_panel

router = APIRouter(tags=["evaluation"])

AreaCode = Annotated[str | None, Query(
    pattern=r"^[0-9]{6}([0-9]{3}){0,3}$",
    description="district, street, community or grid code (default: the token's area)")]
From = Annotated[date | None, Query(alias="from", description="first day (default: the current month's first)")]
To = Annotated[date | None, Query(description="last day, inclusive (default: the end of from's month)")]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _evaluation(conn: ConnDep, principal: Principal, area: str | None, first: date | None,
                      last: date | None) -> Evaluation:
    code = area or principal.area
    eval_level(code)
    principal.require_area(code)
    return await evaluate(conn, code, period_of(first, last))


def _file(evaluation: Evaluation, fmt: Format) -> Response:
    if fmt == "json":
        return json_response(evaluation.as_json())
    name = f"evaluation-{evaluation.area.code}-{evaluation.period.first}-{evaluation.period.last}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        # a BOM so that Excel opens the Chinese names as UTF-8
        return Response("\ufeff" + to_csv(evaluation), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(to_xlsx(evaluation), media_type=XLSX, headers=disposition)


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, XLSX: {}}, "description": "the evaluation (JSON, CSV or workbook)"},
    404: {"description": "no district, street, community or grid with that code"}}


@router.get("/evaluation", summary="Evaluation indices of an area per child area and per team",
            responses=_FILE_RESPONSES)
async def evaluation(conn: ConnDep, principal: CurrentPrincipal, area: AreaCode = None, first: From = None,
                     to: To = None, format: Format = "json") -> Response:
    """Cases, on-time dispatch, on-time handling, closure, rework and satisfaction rates, hours per stage.

    The cohort is the cases reported from ``from`` to ``to`` (China time);
    ``definitions`` in the answer (and README "Evaluation") say what each
    figure counts. ``format=csv`` or ``xlsx`` gives the same as a file.
    """
    return _file(await _evaluation(conn, principal, area, first, to), format)


@router.get("/evaluation.csv", summary="The evaluation as CSV", responses=_FILE_RESPONSES)
async def evaluation_csv(conn: ConnDep, principal: CurrentPrincipal, area: AreaCode = None,
                         first: From = None, to: To = None) -> Response:
    """The same rows as ``/evaluation``, one per line (UTF-8 with BOM)."""
    return _file(await _evaluation(conn, principal, area, first, to), "csv")


@router.get("/evaluation.xlsx", summary="The evaluation as an Excel workbook", responses=_FILE_RESPONSES)
async def evaluation_xlsx(conn: ConnDep, principal: CurrentPrincipal, area: AreaCode = None,
                          first: From = None, to: To = None) -> Response:
    """The same rows as ``/evaluation``, with a sheet of definitions."""
    return _file(await _evaluation(conn, principal, area, first, to), "xlsx")


Month = Annotated[str | None, Query(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM (default: the current month)")]


async def _month(conn: ConnDep, principal: Principal, area: str, month: str | None) -> Evaluation:
    """The evaluation of ``area`` for ``month``, once the caller's area is checked to cover it."""
    eval_level(area)
    principal.require_area(area)
    return await evaluate(conn, area, month_period(month))


@router.get("/reports/evaluation/{area}", response_class=HTMLResponse,
            summary="The printable monthly evaluation report of an area")
async def evaluation_report(request: Request, area: str, conn: ConnDep, principal: CurrentPrincipal,
                            month: Month = None) -> Response:
    """Ranked children with bar charts, the teams, and the definitions; print it to PDF from the browser.

    The wall opens the report in a new tab with its token; kept as a cookie, later links need none.
    """
    result = await _month(conn, principal, area, month)
    return keep_token(request, HTMLResponse(report_page(result, request.scope.get("root_path", "")),
                                            headers={"Cache-Control": "private, no-store"}))


@router.get("/reports/evaluation/{area}/panel", response_class=HTMLResponse,
            summary="The evaluation of an area as a small fragment for a map wall's side panel")
async def evaluation_panel(request: Request, area: str, conn: ConnDep, principal: CurrentPrincipal,
                           month: Month = None) -> HTMLResponse:
    """Key rates, the best and last children of the month, and a link to the full report."""
    result = await _month(conn, principal, area, month)
    return HTMLResponse(wall_panel(result, request.scope.get("root_path", "")),
                        headers={"Cache-Control": "private, no-store"})
