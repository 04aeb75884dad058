"""Tokens: signature, expiry, role and area; the CLI prints one alone on its last line."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.auth import Unauthenticated, issue_token, verify_token
from layers.actors import Actor

SECRET = "s" * 48


def test_round_trip_and_area_prefixes() -> None:
    actor = verify_token(SECRET, issue_token(SECRET, "dispatcher", "340111002"))
    assert actor == Actor("dispatcher@340111002", "dispatcher", "340111002")
    assert actor.covers("340111002005") and actor.covers("340111002005017")
    assert not actor.covers("340111003001") and not actor.covers("340111") and not actor.covers(None)


def _parts(token: str) -> tuple[str, str, str]:
    header, claims, signature = token.split(".")
    return header, claims, signature


def test_tampered_expired_and_foreign_tokens_are_refused() -> None:
    token = issue_token(SECRET, "operator", "340111")
    header, claims, signature = _parts(token)
    forged = ".".join(_parts(issue_token(SECRET, "admin", "340111"))[:2]) + "." + signature
    for bad in (forged, f"{header}.{claims}.x", "garbage", "", token + "x", "a.b.c", "..", token[:-1] + "é",
                token[:-2] + "\u00ff\u00fe", token + "\x00"):
        with pytest.raises(Unauthenticated):
            verify_token(SECRET, bad)
    with pytest.raises(Unauthenticated):
        verify_token("another secret of enough length ........", token)
    old = issue_token(SECRET, "operator", "340111", ttl_s=60, now=1_000_000)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, old, now=1_000_061)


def test_tokens_are_standard_hs256_jwts_any_library_can_check() -> None:
    token = issue_token(SECRET, "planner", "340111001001", name="li.lei", ttl_s=3600, now=1_700_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sub": "li.lei", "role": "planner", "area": "340111001001",
                      "iat": 1_700_000_000, "exp": 1_700_003_600}
    # and a JWT another system signs with the shared secret is accepted
    theirs = jwt.encode({"sub": "hotline", "role": "operator", "area": "340111", "iat": 1, "exp": 2**31},
                        SECRET, algorithm="HS256")
    assert verify_token(SECRET, theirs) == Actor("hotline", "operator", "340111")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("claims, algorithm, key", [
    ({"sub": "x", "role": "operator", "area": "340111", "iat": 1, "exp": 2**31}, "HS512", SECRET),
    ({"sub": "x", "role": "operator", "area": "340111", "iat": 1, "exp": 2**31}, "HS256", "x" * 48),
    ({"sub": "x", "role": "operator", "area": "340111", "iat": 1}, "HS256", SECRET),
    ({"sub": "x", "role": "operator", "iat": 1, "exp": 2**31}, "HS256", SECRET),
    ({"sub": "x", "role": "king", "area": "340111", "iat": 1, "exp": 2**31}, "HS256", SECRET),
    ({"sub": "x", "role": "operator", "area": "34", "iat": 1, "exp": 2**31}, "HS256", SECRET),
    ({"sub": "x", "role": "operator", "area": 340111, "iat": 1, "exp": 2**31}, "HS256", SECRET),
    ({"sub": "x", "role": "operator", "area": "340111", "iat": 1, "exp": "never"}, "HS256", SECRET),
    ({"sub": "x", "role": "operator", "area": "340111", "iat": 1, "exp": 5}, "HS256", SECRET),
])
def test_wrong_algorithm_key_or_claims_are_refused(claims: dict, algorithm: str, key: str) -> None:
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, jwt.encode(claims, key, algorithm=algorithm))


def test_unsigned_alg_none_token_is_refused() -> None:
    unsigned = jwt.encode({"sub": "x", "role": "admin", "area": "340111", "iat": 1, "exp": 2**31}, None,
                          algorithm="none")
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, unsigned)


@pytest.mark.parametrize("role, area", [("king", "340111"), ("operator", "3401"), ("operator", "34011100")])
def test_issue_refuses_unknown_roles_and_areas(role: str, area: str) -> None:
    with pytest.raises(ValueError):
        issue_token(SECRET, role, area)


def test_bad_token_is_401_with_www_authenticate(client_ro: TestClient) -> None:
    response = client_ro.get("/incidents/1", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_in_cookie_or_query_works_too(client_ro: TestClient) -> None:
    token = issue_token(client_ro.app.state.token_secret, "operator", "340111")
    assert client_ro.get("/incidents/1", params={"token": token}).status_code == 200
    client_ro.cookies.set("wangge_token", token)
    try:
        assert client_ro.get("/incidents/1").status_code == 200
    finally:
        client_ro.cookies.clear()


def test_cli_prints_a_working_token_alone_on_its_last_line(demo_ro: str, client_ro: TestClient) -> None:
    env = {**os.environ, "DATABASE_URL": demo_ro}
    out = subprocess.run([sys.executable, "-m", "api.cli", "token", "create", "--role", "dispatcher",
                          "--area", "340111001"], env=env, capture_output=True, text=True, check=True).stdout
    token = out.strip().splitlines()[-1]
    actor = verify_token(client_ro.app.state.token_secret, token)
    assert (actor.role, actor.area) == ("dispatcher", "340111001")
    bad = subprocess.run([sys.executable, "-m", "api.cli", "token", "create", "--role", "dispatcher",
                          "--area", "12"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "area" in bad.stderr


@pytest.mark.parametrize("area", ["340111999", "340112", "340111001999", "999999"])
def test_cli_refuses_areas_that_do_not_exist(demo_ro: str, sync_ro: psycopg.Connection, area: str) -> None:
    held = sync_ro.execute("SELECT count(*) FROM (SELECT code FROM districts UNION ALL SELECT code FROM streets "
                           "UNION ALL SELECT code FROM communities) AS a WHERE code = %s", (area,)).fetchone()
    assert held == (0,)  # independent check that the area really is absent
    env = {**os.environ, "DATABASE_URL": demo_ro}
    bad = subprocess.run([sys.executable, "-m", "api.cli", "token", "create", "--role", "operator",
                          "--area", area], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and f"no district, street or community {area}" in bad.stderr
    assert "ey" not in bad.stdout  # no token printed


BAD_TOKENS = [b"abc.def.g\xc3\xa9", b"\xff\xfe", b"garbage", b"a.b.c", b"..", b"x" * 10_000]


def _bad_token_requests(client: TestClient, bad: bytes) -> list[tuple[str, dict]]:
    text = bad.decode("latin-1")
    return [("/incidents/1", {"headers": {"Authorization": b"Bearer " + bad}}),
            ("/incidents/1", {"params": {"token": text}}),
            ("/live/340111/cases", {"headers": {"Authorization": b"Bearer " + bad}}),
            ("/tiles/grids/14/13621/6640.pbf", {"headers": {"Authorization": b"Bearer " + bad}}),
            ("/maps/district/340111", {"params": {"token": text}})]


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_malformed_tokens_are_401_json_on_every_kind_of_route(client_ro: TestClient, bad: bytes) -> None:
    for path, how in _bad_token_requests(client_ro, bad):
        response = client_ro.get(path, **how)
        assert response.status_code == 401, (path, bad[:20], response.status_code, response.text[:200])
        assert response.json()["code"] == "unauthenticated" and response.json()["detail"] == "invalid token"
        assert response.headers["www-authenticate"] == "Bearer"


def test_malformed_token_in_cookie_is_401(client_ro: TestClient) -> None:
    response = client_ro.get("/incidents/1", headers={"Cookie": b"wangge_token=abc.def.ghi\xc3\xa9"})
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


def test_expired_token_is_401_naming_the_expiry(client_ro: TestClient) -> None:
    old = issue_token(client_ro.app.state.token_secret, "operator", "340111", ttl_s=60, now=1_000_000)
    response = client_ro.get("/incidents/1", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 401 and response.json() == {"detail": "token expired",
                                                               "code": "unauthenticated"}
