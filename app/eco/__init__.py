"""Engineering change orders: stages per type, activity gates, events, and the
custom-action rules that run around every stage move."""

from app.core.capability import ENGINEERING, Access, Capability, NavEntry

CAPABILITY = Capability(
    "eco",
    nav=(NavEntry("ECOs", "eco.index", order=10, group=ENGINEERING),),
    # every signed-in user reads ECOs and their rule runs
    access=(Access("eco", page="eco.detail", page_arg="eco_id"), Access("workflow_run")),
    queues=("actions",),
    queue_priority=20,
    sweep="app.eco.rules.sweep",
)
