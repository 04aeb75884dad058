"""Who may do what: signed bearer tokens carrying a role and an area.

A token says ``role`` (operator, dispatcher, planner, admin) and ``area``: a
district, street or community code. GB/T 30428 codes nest by prefix, so an
area covers a place exactly when the place's code starts with the area's
code. Tokens are standard JSON Web Tokens (RFC 7519) signed with HS256 and
the deployment's secret (``WANGGE_SECRET``, or a random one kept in the
database), so no token table is needed and any JWT library can check them.
Their claims are ``sub`` (who), ``role``, ``area``, ``iat`` and ``exp``
(default 30 days later). A ``grid_worker`` token may be bound to one grid
(a 15-digit area) and carries its ``team`` (a team code) when the worker
belongs to one: the cases dispatched to that team are the worker's.

Where a request may carry a token, first found wins: the ``Authorization:
Bearer`` header, a ``token`` query parameter (a map-wall URL), or the
``wangge_token`` cookie (set by map pages for their own API calls).
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Response

from layers.actors import ROLES, Actor
from layers.errors import WanggeError

# the API's name for the actor a token names
Principal = Actor

AREA_PATTERN = re.compile(r"^[0-9]{6}([0-9]{3}){0,2}$")
# a grid worker may be bound to a single grid
WORKER_AREA_PATTERN = re.compile(r"^[0-9]{6}([0-9]{3}){0,3}$")
TEAM_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT_TTL_S = 30 * 86400
COOKIE = "wangge_token"
ALGORITHM = "HS256"
CLAIMS = ("sub", "role", "area", "iat", "exp")
# a wangge token is about 250 characters; anything far longer is not one
MAX_TOKEN_CHARS = 4096

__all__ = ["COOKIE", "ROLES", "CurrentPrincipal", "Principal", "Unauthenticated", "issue_token",
           "token_from", "verify_token"]


class Unauthenticated(WanggeError):
    """No valid token where one is needed (401)."""


def _area_valid(role: str, area: str) -> bool:
    return bool((WORKER_AREA_PATTERN if role == "grid_worker" else AREA_PATTERN).match(area))


def issue_token(secret: str, role: str, area: str, name: str = "", ttl_s: int = DEFAULT_TTL_S,
                now: float | None = None, team: str | None = None) -> str:
    """Sign a JWT for ``role`` in ``area``; ValueError on an unknown role or a malformed area.

    Whether the area (and a grid worker's ``team``) exists is the issuer's
    check, against the database (``wangge token create`` makes it).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if not _area_valid(role, area):
        raise ValueError("area must be a 6-digit district, 9-digit street or 12-digit community code"
                         + (" or a 15-digit grid code" if role == "grid_worker" else ""))
    if team is not None and (role != "grid_worker" or not TEAM_PATTERN.match(team)):
        raise ValueError("only a grid_worker token names a team, by its code (letters, digits, _ . -)")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": name or f"{role}@{area}", "role": role, "area": area, "iat": issued,
                              "exp": issued + ttl_s}
    if team is not None:
        claims["team"] = team
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _claims(secret: str, token: str) -> dict[str, Any]:
    """The verified claims, or :class:`Unauthenticated` for anything that is not our token."""
    invalid = Unauthenticated("invalid token", authenticate=True)
    if len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise invalid
    try:
        # expiry is checked by the caller against its own clock (tests pass one)
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM],
                                            options={"require": list(CLAIMS), "verify_exp": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise invalid from None
    if (claims.get("role") not in ROLES or not isinstance(claims.get("area"), str)
            or not _area_valid(claims["role"], claims["area"]) or not isinstance(claims.get("exp"), int | float)):
        raise invalid
    team = claims.get("team")
    if team is not None and (claims["role"] != "grid_worker" or not isinstance(team, str)
                             or not TEAM_PATTERN.match(team)):
        raise invalid
    return claims


def verify_token(secret: str, token: str, now: float | None = None) -> Principal:
    """Check signature, claims and expiry; raise :class:`Unauthenticated` on anything wrong."""
    claims = _claims(secret, token)
    if claims["exp"] < (now if now is not None else time.time()):
        raise Unauthenticated("token expired", authenticate=True)
    return Principal(str(claims["sub"]), claims["role"], claims["area"], claims.get("team"))


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


def keep_token(request: Request, response: Response) -> Response:
    """Keep a page's ``?token=`` as the cookie its own API calls (and later links) carry."""
    token = request.query_params.get("token")
    if token:
        response.set_cookie(COOKIE, token, max_age=DEFAULT_TTL_S, httponly=True, samesite="strict", path="/")
    return response
