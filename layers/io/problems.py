"""What an import found wrong, gathered whole before anything is written.

Checks run over whole columns, so a problem is recorded for many rows at
once: :meth:`Problems.add` takes the row numbers (1-based, as a user counts
features in a file) and keeps every count but only the first few examples
of each kind, so a million bad rows make a readable report, not a million
lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Severity = Literal["error", "warning"]
EXAMPLES = 20
"""Rows listed per kind of problem; the count covers them all."""
VALUES_SHOWN = 5
"""Offending values named in a problem's message."""


class ImportRefused(Exception):
    """The source cannot be read at all (no file, no layer, no coordinate system); the message says why."""


@dataclass
class Problem:
    """One kind of problem: how many rows have it and the first of them."""

    severity: Severity
    check: str
    text: str
    column: str | None = None
    count: int = 0
    rows: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    """The first few offending values (in order), shown after the text."""

    @property
    def message(self) -> str:
        """The text, then the values shown."""
        return f"{self.text} ({', '.join(self.values)})" if self.values else self.text

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``--report`` and the admin API."""
        return {"severity": self.severity, "check": self.check, "message": self.message,
                "field": self.column, "count": self.count, "rows": self.rows, "codes": self.codes}


@dataclass
class Problems:
    """Every problem of one import, by kind."""

    items: list[Problem] = field(default_factory=list)

    def error(self, check: str, message: str, rows: Sequence[int] | np.ndarray = (),
              codes: Sequence[Any] | np.ndarray = (), field_name: str | None = None,
              values: Iterable[str] = ()) -> None:
        """Record an error for ``rows`` (1-based; none for a whole-file problem): nothing will be written.

        ``values`` are offending values to show after the message: the first
        ``VALUES_SHOWN`` in sorted order of all those given for this problem,
        however many calls (a file checked part by part) gave them.
        """
        self._add("error", check, message, rows, codes, field_name, values)

    def warning(self, check: str, message: str, rows: Sequence[int] | np.ndarray = (),
                codes: Sequence[Any] | np.ndarray = (), field_name: str | None = None) -> None:
        """Record a warning: reported, the import goes on."""
        self._add("warning", check, message, rows, codes, field_name)

    def _add(self, severity: Severity, check: str, message: str, rows: Sequence[int] | np.ndarray,
             codes: Sequence[Any] | np.ndarray, field_name: str | None, values: Iterable[str] = ()) -> None:
        all_rows = np.asarray(rows).ravel()
        count = int(all_rows.size) or 1
        examples = [int(r) for r in all_rows[:EXAMPLES]]
        shown = [str(c) for c in np.asarray(codes, dtype=object).ravel()[:EXAMPLES]]
        for item in self.items:
            if (item.check, item.text, item.column, item.severity) == (check, message, field_name, severity):
                item.count += count
                item.rows.extend(examples[: EXAMPLES - len(item.rows)])
                item.codes.extend(shown[: EXAMPLES - len(item.codes)])
                item.values = sorted({*item.values, *values})[:VALUES_SHOWN]
                return
        self.items.append(Problem(severity, check, message, field_name, count, examples, shown,
                                  sorted(set(values))[:VALUES_SHOWN]))

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the import."""
        return [p for p in self.items if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """True when nothing stops the import."""
        return not self.errors

    def as_list(self) -> list[dict[str, Any]]:
        """JSON form of every problem."""
        return [p.as_dict() for p in self.items]
