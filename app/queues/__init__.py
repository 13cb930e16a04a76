"""Queues and workers: RQ queues, registries, workers and jobs, for operators."""

from app.core.auth.roles import OPERATOR
from app.core.capability import Access, Capability, NavEntry

CAPABILITY = Capability(
    "queues",
    nav=(NavEntry("Queues & workers", "queues.index", OPERATOR, order=60),),
    access=(Access("queue", OPERATOR), Access("demo", OPERATOR)),  # `queue:<name>`; the demo job's link
    queues=("default",),
)
