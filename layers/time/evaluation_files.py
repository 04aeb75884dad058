"""The evaluation as files: one CSV table, and an Excel workbook with a definitions sheet.

Both hold the same rows as the JSON answer: the whole area first, then each
child area, then each team, with every count, rate and stage average. Rates
are fractions (0.875, not 87.5) so a spreadsheet computes with them; the
workbook shows them as percentages.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from layers.time.evaluation import (
    COUNT_LABELS,
    DEFINITIONS,
    RATES,
    STAGE_AVERAGES,
    Evaluation,
)
from layers.time.evaluation_sql import COUNTS

HEADER = ("group", "code", "name", "team_type", *COUNTS,
          *(name for name, *_ in RATES), *(f"avg_hours_{stage}" for stage, *_ in STAGE_AVERAGES))
LABELS = ("分组", "编码", "名称", "队伍类型", *(COUNT_LABELS[name] for name in COUNTS),
          *(label for *_, label in RATES), *(label for *_, label in STAGE_AVERAGES))


def _line(group: str, code: str | None, name: str, team_type: str | None, row: dict[str, Any]) -> list[Any]:
    return [group, code or "", name, team_type or "", *(row[name] for name in COUNTS),
            *(row[name] for name, *_ in RATES), *(row["avg_hours"][stage] for stage, *_ in STAGE_AVERAGES)]


def rows(evaluation: Evaluation) -> Iterator[list[Any]]:
    """Every figures row as a list in :data:`HEADER` order; None where a rate has no denominator."""
    area = evaluation.area
    yield _line(area.level.name, area.code, area.name, None, evaluation.total)
    for child in evaluation.children:
        yield _line(area.level.child_level, child["code"], child["name"], None, child)
    for team in evaluation.teams:
        yield _line("team", team["code"], team["name"], team["type"], team)


def to_csv(evaluation: Evaluation) -> str:
    """The CSV text: English header line, then every row (empty cells where a rate has no data)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for line in rows(evaluation):
        writer.writerow(["" if value is None else value for value in line])
    return out.getvalue()


def to_xlsx(evaluation: Evaluation) -> bytes:
    """The workbook: sheet 评价 (labels, keys, rows) and sheet 定义 (period, as-of, every definition)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "评价"
    sheet.append(list(LABELS))
    sheet.append(list(HEADER))
    for cell in (*sheet[1], *sheet[2]):
        cell.font = Font(bold=True)
    first_rate = 4 + len(COUNTS)
    for line in rows(evaluation):
        sheet.append(line)
        for cell in sheet[sheet.max_row][first_rate:first_rate + len(RATES)]:
            cell.number_format = "0.0%"
        for cell in sheet[sheet.max_row][first_rate + len(RATES):]:
            cell.number_format = "0.00"
    sheet.freeze_panes = "E3"
    notes = book.create_sheet("定义")
    area = evaluation.area
    notes.append(["area", area.code, area.name])
    notes.append(["from", evaluation.period.first.isoformat()])
    notes.append(["to", evaluation.period.last.isoformat()])
    notes.append(["timezone", "Asia/Shanghai"])
    notes.append(["as_of", evaluation.as_of.isoformat()])
    notes.append([])
    notes.append(["key", "指标", "definition"])
    for key, label, text in DEFINITIONS:
        notes.append([key, label, text])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
