"""Find the database: the server in ``DATABASE_URL``, or wangge's own embedded cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

import geo.crs
from api.settings import PROJECT_DIR, Settings
from geo.boundary import read_district
from layers import migrate
from layers.cluster import EmbeddedCluster
from layers.demo.build import DemoSpec, District, current_demo, ensure_demo

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


class DemoRefused(RuntimeError):
    """The database holds a district's own data, which building the demo would erase."""


def foreign_data(url: str, demo_code: str) -> str | None:
    """Why the demo must not be built into ``url`` (data that is not the demo's), or None.

    The demo replaces every table it fills, so it is built only into an
    empty database or over a demo built earlier.
    """
    with psycopg.connect(url) as conn:
        districts = [r[0] for r in conn.execute("SELECT code FROM districts ORDER BY code")]
        imported = conn.execute("SELECT count(*) FROM data_imports").fetchone()
        demo = current_demo(conn)
    if districts and demo is None:
        return f"the database holds district(s) {', '.join(districts[:5])} that are not the demo's"
    others = [c for c in districts if c != demo_code]
    if others:
        return f"the database holds district(s) {', '.join(others[:5])} besides the demo's"
    if imported and imported[0]:
        return f"{imported[0]} import(s) were made into this database"
    return None


def ensure_demo_city(url: str, seed: int) -> bool:
    """Build the demo city for ``seed`` unless it is already stored; True when built now.

    Raises :class:`DemoRefused`, touching nothing, when the database holds other data.
    """
    district = demo_district()
    reason = foreign_data(url, district.code)
    if reason:
        raise DemoRefused(f"wangge demo builds only into an empty database or over its own demo: {reason}. "
                          "Serve it with `wangge serve`, or point WANGGE_DATA_DIR / DATABASE_URL elsewhere "
                          "for the demo.")
    return ensure_demo(url, district, DemoSpec(seed=seed))
