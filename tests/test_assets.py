"""The map pages must load every script, stylesheet, font and image from wangge."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import pytest
from branca.element import CssLink, JavascriptLink, MacroElement
from folium import plugins
from folium.elements import JSCSSMixin

from maps.assets import (
    CDN_TO_VENDOR,
    STATIC_DIR,
    STATIC_URL_PREFIX,
    VENDOR_DIR,
    local_url,
    localize,
    render_offline,
    unknown_external_urls,
)

# Hefei, where the demo city lives.
CENTER = (31.82, 117.23)

GRID_GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "340102001001001", "name": "grid 1"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [117.22, 31.81],
                        [117.24, 31.81],
                        [117.24, 31.83],
                        [117.22, 31.83],
                        [117.22, 31.81],
                    ]
                ],
            },
        }
    ],
}

PLUGIN_CLASSES: list[type[JSCSSMixin]] = [
    folium.Map,
    plugins.MarkerCluster,
    plugins.HeatMap,
    plugins.Realtime,
    plugins.VectorGridProtobuf,
    plugins.GeoMan,
    plugins.Fullscreen,
    plugins.Draw,
]

CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""")
FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}")
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)



def _cdn(filename: str) -> str:
    """The CDN URL folium uses for one of its files (taken from the table, not typed here)."""
    return next(url for url in CDN_TO_VENDOR if url.endswith("/" + filename))

def command_map() -> folium.Map:
    """A map with every plugin the command views use."""
    # A local basemap: a tile layer is what gives Leaflet the maxZoom MarkerCluster needs.
    m = folium.Map(
        location=CENTER, zoom_start=14, tiles="/tiles/basemap/{z}/{x}/{y}.png", attr="wangge"
    )
    cluster = plugins.MarkerCluster(name="cameras").add_to(m)
    folium.Marker(CENTER, icon=folium.Icon()).add_to(cluster)
    folium.Marker(CENTER, icon=folium.Icon(prefix="fa", icon="car", angle=45)).add_to(cluster)
    plugins.HeatMap([[31.82, 117.23, 1.0], [31.83, 117.24, 0.5]], name="cases").add_to(m)
    plugins.Realtime("/api/teams/positions", interval=5000, name="teams").add_to(m)
    plugins.VectorGridProtobuf("/tiles/grids/{z}/{x}/{y}.pbf", "grids", {}).add_to(m)
    folium.GeoJson(GRID_GEOJSON, name="community").add_to(m)
    plugins.GeoMan().add_to(m)
    plugins.Fullscreen().add_to(m)
    plugins.Draw().add_to(m)
    folium.LayerControl().add_to(m)
    return m


def script_and_link_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)


def static_file(url: str) -> Path:
    assert url.startswith(STATIC_URL_PREFIX + "/"), url
    return STATIC_DIR / url.removeprefix(STATIC_URL_PREFIX + "/")


@pytest.fixture(scope="module")
def localized_html() -> str:
    m = command_map()
    localize(m)
    return m.get_root().render()


def test_localized_page_loads_nothing_from_outside(localized_html: str) -> None:
    assert unknown_external_urls(localized_html) == []
    assert not re.search(r'(?:src|href)="(?:https?:)?//', localized_html)


def test_every_local_url_is_a_vendored_file(localized_html: str) -> None:
    urls = script_and_link_urls(localized_html)
    assert urls
    for url in urls:
        path = static_file(url)
        assert path.is_file(), url
        assert path.resolve().is_relative_to(VENDOR_DIR), url


def test_page_with_all_plugins_uses_every_table_entry(localized_html: str) -> None:
    # The test map covers every plugin the table was built for; an entry no
    # page uses would be dead weight, a missing one would show up as a CDN URL.
    assert set(script_and_link_urls(localized_html)) == {local_url(u) for u in CDN_TO_VENDOR}


@pytest.mark.parametrize("cls", PLUGIN_CLASSES, ids=lambda c: c.__name__)
def test_table_covers_the_urls_folium_asks_for(cls: type[JSCSSMixin]) -> None:
    # Fails first when a folium upgrade changes a plugin's CDN URL.
    for _, url in (*cls.default_js, *cls.default_css):
        assert url in CDN_TO_VENDOR, f"{cls.__name__}: {url}"


def test_table_points_at_existing_files() -> None:
    for cdn_url, relative in CDN_TO_VENDOR.items():
        assert (VENDOR_DIR / relative).is_file(), cdn_url


def test_every_vendored_package_keeps_its_licence() -> None:
    packages = {
        Path(*Path(rel).parts[: 2 if rel.startswith("@") else 1]) for rel in CDN_TO_VENDOR.values()
    }
    for package in packages:
        licences = [p for p in (VENDOR_DIR / package).iterdir() if "LICEN" in p.name.upper()]
        assert licences, package


def css_references(css: str) -> list[str]:
    return [next(g for g in match.groups() if g is not None) for match in CSS_URL.finditer(css)]


def resolves(css_file: Path, ref: str) -> bool:
    path = re.split(r"[?#]", ref, maxsplit=1)[0]
    return (css_file.parent / path).is_file()


def is_inline(ref: str) -> bool:
    # data: URIs, SVG fragment ids (also %23-escaped inside data URIs), IE's VML hack.
    return ref.startswith(("data:", "#", "%23")) or ref == ""


@pytest.mark.parametrize(
    "css_file",
    sorted(STATIC_DIR.rglob("*.css")),
    ids=lambda p: str(p.relative_to(STATIC_DIR)),
)
def test_css_references_resolve(css_file: Path) -> None:
    css = CSS_COMMENT.sub("", css_file.read_text(encoding="utf-8"))
    for ref in css_references(css):
        assert not re.match(r"(?:https?:)?//", ref), f"{css_file.name} fetches {ref}"

    # Only woff2 fonts are vendored: a browser takes the first format it
    # supports from an @font-face src list, and woff2 comes before the ttf,
    # woff, eot and svg fallbacks, so those are never requested.
    for face in FONT_FACE.findall(css):
        refs = [r for r in css_references(face) if not is_inline(r)]
        woff2 = [r for r in refs if r.split("?")[0].endswith(".woff2")]
        assert woff2, f"{css_file.name}: @font-face without woff2: {face[:120]}"
        for ref in woff2:
            assert resolves(css_file, ref), f"{css_file.name}: {ref}"

    for ref in css_references(FONT_FACE.sub("", css)):
        if not is_inline(ref):
            assert resolves(css_file, ref), f"{css_file.name}: {ref}"


class _UnvendoredPlugin(JSCSSMixin):
    """A plugin someone added without vendoring its files."""

    def __init__(self) -> None:
        super().__init__()
        self.default_js = [("mystery", "https://cdn.example.com/mystery@1.0/mystery.min.js")]
        self.default_css = [("mystery_css", "https://cdn.example.com/mystery@1.0/mystery.css")]


def test_unknown_cdn_url_raises_and_names_it() -> None:
    m = command_map()
    m.add_child(_UnvendoredPlugin())
    with pytest.raises(LookupError, match=r"mystery\.min\.js") as excinfo:
        localize(m)
    assert "mystery.css" in str(excinfo.value)
    # Nothing was rewritten: the page is not left half local.
    assert m.default_js == folium.Map.default_js


def test_links_placed_in_the_header_are_rewritten_or_refused() -> None:
    m = folium.Map(tiles=None)
    header = m.get_root().header
    header.add_child(CssLink(_cdn("leaflet.css")))
    localize(m)
    assert unknown_external_urls(m.get_root().render()) == []

    header.add_child(JavascriptLink("//cdn.example.com/x.js"))
    with pytest.raises(LookupError, match=r"//cdn\.example\.com/x\.js"):
        localize(m)


def test_localize_leaves_other_pages_alone() -> None:
    # Folium's default lists live on the classes; rewriting them in place
    # would change every map in the process, localized or not.
    before = (list(folium.Map.default_js), list(plugins.Draw.default_css))
    localize(command_map())
    assert (folium.Map.default_js, plugins.Draw.default_css) == before


def test_localize_is_idempotent_and_honours_the_prefix() -> None:
    m = command_map()
    localize(m, static_url_prefix="/wangge/static/")
    localize(m, static_url_prefix="/wangge/static/")
    urls = script_and_link_urls(m.get_root().render())
    assert urls
    assert all(url.startswith("/wangge/static/vendor/") for url in urls)


class _LinksWhileRendering(MacroElement):
    """Like folium.VegaLite: adds its script to the header only in render()."""

    def render(self, **kwargs: object) -> None:
        self.get_root().header.add_child(JavascriptLink("https://cdn.example.com/late.js"))
        super().render(**kwargs)


def test_render_offline_refuses_links_added_while_rendering() -> None:
    m = folium.Map(tiles=None)
    m.add_child(_LinksWhileRendering())
    with pytest.raises(LookupError, match=r"late\.js"):
        render_offline(m)


def test_render_offline_returns_the_local_page() -> None:
    html = render_offline(command_map())
    assert local_url(_cdn("leaflet.js")) in html
    assert unknown_external_urls(html) == []


def test_unknown_external_urls_reads_script_and_link_tags_only() -> None:
    html = """
    <link rel="stylesheet" href="/static/vendor/a.css"/>
    <link rel="stylesheet" href="https://cdn.example.com/b.css">
    <script src="//cdn.example.com/c.js"></script>
    <script src="HTTP://CDN.EXAMPLE.COM/D.JS"></script>
    <script src="https://cdn.example.com/b.css"></script>
    <script>var tiles = "https://tiles.example.com/{z}/{x}/{y}.png";</script>
    <img src="https://img.example.com/e.png">
    """
    assert unknown_external_urls(html) == [
        "https://cdn.example.com/b.css",
        "//cdn.example.com/c.js",
        "HTTP://CDN.EXAMPLE.COM/D.JS",
    ]


def test_localize_reaches_plugins_nested_in_layers() -> None:
    m = folium.Map(tiles=None)
    group = folium.FeatureGroup(name="district").add_to(m)
    plugins.MarkerCluster().add_to(group)
    localize(m)
    html = m.get_root().render()
    assert unknown_external_urls(html) == []
    assert "/static/vendor/leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js" in html


def test_the_maplibre_sample_page_loads_only_vendored_files() -> None:
    page = STATIC_DIR / "maplibre.html"
    html = page.read_text(encoding="utf-8")
    assert unknown_external_urls(html) == []
    # stylesheet links and the ES module import, each a vendored file that exists
    wanted = re.findall(r'(?:href|from)\s*=?\s*"(/static/[^"]+)"', html)
    assert any(u.endswith("maplibre-gl.mjs") for u in wanted) and any(u.endswith(".css") for u in wanted)
    for url in wanted:
        assert (STATIC_DIR / url.removeprefix(f"{STATIC_URL_PREFIX}/")).is_file(), url
    # MapLibre 6 loads its worker module from beside the main module
    module = next(u for u in wanted if u.endswith("maplibre-gl.mjs"))
    assert (STATIC_DIR / module.removeprefix(f"{STATIC_URL_PREFIX}/")).with_name("maplibre-gl-worker.mjs").is_file()
    # its stylesheet's images are inline data: URIs, nothing to fetch
    urls = re.findall(r"url\(\s*['\"]?([^'\")]*)", (VENDOR_DIR / "maplibre-gl@6.20.0/dist/maplibre-gl.css").read_text())
    assert urls and all(u.startswith("data:") for u in urls)
