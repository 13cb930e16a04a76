"""Items and BOMs: items, BOM revisions with lines, multi-level
views, CSV import/export, and BOM compare with its delta preview and export."""

from app.core.capability import Capability, NavEntry

CAPABILITY = Capability(
    "items",
    nav=(NavEntry("Items & BOMs", "items.index", order=20),),
    queues=("exports",),
    queue_priority=30,
    sweep="app.items.exports.sweep",
)
