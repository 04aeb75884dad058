"""Schemathesis over every route for minutes, with fresh seeds: the OpenAPI contract under fuzzing.

Not a speed benchmark: the figures are how many generated requests were
sent and how many broke the contract (server errors, undocumented statuses
or content types, responses outside their schema). The suite runs a short,
derandomized version (``tests/test_schemathesis.py``); this one searches
afresh each pass. It runs on a throwaway PostGIS cluster of its own.

    python -m bench.bench_contract [--minutes 5] [--examples 25]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from schemathesis.python.asgi import shutdown_lifespans

from api.app import create_app
from api.settings import Settings
from api.store import demo_district
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.demo.build import DemoSpec, build_demo
from tests.fuzz_contract import ContractRun, run_contract

SECRET = "bench-contract-secret-" + "x" * 32


def main() -> int:
    # python-multipart logs every malformed part the fuzzer sends: noise here
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--examples", type=int, default=25, help="examples per operation, mode and pass")
    args = parser.parse_args()
    parent = Path(tempfile.mkdtemp(prefix="wangge-contract-"))
    parent.chmod(0o755)
    cluster = EmbeddedCluster(parent / "pg", free_port())
    cluster.start()
    try:
        url = cluster.create_database("contract")
        migrate.upgrade(url)
        build_demo(url, demo_district(), DemoSpec())
        app = create_app(Settings(database_url=url, secret=SECRET, escalate_every_s=0))  # type: ignore[call-arg]
        total, passes, statuses = ContractRun(), 0, Counter[int]()
        budget = args.minutes * 60
        started = time.monotonic()
        while time.monotonic() - started < budget:
            passes += 1
            run = run_contract(app, SECRET, args.examples, seed=passes,
                               budget_s=budget - (time.monotonic() - started))
            total.requests += run.requests
            total.cases += run.cases
            total.operations = max(total.operations, run.operations)
            statuses.update(run.statuses)
            for op, found in run.failures.items():
                total.failures.setdefault(op, []).extend(t for t in found if t not in total.failures.get(op, []))
        elapsed = time.monotonic() - started
    finally:
        shutdown_lifespans()  # the app's pool closes before its cluster goes
        cluster.remove()
        shutil.rmtree(parent, ignore_errors=True)
    print(f"contract fuzzing: {elapsed:.0f} s, {passes} passes over {total.operations} operations "
          f"(positive and negative), {total.cases} generated cases, {total.requests} requests "
          f"(each case once per role: operator, dispatcher, planner, admin), {total.requests / elapsed:.0f} req/s")
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    kinds = {"server errors": ("ServerError",), "undocumented statuses": ("UndefinedStatusCode",),
             "undocumented or missing content types": ("UndefinedContentType", "MissingContentType",
                                                      "MalformedMediaType"),
             "response schema violations": ("JsonSchemaError", "ContentDeserializationError", "MalformedJson")}
    for label, names in kinds.items():
        print(f"{label}: {total.failed(*names)}")
    for op, found in sorted(total.failures.items()):
        for text in found:
            print(f"  {op}: {text}")
    return 1 if total.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
