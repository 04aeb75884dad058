"""Assemble a command view: read the area, its children and indicators, shift for display, render.

This is the one function the map route calls; it joins ``layers`` (data),
``geo`` (display shift, via :mod:`api.display`) and ``maps`` (the page).
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from psycopg import AsyncConnection

from api.display import display_bounds, display_geometry
from api.settings import Settings
from layers.areas import LEVELS, read_area, read_children
from layers.indicators import child_indicators, overdue_cases
from maps.basemap import Basemap
from maps.command import CommandView, ViewUrls, render_command_page


def basemap_of(settings: Settings) -> Basemap:
    """Return the basemap the settings configure (a plain background when none)."""
    return Basemap(settings.basemap_url, settings.basemap_attribution, settings.basemap_crs)


def view_urls(root: str, level: str, code: str, indicator: str, kiosk: bool, display: str = "wgs84") -> ViewUrls:
    """Return the page's data URLs and its links, which keep the chosen indicator and kiosk mode.

    On a GCJ-02 basemap the tiles are asked for in GCJ-02's tile grid.
    """
    query = {"indicator": indicator, **({"kiosk": "true"} if kiosk else {})}
    suffix = "?" + urlencode(query)
    child_level = LEVELS[level].child_level
    parent_level = {"street": "district", "community": "street"}.get(level)
    parent_code = code[: LEVELS[level].code_digits - 3]
    return ViewUrls(
        tiles=f"{root}/tiles/{{layer}}/{{z}}/{{x}}/{{y}}.pbf" + ("?display=gcj02" if display == "gcj02" else ""),
        live=f"{root}/live/{code}/{{layer}}",
        child_view=f"{root}/maps/{child_level}/{{code}}{suffix}" if child_level else None,
        up=f"{root}/maps/{parent_level}/{parent_code}{suffix}" if parent_level else None,
        panel=f"{root}/maps/{level}/{code}/panel?" + urlencode({"indicator": indicator}),
        incidents=f"{root}/incidents/",
    )


async def command_page(
    conn: AsyncConnection,
    settings: Settings,
    level: str,
    code: str,
    indicator: str,
    kiosk: bool,
    root: str = "",
) -> str:
    """Return the HTML of the ``level`` view of area ``code`` (404 when no such area)."""
    basemap = basemap_of(settings)
    area = await read_area(conn, code, level)
    children = await read_children(conn, area)
    if basemap.shifts_overlays:
        area = replace(
            area,
            geometry=display_geometry(area.geometry, basemap.crs),
            bounds=display_bounds(area.bounds, basemap.crs),
        )
        children = [
            replace(c, geometry=display_geometry(c.geometry, basemap.crs)) for c in children
        ]
    view = CommandView(
        area=area,
        children=children,
        indicators=await child_indicators(conn, area),
        overdue=await overdue_cases(conn, area),
        indicator=indicator,
        urls=view_urls(root, level, code, indicator, kiosk, basemap.crs),
        basemap=basemap,
        kiosk=kiosk,
        refresh_s=settings.map_refresh_s,
    )
    return render_command_page(view)
