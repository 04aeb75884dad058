"""The printable monthly evaluation report of an area: ranked children, bar charts, teams, definitions.

One self-contained HTML page: the charts are inline SVG drawn here (no chart
library, nothing from the internet), the stylesheet and the small script
(print button, month picker) are wangge's own static files, and the print
stylesheet lays it out on A4 so the browser's "Save as PDF" gives clean pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from layers.time.evaluation import DEFINITIONS, Evaluation
from maps.assets import FONT_CSS, STATIC_URL_PREFIX

LEVEL_NAMES = {"district": "区", "street": "街道", "community": "社区", "grid": "网格"}
# the children are ranked by on-time handling first, then closure, then fewest reworks
RANKING = "按期处置率 ↓, 结案率 ↓, 返工率 ↑"
_BAR_W, _LABEL_W, _ROW_H = 420, 150, 22


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def rank_key(row: dict[str, Any]) -> tuple[float, float, float, str]:
    """Sort key of a child or team: best first; rates without data last."""
    def rate(name: str, missing: float) -> float:
        value = row[name]
        return missing if value is None else value
    return (-rate("on_time_handling_rate", -1.0), -rate("closure_rate", -1.0), rate("rework_rate", 2.0), row["code"])


def bar_chart(title: str, items: Sequence[tuple[str, float | None]], scale: float,
              fmt: Callable[[float | None], str], css_class: str = "") -> str:
    """A horizontal bar chart as inline SVG: one labelled bar per item, ``scale`` the full bar's value."""
    height = _ROW_H * len(items) + 8
    width = _LABEL_W + _BAR_W + 70
    parts = [f'<figure class="chart {css_class}"><figcaption>{escape(title)}</figcaption>',
             f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'preserveAspectRatio="xMinYMin meet">']
    for index, (label, value) in enumerate(items):
        y = 4 + index * _ROW_H
        share = 0.0 if value is None or scale <= 0 else max(0.0, min(1.0, value / scale))
        parts.append(f'<text class="label" x="{_LABEL_W - 6}" y="{y + 15}">{escape(label[:14])}</text>')
        parts.append(f'<rect class="track" x="{_LABEL_W}" y="{y + 3}" width="{_BAR_W}" height="{_ROW_H - 6}"/>')
        if value is not None:
            parts.append(f'<rect class="bar" x="{_LABEL_W}" y="{y + 3}" width="{share * _BAR_W:.1f}" '
                         f'height="{_ROW_H - 6}"/>')
        parts.append(f'<text class="value" x="{_LABEL_W + _BAR_W + 6}" y="{y + 15}">{escape(fmt(value))}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)


def _charts(ranked: list[dict[str, Any]], child_name: str) -> str:
    labelled = [row.get("name") or row["code"] for row in ranked]
    charts = [
        bar_chart(f"按期处置率 (各{child_name})", list(zip(labelled, (r["on_time_handling_rate"] for r in ranked),
                                                          strict=True)), 1.0, _pct),
        bar_chart(f"结案率 (各{child_name})", list(zip(labelled, (r["closure_rate"] for r in ranked), strict=True)),
                  1.0, _pct),
        bar_chart(f"返工率 (各{child_name})", list(zip(labelled, (r["rework_rate"] for r in ranked), strict=True)),
                  max([0.1, *(r["rework_rate"] or 0.0 for r in ranked)]), _pct, "warn"),
        bar_chart(f"上报数 (各{child_name})", list(zip(labelled, (float(r["cases"]) for r in ranked), strict=True)),
                  max([1.0, *(float(r["cases"]) for r in ranked)]), lambda v: f"{v or 0:.0f}", "count"),
    ]
    hours = [(r.get("name") or r["code"], r["avg_hours"]["handle"]) for r in ranked]
    charts.append(bar_chart(f"平均处置用时 小时 (各{child_name})", hours,
                            max([1.0, *(h or 0.0 for _, h in hours)]), _hours, "count"))
    return "".join(charts)


_COLUMNS: tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...] = (
    ("上报", "cases", lambda r: str(r["cases"])),
    ("立案", "filed", lambda r: str(r["filed"])),
    ("按时派遣率", "on_time_dispatch_rate", lambda r: _pct(r["on_time_dispatch_rate"])),
    ("按期处置率", "on_time_handling_rate", lambda r: _pct(r["on_time_handling_rate"])),
    ("结案率", "closure_rate", lambda r: _pct(r["closure_rate"])),
    ("返工率", "rework_rate", lambda r: _pct(r["rework_rate"])),
    ("满意率*", "satisfaction_rate", lambda r: _pct(r["satisfaction_rate"])),
    ("派遣h", "dispatch_hours", lambda r: _hours(r["avg_hours"]["dispatch"])),
    ("处置h", "handle_hours", lambda r: _hours(r["avg_hours"]["handle"])),
    ("核查h", "verify_hours", lambda r: _hours(r["avg_hours"]["verify"])),
    ("反馈h", "feedback_hours", lambda r: _hours(r["avg_hours"]["feedback"])),
    ("协办", "support_reported", lambda r: str(r["support_reported"])),
    ("协办按时", "support_on_time_rate", lambda r: _pct(r["support_on_time_rate"])),
)


def _table(rows: list[dict[str, Any]], first_header: str, name_of: Callable[[dict[str, Any]], str],
           css_class: str) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for label, _, _ in _COLUMNS)
    body = []
    for rank, row in enumerate(rows, start=1):
        cells = "".join(f'<td data-key="{key}">{escape(show(row))}</td>' for _, key, show in _COLUMNS)
        body.append(f'<tr><td class="rank">{rank}</td><td class="name">{escape(name_of(row))}</td>{cells}</tr>')
    return (f'<div class="scroll"><table class="{css_class}"><thead><tr><th>名次</th><th>{escape(first_header)}</th>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _kpis(total: dict[str, Any]) -> str:
    tiles = [("上报数", str(total["cases"])), ("立案数", str(total["filed"])),
             ("按时派遣率", _pct(total["on_time_dispatch_rate"])), ("按期处置率", _pct(total["on_time_handling_rate"])),
             ("结案率", _pct(total["closure_rate"])), ("返工率", _pct(total["rework_rate"])),
             ("满意率*", _pct(total["satisfaction_rate"])),
             ("平均处置用时", _hours(total["avg_hours"]["handle"]) + " h")]
    return '<section class="kpis">' + "".join(
        f'<div class="kpi"><span>{escape(label)}</span><b>{escape(value)}</b></div>' for label, value in tiles
    ) + "</section>"


def _month_links(prefix: str, code: str, first: date) -> tuple[str, str]:
    previous = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return (f"{prefix}/reports/evaluation/{code}?month={previous:%Y-%m}",
            f"{prefix}/reports/evaluation/{code}?month={following:%Y-%m}")


def wall_panel(evaluation: Evaluation, root_path: str = "", top: int = 5) -> str:
    """A small HTML fragment for a map wall: the period's key rates and the best and last children.

    Plain escaped HTML with its own class names (``wg-eval``), no script and
    no stylesheet of its own, so a wall can drop it into its side panel as it is.
    """
    area, period, total = evaluation.area, evaluation.period, evaluation.total
    ranked = [row for row in sorted(evaluation.children, key=rank_key) if row["cases"]]
    shown = ranked if len(ranked) <= 2 * top else ranked[:top] + ranked[-top:]
    rows = "".join(
        f'<tr><td>{ranked.index(row) + 1}</td><td>{escape(str(row.get("name") or row["code"]))}</td>'
        f'<td>{_pct(row["on_time_handling_rate"])}</td><td>{_pct(row["closure_rate"])}</td>'
        f'<td>{_pct(row["rework_rate"])}</td></tr>' for row in shown)
    link = f"{root_path}/reports/evaluation/{area.code}?month={period.first:%Y-%m}"
    return (f'<section class="wg-eval" data-area="{escape(area.code)}" data-from="{period.first}" '
            f'data-to="{period.last}"><h3>考核 {period.first:%Y-%m} Evaluation</h3>'
            f'<p class="wg-eval-kpis">按期处置 {_pct(total["on_time_handling_rate"])} · '
            f'结案 {_pct(total["closure_rate"])} · 返工 {_pct(total["rework_rate"])} · '
            f'上报 {total["cases"]}</p>'
            f'<table><thead><tr><th>#</th><th>{escape(LEVEL_NAMES[area.level.child_level])}</th>'
            f'<th>按期处置</th><th>结案</th><th>返工</th></tr></thead><tbody>{rows}</tbody></table>'
            f'<a href="{escape(link)}" target="_blank" rel="noopener">月报 Report ›</a></section>')


def report_page(evaluation: Evaluation, root_path: str = "") -> str:
    """The report's HTML for ``evaluation`` (normally one calendar month)."""
    area, period = evaluation.area, evaluation.period
    child_name = LEVEL_NAMES[area.level.child_level]
    ranked = sorted(evaluation.children, key=rank_key)
    teams = sorted((t for t in evaluation.teams if t["cases"] or t["support_reported"] or t["support_released"]),
                   key=lambda t: rank_key({**t, "code": t["code"] or ""}))
    static = f"{root_path}{STATIC_URL_PREFIX}"
    query = urlencode({"area": area.code, "from": period.first.isoformat(), "to": period.last.isoformat()})
    previous, following = _month_links(root_path, area.code, period.first)
    title = f"{area.name} {period.first:%Y年%m月} 考核评价"
    definitions = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for _, label, text in DEFINITIONS)
    fonts = "".join(f'<link rel="stylesheet" href="{root_path}{url}">' for url in FONT_CSS)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>{fonts}
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{static}/wangge/report.css">
<script defer src="{static}/wangge/report.js"></script>
</head><body>
<nav class="controls">
  <a href="{escape(previous)}">‹ 上月</a>
  <form method="get"><input type="month" name="month" value="{period.first:%Y-%m}" aria-label="月份">
  <button type="submit">查看</button></form>
  <a href="{escape(following)}">下月 ›</a>
  <a href="{root_path}/evaluation.csv?{escape(query)}">CSV</a>
  <a href="{root_path}/evaluation.xlsx?{escape(query)}">Excel</a>
  <button type="button" id="print">打印 / 存为 PDF</button>
</nav>
<header class="title">
  <h1>{escape(title)}</h1>
  <p>{escape(LEVEL_NAMES[area.level.name])} {escape(area.code)} · 统计周期 {period.first} 至 {period.last}
  (上报时间, 北京时间) · 数据截至 {evaluation.as_of.astimezone(period.start.tzinfo):%Y-%m-%d %H:%M}</p>
</header>
{_kpis(evaluation.total)}
<section class="ranking">
  <h2>各{escape(child_name)}排名 <small>({escape(RANKING)})</small></h2>
  {_table(ranked, child_name, lambda r: str(r.get("name") or r["code"]), "children")}
</section>
<section class="charts">{_charts(ranked, child_name)}</section>
<section class="teams">
  <h2>各队伍 <small>(主办或协办过案件的队伍, {len(teams)} 支)</small></h2>
  {_table(teams, "队伍", lambda t: str(t["name"]), "teams")}
</section>
<section class="definitions">
  <h2>指标定义 <small>(参照 GB/T 30428.4 绩效评价; * 满意率为代理指标: 无回访数据, 以一次办结计)</small></h2>
  <dl>{definitions}</dl>
</section>
</body></html>
"""
