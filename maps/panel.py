"""The HTML around the map of a command view: side panel, header with clock, legend.

Plain escaped HTML: these fragments are added to the Folium figure as they
are, and the page's script (``static/wangge/wall.js``) fills the clock and the
last-refresh time.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from layers.indicators import ChildIndicators, OverdueCase
from maps import style

LEVEL_NAMES = {"district": "区 District", "street": "街道 Street", "community": "社区 Community"}
CHILD_NAMES = {"district": "街道 Streets", "street": "社区 Communities", "community": "网格 Grids"}


def header_html(level: str, name: str, code: str, up_url: str | None) -> str:
    """Title, level, the link up a level, the clock and the last refresh time."""
    up = f'<a class="wg-up" href="{escape(up_url)}">↑ 上一级 Up</a>' if up_url else ""
    return (
        '<div class="wg-header" id="wg-header">'
        f'<span class="wg-level">{escape(LEVEL_NAMES[level])}</span>'
        f'<span class="wg-title">{escape(name)}</span> '
        f'<span class="wg-code">{escape(code)}</span>{up}'
        # the month's evaluation report (api/routers/evaluation.py), opened beside the wall
        f'<a class="wg-eval-link" href="/reports/evaluation/{escape(code)}" target="_blank" rel="noopener" '
        'style="color:#7dd3fc;text-decoration:none;margin-left:0.8rem">考核 Evaluation</a>'
        '<span class="wg-clock" id="wg-clock">--:--:--</span>'
        '<span class="wg-refresh">刷新 refreshed <span id="wg-refreshed">–</span></span>'
        "</div>"
    )


def panel_html(
    level: str,
    indicators: Sequence[ChildIndicators],
    overdue: Sequence[OverdueCase],
    child_url: dict[str, str],
) -> str:
    """Return the side panel: each child's indicators (linked to its view), overdue cases."""
    rows = []
    for child in indicators:
        cells = "".join(
            f"<td>{escape(style.format_value(s, child.value(key)))}</td>"
            for key, s in style.INDICATOR_STYLES.items()
        )
        url = child_url.get(child.code)
        name = f'<a href="{escape(url)}">{escape(child.name)}</a>' if url else escape(child.name)
        rows.append(f'<tr data-code="{escape(child.code)}"><td>{name}</td>{cells}</tr>')
    heads = "".join(
        f"<th>{escape(s.label.split(' ')[0])}</th>" for s in style.INDICATOR_STYLES.values()
    )
    cases = "".join(
        f"<li><b>#{case.id}</b> {escape(case.category)} · {escape(case.status)} · "
        f"超期自 {case.deadline:%m-%d %H:%M}"
        f"{' · ' + escape(case.address) if case.address else ''}</li>"
        for case in overdue
    )
    return (
        '<aside class="wg-panel" id="wg-panel">'
        f"<h3>{escape(CHILD_NAMES[level])}</h3>"
        f'<table class="wg-table"><thead><tr><th>名称</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<h3>超期案件 Overdue cases ({len(overdue)})</h3>"
        f'<ol class="wg-overdue">{cases or "<li>无 none</li>"}</ol>'
        "</aside>"
    )


def legend_html(indicator: str, breaks: Sequence[float]) -> str:
    """Return the legend: indicator classes, colours of cases, teams and water levels."""
    s = style.INDICATOR_STYLES[indicator]

    def swatches(pairs: Sequence[tuple[str, str]]) -> str:
        return "".join(
            f'<div><i style="background:{c}"></i>{escape(label)}</div>' for c, label in pairs
        )

    case_pairs = [
        *((c, k) for k, c in style.CASE_STATUS_COLOURS.items()),
        (style.OVERDUE_COLOUR, "overdue 超期"),
    ]
    return (
        '<div class="wg-legend" id="wg-legend">'
        f"<h4>{escape(s.label)}</h4>{swatches(style.legend_entries(s, breaks))}"
        f"<h4>案件 Cases</h4>{swatches(case_pairs)}"
        f"<h4>队伍 Teams</h4>{swatches(list((c, k) for k, c in style.TEAM_STATUS_COLOURS.items()))}"
        f"<h4>易涝点 Water level</h4>"
        f"{swatches(list((c, k) for k, c in style.WATER_STATE_COLOURS.items()))}"
        "</div>"
    )
