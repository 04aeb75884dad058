"""Tokens: signature, expiry, role and area; the CLI prints one alone on its last line."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_tampered_expired_and_foreign_tokens_are_refused() -> None:
    token = issue_token(SECRET, "operator", "340111")
    body, signature = token.split(".")
    forged = issue_token(SECRET, "admin", "340111").split(".")[0] + "." + signature
    for bad in (forged, body + ".x", "garbage", "", token + "x"):
        with pytest.raises(Unauthenticated):
            verify_token(SECRET, bad)
    with pytest.raises(Unauthenticated):
        verify_token("another secret of enough length ........", token)
    old = issue_token(SECRET, "operator", "340111", ttl_s=60, now=1_000_000)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, old, now=1_000_061)


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
