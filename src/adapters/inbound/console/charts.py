"""Bar charts as geometry the templates draw in SVG: no chart library, no script (ADR 0030)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 44


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # its colour: class "s0", "s1", …
    title: str  # the tooltip and what a screen reader hears


@dataclass(frozen=True)
class Chart:
    title: str
    categories: list[str]
    series: list[str]
    values: list[list[float]]  # per series, per category: the data table beside the picture
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label) of the grid lines
    labels: list[tuple[float, str]] = field(default_factory=list)  # (x, text) under each category
    width: int = WIDTH
    height: int = HEIGHT
    plot_bottom: float = HEIGHT - BOTTOM


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


UNITS = (("ms", 0.001, 1), ("s", 1, 120), ("min", 60, 7200), ("h", 3600, 172800), ("d", 86400, math.inf))


def in_unit(seconds: list[float]) -> tuple[list[float], str]:
    """Durations in the unit that reads best for the longest of them."""
    longest = max(seconds, default=0)
    name, size, _ = next(u for u in UNITS if longest < u[2])
    return [round(s / size, 3) for s in seconds], name


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    (value,), unit = in_unit([seconds])
    return f"{_number(value)} {unit}"


def bar_chart(title: str, categories: list[str], series: dict[str, list[float]], unit: str = "") -> Chart:
    """Grouped vertical bars: one group per category, one bar per series."""
    names, values = list(series), [list(v) for v in series.values()]
    top = _nice_max(max((v for row in values for v in row), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_w / max(len(categories), 1)
    bar_w = max(min(group * 0.8 / max(len(names), 1), 48), 1.0)
    bars, labels = [], []
    for c, category in enumerate(categories):
        start = LEFT + c * group + (group - bar_w * len(names)) / 2
        for s, name in enumerate(names):
            value = values[s][c]
            h = plot_h * value / top
            bars.append(Bar(round(start + s * bar_w, 2), round(TOP + plot_h - h, 2), round(bar_w - 1, 2),
                            round(h, 2), s, f"{category} · {name}: {_number(value)}{unit}"))
        labels.append((round(LEFT + c * group + group / 2, 2), category))
    ticks = [(round(TOP + plot_h * (1 - f), 2), _number(top * f) + unit) for f in (0, 0.5, 1)]
    return Chart(title, categories, names, values, bars, ticks, labels)
