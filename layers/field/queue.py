"""The desk's queue: an area's new, overdue and returned cases, the three a dispatcher acts on."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from layers import loop
from layers.rows import all_rows

_COLUMNS = """
    i.id, i.category_code, c.minor_name AS category_name, i.status, i.grid_code, i.address,
    left(i.description, 80) AS description, i.reported_at, i.deadline, i.team_id,
    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
"""

_NEW = "SELECT " + _COLUMNS + """, 'new' AS kind
    FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code
    WHERE i.status = 'accepted' AND starts_with(i.community_code, %(area)s)
    ORDER BY i.reported_at DESC, i.id DESC LIMIT %(limit)s"""

_OVERDUE = "SELECT " + _COLUMNS + """, 'overdue' AS kind
    FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code
    WHERE i.status = ANY(%(open)s) AND i.deadline < now() AND starts_with(i.community_code, %(area)s)
    ORDER BY i.deadline, i.id LIMIT %(limit)s"""

# back in the team's hands after a failed verification: the last step was a return
_RETURNED = "SELECT " + _COLUMNS + """, 'returned' AS kind
    FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code,
         LATERAL (SELECT action FROM incident_events AS e WHERE e.incident_id = i.id
                  ORDER BY e.id DESC LIMIT 1) AS last
    WHERE i.status = 'handling' AND last.action = 'return' AND starts_with(i.community_code, %(area)s)
    ORDER BY i.updated_at DESC, i.id DESC LIMIT %(limit)s"""


async def desk_queue(conn: AsyncConnection, area: str, limit: int = 30) -> dict[str, list[dict[str, Any]]]:
    """New (accepted, newest first), overdue (most overdue first) and returned cases of ``area``."""
    params = {"area": area, "limit": limit, "open": list(loop.OPEN_STATES)}
    return {kind: await all_rows(conn, query, params)
            for kind, query in (("new", _NEW), ("overdue", _OVERDUE), ("returned", _RETURNED))}
