import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo.chinacrs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    gcj02_to_wgs84_array,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
    wgs84_to_gcj02_array,
)

GEOD = Geod(ellps="WGS84")
ROUND_TRIP_M = 0.5  # the module's contract; it measures 0.15 mm

# --- Published reference values, (lon, lat) pairs, never produced by geo.chinacrs ---

# wandergis/coordtransform, README.md "示例用法" (https://github.com/wandergis/coordtransform):
#   wgs84togcj02(116.404, 39.915) -> [116.41024449916938, 39.91640428150164]
#   gcj02tobd09(116.404, 39.915)  -> [116.41036949371029, 39.92133699351021]
#   bd09togcj02(116.404, 39.915)  -> [116.39762729119315, 39.90865673957631]  (one-step inverse)
# googollee/eviltransform, python/test.py, TESTS given there as (wgsLat, wgsLng, gcjLat, gcjLng)
#   and rewritten here lon first.
# hujiulong/gcoord, test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts, all from (123, 45), 8 decimals.
WGS84_TO_GCJ02 = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),  # coordtransform
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), 1e-9),  # eviltransform
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), 1e-9),  # eviltransform
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), 1e-9),  # eviltransform
    ((123.0, 45.0), (123.00607541, 45.00197815), 2e-8),  # gcoord
]
GCJ02_TO_BD09 = [
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021), 1e-9),  # coordtransform
    ((123.0, 45.0), (123.00636499, 45.00636899), 2e-8),  # gcoord
]
WGS84_TO_BD09 = [((123.0, 45.0), (123.0124491, 45.0083293), 2e-7)]  # gcoord, 7 decimals

# Values from libraries whose inverses are approximate (one-step formula or a
# coarse iteration): they bound our exact inverse only to within their error.
BD09_TO_GCJ02_APPROX = [
    ((116.404, 39.915), (116.39762729119315, 39.90865673957631)),  # coordtransform
    ((123.0, 45.0), (122.99363304, 44.99365430)),  # gcoord
]
GCJ02_TO_WGS84_APPROX = [((123.0, 45.0), (122.99395597, 44.99804071))]  # gcoord
BD09_TO_WGS84_APPROX = [((123.0, 45.0), (122.98762210, 44.99171540))]  # gcoord

# hujiulong/gcoord, test/fixtures/china-cities.json: WGS84, GCJ02 and BD09 of
# city centres. Its GCJ-02 column sits a steady ~0.6 m from the published
# formula (it seems to come from a map service), so that column is checked to
# 1e-5 degree; its BD-09 column follows the formula to its 7 decimals.
CITIES = {
    "Zhumadian": ((114.0164322, 33.0133556), (114.022306, 33.0115324), (114.0287781, 33.0176697)),
    "Nagqu": ((92.0499619, 31.4784436), (92.0512438, 31.4762063), (92.0576832, 31.4824421)),
    "Shenyang": ((123.4253306, 41.8032629), (123.4314787, 41.8057023), (123.438095, 41.8114013)),
    "Jiuquan": ((98.4937175, 39.7319946), (98.4943595, 39.7328234), (98.5008441, 39.7388949)),
    "Qinzhou": ((108.6503952, 21.9828281), (108.6541485, 21.9799392), (108.6607283, 21.9856319)),
}


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


@pytest.mark.parametrize(("wgs", "gcj", "tol"), WGS84_TO_GCJ02)
def test_wgs84_to_gcj02_matches_published_values(wgs, gcj, tol):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=tol)


@pytest.mark.parametrize(("wgs", "gcj", "tol"), WGS84_TO_GCJ02)
def test_gcj02_to_wgs84_inverts_published_values(wgs, gcj, tol):
    # A one-step inverse would miss by metres; the published pairs are precise
    # enough to demand a centimetre.
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 0.01


@pytest.mark.parametrize(("gcj", "bd", "tol"), GCJ02_TO_BD09)
def test_gcj02_to_bd09_matches_published_values(gcj, bd, tol):
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=tol)
    assert metres(bd09_to_gcj02(*bd), gcj) < 0.01


@pytest.mark.parametrize(("wgs", "bd", "tol"), WGS84_TO_BD09)
def test_wgs84_to_bd09_matches_published_values(wgs, bd, tol):
    assert wgs84_to_bd09(*wgs) == pytest.approx(bd, abs=tol)


@pytest.mark.parametrize(
    ("convert", "source", "approx_target"),
    [(bd09_to_gcj02, s, t) for s, t in BD09_TO_GCJ02_APPROX]
    + [(gcj02_to_wgs84, s, t) for s, t in GCJ02_TO_WGS84_APPROX]
    + [(bd09_to_wgs84, s, t) for s, t in BD09_TO_WGS84_APPROX],
)
def test_inverses_agree_with_approximate_published_inverses(convert, source, approx_target):
    # gcoord checks these to 5 decimals (about 0.5 m); the one-step BD-09
    # inverse is off by up to 0.21 m over China.
    assert metres(convert(*source), approx_target) < 0.5


@pytest.mark.parametrize("city", sorted(CITIES))
def test_city_fixture(city):
    wgs, gcj, bd = CITIES[city]
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-5)
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-7)
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 1.5


@pytest.mark.parametrize(
    ("lon", "lat", "outside"),
    [
        (116.4, 39.9, False),
        (72.004, 30.0, False),  # edges belong to the rectangle
        (137.8347, 55.8271, False),
        (100.0, 0.8293, False),
        (72.0039, 30.0, True),
        (137.8348, 30.0, True),
        (100.0, 0.8292, True),
        (100.0, 55.8272, True),
        (2.35, 48.85, True),
        (math.nan, 30.0, True),
        (116.4, math.inf, True),
    ],
)
def test_out_of_china(lon, lat, outside):
    assert out_of_china(lon, lat) is outside


# Inset from the rectangle: within ~0.01 degree of its edge the shift can
# carry a point across it, and the inverse is documented to fail there.
china_lon = st.floats(min_value=72.054, max_value=137.7847)
china_lat = st.floats(min_value=0.8793, max_value=55.7771)


@given(china_lon, china_lat)
def test_gcj02_round_trip_within_half_a_metre(lon, lat):
    gcj = wgs84_to_gcj02(lon, lat)
    back = gcj02_to_wgs84(*gcj)
    assert metres(back, (lon, lat)) < ROUND_TRIP_M
    assert wgs84_to_gcj02(*back) == pytest.approx(gcj, abs=1e-9)


@given(china_lon, china_lat)
def test_gcj02_shift_is_under_a_kilometre(lon, lat):
    assert 0.0 <= metres(wgs84_to_gcj02(lon, lat), (lon, lat)) < 1000.0


@given(china_lon, china_lat)
def test_bd09_round_trips_within_half_a_metre(lon, lat):
    bd = gcj02_to_bd09(lon, lat)
    back = bd09_to_gcj02(*bd)
    assert metres(back, (lon, lat)) < ROUND_TRIP_M
    assert gcj02_to_bd09(*back) == pytest.approx(bd, abs=1e-9)
    assert metres(bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), (lon, lat)) < ROUND_TRIP_M
    # BD-09 sits about 0.0065 by 0.006 degree north-east of GCJ-02: up to
    # 1.0 km near the equator.
    assert 500.0 < metres(bd, (lon, lat)) < 1100.0


outside_lon = st.one_of(
    st.floats(min_value=-180.0, max_value=72.003), st.floats(min_value=137.835, max_value=180.0)
)


@given(outside_lon, st.floats(min_value=-90.0, max_value=90.0))
def test_gcj02_is_identity_outside_china(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


@settings(deadline=None)
@given(st.lists(st.tuples(china_lon, china_lat), min_size=1, max_size=30))
def test_array_variants_agree_with_scalars(points):
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    gcj_lons, gcj_lats = wgs84_to_gcj02_array(lons, lats)
    for i, point in enumerate(points):
        assert (gcj_lons[i], gcj_lats[i]) == pytest.approx(wgs84_to_gcj02(*point), abs=1e-12)
    wgs_lons, wgs_lats = gcj02_to_wgs84_array(gcj_lons, gcj_lats)
    _, _, dist = GEOD.inv(wgs_lons, wgs_lats, lons, lats)
    assert np.max(dist) < ROUND_TRIP_M


def test_arrays_keep_shape_and_pass_outside_points_through():
    lons = np.array([[116.404, 2.35], [math.nan, 121.47]])
    lats = np.array([[39.915, 48.85], [30.0, 31.23]])
    gcj_lons, gcj_lats = wgs84_to_gcj02_array(lons, lats)
    assert gcj_lons.shape == (2, 2)
    assert (gcj_lons[0, 0], gcj_lats[0, 0]) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert (gcj_lons[0, 1], gcj_lats[0, 1]) == (2.35, 48.85)
    wgs_lons, wgs_lats = gcj02_to_wgs84_array(gcj_lons, gcj_lats)
    assert math.isnan(wgs_lons[1, 0])
    # The NaN neighbour must not stop the others from converging.
    assert metres((wgs_lons[1, 1], wgs_lats[1, 1]), (121.47, 31.23)) < 0.001
    assert (wgs_lons[0, 1], wgs_lats[0, 1]) == (2.35, 48.85)


def test_empty_arrays():
    lons, lats = gcj02_to_wgs84_array([], [])
    assert lons.shape == lats.shape == (0,)


ALL_SCALAR = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


@pytest.mark.parametrize("convert", ALL_SCALAR)
@pytest.mark.parametrize("point", [(math.nan, 39.9), (116.4, math.inf), (-math.inf, math.nan)])
def test_non_finite_points_come_back_unchanged(convert, point):
    result = convert(*point)
    for got, given_value in zip(result, point, strict=True):
        assert got == given_value or (math.isnan(got) and math.isnan(given_value))


def test_non_finite_array_points_come_back_unchanged():
    lons, lats = gcj02_to_wgs84_array([math.inf, math.nan], [39.9, 39.9])
    assert lons[0] == math.inf
    assert math.isnan(lons[1])
    assert list(lats) == [39.9, 39.9]


def test_scalars_return_python_floats():
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        assert all(type(v) is float for v in convert(116, 40))
        assert all(type(v) is float for v in convert(2, 48))
