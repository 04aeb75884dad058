"""The planner's map: a community's grids, editable with Geoman (snapping on), the report, publish.

The page is a Folium shell with no data inlined: ``planner.js`` loads the
current grids from ``/communities/{code}/grids`` and their workload from
``/planning/communities/{code}/workload``, labels every grid with its name,
code, residents, buildings and 90-day cases (always visible) and shades it by
residents; buildings (vector tiles) and cameras are drawn for context. The
planner reshapes, splits (draws a line across a grid), cuts or deletes grids,
posts the edited set (at full precision; the server snaps it back onto the
stored vertices) as a proposal and sees the report on the map: invalid edges
and parts outside the community in vermillion, overlaps in purple, gaps in
orange. Publishing shows the report's summary for confirmation; a 412 (the
community was published by someone else first) reloads the grids.
"""

from __future__ import annotations

import json

import folium
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from folium.plugins import GeoMan, VectorGridProtobuf
from jinja2 import Template

from maps import style
from maps.assets import STATIC_URL_PREFIX, add_font, render_offline

PLANNER_JS = f"{STATIC_URL_PREFIX}/wangge/planner.js"
PLANNER_CSS = f"{STATIC_URL_PREFIX}/wangge/planner.css"

_PANEL = """
<button type="button" id="planner-toggle" aria-controls="planner-panel" aria-expanded="false">☰ 方案 Plan</button>
<div id="planner-panel">
  <div class="pl-title"><b id="planner-title"></b></div>
  <div class="pl-buttons">
    <button id="planner-submit" type="button" disabled>检查方案 Check proposal</button>
    <button id="planner-publish" type="button" disabled>发布 Publish…</button>
  </div>
  <div id="planner-status" role="status" aria-live="polite">正在加载网格 loading grids…</div>
  <div id="planner-confirm" hidden>
    <div id="planner-confirm-text"></div>
    <button id="planner-confirm-publish" type="button">确认发布 Confirm publish</button>
    <button id="planner-confirm-cancel" type="button">取消 Cancel</button>
  </div>
  <div id="planner-report"></div>
  <div id="planner-legend"></div>
</div>
"""


class _StartPlanner(MacroElement):
    """Calls ``wanggePlanner.start`` once the map and its grid group exist.

    A map child renders its script after the map's and the group's, which a
    plain element in the page's script section would not.
    """

    _template = Template("{% macro script(this, kwargs) %}{{ this.call }}{% endmacro %}")

    def __init__(self, call: str) -> None:
        super().__init__()
        self._name = "StartPlanner"
        self.call = call


def planner_page(community_code: str, community_name: str,
                 bounds: tuple[float, float, float, float], root: str = "") -> str:
    """Render the planner page for a community whose WGS84 bounds are ``(w, s, e, n)``."""
    west, south, east, north = bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=15,
                      tiles=None, control_scale=True, zoom_snap=0.25)
    fmap.fit_bounds([[south, west], [north, east]])
    # context under the grids: buildings from the vector tiles, not editable
    VectorGridProtobuf(
        f"{root}/tiles/buildings/{{z}}/{{x}}/{{y}}.pbf", "建筑 Buildings",
        {"vectorTileLayerStyles": {"buildings": {"weight": 0.5, "color": style.BUILDING_FILL,
                                                 "fill": True, "fillOpacity": 0.35}},
         "minZoom": 14, "maxNativeZoom": 18, "interactive": False, "pmIgnore": True},
    ).add_to(fmap)
    grids = folium.FeatureGroup(name="grids").add_to(fmap)
    # the line tool is the split tool (planner.js cuts every grid it crosses edge to edge)
    GeoMan(feature_group=grids, position="topleft", drawMarker=False, drawCircleMarker=False,
           drawCircle=False, drawText=False).add_to(fmap)
    add_font(fmap)
    root_el = fmap.get_root()
    root_el.header.add_child(Element('<link rel="icon" href="data:,">'), name="wangge_no_favicon")  # type: ignore[attr-defined]
    root_el.header.add_child(CssLink(PLANNER_CSS), name="wangge_planner_css")  # type: ignore[attr-defined]
    root_el.header.add_child(JavascriptLink(PLANNER_JS))  # type: ignore[attr-defined]
    root_el.html.add_child(Element(_PANEL))  # type: ignore[attr-defined]
    config = {"community": community_code, "name": community_name,
              "gridsUrl": f"{root}/communities/{community_code}/grids",
              "workloadUrl": f"{root}/planning/communities/{community_code}/workload",
              "camerasUrl": f"{root}/live/{community_code}/cameras",
              "proposalsUrl": f"{root}/planning/communities/{community_code}/proposals",
              "publishUrl": f"{root}/planning/proposals/{{id}}/publish",
              "colours": {"ramp": style.RAMP, "invalid": style.VERMILLION, "overlap": style.PURPLE,
                          "gap": style.ORANGE, "grid": style.SKY, "camera": style.CAMERA_COLOURS[True],
                          "hollow": style.HOLLOW_STROKE}}
    start = (f"wanggePlanner.start({fmap.get_name()}, {grids.get_name()}, "
             f"{json.dumps(config, ensure_ascii=False)});")
    fmap.add_child(_StartPlanner(start))
    return render_offline(fmap)
