"""Items and BOMs: items, BOM revisions with lines, multi-level
views, CSV import/export, and BOM compare with its delta preview and export."""

from app.core.capability import Access, Capability, NavEntry

CAPABILITY = Capability(
    "items",
    nav=(NavEntry("Items & BOMs", "items.index", order=20),),
    access=(Access("bom_export"),),  # an export's page (and its job's progress) is for every signed-in user
    queues=("exports",),
    queue_priority=30,
    sweep="app.items.exports.sweep",
)
