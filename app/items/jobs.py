"""Background work of items: large BOM delta exports (queue `exports`).

Progress and the end of the job reach the page on the job's own live topic
(`job:<id>`), which the job history publishes."""

from app.core.jobs import progress
from app.extensions import db
from app.items import exports
from app.items.models import ExportStatus


def make_delta_export(export_id: int) -> dict:
    export = exports.get_export(export_id)
    export.status = ExportStatus.running
    db.session.commit()
    try:
        exports.make_bytes(export, progress)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()  # no half-made export: it is failed, with the reason
        exports.fail_export(export, f"{exc.__class__.__name__}: {exc}")
        db.session.commit()
        raise
    progress(1.0, "ready to download")
    return {"export": export_id, "bytes": len(export.content)}
