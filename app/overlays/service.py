"""Models and overlays: reading a model when it is uploaded (through the documents service),
one overlay per document version with its status flow, entries per component ref (refs not in
the model refused, listing them), fields and the roles that may see them.

Who sees what is decided here, once: engineers and admins write overlays and see them in any
status; everyone else sees a published overlay only. A field with no roles is seen by every
role, one with roles by those roles (and admins); `visible()` is the one filter the lookup and
the API apply, so a hidden field never leaves the server. A write keeps the fields of an entry
that the writer cannot see (an engineer never erases an operator's note by not seeing it).

Functions here add to the caller's transaction and never commit.
"""

import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import selectinload

from app.core import audit, live, txn
from app.core.auth.roles import ENGINEER, ROLES, Role
from app.core.errors import Conflict, NotFound
from app.core.paging import Page, containing, paginate
from app.core.records import id_from_text
from app.core.timeutil import utcnow
from app.core.validation import invalid
from app.docsync import documents
from app.docsync.models import Document, DocumentVersion
from app.docsync.store import store
from app.extensions import db
from app.items.models import BomLine, Item
from app.overlays import cache, gltf
from app.overlays.models import EDITABLE, FLOW, Model3D, ModelPart, Overlay, OverlayEntry, OverlayField, OverlayStatus

MAX_ENTRIES = 20_000
MAX_FIELDS = 50  # per entry
WRITERS = ENGINEER  # and admins, as every role tuple


def topic(overlay_id: int) -> str:
    return f"overlay:{overlay_id}"


# ---- who sees what -------------------------------------------------------------


def writes(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.has_role(*WRITERS))


def sees(user: Any, overlay: Overlay) -> bool:
    return writes(user) or overlay.status == OverlayStatus.published


def may_see(user: Any, ident: str) -> bool:
    """The live topic overlay:<id> and its audit rows: the rule of the pages and the API."""
    overlay_id = id_from_text(ident)
    overlay = db.session.get(Overlay, overlay_id) if overlay_id else None
    return overlay is not None and sees(user, overlay)


def field_visible(roles: list[str], role: str) -> bool:
    return role == Role.admin or not roles or role in roles


def visible(fields: list[OverlayField], role: str) -> list[OverlayField]:
    return [f for f in fields if field_visible(f.roles, role)]


# ---- models --------------------------------------------------------------------


def _size_limit() -> int:
    return current_app.config["OVERLAY_MODEL_MAX_BYTES"]


def check_size(size: int | None) -> None:
    limit = _size_limit()
    if size is not None and size > limit:
        error = invalid("file", f"The model is {size} bytes; the limit is {limit} bytes.", max_bytes=limit)
        error.code = "too_large"
        raise error


def read_upload(stream, declared: int | None = None) -> bytes:
    """The uploaded bytes, refused past the size limit without reading further."""
    check_size(declared)
    limit = _size_limit()
    data = stream.read(limit + 1)
    check_size(len(data))
    if not data:
        raise gltf.refused("The file is empty.")
    return data


def _store_parts(version: DocumentVersion, found: list[gltf.Part]) -> Model3D:
    model = Model3D(
        version=version, part_count=len(found), mesh_count=sum(p.has_mesh for p in found), parsed_at=utcnow()
    )
    db.session.add(model)
    db.session.flush()
    db.session.execute(
        insert(ModelPart),
        [
            {
                "model_id": model.id,
                "position": i,
                "ref": p.ref,
                "name": p.name,
                "parent_ref": p.parent,
                "node": p.node,
                "depth": p.depth,
                "has_mesh": p.has_mesh,
            }
            for i, p in enumerate(found)
        ],
    )
    return model


def upload(doc: Document, data: bytes, filename: str) -> tuple[Model3D, bool]:
    """Read the model first (a bad file writes nothing), then add it as the document's next
    version and keep its parts; (model, False) when the bytes equal the latest version's."""
    if not gltf.is_model(filename):
        raise gltf.refused("A 3D model is a glTF 2.0 file named .glb or .gltf.")
    found = gltf.parts(data, filename)
    version, created = documents.add_version(doc, io.BytesIO(data), filename)
    existing = model_of(version)
    if existing is not None:
        return existing, False
    model = _store_parts(version, found)
    audit.record(
        "overlay_model",
        model.id,
        "read",
        after={"document": doc.number, "version": version.version, "parts": model.part_count},
    )
    return model, created


def model_of(version: DocumentVersion) -> Model3D | None:
    return db.session.scalar(select(Model3D).where(Model3D.version_id == version.id))


def read_model(version: DocumentVersion) -> Model3D:
    """The model of a version that came another way (a document upload, a sync): read now."""
    model = model_of(version)
    if model is not None:
        return model
    if not gltf.is_model(version.filename):
        raise invalid("version", f"Version {version.version} ({version.filename}) is not a glTF model.")
    check_size(version.size)
    with store().open(version.sha256) as handle:
        found = gltf.parts(handle.read(), version.filename)
    return _store_parts(version, found)


def parts(model: Model3D) -> list[ModelPart]:
    query = select(ModelPart).where(ModelPart.model_id == model.id).order_by(ModelPart.position)
    return list(db.session.scalars(query))


def tree(model: Model3D) -> list[Any]:
    """The parts as rows of their columns (the page's tree of thousands: no ORM objects)."""
    columns = (ModelPart.ref, ModelPart.node, ModelPart.depth, ModelPart.parent_ref, ModelPart.has_mesh)
    query = select(*columns).where(ModelPart.model_id == model.id).order_by(ModelPart.position)
    return list(db.session.execute(query))


def known_refs(model: Model3D, refs: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(refs), 900):
        chunk = refs[start : start + 900]
        found.update(
            db.session.scalars(select(ModelPart.ref).where(ModelPart.model_id == model.id, ModelPart.ref.in_(chunk)))
        )
    return found


def models(q: str | None = None, page: int = 1, per_page: int = 25) -> Page:
    """Model versions, newest first, with their document (and overlay, when there is one)."""
    query = (
        select(Model3D, DocumentVersion, Document, Overlay)
        .join(DocumentVersion, DocumentVersion.id == Model3D.version_id)
        .join(Document, Document.id == DocumentVersion.document_id)
        .outerjoin(Overlay, Overlay.model_id == Model3D.id)
        .order_by(Model3D.id.desc())
    )
    if q:
        query = query.where(containing(q, Document.number, Document.title))
    return paginate(query, page, per_page, rows=True)


# ---- overlays ------------------------------------------------------------------


def loaded_entries(overlay: Overlay) -> list[OverlayEntry]:
    """The overlay's entries with their items and fields, in three queries whatever their number."""
    query = (
        select(OverlayEntry)
        .where(OverlayEntry.overlay_id == overlay.id)
        .options(selectinload(OverlayEntry.fields))
        .order_by(OverlayEntry.ref)
    )
    return list(db.session.scalars(query))


def snapshot(overlay: Overlay) -> dict[str, Any]:
    return {
        "status": overlay.status,
        "revision": overlay.revision,
        "entries": {
            e.ref: {
                "item": e.item.number,
                "bom_line_id": e.bom_line_id,
                "fields": [{"key": f.key, "value": f.value, "roles": list(f.roles)} for f in e.fields],
            }
            for e in loaded_entries(overlay)
        },
    }


def summary(overlay: Overlay) -> dict[str, Any]:
    return {"status": overlay.status, "revision": overlay.revision}


def version_of(document_id: int, version: int | None) -> DocumentVersion:
    doc = documents.get(document_id)
    if version is not None:
        return documents.get_version(doc, version)
    if doc.latest is None:
        raise NotFound(f"Document {doc.number} has no version.", {"field": "document_id"})
    return doc.latest


def resolve(user: Any, document_id: int, version: int | None = None) -> Overlay:
    """The overlay of the document this user sees: of `version`, or of the newest version with
    one the user may see (a viewer: the newest published one). 404 otherwise: a draft is not
    there for a viewer."""
    query = (
        select(Overlay)
        .join(Model3D, Model3D.id == Overlay.model_id)
        .join(DocumentVersion, DocumentVersion.id == Model3D.version_id)
        .where(DocumentVersion.document_id == document_id)
        .order_by(DocumentVersion.version.desc())
    )
    if version is not None:
        query = query.where(DocumentVersion.version == version)
    if not writes(user):
        query = query.where(Overlay.status == OverlayStatus.published)
    overlay = db.session.scalars(query.limit(1)).first()
    if overlay is None:
        doc = documents.get(document_id)  # 404 naming the document when there is none
        where = f" version {version}" if version is not None else ""
        raise NotFound(f"Document {doc.number}{where} has no overlay you can see.", {"field": "document_id"})
    return overlay


def create(version: DocumentVersion) -> Overlay:
    model = read_model(version)
    if db.session.scalar(select(Overlay.id).where(Overlay.model_id == model.id)) is not None:
        raise Conflict(
            f"Version {version.version} of {version.document.number} has an overlay already.",
            {"field": "version"},
            code="overlay_exists",
        )
    now = utcnow()
    overlay = Overlay(
        model=model,
        status=OverlayStatus.draft,
        token=secrets.token_hex(16),
        revision=1,
        created_by=audit.current_actor(),
        created_at=now,
        updated_at=now,
    )
    db.session.add(overlay)
    db.session.flush()
    audit.record("overlay", overlay.id, "create", after=summary(overlay))
    return overlay


@dataclass
class FieldIn:
    key: str
    value: str
    roles: list[str] = field(default_factory=list)


@dataclass
class EntryIn:
    ref: str
    item: str  # the item's number
    bom_line_id: int | None = None
    fields: list[FieldIn] = field(default_factory=list)


def _check_fields(entries: list[EntryIn]) -> None:
    for i, entry in enumerate(entries):
        if len(entry.fields) > MAX_FIELDS:
            raise invalid(f"entries.{i}.fields", f"An entry has at most {MAX_FIELDS} fields.")
        for j, each in enumerate(entry.fields):
            key = each.key.strip()
            if not 1 <= len(key) <= 80:
                raise invalid(f"entries.{i}.fields.{j}.key", "A field's key has 1 to 80 characters.")
            unknown = [r for r in each.roles if r not in ROLES]
            if unknown:
                error = invalid(
                    f"entries.{i}.fields.{j}.roles",
                    f"Unknown role {', '.join(map(repr, unknown))}; roles are {', '.join(ROLES)}.",
                    allowed=list(ROLES),
                    unknown=unknown,
                )
                error.code = "unknown_role"
                raise error


def _check_entries(overlay: Overlay, entries: list[EntryIn]) -> tuple[dict[str, Item], dict[int, BomLine]]:
    if len(entries) > MAX_ENTRIES:
        raise invalid("entries", f"At most {MAX_ENTRIES} entries.")
    refs = [e.ref for e in entries]
    doubled = sorted({r for r in refs if refs.count(r) > 1}) if len(set(refs)) != len(refs) else []
    if doubled:
        raise invalid("entries", f"A ref is mapped once; given twice: {', '.join(doubled[:20])}.", refs=doubled)
    known = known_refs(overlay.model, refs)
    unknown = [r for r in refs if r not in known]
    if unknown:
        shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        error = invalid("entries", f"These refs are not in the model: {shown}.", refs=unknown)
        error.code = "unknown_refs"
        raise error
    _check_fields(entries)
    numbers = list(dict.fromkeys(e.item for e in entries))
    items = {
        i.number: i
        for start in range(0, len(numbers), 900)
        for i in db.session.scalars(select(Item).where(Item.number.in_(numbers[start : start + 900])))
    }
    missing = [n for n in numbers if n not in items]
    if missing:
        error = invalid("entries", f"Items must be existing item numbers; unknown: {', '.join(missing[:20])}.")
        error.code, error.details["unknown"] = "unknown_items", missing
        raise error
    line_ids = [e.bom_line_id for e in entries if e.bom_line_id is not None]
    lines = {line.id: line for line in db.session.scalars(select(BomLine).where(BomLine.id.in_(line_ids)))}
    for i, entry in enumerate(entries):
        if entry.bom_line_id is None:
            continue
        line = lines.get(entry.bom_line_id)
        if line is None or line.child_id != items[entry.item].id:
            raise invalid(
                f"entries.{i}.bom_line_id",
                f"BOM line {entry.bom_line_id} is not a line of item {entry.item}.",
            )
    return items, lines


def _check_editable(overlay: Overlay) -> None:
    if overlay.status not in EDITABLE:
        raise Conflict(
            f"The overlay is {overlay.status}; move it back to draft to change it.",
            {"status": overlay.status},
            code="read_only",
        )


def _changed(overlay: Overlay, action: str, before: dict[str, Any]) -> None:
    overlay.revision += 1
    overlay.updated_at = utcnow()
    db.session.flush()
    db.session.expire(overlay, ["entries"])
    audit.record("overlay", overlay.id, action, before=before, after=snapshot(overlay))
    txn.on_commit(lambda token=overlay.token: cache.forget(token))
    live.publish_on_commit(
        topic(overlay.id), "overlay_changed", {"id": overlay.id, "status": overlay.status, "revision": overlay.revision}
    )


def _delete_entries(overlay: Overlay, refs: list[str]) -> int:
    """Delete the entries of `refs` and their fields (SQLite enforces no ON DELETE CASCADE here)."""
    doomed = select(OverlayEntry.id).where(OverlayEntry.overlay_id == overlay.id, OverlayEntry.ref.in_(refs))
    db.session.execute(delete(OverlayField).where(OverlayField.entry_id.in_(doomed)))
    return db.session.execute(delete(OverlayEntry).where(OverlayEntry.id.in_(doomed))).rowcount


def save_entries(overlay: Overlay, entries: list[EntryIn], role: str, *, replace: bool = True) -> Overlay:
    """Set the entries given (all of them with `replace`, else only those refs). Fields of an
    entry that `role` cannot see are kept as they were, after the ones given."""
    _check_editable(overlay)
    items, _ = _check_entries(overlay, entries)
    before = snapshot(overlay)
    existing = {e.ref: e for e in loaded_entries(overlay)}
    kept_fields = {
        ref: [(f.key, f.value, list(f.roles)) for f in e.fields if not field_visible(f.roles, role)]
        for ref, e in existing.items()
    }
    doomed = list(existing) if replace else [e.ref for e in entries if e.ref in existing]
    for start in range(0, len(doomed), 900):
        _delete_entries(overlay, doomed[start : start + 900])
    db.session.expire(overlay, ["entries"])
    rows = [
        {"overlay_id": overlay.id, "ref": e.ref, "item_id": items[e.item].id, "bom_line_id": e.bom_line_id}
        for e in entries
    ]
    if rows:
        ids = db.session.execute(insert(OverlayEntry).returning(OverlayEntry.id, OverlayEntry.ref), rows).all()
        entry_ids = {ref: ident for ident, ref in ids}
        values = []
        for e in entries:
            given = [(f.key.strip(), f.value, list(dict.fromkeys(f.roles))) for f in e.fields]
            for position, (key, value, roles) in enumerate(given + kept_fields.get(e.ref, [])):
                values.append(
                    {"entry_id": entry_ids[e.ref], "position": position, "key": key, "value": value, "roles": roles}
                )
        if values:
            db.session.execute(insert(OverlayField), values)
    _changed(overlay, "save_entries", before)
    return overlay


def remove_entry(overlay: Overlay, ref: str) -> Overlay:
    _check_editable(overlay)
    before = snapshot(overlay)
    gone = _delete_entries(overlay, [ref])
    if not gone:
        raise NotFound(f"The overlay has no entry for {ref!r}.", {"field": "ref"})
    _changed(overlay, "remove_entry", before)
    return overlay


def map_by_name(overlay: Overlay, role: str) -> int:
    """Entries for the unmapped refs whose node name is an item number; how many were added."""
    _check_editable(overlay)
    mapped = set(db.session.scalars(select(OverlayEntry.ref).where(OverlayEntry.overlay_id == overlay.id)))
    candidates = [p for p in parts(overlay.model) if p.ref not in mapped and p.name]
    names = list({p.name for p in candidates})
    known = {
        n
        for start in range(0, len(names), 900)
        for n in db.session.scalars(select(Item.number).where(Item.number.in_(names[start : start + 900])))
    }
    found = [EntryIn(p.ref, p.name) for p in candidates if p.name in known]
    if found:
        save_entries(overlay, found, role, replace=False)
    return len(found)


def move(overlay: Overlay, to_status: str) -> Overlay:
    try:
        target = OverlayStatus(to_status)
    except ValueError:
        raise invalid("to_status", f"Unknown status {to_status!r}.", allowed=[s.value for s in OverlayStatus]) from None
    allowed = FLOW[OverlayStatus(overlay.status)]
    if target not in allowed:
        raise Conflict(
            f"An overlay that is {overlay.status} may move to {', '.join(allowed)}; not to {target}.",
            {"status": overlay.status, "allowed": [s.value for s in allowed]},
            code="invalid_move",
        )
    before = {"status": overlay.status}
    overlay.status = target
    if target == OverlayStatus.published:
        overlay.published_at = utcnow()
    _changed(overlay, "move", before)
    return overlay


def unmapped(overlay: Overlay) -> list[str]:
    mapped = select(OverlayEntry.ref).where(OverlayEntry.overlay_id == overlay.id)
    return list(
        db.session.scalars(
            select(ModelPart.ref)
            .where(ModelPart.model_id == overlay.model_id, ModelPart.ref.not_in(mapped))
            .order_by(ModelPart.position)
        )
    )


def entry_items(overlay: Overlay) -> dict[str, str]:
    """ref -> item number of every entry (the tree and the search of the page)."""
    return dict(
        db.session.execute(
            select(OverlayEntry.ref, Item.number)
            .join(Item, Item.id == OverlayEntry.item_id)
            .where(OverlayEntry.overlay_id == overlay.id)
        ).all()
    )


def refuse_unknown_ref(ref: str) -> NotFound:
    return NotFound(f"The model has no component {ref!r}.", {"field": "ref", "ref": ref}, code="unknown_ref")
