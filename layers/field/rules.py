"""What a grid worker may do to a case beyond what its role allows in the loop.

A worker handles and reports back only on cases dispatched to its own team
(the ``team`` claim of its token), and verifies only on site: the field
route measures the distance from the phone to the case and passes it as
``site``; the general ``/incidents/{id}/verify`` route passes none, so a
worker cannot verify from afar through it.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from layers.actors import Actor
from layers.errors import Forbidden
from layers.rows import one_row


async def worker_may(conn: AsyncConnection, case: dict[str, Any], action: str, actor: Actor,
                     site: dict[str, Any] | None) -> None:
    """Refuse (403) a grid worker's step on a case that is not its team's, or a verification off site."""
    if action == "verify":
        if site is None:
            raise Forbidden("a grid worker verifies on site: POST /field/cases/{id}/verify with the phone's "
                            "position")
        return
    if action in ("handle", "feedback"):
        if actor.team is None:
            raise Forbidden("your token names no team (wangge token create --role grid_worker --team CODE)")
        row = await one_row(conn, "SELECT code FROM teams WHERE id = %s", (case["team_id"],))
        if row is None or row["code"] != actor.team:
            raise Forbidden(f"case {case['id']} is not dispatched to your team {actor.team}")
