"""Flows and live routine monitoring: flows defined as YAML or
JSON documents, run on the `flows` RQ queue by app.engine's Runtime, watched
live through coalesced events and Redis snapshots."""

from app.core.capability import Access, Capability, NavEntry

CAPABILITY = Capability(
    "flows",
    nav=(NavEntry("Flows", "flows.index", order=30),),
    access=(Access("flow-run"), Access("flow_run")),  # run pages are for every signed-in user
    queues=("flows",),
    queue_priority=50,
    sweep="app.flows.service.sweep",
    requeue_check=(("flow_run", "app.flows.service.why_not_requeued"),),
)
