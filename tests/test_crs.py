import dataclasses
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer

from geo import crs as crs_module
from geo.crs import (
    BD09,
    CGCS2000,
    GCJ02,
    WGS84,
    Crs,
    CrsError,
    from_wgs84,
    metric_crs_for,
    parse_crs,
    to_wgs84,
)

GEOD = Geod(ellps="WGS84")
GK_117 = Crs("EPSG:4548", 4548)  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
UNKNOWN_HINT = "use wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, WGS84),
        ("", WGS84),
        ("  ", WGS84),
        ("wgs84", WGS84),
        ("WGS84", WGS84),
        ("CGCS2000", CGCS2000),
        (" Gcj02 ", GCJ02),
        ("bd09", BD09),
        ("EPSG:4326", WGS84),
        ("epsg:4490", CGCS2000),
        ("EPSG:4548", GK_117),
        ("urn:ogc:def:crs:EPSG::4548", GK_117),
        ("urn:ogc:def:crs:EPSG:9.8.15:4548", GK_117),
        ("http://www.opengis.net/def/crs/EPSG/0/4548", GK_117),
        ("urn:ogc:def:crs:EPSG::4326", WGS84),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", WGS84),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", WGS84),
        ("OGC:CRS84", WGS84),
        ("EPSG:3857", Crs("EPSG:3857", 3857)),
        ("EPSG:32650", Crs("EPSG:32650", 32650)),
    ],
)
def test_parse_crs(text, expected):
    assert parse_crs(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", f"unknown coordinate system 'foo'; {UNKNOWN_HINT}"),
        ("EPSG:999999", f"unknown coordinate system 'EPSG:999999'; {UNKNOWN_HINT}"),
        ("EPSG:", f"unknown coordinate system 'EPSG:'; {UNKNOWN_HINT}"),
        ("EPSG:4548x", f"unknown coordinate system 'EPSG:4548x'; {UNKNOWN_HINT}"),
        ("gcj-03", f"unknown coordinate system 'gcj-03'; {UNKNOWN_HINT}"),
        ("EPSG:5773", "EPSG:5773 is not a 2D geographic or projected coordinate system"),
        ("EPSG:4979", "EPSG:4979 is not a 2D geographic or projected coordinate system"),
    ],
)
def test_parse_crs_rejects(text, message):
    with pytest.raises(CrsError) as err:
        parse_crs(text)
    assert str(err.value) == message


def test_crs_error_is_a_value_error_with_a_short_public_message():
    with pytest.raises(ValueError) as err:
        parse_crs("x" * 500)
    assert len(str(err.value)) < 150
    assert "proj" not in str(err.value).lower()


def test_crs_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WGS84.name = "gcj02"  # type: ignore[misc]


def test_geographic_systems_pass_through():
    assert to_wgs84(116, 40, WGS84) == (116.0, 40.0)
    assert to_wgs84(116.4, 39.9, CGCS2000) == (116.4, 39.9)
    assert from_wgs84(-74.0, 40.7, WGS84) == (-74.0, 40.7)


def test_gcj02_and_bd09_use_the_published_shift():
    # wandergis/coordtransform README: wgs84togcj02(116.404, 39.915).
    lon, lat = to_wgs84(116.41024449916938, 39.91640428150164, parse_crs("gcj02"))
    assert (lon, lat) == pytest.approx((116.404, 39.915), abs=1e-8)
    assert from_wgs84(116.404, 39.915, GCJ02) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts: WGS84 (123, 45) -> BD09.
    assert from_wgs84(123.0, 45.0, BD09) == pytest.approx((123.0124491, 45.0083293), abs=2e-7)


# --- Gauss-Krüger, checked against PROJ set up two other ways ---

# The zone's inverse projection spelt out by hand, without the EPSG registry.
PIPELINE_117E = Transformer.from_pipeline(
    "+proj=pipeline +step +inv +proj=tmerc +lat_0=0 +lon_0=117 +k=1 +x_0=500000 +y_0=0"
    " +ellps=GRS80 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
)
# The registry's own axis order: northing first in, latitude first out.
REGISTRY_ORDER = Transformer.from_crs("EPSG:4548", "EPSG:4490")

# Inside the zone's area of use (115.5..118.5E, 22.6..49.88N).
easting = st.floats(min_value=420_000.0, max_value=580_000.0)
northing = st.floats(min_value=2_600_000.0, max_value=5_500_000.0)


@settings(deadline=None)
@given(easting, northing)
def test_gauss_kruger_matches_independent_transformers(x, y):
    lon, lat = to_wgs84(x, y, GK_117)
    assert (lon, lat) == pytest.approx(PIPELINE_117E.transform(x, y), abs=1e-9)
    lat_first, lon_second = REGISTRY_ORDER.transform(y, x)
    assert (lon, lat) == pytest.approx((lon_second, lat_first), abs=1e-9)
    assert from_wgs84(lon, lat, GK_117) == pytest.approx((x, y), abs=1e-4)


def test_gauss_kruger_central_meridian():
    # A point on the false easting lies on the central meridian, whatever the northing.
    lon, lat = to_wgs84(500_000.0, 4_417_000.0, parse_crs("EPSG:4548"))
    assert lon == pytest.approx(117.0, abs=1e-12)
    assert 39.8 < lat < 39.9


def test_transformers_are_cached():
    to_wgs84(500_000.0, 3_500_000.0, GK_117)
    before = crs_module.transformer.cache_info()
    to_wgs84(510_000.0, 3_600_000.0, GK_117)
    after = crs_module.transformer.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 1


china_lon = st.floats(min_value=73.5, max_value=134.8)
china_lat = st.floats(min_value=18.0, max_value=53.5)


@settings(deadline=None)
@given(china_lon, china_lat, st.sampled_from([GCJ02, BD09]))
def test_from_wgs84_inverts_to_wgs84(lon, lat, crs):
    x, y = from_wgs84(lon, lat, crs)
    back = to_wgs84(x, y, crs)
    assert GEOD.inv(lon, lat, *back)[2] < 0.5


def test_area_of_use_crossing_the_antimeridian():
    pdc_mercator = parse_crs("EPSG:3832")  # area of use 98.69E eastwards to 68W
    for lon in (120.0, 179.9, -170.0):
        x, y = from_wgs84(lon, 10.0, pdc_mercator)
        assert to_wgs84(x, y, pdc_mercator) == pytest.approx((lon, 10.0), abs=1e-9)
    with pytest.raises(CrsError, match="outside the area of use of EPSG:3832"):
        from_wgs84(0.0, 10.0, pdc_mercator)


def test_other_geographic_epsg_is_range_checked_and_area_checked():
    beijing_1954 = parse_crs("EPSG:4214")
    lon, lat = to_wgs84(116.4, 39.9, beijing_1954)
    assert GEOD.inv(lon, lat, 116.4, 39.9)[2] < 500.0
    with pytest.raises(CrsError, match="longitude 181 is outside -180 to 180"):
        to_wgs84(181.0, 39.9, beijing_1954)
    with pytest.raises(CrsError, match="outside the area of use of EPSG:4214"):
        to_wgs84(2.35, 48.85, beijing_1954)


# --- Every rejected point ---

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("x", "y", "crs", "message"),
    [
        (NAN, 39.9, WGS84, "coordinates must be finite numbers"),
        (116.4, NAN, GCJ02, "coordinates must be finite numbers"),
        (INF, 39.9, WGS84, "coordinates must be finite numbers"),
        (500_000.0, -INF, GK_117, "coordinates must be finite numbers"),
        (116.4, 91.0, WGS84, "latitude 91 is outside -90 to 90"),
        (116.4, -90.5, CGCS2000, "latitude -90.5 is outside -90 to 90"),
        (181.0, 39.9, WGS84, "longitude 181 is outside -180 to 180"),
        (181.0, 39.9, GCJ02, "longitude 181 is outside -180 to 180"),
        (2.35, 48.85, GCJ02, "point (2.35, 48.85) is outside China, where gcj02 is not defined"),
        (2.35, 48.85, BD09, "point (2.35, 48.85) is outside China, where bd09 is not defined"),
        # A zone-prefixed easting from the 3-degree "zone 39" system.
        (
            39_500_000.0,
            3_500_000.0,
            GK_117,
            "point (39500000, 3500000) is outside the area of use of EPSG:4548",
        ),
        # Projects fine, but 8 degrees east of the zone (lon ~125).
        (
            1_300_000.0,
            4_000_000.0,
            GK_117,
            "point (1300000, 4000000) is outside the area of use of EPSG:4548",
        ),
        (500_000.0, 0.0, GK_117, "point (500000, 0) is outside the area of use of EPSG:4548"),
        (0.0, 0.0, Crs("foo", None), "unknown coordinate system 'foo'"),
    ],
)
def test_to_wgs84_rejects(x, y, crs, message):
    with pytest.raises(CrsError) as err:
        to_wgs84(x, y, crs)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("lon", "lat", "crs", "message"),
    [
        (NAN, 39.9, GCJ02, "coordinates must be finite numbers"),
        (116.4, 91.0, GK_117, "latitude 91 is outside -90 to 90"),
        (181.0, 0.0, WGS84, "longitude 181 is outside -180 to 180"),
        (2.35, 48.85, GCJ02, "point (2.35, 48.85) is outside China, where gcj02 is not defined"),
        (2.35, 48.85, GK_117, "point (2.35, 48.85) is outside the area of use of EPSG:4548"),
        (125.0, 40.0, GK_117, "point (125, 40) is outside the area of use of EPSG:4548"),
    ],
)
def test_from_wgs84_rejects(lon, lat, crs, message):
    with pytest.raises(CrsError) as err:
        from_wgs84(lon, lat, crs)
    assert str(err.value) == message


def test_area_margin_accepts_a_neighbouring_zone_edge():
    # 118.8E is in the CM 120E zone but a surveyor may well keep CM 117E.
    x, y = from_wgs84(118.8, 32.0, GK_117)
    assert to_wgs84(x, y, GK_117) == pytest.approx((118.8, 32.0), abs=1e-9)


# --- metric_crs_for ---


@pytest.mark.parametrize(
    ("lon", "code"),
    [
        (73.5, 4534),
        (75.0, 4534),
        (76.49, 4534),
        (76.5, 4535),  # half-way goes east
        (116.404, 4548),  # Beijing, CM 117E
        (121.47, 4549),  # Shanghai, CM 120E
        (113.26, 4547),  # Guangzhou, CM 114E
        (135.0, 4554),
        (136.5, 4554),
    ],
)
def test_metric_crs_for(lon, code):
    assert metric_crs_for(lon) == code


@given(st.floats(min_value=73.5, max_value=136.5))
def test_metric_crs_for_names_the_nearest_central_meridian(lon):
    name = CRS.from_epsg(metric_crs_for(lon)).name
    match = re.fullmatch(r"CGCS2000 / 3-degree Gauss-Kruger CM (\d+)E", name)
    assert match is not None, name
    assert abs(int(match.group(1)) - lon) <= 1.5


@pytest.mark.parametrize("lon", [73.49, 136.51, -117.0, NAN, INF])
def test_metric_crs_for_rejects(lon):
    with pytest.raises(CrsError, match="outside China's Gauss-Krüger zones"):
        metric_crs_for(lon)
