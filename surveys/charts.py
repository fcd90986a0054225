"""Small server-side SVG charts for the reports: no CDN, no JavaScript, readable without CSS.

Each function returns safe SVG markup sized by its viewBox (CSS makes it fluid). Labels are
escaped; every point carries a <title> so hovering shows its exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 220
PAD_LEFT = 40
PAD_RIGHT = 12
PAD_TOP = 14
PAD_BOTTOM = 28


@dataclass(frozen=True)
class Point:
    label: str  # x-axis label (e.g. "Mar 2")
    value: float | None  # None: no data for this x (a gap in a line)
    title: str = ""  # tooltip text; defaults to "label: value"


def _x_positions(count: int) -> list[float]:
    """The centre of each of `count` equal bands (labels never reach the edges)."""
    inner = WIDTH - PAD_LEFT - PAD_RIGHT
    band = inner / max(count, 1)
    return [PAD_LEFT + band * (i + 0.5) for i in range(count)]


def _y(value: float, low: float, high: float) -> float:
    inner = HEIGHT - PAD_TOP - PAD_BOTTOM
    span = (high - low) or 1
    return PAD_TOP + inner * (1 - (value - low) / span)


def _n(value: float) -> str:
    """A coordinate (format_html escapes its arguments to strings, so format numbers first)."""
    return f"{value:.1f}"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _label_every(count: int) -> int:
    return max(1, -(-count // 8))  # at most ~8 x labels


def _frame(
    body: list[str], ticks: Sequence[float], low: float, high: float, aria_label: str
) -> SafeString:
    parts: list[str] = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
            'preserveAspectRatio="xMidYMid meet">',
            WIDTH,
            HEIGHT,
            aria_label,
        )
    ]
    for tick in ticks:
        y = _y(tick, low, high)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                PAD_LEFT,
                WIDTH - PAD_RIGHT,
                _n(y),
                _n(y),
                PAD_LEFT - 6,
                _n(y + 4),
                _fmt(tick),
            )
        )
    parts.extend(body)
    parts.append("</svg>")
    # Every piece went through format_html (values escaped).
    return mark_safe("".join(str(p) for p in parts))


def _x_labels(points: Sequence[Point], xs: Sequence[float]) -> list[str]:
    every = _label_every(len(points))
    return [
        format_html(
            '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
            _n(x),
            HEIGHT - 8,
            point.label,
        )
        for i, (point, x) in enumerate(zip(points, xs, strict=True))
        if i % every == 0 or i == len(points) - 1
    ]


def _nice_ticks(high: float) -> tuple[float, list[float]]:
    """A round top for a 0-based axis and its ticks."""
    if high <= 0:
        return 1, [0, 1]
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if high / step <= 5:
            top = step * -(-high // step)
            return top, [step * i for i in range(int(top // step) + 1)]
    step = 10 ** len(str(int(high // 5)))
    top = step * -(-high // step)
    return top, [step * i for i in range(int(top // step) + 1)]


def line_chart(
    points: Sequence[Point],
    *,
    low: float,
    high: float,
    ticks: Sequence[float],
    aria_label: str,
    zero_line: bool = False,
) -> SafeString:
    """A line over fixed bounds (e.g. NPS from -100 to 100); None values break the line."""
    if not points:
        return mark_safe("")
    xs = _x_positions(len(points))
    body: list[str] = []
    if zero_line and low < 0 < high:
        y0 = _y(0, low, high)
        body.append(
            format_html(
                '<line class="zero" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                PAD_LEFT,
                WIDTH - PAD_RIGHT,
                _n(y0),
                _n(y0),
            )
        )
    segments: list[list[tuple[float, float]]] = [[]]
    for point, x in zip(points, xs, strict=True):
        if point.value is None:
            segments.append([])
        else:
            segments[-1].append((x, _y(point.value, low, high)))
    for segment in segments:
        if len(segment) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            body.append(format_html('<polyline class="line" points="{}"/>', path))
    for point, x in zip(points, xs, strict=True):
        if point.value is None:
            continue
        title = point.title or f"{point.label}: {_fmt(point.value)}"
        body.append(
            format_html(
                '<circle class="dot" cx="{}" cy="{}" r="3.5"><title>{}</title></circle>',
                _n(x),
                _n(_y(point.value, low, high)),
                title,
            )
        )
    body.extend(_x_labels(points, xs))
    return _frame(body, ticks, low, high, aria_label)


def bar_chart(points: Sequence[Point], *, aria_label: str) -> SafeString:
    """Vertical bars from 0 with a rounded axis."""
    if not points:
        return mark_safe("")
    high, ticks = _nice_ticks(max((p.value or 0) for p in points))
    xs = _x_positions(len(points))
    inner = WIDTH - PAD_LEFT - PAD_RIGHT
    width = max(2.0, min(36.0, inner / max(len(points), 1) * 0.6))
    body: list[str] = []
    base = _y(0, 0, high)
    for point, x in zip(points, xs, strict=True):
        value = point.value or 0
        top = _y(value, 0, high)
        title = point.title or f"{point.label}: {_fmt(value)}"
        body.append(
            format_html(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}" rx="2">'
                "<title>{}</title></rect>",
                _n(x - width / 2),
                _n(top),
                _n(width),
                _n(max(base - top, 0)),
                title,
            )
        )
    body.extend(_x_labels(points, xs))
    return _frame(body, ticks, 0, high, aria_label)


__all__ = ["Point", "bar_chart", "line_chart"]
