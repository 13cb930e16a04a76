"""Flows and live routine monitoring: flows defined as YAML or
JSON documents, run on the `flows` RQ queue by app.engine's Runtime, watched
live through coalesced events and Redis snapshots."""

from app.core.capability import AUTOMATION, Access, Capability, NavEntry

CAPABILITY = Capability(
    "flows",
    nav=(NavEntry("Flows", "flows.index", order=30, group=AUTOMATION),),
    # run pages are for every signed-in user (a run's page is named by its job id, not the run's)
    access=(Access("flow-run"), Access("flow_run"), Access("flow", page="flows.detail", page_arg="flow_id")),
    queues=("flows",),
    queue_priority=50,
    sweep="app.flows.service.sweep",
    requeue_check=(("flow_run", "app.flows.service.why_not_requeued"),),
)
