"""Serve every script, stylesheet, font and image of a Folium page from wangge.

Folium, branca and the Folium plugins point their ``<script>`` and ``<link>``
tags at public CDNs. wangge runs on a closed government network where those
hosts are unreachable, so a page left as Folium builds it loads without
Leaflet and shows nothing. The files are vendored, pinned, under
``maps/static/vendor/`` (see its README and ``scripts/vendor_assets.sh``), and
:func:`localize` rewrites a map's element tree to point at them.

The CDN table is an allow-list on purpose: an element that asks for a URL the
table does not know makes :func:`localize` raise instead of quietly leaving an
internet address in the page, so adding a plugin forces vendoring its files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Final

from branca.element import Element, Figure, Link
from folium.elements import JSCSSMixin

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
VENDOR_DIR: Final = STATIC_DIR / "vendor"
STATIC_URL_PREFIX: Final = "/static"
"""Where the API mounts :data:`STATIC_DIR`; vendored files live under ``{prefix}/vendor/``."""

_NPM = "https://cdn.jsdelivr.net/npm/"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_FOLIUM_TEMPLATES = "folium@0.20.0/folium/templates/"

CDN_TO_VENDOR: Final[Mapping[str, str]] = MappingProxyType(
    {
        # folium.Map's default template (folium.folium._default_js/_default_css).
        f"{_NPM}leaflet@1.9.3/dist/leaflet.js": "leaflet@1.9.3/dist/leaflet.js",
        f"{_NPM}leaflet@1.9.3/dist/leaflet.css": "leaflet@1.9.3/dist/leaflet.css",
        "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
        f"{_NPM}bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
            "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js"
        ),
        f"{_NPM}bootstrap@5.2.2/dist/css/bootstrap.min.css": (
            "bootstrap@5.2.2/dist/css/bootstrap.min.css"
        ),
        # Bootstrap 3's icon font, the default prefix of folium.Icon; the
        # vendored package holds the glyphicons alone, not all of Bootstrap 3.
        "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
            "@neos21/bootstrap3-glyphicons@1.0.7/dist/css/bootstrap3-glyphicons.min.css"
        ),
        f"{_NPM}@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
            "@fortawesome/fontawesome-free@6.2.0/css/all.min.css"
        ),
        f"{_CDNJS}Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
            "drmonty-leaflet-awesome-markers@2.0.2/js/leaflet.awesome-markers.min.js"
        ),
        f"{_CDNJS}Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
            "drmonty-leaflet-awesome-markers@2.0.2/css/leaflet.awesome-markers.css"
        ),
        (
            "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
            "leaflet.awesome.rotate.min.css"
        ): f"{_FOLIUM_TEMPLATES}leaflet.awesome.rotate.css",
        # folium.plugins.MarkerCluster
        f"{_CDNJS}leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
            "leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js"
        ),
        f"{_CDNJS}leaflet.markercluster/1.1.0/MarkerCluster.css": (
            "leaflet.markercluster@1.1.0/dist/MarkerCluster.css"
        ),
        f"{_CDNJS}leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (
            "leaflet.markercluster@1.1.0/dist/MarkerCluster.Default.css"
        ),
        # folium.plugins.HeatMap: folium's own patched Leaflet.heat.
        (
            "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/"
            "leaflet_heat.min.js"
        ): f"{_FOLIUM_TEMPLATES}leaflet_heat.min.js",
        # folium.plugins.Realtime
        f"{_CDNJS}leaflet-realtime/2.2.0/leaflet-realtime.js": (
            "leaflet-realtime@2.2.0/dist/leaflet-realtime.min.js"
        ),
        # folium.plugins.VectorGridProtobuf asks for "@latest"; we pin 1.3.0.
        "https://unpkg.com/leaflet.vectorgrid@latest/dist/Leaflet.VectorGrid.bundled.js": (
            "leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js"
        ),
        # folium.plugins.GeoMan asks for "@latest"; we pin 2.20.2.
        "https://unpkg.com/@geoman-io/leaflet-geoman-free@latest/dist/leaflet-geoman.js": (
            "@geoman-io/leaflet-geoman-free@2.20.2/dist/leaflet-geoman.min.js"
        ),
        "https://unpkg.com/@geoman-io/leaflet-geoman-free@latest/dist/leaflet-geoman.css": (
            "@geoman-io/leaflet-geoman-free@2.20.2/dist/leaflet-geoman.css"
        ),
        # folium.plugins.Fullscreen: npm ships no .min.js, the CDN minified on the fly.
        f"{_NPM}leaflet.fullscreen@3.0.0/Control.FullScreen.min.js": (
            "leaflet.fullscreen@3.0.0/Control.FullScreen.js"
        ),
        f"{_NPM}leaflet.fullscreen@3.0.0/Control.FullScreen.css": (
            "leaflet.fullscreen@3.0.0/Control.FullScreen.css"
        ),
        # folium.plugins.Draw
        f"{_CDNJS}leaflet.draw/1.0.2/leaflet.draw.js": "leaflet-draw@1.0.2/dist/leaflet.draw.js",
        f"{_CDNJS}leaflet.draw/1.0.2/leaflet.draw.css": "leaflet-draw@1.0.2/dist/leaflet.draw.css",
    }
)
"""CDN URL exactly as folium/branca/plugins spell it → file path relative to :data:`VENDOR_DIR`."""

_EXTERNAL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


def is_external(url: str) -> bool:
    """Say whether a browser would fetch ``url`` from another host.

    Protocol-relative URLs (``//host/x.js``) count as external: they still
    leave the network.
    """
    return bool(_EXTERNAL.match(url.strip()))


def local_url(cdn_url: str, static_url_prefix: str = STATIC_URL_PREFIX) -> str:
    """Return the wangge URL that serves the vendored copy of ``cdn_url``.

    Raises:
        LookupError: ``cdn_url`` is not in :data:`CDN_TO_VENDOR`.

    """
    try:
        relative = CDN_TO_VENDOR[cdn_url]
    except KeyError:
        raise LookupError(_unknown_message([cdn_url])) from None
    return f"{static_url_prefix.rstrip('/')}/vendor/{relative}"


def localize(element: Element, *, static_url_prefix: str = STATIC_URL_PREFIX) -> None:
    """Point every JS/CSS link of the page holding ``element`` at wangge's copies.

    Walks the whole tree from ``element.get_root()`` (the Figure, with its
    header, html and script parts) and rewrites the ``default_js`` and
    ``default_css`` of every Folium element, plus any ``JavascriptLink`` or
    ``CssLink`` already placed in the tree. The lists are replaced on the
    instances, never mutated in place, because Folium shares them at class
    level: another page built in the same process keeps its own choice.

    Call it after the last element is added and right before rendering: an
    element added later is not rewritten. Links that some elements add only
    while rendering (e.g. ``folium.VegaLite``) cannot be seen here;
    :func:`render_offline` catches those.

    Raises:
        LookupError: some element asks for an external URL that is not in
            :data:`CDN_TO_VENDOR`; it names every such URL. Nothing is
            rewritten in that case, so a page is never left half local.

    """
    elements = list(_walk(element.get_root()))
    wanted: list[str] = []
    for node in elements:
        if isinstance(node, JSCSSMixin):
            wanted.extend(url for _, url in (*node.default_js, *node.default_css))
        elif isinstance(node, Link):
            wanted.append(node.url)
    unknown = [
        url for url in dict.fromkeys(wanted) if is_external(url) and url not in CDN_TO_VENDOR
    ]
    if unknown:
        raise LookupError(_unknown_message(unknown))

    def rewrite(url: str) -> str:
        return local_url(url, static_url_prefix) if is_external(url) else url

    for node in elements:
        if isinstance(node, JSCSSMixin):
            node.default_js = [(name, rewrite(url)) for name, url in node.default_js]
            node.default_css = [(name, rewrite(url)) for name, url in node.default_css]
        elif isinstance(node, Link):
            node.url = rewrite(node.url)


def render_offline(element: Element, *, static_url_prefix: str = STATIC_URL_PREFIX) -> str:
    """Localize and render the page holding ``element``, refusing any external asset.

    This is the guarantee the map routes want: the returned HTML loads no
    script or stylesheet from outside wangge, including links an element adds
    only while it renders, which :func:`localize` cannot see beforehand.

    Raises:
        LookupError: the page needs an external URL with no vendored copy.

    """
    localize(element, static_url_prefix=static_url_prefix)
    html = element.get_root().render()
    leftovers = unknown_external_urls(html)
    if leftovers:
        raise LookupError(_unknown_message(leftovers))
    return html


class _AssetLinkParser(HTMLParser):
    """Collects the URLs a browser would fetch from ``<script src>`` and ``<link href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)

    handle_startendtag = handle_starttag


def unknown_external_urls(html: str) -> list[str]:
    """List the external URLs of ``<script src>`` and ``<link href>`` tags in ``html``.

    Returns them in page order without duplicates; an empty list means the
    page's scripts and stylesheets all come from wangge. Tile URLs and other
    addresses inside inline scripts are not looked at: the basemap is a
    separate, configured concern.
    """
    parser = _AssetLinkParser()
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(url for url in parser.urls if is_external(url)))


def _walk(root: Element) -> Iterator[Element]:
    """Yield ``root`` and every descendant, including a Figure's header/html/script."""
    stack: list[Element] = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node._children.values())
        if isinstance(node, Figure):
            stack.extend((node.header, node.html, node.script))


def _unknown_message(urls: list[str]) -> str:
    listed = "\n  ".join(urls)
    return (
        f"no vendored copy of:\n  {listed}\n"
        "wangge serves every script and stylesheet itself (closed network, no CDN): "
        "add the files with scripts/vendor_assets.sh and map the URL in "
        "maps.assets.CDN_TO_VENDOR."
    )
