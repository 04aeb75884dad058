"""Schemathesis against the app in process: generated requests, every route, a token of each role.

Used by ``tests/test_schemathesis.py`` (a short, derandomized run) and by
``bench/bench_contract.py`` (minutes long, fresh seeds). Each generated case
is sent once per role and checked for server errors, undocumented statuses,
wrong content types and responses that do not match their declared schema.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.auth import issue_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# the planner works in one community; the others in the whole demo district
ROLE_AREAS = {"operator": "340111", "dispatcher": "340111", "admin": "340111", "planner": "340111001001"}


@dataclass
class ContractRun:
    """What a run sent and found."""

    requests: int = 0
    cases: int = 0
    operations: int = 0
    unsatisfiable: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)

    def failed(self, *kinds: str) -> int:
        """How many distinct failures (per operation and mode) of the ``kinds`` (schemathesis classes) were found."""
        return sum(1 for found in self.failures.values() for text in found if text.startswith(kinds))


def role_headers(secret: str) -> list[dict[str, str]]:
    """An Authorization header for each role."""
    return [{"Authorization": f"Bearer {issue_token(secret, role, area)}"} for role, area in ROLE_AREAS.items()]


def _describe(error: BaseException) -> list[str]:
    inner = error.exceptions if isinstance(error, FailureGroup) else [error]
    out = []
    for failure in inner:
        if isinstance(failure, Failure):
            out.append(f"{type(failure).__name__} ({failure.code}): {failure.title}: {failure.message[:300]}")
        else:
            out.append(f"error: {type(failure).__name__}: {str(failure)[:300]}")
    return out


def run_contract(app: FastAPI, secret: str, examples: int, seed: int | None = None,
                 budget_s: float | None = None) -> ContractRun:
    """Fuzz every operation in positive and negative mode; ``seed`` None means derandomized."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = role_headers(secret)
    found = ContractRun()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        found.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if budget_s is not None and time.monotonic() - started > budget_s:
                return found
            _fuzz(operation, mode, headers, examples, seed, found)
    return found


def _fuzz(operation: Any, mode: GenerationMode, headers: list[dict[str, str]], examples: int,
          seed: int | None, found: ContractRun) -> None:
    @settings(max_examples=examples, derandomize=seed is None, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        found.cases += 1
        for auth in headers:
            response = case.call(headers=auth)
            found.requests += 1
            found.statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (FailureGroup, Failure) as exc:
                label = f"{operation.method.upper()} {operation.path} [{mode.value}]"
                for text in _describe(exc):
                    if text not in found.failures.setdefault(label, []):
                        found.failures[label].append(text)

    if seed is not None:
        send._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    try:
        send()
    except Unsatisfiable:
        found.unsatisfiable += 1  # nothing to negate: a route without parameters or body
