"""Who may do what: signed bearer tokens carrying a role and an area.

A token says ``role`` (operator, dispatcher, planner, admin) and ``area``: a
district, street or community code. GB/T 30428 codes nest by prefix, so an
area covers a place exactly when the place's code starts with the area's
code. Tokens are HMAC-SHA256 signed with the deployment's secret
(``WANGGE_SECRET``, or a random one kept in the database), so no token table
is needed; they expire (default 30 days).

Where a request may carry a token, first found wins: the ``Authorization:
Bearer`` header, a ``token`` query parameter (a map-wall URL), or the
``wangge_token`` cookie (set by map pages for their own API calls).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Annotated

from fastapi import Depends, Request

from layers.actors import ROLES, Actor
from layers.errors import WanggeError

# the API's name for the actor a token names
Principal = Actor

AREA_PATTERN = re.compile(r"^[0-9]{6}([0-9]{3}){0,2}$")
DEFAULT_TTL_S = 30 * 86400
COOKIE = "wangge_token"


class Unauthenticated(WanggeError):
    """No valid token where one is needed (401)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(secret: str, role: str, area: str, name: str = "", ttl_s: int = DEFAULT_TTL_S,
                now: float | None = None) -> str:
    """Sign a token for ``role`` in ``area``; ValueError on an unknown role or a malformed area."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if not AREA_PATTERN.match(area):
        raise ValueError("area must be a 6-digit district, 9-digit street or 12-digit community code")
    issued = int(now if now is not None else time.time())
    payload = {"sub": name or f"{role}@{area}", "role": role, "area": area,
               "iat": issued, "exp": issued + ttl_s}
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{body}.{_sign(secret, body)}"


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def verify_token(secret: str, token: str, now: float | None = None) -> Principal:
    """Check signature and expiry; raise :class:`Unauthenticated` on anything wrong."""
    body, _, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature, _sign(secret, body)):
        raise Unauthenticated("invalid token", authenticate=True)
    try:
        payload = json.loads(_unb64(body))
        principal = Principal(str(payload["sub"]), str(payload["role"]), str(payload["area"]))
        expires = int(payload["exp"])
    except (ValueError, KeyError, TypeError):
        raise Unauthenticated("invalid token", authenticate=True) from None
    if expires < (now if now is not None else time.time()):
        raise Unauthenticated("token expired", authenticate=True)
    return principal


def token_from(request: Request) -> str | None:
    """The token a request carries, from header, query or cookie, in that order."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    # a token in the URL is newer than a cookie an earlier page may have left
    return request.query_params.get("token") or request.cookies.get(COOKIE)


async def optional_principal(request: Request) -> Principal | None:
    """The caller if a token came along (a bad token is still a 401)."""
    token = token_from(request)
    return verify_token(request.app.state.token_secret, token) if token else None


async def current_principal(request: Request) -> Principal:
    """The caller; 401 when there is no token."""
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated("this needs a bearer token (wangge token create)", authenticate=True)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
