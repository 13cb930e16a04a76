"""The geometry of a throughput chart, drawn by templates/queues/_chart.html as inline SVG:
a stacked bar per bucket (finished, failed) on the left axis and the failure rate as a line
on the right axis (0-100 %). No script, no library."""

from dataclasses import dataclass

from app.queues.activity import Bucket

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 34, 36, 10, 22  # margins for the axes' labels


@dataclass
class Bar:
    x: float
    width: float
    finished_y: float
    finished_h: float
    failed_y: float
    failed_h: float
    title: str


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return -(-value // 10000) * 10000


def chart(buckets: list[Bucket], window: str) -> dict:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((b.ended for b in buckets), default=0))
    slot = plot_w / max(1, len(buckets))
    bars, points = [], []
    label = "%H:%M" if window == "hour" else "%H:00"
    for i, b in enumerate(buckets):
        x = LEFT + i * slot
        finished_h = plot_h * b.finished / top
        failed_h = plot_h * b.failed / top
        base = TOP + plot_h
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
    every = max(1, len(buckets) // 6)
    ticks = [
        {"x": round(LEFT + i * slot + slot / 2, 1), "text": b.start.strftime(label)}
        for i, b in enumerate(buckets)
        if i % every == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "base": TOP + plot_h,
        "mid": TOP + plot_h / 2,
        "max": top,
        "bars": bars,
        "rate_line": " ".join(points),
        "ticks": ticks,
        "ended": sum(b.ended for b in buckets),
        "failed": sum(b.failed for b in buckets),
    }
