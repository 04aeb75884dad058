"""Open311 GeoReport v2: the intake and status interface hotline, WeChat and app platforms speak.

Paths follow the specification (``/open311/v2/services.json``,
``requests.json``, ``requests/{id}.json``); service codes are the catalogue's
codes and service request ids are case ids. Choices where the specification
leaves room:

- ``api_key`` is a wangge bearer token (or send it as the usual header); it
  is needed for reading requests too, since cases name people's addresses.
- ``lat``/``long`` are WGS84 as the specification says; the extension field
  ``crs`` (gcj02, bd09, cgcs2000, EPSG:<code>) takes coordinates from Chinese
  map SDKs as they are. ``address_string`` alone is geocoded.
- The extension field ``channel`` (default ``wechat``) says which channel
  the platform is; ``Idempotency-Key`` works as on ``POST /incidents``.
- Posts may be form-encoded (the specification's format) or JSON.
- Errors keep wangge's one error shape (``{"detail", "code"}``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import ValidationError

from api.auth import Principal, current_principal, verify_token
from api.deps import ConnDep
from api.intake import take_in
from api.params import parse_at
from api.responses import json_response
from api.schemas import NewIncident
from layers import incidents
from layers.catalogue import all_categories
from layers.errors import InvalidInput, NotFound
from layers.loop import OPEN_STATES

router = APIRouter(prefix="/open311/v2", tags=["open311"])
MAX_FORM_BYTES = 64_000


async def _caller(request: Request, api_key: str | None) -> Principal:
    if api_key:
        return verify_token(request.app.state.token_secret, api_key)
    return await current_principal(request)


def _service(category: Any) -> dict[str, Any]:
    return {
        "service_code": category.code, "service_name": category.minor_name,
        "description": f"{category.major_name} · {category.minor_name}: {category.closing_standard}"
                       f" ({category.time_limit_hours} h)",
        "metadata": False, "type": "realtime", "keywords": category.major_name, "group": category.major_name,
    }


@router.get("/services.json", summary="Open311: the case catalogue as services")
async def services(conn: ConnDep) -> Response:
    """Every catalogue category as an Open311 service (no extra attributes)."""
    return json_response([_service(c) for c in await all_categories(conn)])


@router.get("/services/{service_code}.json", summary="Open311: one service's definition")
async def service_definition(conn: ConnDep, service_code: Annotated[str, Path(max_length=16)]) -> Response:
    """Services here need no attributes beyond the standard fields."""
    if service_code not in {c.code for c in await all_categories(conn)}:
        raise NotFound(f"no service '{service_code}'; see services.json")
    return json_response({"service_code": service_code, "attributes": []})


def _status(case: dict[str, Any]) -> str:
    return "open" if case["status"] in OPEN_STATES else "closed"


def _request(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_request_id": str(case["id"]), "status": _status(case),
        "status_notes": f"{case['status']} ({case['level']} level)",
        "service_name": case.get("category_name"), "service_code": case["category_code"],
        "description": case["description"], "agency_responsible": case.get("team_type") or "community",
        "service_notice": None, "requested_datetime": case["reported_at"],
        "updated_datetime": case["updated_at"], "expected_datetime": case["deadline"],
        "address": case["address"], "address_id": None, "zipcode": None,
        "lat": case["lat"], "long": case["lon"], "media_url": None,
    }


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidInput("the request is too large for a service request")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise InvalidInput("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidInput("the form must be UTF-8") from None
    return {k: v[0] for k, v in fields.items()}


def _new_incident(form: dict[str, str]) -> NewIncident:
    place: dict[str, Any] = {}
    if "lat" in form or "long" in form:
        place["location"] = {"lon": form.get("long"), "lat": form.get("lat"), "crs": form.get("crs", "wgs84")}
    elif "address_string" in form:
        place["address"] = form["address_string"]
    try:
        return NewIncident.model_validate({"category": form.get("service_code", ""),
                                           "channel": form.get("channel", "wechat"),
                                           "description": form.get("description", ""), **place})
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid service request: {reasons}") from None


@router.post("/requests.json", status_code=201, summary="Open311: submit a service request")
async def create_request(request: Request, conn: ConnDep,
                         idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    """Fields: ``service_code``, ``lat``+``long`` (or ``address_string``), ``description``, ``api_key``."""
    form = await _form(request)
    caller = await _caller(request, form.get("api_key"))
    answer, created = await take_in(request, conn, _new_incident(form), caller, idempotency_key)
    notice = f"accepted; due by {answer['deadline'].isoformat()}"
    return json_response([{"service_request_id": str(answer["id"]), "service_notice": notice,
                           "account_id": None}], status_code=201 if created else 200)


def _moment(text: str | None) -> datetime | None:
    return parse_at(text) if text else None


@router.get("/requests.json", summary="Open311: service requests in your area")
async def list_requests(
    request: Request, conn: ConnDep,
    service_request_id: Annotated[str | None, Query(max_length=2000, pattern=r"^[0-9]+(,[0-9]+)*$")] = None,
    service_code: Annotated[str | None, Query(max_length=16)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)$")] = None,
    api_key: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Newest first, at most 1,000; filters as in the specification."""
    caller = await _caller(request, api_key)
    ids = [int(i) for i in service_request_id.split(",")][:1000] if service_request_id else None
    cases = await incidents.find_cases(
        conn, caller.area, ids=ids, category=service_code, start=_moment(start_date), end=_moment(end_date),
        open_only=None if status is None else status == "open")
    return json_response([_request(c) for c in cases])


@router.get("/requests/{service_request_id}.json", summary="Open311: one service request")
async def one_request(request: Request, conn: ConnDep, service_request_id: Annotated[int, Path(ge=1, le=2**62)],
                      api_key: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    """The request as a one-element list, as the specification has it; 403 outside your area."""
    caller = await _caller(request, api_key)
    cases = await incidents.find_cases(conn, "", ids=[service_request_id])
    if not cases:
        raise NotFound(f"no service request {service_request_id}")
    caller.require_area(cases[0]["community_code"])
    return json_response([_request(cases[0])])
