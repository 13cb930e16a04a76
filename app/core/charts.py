"""Geometry shared by the server-rendered SVG charts (the capabilities' `charts.py` modules compute
what to draw with these helpers; their templates only draw it). No script, no library, and no
capability imported here.

- `Frame`: the chart's size and margins, and the plot area inside them.
- `Frame.x_linear` / `Frame.y_linear`: a linear scale from data values to pixels.
- `Frame.band`: evenly spaced slots along the x axis (one per bar or bucket).
- `nice_max`, `nice_ticks`: a rounded axis maximum and tick values for it.
- `every`: the stride that keeps at most `limit` labels on an axis.
- `polyline`: the `points` attribute of an SVG polyline.
- `evenly`: at most `limit` of a list, evenly spread (for lines and dots on big series).
- `colour`: a red-to-green scale (0 = worst, 1 = best) that reads the same in light and dark mode.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

# from worst to best: a red-to-green scale that reads the same in either mode
WORST, MIDDLE, BEST = (200, 60, 50), (240, 220, 120), (40, 150, 80)


@dataclass(frozen=True)
class Frame:
    width: float
    height: float
    left: float
    right: float  # the margin on the right, not the coordinate
    top: float
    bottom: float

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def x_end(self) -> float:
        """The x coordinate of the plot area's right edge."""
        return self.width - self.right

    @property
    def base(self) -> float:
        """The y coordinate of the plot area's bottom edge (the x axis)."""
        return self.top + self.plot_h

    def x_linear(self, low: float, high: float) -> Callable[[float], float]:
        """low → the left edge, high → the right edge (a zero span draws everything at the left)."""
        span = (high - low) or 1.0
        return lambda value: self.left + (value - low) / span * self.plot_w

    def y_linear(self, low: float, high: float) -> Callable[[float], float]:
        """low → the bottom edge, high → the top edge (a zero span draws everything at the bottom)."""
        span = (high - low) or 1.0
        return lambda value: self.top + (1 - (value - low) / span) * self.plot_h

    def band(self, count: int) -> float:
        """The width of each of `count` equal slots along the x axis."""
        return self.plot_w / max(1, count)

    def axes(self) -> dict[str, float]:
        return {"left": self.left, "right": self.x_end, "top": self.top, "bottom": self.base}


NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)


def nice_max(value: float, divisions: int = 4) -> int:
    """The smallest `step * divisions` at or above value, the step taken from NICE_STEPS (beyond them,
    a multiple of 10,000)."""
    for step in NICE_STEPS:
        if value <= step * divisions:
            return step * divisions
    return -(-math.ceil(value) // 10000) * 10000


def nice_ticks(top: float, divisions: int = 4, low: float = 0.0) -> list[float]:
    """`divisions + 1` evenly spaced values from low to top."""
    return [low + (top - low) * i / divisions for i in range(divisions + 1)]


def every(count: int, limit: int) -> int:
    """The stride that labels at most about `limit` of `count` positions (at least 1)."""
    return max(1, count // limit)


def every_ceil(count: int, limit: int) -> int:
    """Like `every` but never more than `limit` labels."""
    return max(1, -(-count // limit))


def polyline(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def evenly(points: Sequence[T], limit: int) -> list[T]:
    """At most `limit` of `points`, evenly spread, the first and the last always kept."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def colour(fraction: float) -> str:
    """0 = worst, 1 = best."""
    return _mix(WORST, MIDDLE, fraction * 2) if fraction < 0.5 else _mix(MIDDLE, BEST, fraction * 2 - 1)


def label(value: Any) -> str:
    """A tick label: floats in their shortest form."""
    return f"{value:g}" if isinstance(value, float) else str(value)
