"""Items and BOMs: items, BOM revisions with lines, multi-level
views, CSV import/export, and BOM compare with its delta preview and export."""

from app.core.capability import ENGINEERING, Access, Capability, NavEntry

CAPABILITY = Capability(
    "items",
    nav=(NavEntry("Items & BOMs", "items.index", order=20, group=ENGINEERING),),
    # items, BOMs and an export's page (and its job's progress) are for every signed-in user
    access=(
        Access("bom_export", page="items.export_page", page_arg="export_id"),
        Access("item", page="items.detail", page_arg="item_id"),
        Access("bom", page="items.tree", page_arg="bom_id"),
    ),
    queues=("exports",),
    queue_priority=30,
    sweep="app.items.exports.sweep",
)
