"""The one snapping tolerance of every "do these areas tile their parent" check, in metres.

Kept apart (no shapely, no numpy) so the settings can name it as their
default without loading the geometry stack; :mod:`geo.planning.coverage`
exports it as well.
"""

DEFAULT_SNAP_M = 0.1
"""Snapping tolerance in metres (setting ``WANGGE_SNAP_TOLERANCE_M``).

GeoJSON rounded to 7 decimals moves a vertex by at most 0.5e-7° a side: 5.6 mm
of latitude, less of longitude, under 8 mm in all. Leaflet and many web
tools write 6 decimals: under 8 cm in all (0.5e-6° is 5.6 cm of latitude).
0.1 m takes both back to the stored vertices, and stays ten times below the
narrowest gap the report flags (``gap_width_m``, 1 m): a 1 m gap, a 0.5 m
overlap or a part 2 m outside are still reported.
"""
