"""Open311 GeoReport v2: the intake and status interface hotline, WeChat, app platforms and FixMyStreet speak.

Paths follow the specification, each in ``.xml`` (its required format) and
``.json``: ``discovery``, ``services``, ``services/{code}``, ``requests``
(POST and GET) and ``requests/{id}``. Service codes are the catalogue's
codes, service request ids are case ids. Errors are the specification's list
of ``{code, description}`` (``api.open311_errors``). Choices where the
specification leaves room:

- ``api_key`` is a wangge bearer token (or send it as the usual header).
  Posting needs one (operator or dispatcher whose area covers the place);
  reading does not, as FixMyStreet reads without one.
- What a reader sees follows ``layers.visibility``: anyone gets the service,
  status, dates and a point rounded to about 100 m; a token whose area
  covers the case adds the description, address, exact point and media URL;
  operators, dispatchers and admins of that area also get the reporter's
  fields and the ``attribute[...]`` answers.
- ``jurisdiction_id`` may be left out (one deployment, one district); when
  given it must be a district code this service holds (else 404), lists are
  limited to it, and a post must lie inside it.
- A retry of the same post returns the first case (200) instead of filing a
  second: the ``Idempotency-Key`` header if sent, else the client's own id of
  the report (``attribute[fixmystreet_id]`` or ``attribute[external_id]``),
  else the whole post on the same UTC day (``api.open311_form``).
- ``lat``/``long`` are WGS84 as the specification says; the extension field
  ``crs`` (gcj02, bd09, cgcs2000, EPSG:<code>) takes coordinates from Chinese
  map SDKs as they are. ``address_string`` alone is geocoded. The extension
  field ``channel`` (default ``wechat``) says which channel the platform is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from api.auth import Principal, optional_principal, verify_token
from api.deps import ConnDep
from api.intake import intake_options, new_case
from api.open311_errors import Open311Route, error_responses
from api.open311_form import REPORTER, read_post
from api.open311_xml import JSON, XML, Format, reply
from api.params import Line, parse_at
from layers import incidents
from layers.actors import Actor
from layers.catalogue import all_categories
from layers.errors import Forbidden, InvalidInput, NotFound
from layers.loop import OPEN_STATES
from layers.rows import one_row
from layers.visibility import rounded_point

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# when this interface last changed, for discovery's changeset
CHANGESET = datetime(2026, 12, 1, tzinfo=UTC)
MAX_RESULTS = 1000
WINDOW = timedelta(days=90)
# roles that may see who reported a case (in their area)
REPORTER_ROLES = ("operator", "dispatcher", "admin")

FormatPath = Annotated[Format, Path(description="reply format: xml (the specification's) or json")]
Jurisdiction = Annotated[Line | None, Query(max_length=100, description="a district code; optional")]
ApiKey = Annotated[Line | None, Query(max_length=4000, description="a wangge token; optional for reading")]


def _replies(*errors: int, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of an Open311 route: both formats for success, the error list for failures."""
    ok = {"description": "the reply, as XML or JSON by the path's suffix",
          "content": {JSON.split(";")[0]: {}, XML.split(";")[0]: {"schema": {"type": "string"}}}}
    return {status: ok, **error_responses(*errors, 503)}


async def _jurisdiction(conn: ConnDep, jurisdiction_id: str | None) -> str:
    """The district a request is limited to ('' for all); 404 when this service does not hold it."""
    if not jurisdiction_id:
        return ""
    if await one_row(conn, "SELECT 1 AS found FROM districts WHERE code = %s", (jurisdiction_id,)) is None:
        raise NotFound(f"jurisdiction_id '{jurisdiction_id[:20]}' not found: use a district code (e.g. 340111)")
    return jurisdiction_id


def _inside(caller: Actor, jurisdiction: str) -> Actor:
    """The caller limited to the jurisdiction: the narrower of the two areas; 403 when they do not overlap."""
    if not jurisdiction or caller.area.startswith(jurisdiction):
        return caller
    if jurisdiction.startswith(caller.area):
        return replace(caller, area=jurisdiction)
    raise Forbidden(f"your token's area {caller.area} is outside jurisdiction {jurisdiction}")


async def _reader(request: Request, api_key: str | None) -> Principal | None:
    """Who reads: the ``api_key`` or usual token if one came (a bad one is refused), else nobody."""
    if api_key:
        return verify_token(request.app.state.token_secret, api_key)
    return await optional_principal(request)


def _service(category: Any) -> dict[str, Any]:
    return {
        "service_code": category.code, "service_name": category.minor_name,
        "description": f"{category.major_name} · {category.minor_name}: {category.closing_standard}"
                       f" ({category.time_limit_hours} h)",
        "metadata": False, "type": "realtime", "keywords": category.major_name, "group": category.major_name,
    }


@router.get("/discovery.{fmt}", summary="Open311: service discovery", responses=_replies(404))
async def discovery(request: Request, fmt: FormatPath) -> Response:
    """Where the GeoReport v2 endpoint is, which formats it speaks and how to get a key."""
    url = str(request.base_url).rstrip("/") + router.prefix
    return reply(fmt, "discovery", {
        "changeset": CHANGESET, "contact": "the operator of this wangge service",
        "key_service": "an api_key is a wangge token: wangge token create --role operator --area <district code>",
        "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": CHANGESET, "type": "production",
                       "formats": ["text/xml", "application/json"]}]})


@router.get("/services.{fmt}", summary="Open311: the case catalogue as services", responses=_replies(400, 404))
async def services(conn: ConnDep, fmt: FormatPath, jurisdiction_id: Jurisdiction = None) -> Response:
    """Every catalogue category as an Open311 service (no extra attributes)."""
    await _jurisdiction(conn, jurisdiction_id)
    return reply(fmt, "services", [_service(c) for c in await all_categories(conn)])


@router.get("/services/{service_code}.{fmt}", summary="Open311: one service's definition",
            responses=_replies(400, 404))
async def service_definition(conn: ConnDep, fmt: FormatPath, service_code: Annotated[str, Path(max_length=16)],
                             jurisdiction_id: Jurisdiction = None) -> Response:
    """Services here need no attributes beyond the standard fields."""
    await _jurisdiction(conn, jurisdiction_id)
    if service_code not in {c.code for c in await all_categories(conn)}:
        raise NotFound(f"service_code '{service_code[:20]}' not found; see services.xml")
    return reply(fmt, "service_definition", {"service_code": service_code, "attributes": []})


@router.post("/requests.{fmt}", status_code=201, summary="Open311: submit a service request",
             responses=_replies(400, 403, 404, 409, status=201), openapi_extra={"requestBody": {
                 "content": {kind: {"schema": {"type": "object", "additionalProperties": True}} for kind in (
                     "application/x-www-form-urlencoded", "multipart/form-data", "application/json")}}})
async def create_request(request: Request, conn: ConnDep, fmt: FormatPath,
                         idempotency_key: Annotated[Line | None, Header(max_length=200)] = None) -> Response:
    """Fields: ``service_code``, ``lat``+``long`` (or ``address_string``), ``api_key`` and the optional ones.

    201 with the new id, or 200 with the first one when this is a retry.
    """
    post = await read_post(request)
    token = post.get("api_key")
    caller = verify_token(request.app.state.token_secret, token) if token else await optional_principal(request)
    if caller is None:
        raise Forbidden("an api_key is needed to post a service request (a wangge operator token)")
    caller = _inside(caller, await _jurisdiction(conn, post.get("jurisdiction_id")))
    body = post.new_incident()
    options = intake_options(request)
    try:
        await options.category_of(conn, body.category)
    except InvalidInput:
        raise NotFound(f"service_code '{body.category[:20]}' not found; see services.xml") from None
    key = idempotency_key or post.natural_key(datetime.now(UTC).date())
    case = replace(await new_case(conn, body, key), reporter=post.reporter or None,
                   attributes=post.attributes or None, media_url="\n".join(post.media_urls) or None)
    answer, created = await incidents.intake(conn, case, caller, options)
    notice = f"accepted; due by {answer['deadline'].isoformat(timespec='seconds')}"
    return reply(fmt, "service_requests", [{"service_request_id": str(answer["id"]), "service_notice": notice,
                                            "account_id": post.get("account_id")}],
                 status_code=201 if created else 200)


def _status(case: dict[str, Any]) -> str:
    return "open" if case["status"] in OPEN_STATES else "closed"


def _attributes(answers: dict[str, Any] | None) -> list[dict[str, str]]:
    """``attribute[...]`` answers as a list of ``{code, value}``, a multi-value answer as one entry per value."""
    return [{"code": code, "value": one} for code, value in (answers or {}).items()
            for one in (value if isinstance(value, list) else [value])]


def _request(case: dict[str, Any], reader: Principal | None) -> dict[str, Any]:
    """The case as Open311 shows it to ``reader`` (None: anyone), per ``layers.visibility``."""
    covered = reader is not None and reader.covers(case["community_code"])
    lon, lat = (case["lon"], case["lat"]) if covered else rounded_point(case["lon"], case["lat"])
    media = (case["media_url"] or "").split("\n")[0] or None
    shown = {
        "service_request_id": str(case["id"]), "status": _status(case),
        "status_notes": f"{case['status']} ({case['level']} level)",
        "service_name": case.get("category_name"), "service_code": case["category_code"],
        "description": case["description"] if covered else None,
        "agency_responsible": case.get("team_type") or "community",
        "service_notice": None, "requested_datetime": case["reported_at"],
        "updated_datetime": case["updated_at"], "expected_datetime": case["deadline"],
        "address": case["address"] if covered else None, "address_id": None, "zipcode": None,
        "lat": lat, "long": lon, "media_url": media if covered else None,
    }
    if covered and reader is not None and reader.role in REPORTER_ROLES:
        reporter = case["reporter"] or {}
        shown.update({name: reporter.get(name) for name in REPORTER})
        shown["attributes"] = _attributes(case["attributes"])
    return shown


def _id_list(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise InvalidInput("service_request_id must be ids separated by commas") from None
    if len(ids) > MAX_RESULTS or not all(1 <= i <= 2**62 for i in ids):
        raise InvalidInput(f"service_request_id: at most {MAX_RESULTS} ids, each from 1 to 2^62")
    return ids


def _open_only(text: str) -> bool | None:
    """``status`` (open, closed or both, comma separated) as the open-only filter; None for both."""
    wanted = {part.strip() for part in text.split(",")} - {""}
    if not wanted or not wanted <= {"open", "closed"}:
        raise InvalidInput("status must be open, closed or open,closed")
    return None if wanted >= {"open", "closed"} else "open" in wanted


def _window(start_date: str | None, end_date: str | None) -> tuple[datetime | None, datetime | None]:
    """The ``requested_datetime`` range: the last 90 days unless given; at most 90 days long."""
    start = parse_at(start_date) if start_date else None
    end = parse_at(end_date) if end_date else None
    if start is None:
        start = (end or datetime.now(UTC)) - WINDOW
    if end is not None and not start <= end <= start + WINDOW:
        raise InvalidInput("end_date must be after start_date and at most 90 days later")
    return start, end


@router.get("/requests.{fmt}", summary="Open311: service requests", responses=_replies(400, 403, 404))
async def list_requests(
    request: Request, conn: ConnDep, fmt: FormatPath,
    service_request_id: Annotated[Line | None, Query(max_length=22_000, description="ids, comma separated; "
                                                     "when given, the other filters are ignored")] = None,
    service_code: Annotated[Line | None, Query(max_length=2000, description="codes, comma separated")] = None,
    start_date: Annotated[Line | None, Query(max_length=40)] = None,
    end_date: Annotated[Line | None, Query(max_length=40)] = None,
    status: Annotated[Line | None, Query(max_length=20, description="open, closed or open,closed")] = None,
    jurisdiction_id: Jurisdiction = None,
    api_key: ApiKey = None,
) -> Response:
    """Newest first, at most 1,000; the last 90 days unless dates are given; ids override the other filters."""
    reader = await _reader(request, api_key)
    area = await _jurisdiction(conn, jurisdiction_id)
    if service_request_id:
        cases = await incidents.find_cases(conn, area, ids=_id_list(service_request_id))
    else:
        start, end = _window(start_date, end_date)
        codes = [c.strip() for c in service_code.split(",") if c.strip()][:100] if service_code else None
        cases = await incidents.find_cases(conn, area, categories=codes or None, start=start, end=end,
                                           open_only=_open_only(status) if status else None, limit=MAX_RESULTS)
    return reply(fmt, "service_requests", [_request(c, reader) for c in cases])


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311: one service request",
            responses=_replies(400, 403, 404))
async def one_request(request: Request, conn: ConnDep, fmt: FormatPath,
                      service_request_id: Annotated[int, Path(ge=1, le=2**62)],
                      jurisdiction_id: Jurisdiction = None, api_key: ApiKey = None) -> Response:
    """The request as a one-element list, as the specification has it."""
    reader = await _reader(request, api_key)
    cases = await incidents.find_cases(conn, await _jurisdiction(conn, jurisdiction_id), ids=[service_request_id])
    if not cases:
        raise NotFound(f"service_request_id {service_request_id} not found")
    return reply(fmt, "service_requests", [_request(cases[0], reader)])


@router.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def elsewhere(path: str) -> Response:
    """Any other Open311 path (``servicerequestupdates.xml``, ``tokens/…``): 404 as an Open311 error list."""
    raise NotFound(f"no such Open311 resource: {path[:60]}; see discovery.xml")
