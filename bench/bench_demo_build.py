"""Demo city build from an empty database, beside generating the same city in memory only.

Budget (issue 2): under 2 minutes on a 2-core machine.
"""

from __future__ import annotations

import time

import numpy as np
import shapely
from pyproj import Transformer

from api.settings import get_settings
from api.store import demo_district, open_store
from layers import migrate
from layers.demo.build import DemoSpec, build_demo
from layers.demo.hierarchy import build_hierarchy


def main() -> None:
    store = open_store(get_settings())
    if store.cluster is None:
        raise SystemExit("the build benchmark runs on the embedded cluster; unset DATABASE_URL")
    district = demo_district()
    spec = DemoSpec()
    started = time.perf_counter()
    to_metric = Transformer.from_crs(4326, district.metric_epsg, always_xy=True)
    area = shapely.transform(district.geom, lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
    build_hierarchy(area, np.random.default_rng(spec.seed), grids=spec.grids, communities=spec.communities,
                    streets=spec.streets)
    tiling = time.perf_counter() - started
    store.cluster.drop_database("bench_build")
    started = time.perf_counter()
    url = store.cluster.create_database("bench_build")
    migrate.upgrade(url)
    build_demo(url, district, spec)
    total = time.perf_counter() - started
    store.cluster.drop_database("bench_build")
    print(f"demo build from an empty database (migrate + generate + load {spec.grids} grids, "
          f"{spec.buildings} buildings, {spec.incidents} cases): {total:.1f} s (budget < 120 s)")
    print(f"baseline, tiling the district in memory only: {tiling:.2f} s; build/tiling ratio {total / tiling:.1f}")


if __name__ == "__main__":
    main()
