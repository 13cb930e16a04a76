"""Document packs: the zip of a work order's (or one operation's) production documents.

The pack holds `manifest.json` (the work order, its operations and, for each document: number,
title, version, lock source, sha256, size, path in the zip), `documents.csv` (one row per
operation × document, the same fields) and the files under `ops/<seq>-<code>/` (documents of the
whole order under `order/`). Only links visible in production are packed, at their locked
version (the latest when not locked); the manifest names the hidden ones it left out.

The same inputs give the same bytes: entries in a fixed order with a fixed timestamp and
attributes, the manifest as canonical JSON. The manifest's sha256 names the file
(`packs/<sha256>.zip` in the document store, the one path web and workers share), so a pack
whose inputs did not change is not rebuilt. Files are streamed from the store in chunks (memory
stays flat whatever the size) and checked against their sha256; the zip is written under a
temporary name and renamed into place once complete, so a failed export leaves nothing that can
be downloaded.
"""

import csv
import hashlib
import io
import json
import os
import re
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file
from sqlalchemy import or_, select

from app.core import audit, jobs, live, txn
from app.core.errors import Conflict, NotFound
from app.core.jobs import sweeper
from app.core.paging import Page, paginate
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.docsync.store import CHUNK, store
from app.extensions import db
from app.workorders import metrics, service
from app.workorders.models import Pack, PackStatus, WorkOrder

FORMAT = 1
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry: every entry has it
FILE_MODE = 0o100644 << 16
CSV_FIELDS = (
    "operation_sequence",
    "operation_code",
    "operation_name",
    "number",
    "title",
    "version",
    "lock_source",
    "source",
    "sha256",
    "size",
    "content_type",
    "path",
)
EXPORT_TIMEOUT = 3600
PROGRESS_BYTES = 64 * CHUNK  # report progress every 64 MB (and after each file)


class PackFailed(Exception):
    """A file of the pack is missing from the store or is not the bytes its version says."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def _entry(row: service.Effective, folder: str) -> dict[str, Any]:
    version = row.version
    return {
        "number": row.document.number,
        "title": row.document.title,
        "version": version.version,
        "lock_source": row.lock_source,
        "source": row.source,
        "sha256": version.sha256,
        "size": version.size,
        "content_type": version.content_type,
        "path": f"{folder}/{_safe(row.document.number)}-v{version.version}-{_safe(version.filename)}",
    }


def manifest(wo: WorkOrder, operation_id: int | None = None) -> dict[str, Any]:
    """What the pack holds, with nothing that changes when its inputs do not (no time of export)."""
    general, ops = service.workorder_documents(wo, operation_id)
    general = general if operation_id is None else []
    shown = [row for row in general if not row.hidden]
    # hidden links are not packed, but named, so that none is dropped without a trace
    left_out = [(None, row) for row in general if row.hidden]
    left_out += [(op.code, row) for op in ops for row in op.documents if row.hidden]
    return {
        "format": FORMAT,
        "workorder": {
            "number": wo.number,
            "item": wo.item.number,
            "item_name": wo.item.name,
            "routing": wo.routing.name,
            "quantity": wo.quantity,
            "due_date": wo.due_date.isoformat(),
        },
        "scope": "operation" if operation_id is not None else "workorder",
        "order_documents": [_entry(row, "order") for row in shown],
        "operations": [
            {
                "sequence": op.sequence,
                "code": op.code,
                "name": op.name,
                "work_centre": op.work_centre,
                "setup_minutes": op.setup_minutes,
                "run_minutes": op.run_minutes,
                "folder": op.folder,
                "documents": [_entry(row, op.folder) for row in op.documents if not row.hidden],
            }
            for op in ops
        ],
        "hidden": [
            {"operation": code, "number": row.document.number, "version": row.version.version} for code, row in left_out
        ],
    }


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def rows_of(data: dict[str, Any]) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(operation or None for the order's own, document entry), in the order of the zip."""
    rows: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [(None, doc) for doc in data["order_documents"]]
    return rows + [(op, doc) for op in data["operations"] for doc in op["documents"]]


def documents_csv(data: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for op, doc in rows_of(data):
        head = [op["sequence"], op["code"], op["name"]] if op else ["", "", ""]
        writer.writerow([*head, *(doc[f] for f in CSV_FIELDS[3:])])
    return out.getvalue().encode()


def pack_dir() -> Path:
    return Path(current_app.config["DOCUMENT_STORE"]) / "packs"


def pack_path(manifest_sha256: str) -> Path:
    return pack_dir() / f"{manifest_sha256}.zip"


def _info(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = compress
    info.external_attr = FILE_MODE
    info.create_system = 3  # unix, whatever system writes it
    return info


def write_zip(data: dict[str, Any], target: Path, on_progress: Callable[[float, str], None]) -> None:
    """Write the pack to `target` (a temporary name first, renamed when complete)."""
    files = store()
    total = sum(doc["size"] for _, doc in rows_of(data)) or 1
    tmp_dir = pack_dir() / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.zip"
    done = reported = 0
    try:
        with tmp.open("wb") as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as pack:
            pack.writestr(_info("manifest.json", zipfile.ZIP_DEFLATED), canonical(data))
            pack.writestr(_info("documents.csv", zipfile.ZIP_DEFLATED), documents_csv(data))
            for _, doc in rows_of(data):
                info = _info(doc["path"], zipfile.ZIP_STORED)  # drawings are compressed already
                info.file_size = doc["size"]
                digest = hashlib.sha256()
                try:
                    chunks = files.chunks(doc["sha256"])
                    with pack.open(info, "w", force_zip64=doc["size"] >= zipfile.ZIP64_LIMIT) as out:
                        for chunk in chunks:
                            digest.update(chunk)
                            out.write(chunk)
                            done += len(chunk)
                            if done - reported >= PROGRESS_BYTES:
                                reported = done
                                on_progress(0.99 * done / total, f"{done // 2**20} of {total // 2**20} MB")
                except NotFound:
                    raise PackFailed(
                        f"The file of {doc['number']} v{doc['version']} is missing from the store."
                    ) from None
                if digest.hexdigest() != doc["sha256"]:
                    raise PackFailed(f"The file of {doc['number']} v{doc['version']} does not match its sha256.")
            raw.flush()
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def start(workorder_id: int, operation_id: int | None = None, *, require_locked: bool = False) -> Pack:
    """A pack row, done at once when a file of the same manifest exists (an unchanged pack is not
    rebuilt, nor queued), else with its job on `exports`. 409 for a canceled order, or, with
    `require_locked`, naming the links still following their latest version."""
    started = time.monotonic()
    wo = service.get_workorder(workorder_id)
    service.check_exportable(wo)
    if operation_id is not None:
        service.get_workorder_operation(wo, operation_id)
    if require_locked:
        unlocked = service.unlocked_links(wo, operation_id)
        if unlocked:
            raise Conflict(
                f"{len(unlocked)} document link(s) of {wo.number} are not locked: "
                + ", ".join(row["document"] for row in unlocked[:10]),
                {"field": "require_locked", "unlocked": unlocked},
                code="unlocked_links",
            )
    pack = Pack(
        workorder=wo,
        operation_id=operation_id,
        require_locked=require_locked,
        status=PackStatus.queued,
        created_by=audit.current_actor(),
        created_at=utcnow(),
    )
    db.session.add(pack)
    db.session.flush()
    audit.record(
        "workorder_pack",
        pack.id,
        "start",
        after={"workorder": wo.number, "operation_id": operation_id, "require_locked": require_locked},
    )
    data = manifest(wo, operation_id)
    digest = hashlib.sha256(canonical(data)).hexdigest()
    if pack_path(digest).is_file():
        _done(pack, data, digest, cached=True)
        outcome = announcement(pack, time.monotonic() - started)
        txn.on_commit(lambda: announce(*outcome))
        return pack
    record = jobs.enqueue(
        "workorder_pack",
        "app.workorders.jobs.build_pack",
        pack.id,
        queue="exports",
        link=("workorder_pack", pack.id),
        timeout=EXPORT_TIMEOUT,
        description=f"document pack of {wo.number}" + (f" (operation {operation_id})" if operation_id else ""),
    )
    pack.job_id = record.id
    return pack


def build(pack: Pack, on_progress: Callable[[float, str], None]) -> None:
    """Inside the job: the manifest from what the order shows now; the file unless one with the
    same manifest exists already."""
    data = manifest(pack.workorder, pack.operation_id)
    if pack.require_locked:  # locks may have been lifted since the request
        unlocked = service.unlocked_links(pack.workorder, pack.operation_id)
        if unlocked:
            raise PackFailed("not locked any more: " + ", ".join(row["document"] for row in unlocked))
    digest = hashlib.sha256(canonical(data)).hexdigest()
    target = pack_path(digest)
    cached = target.is_file()
    if not cached:
        write_zip(data, target, on_progress)
    _done(pack, data, digest, cached=cached)


def _done(pack: Pack, data: dict[str, Any], digest: str, *, cached: bool) -> None:
    pack.cached = cached
    pack.manifest_sha256 = digest
    pack.size = pack_path(digest).stat().st_size
    pack.documents = len(rows_of(data))
    pack.status, pack.finished_at = PackStatus.done, utcnow()
    audit.record(
        "workorder_pack",
        pack.id,
        "done",
        after={"manifest_sha256": digest, "size": pack.size, "documents": pack.documents, "cached": pack.cached},
    )


def announcement(pack: Pack, seconds: float) -> tuple[int, dict[str, Any], str, float]:
    """What announce() says of a pack that has ended, read now (after the commit its row is expired)."""
    if pack.status == PackStatus.failed:
        return pack.workorder_id, {"pack": pack.id, "error": pack.error}, "failed", seconds
    data = {"pack": pack.id, "size": pack.size, "documents": pack.documents, "cached": pack.cached}
    return pack.workorder_id, data, "cached" if pack.cached else "done", seconds


def announce(workorder_id: int, data: dict[str, Any], status: str, seconds: float) -> None:
    """Count an ended export and tell the order's page: `pack_ready` or `pack_failed` on workorder:<id>."""
    metrics.PACK_EXPORTS.labels(status).inc()
    metrics.PACK_EXPORT_SECONDS.observe(seconds)
    live.publish(f"workorder:{workorder_id}", "pack_failed" if status == "failed" else "pack_ready", data)


def fail(pack: Pack, error: str) -> None:
    pack.status, pack.error, pack.finished_at = PackStatus.failed, error[:2000], utcnow()
    audit.record("workorder_pack", pack.id, "failed", after={"error": pack.error})


def get_pack(pack_id: int) -> Pack:
    return get_or_404(Pack, pack_id, "pack")


def download(pack_id: int) -> Response:
    """The pack's zip as an attachment (its ETag the manifest's sha256): 409 until it is done."""
    pack = get_pack(pack_id)
    if pack.status != PackStatus.done or not pack.manifest_sha256:
        raise Conflict(
            f"Pack {pack.id} is {pack.status}, not ready to download.", {"status": pack.status}, code="not_ready"
        )
    path = pack_path(pack.manifest_sha256)
    if not path.is_file():
        raise Conflict(f"The file of pack {pack.id} is gone from the store; export it again.", code="file_missing")
    return send_file(
        path, mimetype="application/zip", as_attachment=True, download_name=filename(pack), etag=pack.manifest_sha256
    )


def filename(pack: Pack) -> str:
    scope = f"-op{pack.operation.sequence:03d}-{pack.operation.code}" if pack.operation else ""
    return f"{pack.workorder.number}{scope}-pack.zip"


def packs_of(workorder_id: int, page: int = 1, per_page: int = 10) -> Page:
    query = select(Pack).where(Pack.workorder_id == workorder_id).order_by(Pack.id.desc())
    return paginate(query, page, per_page)


def sweep() -> int:
    """The sweeper's hook: a pack whose job ended without making it fails, saying why; then the
    files nobody needs any more are deleted (prune_files)."""
    waiting = (PackStatus.queued, PackStatus.running)
    stalled = sweeper.stalled(select(Pack).where(Pack.status.in_(waiting)), Pack.job_id)
    for pack, record in stalled:
        fail(pack, sweeper.why(record))
    return len(stalled) + prune_files()


def prune_files() -> int:
    """Delete the pack files no pack asked for within WORKORDER_PACK_RETENTION_HOURS (and none
    waiting or running would write), and temporary files older than an export may take (a
    worker killed mid-write leaves one). Returns how many files went."""
    now = time.time()
    retention = current_app.config["WORKORDER_PACK_RETENTION_HOURS"] * 3600
    cutoff = utcnow() - timedelta(seconds=retention)
    waiting = (PackStatus.queued, PackStatus.running)
    wanted = set(
        db.session.scalars(
            select(Pack.manifest_sha256)
            .where(Pack.manifest_sha256.is_not(None), or_(Pack.created_at >= cutoff, Pack.status.in_(waiting)))
            .distinct()
        )
    )
    deleted = 0
    folder = pack_dir()
    for path in folder.glob("*.zip") if folder.is_dir() else ():
        if path.stem not in wanted and now - path.stat().st_mtime > retention:
            path.unlink(missing_ok=True)
            deleted += 1
    tmp = folder / "tmp"
    for path in tmp.iterdir() if tmp.is_dir() else ():
        if now - path.stat().st_mtime > EXPORT_TIMEOUT + 60:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
