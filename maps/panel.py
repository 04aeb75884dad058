"""The HTML around the map of a command view: header with clock, side panel with KPIs, legend.

Plain escaped HTML: these fragments are added to the Folium figure as they
are. The panel's body and the indicator part of the legend are also what
the wall's live poll (``/maps/{level}/{code}/panel``) answers, so the page
swaps them in as cases change without a reload; ``static/wangge/wall.js``
fills the clock and the last-refresh time.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from layers.indicators import ChildIndicators, OverdueCase
from maps import style

LEVEL_NAMES = {"district": "区 District", "street": "街道 Street", "community": "社区 Community"}
CHILD_NAMES = {"district": "街道 Streets", "street": "社区 Communities", "community": "网格 Grids"}
SHAPE_NAMES = {"cases": "案件 Cases ●", "teams": "队伍 Teams ■", "waterlogging": "易涝点 Water level ▲",
               "cameras": "摄像头 Cameras ◆", "clusters": "聚合 Clusters"}


def header_html(level: str, name: str, code: str, up_url: str | None) -> str:
    """Title, level, the link up a level, the new-case notice, the clock, the panel toggle."""
    up = f'<a class="wg-up" href="{escape(up_url)}">↑ 上一级 Up</a>' if up_url else ""
    return (
        '<div class="wg-header" id="wg-header">'
        f'<span class="wg-level">{escape(LEVEL_NAMES[level])}</span>'
        f'<span class="wg-title">{escape(name)}</span> '
        f'<span class="wg-code">{escape(code)}</span>{up}'
        # the month's evaluation report (api/routers/evaluation.py), opened beside the wall
        f'<a class="wg-eval-link" href="/reports/evaluation/{escape(code)}" target="_blank" rel="noopener" '
        'style="color:#7dd3fc;text-decoration:none;margin-left:0.8rem">考核 Evaluation</a>'
        '<span class="wg-news" id="wg-news" data-testid="new-case" role="status" aria-live="polite"></span>'
        '<span class="wg-clock" id="wg-clock">--:--:--</span>'
        '<span class="wg-refresh">刷新 <span id="wg-refreshed">–</span></span>'
        '<button type="button" class="wg-toggle" id="wg-toggle" aria-controls="wg-panel" '
        'aria-expanded="false" title="面板 Panel">☰</button>'
        "</div>"
    )


def _kpis(indicators: Sequence[ChildIndicators]) -> str:
    open_cases = sum(c.open_cases for c in indicators)
    overdue = sum(c.overdue_cases for c in indicators)
    closed = sum(c.closed_30d for c in indicators)
    rate = sum(c.on_time_30d for c in indicators) / closed if closed else None
    figures = (
        ("kpi-open", "在办 Open", str(open_cases)),
        ("kpi-overdue", "超期 Overdue", str(overdue)),
        ("kpi-ontime", "30天按期 On time", style.format_value(style.INDICATOR_STYLES["on_time_rate"], rate)),
    )
    return '<div class="wg-kpis">' + "".join(
        f'<div class="wg-kpi"><span class="wg-kpi-value" id="{key}" data-testid="{key}">{escape(value)}</span>'
        f'<span class="wg-kpi-label">{escape(label)}</span></div>'
        for key, label, value in figures
    ) + "</div>"


def panel_body(
    level: str,
    indicators: Sequence[ChildIndicators],
    overdue: Sequence[OverdueCase],
    child_url: dict[str, str],
) -> str:
    """The panel's content: KPIs of the area, each child's indicators (linked), overdue cases."""
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
        f'<li data-case="{case.id}"><b>#{case.id}</b> {escape(case.category)} · {escape(case.status)} · '
        f"超期自 {case.deadline:%m-%d %H:%M}"
        f"{' · ' + escape(case.address) if case.address else ''}</li>"
        for case in overdue
    )
    return (
        _kpis(indicators)
        + f"<h3>{escape(CHILD_NAMES[level])}</h3>"
        f'<table class="wg-table"><thead><tr><th>名称</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<h3>超期案件 Overdue cases (<span id="wg-overdue-count">{len(overdue)}</span>)</h3>'
        f'<ol class="wg-overdue" id="wg-overdue">{cases or "<li>无 none</li>"}</ol>'
    )


def panel_html(body: str) -> str:
    """Return the side panel (a drawer on narrow screens) around a :func:`panel_body`."""
    return (
        '<aside class="wg-panel" id="wg-panel" aria-label="指标 Indicators">'
        f'<div id="wg-panel-body">{body}</div>'
        "</aside>"
    )


def _swatch(colour: str, label: str) -> str:
    return f'<div><i style="background:{colour}"></i>{escape(label)}</div>'


def indicator_legend(indicator: str, breaks: Sequence[float], no_data: bool) -> str:
    """The shading part of the legend: one line per class, as the live poll redraws it."""
    s = style.INDICATOR_STYLES[indicator]
    return f"<h4>{escape(s.label)}</h4>" + "".join(
        _swatch(colour, label) for colour, label in style.legend_entries(s, breaks, no_data)
    )


def marker_svg(shape: str, fill: str, size: int = 16) -> str:
    """An inline SVG of a layer's mark: its shape, filled or hollow (``fill`` "none")."""
    stroke = style.HOLLOW_STROKE if fill == style.HOLLOW else "#0b1622"
    paths = {
        "circle": '<circle cx="8" cy="8" r="6"/>',
        "disc": '<circle cx="8" cy="8" r="7"/>',
        "square": '<rect x="2" y="2" width="12" height="12"/>',
        "triangle": '<polygon points="8,1.5 15,14.5 1,14.5"/>',
        "diamond": '<polygon points="8,1 15,8 8,15 1,8"/>',
    }
    return (
        f'<svg class="wg-mark" viewBox="0 0 16 16" width="{size}" height="{size}" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="2">{paths[shape]}</svg>'
    )


def _marks(layer: str, pairs: Sequence[tuple[str, str]]) -> str:
    shape = style.SHAPES[layer]
    return f"<h4>{escape(SHAPE_NAMES[layer])}</h4>" + "".join(
        f"<div>{marker_svg(shape, colour)}{escape(label)}</div>" for colour, label in pairs
    )


def legend_html(shading: str) -> str:
    """Return the legend of everything the wall draws: shading (an :func:`indicator_legend`), marks, clusters."""
    return (
        '<div class="wg-legend" id="wg-legend" data-testid="legend">'
        f'<div id="wg-legend-shading">{shading}</div>'
        + _marks("cases", [*style.CASE_GROUPS, (style.OVERDUE_COLOUR, "超期 overdue")])
        + '<div><svg class="wg-mark wg-new-mark" viewBox="0 0 16 16" width="16" height="16" fill="none" '
        f'stroke="{style.NEW_CASE_RING}" stroke-width="2"><circle cx="8" cy="8" r="6"/></svg>新案件 new</div>'
        + _marks("clusters", [(style.CLUSTER_COLOUR, "多个案件, 数字为件数 several cases: count")])
        + '<div><svg class="wg-mark" viewBox="0 0 16 16" width="16" height="16">'
        f'<circle cx="8" cy="8" r="6" fill="{style.CLUSTER_COLOUR}" stroke="{style.OVERDUE_COLOUR}" '
        'stroke-width="3"/></svg>含超期 with overdue cases</div>'
        + _marks("teams", [(style.TEAM_STATUS_COLOURS["free"], "空闲 free"),
                           (style.TEAM_STATUS_COLOURS["busy"], "忙碌 busy"),
                           (style.HOLLOW, "下班 off duty")])
        + _marks("waterlogging", [(style.WATER_STATE_COLOURS["alarm"], "报警 alarm"),
                                  (style.WATER_STATE_COLOURS["warn"], "警戒 warning"),
                                  (style.HOLLOW, "正常 normal")])
        + _marks("cameras", [(style.CAMERA_COLOURS[True], "在线 online"),
                             (style.HOLLOW, "离线 offline")])
        + "<h4>其他 Other</h4>"
        f'<div><i class="wg-line" style="border-color:{style.STALL_LINE}"></i>摊群点 stall zone</div>'
        f'<div><i class="wg-line wg-solid" style="border-color:{style.GRID_LINE}"></i>网格 grid</div>'
        "</div>"
    )
