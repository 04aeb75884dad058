"""Find the database: the server in ``DATABASE_URL``, or wangge's own embedded cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geo.crs
from api.settings import PROJECT_DIR, Settings
from geo.boundary import read_district
from layers import migrate
from layers.cluster import EmbeddedCluster
from layers.demo.build import DemoSpec, District, ensure_demo

DEMO_BOUNDARY = PROJECT_DIR / "layers" / "data" / "340111.geojson"
DATABASE_NAME = "wangge"


@dataclass
class Store:
    """The database URL in use and, when wangge runs it, the embedded cluster."""

    url: str
    cluster: EmbeddedCluster | None = None

    def close(self) -> None:
        """Stop the embedded cluster if this process started it."""
        if self.cluster is not None:
            self.cluster.stop()


def open_store(settings: Settings) -> Store:
    """Use ``DATABASE_URL`` when set (never starting a server); else start the embedded cluster.

    Either way the database is migrated to the newest schema.
    """
    if settings.database_url:
        store = Store(settings.database_url)
    else:
        cluster = EmbeddedCluster(settings.data_dir / "pg", settings.pg_port)
        cluster.start()
        store = Store(cluster.create_database(DATABASE_NAME), cluster)
    migrate.upgrade(store.url)
    return store


def demo_district(path: Path = DEMO_BOUNDARY) -> District:
    """The demo's district: the boundary file in WGS84, with its Gauss-Krüger zone for metric work."""
    boundary = read_district(path)
    zone = geo.crs.metric_crs_for(boundary.geom.centroid.x)
    return District(boundary.code, boundary.name, boundary.province, boundary.city, boundary.geom, zone)


def ensure_demo_city(url: str, seed: int) -> bool:
    """Build the demo city for ``seed`` unless it is already stored; True when built now."""
    return ensure_demo(url, demo_district(), DemoSpec(seed=seed))
