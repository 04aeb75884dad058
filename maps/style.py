"""Colours and legends of the command views: one place, shared by the builder and the page's JS.

Indicator shading uses five-step sequential ramps (light = good); for the
on-time rate the ramp runs the other way, since a high rate is good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NO_DATA = "#5b6b7c"
_REDS = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")


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

CASE_STATUS_COLOURS = {
    "accepted": "#3b82f6",
    "dispatched": "#8b5cf6",
    "handling": "#f59e0b",
    "feedback": "#14b8a6",
    "verified": "#22c55e",
}
OVERDUE_COLOUR = "#ef4444"
TEAM_STATUS_COLOURS = {"free": "#22c55e", "busy": "#f97316", "off_duty": "#94a3b8"}
WATER_STATE_COLOURS = {"normal": "#38bdf8", "warn": "#f59e0b", "alarm": "#ef4444"}
GRID_LINE = "#7dd3fc"
BUILDING_FILL = "#cbd5e1"
STALL_FILL = "#eab308"
CAMERA_COLOURS = {True: "#a3e635", False: "#64748b"}


def format_value(style: IndicatorStyle, value: float | None) -> str:
    """Return the indicator as shown: a count, a percentage, or a dash for no data."""
    if value is None:
        return "–"
    return f"{value:.0%}" if style.percent else f"{value:.0f}"


def class_breaks(values: Sequence[float | None], steps: int = len(_REDS)) -> list[float]:
    """Return upper bounds of ``steps`` equal-width classes over the values present."""
    present = [v for v in values if v is not None]
    if not present:
        return []
    low, high = min(present), max(present)
    if high == low:
        return [high]
    width = (high - low) / steps
    return [low + width * (i + 1) for i in range(steps)]


def shade(style: IndicatorStyle, value: float | None, breaks: Sequence[float]) -> str:
    """Return the fill colour of ``value`` among ``breaks``; grey when there is no value."""
    if value is None or not breaks:
        return NO_DATA
    index = next((i for i, upper in enumerate(breaks) if value <= upper), len(breaks) - 1)
    ramp = _REDS[: len(breaks)] if len(breaks) < len(_REDS) else _REDS
    if not style.higher_is_worse:
        ramp = ramp[::-1]
    return ramp[min(index, len(ramp) - 1)]


def legend_entries(style: IndicatorStyle, breaks: Sequence[float]) -> list[tuple[str, str]]:
    """(colour, label) pairs for the indicator legend, from the lowest class up."""
    entries = []
    lower: float | None = None
    for upper in breaks:
        label = (
            f"≤ {format_value(style, upper)}"
            if lower is None
            else (f"{format_value(style, lower)} – {format_value(style, upper)}")
        )
        entries.append((shade(style, upper, breaks), label))
        lower = upper
    entries.append((NO_DATA, "无数据 no data"))
    return entries
