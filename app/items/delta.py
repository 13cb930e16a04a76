"""The delta preview: a compare turned into a read-only patch, and its exports.

Operations keep the compare's order (path, find number, child); exports of the
same patch are byte-for-byte the same (sorted keys, no timestamps).
"""

import csv
import io
import json
import re
from dataclasses import asdict, dataclass

from app.core.paging import Page, paginate_list
from app.core.validation import not_one_of
from app.items.compare import FIELDS, Change, CompareResult

OPERATION = {"added": "add", "removed": "remove", "changed": "update"}
EXPORT_FORMATS = ("json", "csv")
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv"}


@dataclass(slots=True)
class Operation:
    op: str  # add / remove / update
    key: str
    path: str
    level: int
    child: str
    before: dict[str, str] | None
    after: dict[str, str] | None
    changes: list[Change]
    severity: str | None


@dataclass
class DeltaPreview:
    left: str
    right: str
    mode: str
    max_levels: int
    summary: dict[str, int]
    operations: list[Operation]

    def to_dict(self) -> dict:
        return asdict(self)


def build_delta_preview(compare_result: CompareResult) -> DeltaPreview:
    operations = [
        Operation(
            op=OPERATION[line.status],
            key=line.key,
            path=line.path,
            level=line.level,
            child=line.child,
            before=line.left,
            after=line.right,
            changes=line.changes,
            severity=line.severity,
        )
        for line in compare_result.lines
        if line.status in OPERATION
    ]
    summary = {op: 0 for op in OPERATION.values()}
    for operation in operations:
        summary[operation.op] += 1
    summary["total"] = len(operations)
    return DeltaPreview(
        left=compare_result.left,
        right=compare_result.right,
        mode=compare_result.mode,
        max_levels=compare_result.max_levels,
        summary=summary,
        operations=operations,
    )


OPERATIONS_PER_PAGE = 200


def operations_page(preview: DeltaPreview, page: int) -> Page:
    """One page of a preview's operations, as the compare and ECO pages list them."""
    return paginate_list(preview.operations, page, OPERATIONS_PER_PAGE)


def check_format(export_format: str) -> None:
    if export_format not in EXPORT_FORMATS:
        raise not_one_of("export_format", "Export format", export_format, EXPORT_FORMATS)


CSV_COLUMNS = [
    "op",
    "path",
    "key",
    "child",
    "level",
    "severity",
    "changed_fields",
    *(f"{side}_{name}" for name in FIELDS for side in ("before", "after")),
]


def _csv(preview: DeltaPreview) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for op in preview.operations:
        row = [op.op, op.path, op.key, op.child, op.level, op.severity or "", " ".join(c.field for c in op.changes)]
        for name in FIELDS:
            row += [(op.before or {}).get(name, ""), (op.after or {}).get(name, "")]
        writer.writerow(row)
    return out.getvalue().encode()


def export_filename(left: str, right: str, mode: str, max_levels: int, export_format: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{left}_vs_{right}")
    return f"bom-delta_{safe}_{mode}_L{max_levels}.{export_format}"


def export_bytes(preview: DeltaPreview, export_format: str) -> bytes:
    check_format(export_format)
    if export_format == "csv":
        return _csv(preview)
    return json.dumps(preview.to_dict(), sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"
