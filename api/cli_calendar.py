"""``wangge calendar``: working-time calendars from the command line (the same functions as the admin API).

Exit status: 0 done, 1 the file or the values were refused (nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import psycopg

from api.settings import Settings
from api.store import open_store
from layers.errors import WanggeError
from layers.time.district_calendars import NATIONAL, describe, import_days, set_hours
from layers.time.holidays import parse_days


async def _with_conn(url: str, work: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await work(conn)


def _run(settings: Settings, work: Any) -> None:
    store = open_store(settings)
    try:
        print(json.dumps(asyncio.run(_with_conn(store.url, work)), ensure_ascii=False, indent=1, default=str))
    except WanggeError as exc:
        raise SystemExit(f"wangge calendar: {exc.public}") from None
    finally:
        store.close()


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    """Import a year's (or years') holidays and adjusted workdays from a CSV or JSON file."""
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise SystemExit(f"wangge calendar import: cannot read {args.file}: {exc.strerror}") from None
    try:
        days = parse_days(data, str(args.file))
    except WanggeError as exc:
        raise SystemExit(f"wangge calendar import: {exc.public}") from None
    _run(settings, lambda conn: import_days(conn, args.calendar, days, str(args.file)))


def cmd_show(args: argparse.Namespace, settings: Settings) -> None:
    """Print a calendar's working hours and the special days of a year."""
    _run(settings, lambda conn: describe(conn, args.calendar, args.year))


def cmd_hours(args: argparse.Namespace, settings: Settings) -> None:
    """Set a calendar's working periods and weekdays."""
    _run(settings, lambda conn: set_hours(conn, args.calendar, args.periods, args.weekdays))


def _code(text: str) -> str:
    if text != NATIONAL and not (len(text) == 6 and text.isdigit()):
        raise argparse.ArgumentTypeError("CN or a six-digit district code")
    return text


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``calendar`` command to the ``wangge`` parser."""
    calendar = sub.add_parser("calendar", help="working-time calendars: holidays, adjusted workdays, hours")
    actions = calendar.add_subparsers(dest="action", required=True)
    load = actions.add_parser("import", help="import holidays and adjusted workdays from FILE (CSV or JSON)")
    load.add_argument("file", type=Path, metavar="FILE")
    show = actions.add_parser("show", help="a calendar's hours and the special days of a year")
    show.add_argument("--year", type=int, default=2026, choices=range(2000, 2101), metavar="YEAR")
    hours = actions.add_parser("hours", help="set the working periods and weekdays")
    hours.add_argument("--periods", default="08:30-12:00,13:30-18:00", help="e.g. 08:30-12:00,13:30-18:00")
    hours.add_argument("--weekdays", default="12345", help="ISO weekday digits, 1 = Monday")
    for parser, func in ((load, cmd_import), (show, cmd_show), (hours, cmd_hours)):
        parser.add_argument("--calendar", type=_code, default=NATIONAL,
                            help="CN (national, the default) or a district code")
        parser.set_defaults(func=func)
