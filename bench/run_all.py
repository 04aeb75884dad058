"""Run every benchmark in turn and print their figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys

SCRIPTS = ("bench.bench_demo_build", "bench.bench_locate", "bench.bench_intake", "bench.bench_maps",
           "bench.bench_planning", "bench.bench_contract", "bench.bench_oapif", "bench.bench_import",
           "bench.bench_growth", "bench.bench_calendar", "bench.bench_sensing",
           "bench.bench_evaluation", "bench.bench_cameras", "bench.bench_intake_scale")


def main() -> int:
    failed = 0
    for module in SCRIPTS:
        print(f"\n== {module}", flush=True)
        failed += subprocess.run([sys.executable, "-m", module], check=False).returncode != 0
    return failed


if __name__ == "__main__":
    sys.exit(main())
