"""The OpenAPI document describes the service as it behaves: error shape, statuses, tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def document(client_ro: TestClient) -> dict:
    response = client_ro.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _schema(op: dict, status: str) -> dict:
    return op["responses"][status]["content"]["application/json"]["schema"]


def test_the_error_schema_is_the_one_sent(document: dict, client_ro: TestClient) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    error = schemas["Error"]
    assert error["required"] == ["detail", "code"] and set(error["properties"]) == {"detail", "code", "errors"}
    # and a real validation error has exactly that shape
    sent = client_ro.get("/geocode", params={"q": "x"}).json()
    assert set(sent) <= set(error["properties"]) and {"detail", "code", "errors"} <= set(sent)
    assert set(sent["errors"][0]) == set(schemas["FieldError"]["required"])


def test_no_operation_keeps_fastapis_default_error_shape(document: dict) -> None:
    text = str(document)
    assert "HTTPValidationError" not in text and "ValidationError" not in text


@pytest.mark.parametrize("method, path, statuses", [
    ("POST", "/incidents", {"401", "403", "409", "413", "422", "503"}),
    ("GET", "/incidents/{incident_id}", {"401", "403", "404", "422", "503"}),
    ("POST", "/incidents/{incident_id}/{action}", {"401", "403", "404", "409", "413", "422", "503"}),
    ("POST", "/planning/proposals/{proposal_id}/publish", {"401", "403", "404", "409", "412", "413", "422"}),
    ("PUT", "/teams/positions", {"401", "403", "404", "413", "422", "503"}),
    ("GET", "/locate", {"404", "422", "503"}),
    ("GET", "/geocode", {"404", "422", "503"}),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.pbf", {"401", "403", "422"}),
    ("GET", "/live/{area}/{layer}", {"401", "403", "404", "422"}),
])
def test_each_route_lists_the_errors_it_can_send(document: dict, method: str, path: str, statuses: set) -> None:
    op = document["paths"][path][method.lower()]
    assert statuses <= set(op["responses"]), sorted(op["responses"])
    for status in statuses:
        assert _schema(op, status) == ERROR, (status, op["responses"][status])


def test_tokens_are_declared_in_all_three_forms(document: dict) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert (schemes["token_query"]["in"], schemes["token_query"]["name"]) == ("query", "token")
    assert (schemes["token_cookie"]["in"], schemes["token_cookie"]["name"]) == ("cookie", "wangge_token")
    secured = {(m, p) for m, p, op in _operations(document) if "security" in op}
    for needed in [("POST", "/incidents"), ("GET", "/incidents/{incident_id}"), ("PUT", "/teams/positions"),
                   ("GET", "/tiles/{layer}/{z}/{x}/{y}.pbf"), ("GET", "/live/{area}/{layer}"),
                   ("POST", "/planning/communities/{code}/proposals"), ("GET", "/maps/{level}/{code}")]:
        assert needed in secured
    for open_read in [("GET", "/locate"), ("GET", "/geocode"), ("GET", "/catalogue"), ("GET", "/health")]:
        assert open_read not in secured
    for method, path, op in _operations(document):
        if "security" in op:
            assert op["security"][:3] == [{"bearer": []}, {"token_query": []}, {"token_cookie": []}]
            assert "401" in op["responses"], (method, path)


def test_secured_routes_really_answer_401_without_a_token(document: dict, client_ro: TestClient) -> None:
    """Cross-check the document against the service: a secured GET without a token is a 401 with the body."""
    checked = 0
    for method, path, op in _operations(document):
        if method == "GET" and "security" in op and {} not in op["security"]:
            url = path.replace("{incident_id}", "1").replace("{layer}/{z}/{x}/{y}", "grids/14/13621/6640")
            url = url.replace("{area}/{layer}", "340111/cases").replace("{level}/{code}", "district/340111")
            url = url.replace("{code}", "340111001001").replace("{proposal_id}", "1")
            response = client_ro.get(url, follow_redirects=False)
            assert response.status_code == 401, (url, response.status_code)
            assert response.json()["code"] == "unauthenticated"
            checked += 1
    assert checked >= 6


def test_declared_error_statuses_exist_in_the_readme_table(document: dict) -> None:
    """The README's error table names every error status the document declares."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    declared = {int(s) for _, _, op in _operations(document) for s in op["responses"] if int(s) >= 400}
    for status in declared:
        assert f"| {status} " in readme, f"README's error table lacks {status}"


def test_routes_with_their_own_error_format_keep_it(document: dict) -> None:
    """Open311 answers errors as its list and bad parameters as 400; OGC API answers them as 400."""
    for path, op in [(p, o) for m, p, o in _operations(document) if p.startswith("/open311/")]:
        assert "422" not in op["responses"], path
        for status in op["responses"]:
            if int(status) >= 400 and status != "413":
                assert _schema(op, status) != ERROR, (path, status)
    items = document["paths"]["/collections/{collection}/items"]["get"]["responses"]
    assert "422" not in items and _schema({"responses": items}, "400") == ERROR
