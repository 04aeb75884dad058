"""An import from start to end: read, check against the store, write all or nothing, log it.

The CLI (``wangge import``, ``wangge init``) and the admin API call
:func:`import_layer`; both get an :class:`ImportResult` whose
:meth:`~ImportResult.report` is the JSON of ``--report`` and of the API's
answers. Everything is one transaction: checks read the store inside it
and the write happens only when no check failed (and not on a dry run).
Past cases are the one layer stored while they are still being checked,
part by part (:func:`_import_history`): once a check fails nothing more
is stored and the transaction is rolled back, so a refused file leaves
nothing either.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from geo.planning.coverage import DEFAULT_SNAP_M
from layers.io.catalogue import seed_catalogue
from layers.io.checks import Store, load_store, run_checks, run_file_checks
from layers.io.history import chunks, write_history
from layers.io.problems import Problems
from layers.io.read import Options, Source, Table, open_source
from layers.io.spec import LayerSpec
from layers.io.write import EPOCH, Counts, record_import, upsert, write_grids


class Progress:
    """Told each stage as it starts (with its size when known) and the rows done; says nothing itself.

    The CLI's subclass draws a progress bar for any stage that lasts over a second.
    """

    def stage(self, name: str, total: int | None = None) -> None:
        """A stage begins: ``name``, and how many rows it will go through when known."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows of the current stage are done."""

    def close(self) -> None:
        """Everything is done."""


@dataclass
class ImportResult:
    """What an import found and did."""

    layer: str
    source: str
    crs: str
    rows: int
    problems: Problems
    dry_run: bool
    counts: Counts | None = None
    import_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return self.problems.ok

    @property
    def written(self) -> bool:
        """True when the import changed the store (or would have, on a clean dry run)."""
        return self.counts is not None and not self.dry_run

    def report(self) -> dict[str, Any]:
        """The JSON report."""
        return {"layer": self.layer, "source": self.source, "crs": self.crs, "rows": self.rows,
                "ok": self.ok, "dry_run": self.dry_run, "written": self.written,
                "counts": self.counts.as_dict() if self.counts else None, "import_id": self.import_id,
                "problems": self.problems.as_list(), "notes": self.notes}


@dataclass(frozen=True)
class WriteOptions:
    """How to write: check only, retire grids the file does not name, start of first grid versions."""

    dry_run: bool = False
    replace: bool = False
    snap_m: float = DEFAULT_SNAP_M
    """The planning check's snapping tolerance (``WANGGE_SNAP_TOLERANCE_M``), used for tiling too."""
    valid_from: datetime = EPOCH
    actor: str = "import"


def _extra_checks(table: Table) -> None:
    if table.spec.name != "incidents":
        return
    reported, rows = table.columns["reported_at"], table.rows
    for name, message in (("deadline", "deadline must be after reported_at"),
                          ("closed_at", "closed_at must not be before reported_at")):
        later = table.columns[name]
        with np.errstate(invalid="ignore"):
            bad = ~np.isnat(later) & ~np.isnat(reported) & (later < reported if name == "closed_at"
                                                              else later <= reported)
        if bad.any():
            table.problems.error("times", message, rows[bad], table.codes[bad], field_name=name)


def import_table(conn: psycopg.Connection, data: Table | Source, options: WriteOptions,
                 progress: Progress | None = None) -> ImportResult:
    """Check ``data`` against the store on ``conn`` and write it in the caller's transaction.

    ``data`` is a table converted whole, or a file read but not converted
    (:class:`~layers.io.read.Source`): past cases are then converted,
    checked and stored part by part (:func:`_import_history`), any other
    layer converted whole first.
    """
    progress = progress or Progress()
    if isinstance(data, Source) and data.spec.name == "incidents":
        return _import_history(conn, data, options, progress)
    table = data.table() if isinstance(data, Source) else data
    result = ImportResult(table.spec.name, table.source, table.crs.name, len(table), table.problems,
                          options.dry_run)
    progress.stage("checking", len(table))
    store = load_store(conn, table.spec, table)
    run_checks(table, store, options.replace, options.snap_m)
    _extra_checks(table)
    if not result.ok:
        return result
    if options.dry_run:
        result.notes.append("dry run: nothing written")
        return result
    progress.stage("writing", len(table))
    if table.spec.name == "incidents":
        _history_written(result, write_history(conn, iter([table]), len(table), store, table.source,
                                               progress.advance))
    elif table.spec.name == "grids":
        result.counts = write_grids(conn, table, options.replace, options.valid_from, options.actor, options.snap_m)
    else:
        result.counts = upsert(conn, table, options.snap_m)
    if table.spec.name == "districts" and seed_catalogue(conn):
        result.notes.append("standard catalogue loaded (4+X team types and Baohe's categories)")
    return _recorded(conn, result, options)


def _import_history(conn: psycopg.Connection, source: Source, options: WriteOptions,
                    progress: Progress) -> ImportResult:
    """Past cases, part by part: each converted and checked as it is drawn, stored while the next one is.

    Every row is checked whatever happens: the checks across rows (a
    repeated ``external_ref``) run once the last part is in. The report is
    the same as for the file converted whole; what a failed import stored
    before a check failed is rolled back with its transaction.
    """
    result = ImportResult(source.spec.name, source.name, source.crs.name, len(source), source.problems,
                          options.dry_run)
    store = load_store(conn, source.spec, None)
    progress.stage("checking" if options.dry_run else "importing", len(source))
    drawn: list[Table] = []
    parts = _checked_parts(source, store, drawn, progress.advance if options.dry_run else None)
    if options.dry_run:
        for _ in parts:
            pass
        run_file_checks(drawn)
        if result.ok:
            result.notes.append("dry run: nothing written")
        return result
    _history_written(result, write_history(conn, parts, len(source), store, source.name, progress.advance,
                                           functools.partial(run_file_checks, drawn)))
    return _recorded(conn, result, options)


def _checked_parts(source: Source, store: Store, drawn: list[Table],
                   checked: Callable[[int], None] | None) -> Iterator[Table]:
    """The file's parts in order, each converted and checked, and kept in ``drawn`` for the checks across rows.

    ``checked`` is told the rows of each part checked (a dry run's progress).
    """
    for start, stop in chunks(len(source)):
        part = source.table(start, stop)
        run_checks(part, store, whole=False)
        _extra_checks(part)
        drawn.append(part)
        yield part
        if checked:
            checked(len(part))


def _history_written(result: ImportResult, written: tuple[Counts, int] | None) -> None:
    """Note what :func:`write_history` stored, and the cases older than every grid version."""
    if written is None:  # a check failed: its problems say which
        return
    result.counts, early = written
    if early:
        result.problems.warning("before_grids", f"{early} case(s) predate every grid version at their "
                                "point and were keyed to the earliest one")


def _recorded(conn: psycopg.Connection, result: ImportResult, options: WriteOptions) -> ImportResult:
    """Log an import that wrote (``data_imports``)."""
    if result.counts is None:  # nothing written: nothing to log
        return result
    result.import_id = record_import(conn, result.layer, result.source, result.counts, options.actor,
                                     result.report())
    return result


def import_layer(url: str, path: Path, spec: LayerSpec, read: Options, write: WriteOptions,
                 progress: Progress | None = None) -> ImportResult:
    """Read ``path`` as ``spec`` and import it into the database at ``url`` in one transaction."""
    progress = progress or Progress()
    progress.stage("reading")
    return import_read(url, open_source(path, spec, read), write, progress)


def import_read(url: str, data: Table | Source, write: WriteOptions, progress: Progress | None = None) -> ImportResult:
    """Import a file already read, in a transaction of its own: committed only when clean and not a dry run."""
    try:
        with psycopg.connect(url) as conn, conn.transaction():
            result = import_table(conn, data, write, progress)
            if not result.ok or write.dry_run:
                raise Rollback(result)
    except Rollback as stop:
        return stop.result
    return result


class Rollback(Exception):
    """Leaves the transaction without writing (failed checks or a dry run)."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("rolled back")
        self.result = result
