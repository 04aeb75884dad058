"""``wangge init``, ``wangge import`` and ``wangge export``: a district's own data in and out.

Exit status: 0 done (or a clean dry run), 1 the data was refused (nothing
written; the table of problems says why), 2 the store could not be reached.
A field mapping file is JSON: ``{"fields": {"name": "名称"}, "values":
{"category": {"A01": "01.03"}}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from api.cli_report import print_result
from api.settings import Settings
from api.store import open_store
from geo.crs import Crs, CrsError, parse_crs
from layers.io.district import DistrictInfo, init_district
from layers.io.export import Format, export, export_order
from layers.io.problems import ImportRefused
from layers.io.read import Options
from layers.io.service import ImportResult, Progress, WriteOptions, import_layer
from layers.io.spec import LAYERS, layer_spec
from layers.io.template import write_template


def _crs(text: str | None) -> Crs | None:
    if text is None:
        return None
    try:
        return parse_crs(text)
    except CrsError as exc:
        raise SystemExit(f"wangge: --crs: {exc}") from None


def _mapping(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    fields: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    if args.mapping:
        try:
            document = json.loads(Path(args.mapping).read_text(encoding="utf-8"))
            fields.update({str(k): str(v) for k, v in document.get("fields", {}).items()})
            values.update({str(k): {str(a): str(b) for a, b in v.items()}
                           for k, v in document.get("values", {}).items()})
        except (OSError, ValueError, AttributeError) as exc:
            raise SystemExit(f"wangge: --mapping {args.mapping}: not a readable mapping file ({exc})") from None
    for item in args.field or []:
        wangge_name, sep, column = item.partition("=")
        if not sep or not wangge_name or not column:
            raise SystemExit(f"wangge: --field {item!r}: write it as wangge_name=column")
        fields[wangge_name.strip()] = column.strip()
    return fields, values


def _read_options(args: argparse.Namespace) -> Options:
    fields, values = _mapping(args)
    return Options(crs=_crs(args.crs), layer=args.layer, fields=fields, values=values, encoding=args.encoding,
                   make_valid=args.make_valid, drop_z=args.drop_z, timezone=args.timezone)


class _Bar(Progress):
    """A tqdm bar per stage on standard error, drawn only once the stage has taken a second."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        self.close()
        self._bar = tqdm(total=total, desc=f"{name:<9}", unit=" rows", delay=1.0, file=sys.stderr,
                         leave=False, dynamic_ncols=True)

    def advance(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _finish(result: ImportResult, report: str | None) -> None:
    print_result(result)
    if report:
        Path(report).write_text(json.dumps(result.report(), ensure_ascii=False, indent=2), encoding="utf-8")
    if not result.ok:
        raise SystemExit(1)


def cmd_import(args: argparse.Namespace, settings: Settings) -> None:
    """Import one layer from a file, or write its template."""
    try:
        spec = layer_spec(args.layer_name)
    except KeyError as exc:
        raise SystemExit(f"wangge: {exc.args[0]}") from None
    if args.template:
        write_template(spec, Path(args.template))
        print(f"template for {spec.name} written to {args.template}")
        return
    if not args.file:
        raise SystemExit("wangge import: give the FILE to import (or --template OUT)")
    if not Path(args.file).exists():
        raise SystemExit(f"wangge import: {args.file}: no such file")
    valid_from = datetime.fromisoformat(args.valid_from) if args.valid_from else None
    write = WriteOptions(dry_run=args.dry_run, replace=args.replace, actor="cli", snap_m=settings.snap_tolerance_m,
                         **({"valid_from": valid_from} if valid_from else {}))
    store = open_store(settings)
    bar = _Bar()
    try:
        result = import_layer(store.url, Path(args.file), spec, _read_options(args), write, bar)
    except ImportRefused as exc:
        print(f"wangge import: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        bar.close()
        store.close()
    _finish(result, args.report)


def cmd_init(args: argparse.Namespace, settings: Settings) -> None:
    """Create a district from its boundary file."""
    if not (len(args.district) == 6 and args.district.isdigit()):
        raise SystemExit("wangge init: --district is the six-digit administrative code, e.g. 510108")
    info = DistrictInfo(args.district, args.name, args.province or "", args.city or "")
    options = Options(crs=_crs(args.crs), layer=args.layer, encoding=args.encoding, make_valid=args.make_valid,
                      drop_z=args.drop_z)
    store = open_store(settings)
    try:
        result = init_district(store.url, Path(args.boundary), info, options,
                               WriteOptions(dry_run=args.dry_run, actor="init", snap_m=settings.snap_tolerance_m))
    except ImportRefused as exc:
        print(f"wangge init: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        store.close()
    _finish(result, args.report)
    if result.written:
        print(f"district {info.code} {info.name} is ready: import its streets, communities and grids next "
              f"(wangge import streets FILE …)")


def cmd_export(args: argparse.Namespace, settings: Settings) -> None:
    """Export one layer or all of them."""
    try:
        layers = export_order() if args.layer_name == "all" else [layer_spec(args.layer_name)]
    except KeyError as exc:
        raise SystemExit(f"wangge: {exc.args[0]}") from None
    fmt: Format = args.format or _format_of(Path(args.out))
    at = datetime.fromisoformat(args.at) if args.at else None
    crs = _crs(args.crs) or parse_crs("wgs84")
    store = open_store(settings)
    try:
        counts = export(store.url, layers, Path(args.out), fmt, crs, at)
    finally:
        store.close()
    for name, count in counts.items():
        print(f"{name:<20} {count:>9,} rows")
    print(f"exported to {args.out} ({fmt}, {crs.name})")


def _format_of(out: Path) -> Format:
    suffix = out.suffix.lower().lstrip(".")
    known: dict[str, Any] = {"gpkg": "gpkg", "geojson": "geojson", "json": "geojson", "shp": "shp", "csv": "csv"}
    return known.get(suffix, "gpkg")


def _reading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crs", help="the file's coordinate system when it names none or the wrong one: "
                   "wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>")
    p.add_argument("--layer", help="the layer to read from a file that holds several (GeoPackage)")
    p.add_argument("--encoding", help="the attributes' text encoding when not UTF-8 (e.g. GBK)")
    p.add_argument("--make-valid", action="store_true", help="repair invalid shapes (reported)")
    p.add_argument("--drop-z", action="store_true", help="drop Z (height) values")
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.add_argument("--report", metavar="FILE.json", help="write the full report as JSON")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data commands to the ``wangge`` parser."""
    init = sub.add_parser("init", help="create a district from its boundary file")
    init.add_argument("--district", required=True, help="six-digit administrative code")
    init.add_argument("--name", required=True, help="the district's name")
    init.add_argument("--boundary", required=True, help="boundary file (GeoJSON, GeoPackage, Shapefile)")
    init.add_argument("--province", help="province name")
    init.add_argument("--city", help="city name")
    _reading_options(init)
    init.set_defaults(func=cmd_init)

    imp = sub.add_parser("import", help="import a layer from a file",
                         description=f"LAYER is one of: {', '.join(LAYERS)}")
    imp.add_argument("layer_name", metavar="LAYER")
    imp.add_argument("file", metavar="FILE", nargs="?")
    _reading_options(imp)
    imp.add_argument("--field", action="append", metavar="WANGGE=COLUMN", help="map a file column to a field")
    imp.add_argument("--mapping", metavar="FILE.json", help="field and value mapping file")
    imp.add_argument("--timezone", default="Asia/Shanghai", help="zone of times given without one")
    imp.add_argument("--replace", action="store_true",
                     help="grids: retire the current grids of the file's communities that it does not name")
    imp.add_argument("--valid-from", help="grids: start of the first versions (default 1970-01-01)")
    imp.add_argument("--template", metavar="OUT", help="write an empty file with the layer's fields and exit")
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser("export", help="export a layer (or all) to a file")
    exp.add_argument("layer_name", metavar="LAYER", help=f"all, or one of: {', '.join(LAYERS)}")
    exp.add_argument("out", metavar="OUT")
    exp.add_argument("--format", choices=("gpkg", "geojson", "shp", "csv"), help="default: from OUT's suffix")
    exp.add_argument("--crs", help="coordinate system to write in (default wgs84)")
    exp.add_argument("--at", help="grids valid at this date/time (ISO 8601) instead of now")
    exp.set_defaults(func=cmd_export)
