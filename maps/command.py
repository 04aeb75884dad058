"""The command view of a district, street or community as a Folium map (the map wall).

:func:`build_command_map` takes everything the page shows as plain data and
URLs, and returns a Folium map; :func:`render_command_page` renders it with
every asset served by wangge. The page carries only the area's outline and
its children (tens of polygons); grids and buildings come as vector tiles,
cases, teams and sensors from bbox-limited live endpoints that
``static/wangge/wall.js`` polls.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import folium
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.plugins import Fullscreen, HeatMap, MarkerCluster, VectorGridProtobuf
from jinja2 import Template

from layers.areas import Area, ChildOutline
from layers.indicators import ChildIndicators, OverdueCase
from maps import panel, style
from maps.assets import STATIC_URL_PREFIX, add_font, render_offline
from maps.basemap import Basemap, add_basemap

PLAIN = Basemap()
WALL_JS = f"{STATIC_URL_PREFIX}/wangge/wall.js"
WALL_CSS = f"{STATIC_URL_PREFIX}/wangge/wall.css"
# cameras and their sectors, sensor alarms and charts (issue 10): extends wall.js
WALL_SENSING_JS = f"{STATIC_URL_PREFIX}/wangge/wall_sensing.js"
WALL_SENSING_CSS = f"{STATIC_URL_PREFIX}/wangge/wall_sensing.css"


@dataclass(frozen=True)
class ViewUrls:
    """Where the page gets its data and where its links lead.

    ``tiles`` holds ``{layer}`` plus Leaflet's ``{z}/{x}/{y}``; ``live`` holds
    ``{layer}``; ``child_view`` holds ``{code}`` and is None when the children
    (grids) have no view of their own. ``panel`` answers the KPIs, shading and
    overdue list as they change; ``incidents`` is where a case's actions go
    (``{incidents}{id}/{action}``).
    """

    tiles: str
    live: str
    child_view: str | None
    up: str | None
    panel: str = ""
    incidents: str = "/incidents/"


@dataclass(frozen=True)
class CommandView:
    """Everything one command view shows, in display coordinates."""

    area: Area
    children: Sequence[ChildOutline]
    indicators: Sequence[ChildIndicators]
    overdue: Sequence[OverdueCase]
    indicator: str
    urls: ViewUrls
    basemap: Basemap = PLAIN
    kiosk: bool = False
    refresh_s: int = 15
    kiosk_cycle_s: int = 20


class _StartWall(MacroElement):
    """Starts wall.js once every Folium object of the page exists (it renders last)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        wangge.start(JSON.parse(document.getElementById("wangge-config").textContent));
        {% endmacro %}""")


def child_fills(
    indicator: str, indicators: Sequence[ChildIndicators]
) -> tuple[list[float], dict[str, str], dict[str, str], bool]:
    """Class breaks, each child's fill colour and shown value, and whether some child has no data.

    The page shades its children with these, and the live poll answers the
    same, so a reload and a poll never disagree.
    """
    indicator_style = style.INDICATOR_STYLES[indicator]
    values = {c.code: c.value(indicator) for c in indicators}
    breaks = style.class_breaks(list(values.values()), style=indicator_style)
    fills = {code: style.shade(indicator_style, v, breaks) for code, v in values.items()}
    shown = {code: style.format_value(indicator_style, v) for code, v in values.items()}
    return breaks, fills, shown, any(v is None for v in values.values())


@dataclass(frozen=True)
class CaseFigures:
    """What a command page shows of the cases: each child's fill and shown value, panel body, legend shading.

    Everything else on the page follows from the area and its children alone,
    which is what lets :func:`render_command_shell` render it once.
    """

    fills: Mapping[str, str]
    values: Mapping[str, str]
    panel: str
    legend: str


def case_figures(view: CommandView) -> CaseFigures:
    """The case figures of ``view`` (its indicators and overdue cases), as the page and the panel poll show them."""
    breaks, fills, shown, no_data = child_fills(view.indicator, view.indicators)
    return CaseFigures(
        fills,
        shown,
        panel.panel_body(view.area.level, view.indicators, view.overdue, _child_urls(view)),
        panel.indicator_legend(view.indicator, breaks, no_data),
    )


def _children_geojson(view: CommandView, fills: Mapping[str, str], shown: Mapping[str, str]) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "id": child.code,
            "geometry": child.geometry,
            "properties": {
                "code": child.code,
                "name": child.name,
                "value": shown.get(child.code, "–"),
                "fill": fills.get(child.code, style.NO_DATA),
            },
        }
        for child in view.children
    ]
    return {"type": "FeatureCollection", "features": features}


def _child_urls(view: CommandView) -> dict[str, str]:
    template = view.urls.child_view
    return {c.code: template.format(code=c.code) for c in view.children} if template else {}


def _add_tiles(m: folium.Map, view: CommandView) -> dict[str, str]:
    grids = VectorGridProtobuf(
        view.urls.tiles.replace("{layer}", "grids"),
        "网格 Grids",
        {
            "vectorTileLayerStyles": {
                "grids": {"weight": 1, "color": style.GRID_LINE, "fill": False, "opacity": 0.9}
            },
            "minZoom": 10,
            "maxNativeZoom": 18,
            "interactive": False,
            "pane": "overlayPane",
        },
    )
    buildings = VectorGridProtobuf(
        view.urls.tiles.replace("{layer}", "buildings"),
        "建筑 Buildings",
        {
            "vectorTileLayerStyles": {
                "buildings": {
                    "weight": 0.5,
                    "color": style.BUILDING_FILL,
                    "fill": True,
                    "fillOpacity": 0.5,
                }
            },
            "minZoom": 15,
            "maxNativeZoom": 18,
            "interactive": False,
        },
    )
    grids.add_to(m)
    buildings.add_to(m)
    return {"grids": grids.get_name(), "buildings": buildings.get_name()}


def _add_live_layers(m: folium.Map, level: str) -> dict[str, str]:
    """Empty containers that wall.js fills; each is one entry in the layer control."""
    layers: dict[str, str] = {}
    # one cluster symbol for the page's own clustering and the feed's server-side
    # clusters and area counts: a grey disc with the sum of the cases it holds
    cases = MarkerCluster(
        name="在办案件 Open cases",
        options={"chunkedLoading": True, "maxClusterRadius": 50},
        icon_create_function="function (cluster) { return wangge.clusterIcon(cluster); }",
    )
    cases.add_to(m)
    layers["cases"] = cases.get_name()
    for key, name, show in (
        ("teams", "队伍 Teams", True),
        ("waterlogging", "易涝点 Waterlogging", True),
        # street and community walls show the cameras with their view sectors; a district has too many
        ("cameras", "摄像头 Cameras", level != "district"),
        ("stall_zones", "摊群点 Stall zones", True),
    ):
        group = folium.FeatureGroup(name=name, show=show)
        group.add_to(m)
        layers[key] = group.get_name()
    heat = HeatMap([], name="近7天热力 Case heat (7 days)", show=False, radius=18, blur=14)
    heat.add_to(m)
    layers["heat"] = heat.get_name()
    return layers


def _config(
    view: CommandView, m: folium.Map, children: folium.GeoJson, layers: dict[str, str]
) -> str:
    child_urls = _child_urls(view)
    config = {
        "map": m.get_name(),
        "children": children.get_name(),
        "layers": layers,
        "area": view.area.code,
        "level": view.area.level,
        "bounds": view.area.bounds,
        "live": view.urls.live,
        "childUrls": child_urls,
        "display": view.basemap.crs,
        "refreshMs": view.refresh_s * 1000,
        "kiosk": view.kiosk,
        "cycleMs": view.kiosk_cycle_s * 1000,
        "panel": view.urls.panel,
        "indicator": view.indicator,
        "incidents": view.urls.incidents,
        "colours": {
            "cases": style.CASE_STATUS_COLOURS,
            "overdue": style.OVERDUE_COLOUR,
            "teams": style.TEAM_STATUS_COLOURS,
            "water": style.WATER_STATE_COLOURS,
            "cameras": {"true": style.CAMERA_COLOURS[True], "false": style.CAMERA_COLOURS[False]},
            "cluster": style.CLUSTER_COLOUR,
            "hollow": style.HOLLOW_STROKE,
            "newRing": style.NEW_CASE_RING,
            "stall": style.STALL_LINE,
        },
    }
    # "</" would close the script element the JSON sits in
    text = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="wangge-config">{text}</script>'


def build_command_map(view: CommandView, figures: CaseFigures | None = None) -> folium.Map:
    """Build the map wall of one area: outline, shaded children, layers, panel, legend, clock.

    ``figures`` replaces what the view's indicators and overdue cases would show
    (:func:`render_command_shell` passes slots).
    """
    if view.indicator not in style.INDICATOR_STYLES:
        raise ValueError(f"indicator must be one of {', '.join(style.INDICATOR_STYLES)}")
    west, south, east, north = view.area.bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=None,
        zoom_control=not view.kiosk,
        control_scale=True,
        prefer_canvas=False,
        # quarter steps: the area fills a 4K wall instead of sitting in a sea of margin
        zoom_snap=0.25,
        max_zoom=view.basemap.max_zoom,
        maxZoom=view.basemap.max_zoom,
    )
    m.fit_bounds([[south, west], [north, east]])
    add_basemap(m, view.basemap)

    figures = figures or case_figures(view)
    children = folium.GeoJson(
        _children_geojson(view, figures.fills, figures.values),
        name=panel.CHILD_NAMES[view.area.level],
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.55,
            "color": "#cbd5e1",
            "weight": 1.5,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.65},
        # Folium checks a tooltip's fields against the first feature: none before a district's grids are imported
        tooltip=folium.GeoJsonTooltip(
            ["name", "value"],
            aliases=["", style.INDICATOR_STYLES[view.indicator].label.split(" ")[0]],
        ) if view.children else None,
    )
    children.add_to(m)
    folium.GeoJson(
        {"type": "Feature", "geometry": view.area.geometry, "properties": {}},
        name="边界 Boundary",
        control=False,
        interactive=False,
        style_function=lambda f: {"fill": False, "color": "#f8fafc", "weight": 3},
    ).add_to(m)
    layers = {**_add_tiles(m, view), **_add_live_layers(m, view.area.level)}
    folium.LayerControl(collapsed=view.kiosk).add_to(m)
    if not view.kiosk:
        Fullscreen(position="topleft").add_to(m)

    root = cast(Figure, m.get_root())
    # no favicon request: it would be a 404 in the console of every wall
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="wangge_no_favicon")
    # Before Leaflet loads: on a 4K wall Leaflet's 3D transforms make every pane and
    # marker a compositor layer, and software-rendering Chromium then leaves whole
    # parts of the map unpainted after a flight. 2D positioning paints everything
    # (flights become jumps there).
    root.header.add_child(
        Element("<script>window.L_DISABLE_3D = screen.width * (window.devicePixelRatio || 1) >= 2560;</script>"),
        name="wangge_no_3d",
    )
    add_font(m)
    root.header.add_child(CssLink(WALL_CSS), name="wangge_wall_css")
    root.header.add_child(JavascriptLink(WALL_JS), name="wangge_wall_js")
    root.header.add_child(CssLink(WALL_SENSING_CSS), name="wangge_wall_sensing_css")
    root.header.add_child(JavascriptLink(WALL_SENSING_JS), name="wangge_wall_sensing_js")
    body = root.html
    body.add_child(
        Element(panel.header_html(view.area.level, view.area.name, view.area.code, view.urls.up))
    )
    body.add_child(Element(panel.panel_html(figures.panel)))
    body.add_child(Element(panel.legend_html(figures.legend)))
    body.add_child(Element(_config(view, m, children, layers)))
    _StartWall().add_to(m)
    return m


def render_command_page(view: CommandView) -> str:
    """Return the command view as HTML whose scripts and stylesheets all come from wangge."""
    return render_offline(build_command_map(view))


# A slot in a rendered shell: a nonce no stored name or address can know, the figure, the child's index.
_SLOT = re.compile(r"__wg([0-9a-f]{16})_(fill|value|panel|legend)([0-9]*)__")


def _in_json_string(text: str) -> str:
    """``text`` as the inside of a JSON string in a script, escaped as Folium's ``tojson`` escapes."""
    quoted = json.dumps(text)[1:-1]
    return quoted.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


@dataclass(frozen=True)
class CommandShell:
    """A command page rendered once with slots where the case figures go; :meth:`page` fills them.

    Folium and Jinja cost tens of milliseconds per page, the figures a few
    string joins: a wall's page is rendered when its area is first shown or
    its outlines change, and filled with the current figures on every load.
    The filled page is the one :func:`render_command_page` renders from the
    same view with those figures.
    """

    view: CommandView  # its indicators and overdue cases are empty: the shell holds none
    parts: tuple[str | tuple[str, int], ...]  # text, or (figure, child index) to fill

    @property
    def size(self) -> int:
        """About how many characters the shell holds (for the cache's budget)."""
        return sum(len(p) for p in self.parts if isinstance(p, str))

    def page(self, indicators: Sequence[ChildIndicators], overdue: Sequence[OverdueCase]) -> str:
        """The page with these figures in its slots."""
        figures = case_figures(replace(self.view, indicators=indicators, overdue=overdue))
        codes = [c.code for c in self.view.children]
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part[0] == "panel":
                out.append(figures.panel)
            elif part[0] == "legend":
                out.append(figures.legend)
            elif part[0] == "fill":
                out.append(_in_json_string(figures.fills.get(codes[part[1]], style.NO_DATA)))
            else:
                out.append(_in_json_string(figures.values.get(codes[part[1]], "–")))
        return "".join(out)


def render_command_shell(view: CommandView) -> CommandShell:
    """Render the page of ``view``'s area once, with slots for the case figures (its own figures are unused)."""
    nonce = secrets.token_hex(8)
    slots = CaseFigures(
        {c.code: f"__wg{nonce}_fill{i}__" for i, c in enumerate(view.children)},
        {c.code: f"__wg{nonce}_value{i}__" for i, c in enumerate(view.children)},
        f"__wg{nonce}_panel__",
        f"__wg{nonce}_legend__",
    )
    empty = replace(view, indicators=(), overdue=())
    html = render_offline(build_command_map(empty, slots))
    parts: list[str | tuple[str, int]] = []
    at = 0
    for match in _SLOT.finditer(html):
        if match.group(1) != nonce:
            continue  # not ours: text that merely looks like a slot
        parts.append(html[at:match.start()])
        parts.append((match.group(2), int(match.group(3) or 0)))
        at = match.end()
    parts.append(html[at:])
    # the outlines are in the text now; the shell keeps only the codes and names it fills by
    outline_free = replace(empty, area=replace(view.area, geometry={}),
                           children=tuple(replace(c, geometry={}) for c in view.children))
    return CommandShell(outline_free, tuple(parts))
