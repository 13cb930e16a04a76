"""Geometry of the overview's server-rendered SVG (templates only draw it): per area, the
series of totals and failures over the trend buckets, drawn as a sparkline on its card and as
bars (total behind, failed in front) in the trend charts."""

from typing import Any

from app.core.charts import Frame, every_ceil, nice_max, polyline

# (key, title, path into a trend bucket, the count drawn as the bad one)
AREAS = (
    ("doc_sync", "Document sync", ("doc_sync",), "failed"),
    ("workflow_runs", "Workflow action runs", ("workflow_runs",), "failed"),
    ("flow_runs", "Flow runs", ("flow_runs",), "failed"),
    ("optimizations", "Optimizations", ("optimizations",), "failed"),
    ("bom_delta", "BOM delta exports", ("exports", "bom_delta"), "failed"),
    ("workorder_packs", "Work-order packs", ("exports", "workorder_packs"), "failed"),
    ("breakages", "Breakages", ("breakages",), "open"),
)
SPARK = Frame(120, 28, 1, 1, 2, 2)
BARS = Frame(640, 180, 40, 12, 10, 34)


def _pick(bucket: dict[str, Any], path: tuple[str, ...]) -> dict[str, int]:
    for key in path:
        bucket = bucket[key]
    return bucket


def series(trend: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per area: its title, the totals and the failures (open incidents for breakages) per bucket;
    the job history summed over its queues."""
    buckets = trend["buckets"]
    out = {}
    for key, title, path, bad in AREAS:
        counts = [_pick(b, path) for b in buckets]
        out[key] = {
            "title": title,
            "total": [c["total"] for c in counts],
            "bad": [c[bad] for c in counts],
            "bad_label": bad,
        }
    out["job_history"] = {
        "title": "Job history",
        "total": [sum(q["total"] for q in b["job_history"].values()) for b in buckets],
        "bad": [sum(q["failed"] for q in b["job_history"].values()) for b in buckets],
        "bad_label": "failed",
    }
    return out


def sparkline(total: list[int], bad: list[int]) -> dict[str, Any]:
    """Two lines on one scale (the highest total at the top); a single bucket is a flat line."""
    points = max(len(total), 2)
    x = SPARK.x_linear(0, points - 1)
    y = SPARK.y_linear(0, max(total) or 1)

    def line(values: list[int]) -> str:
        values = values if len(values) > 1 else values * 2
        return polyline((x(i), y(v)) for i, v in enumerate(values))

    return {"width": SPARK.width, "height": SPARK.height, "total": line(total), "bad": line(bad)}


def bars(total: list[int], bad: list[int], labels: list[str]) -> dict[str, Any]:
    """Per bucket a bar of the total with the failures' bar in front of it; the y axis rounded up."""
    top = nice_max(max(total, default=0) or 1)
    y = BARS.y_linear(0, top)
    step = BARS.band(len(total))
    stride = every_ceil(len(total), 8)
    drawn = []
    for i, (n, f) in enumerate(zip(total, bad, strict=True)):
        x = BARS.left + i * step + step * 0.1
        drawn.append(
            {
                "x": round(x, 1),
                "w": round(step * 0.8, 1),
                "total_y": round(y(n), 1),
                "total_h": round(BARS.base - y(n), 1),
                "bad_y": round(y(f), 1),
                "bad_h": round(BARS.base - y(f), 1),
                "total": n,
                "bad": f,
                "label_text": labels[i],
                "label": labels[i] if i % stride == 0 else None,
                "label_x": round(x + step * 0.4, 1),
            }
        )
    return {"width": BARS.width, "height": BARS.height, "max": top, "bars": drawn, **BARS.axes()}


def charts(trend: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Everything the page draws of the trends, per area: its series, sparkline and bar chart."""
    labels = [f"{b['start']:%m-%d}" for b in trend["buckets"]]
    out = {}
    for key, s in series(trend).items():
        out[key] = {**s, "spark": sparkline(s["total"], s["bad"]), "bars": bars(s["total"], s["bad"], labels)}
    return out
