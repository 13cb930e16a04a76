"""Queues and workers: RQ queues, registries, workers and jobs, for operators."""

from app.core.auth.roles import OPERATOR
from app.core.capability import OPERATIONS, Access, Capability, NavEntry

CAPABILITY = Capability(
    "queues",
    nav=(NavEntry("Queues & workers", "queues.index", OPERATOR, order=60, group=OPERATIONS),),
    # `queue:<name>`; the demo job's link; an RQ job's audit rows (requeue, cancel, stop)
    access=(
        Access("queue", OPERATOR),
        Access("demo", OPERATOR),
        Access("rq_job", OPERATOR, page="queues.job", page_arg="job_id"),
    ),
    queues=("default",),
)
