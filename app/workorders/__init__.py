"""Work orders and their document packs: routings with ordered operations, work orders whose
operations are copied from their routing at release, document links at routing or operation
level (inheritance, override, hidden), version locks (manual, on release, moved by an applied
ECO through the ECO capability's after-apply hook), the shop-floor view, and the pack export
(a deterministic zip streamed from the document store) on the `exports` queue."""

from app.core.capability import PRODUCTION, Access, Capability, NavEntry

CAPABILITY = Capability(
    "workorders",
    nav=(NavEntry("Work orders", "workorders.index", order=35, group=PRODUCTION),),
    # every signed-in user reads work orders and routings (topic workorder:<id>) and their audit rows
    access=(
        Access("workorder", page="workorders.detail", page_arg="workorder_id"),
        Access("routing", page="workorders.routing", page_arg="routing_id"),
        Access("workorder_link"),
        Access("routing_operation"),
        Access("workorder_pack", page="workorders.pack_page", page_arg="pack_id"),
    ),
    queues=("exports",),
    queue_priority=30,
    hooks=(("eco_applied", "app.workorders.service.on_eco_applied"),),
    sweep="app.workorders.packs.sweep",
)
