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


SLICE_W, SLICE_H = 300, 160
SLICE = Frame(SLICE_W, SLICE_H, 44, 8, 8, 26)
MAX_SLICE_POINTS = 200  # values drawn per slice plot, whatever the grid


def slice_plots(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One small plot per parameter: the best and the mean score at each of its values (at most
    MAX_SLICE_POINTS of them, evenly picked), and its importance as a bar."""
    plots = []
    for name, rows in data["params"].items():
        if not rows:
            continue
        shown = evenly(rows, MAX_SLICE_POINTS)
        low = min(min(r["mean"], r["best"]) for r in shown)
        high = max(max(r["mean"], r["best"]) for r in shown)
        x = SLICE.x_linear(shown[0]["value"], shown[-1]["value"])
        y = SLICE.y_linear(low, high)
        plots.append(
            {
                "name": name,
                "width": SLICE_W,
                "height": SLICE_H,
                "frame": SLICE.axes(),
                "best": polyline((x(r["value"]), y(r["best"])) for r in shown),
                "mean": polyline((x(r["value"]), y(r["mean"])) for r in shown),
                "low": low,
                "high": high,
                "first": _label(shown[0]["value"]),
                "last": _label(shown[-1]["value"]),
                "values": len(rows),
                "importance": data["importance"][name],
            }
        )
    return plots


PARALLEL = Frame(WIDTH, HEIGHT, 40, 56, 14, 28)


def parallel_coordinates(data: dict[str, Any]) -> dict[str, Any] | None:
    """One vertical axis per parameter and one for the score (right); each task of
    `analysis.parallel()` a line across them, coloured by its score (green best). The best tasks
    are drawn last, on top. None when no task is scored."""
    if not data["lines"]:
        return None
    names = data["names"]
    columns = [*names, "score"]
    gap = PARALLEL.plot_w / (len(columns) - 1)
    xs = [PARALLEL.left + i * gap for i in range(len(columns))]
    ranges = {**data["axes"], "score": data["score"]}
    ys = {name: PARALLEL.y_linear(*ranges[name]) for name in columns}
    low, high = data["score"]
    span = (high - low) or 1.0

    def fraction(score: float) -> float:
        share = (score - low) / span
        return share if data["mode"] == "max" else 1 - share

    lines = []
    for line in sorted(data["lines"], key=lambda row: (row["best"], fraction(row["score"]))):
        values = {**line["params"], "score": line["score"]}
        lines.append(
            {
                "points": polyline((x, ys[name](values[name])) for x, name in zip(xs, columns, strict=True)),
                "colour": colour(fraction(line["score"])),
                "best": line["best"],
                "title": ", ".join(f"{n}={_label(line['params'][n])}" for n in names) + f": {line['score']:.4g}",
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "top": PARALLEL.top,
        "bottom": PARALLEL.base,
        "axes": [
            {"x": x, "name": name, "low": _label(ranges[name][0]), "high": _label(ranges[name][1])}
            for x, name in zip(xs, columns, strict=True)
        ],
        "lines": lines,
        "drawn": len(lines),
        "count": data["count"],
    }


COMPARE_COLOURS = ("#2457c5", "#c5502b")


def compare_by_task(histories: list[tuple[int, list[list[float]], int]]) -> dict[str, Any] | None:
    """Best-by-task step lines of several optimizations on one chart: (id, [[task, best]], done) each,
    one shared x (task number) and y scale."""
    drawn = [(oid, evenly(h, MAX_STEPS), done) for oid, h, done in histories if h]
    if not drawn:
        return None
    end = max(max(done, h[-1][0]) for _, h, done in drawn)
    values = [b for _, h, _ in drawn for _, b in h]
    low, high = min(values), max(values)
    x, y = FRAME.x_linear(0.0, end), FRAME.y_linear(low, high)
    lines = []
    for i, (oid, history, done) in enumerate(drawn):
        points = [*history, [max(done, history[-1][0]), history[-1][1]]]
        steps: list[tuple[float, float]] = []
        for j, (task, best) in enumerate(points):
            if j:
                steps.append((x(task), y(points[j - 1][1])))
            steps.append((x(task), y(best)))
        lines.append({"id": oid, "polyline": polyline(steps), "colour": COMPARE_COLOURS[i % 2]})
    return {"width": WIDTH, "height": HEIGHT, "lines": lines, "low": low, "high": high, "tasks": end}
