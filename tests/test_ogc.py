"""OGC API - Features Part 1 (Core, GeoJSON): landing page, conformance, links, single features,
numberMatched, limit clamping, 400s, HEAD, and GDAL's OAPIF driver reading every layer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import psycopg
import pyogrio
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape

from layers.registry import LAYERS
from tests.conftest import auth
from tests.live_server import serving_process

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"


def _rels(links: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {link["rel"]: link for link in links}


def _sql_count(conn: psycopg.Connection, layer: str, bbox: tuple[float, ...] | None = None) -> int:
    spec = LAYERS[layer]
    where = "valid_to IS NULL" if spec.current_only else "true"
    if bbox:
        where += f" AND ST_Intersects({spec.geom}, ST_MakeEnvelope(%s,%s,%s,%s,4326))"
    row = conn.execute(f"SELECT count(*) FROM {spec.table} WHERE {where}", bbox).fetchone()
    assert row is not None
    return int(row[0])


def test_landing_page_links_resolve(client_ro: TestClient) -> None:
    body = client_ro.get("/").json()
    links = _rels(body["links"])
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert links["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    assert client_ro.get(links["service-desc"]["href"]).json()["paths"]
    assert "text/html" in client_ro.get(links["service-doc"]["href"]).headers["content-type"]
    assert {CORE, GEOJSON_CLASS} <= set(client_ro.get(links["conformance"]["href"]).json()["conformsTo"])
    assert len(client_ro.get(links["data"]["href"]).json()["collections"]) == len(LAYERS)


def test_collections_link_to_themselves_and_their_items(client_ro: TestClient) -> None:
    for description in client_ro.get("/collections").json()["collections"]:
        links = _rels(description["links"])
        assert client_ro.get(links["self"]["href"]).json()["id"] == description["id"]
        assert links["items"]["type"] == "application/geo+json"


def test_number_matched_is_the_postgis_count(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    bbox = (117.26, 31.76, 117.30, 31.80)
    body = client_ro.get("/collections/buildings/items?limit=5&bbox={},{},{},{}".format(*bbox)).json()
    assert body["numberMatched"] == _sql_count(sync_ro, "buildings", bbox) > 5
    assert body["numberReturned"] == len(body["features"]) == 5
    links = _rels(body["links"])
    assert {"self", "alternate", "collection", "next"} <= set(links)
    assert "prev" not in links
    assert links["alternate"]["type"] == "application/json"
    assert client_ro.get(links["alternate"]["href"]).headers["content-type"].startswith("application/json")
    assert client_ro.get(links["collection"]["href"]).json()["id"] == "buildings"


def test_last_page_has_no_next_link(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    total = _sql_count(sync_ro, "streets")
    body = client_ro.get(f"/collections/streets/items?limit=3&offset={total - 2}").json()
    assert body["numberReturned"] == 2 and body["numberMatched"] == total
    assert "next" not in _rels(body["links"]) and "prev" in _rels(body["links"])


def test_limit_above_the_maximum_is_clamped(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    response = client_ro.get("/collections/buildings/items?limit=50000")
    assert response.status_code == 200
    body = response.json()
    assert _sql_count(sync_ro, "buildings") > 10_000
    assert body["numberReturned"] == 10_000
    nxt = _rels(body["links"])["next"]["href"]
    assert "limit=10000" in nxt and "offset=10000" in nxt


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_serves_single_features(client_ro: TestClient, layer: str) -> None:
    listed = client_ro.get(f"/collections/{layer}/items?limit=2").json()["features"][-1]
    response = client_ro.get(f"/collections/{layer}/items/{listed['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    single = response.json()
    assert single["type"] == "Feature" and single["id"] == listed["id"]
    assert single["properties"] == listed["properties"]
    assert shape(single["geometry"]).equals(shape(listed["geometry"]))
    links = _rels(single["links"])
    assert {"self", "alternate", "collection"} <= set(links)
    assert client_ro.get(links["self"]["href"]).json()["id"] == listed["id"]


@pytest.mark.parametrize("feature_id", ["999999999", "abc", "1%00", "99999999999999999999999", "-1"])
def test_unknown_feature_is_a_json_404(client_ro: TestClient, feature_id: str) -> None:
    for layer in ("grids", "districts"):
        response = client_ro.get(f"/collections/{layer}/items/{feature_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found" and response.json()["detail"]


def test_unknown_parameter_on_a_feature_is_400(client_ro: TestClient) -> None:
    response = client_ro.get("/collections/grids/items/1?bbox=1,2,3,4")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.parametrize("path", ["/", "/conformance", "/collections", "/collections/grids",
                                  "/collections/grids/items?limit=3", "/collections/districts/items/340111"])
def test_head_answers_like_get_without_a_body(client_ro: TestClient, path: str) -> None:
    got = client_ro.get(path)
    head = client_ro.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


def test_head_on_a_missing_feature_is_404(client_ro: TestClient) -> None:
    assert client_ro.head("/collections/grids/items/999999999").status_code == 404


@pytest.fixture(scope="module")
def base_url(demo_ro: str) -> Iterator[str]:
    with serving_process(demo_ro) as url:
        yield url


def test_gdal_reads_every_layer(base_url: str, sync_ro: psycopg.Connection,
                                caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    # GDAL's own OAPIF driver (bundled with pyogrio) as an outside client
    source = f"OAPIF:{base_url}/"
    # pyogrio turns GDAL's warnings into Python warnings, its debug and info lines into log records
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        names = {str(name) for name, _ in pyogrio.list_layers(source)}
        assert names == set(LAYERS)
        for layer in sorted(LAYERS):
            info = pyogrio.read_info(source, layer=layer, force_feature_count=True)
            frame = pyogrio.read_dataframe(source, layer=layer)
            expected = _sql_count(sync_ro, layer)
            assert info["features"] == expected, layer
            assert len(frame) == expected, layer
            assert frame.geometry.notna().all() and frame.geometry.is_valid.all()
    gdal_problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert gdal_problems == [] and [str(w.message) for w in warned] == []
    assert "ERROR" not in capfd.readouterr().err


def test_datetime_filters_cases_by_report_time(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    row = sync_ro.execute("SELECT min(reported_at), max(reported_at) FROM incidents").fetchone()
    assert row is not None
    first, last = row
    middle = first + (last - first) / 2
    stamp = middle.isoformat()
    expected = sync_ro.execute("SELECT count(*) FROM incidents WHERE reported_at <= %s", (middle,)).fetchone()
    headers = auth(client_ro, "operator")
    for query in (f"../{stamp}", f"/{stamp}"):
        body = client_ro.get("/collections/incidents/items", params={"datetime": query, "limit": 1},
                             headers=headers).json()
        assert body["numberMatched"] == expected[0]  # type: ignore[index]
    after = client_ro.get("/collections/incidents/items", params={"datetime": f"{stamp}/..", "limit": 1},
                          headers=headers).json()
    assert 0 < after["numberMatched"] < _sql_count(sync_ro, "incidents")
    # a layer without a time of its own ignores the filter
    grids = client_ro.get("/collections/grids/items", params={"datetime": f"{stamp}/..", "limit": 1}).json()
    assert grids["numberMatched"] == _sql_count(sync_ro, "grids")


def test_a_date_is_the_whole_day_in_china_time(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    day = sync_ro.execute("SELECT (max(reported_at) AT TIME ZONE 'Asia/Shanghai')::date FROM incidents").fetchone()[0]  # type: ignore[index]
    expected = sync_ro.execute("SELECT count(*) FROM incidents WHERE (reported_at AT TIME ZONE 'Asia/Shanghai')::date "
                               "= %s", (day,)).fetchone()[0]  # type: ignore[index]
    body = client_ro.get(f"/collections/incidents/items?datetime={day.isoformat()}&limit=1",
                         headers=auth(client_ro, "operator")).json()
    assert body["numberMatched"] == expected > 0


@pytest.mark.parametrize("value", ["yesterday", "2024-05-02/2024-05-01", "2024-13-01", "a/b"])
def test_bad_datetime_is_400(client_ro: TestClient, value: str) -> None:
    response = client_ro.get("/collections/incidents/items", params={"datetime": value})
    assert response.status_code == 400 and response.json()["detail"]


_JSON_KINDS = {"integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,),
               "object": (dict, list)}


def test_every_served_property_is_in_the_schema_with_its_type(client_ro: TestClient) -> None:
    """The schema GDAL reads for field types agrees with what the items really carry, layer by layer."""
    headers = auth(client_ro, "admin")
    for name in LAYERS:
        described = client_ro.get(f"/collections/{name}", headers=headers).json()
        link = next(x for x in described["links"]
                    if x["rel"] == "describedby" and x["type"] == "application/schema+json")
        answer = client_ro.get(link["href"], headers=headers)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/schema+json")
        types = answer.json()["properties"]["properties"]["properties"]
        page = client_ro.get(f"/collections/{name}/items", params={"limit": 200}, headers=headers)
        features = page.json()["features"]
        assert features, name
        for feature in features:
            for key, value in feature["properties"].items():
                assert key in types, (name, key)
                if value is not None:
                    kind = types[key]["type"]
                    wrong_bool = kind != "boolean" and isinstance(value, bool)
                    assert isinstance(value, _JSON_KINDS[kind]) and not wrong_bool, (name, key, value, kind)
    assert client_ro.get("/collections/nothing/schema").status_code == 404
