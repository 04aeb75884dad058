"""Who acts: a name for the log, a role and an area.

The area is a district, street or community code. GB/T 30428 codes nest by
prefix, so an area covers a place exactly when the place's code starts with
the area's code. Admins may take any role's action, in their area only.
A ``sensor`` token is a gateway's or device's: it may write readings of the
sensors in its area (``POST /sensors/readings``, MQTT has its own broker
access) and read, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.errors import Forbidden

ROLES = ("operator", "dispatcher", "planner", "admin", "grid_worker", "sensor")


@dataclass(frozen=True)
class Actor:
    """The caller a token names, as the data layer sees it."""

    name: str
    role: str
    area: str
    # a grid worker's team (its code): the cases dispatched to it are the worker's
    team: str | None = None

    def covers(self, code: str | None) -> bool:
        """True when ``code`` (district/street/community/grid) lies in this actor's area."""
        return bool(code) and str(code).startswith(self.area)

    def require_area(self, code: str | None) -> None:
        """Refuse (403) a place outside the actor's area."""
        if not self.covers(code):
            raise Forbidden(f"your token's area {self.area} does not cover {code}")

    def require_role(self, *roles: str) -> None:
        """Refuse (403) unless the actor has one of ``roles`` (admins always may)."""
        if self.role != "admin" and self.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; your token is {self.role}")
