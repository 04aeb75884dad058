"""The ``wangge`` command: run the demo or the service, manage the store.

``wangge demo`` is the one command of the README: it starts (and at exit
stops) the embedded PostGIS unless ``DATABASE_URL`` is set, migrates, builds
the demo city once per seed and serves it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

import psycopg
import psycopg.sql
import sqlalchemy.exc
import uvicorn

from api import cli_calendar, cli_data, cli_sensing, cli_store
from api.auth import ROLES, issue_token
from api.settings import Settings, get_settings
from api.store import DemoRefused, demo_district, ensure_demo_city, open_store
from layers.cluster import StoreUnavailable
from layers.secrets import token_secret
from layers.sensing.broker import BrokerUnavailable

log = logging.getLogger("wangge")


def _serve(settings: Settings, url: str, host: str, port: int) -> None:
    # each worker process builds its app from the environment (the factory)
    os.environ["DATABASE_URL"] = url
    # sensor readings over MQTT: the embedded mosquitto unless WANGGE_MQTT_URL names a broker (or off)
    with cli_sensing.broker_for(settings):
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=settings.workers,
                    log_level="warning", access_log=False)


def _print_tour(base: str, district: str, secret: str, url: str) -> None:
    """Print the tokens and the URLs a new user needs: map walls, planner, API docs."""
    tokens = {role: issue_token(secret, role, district) for role in ROLES}
    with psycopg.connect(url) as conn:
        street = conn.execute("SELECT min(code) FROM streets").fetchone()
        community = conn.execute("SELECT min(code) FROM communities").fetchone()
    print(f"tokens for the demo district {district} (send as 'Authorization: Bearer <token>'):")
    for role, token in tokens.items():
        print(f"  {role:<11} {token}")
    operator, planner = tokens["operator"], tokens["planner"]
    print(f"wangge is serving at {base}/")
    print(f"  API docs:          {base}/docs")
    print(f"  district map wall: {base}/maps/district/{district}?token={operator}")
    if street and street[0]:
        print(f"  street map wall:   {base}/maps/street/{street[0]}?token={operator}")
    if community and community[0]:
        print(f"  community wall:    {base}/maps/community/{community[0]}?token={operator}")
        print(f"  planner map:       {base}/maps/planner/{community[0]}?token={planner}")
    print(f"  kiosk (cycling):   {base}/maps/district/{district}?kiosk=true&token={operator}")
    print(f"  dispatcher's desk: {base}/desk?token={tokens['dispatcher']}")
    if community and community[0]:
        with psycopg.connect(url) as conn:
            team = conn.execute("SELECT code FROM teams WHERE starts_with(%s, area_code) AND status <> 'retired' "
                                "ORDER BY code LIMIT 1", (community[0],)).fetchone()
        worker = issue_token(secret, "grid_worker", community[0], team=team[0] if team else None)
        print(f"  grid worker phone: {base}/m?token={worker}")
    print(f"  MapLibre sample:   {base}/static/maplibre.html?token={operator}")
    print(f"  collections:       {base}/collections")
    print(f"  locate:            {base}/locate?lon=117.30&lat=31.80", flush=True)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    """Build (once) and serve the demo district."""
    store = open_store(settings)
    try:
        started = time.monotonic()
        try:
            built = ensure_demo_city(store.url, args.seed)
        except DemoRefused as exc:
            raise SystemExit(f"wangge: {exc}") from None
        what = "built" if built else "reused"
        print(f"demo city {what} (seed {args.seed}) in {time.monotonic() - started:.1f} s", flush=True)
        secret = settings.secret or token_secret(store.url)
        _print_tour(f"http://{args.host}:{args.port}", demo_district().code, secret, store.url)
        _serve(settings, store.url, args.host, args.port)
    finally:
        store.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    """Serve whatever the store holds."""
    store = open_store(settings)
    try:
        print(f"wangge is serving at http://{args.host}:{args.port}/", flush=True)
        _serve(settings, store.url, args.host, args.port)
    finally:
        store.close()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    """Bring the database schema up to date and stop."""
    store = open_store(settings)
    store.close()
    print("database migrated")


AREA_TABLES = {6: "districts", 9: "streets", 12: "communities", 15: "grids"}


def _area_exists(url: str, code: str) -> bool:
    """True when ``code`` names a district, street, community or grid the database holds."""
    table = AREA_TABLES.get(len(code))
    if table is None or not code.isdigit():
        return False
    with psycopg.connect(url) as conn:
        query = psycopg.sql.SQL("SELECT 1 FROM {} WHERE code = %s").format(psycopg.sql.Identifier(table))
        return conn.execute(query, (code,)).fetchone() is not None


def _team_exists(url: str, code: str) -> bool:
    """True when ``code`` names a team the database holds."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM teams WHERE code = %s", (code,)).fetchone() is not None


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> None:
    """Print a signed token for a role and an existing area, alone on the last line."""
    store = open_store(settings)
    try:
        secret = settings.secret or token_secret(store.url)
        exists = _area_exists(store.url, args.area)
        team_exists = args.team is None or _team_exists(store.url, args.team)
    finally:
        store.close()
    if not 0 < args.days <= 3650:
        raise SystemExit("wangge: --days must be more than 0 and at most 3650")
    try:
        token = issue_token(secret, args.role, args.area, args.name or "", int(args.days * 86400), team=args.team)
    except ValueError as exc:
        raise SystemExit(f"wangge: {exc}") from None
    if not exists:
        what = "grid" if len(args.area) == 15 else "district, street or community"
        raise SystemExit(f"wangge: no {what} {args.area} in the database")
    if not team_exists:
        raise SystemExit(f"wangge: no team {args.team} in the database")
    print(f"# {args.role} for area {args.area}, valid {args.days:g} days")
    print(token)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per task."""
    parser = argparse.ArgumentParser(prog="wangge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build (once) and serve the demo district")
    serve = sub.add_parser("serve", help="serve the configured database")
    for p in (demo, serve):
        p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    demo.add_argument("--seed", type=int, default=2024, help="demo city seed (default 2024)")
    demo.set_defaults(func=cmd_demo)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="migrate the database and exit").set_defaults(func=cmd_migrate)
    cli_store.register(sub)
    cli_data.register(sub)
    cli_calendar.register(sub)
    cli_sensing.register(sub)
    token = sub.add_parser("token", help="bearer tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="print a signed token for a role and an area")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--area", required=True, help="district, street or community code (a grid_worker: "
                        "also a grid code)")
    create.add_argument("--team", help="a grid_worker's team code: the cases dispatched to it are the worker's")
    create.add_argument("--name", help="who holds it (default: role@area)")
    create.add_argument("--days", type=float, default=30.0, help="validity in days (default 30)")
    create.set_defaults(func=cmd_token_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wangge`` console command."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("alembic", "pyogrio"):  # migrations and file writes say nothing a user needs
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if hasattr(args, "host"):
        args.host = args.host or settings.host
        args.port = args.port or settings.port
    try:
        args.func(args, settings)
    except (StoreUnavailable, BrokerUnavailable) as exc:
        print(f"wangge: {exc}", file=sys.stderr)
        return 2
    except (psycopg.OperationalError, sqlalchemy.exc.OperationalError) as exc:
        print(f"wangge: cannot reach the database: {str(exc).splitlines()[0] if str(exc) else exc!r}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
