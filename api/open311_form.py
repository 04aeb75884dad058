"""Reading an Open311 service request post: form-encoded, multipart or JSON, into checked fields.

The specification posts ``application/x-www-form-urlencoded``; FixMyStreet
sends ``multipart/form-data`` when it attaches photos, and app platforms
often send JSON. All three become the same :class:`Open311Post`. Rules:

- an empty value is the same as an absent one (the specification's
  "optional arguments"), so ``lat=&long=&address_string=…`` uses the address;
- ``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2``
  (a multi-value list) are the service definition's answers;
- ``media_url`` may come more than once (FixMyStreet sends one per photo);
  each must be an http(s) URL, since map pages link to it;
- file parts of a multipart post are not kept (wangge stores no media);
- fields the specification does not name are ignored, as clients add
  their own; a field that must be single but comes twice is refused;
- no value may hold a control character: the description and attribute
  answers may have tabs and line breaks, other fields nothing (the same rule
  as every other route, ``api.params``); every value has a length limit, so
  bad input is a 400, never a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from api.params import free_text, one_line
from api.schemas import NewIncident
from layers.errors import InvalidInput

MAX_BODY_BYTES = 64_000
MAX_FIELDS = 300
MAX_ATTRIBUTES = 100
MAX_MEDIA = 10
# the longest value of each field the specification names (and wangge's extensions)
LIMITS = {
    "api_key": 4000, "jurisdiction_id": 100, "service_code": 16, "lat": 40, "long": 40,
    "address_string": 200, "address_id": 100, "description": 2000, "email": 254, "device_id": 200,
    "account_id": 200, "first_name": 100, "last_name": 100, "phone": 40, "crs": 64, "channel": 20,
}
REPORTER = ("first_name", "last_name", "email", "phone", "device_id", "account_id")
# attributes that carry the client's own id of the report: FixMyStreet's, and a neutral name
CLIENT_ID_ATTRIBUTES = ("fixmystreet_id", "external_id")
FREE_TEXT = ("description",)
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")

Fields = list[tuple[str, str]]


@dataclass
class Open311Post:
    """A service request as posted: the single-valued fields, attributes and media URLs."""

    values: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str | list[str]] = field(default_factory=dict)
    media_urls: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The field's value, None when absent or empty."""
        return self.values.get(name) or None

    @property
    def reporter(self) -> dict[str, str]:
        """Who reported it: only the reporter fields that were given."""
        return {k: self.values[k] for k in REPORTER if self.values.get(k)}

    def new_incident(self) -> NewIncident:
        """The report as wangge's intake reads it; 400 on a missing or malformed place or field."""
        place: dict[str, Any] = {}
        if self.get("lat") is not None or self.get("long") is not None:
            place["location"] = {"lon": self.get("long"), "lat": self.get("lat"), "crs": self.get("crs") or "wgs84"}
        elif self.get("address_string") is not None:
            place["address"] = self.values["address_string"]
        elif self.get("address_id") is not None:
            raise InvalidInput("address_id is not known here: send lat and long, or address_string")
        else:
            raise InvalidInput("a location is needed: lat and long, or address_string")
        try:
            return NewIncident.model_validate({"category": self.get("service_code") or "",
                                               "channel": self.get("channel") or "wechat",
                                               "description": self.get("description") or "", **place})
        except ValidationError as exc:
            reasons = "; ".join(f"{_wire_name('.'.join(map(str, e['loc'])))}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"invalid service request: {reasons}") from None

    def natural_key(self, today: date) -> str:
        """An idempotency key for a client that sends none: the same report gives the same key.

        The client's own id of the report (``attribute[fixmystreet_id]``) names
        it for good; without one, the whole post (minus ``api_key``, which
        may be renewed between tries) on the same UTC day is the same report.
        Intake keeps every key within the caller's own key space, so two
        platforms never share one.
        """
        client_id = next((self.attributes[a] for a in CLIENT_ID_ATTRIBUTES if self.attributes.get(a)), None)
        if isinstance(client_id, str):
            basis: Any = ["ref", client_id]
        else:
            values = {k: v for k, v in self.values.items() if k != "api_key"}
            basis = ["post", today.isoformat(), values, self.attributes, self.media_urls]
        digest = hashlib.sha256(json.dumps(basis, sort_keys=True, ensure_ascii=False).encode())
        return f"open311:{digest.hexdigest()}"


def _wire_name(location: str) -> str:
    """A NewIncident field as the client named it."""
    return {"category": "service_code", "location.lon": "long", "location.lat": "lat", "location.crs": "crs",
            "address": "address_string", "location": "lat/long"}.get(location, location)


def check_text(name: str, value: str, limit: int = 2000, free: bool = False) -> str:
    """``value`` if it fits ``limit`` and holds no control character (tab and line breaks if ``free``); else 400."""
    try:
        (free_text if free else one_line)(value)
    except ValueError as exc:
        raise InvalidInput(f"{name[:40]}: {exc}") from None
    if len(value) > limit:
        raise InvalidInput(f"{name[:40]} is longer than {limit} characters")
    return value


def _media_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("media_url must be an http or https URL")
    return value


def to_post(fields: Fields) -> Open311Post:
    """Sort raw ``(name, value)`` pairs into a checked :class:`Open311Post`."""
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"at most {MAX_FIELDS} fields")
    post = Open311Post()
    for name, value in fields:
        check_text("a field name", name, 120)
        attribute = _ATTRIBUTE.match(name)
        if attribute is not None:
            code, many = attribute.groups()
            _add_attribute(post, code, check_text(name, value, free=True), bool(many))
        elif name == "media_url":
            if value:
                post.media_urls.append(_media_url(check_text(name, value)))
        elif name in LIMITS:
            if name in post.values and post.values[name] != value:
                raise InvalidInput(f"{name} is given more than once")
            post.values[name] = check_text(name, value, LIMITS[name], free=name in FREE_TEXT)
    if len(post.media_urls) > MAX_MEDIA:
        raise InvalidInput(f"at most {MAX_MEDIA} media_url values")
    return post


def _add_attribute(post: Open311Post, code: str, value: str, many: bool) -> None:
    if code not in post.attributes and len(post.attributes) >= MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes")
    current = post.attributes.get(code)
    if many or current is not None:  # a repeated code is a multi-value list too
        values = current if isinstance(current, list) else ([] if current is None else [current])
        post.attributes[code] = [*values, value]
    else:
        post.attributes[code] = value


def _json_fields(body: bytes) -> Fields:
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    fields: Fields = []
    for name, value in data.items():
        if name == "attribute" and isinstance(value, dict):
            for code, answer in value.items():
                for one in answer if isinstance(answer, list) else [answer]:
                    fields.append((f"attribute[{code}][]" if isinstance(answer, list) else f"attribute[{code}]",
                                   _scalar(f"attribute[{code}]", one)))
        elif isinstance(value, list):
            fields.extend((name, _scalar(name, one)) for one in value)
        elif value is not None:
            fields.append((name, _scalar(name, value)))
    return fields


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidInput(f"{str(name)[:40]} must be a string or a number")


async def _multipart_fields(request: Request) -> Fields:
    try:
        form = await request.form(max_files=MAX_MEDIA, max_fields=MAX_FIELDS)
    except HTTPException as exc:  # the parser's refusal of a malformed or oversized form
        raise InvalidInput(f"the multipart form cannot be read: {exc.detail}") from None
    try:
        return [(name, value) for name, value in form.multi_items() if not isinstance(value, UploadFile)]
    finally:
        await form.close()


async def read_post(request: Request) -> Open311Post:
    """The posted service request, whatever its encoding; 400 when it cannot be read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return to_post(await _multipart_fields(request))
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput(f"a service request is at most {MAX_BODY_BYTES} bytes (media go by media_url)")
    if kind == "application/json":
        return to_post(_json_fields(body))
    try:
        return to_post(parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict",
                                 max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form must be UTF-8 and URL-encoded (application/x-www-form-urlencoded)") from None
