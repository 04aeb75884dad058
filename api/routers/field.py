"""The grid worker's phone: its page (``/m``) and the field routes, which carry photos (multipart).

A worker reports at the phone's position with up to three photos, sees the
cases dispatched to its team, handles them and reports back with photos,
and verifies on site: the route measures the true ground distance from the
phone to the case and refuses beyond ``WANGGE_VERIFY_DISTANCE_M``. Photos
are checked by content and stored re-encoded, without metadata
(``layers.field.photos``). These are the only routes whose bodies may be
larger than ``WANGGE_MAX_BODY_BYTES`` (``api.bodylimit``).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import FiniteFloat

from api.auth import CurrentPrincipal, Principal, optional_principal
from api.deps import ConnDep, SettingsDep
from api.intake import take_in
from api.pages import loop_steps, role_page
from api.params import FreeText, Line, normalize_point
from api.responses import json_response
from api.schemas import Location, NewIncident
from api.settings import Settings
from layers import incidents
from layers.errors import InvalidInput
from layers.field import photos as field_photos
from layers.field.work import area_outline, distance_to_case, my_team, require_on_site, team_cases
from maps.phone import render_phone

router = APIRouter(tags=["field"])
IncidentId = Annotated[int, Path(ge=1, le=2**62)]
PhotoId = Annotated[int, Path(ge=1, le=2**62)]
Photos = Annotated[list[UploadFile] | None, File(description="up to 3 JPEG, PNG or WebP photos of at most 5 MB")]
FieldAction = Literal["handle", "feedback", "verify"]


def photo_root(settings: Settings) -> FilePath:
    """Where photo files live: ``photos/`` in the data folder."""
    return settings.data_dir / "photos"


async def read_photos(files: list[UploadFile] | None) -> list[field_photos.CleanPhoto]:
    """Every photo sent, checked and re-encoded (422 naming the first bad one); empty parts are skipped.

    A browser sends an empty part for a file input left empty; it is not a photo.
    """
    sent = [f for f in files or [] if f.filename or (f.size or 0) > 0]
    if len(sent) > field_photos.MAX_PHOTOS:
        raise InvalidInput(f"{len(sent)} photos sent; at most {field_photos.MAX_PHOTOS}")
    cleaned = []
    for number, upload in enumerate(sent, 1):
        data = await upload.read(field_photos.MAX_PHOTO_BYTES + 1)
        # decoding a picture takes tens of milliseconds: keep it off the event loop
        cleaned.append(await run_in_threadpool(field_photos.clean, data, f"photo {number}"))
    return cleaned


@router.get("/m", response_class=HTMLResponse, summary="The grid worker's phone page",
            responses={401: {"description": "no token: a page saying how to get one"},
                       403: {"description": "the token is not a grid worker's"}})
async def phone_page(request: Request, conn: ConnDep, settings: SettingsDep,
                     principal: Annotated[Principal | None, Depends(optional_principal)]) -> HTMLResponse:
    """Report, my team's cases, handle, feedback and on-site verification, at 390 px wide."""

    async def build(worker: Principal) -> str:
        return render_phone({"area": await area_outline(conn, worker.area), "who": worker.name, "team": worker.team,
                             "verifyM": settings.verify_distance_m,
                             "refreshMs": max(settings.map_refresh_s, 15) * 1000, "steps": loop_steps(),
                             "maxPhotos": field_photos.MAX_PHOTOS, "maxPhotoBytes": field_photos.MAX_PHOTO_BYTES})

    return await role_page(request, principal, ("grid_worker",), build)


@router.get("/field/me", summary="The worker a token names: role, area, team")
async def me(conn: ConnDep, principal: CurrentPrincipal) -> Any:
    """Who the phone's token is for, and its team's live state (null when it names none)."""
    return json_response({"name": principal.name, "role": principal.role, "area": principal.area,
                          "team": await my_team(conn, principal)})


@router.get("/field/cases", summary="The open cases dispatched to the worker's team")
async def my_cases(conn: ConnDep, principal: CurrentPrincipal) -> Any:
    """Open cases of the token's team inside its area, most urgent deadline first (none without a team)."""
    team = await my_team(conn, principal)
    cases = await team_cases(conn, principal, team["id"]) if team is not None else []
    return json_response({"team": team, "count": len(cases), "cases": cases})


@router.post("/field/reports", status_code=201, summary="Report a case at a point, with up to 3 photos",
             responses={409: {"description": "the same idempotency key is being used right now"}})
async def report(
    request: Request, conn: ConnDep, settings: SettingsDep, principal: CurrentPrincipal,
    category: Annotated[Line, Form(max_length=16)],
    lon: Annotated[FiniteFloat, Form()], lat: Annotated[FiniteFloat, Form()],
    crs: Annotated[Line, Form(max_length=64)] = "wgs84",
    description: Annotated[FreeText, Form(max_length=2000)] = "",
    photos: Photos = None,
    idempotency_key: Annotated[Line | None, Header(max_length=200)] = None,
) -> Response:
    """File a case from the field (channel ``grid_worker``) and keep its photos; a retry files nothing new."""
    cleaned = await read_photos(photos)
    point = normalize_point(lon, lat, crs)
    body = NewIncident(category=category, channel="grid_worker", description=description,
                       location=Location(lon=lon, lat=lat, crs=point.crs.name))
    answer, created = await take_in(request, conn, body, principal, idempotency_key)
    ids = await field_photos.store(conn, photo_root(settings), answer, "report", principal, cleaned) if created else []
    return json_response({**answer, "photos": ids}, status_code=201 if created else 200,
                         headers={"Location": f"/incidents/{answer['id']}"})


@router.post("/field/cases/{incident_id}/{action}", summary="Handle, report back or verify on site, with photos",
             responses={409: {"description": "the case's state does not allow the step"}})
async def step(
    incident_id: IncidentId, action: FieldAction, conn: ConnDep, settings: SettingsDep,
    principal: CurrentPrincipal,
    reason: Annotated[FreeText, Form(max_length=1000)] = "",
    lon: Annotated[FiniteFloat | None, Form()] = None, lat: Annotated[FiniteFloat | None, Form()] = None,
    crs: Annotated[Line, Form(max_length=64)] = "wgs84",
    photos: Photos = None,
) -> Response:
    """Take the step; ``verify`` needs the phone's position and is refused (403) farther than the limit.

    The position, when given, is logged with the step with its ground
    distance to the case.
    """
    cleaned = await read_photos(photos)
    site = None
    if (lon is None) != (lat is None):
        raise InvalidInput("give both lon and lat, or neither")
    if lon is not None and lat is not None:
        point = normalize_point(lon, lat, crs)
        await incidents.read_case(conn, incident_id, principal)
        distance = await distance_to_case(conn, incident_id, point.lon, point.lat)
        site = {"lon": point.lon, "lat": point.lat, "distance_m": round(distance, 1)}
        if action == "verify":
            require_on_site(distance, settings.verify_distance_m, incident_id)
    elif action == "verify":
        raise InvalidInput("verification on site needs the phone's position (lon, lat)")
    case = await incidents.act(conn, incident_id, action, principal, reason, site=site)
    ids = await field_photos.store(conn, photo_root(settings), case, action, principal, cleaned)
    return json_response({**case, "site": site, "photos": ids})


@router.get("/field/cases/{incident_id}/photos", summary="The photos of a case")
async def case_photos(incident_id: IncidentId, conn: ConnDep, principal: CurrentPrincipal) -> Any:
    """Each photo's id, step, who took it, type, size and time; the files at ``/field/photos/{id}``."""
    await incidents.read_case(conn, incident_id, principal)
    found = await field_photos.list_photos(conn, incident_id)
    return json_response({"incident_id": incident_id, "photos": [
        {**p, "url": f"/field/photos/{p['id']}"} for p in found]})


@router.get("/field/photos/{photo_id}", summary="A photo (metadata stripped), for tokens whose area covers its case",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {},
                                                                 "image/webp": {}}}})
async def photo(photo_id: PhotoId, conn: ConnDep, settings: SettingsDep, principal: CurrentPrincipal) -> Response:
    """The stored (re-encoded) picture; 403 when the token's area does not cover the case."""
    data, content_type = await field_photos.read_photo(conn, photo_root(settings), photo_id, principal)
    return Response(data, media_type=content_type,
                    headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})
