"""Geocode: Chinese address text → ranked buildings, offline, from the city's own address table.

Both the stored addresses and the query go through the database function
``wangge_address_key`` (ASCII digits, no spaces or punctuation, 幢/号楼/座 →
栋), so they meet in one normal form. Ranking: an address that contains the
whole query comes first (the query named an exact door), then pg_trgm's word
similarity, which forgives missing province/city/district prefixes and small
typos. When nothing matches, the answer is a 404 whose suggestions are the
nearest door numbers on the named road, or else the most similar addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows

# word similarity a candidate needs to count as a match: a one-character typo
# in a short query (宁果路 for 宁国路) still scores about 0.6
MATCH_THRESHOLD = 0.5

_CANDIDATES = """
    WITH q AS (SELECT wangge_address_key(%(q)s) AS key)
    SELECT b.id, b.address, ST_X(c) AS lon, ST_Y(c) AS lat,
           word_similarity(q.key, b.address_key) AS score,
           strpos(b.address_key, q.key) > 0 AS exact
    FROM buildings AS b, q, LATERAL ST_PointOnSurface(b.geom) AS c
    WHERE q.key <%% b.address_key
    -- among similar keys, prefer the building whose road name best matches
    -- part of the query: door numbers repeat on every road, road names do not
    ORDER BY strpos(b.address_key, q.key) > 0 DESC,
             word_similarity(q.key, b.address_key) + word_similarity(b.road, q.key) / 2 DESC,
             length(b.address_key), b.id
    LIMIT %(limit)s
"""

# nothing matched but the query names a known road and a door number: the
# nearest door numbers on that road are the most useful suggestions
_NEAR_DOORS = """
    WITH m AS (
        SELECT regexp_match(wangge_address_key(%(q)s), '^(.*?(?:路|大道|街|巷))([0-9]{1,6})号') AS g)
    SELECT b.address
    FROM buildings AS b, m
    WHERE m.g IS NOT NULL AND right(m.g[1], length(b.road)) = b.road
    ORDER BY abs(b.door_number - m.g[2]::int), b.door_number, b.building_no, b.id
    LIMIT %(limit)s
"""

# otherwise rank everything by similarity
_SIMILAR = """
    WITH q AS (SELECT wangge_address_key(%(q)s) AS key)
    SELECT b.address
    FROM buildings AS b, q
    ORDER BY word_similarity(q.key, b.address_key) DESC, b.id
    LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Candidate:
    """A building that matches the query, with its point and score (0..1)."""

    id: int
    address: str
    lon: float
    lat: float
    score: float
    exact: bool


async def geocode(conn: AsyncConnection, text: str, limit: int = 5) -> list[Candidate]:
    """Return matching buildings, best first; :class:`NotFound` with suggestions when none match."""
    query = text.strip()
    if len(query) < 2:
        raise InvalidInput("the address must have at least two characters")
    async with conn.transaction():
        # the index operator <% uses this threshold; keep it local to the transaction
        await conn.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                           (str(MATCH_THRESHOLD),))
        rows = await all_rows(conn, _CANDIDATES, {"q": query, "limit": limit})
    if rows:
        return [Candidate(**row) for row in rows]
    suggestions: list[str] = []
    for unit in (_NEAR_DOORS, _SIMILAR):
        rows = await all_rows(conn, unit, {"q": query, "limit": limit})
        suggestions = [row["address"] for row in rows]
        if suggestions:
            break
    raise NotFound(f"no address matches '{query[:100]}'", suggestions=suggestions)
