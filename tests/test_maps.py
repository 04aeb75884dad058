"""The command-view builders and the /maps routes: rendered HTML holds layers, URLs, bounds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.auth import COOKIE, issue_token
from api.display import display_bounds, display_geometry
from api.mapviews import view_urls
from geo.chinacrs import wgs84_to_gcj02
from layers.areas import Area, ChildOutline
from layers.indicators import ChildIndicators, OverdueCase
from maps import style
from maps.assets import unknown_external_urls
from maps.basemap import Basemap
from maps.command import CommandView, render_command_page
from tests.conftest import make_client

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[117.2, 31.8], [117.3, 31.8], [117.3, 31.9], [117.2, 31.9], [117.2, 31.8]]],
}


def sample_view(**overrides: object) -> CommandView:
    area = Area(
        "district",
        "340111",
        "包河区",
        {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]},
        (117.2, 31.8, 117.3, 31.9),
        None,
    )
    children = [
        ChildOutline("340111001", "Street <One>", SQUARE),
        ChildOutline("340111002", "Street Two", SQUARE),
    ]
    indicators = [
        ChildIndicators("340111001", "Street <One>", 10, 3, 4, 3),
        ChildIndicators("340111002", "Street Two", 2, 0, 0, 0),
    ]
    overdue = [
        OverdueCase(
            7,
            "占道经营",
            "handling",
            datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
            "芜湖路1号",
            "340111001",
        )
    ]
    values: dict[str, object] = {
        "area": area,
        "children": children,
        "indicators": indicators,
        "overdue": overdue,
        "indicator": "open_cases",
        "urls": view_urls("", "district", "340111", "open_cases", False),
    }
    values.update(overrides)
    return CommandView(**values)  # type: ignore[arg-type]


def config_of(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="wangge-config">(.*?)</script>', html, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def test_page_has_layers_urls_and_bounds() -> None:
    html = render_command_page(sample_view())
    assert unknown_external_urls(html) == []
    for name in (
        "网格 Grids",
        "建筑 Buildings",
        "在办案件 Open cases",
        "队伍 Teams",
        "易涝点 Waterlogging",
        "摄像头 Cameras",
        "摊群点 Stall zones",
        "近7天热力 Case heat (7 days)",
    ):
        assert json.dumps(name)[1:-1] in html  # layer names sit in the script, JSON-escaped
    assert "L.control.layers" in html
    assert "/tiles/grids/{z}/{x}/{y}.pbf" in html and "/tiles/buildings/{z}/{x}/{y}.pbf" in html
    assert "fitBounds" in html and "[31.8, 117.2]" in html and "[31.9, 117.3]" in html
    assert "/static/wangge/wall.js" in html and "/static/wangge/wall.css" in html
    config = config_of(html)
    assert config["live"] == "/live/340111/{layer}"
    assert config["childUrls"]["340111001"] == "/maps/street/340111001?indicator=open_cases"
    assert config["kiosk"] is False and config["display"] == "wgs84"


def test_names_are_escaped_in_the_panel() -> None:
    html = render_command_page(sample_view())
    assert "Street &lt;One&gt;" in html and "Street <One>" not in html.split("wangge-config")[0]
    assert "#7" in html and "占道经营" in html  # the overdue case is listed


def test_children_are_shaded_by_the_indicator() -> None:
    html = render_command_page(sample_view(indicator="overdue_cases"))
    s = style.INDICATOR_STYLES["overdue_cases"]
    breaks = style.class_breaks([3, 0], style=s)
    assert style.shade(s, 3, breaks) in html and style.shade(s, 0, breaks) in html
    assert style.shade(s, 3, breaks) != style.shade(s, 0, breaks)


def test_on_time_rate_shades_high_as_good_and_none_as_no_data() -> None:
    s = style.INDICATOR_STYLES["on_time_rate"]
    breaks = style.class_breaks([0.2, 1.0], style=s)
    assert style.shade(s, 1.0, breaks) == style.RAMP[0]  # the good end of the ramp
    assert style.shade(s, 0.2, breaks) == style.RAMP[-1]
    assert style.shade(s, None, breaks) == style.NO_DATA
    assert style.format_value(s, 0.75) == "75%" and style.format_value(s, None) == "–"


def test_kiosk_hides_controls_and_keeps_kiosk_in_links() -> None:
    urls = view_urls("", "street", "340111001", "on_time_rate", True)
    html = render_command_page(sample_view(kiosk=True, urls=urls))
    assert config_of(html)["kiosk"] is True
    assert "L.control.fullscreen" not in html and '"zoomControl": false' in html
    assert urls.up == "/maps/district/340111?indicator=on_time_rate&kiosk=true"


def test_community_children_have_no_view() -> None:
    urls = view_urls("", "community", "340111001001", "open_cases", False)
    assert urls.child_view is None and urls.up == "/maps/street/340111001?indicator=open_cases"


def test_basemap_is_configurable_and_plain_by_default() -> None:
    assert "L.tileLayer(" not in render_command_page(sample_view())
    html = render_command_page(
        sample_view(basemap=Basemap("http://tiles.local/{z}/{x}/{y}.png", "© city", "gcj02"))
    )
    assert 'L.tileLayer(\n                "http://tiles.local/{z}/{x}/{y}.png"' in html
    assert json.dumps("© city")[1:-1] in html
    assert config_of(html)["display"] == "gcj02"
    with pytest.raises(ValueError):
        Basemap("http://tiles.local/{z}/{x}/{y}.png")  # no attribution


def test_gcj02_display_shifts_overlays_not_data() -> None:
    shifted = display_geometry(SQUARE, "gcj02")
    lon, lat = wgs84_to_gcj02(117.2, 31.8)
    assert shifted["coordinates"][0][0] == pytest.approx([lon, lat])
    assert SQUARE["coordinates"][0][0] == [117.2, 31.8]
    assert display_geometry(SQUARE, "wgs84") is SQUARE
    assert display_bounds((117.2, 31.8, 117.3, 31.9), "gcj02")[0] == pytest.approx(lon)


# --- the routes, on the demo city ------------------------------------------------------------


def token(client: TestClient, area: str = "340111") -> str:
    return issue_token(client.app.state.token_secret, "operator", area)


def test_district_view_needs_a_covering_token(client_ro: TestClient) -> None:
    assert client_ro.get("/maps/district/340111").status_code == 401
    other = client_ro.get("/maps/district/340111", params={"token": token(client_ro, "340111001")})
    assert other.status_code == 403


def test_district_view_renders_its_streets(client_ro: TestClient) -> None:
    issued = token(client_ro)  # once: a token names the second it was issued
    r = client_ro.get("/maps/district/340111", params={"token": issued})
    assert r.status_code == 200, r.text
    assert r.cookies.get(COOKIE) == issued
    client_ro.cookies.clear()  # the shared client must not carry this token into other tests
    config = config_of(r.text)
    assert len(config["childUrls"]) >= 5
    assert all(url.startswith("/maps/street/340111") for url in config["childUrls"].values())
    assert len(r.content) < 300_000
    assert unknown_external_urls(r.text) == []


def test_street_and_community_views(client_ro: TestClient) -> None:
    headers = {"Authorization": f"Bearer {token(client_ro)}"}
    district = config_of(client_ro.get("/maps/district/340111", headers=headers).text)
    street_code = sorted(district["childUrls"])[0]
    street = client_ro.get(f"/maps/street/{street_code}", headers=headers)
    assert street.status_code == 200 and "/maps/district/340111" in street.text
    community_code = sorted(config_of(street.text)["childUrls"])[0]
    community = client_ro.get(
        f"/maps/community/{community_code}", params={"indicator": "on_time_rate"}, headers=headers
    )
    assert community.status_code == 200
    assert config_of(community.text)["childUrls"] == {}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/maps/district/34011", 422),
        ("/maps/district/340111001", 422),
        ("/maps/town/340111", 422),
        ("/maps/district/340111?indicator=bogus", 422),
        ("/maps/district/999999", 404),
    ],
)
def test_bad_view_requests(client_ro: TestClient, path: str, status: int) -> None:
    admin = issue_token(client_ro.app.state.token_secret, "admin", "999999")
    area_token = token(client_ro) if "999999" not in path else admin
    assert (
        client_ro.get(path, headers={"Authorization": f"Bearer {area_token}"}).status_code == status
    )


def test_maps_redirects_to_the_callers_area(client_ro: TestClient) -> None:
    r = client_ro.get(
        "/maps",
        headers={"Authorization": f"Bearer {token(client_ro, '340111001')}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/maps/street/340111001")


def test_gcj02_basemap_shifts_the_page(demo_ro: str) -> None:
    with make_client(
        demo_ro,
        basemap_url="http://tiles.local/{z}/{x}/{y}.png",
        basemap_attribution="© city",
        basemap_crs="gcj02",
    ) as client:
        html = client.get("/maps/district/340111", params={"token": token(client)}).text
    assert config_of(html)["display"] == "gcj02"
    assert "http://tiles.local/{z}/{x}/{y}.png" in html


def test_static_assets_are_served(client_ro: TestClient) -> None:
    assert client_ro.get("/static/wangge/wall.js").status_code == 200
    assert client_ro.get("/static/vendor/leaflet@1.9.3/dist/leaflet.js").status_code == 200


@pytest.mark.parametrize(
    ("values", "labels"),
    [
        ([0, 1, 2, 3], ["0", "1", "2", "3"]),  # issue 11 saw "≤2, 2–2, 2–3"
        ([0, 0, 0], ["0"]),  # and "≤0, 0–0"
        ([2, 2], ["0–2"]),
        ([0, 3, 57], ["0", "1–15", "16–30", "31–45", "46–57"]),
    ],
)
def test_class_breaks_never_repeat_and_zero_is_its_own_class(values: list[int], labels: list[str]) -> None:
    s = style.INDICATOR_STYLES["open_cases"]
    breaks = style.class_breaks(values, style=s)
    entries = style.legend_entries(s, breaks)
    assert [label for _, label in entries] == labels
    assert len({colour for colour, _ in entries}) == len(entries)
    for v in values:  # every value is shaded with the colour of the class its label covers
        colour = style.shade(s, v, breaks)
        label = dict(entries)[colour]
        low, _, high = label.partition("–")
        assert int(low) <= v <= int(high or low)


def test_percent_breaks_are_whole_percents_as_shown() -> None:
    s = style.INDICATOR_STYLES["on_time_rate"]
    entries = style.legend_entries(s, style.class_breaks([0.801, 0.804, None], style=s), no_data=True)
    assert [label for _, label in entries] == ["0%–80%", "无数据 no data"]
