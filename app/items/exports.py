"""Delta exports: small ones answered at once, large ones (more lines than
BOM_EXPORT_SYNC_MAX_LINES on both sides together) made by an RQ job on the
`exports` queue and kept in the database until downloaded."""

from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from app.core import audit, jobs
from app.core.errors import Conflict
from app.core.jobs import sweeper
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.extensions import db
from app.items.compare import CompareResult, check_mode, compare_boms
from app.items.delta import build_delta_preview, check_format, export_bytes
from app.items.models import BomExport, ExportStatus
from app.items.service import resolve_bom

EXPORT_TIMEOUT = 1800


def compare_refs(
    left: str,
    right: str,
    mode: str = "by_item",
    max_levels: int = 1,
    on_progress: Callable[[float, str], None] | None = None,
) -> CompareResult:
    check_mode(mode, max_levels)
    return compare_boms(resolve_bom(left), resolve_bom(right), mode, max_levels, on_progress)


def export_delta(left: str, right: str, mode: str, max_levels: int, export_format: str) -> bytes | BomExport:
    """The export bytes, or, for a large compare, the export row whose job makes them."""
    check_format(export_format)
    result = compare_refs(left, right, mode, max_levels)
    lines = result.summary["left_lines"] + result.summary["right_lines"]
    if lines <= current_app.config["BOM_EXPORT_SYNC_MAX_LINES"]:
        return export_bytes(build_delta_preview(result), export_format)
    return start_export(result.left, result.right, mode, max_levels, export_format, lines)


def start_export(left: str, right: str, mode: str, max_levels: int, export_format: str, lines: int) -> BomExport:
    export = BomExport(
        left_ref=left, right_ref=right, mode=mode, max_levels=max_levels, export_format=export_format, line_count=lines
    )
    db.session.add(export)
    db.session.flush()
    record = jobs.enqueue(
        "bom_delta_export",
        "app.items.jobs.make_delta_export",
        export.id,
        queue="exports",
        link=("bom_export", export.id),
        timeout=EXPORT_TIMEOUT,
        description=f"BOM delta {left} → {right} ({mode}, {export_format})",
    )
    export.job_id = record.id
    audit.record(
        "bom_export",
        export.id,
        "start",
        after={
            "left": left,
            "right": right,
            "mode": mode,
            "max_levels": max_levels,
            "format": export_format,
            "lines": lines,
        },
    )
    return export


def get_export(export_id: int) -> BomExport:
    return get_or_404(BomExport, export_id, "BOM export")


def download(export_id: int) -> BomExport:
    export = get_export(export_id)
    if export.status != ExportStatus.done:
        raise Conflict(f"Export {export_id} is {export.status}, not ready to download.", {"status": export.status})
    return export


def make_bytes(export: BomExport, on_progress: Callable[[float, str], None]) -> None:
    """The bytes of a queued export (inside its job)."""
    result = compare_refs(export.left_ref, export.right_ref, export.mode, export.max_levels, on_progress)
    on_progress(0.8, f"writing {export.export_format}")
    export.content = export_bytes(build_delta_preview(result), export.export_format)
    export.status, export.finished_at = ExportStatus.done, utcnow()


def fail_export(export: BomExport, error: str) -> None:
    export.status, export.error, export.finished_at = ExportStatus.failed, error, utcnow()


def sweep() -> int:
    """The sweeper's hook: an export whose job ended without making it fails, saying why."""
    waiting = (ExportStatus.queued, ExportStatus.running)
    stalled = sweeper.stalled(select(BomExport).where(BomExport.status.in_(waiting)), BomExport.job_id)
    for export, record in stalled:
        fail_export(export, sweeper.why(record))
    return len(stalled)
