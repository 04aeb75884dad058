"""The demo boundary file (GCJ-02) is brought to WGS84 on load."""

from __future__ import annotations

import json

import pytest
from pyproj import Geod

from api.store import DEMO_BOUNDARY
from geo.boundary import read_district
from geo.chinacrs import wgs84_to_gcj02
from layers.demo.build import District

GEOD = Geod(ellps="WGS84")


def test_boundary_converted_from_gcj02(district: District) -> None:
    raw = json.loads(DEMO_BOUNDARY.read_text(encoding="utf-8"))["features"][0]
    raw_ring = raw["geometry"]["coordinates"][0][0]
    ring = list(district.geom.geoms[0].exterior.coords)
    assert len(ring) == len(raw_ring)
    for (lon, lat), (glon, glat) in zip(ring[:50], raw_ring[:50], strict=True):
        # the GCJ-02 offset in Hefei is a few hundred metres...
        _, _, shift = GEOD.inv(lon, lat, glon, glat)
        assert 100 < shift < 1000
        # ...and shifting the converted point forward gives the file's point back
        flon, flat = wgs84_to_gcj02(lon, lat)
        assert GEOD.inv(flon, flat, glon, glat)[2] < 0.5


def test_file_without_crs_is_refused(tmp_path) -> None:
    data = json.loads(DEMO_BOUNDARY.read_text(encoding="utf-8"))
    del data["features"][0]["properties"]["crs"]
    path = tmp_path / "nocrs.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="crs"):
        read_district(path)
