"""Taking a case in, as every intake interface does it (wangge's own and Open311).

The interfaces differ in their wire format only; each turns its request
into a :class:`api.schemas.NewIncident` and calls :func:`take_in`, which
normalizes the place once (coordinates in their named system, or an address
geocoded against the city's buildings) and runs ``layers.incidents.intake``
with the process's in-memory look-ups.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from psycopg import AsyncConnection

from api.schemas import NewIncident
from geo.crs import parse_crs, to_wgs84
from layers import incidents
from layers.actors import Actor
from layers.catalogue import Category
from layers.errors import InvalidInput, NotFound
from layers.geocode import geocode


async def new_case(conn: AsyncConnection, body: NewIncident, key: str | None) -> incidents.NewCase:
    """The case to store: WGS84 point, the raw values sent, and the address if one was given."""
    if body.location is not None:
        system = parse_crs(body.location.crs)
        lon, lat = to_wgs84(body.location.lon, body.location.lat, system)
        raw = (body.location.lon, body.location.lat, system.name)
        address = None
    else:
        try:
            best = (await geocode(conn, body.address or "", limit=1))[0]
        except NotFound as exc:  # for intake an unknown address is bad input, not a missing page
            raise InvalidInput(exc.public, **exc.details) from None
        lon, lat, raw, address = best.lon, best.lat, (best.lon, best.lat, "wgs84"), body.address
    return incidents.NewCase(body.category, body.channel, body.description, lon, lat, *raw,
                             address=address, idempotency_key=key)


def intake_options(request: Request) -> incidents.IntakeOptions:
    """Intake's settings and this process's fresh in-memory grid index and catalogue."""
    return app_intake_options(request.app)


def app_intake_options(app: FastAPI) -> incidents.IntakeOptions:
    """:func:`intake_options` for work that has the app but no request (the MQTT subscriber)."""
    settings = app.state.settings
    index = app.state.grids.current()
    version = app.state.layers.version("catalogue")

    async def category_of(conn: AsyncConnection, code: str) -> Category:
        return await app.state.catalogue.category(conn, code, version)

    return incidents.IntakeOptions(settings.near_boundary_m, settings.max_team_range_m,
                                   index.locate if index is not None else None, category_of)


async def take_in(request: Request, conn: AsyncConnection, body: NewIncident, actor: Actor,
                  key: str | None) -> tuple[dict[str, Any], bool]:
    """Store the case (or find the one this idempotency key made); True when new."""
    case = await new_case(conn, body, key)
    return await incidents.intake(conn, case, actor, intake_options(request))
