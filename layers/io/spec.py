"""What each importable layer holds: its table, geometry, fields, and where its codes hang.

One :class:`LayerSpec` per layer drives reading (column names, types,
defaults), checking, writing, exporting and the ``--template`` files, so the
five never disagree. Field names are wangge's own column names; each also
has a short form of at most ten characters, because Shapefile (dBase)
truncates names there, and import accepts either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "int", "real", "bool", "time", "timestamp"]
GeomKind = Literal["polygon", "point"]


@dataclass(frozen=True)
class Field:
    """One attribute: its wangge name, type, whether a file must give it, and its default."""

    name: str
    kind: Kind = "text"
    required: bool = False
    default: object = None
    short: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def dbf_name(self) -> str:
        """The name used in Shapefiles (ten characters at most)."""
        return self.short or self.name[:10]


@dataclass(frozen=True)
class LayerSpec:
    """An importable layer.

    ``code_digits`` is set for the admin hierarchy (GB/T 30428: 6, 9, 12, 15
    digits); ``parent`` is then the table whose code is the first
    ``code_digits - 3`` digits (districts have none) and ``parent_column``
    the column that holds it. ``geometry`` is what the file must hold;
    polygons are stored as MultiPolygon except where ``single_polygon``.
    """

    name: str
    table: str
    geometry: GeomKind
    fields: tuple[Field, ...]
    code_digits: int | None = None
    parent: str | None = None
    parent_column: str | None = None
    single_polygon: bool = False
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def singular(self) -> str:
        """One feature of the layer, for messages ("community", "waterlogging point")."""
        return _SINGULAR.get(self.name, self.name)

    @property
    def field_names(self) -> list[str]:
        """Every field's wangge name, code first."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_SINGULAR = {"districts": "district", "streets": "street", "communities": "community", "grids": "grid",
             "buildings": "building", "cameras": "camera", "waterlogging_points": "waterlogging point",
             "stall_zones": "stall zone", "teams": "team", "incidents": "case", "sensors": "sensor"}

_CODE = Field("code", required=True, help="unique code; GB/T 30428-shaped for the admin hierarchy")
_NAME = Field("name", required=True)

DISTRICTS = LayerSpec("districts", "districts", "polygon", (
    _CODE, _NAME, Field("province", default=""), Field("city", default="")),
    code_digits=6, description="区: the district outline, 6-digit administrative code")

STREETS = LayerSpec("streets", "streets", "polygon", (_CODE, _NAME), code_digits=9,
                    parent="districts", parent_column="district_code",
                    description="街道/街镇: 9 digits, the district's 6 first")

COMMUNITIES = LayerSpec("communities", "communities", "polygon", (_CODE, _NAME), code_digits=12,
                        parent="streets", parent_column="street_code",
                        description="社区/居村: 12 digits, the street's 9 first")

GRIDS = LayerSpec("grids", "grids", "polygon", (
    _CODE, _NAME, Field("worker_name", default="", short="worker"),
    Field("worker_phone", default="", short="phone")),
    code_digits=15, parent="communities", parent_column="community_code",
    description="网格: 15 digits, the community's 12 first; versioned like a planning publish")

BUILDINGS = LayerSpec("buildings", "buildings", "polygon", (
    _CODE, Field("address", required=True), Field("road", default=""),
    Field("door_number", "int", minimum=1, short="door"), Field("estate", default=""),
    Field("building_no", "int", minimum=0, short="bldg_no"),
    Field("households", "int", default=0, minimum=0, short="househlds"),
    Field("residents", "int", default=0, minimum=0),
    Field("floors", "int", default=1, minimum=1)),
    single_polygon=True, description="buildings with address, households and residents")

CAMERAS = LayerSpec("cameras", "cameras", "point", (
    _CODE, _NAME, Field("kind", default="fixed", choices=("fixed", "dome", "high_point")),
    Field("online", "bool", default=True),
    Field("heading_deg", "real", default=0.0, minimum=0, maximum=360, short="heading",
          help="where the lens points: degrees clockwise from true north, 0-360"),
    Field("fov_deg", "real", default=60.0, minimum=0.01, maximum=360, short="fov",
          help="horizontal field of view, degrees"),
    Field("range_m", "real", default=80.0, minimum=0.01, maximum=2000, short="range",
          help="how far it usefully sees, metres"),
    Field("stream_url", help="live stream, kept as given (rtsp://, HLS .m3u8, FLV, http)"),
    Field("snapshot_url", short="snapshot", help="a still image URL")),
    description="cameras with their view sector and streams")

WATERLOGGING_POINTS = LayerSpec("waterlogging_points", "waterlogging_points", "point", (
    _CODE, _NAME, Field("sensor_id", short="sensor", help="default: the point's code"),
    Field("warn_level_cm", "real", default=20.0, minimum=0.01, short="warn_cm"),
    Field("alarm_level_cm", "real", default=40.0, minimum=0.01, short="alarm_cm"),
    Field("current_level_cm", "real", default=0.0, minimum=0, short="level_cm")),
    description="易涝点 with their water-level sensor and thresholds", aliases=("waterlogging",))

SENSORS = LayerSpec("sensors", "sensors", "point", (
    _CODE, _NAME, Field("kind", default="water_level", choices=("water_level", "numeric")),
    Field("unit", default="cm"),
    Field("watches", help="code of the waterlogging point it stands in; its levels are the defaults"),
    Field("warn_level", "real", short="warn", help="default: the watched point's warn level"),
    Field("alarm_level", "real", short="alarm", help="default: the watched point's alarm level"),
    Field("clear_level", "real", short="clear", help="below it a raised alarm clears; default: the warn level"),
    Field("min_duration_s", "int", default=60, minimum=0, short="min_dur_s",
          help="seconds at or above the alarm level before an alarm is raised"),
    Field("offline_after_s", "int", default=900, minimum=1, short="offline_s",
          help="seconds without a reading before the sensor shows offline"),
    Field("cooldown_s", "int", default=1800, minimum=0,
          help="a new alarm this soon after clearing reopens the same case")),
    description="sensors (water level first, or numeric) and their alarm rules (issue 10)")

STALL_ZONES = LayerSpec("stall_zones", "stall_zones", "polygon", (
    _CODE, _NAME, Field("kind", default="摊群点"),
    Field("opens", "time", default="00:00"), Field("closes", "time", default="23:59"),
    Field("daily_visitors", "int", default=0, minimum=0, short="visitors")),
    description="摊群点 street-stall zones", aliases=("stalls",))

TEAMS = LayerSpec("teams", "teams", "point", (
    _CODE, _NAME, Field("type", required=True, help="a team type code, e.g. city_management"),
    Field("home_station", default="", short="station"),
    Field("area_code", required=True, short="area", help="the district, street or community it serves"),
    Field("status", default="free", choices=("free", "busy", "off_duty", "retired"))),
    description="enforcement teams of the 4+X; the point is the home station")

INCIDENTS = LayerSpec("incidents", "incidents", "point", (
    Field("external_ref", required=True, short="ref", help="the case's id in the system being replaced"),
    Field("category", required=True, help="catalogue code, or an old code mapped with --map-values"),
    Field("channel", default="hotline",
          choices=("hotline", "police_110", "grid_worker", "wechat", "camera", "sensor")),
    Field("description", default="", short="descr"), Field("address"),
    Field("reported_at", "timestamp", required=True, short="reported"),
    Field("closed_at", "timestamp", short="closed"),
    Field("deadline", "timestamp", help="default: reported_at + the category's time limit"),
    Field("status", default="closed",
          choices=("accepted", "dispatched", "handling", "feedback", "verified", "closed", "rejected",
                   "duplicate"))),
    description="past cases from the system being replaced", aliases=("cases", "history"))

LAYERS: dict[str, LayerSpec] = {spec.name: spec for spec in (
    DISTRICTS, STREETS, COMMUNITIES, GRIDS, BUILDINGS, CAMERAS, WATERLOGGING_POINTS, SENSORS, STALL_ZONES, TEAMS,
    INCIDENTS)}
"""Every layer, in the order an import of everything must follow (parents first)."""


def layer_spec(name: str) -> LayerSpec:
    """The layer called ``name`` (or one of its aliases); KeyError names the choices."""
    wanted = name.strip().lower().replace("-", "_")
    for spec in LAYERS.values():
        if wanted == spec.name or wanted in spec.aliases:
            return spec
    raise KeyError(f"unknown layer {name!r}; choose one of: {', '.join(LAYERS)}")
