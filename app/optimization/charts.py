"""Geometry for the server-rendered SVG charts of the detail page (the
templates only draw what is computed here)."""

from typing import Any

from app.core.charts import Frame, colour, evenly, every, polyline
from app.core.charts import label as _label

WIDTH, HEIGHT, MARGIN = 640, 260, 48
FRAME = Frame(WIDTH, HEIGHT, MARGIN, 8, 8, MARGIN)
MAX_STEPS, MAX_DOTS = 1000, 200  # improvements drawn as steps of the best-score line, and marked as dots


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
    width, height = FRAME.band(columns), FRAME.plot_h / rows
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
    every_x, every_y = every(columns, 10), every(rows, 8)
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


def best_by_task(history: list[list[float]], done: int) -> dict[str, Any] | None:
    """A step line of the best score against the task number (tasks done when it improved), not the
    wall clock, which on a fast run draws a vertical line at 0 s; None before the first score."""
    if not history:
        return None
    improvements, history = len(history), evenly(history, MAX_STEPS)
    points = [(n, best) for n, _, best in history]
    end = max(done, points[-1][0])
    points.append((end, points[-1][1]))
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    x, y = FRAME.x_linear(0.0, end), FRAME.y_linear(low, high)

    def at(task: float, best: float) -> tuple[float, float]:
        return x(task), y(best)

    steps: list[tuple[float, float]] = []
    for i, (task, best) in enumerate(points):
        if i:
            steps.append(at(task, points[i - 1][1]))
        steps.append(at(task, best))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "polyline": polyline(steps),
        "dots": [
            {"x": at(n, b)[0], "y": at(n, b)[1], "title": f"{b:.4g} at task {n:,.0f} ({s:.1f} s)"}
            for n, s, b in evenly(history, MAX_DOTS)
        ],
        "low": low,
        "high": high,
        "tasks": end,
        "improvements": improvements,
        "done": done,
    }
