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

import json
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Final, cast

from branca.element import CssLink, Element, Figure, Link
from folium.elements import JSCSSMixin

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
VENDOR_DIR: Final = STATIC_DIR / "vendor"
STATIC_URL_PREFIX: Final = "/static"
"""Where the API mounts :data:`STATIC_DIR`; vendored files live under ``{prefix}/vendor/``."""

FONT_FAMILY: Final = '"Noto Sans SC", sans-serif'
"""The CSS font-family of every wangge page: the vendored CJK font first, no system font needed."""
FONT_CSS: Final = tuple(
    f"{STATIC_URL_PREFIX}/vendor/@fontsource/noto-sans-sc@5.3.0/{weight}.css" for weight in (400, 700)
)
"""Stylesheets declaring :data:`FONT_FAMILY` (regular and bold) as unicode-range slices.

A browser downloads only the slices holding characters a page shows (a wall
loads a handful of the 101 per weight), so linking both on every page is cheap.
"""


def font_links() -> str:
    """Return the ``<link>`` tags of :data:`FONT_CSS`, for pages not built with Folium."""
    return "".join(f'<link rel="stylesheet" href="{url}">' for url in FONT_CSS)


def add_font(element: Element) -> None:
    """Link :data:`FONT_CSS` in the header of the Folium page holding ``element``."""
    root = cast(Figure, element.get_root())
    for weight, url in enumerate(FONT_CSS):
        root.header.add_child(CssLink(url), name=f"wangge_font_{weight}")


# The table lives beside the vendored files it points to, as data: it is
# what scripts/vendor_assets.sh fetched, and pages never load those hosts.
CDN_TO_VENDOR: Final[Mapping[str, str]] = MappingProxyType({
    entry["cdn"]: entry["vendor"]
    for entry in json.loads((VENDOR_DIR / "cdn-map.json").read_text(encoding="utf-8"))["files"]
})
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
