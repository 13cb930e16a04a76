"""The component lookup: what a picked part is. For each ref: its item, the BOM lines the item
appears on, the ECOs in progress on it, its open breakage incidents (as product or component)
and the entry's fields the role may see; a ref of the model without an entry is `mapped:
false`. A batch reads each of those with one query per kind whatever its size, and goes through
the shared cache (cache.py) ref by ref: cached refs are read in one HMGET, the rest computed
together and stored in one HSET.
"""

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from app.breakages.models import UNRESOLVED, Incident
from app.core.validation import invalid
from app.eco import service as eco_service
from app.eco.models import Eco
from app.extensions import db
from app.items.models import Bom, BomLine, Item
from app.overlays import cache, metrics, service
from app.overlays.models import Overlay, OverlayEntry, OverlayField

MAX_BATCH = 1000
MAX_LINES = 50  # where-used lines per item
MAX_LISTED = 20  # ECOs, incidents per item
CHUNK = 900


def _chunks(values: list) -> list[list]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _item(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "number": item.number,
        "name": item.name,
        "item_type": item.item_type,
        "revision": item.revision,
        "lifecycle": item.lifecycle,
    }


def _line(line: BomLine, bom: Bom, parent_number: str) -> dict[str, Any]:
    return {
        "id": line.id,
        "bom_id": bom.id,
        "bom": f"{parent_number}@{bom.revision}",
        "bom_state": bom.state,
        "quantity": format(line.quantity.normalize(), "f"),
        "unit": line.unit,
        "find_number": line.find_number,
        "refdes": line.refdes,
    }


def _entries(overlay: Overlay, refs: list[str]) -> dict[str, OverlayEntry]:
    query = select(OverlayEntry).where(OverlayEntry.overlay_id == overlay.id)
    return {e.ref: e for chunk in _chunks(refs) for e in db.session.scalars(query.where(OverlayEntry.ref.in_(chunk)))}


def _fields(entry_ids: list[int]) -> dict[int, list[OverlayField]]:
    fields: dict[int, list[OverlayField]] = defaultdict(list)
    for chunk in _chunks(entry_ids):
        query = select(OverlayField).where(OverlayField.entry_id.in_(chunk)).order_by(OverlayField.position)
        for f in db.session.scalars(query):
            fields[f.entry_id].append(f)
    return fields


def _where_used(item_ids: list[int]) -> dict[int, list[dict]]:
    lines: dict[int, list[dict]] = defaultdict(list)
    parent = Item.__table__.alias("parent")
    for chunk in _chunks(item_ids):
        query = (
            select(BomLine, Bom, parent.c.number)
            .join(Bom, Bom.id == BomLine.bom_id)
            .join(parent, parent.c.id == Bom.item_id)
            .where(BomLine.child_id.in_(chunk))
            .order_by(BomLine.child_id, Bom.id.desc(), BomLine.id)
        )
        for line, bom, number in db.session.execute(query):
            if len(lines[line.child_id]) < MAX_LINES:
                lines[line.child_id].append(_line(line, bom, number))
    return lines


def _ecos(item_ids: list[int]) -> dict[int, list[dict]]:
    ecos: dict[int, list[dict]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        for eco in db.session.scalars(select(Eco).where(Eco.item_id.in_(chunk)).order_by(Eco.id.desc())):
            if not eco_service.is_closed(eco) and len(ecos[eco.item_id]) < MAX_LISTED:
                shown = {"id": eco.id, "number": eco.number, "title": eco.title, "stage": eco.stage}
                ecos[eco.item_id].append({**shown, "priority": eco.priority})
    return ecos


def _incidents(item_ids: list[int]) -> dict[int, list[dict]]:
    """Open incidents of each item, as the product or as the failed component."""
    incidents: dict[int, list[dict]] = defaultdict(list)
    for chunk in _chunks(item_ids):
        query = (
            select(Incident)
            .where(Incident.status.in_(UNRESOLVED), Incident.item_id.in_(chunk) | Incident.component_id.in_(chunk))
            .order_by(Incident.occurred_at.desc())
        )
        for incident in db.session.scalars(query):
            shown = {
                "id": incident.id,
                "code": incident.code,
                "status": incident.status,
                "severity": incident.severity,
                "description": incident.description[:200],
            }
            for item_id in {incident.item_id, incident.component_id} & set(chunk):
                if len(incidents[item_id]) < MAX_LISTED:
                    incidents[item_id].append(shown)
    return incidents


def _unmapped(ref: str) -> dict[str, Any]:
    empty: dict[str, Any] = {"bom_lines": [], "ecos": [], "incidents": [], "fields": []}
    return {"ref": ref, "mapped": False, "item": None, "bom_line_id": None, **empty}


def compute(overlay: Overlay, refs: list[str], role: str) -> dict[str, dict[str, Any]]:
    """The lookups of `refs` (all in the model) for `role`, read from the database."""
    entries = _entries(overlay, refs)
    item_ids = list({e.item_id for e in entries.values()})
    fields = _fields([e.id for e in entries.values()])
    lines, ecos, incidents = _where_used(item_ids), _ecos(item_ids), _incidents(item_ids)
    found: dict[str, dict[str, Any]] = {}
    for ref in refs:
        entry = entries.get(ref)
        if entry is None:
            found[ref] = _unmapped(ref)
            continue
        found[ref] = {
            "ref": ref,
            "mapped": True,
            "item": _item(entry.item),
            "bom_line_id": entry.bom_line_id,
            "bom_lines": lines[entry.item_id],
            "ecos": ecos[entry.item_id],
            "incidents": incidents[entry.item_id],
            "fields": [
                {"key": f.key, "value": f.value, "roles": list(f.roles)}
                for f in service.visible(fields[entry.id], role)
            ],
        }
    return found


def lookup_json(overlay: Overlay, refs: list[str], role: str) -> list[str]:
    """The lookups of `refs` in their order as JSON texts, through the cache: a cached one is sent
    as Redis holds it, never parsed. A ref not in the model is refused (404 for one, 422 listing
    them for a batch): nothing is computed for it."""
    refs = list(dict.fromkeys(refs))
    cached = cache.get_many(overlay.token, overlay.revision, role, refs)
    answers = {ref: raw.decode() for ref, raw in zip(refs, cached, strict=True) if raw is not None}
    misses = [ref for ref in refs if ref not in answers]
    if misses:
        known = service.known_refs(overlay.model, misses)
        unknown = [r for r in misses if r not in known]
        if unknown:
            raise _unknown(refs, unknown)
        computed = {r: json.dumps(v, separators=(",", ":")) for r, v in compute(overlay, misses, role).items()}
        cache.put_many(overlay.token, overlay.revision, role, computed)
        answers.update(computed)
    hits = len(refs) - len(misses)
    cache.count_requests(hits, len(misses))
    if hits:
        metrics.CACHE_REQUESTS.labels(metrics.HIT).inc(hits)
    if misses:
        metrics.CACHE_REQUESTS.labels(metrics.MISS).inc(len(misses))
    return [answers[r] for r in refs]


def lookup_many(overlay: Overlay, refs: list[str], role: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in lookup_json(overlay, refs, role)]


def _unknown(refs: list[str], unknown: list[str]):
    if len(refs) == 1:
        return service.refuse_unknown_ref(unknown[0])
    shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
    error = invalid("refs", f"These refs are not in the model: {shown}.", refs=unknown)
    error.code = "unknown_refs"
    return error


def lookup(overlay: Overlay, ref: str, role: str) -> dict[str, Any]:
    return lookup_many(overlay, [ref], role)[0]
