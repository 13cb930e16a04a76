"""Items and BOMs (capability 1): items, BOM revisions with lines, multi-level
views, CSV import/export, and BOM compare with its delta preview and export."""
