"""Engineering change orders: stages per type, activity gates, events, and the
custom-action rules that run around every stage move."""

from app.core.capability import Capability, NavEntry

CAPABILITY = Capability(
    "eco",
    nav=(NavEntry("ECOs", "eco.index", order=10),),
    queues=("actions",),
    queue_priority=20,
    sweep="app.eco.rules.sweep",
)
