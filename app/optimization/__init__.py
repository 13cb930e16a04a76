"""Grid optimization of trading-strategy backtests on RQ workers."""

from app.core.capability import Capability, NavEntry

CAPABILITY = Capability(
    "optimization",
    nav=(NavEntry("Optimizations", "optimization.index", order=40),),
    queues=("optimize",),
    queue_priority=40,
    sweep="app.optimization.chunks.sweep",
)
