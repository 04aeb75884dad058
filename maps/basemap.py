"""The configurable basemap: a tile URL template, its attribution and its coordinate system.

wangge ships no basemap (closed networks have their own tile servers, often
AMap- or Tencent-style tiles in GCJ-02). With none configured the map is a
plain background and the overlays alone carry the picture. When the basemap
is GCJ-02 the overlays must be shifted to GCJ-02 for display; the caller does
that before handing data to the builder (maps know nothing of coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass

import folium

BASEMAP_CRS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class Basemap:
    """A basemap: None as ``url_template`` means a plain background."""

    url_template: str | None = None
    attribution: str = ""
    crs: str = "wgs84"
    max_zoom: int = 19

    def __post_init__(self) -> None:
        if self.crs not in BASEMAP_CRS:
            raise ValueError(f"a basemap's crs is one of {', '.join(BASEMAP_CRS)}")
        if self.url_template and not self.attribution:
            raise ValueError("a basemap needs its attribution (the tile provider's terms)")

    @property
    def shifts_overlays(self) -> bool:
        """True when overlays stored in WGS84 must be drawn shifted to GCJ-02."""
        return self.crs == "gcj02"


def add_basemap(m: folium.Map, basemap: Basemap) -> None:
    """Put the basemap's tiles under ``m``; nothing at all for a plain background."""
    if basemap.url_template:
        folium.TileLayer(
            basemap.url_template,
            attr=basemap.attribution,
            name="basemap",
            overlay=False,
            control=False,
            max_zoom=basemap.max_zoom,
        ).add_to(m)
