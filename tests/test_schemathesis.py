"""The OpenAPI document tells the truth: schemathesis, in process, on a fresh demo database.

A short, derandomized run (the same requests every time) over every route
with a token of each role; a longer one with fresh seeds is
``bench/bench_contract.py``. Zero server errors, zero undocumented statuses
or content types, zero responses outside their declared schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from schemathesis.python.asgi import shutdown_lifespans

from api.app import create_app
from api.settings import Settings
from layers.cluster import EmbeddedCluster
from tests.conftest import _clone
from tests.fuzz_contract import run_contract

SECRET = "contract-test-secret-" + "x" * 32


@pytest.fixture(scope="module")
def fuzzed_app(pg_cluster: EmbeddedCluster, demo_template: str) -> Iterator[FastAPI]:
    """The app on a fresh demo database of its own; schemathesis runs its lifespan."""
    name, url = _clone(pg_cluster, demo_template)
    app = create_app(Settings(database_url=url, secret=SECRET, escalate_every_s=0))  # type: ignore[call-arg]
    yield app
    shutdown_lifespans()
    pg_cluster.drop_database(name)


def test_generated_requests_find_no_server_error_and_no_contract_violation(fuzzed_app: FastAPI) -> None:
    run = run_contract(fuzzed_app, SECRET, examples=6)
    assert run.operations >= 30 and run.requests > 1000
    # generated input reaches real answers too, not only refusals
    assert sum(n for status, n in run.statuses.items() if status < 300) > 100
    assert run.failures == {}, "\n".join(f"{op}: {text}" for op, found in run.failures.items() for text in found)
