"""The planner's map: a community's grids, editable with Geoman (snapping on), and the report.

The page is a Folium shell with no data inlined: ``planner.js`` loads the
current grids from ``/communities/{code}/grids``, lets the planner reshape,
split (draw a line across a grid), cut or delete them, posts the edited set
(at full precision; the server snaps it back onto the stored vertices) as a
proposal and
draws the report: invalid edges, overlaps and parts outside in red, gaps in
orange, and each grid's workload in its tooltip and in the side table.
"""

from __future__ import annotations

import json

import folium
from branca.element import Element, JavascriptLink, MacroElement
from folium.plugins import GeoMan
from jinja2 import Template

from maps.assets import STATIC_URL_PREFIX, add_font, render_offline

PLANNER_JS = f"{STATIC_URL_PREFIX}/wangge/planner.js"

_PANEL = """
<div id="planner-panel" style="position:absolute;top:10px;right:10px;z-index:1000;width:330px;
     max-height:90vh;overflow:auto;background:#fff;padding:8px 10px;border-radius:6px;
     box-shadow:0 1px 6px rgba(0,0,0,.35);font:13px/1.4 "Noto Sans SC",sans-serif">
  <div><b id="planner-title"></b></div>
  <button id="planner-submit" type="button" style="margin:6px 0" disabled>检查方案 Check proposal</button>
  <div id="planner-status">loading grids…</div>
  <div id="planner-report"></div>
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
                 bounds: tuple[float, float, float, float]) -> str:
    """Render the planner page for a community whose WGS84 bounds are ``(w, s, e, n)``."""
    west, south, east, north = bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=15,
                      tiles=None, control_scale=True)
    fmap.fit_bounds([[south, west], [north, east]])
    grids = folium.FeatureGroup(name="grids").add_to(fmap)
    # the line tool is the split tool (planner.js cuts every grid it crosses edge to edge)
    GeoMan(feature_group=grids, position="topleft", drawMarker=False, drawCircleMarker=False,
           drawCircle=False, drawText=False).add_to(fmap)
    add_font(fmap)
    root = fmap.get_root()
    root.header.add_child(JavascriptLink(PLANNER_JS))  # type: ignore[attr-defined]
    root.html.add_child(Element(_PANEL))  # type: ignore[attr-defined]
    config = {"community": community_code, "name": community_name,
              "gridsUrl": f"/communities/{community_code}/grids",
              "proposalsUrl": f"/planning/communities/{community_code}/proposals"}
    start = (f"wanggePlanner.start({fmap.get_name()}, {grids.get_name()}, "
             f"{json.dumps(config, ensure_ascii=False)});")
    fmap.add_child(_StartPlanner(start))
    return render_offline(fmap)
