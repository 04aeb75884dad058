"""``wangge db ...``: the embedded cluster's state, and the database's URL, backup and restore."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api.settings import Settings
from api.store import DATABASE_NAME, open_store
from layers import migrate
from layers.backup import BackupError, backup, restore
from layers.cluster import EmbeddedCluster


def embedded_cluster(settings: Settings) -> EmbeddedCluster:
    """The embedded cluster the settings name (not started)."""
    return EmbeddedCluster(settings.data_dir / "pg", settings.pg_port)


def cmd_db(args: argparse.Namespace, settings: Settings) -> None:
    """Show, stop or delete the embedded cluster (never a server named by DATABASE_URL)."""
    if settings.database_url:
        raise SystemExit("wangge: DATABASE_URL is set; wangge does not manage that server")
    cluster = embedded_cluster(settings)
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


def cmd_url(args: argparse.Namespace, settings: Settings) -> None:
    """Print the database's connection URL (password included) for psql and other tools."""
    if settings.database_url:
        print(settings.database_url)
        return
    cluster = embedded_cluster(settings)
    if cluster.password() is None:
        raise SystemExit(f"wangge: there is no embedded cluster in {cluster.datadir} yet; "
                         "`wangge migrate` creates it")
    port = cluster.running_port()
    cluster.port = port or cluster.port
    if port is None:
        print("wangge: the embedded cluster is stopped; `wangge serve` (or `wangge migrate`) starts it",
              file=sys.stderr)
    print(cluster.url(DATABASE_NAME))


def cmd_backup(args: argparse.Namespace, settings: Settings) -> None:
    """Write the database to FILE (pg_dump custom format)."""
    store = open_store(settings)
    try:
        backup(store.url, args.file)
    except BackupError as exc:
        raise SystemExit(f"wangge: {exc}") from None
    finally:
        store.close()
    print(f"backed up to {args.file} ({args.file.stat().st_size:,} bytes)")


def cmd_restore(args: argparse.Namespace, settings: Settings) -> None:
    """Replace the database with the backup in FILE; on failure nothing is changed."""
    store = open_store(settings)
    try:
        restore(store.url, args.file, prepare=migrate.upgrade)
    except BackupError as exc:
        raise SystemExit(f"wangge: {exc}\nwangge: the database was not changed") from None
    finally:
        store.close()
    print(f"restored from {args.file}; restart a running wangge service so its caches start afresh")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``db`` command to the ``wangge`` parser."""
    db = sub.add_parser("db", help="the database: embedded cluster, URL, backup and restore")
    actions = db.add_subparsers(dest="action", required=True)
    for name, what in (("status", "is the embedded cluster running"), ("stop", "stop the embedded cluster"),
                       ("delete", "stop and delete the embedded cluster and its password file")):
        actions.add_parser(name, help=what).set_defaults(func=cmd_db)
    actions.add_parser("url", help="print the connection URL (password included)").set_defaults(func=cmd_url)
    save = actions.add_parser("backup", help="write the database to FILE (pg_dump custom format)")
    save.add_argument("file", type=Path, metavar="FILE")
    save.set_defaults(func=cmd_backup)
    load = actions.add_parser("restore", help="replace the database with the backup in FILE")
    load.add_argument("file", type=Path, metavar="FILE")
    load.set_defaults(func=cmd_restore)
