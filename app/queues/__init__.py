"""Queues and workers: RQ queues, registries, workers and jobs, for operators."""

from app.core.auth.roles import OPERATOR
from app.core.capability import Capability, NavEntry

CAPABILITY = Capability(
    "queues", nav=(NavEntry("Queues & workers", "queues.index", OPERATOR, order=60),), queues=("default",)
)
