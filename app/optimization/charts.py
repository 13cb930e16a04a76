"""Geometry for the server-rendered SVG charts of the detail page (the
templates only draw what is computed here)."""

from typing import Any

WIDTH, HEIGHT, MARGIN = 640, 260, 48
# from worst to best: a red-to-green scale that reads the same in either mode
WORST, MIDDLE, BEST = (200, 60, 50), (240, 220, 120), (40, 150, 80)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def colour(fraction: float) -> str:
    """0 = worst, 1 = best."""
    return _mix(WORST, MIDDLE, fraction * 2) if fraction < 0.5 else _mix(MIDDLE, BEST, fraction * 2 - 1)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def heatmap(data: dict[str, Any], mode: str) -> dict[str, Any] | None:
    """Cells of the best score per (x, y); None when there is nothing to draw yet."""
    xs, ys, cells = data["xs"], data["ys"], data["cells"]
    if not cells:
        return None
    low, high = min(cells.values()), max(cells.values())
    span = (high - low) or 1.0
    width, height = (WIDTH - MARGIN - 8) / len(xs), (HEIGHT - MARGIN - 8) / len(ys)
    drawn = []
    for (x, y), score in cells.items():
        fraction = (score - low) / span
        drawn.append(
            {
                "x": MARGIN + xs.index(x) * width,
                "y": 8 + (len(ys) - 1 - ys.index(y)) * height,
                "w": width,
                "h": height,
                "fill": colour(fraction if mode == "max" else 1 - fraction),
                "title": f"{data['x']}={_label(x)}, {data['y']}={_label(y)}: {score:.4g}",
            }
        )
    every_x, every_y = max(1, len(xs) // 10), max(1, len(ys) // 8)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "cells": drawn,
        "x": data["x"],
        "y": data["y"],
        "low": low,
        "high": high,
        "low_fill": colour(0 if mode == "max" else 1),
        "high_fill": colour(1 if mode == "max" else 0),
        "x_ticks": [
            {"at": MARGIN + (i + 0.5) * width, "label": _label(v)} for i, v in enumerate(xs) if i % every_x == 0
        ],
        "y_ticks": [
            {"at": 8 + (len(ys) - i - 0.5) * height, "label": _label(v)} for i, v in enumerate(ys) if i % every_y == 0
        ],
    }


def best_over_time(history: list[list[float]], done: int, elapsed: float | None) -> dict[str, Any] | None:
    """A step line of the best score against seconds since the start; None before the first score."""
    if not history:
        return None
    points = [(seconds, best) for _, seconds, best in history]
    end = max(elapsed or 0.0, points[-1][0])
    points.append((end, points[-1][1]))
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    span, duration = (high - low) or 1.0, end or 1.0

    def at(seconds: float, best: float) -> tuple[float, float]:
        return (
            MARGIN + seconds / duration * (WIDTH - MARGIN - 8),
            8 + (1 - (best - low) / span) * (HEIGHT - MARGIN - 8),
        )

    steps: list[tuple[float, float]] = []
    for i, (seconds, best) in enumerate(points):
        if i:
            steps.append(at(seconds, points[i - 1][1]))
        steps.append(at(seconds, best))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "polyline": " ".join(f"{x:.1f},{y:.1f}" for x, y in steps),
        "dots": [
            {"x": at(s, b)[0], "y": at(s, b)[1], "title": f"{b:.4g} after {s:.1f} s (task {n})"} for n, s, b in history
        ],
        "low": low,
        "high": high,
        "duration": end,
        "improvements": len(history),
        "done": done,
    }
