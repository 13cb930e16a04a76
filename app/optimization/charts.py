"""Geometry for the server-rendered SVG charts of the detail page (the
templates only draw what is computed here)."""

from typing import Any

WIDTH, HEIGHT, MARGIN = 640, 260, 48
MAX_STEPS, MAX_DOTS = 1000, 200  # improvements drawn as steps of the best-score line, and marked as dots
# from worst to best: a red-to-green scale that reads the same in either mode
WORST, MIDDLE, BEST = (200, 60, 50), (240, 220, 120), (40, 150, 80)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def colour(fraction: float) -> str:
    """0 = worst, 1 = best."""
    return _mix(WORST, MIDDLE, fraction * 2) if fraction < 0.5 else _mix(MIDDLE, BEST, fraction * 2 - 1)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _run_label(run: list[Any]) -> str:
    return _label(run[0]) if len(run) == 1 else f"{_label(run[0])}–{_label(run[-1])}"


def heatmap(data: dict[str, Any], mode: str) -> dict[str, Any] | None:
    """The cells of `service.heatmap()` (one per run of neighbouring values of each axis);
    None when there is nothing to draw yet."""
    cells = data["cells"]
    if not cells:
        return None
    x_labels, y_labels = [_run_label(r) for r in data["x_groups"]], [_run_label(r) for r in data["y_groups"]]
    low, high = min(cells.values()), max(cells.values())
    span = (high - low) or 1.0
    columns, rows = len(x_labels), len(y_labels)
    width, height = (WIDTH - MARGIN - 8) / columns, (HEIGHT - MARGIN - 8) / rows
    drawn = []
    for (column, row), score in cells.items():
        fraction = (score - low) / span
        drawn.append(
            {
                "x": round(MARGIN + column * width, 2),
                "y": round(8 + (rows - 1 - row) * height, 2),
                "w": round(width, 2),
                "h": round(height, 2),
                "fill": colour(fraction if mode == "max" else 1 - fraction),
                "title": f"{data['x']}={x_labels[column]}, {data['y']}={y_labels[row]}: {score:.4g}",
            }
        )
    every_x, every_y = max(1, columns // 10), max(1, rows // 8)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "cells": drawn,
        "binned": any(len(r) > 1 for r in data["x_groups"] + data["y_groups"]),
        "x": data["x"],
        "y": data["y"],
        "low": low,
        "high": high,
        "low_fill": colour(0 if mode == "max" else 1),
        "high_fill": colour(1 if mode == "max" else 0),
        "x_ticks": [
            {"at": MARGIN + (i + 0.5) * width, "label": label} for i, label in enumerate(x_labels) if i % every_x == 0
        ],
        "y_ticks": [
            {"at": 8 + (rows - i - 0.5) * height, "label": label}
            for i, label in enumerate(y_labels)
            if i % every_y == 0
        ],
    }


def _evenly(points: list, limit: int) -> list:
    """At most `limit` of `points`, evenly spread, the first and the last always kept."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def best_over_time(history: list[list[float]], done: int, elapsed: float | None) -> dict[str, Any] | None:
    """A step line of the best score against seconds since the start; None before the first score."""
    if not history:
        return None
    improvements, history = len(history), _evenly(history, MAX_STEPS)
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
            {"x": at(s, b)[0], "y": at(s, b)[1], "title": f"{b:.4g} after {s:.1f} s (task {n})"}
            for n, s, b in _evenly(history, MAX_DOTS)
        ],
        "low": low,
        "high": high,
        "duration": end,
        "improvements": improvements,
        "done": done,
    }
