"""Request bodies, validated in their types: bad input is a 422 before any code runs.

Text fields refuse control characters (``api.params.Line`` and ``FreeText``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from api.params import FreeText, Line
from layers.incidents import CHANNELS

Channel = Literal["hotline", "police_110", "grid_worker", "wechat", "camera", "sensor"]
if set(CHANNELS) != set(get_args(Channel)):  # the data layer's list is the source of truth
    raise ImportError("api.schemas.Channel and layers.incidents.CHANNELS disagree")


class Strict(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Location(Strict):
    """A point as the client has it, with its coordinate system named."""

    lon: FiniteFloat = Field(description="longitude, or easting for a projected EPSG code")
    lat: FiniteFloat = Field(description="latitude, or northing for a projected EPSG code")
    crs: Line = Field(default="wgs84", max_length=64,
                      description="wgs84 (default), cgcs2000, gcj02, bd09 or EPSG:<code>")


class NewIncident(Strict):
    """A report from any channel: a location or an address, not both."""

    category: Line = Field(max_length=16, description="catalogue code, e.g. 01.03 (GET /catalogue)")
    channel: Channel
    description: FreeText = Field(default="", max_length=2000)
    location: Location | None = None
    address: Line | None = Field(default=None, min_length=2, max_length=200)

    @model_validator(mode="after")
    def one_place(self) -> NewIncident:
        """Exactly one of ``location`` and ``address``."""
        if (self.location is None) == (self.address is None):
            raise ValueError("give either location or address")
        return self


class Action(Strict):
    """A step of the loop; which fields matter depends on the action."""

    reason: FreeText = Field(default="", max_length=1000)
    team_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    duplicate_of: int | None = Field(default=None, ge=1, le=2**62)
    # time and teams (layers.time): a delay request's working minutes, the request decided,
    # a joint dispatch's lead (same as team_id) and supporting teams
    minutes: int | None = Field(default=None, ge=1, le=100_000)
    request_id: int | None = Field(default=None, ge=1, le=2**62)
    lead_team: int | None = Field(default=None, ge=1, le=2**31 - 1)
    support_teams: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(default_factory=list, max_length=20)


class Position(Location):
    """A team's position; ``at`` is when it was measured (default: now)."""

    at: datetime | None = None


class TeamPosition(Position):
    """One team's position in a batch."""

    id: int = Field(ge=1, le=2**31 - 1)


class PositionBatch(Strict):
    """Many teams' positions at once (up to 5,000)."""

    positions: list[TeamPosition] = Field(min_length=1, max_length=5000)
