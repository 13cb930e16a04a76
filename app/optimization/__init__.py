"""Grid optimization of trading-strategy backtests on RQ workers."""

from app.core.capability import AUTOMATION, Access, Capability, NavEntry

CAPABILITY = Capability(
    "optimization",
    nav=(NavEntry("Optimizations", "optimization.index", order=40, group=AUTOMATION),),
    # the rule of the pages and the API (owner or admin) for `optimization:<id>` and the audit log
    access=(
        Access(
            "optimization",
            may_see="app.optimization.service.may_see",
            page="optimization.detail",
            page_arg="optimization_id",
        ),
    ),
    queues=("optimize",),
    # chunks are seconds of compiled backtests on cached arrays: a worker on `optimize` alone keeps its caches
    inprocess_queues=("optimize",),
    warm="app.optimization.jobs.warm",  # the compiled kernel, loaded from numba's cache or compiled
    queue_priority=40,
    sweep="app.optimization.chunks.sweep",
)
