"""``wangge db ...``: the embedded cluster's state, and the database's URL, backup and restore."""

from __future__ import annotations

import argparse

from api.settings import Settings
from layers.cluster import EmbeddedCluster


def cmd_db(args: argparse.Namespace, settings: Settings) -> None:
    """Show, stop or delete the embedded cluster (never a server named by DATABASE_URL)."""
    if settings.database_url:
        raise SystemExit("wangge: DATABASE_URL is set; wangge does not manage that server")
    cluster = EmbeddedCluster(settings.data_dir / "pg", settings.pg_port)
    port = cluster.running_port()
    if args.action == "status":
        print(f"embedded cluster in {cluster.datadir}: " + (f"running on port {port}" if port else "stopped"))
        return
    if port:
        cluster.port, cluster.started_here = port, True
        cluster.stop()
    if args.action == "delete":
        cluster.remove()
    print(f"embedded cluster {'deleted' if args.action == 'delete' else 'stopped'}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``db`` command to the ``wangge`` parser."""
    db = sub.add_parser("db", help="the embedded PostGIS cluster")
    db.add_argument("action", choices=("status", "stop", "delete"))
    db.set_defaults(func=cmd_db)
