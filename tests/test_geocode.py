"""Geocode Chinese address text against the buildings table, offline."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def known(sync_ro: psycopg.Connection) -> tuple[str, str, int, int, str]:
    row = sync_ro.execute("""
        SELECT address, road, door_number, building_no, id FROM buildings
        WHERE road = '宁国路' AND building_no = 1 ORDER BY door_number LIMIT 1""").fetchone()
    assert row is not None
    return row


def _first(client: TestClient, q: str) -> dict:
    response = client.get("/geocode", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()["candidates"][0]


def test_full_address_finds_its_building(client_ro: TestClient, known: tuple) -> None:
    address, *_, building_id = known
    best = _first(client_ro, address)
    assert best["id"] == building_id and best["exact"] is True and best["score"] == 1.0


@pytest.mark.parametrize("variant", [
    "{street}{road}{door}号1栋",        # without province/city/district
    "包河区{street}{road}{door}号1栋",   # with district only
    "{road}{fw}号1栋",                  # full-width digits
    "{road}{door}號1幢",               # traditional 號 and 幢
    "{road}{door}号1号楼",              # 号楼 for 栋
    "{road} {door} 号 1 栋",            # spaces
])
def test_variants_find_the_same_building(client_ro: TestClient, known: tuple, variant: str) -> None:
    address, road, door, _, building_id = known
    street = address[address.index("包河区") + 3: address.index(road)]
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in str(door))
    q = variant.format(street=street, road=road, door=door, fw=fullwidth)
    assert _first(client_ro, q)["id"] == building_id


def test_small_typo_still_finds_the_road(client_ro: TestClient, known: tuple) -> None:
    _, road, door, _, _ = known
    typo = road[0] + "果" + road[2:]  # 宁果路
    best = _first(client_ro, f"{typo}{door}号1栋")
    assert best["address"].endswith(f"{road}{door}号1栋")


def test_candidates_carry_a_point_inside_the_building(client_ro: TestClient, sync_ro: psycopg.Connection,
                                                     known: tuple) -> None:
    best = _first(client_ro, known[0])
    row = sync_ro.execute("SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM buildings WHERE id = %s",
                          (best["lon"], best["lat"], best["id"])).fetchone()
    assert row == (True,)


def test_unknown_door_suggests_nearest_doors_on_the_road(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    doors = [r[0] for r in sync_ro.execute("SELECT DISTINCT door_number FROM buildings WHERE road = '宁国路'")]
    missing = next(n for n in range(1, 2000) if n not in doors)
    response = client_ro.get("/geocode", params={"q": f"宁国路{missing}号"})
    assert response.status_code == 404
    suggestions = response.json()["suggestions"]
    assert suggestions and all("宁国路" in s for s in suggestions)
    nearest = min(doors, key=lambda d: (abs(d - missing), d))
    assert f"宁国路{nearest}号" in suggestions[0]


def test_nonsense_is_404_with_suggestions(client_ro: TestClient) -> None:
    response = client_ro.get("/geocode", params={"q": "火星基地一号"})
    assert response.status_code == 404
    assert len(response.json()["suggestions"]) == 5


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x"}, {"q": "宁" * 201}, {"q": "宁国路", "limit": 0},
                                    {"q": "宁国路", "limit": 21}])
def test_bad_queries_are_422(client_ro: TestClient, params: dict) -> None:
    assert client_ro.get("/geocode", params=params).status_code == 422
