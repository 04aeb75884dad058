"""An import's report as a table on the terminal: one line per kind of problem, then the counts."""

from __future__ import annotations

import sys

from layers.io.service import ImportResult

_WIDTH = 100


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_result(result: ImportResult) -> None:
    """Print what the import found and did; problems go to standard error."""
    print(f"{result.layer} from {result.source} ({result.crs}): {result.rows:,} rows")
    problems = result.problems.items
    if problems:
        print(f"{'':2}{'severity':<8} {'check':<20} {'rows':>8}  {'message (first rows / codes)'}", file=sys.stderr)
        for p in problems:
            where = ", ".join(str(r) for r in p.rows[:5]) if p.rows else ""
            codes = ", ".join(p.codes[:3])
            detail = f" [rows {where}]" if where else ""
            detail += f" [{codes}]" if codes else ""
            field = f"{p.column}: " if p.column else ""
            print(f"  {p.severity:<8} {p.check:<20} {p.count:>8,}  {_clip(field + p.message + detail, _WIDTH)}",
                  file=sys.stderr)
    for note in result.notes:
        print(f"  {note}")
    if not result.ok:
        errors = sum(p.count for p in result.problems.errors)
        print(f"refused: {errors:,} error(s) in {len(result.problems.errors)} line(s) above; nothing was written",
              file=sys.stderr)
    elif result.counts is not None:
        c = result.counts
        print(f"  inserted {c.inserted:,}, updated {c.updated:,}, unchanged {c.unchanged:,}, retired {c.retired:,}"
              + (f", open cases re-keyed {c.rekeyed_cases:,}" if c.rekeyed_cases else ""))
    elif result.ok and result.dry_run:
        print("  checks passed")
