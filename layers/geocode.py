"""Geocode: Chinese address text → ranked buildings, offline, from the city's own address table.

Both the stored addresses and the query go through the database function
``wangge_address_key`` (ASCII digits, no spaces or punctuation, 幢/号楼/座 →
栋), so they meet in one normal form. Ranking: an address that contains the
whole query comes first (the query named an exact door), then pg_trgm's word
similarity, which forgives missing province/city/district prefixes and small
typos. When the text names a road the city has and a door number, only
that door on that road matches (similar-looking doors on other roads are
not the place the caller meant), and a missing door is a 404 whose
suggestions are the nearest doors on that road. Otherwise the suggestions of
a 404 are the most similar addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows, one_row

# word similarity a candidate needs to count as a match: a one-character typo
# in a short query (宁果路 for 宁国路) still scores about 0.6
MATCH_THRESHOLD = 0.5

# a candidate building as every matching query returns it
_CANDIDATE_ROWS = """
    WITH q AS (SELECT wangge_address_key(%(q)s) AS key)
    SELECT b.id, b.address, ST_X(c) AS lon, ST_Y(c) AS lat,
           word_similarity(q.key, b.address_key) AS score,
           strpos(b.address_key, q.key) > 0 AS exact
    FROM buildings AS b, q, LATERAL ST_PointOnSurface(b.geom) AS c
"""

_CANDIDATES = _CANDIDATE_ROWS + """    WHERE q.key <%% b.address_key
    -- among similar keys, prefer the building whose road name best matches
    -- part of the query: door numbers repeat on every road, road names do not
    ORDER BY strpos(b.address_key, q.key) > 0 DESC,
             word_similarity(q.key, b.address_key) + word_similarity(b.road, q.key) / 2 DESC,
             length(b.address_key), b.id
    LIMIT %(limit)s
"""

# the query names a road wangge knows (a suffix of the text before a road
# word) and a door number: then only that door on that road is a match
_NAMED_ROAD = """
    WITH m AS (
        SELECT regexp_match(wangge_address_key(%(q)s), '^(.*?(?:路|大道|街|巷))([0-9]{1,6})号') AS g)
    SELECT known.road, m.g[2]::int AS door
    FROM m, generate_series(2, 16) AS n,
         LATERAL (SELECT road FROM buildings WHERE road = right(m.g[1], n) LIMIT 1) AS known
    WHERE m.g IS NOT NULL
    ORDER BY length(known.road) DESC
    LIMIT 1
"""

_ON_ROAD_AT_DOOR = _CANDIDATE_ROWS + """
    WHERE b.road = %(road)s AND b.door_number = %(door)s
    ORDER BY strpos(b.address_key, q.key) > 0 DESC, word_similarity(q.key, b.address_key) DESC,
             b.building_no, b.id
    LIMIT %(limit)s
"""

# that door does not exist: the nearest door numbers on the road are the
# most useful suggestions
_NEAR_DOORS = """
    SELECT address FROM buildings WHERE road = %(road)s
    ORDER BY abs(door_number - %(door)s), door_number, building_no, id
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
    named = await one_row(conn, _NAMED_ROAD, {"q": query})
    if named is not None:
        params = {"q": query, "road": named["road"], "door": named["door"], "limit": limit}
        rows = await all_rows(conn, _ON_ROAD_AT_DOOR, params)
        if rows:
            return [Candidate(**row) for row in rows]
        suggestions = [row["address"] for row in await all_rows(conn, _NEAR_DOORS, params)]
        raise NotFound(f"no door {named['door']} on {named['road']}", suggestions=suggestions)
    async with conn.transaction():
        # the index operator <% uses this threshold; keep it local to the transaction
        await conn.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                           (str(MATCH_THRESHOLD),))
        rows = await all_rows(conn, _CANDIDATES, {"q": query, "limit": limit})
    if rows:
        return [Candidate(**row) for row in rows]
    suggestions = [row["address"] for row in await all_rows(conn, _SIMILAR, {"q": query, "limit": limit})]
    raise NotFound(f"no address matches '{query[:100]}'", suggestions=suggestions)
