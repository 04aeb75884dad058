"""Open311's wire formats without a server: XML rendering, form sorting, the natural retry key."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest

from api.open311_form import to_post
from api.open311_xml import to_xml
from layers.errors import InvalidInput
from layers.visibility import rounded_point


def test_xml_escapes_text_and_names_list_items_in_the_singular() -> None:
    document = to_xml("service_requests", [
        {"service_request_id": "7", "description": "<b>&\"'</b>\x00\x0b ok", "lat": 31.8, "media_url": None,
         "requested_datetime": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=8))),
         "attributes": [{"code": "a", "value": "1"}], "metadata": False},
        {"service_request_id": "8"}])
    root = ElementTree.fromstring(document)
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request", "request"]
    first = root[0]
    assert first.findtext("description") == "<b>&\"'</b> ok"  # escaped, and what XML cannot hold dropped
    assert first.findtext("lat") == "31.8" and first.find("media_url").text is None  # type: ignore[union-attr]
    assert first.findtext("requested_datetime") == "2026-01-02T03:04:05+08:00"
    assert first.findtext("attributes/attribute/code") == "a" and first.findtext("metadata") == "false"


def test_form_fields_sorted_into_values_attributes_and_media() -> None:
    post = to_post([("service_code", "01.03"), ("attribute[kind]", "x"), ("attribute[many][]", "1"),
                    ("attribute[many][]", "2"), ("media_url", "https://a/1"), ("media_url", ""),
                    ("first_name", "A"), ("last_name", ""), ("ignored", "\x00 anything"), ("lat", "")])
    assert post.values["service_code"] == "01.03" and post.get("lat") is None
    assert post.attributes == {"kind": "x", "many": ["1", "2"]}
    assert post.media_urls == ["https://a/1"] and post.reporter == {"first_name": "A"}


@pytest.mark.parametrize("fields", [
    [("service_code", "a"), ("service_code", "b")], [("description", "a\x00")], [("email", "a\nb")],
    [("media_url", "ftp://a/b")], [("attribute[x]", "\x07")], [("phone", "1" * 41)],
    [("media_url", f"http://a/{i}") for i in range(11)], [(f"attribute[a{i}]", "1") for i in range(101)],
])
def test_form_refusals(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidInput):
        to_post(fields)


def test_natural_key() -> None:
    today = date(2026, 12, 1)
    base = [("service_code", "01.03"), ("lat", "31.8"), ("long", "117.3"), ("description", "d")]
    key = to_post([*base, ("api_key", "one")]).natural_key(today)
    assert to_post([("api_key", "two"), *reversed(base)]).natural_key(today) == key
    assert to_post([*base, ("description", "d")]).natural_key(today) == key
    assert to_post(base).natural_key(today + timedelta(days=1)) != key
    assert to_post([*base[:3], ("description", "e")]).natural_key(today) != key
    by_id = to_post([*base, ("attribute[fixmystreet_id]", "9")]).natural_key(today)
    assert to_post([*base[:3], ("attribute[fixmystreet_id]", "9")]).natural_key(today + timedelta(days=3)) == by_id
    assert by_id != key and len(key) <= 200


def test_rounding_is_a_lattice_of_about_100_m() -> None:
    lon, lat = rounded_point(117.30049, 31.80051)
    assert (lon, lat) == (117.3, 31.801)
    # every point rounds to within half a step (0.0005°, under 56 m along each axis at this latitude)
    for x, y in ((117.1234567, 31.7654321), (117.9999, 31.0005), (-70.0004, -45.0006)):
        rx, ry = rounded_point(x, y)
        assert abs(rx - x) <= 0.0005 + 1e-12 and abs(ry - y) <= 0.0005 + 1e-12
        assert round(rx * 1000) == pytest.approx(rx * 1000) and round(ry * 1000) == pytest.approx(ry * 1000)
