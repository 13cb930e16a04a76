"""Geometry of the metrics page's server-rendered SVG charts (templates only draw it)."""

from typing import Any

from app.core.charts import Frame, every, polyline

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 44, 56, 12
PARETO = Frame(WIDTH, HEIGHT, LEFT, 44, TOP, BOTTOM)  # a right axis for the cumulative share
TREND = Frame(WIDTH, HEIGHT, LEFT, 16, TOP, BOTTOM)


def pareto(components: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Bars of each component's count (largest first) and the cumulative-share line (0..100 %)."""
    if not components:
        return None
    plot_h = PARETO.plot_h
    highest = max(c["count"] for c in components)
    step = PARETO.band(len(components))
    bars, points = [], []
    for i, c in enumerate(components):
        h = plot_h * c["count"] / highest
        x = LEFT + i * step
        bars.append(
            {
                "x": x + step * 0.1,
                "y": TOP + plot_h - h,
                "w": step * 0.8,
                "h": h,
                "label": c["number"],
                "count": c["count"],
            }
        )
        points.append((x + step / 2, TOP + plot_h * (1 - c["cumulative_share"])))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "line": polyline(points),
        "dots": [
            {"x": x, "y": y, "share": c["cumulative_share"]} for (x, y), c in zip(points, components, strict=True)
        ],
        "axis": {**PARETO.axes(), "max": highest},
    }


def trend(weeks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Incidents per week as a line, the severe ones as bars beneath it."""
    if not weeks or not any(w["incidents"] for w in weeks):
        return None
    plot_h = TREND.plot_h
    highest = max(w["incidents"] for w in weeks)
    step = TREND.band(len(weeks))
    points, bars = [], []
    for i, w in enumerate(weeks):
        x = LEFT + i * step + step / 2
        points.append((x, TOP + plot_h * (1 - w["incidents"] / highest)))
        h = plot_h * w["severe"] / highest
        bars.append({"x": x - step * 0.3, "y": TOP + plot_h - h, "w": step * 0.6, "h": h})
    labels = [
        {"x": LEFT + i * step + step / 2, "text": w["week"][5:]}
        for i, w in enumerate(weeks)
        if i % every(len(weeks), 8) == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "line": polyline(points),
        "bars": bars,
        "labels": labels,
        "axis": {**TREND.axes(), "max": highest},
    }
