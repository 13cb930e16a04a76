"""The geometry of a throughput chart, drawn by templates/queues/_chart.html as inline SVG:
a stacked bar per bucket (finished, failed) on the left axis and the failure rate as a line
on the right axis (0-100 %). No script, no library."""

from dataclasses import dataclass

from app.core.charts import Frame, every, nice_max
from app.queues.activity import Bucket

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 36, 10, 22  # margins for the axes' labels
FRAME = Frame(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM)


@dataclass
class Bar:
    x: float
    width: float
    finished_y: float
    finished_h: float
    failed_y: float
    failed_h: float
    title: str


def chart(buckets: list[Bucket], window: str) -> dict:
    plot_h = FRAME.plot_h
    top = nice_max(max((b.ended for b in buckets), default=0))
    slot = FRAME.band(len(buckets))
    bars, points = [], []
    label = "%H:%M" if window == "hour" else "%H:00"
    for i, b in enumerate(buckets):
        x = LEFT + i * slot
        finished_h = plot_h * b.finished / top
        failed_h = plot_h * b.failed / top
        base = FRAME.base
        rate = "—" if b.failure_rate is None else f"{b.failure_rate:.0%}"
        bars.append(
            Bar(
                x=round(x + slot * 0.12, 1),
                width=round(slot * 0.76, 1),
                finished_y=round(base - finished_h, 1),
                finished_h=round(finished_h, 1),
                failed_y=round(base - finished_h - failed_h, 1),
                failed_h=round(failed_h, 1),
                title=f"{b.start.strftime(label)} UTC: {b.finished} finished, {b.failed} failed, failure rate {rate}",
            )
        )
        if b.failure_rate is not None:
            points.append(f"{x + slot / 2:.1f},{TOP + plot_h * (1 - b.failure_rate):.1f}")
    stride = every(len(buckets), 6)
    ticks = [
        {"x": round(LEFT + i * slot + slot / 2, 1), "text": b.start.strftime(label)}
        for i, b in enumerate(buckets)
        if i % stride == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": FRAME.x_end,
        "top": TOP,
        "base": FRAME.base,
        "mid": TOP + plot_h / 2,
        "max": top,
        "bars": bars,
        "rate_line": " ".join(points),
        "ticks": ticks,
        "ended": sum(b.ended for b in buckets),
        "failed": sum(b.failed for b in buckets),
    }
