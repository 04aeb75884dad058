"""The HTML shell of the pages built without Folium (the desk, the phone): plain Leaflet, served by wangge.

A shell holds no data: its script reads the config and calls the API with
the token cookie the page route set. Every URL is wangge's own.
"""

from __future__ import annotations

import html
import json
from typing import Any

from maps.assets import FONT_CSS, STATIC_URL_PREFIX

LEAFLET = f"{STATIC_URL_PREFIX}/vendor/leaflet@1.9.3/dist"


def page_shell(title: str, name: str, body: str, config: dict[str, Any], *, lang: str = "zh-CN",
               fonts: tuple[str, ...] = FONT_CSS) -> str:
    """A page loading Leaflet, the CJK font and ``static/wangge/{name}.css|.js``, with ``config`` as JSON.

    ``body`` is trusted markup written by the page's builder; ``title`` and the
    config are escaped here. ``fonts`` are the font stylesheets to link (each
    weight's is 32 KB on the wire: a page for slow connections links one).
    """
    font_links = "".join(f'<link rel="stylesheet" href="{url}">' for url in fonts)
    # "</" would close the script element the JSON sits in
    text = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
{font_links}
<link rel="stylesheet" href="{LEAFLET}/leaflet.css">
<link rel="stylesheet" href="{STATIC_URL_PREFIX}/wangge/{name}.css">
</head>
<body>
{body}
<script type="application/json" id="wangge-config">{text}</script>
<script src="{LEAFLET}/leaflet.js"></script>
<script src="{STATIC_URL_PREFIX}/wangge/{name}.js"></script>
</body>
</html>
"""


def token_page(title: str, message: str) -> str:
    """A small page saying a token is needed (a browser shows it instead of a JSON 401)."""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><link rel="stylesheet" href="{FONT_CSS[0]}">
<style>body{{font-family:"Noto Sans SC",sans-serif;background:#0f172a;color:#e2e8f0;padding:2rem;
font-size:clamp(16px,1.2vw,40px)}}code{{color:#fbbf24}}</style></head>
<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>
"""
