"""The pack export on the `exports` queue: build the zip (packs.py), record how it ended, count
it, and announce it on the work order's live topic (`pack_ready` / `pack_failed`). Progress
reaches the pack page on the job's own topic (`job:<id>`), which the job history publishes."""

import time

from app.core.jobs import progress
from app.extensions import db
from app.workorders import packs
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
        outcome = packs.announcement(pack, time.monotonic() - started)
        db.session.commit()
        packs.announce(*outcome)
        raise
    outcome = packs.announcement(pack, time.monotonic() - started)
    progress(1.0, "ready to download")
    packs.announce(*outcome)
    return outcome[1]
