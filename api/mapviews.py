"""Assemble a command view: read the area, its children and indicators, shift for display, render.

This is the one function the map route calls; it joins ``layers`` (data),
``geo`` (display shift, via :mod:`api.display`) and ``maps`` (the page).

A page is rendered once per area and options (:class:`WallPages`) and kept
until a layer of areas changes (the layer watcher's versions); each load
fills it with the indicators and overdue cases read then, so it is never
staler than the panel poll.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urlencode

from psycopg import AsyncConnection

from api.display import display_bounds, display_geometry
from api.settings import Settings
from layers.areas import LEVELS, Area, read_area, read_children
from layers.indicators import child_indicators, overdue_cases
from maps.basemap import Basemap
from maps.command import CommandShell, CommandView, ViewUrls, render_command_page, render_command_shell

# what a page's shell is made of: the area's outline and name, its children's
AREA_TABLES = ("districts", "streets", "communities", "grids")


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


PageKey = tuple[Any, ...]


class LayerVersions(Protocol):
    """What the page cache asks the layer watcher (:class:`layers.watch.LayerWatcher`)."""

    def version(self, table: str) -> int | None:
        """The layer's version, or None while it is not known."""


@dataclass(frozen=True)
class KeptPage:
    """A rendered shell and the area layers' versions it was read at."""

    versions: tuple[int, ...]  # AREA_TABLES' versions, read before the area was
    shell: CommandShell


class WallPages:
    """Rendered command pages, least recently used first out, each valid while the area layers keep their versions.

    Bounded by count and by characters (the demo district's shell holds 60,000,
    97 KB at 10x); ``max_entries = 0`` renders every page in full, as before the cache.
    The pages hold no caller: the route checks the token's area first.
    """

    def __init__(self, max_entries: int = 64, max_chars: int = 12_000_000) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._kept: OrderedDict[PageKey, KeptPage] = OrderedDict()
        # the areas as read (WGS84), for the panel poll, which needs only to know one exists
        self._areas: OrderedDict[tuple[str, str], tuple[tuple[int, ...], Area]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: PageKey, versions: tuple[int, ...]) -> KeptPage | None:
        """The page kept for ``key`` if the area layers are still at ``versions``."""
        kept = self._kept.get(key)
        if kept is None or kept.versions != versions:
            self.misses += 1
            return None
        self._kept.move_to_end(key)
        self.hits += 1
        return kept

    def put(self, key: PageKey, kept: KeptPage) -> None:
        """Keep a page, dropping the least recently used beyond the budgets."""
        self._kept[key] = kept
        self._kept.move_to_end(key)
        while self._kept and (len(self._kept) > self.max_entries
                              or sum(k.shell.size for k in self._kept.values()) > self.max_chars):
            self._kept.popitem(last=False)

    def clear(self) -> None:
        """Forget every page."""
        self._kept.clear()
        self._areas.clear()

    def area(self, level: str, code: str, versions: tuple[int, ...]) -> Area | None:
        """The area kept for ``level``/``code`` if the area layers are still at ``versions``."""
        kept = self._areas.get((level, code))
        if kept is None or kept[0] != versions:
            return None
        self._areas.move_to_end((level, code))
        return kept[1]

    def keep_area(self, versions: tuple[int, ...], area: Area) -> None:
        """Keep an area as read at ``versions``, without its outline (as many as pages, at least 256)."""
        self._areas[(area.level, area.code)] = (versions, replace(area, geometry={}))
        self._areas.move_to_end((area.level, area.code))
        while len(self._areas) > max(256, self.max_entries):
            self._areas.popitem(last=False)


def wall_pages(state: Any) -> WallPages:
    """The app's page cache (``app.state``), made on first use."""
    pages = getattr(state, "wall_pages", None)
    if pages is None:
        pages = state.wall_pages = WallPages()
    return pages


def _area_versions(layers: LayerVersions | None) -> tuple[int, ...] | None:
    """The area layers' versions as the watcher knows them; None while it is not listening.

    The watcher learns a version from the notice sent at commit, so data read
    after seeing a version holds that version's changes: a page kept under
    older versions is rendered again, never one under newer versions kept stale.
    """
    if layers is None:
        return None
    versions = [layers.version(t) for t in AREA_TABLES]
    return None if any(v is None for v in versions) else tuple(int(v or 0) for v in versions)


async def known_area(
    conn: AsyncConnection, level: str, code: str, pages: WallPages | None, layers: LayerVersions | None
) -> Area:
    """The area ``code`` without its outline (404 when none), read once while the area layers keep their versions.

    The panel poll asks every few seconds only to learn the area exists; its
    outline, simplified for display, costs milliseconds to read.
    """
    versions = _area_versions(layers) if pages is not None and pages.max_entries > 0 else None
    area = pages.area(level, code, versions) if pages is not None and versions is not None else None
    if area is None:
        area = await read_area(conn, code, level)
        if pages is not None and versions is not None:
            pages.keep_area(versions, area)
    return area


async def _display_area(conn: AsyncConnection, basemap: Basemap, area: Area) -> tuple[Area, list[Any]]:
    """The area and its children, in the basemap's coordinates."""
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
    return area, children


async def command_page(
    conn: AsyncConnection,
    settings: Settings,
    level: str,
    code: str,
    indicator: str,
    kiosk: bool,
    root: str = "",
    pages: WallPages | None = None,
    layers: LayerVersions | None = None,
) -> str:
    """Return the HTML of the ``level`` view of area ``code`` (404 when no such area).

    With ``pages`` and a listening ``layers`` watcher the page's shell comes
    from the cache; otherwise it is rendered in full.
    """
    basemap = basemap_of(settings)
    urls = view_urls(root, level, code, indicator, kiosk, basemap.crs)
    versions = _area_versions(layers) if pages is not None and pages.max_entries > 0 else None
    key = (level, code, indicator, kiosk, root, basemap, settings.map_refresh_s)
    kept = pages.get(key, versions) if pages is not None and versions is not None else None
    if kept is None:
        area = await read_area(conn, code, level)
        if pages is not None and versions is not None:
            pages.keep_area(versions, area)
        area, children = await _display_area(conn, basemap, area)
        view = CommandView(area=area, children=children, indicators=(), overdue=(), indicator=indicator,
                           urls=urls, basemap=basemap, kiosk=kiosk, refresh_s=settings.map_refresh_s)
        if pages is None or versions is None:
            return render_command_page(replace(view, indicators=await child_indicators(conn, area),
                                               overdue=await overdue_cases(conn, area)))
        # tens of milliseconds of Folium and Jinja, off the event loop: other walls' polls go on meanwhile
        kept = KeptPage(versions, await asyncio.to_thread(render_command_shell, view))
        pages.put(key, kept)
    area = kept.shell.view.area
    return kept.shell.page(await child_indicators(conn, area), await overdue_cases(conn, area))
