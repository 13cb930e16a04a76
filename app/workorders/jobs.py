"""The pack export on the `exports` queue: build the zip (packs.py), record how it ended, count
it, and announce a ready pack on the work order's live topic. Progress reaches the pack page on
the job's own topic (`job:<id>`), which the job history publishes."""

import time

from app.core import live
from app.core.jobs import progress
from app.extensions import db
from app.workorders import metrics, packs
from app.workorders.models import PackStatus


def build_pack(pack_id: int) -> dict:
    pack = packs.get_pack(pack_id)
    if pack.status == PackStatus.done:
        return {"pack": pack_id, "skipped": "done already"}
    started = time.monotonic()
    pack.status = PackStatus.running
    db.session.commit()
    try:
        packs.build(pack, progress)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()  # no half-made pack: it is failed, with the reason (and no file)
        packs.fail(pack, f"{exc.__class__.__name__}: {exc}")
        db.session.commit()
        metrics.PACK_EXPORTS.labels("failed").inc()
        metrics.PACK_EXPORT_SECONDS.observe(time.monotonic() - started)
        live.publish(f"workorder:{pack.workorder_id}", "pack_failed", {"pack": pack.id, "error": pack.error})
        raise
    metrics.PACK_EXPORTS.labels("cached" if pack.cached else "done").inc()
    metrics.PACK_EXPORT_SECONDS.observe(time.monotonic() - started)
    progress(1.0, "ready to download")
    data = {"pack": pack.id, "size": pack.size, "documents": pack.documents, "cached": pack.cached}
    live.publish(f"workorder:{pack.workorder_id}", "pack_ready", data)
    return data
