"""Geometry of the metrics page's server-rendered SVG charts (templates only draw it)."""

from typing import Any

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 260, 44, 56, 12


def pareto(components: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Bars of each component's count (largest first) and the cumulative-share line (0..100 %)."""
    if not components:
        return None
    plot_w, plot_h = WIDTH - LEFT - 44, HEIGHT - BOTTOM - TOP
    highest = max(c["count"] for c in components)
    step = plot_w / len(components)
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
        "line": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
        "dots": [
            {"x": x, "y": y, "share": c["cumulative_share"]} for (x, y), c in zip(points, components, strict=True)
        ],
        "axis": {"left": LEFT, "right": WIDTH - 44, "top": TOP, "bottom": TOP + plot_h, "max": highest},
    }


def trend(weeks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Incidents per week as a line, the severe ones as bars beneath it."""
    if not weeks or not any(w["incidents"] for w in weeks):
        return None
    plot_w, plot_h = WIDTH - LEFT - 16, HEIGHT - BOTTOM - TOP
    highest = max(w["incidents"] for w in weeks)
    step = plot_w / len(weeks)
    points, bars = [], []
    for i, w in enumerate(weeks):
        x = LEFT + i * step + step / 2
        points.append((x, TOP + plot_h * (1 - w["incidents"] / highest)))
        h = plot_h * w["severe"] / highest
        bars.append({"x": x - step * 0.3, "y": TOP + plot_h - h, "w": step * 0.6, "h": h})
    labels = [
        {"x": LEFT + i * step + step / 2, "text": w["week"][5:]}
        for i, w in enumerate(weeks)
        if i % max(1, len(weeks) // 8) == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "line": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
        "bars": bars,
        "labels": labels,
        "axis": {"left": LEFT, "right": WIDTH - 16, "top": TOP, "bottom": TOP + plot_h, "max": highest},
    }
