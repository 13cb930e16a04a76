"""Geometry of the dashboard's server-rendered SVG charts (the templates only draw it): planned
vs actual per bucket, and the burn-up of the current bucket."""

from typing import Any

from app.consumption.variance import Bucket, BurnUp
from app.core.charts import Frame, every_ceil, nice_ticks, polyline

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 240, 56, 28, 10
FRAME = Frame(WIDTH, HEIGHT, LEFT, 10, TOP, BOTTOM)
PLOT_W, PLOT_H = FRAME.plot_w, FRAME.plot_h
MAX_LABELS = 12


def _scale(top: float):
    return FRAME.y_linear(0.0, top)


def _ticks(top: float, y) -> list[dict[str, Any]]:
    return [{"y": y(value), "label": f"{value:.4g}"} for value in nice_ticks(top)]


def bars(spans: list[Bucket], tolerance: float) -> dict[str, Any]:
    """Two bars per bucket: planned (grey) and actual (coloured by the bucket's status)."""
    top = max((max(b.variance.planned, b.variance.actual) for b in spans), default=0) * 1.1
    y = _scale(top)
    slot = FRAME.band(len(spans))
    width = max(1.0, slot * 0.38)
    stride = every_ceil(len(spans), MAX_LABELS)
    drawn = []
    for i, bucket in enumerate(spans):
        x = LEFT + i * slot + slot * 0.1
        v = bucket.variance
        drawn.append(
            {
                "planned": {"x": x, "y": y(v.planned), "w": width, "h": FRAME.base - y(v.planned)},
                "actual": {"x": x + width, "y": y(v.actual), "w": width, "h": FRAME.base - y(v.actual)},
                "status": v.status(tolerance),
                "label": f"{bucket.start:%m-%d}" if i % stride == 0 else "",
                "label_x": x + width,
                "title": f"{bucket.start:%Y-%m-%d}: planned {v.planned:.6g}, actual {v.actual:.6g}",
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": drawn,
        "ticks": _ticks(top, y),
        "left": LEFT,
        "base": FRAME.base,
        "right": LEFT + PLOT_W,
    }


def burn_up(chart: BurnUp) -> dict[str, Any]:
    """The cumulative actual as a line, the bucket's planned quantity as the target, and the even pace to it."""
    planned = chart.bucket.variance.planned
    reached = [value for _, value in chart.steps if value is not None]
    top = max([planned, *reached, 0]) * 1.1
    y = _scale(top)
    n = max(1, len(chart.steps))

    x = FRAME.x_linear(0, n)

    actual = [(x(0), y(0))] + [(x(i + 1), y(v)) for i, (_, v) in enumerate(chart.steps) if v is not None]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": LEFT + PLOT_W,
        "base": FRAME.base,
        "target_y": y(planned),
        "pace": polyline([(x(0), y(0)), (x(n), y(planned))]),
        "actual": polyline(actual),
        "reached": reached[-1] if reached else 0.0,
        "planned": planned,
        "ticks": _ticks(top, y),
        "start": chart.bucket.start,
        "end": chart.bucket.end,
    }
