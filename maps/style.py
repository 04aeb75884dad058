"""Colours, shapes and legends of the command views: one place, shared by the builder and the page's JS.

Every point layer has its own shape (cases circles, teams squares, water
levels triangles, cameras diamonds, clusters discs with a count), and every
meaning its own colour, taken from the Okabe–Ito palette (told apart with
any of the common colour-vision deficiencies) plus white, black and greys:
no colour is used for two meanings. A hollow mark (outline only) means the
same on every layer: nothing to act on (an off-duty team, a water level
below its warning line, a camera offline).

Area shading uses a five-step sequential ramp from cividis (dark blue to
khaki: even in lightness, colour-blind safe, and no step equals a marker
colour); lighter is worse, so for the on-time rate the ramp runs the other
way. Class breaks are whole counts (or whole percents, as shown), never
repeat a value, and 0 is a class of its own: a grid with no case reads 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NO_DATA = "#0b1622"  # the map's own background: an area without data is left unshaded
RAMP = ("#00224e", "#35456c", "#666970", "#948e77", "#c8b866")  # cividis, dark = good


@dataclass(frozen=True)
class IndicatorStyle:
    """How an indicator is named, formatted and shaded."""

    key: str
    label: str
    higher_is_worse: bool
    percent: bool = False


INDICATOR_STYLES: dict[str, IndicatorStyle] = {
    s.key: s
    for s in (
        IndicatorStyle("open_cases", "在办案件 Open cases", higher_is_worse=True),
        IndicatorStyle("overdue_cases", "超期案件 Overdue cases", higher_is_worse=True),
        IndicatorStyle(
            "on_time_rate",
            "30天按期结案率 On-time closure (30 days)",
            higher_is_worse=False,
            percent=True,
        ),
    )
}

# Okabe–Ito
SKY, BLUE, GREEN, YELLOW = "#56b4e9", "#0072b2", "#009e73", "#f0e442"
ORANGE, VERMILLION, PURPLE = "#e69f00", "#d55e00", "#cc79a7"
WHITE, BLACK, GREY, HOLLOW = "#ffffff", "#000000", "#8c8c8c", "none"

# A case's colour says what it waits for; its status word is in the popup.
CASE_STATUS_COLOURS = {
    "accepted": SKY,  # waits for dispatch
    "dispatched": BLUE,  # with a team
    "handling": BLUE,
    "feedback": GREEN,  # waits for the operator: verify, close or return
    "verified": GREEN,
}
CASE_GROUPS = (
    (SKY, "待派遣 to dispatch"),
    (BLUE, "处置中 with a team"),
    (GREEN, "待核查结案 to verify / close"),
)
OVERDUE_COLOUR = VERMILLION
TEAM_STATUS_COLOURS = {"free": YELLOW, "busy": WHITE, "off_duty": HOLLOW}
WATER_STATE_COLOURS = {"normal": HOLLOW, "warn": ORANGE, "alarm": PURPLE}
CAMERA_COLOURS = {True: BLACK, False: HOLLOW}
CLUSTER_COLOUR = GREY
HOLLOW_STROKE = "#bbbbbb"
NEW_CASE_RING = WHITE  # the pulsing ring of a case filed since the wall opened
GRID_LINE = "#7b8794"  # lines, not fills: never confused with a marker
BUILDING_FILL = "#4b5563"
STALL_LINE = WHITE  # dashed outline, no fill

SHAPES = {"cases": "circle", "teams": "square", "waterlogging": "triangle",
          "cameras": "diamond", "clusters": "disc"}


def format_value(style: IndicatorStyle, value: float | None) -> str:
    """Return the indicator as shown: a count, a percentage, or a dash for no data."""
    if value is None:
        return "–"
    return f"{value:.0%}" if style.percent else f"{value:.0f}"


def _units(style: IndicatorStyle, value: float) -> int:
    """The value in the whole units it is shown in (cases, or percent points)."""
    return round(value * 100) if style.percent else round(value)


def class_breaks(
    values: Sequence[float | None], steps: int = len(RAMP), style: IndicatorStyle | None = None
) -> list[float]:
    """Return the inclusive upper bounds of at most ``steps`` classes over the values present.

    Bounds are whole units as shown (counts; percents for a percent style),
    strictly increasing, so no two classes share a label. When 0 occurs and
    is not the only value, it is a class of its own.
    """
    kind = style or INDICATOR_STYLES["open_cases"]
    present = sorted({_units(kind, v) for v in values if v is not None})
    if not present:
        return []
    low, high = present[0], present[-1]
    uppers: list[int] = []
    if low == 0 and high > 0:
        uppers.append(0)
        low = 1
    classes = steps - len(uppers)
    width = max(1, math.ceil((high - low + 1) / classes))
    upper = low - 1
    while upper < high:
        upper = min(high, upper + width)
        uppers.append(upper)
    scale = 100 if kind.percent else 1
    return [u / scale for u in uppers]


def _class_of(style: IndicatorStyle, value: float, breaks: Sequence[float]) -> int:
    units = _units(style, value)
    return next(
        (i for i, upper in enumerate(breaks) if units <= _units(style, upper)), len(breaks) - 1
    )


def _ramp_for(style: IndicatorStyle, classes: int) -> list[str]:
    """``classes`` ramp colours spread from good to bad, best first in class order."""
    last = len(RAMP) - 1
    picks = [RAMP[round(i * last / max(1, classes - 1))] for i in range(classes)]
    return picks if style.higher_is_worse else picks[::-1]


def shade(style: IndicatorStyle, value: float | None, breaks: Sequence[float]) -> str:
    """Return the fill colour of ``value`` among ``breaks``; unshaded when there is no value."""
    if value is None or not breaks:
        return NO_DATA
    return _ramp_for(style, len(breaks))[_class_of(style, value, breaks)]


def _label(style: IndicatorStyle, lower: int, upper: int) -> str:
    def shown(units: int) -> str:
        return f"{units}%" if style.percent else str(units)

    return shown(upper) if lower == upper else f"{shown(lower)}–{shown(upper)}"


def legend_entries(
    style: IndicatorStyle, breaks: Sequence[float], no_data: bool = False
) -> list[tuple[str, str]]:
    """(colour, label) pairs for the indicator legend, from the lowest class up.

    Labels are inclusive ranges of whole units ("0", "1–3", "4–6"), so none
    repeats; "no data" is listed only when some area has none (``no_data``).
    """
    colours = _ramp_for(style, len(breaks))
    entries = []
    lower = 0  # counts and rates are never negative: the first class starts at 0
    for colour, upper in zip(colours, breaks, strict=True):
        top = _units(style, upper)
        entries.append((colour, _label(style, lower, top)))
        lower = top + 1
    if no_data or not breaks:
        entries.append((NO_DATA, "无数据 no data"))
    return entries
