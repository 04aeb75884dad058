"""How a tile goes out: status, headers and body for a cached or fresh tile, in one place.

Both the tile route and the cache-hit fast path (``api.tilehits``) answer
through :func:`tile_reply`, so they cannot drift apart.
"""

from __future__ import annotations

from fastapi import FastAPI

from layers.tiles import TILE_SOURCES, CachedTile, TileCache

MVT = "application/vnd.mapbox-vector-tile"


def tile_cache(app: FastAPI) -> TileCache:
    """The app's tile cache, made on first use (one per process)."""
    cache: TileCache | None = getattr(app.state, "tile_cache", None)
    if cache is None:
        cache = app.state.tile_cache = TileCache()
    return cache


def etag_matches(if_none_match: str, etag: str) -> bool:
    """True when the client's ``If-None-Match`` names ``etag`` (or ``*``)."""
    return bool(if_none_match) and any(tag.strip() in (etag, "*", f"W/{etag}") for tag in if_none_match.split(","))


Reply = tuple[int, dict[str, str], bytes]


def tile_reply(entry: CachedTile, layer: str, if_none_match: str, accept_encoding: str) -> Reply:
    """Status, headers and body for ``entry``.

    304 when the client has it already, 204 when the tile is empty, else the
    tile, gzip-compressed when the client accepts it.
    """
    max_age = TILE_SOURCES[layer].max_age_s
    headers = {
        "ETag": entry.etag,
        "Vary": "Cookie, Authorization, Accept-Encoding",
        "Cache-Control": f"private, max-age={max_age}" if max_age else "private, no-cache",
    }
    if etag_matches(if_none_match, entry.etag):
        return 304, headers, b""
    if not entry.body:
        return 204, headers, b""
    headers["Content-Type"] = MVT
    if entry.gzipped and "gzip" in accept_encoding:
        return 200, {**headers, "Content-Encoding": "gzip"}, entry.gzipped
    return 200, headers, entry.body
