"""Items, BOM revisions and their lines.

Functions here add to the caller's transaction and never commit, so another
capability (an ECO applying a change) can call them inside its own transaction
and roll everything back together. Every write is audited.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError

from app.core import audit
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.paging import Page, containing, paginate, paginate_request
from app.core.records import flush_unique, get_or_404
from app.core.timeutil import utcnow
from app.core.validation import invalid, not_one_of
from app.extensions import db
from app.items.models import ITEM_TYPES, LIFECYCLES, Bom, BomLine, BomState, Item, Lifecycle
from app.items.structure import check_no_cycle, natural_key, quantity_text

ITEM_FIELDS = ("number", "name", "item_type", "uom", "revision", "lifecycle", "description")
LINE_FIELDS = ("child", "quantity", "unit", "find_number", "refdes", "note")
NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
REVISION = re.compile(r"[A-Z]{1,4}")
MAX_QUANTITY = Decimal(999999999999)


# ---- items -----------------------------------------------------------------


def item_snapshot(item: Item) -> dict[str, Any]:
    return {f: getattr(item, f) for f in ITEM_FIELDS}


def _text(data: dict, name: str, limit: int, *, required: bool = False, default: str = "") -> str:
    value = data.get(name, default)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise InvalidInput(f"{name.replace('_', ' ').capitalize()} is required.", {"field": name})
    if len(value) > limit:
        raise invalid(name, f"{name.replace('_', ' ').capitalize()} must be at most {limit} characters.")
    return value


def _choice(value: str | None, name: str, allowed: tuple[str, ...], default: str = "") -> str:
    value = value or default
    if value not in allowed:
        raise not_one_of(name, name.replace("_", " ").capitalize(), value, allowed)
    return value


def item_values(data: dict, current: Item | None = None) -> dict[str, Any]:
    base = item_snapshot(current) if current else {}
    merged = {**base, **{k: v for k, v in data.items() if k in ITEM_FIELDS}}
    number = _text(merged, "number", 40, required=True)
    if not NUMBER.fullmatch(number):
        raise InvalidInput("Item numbers are letters, digits, '.', '_' or '-' (up to 40).", {"field": "number"})
    revision = _text(merged, "revision", 4, default="A").upper() or "A"
    if not REVISION.fullmatch(revision):
        raise InvalidInput("A revision is 1-4 capital letters.", {"field": "revision"})
    return {
        "number": number,
        "name": _text(merged, "name", 200, required=True),
        "item_type": _choice(merged.get("item_type"), "item_type", ITEM_TYPES, "part"),
        "uom": _text(merged, "uom", 10, default="EA") or "EA",
        "revision": revision,
        "lifecycle": _choice(merged.get("lifecycle"), "lifecycle", LIFECYCLES, Lifecycle.draft),
        "description": _text(merged, "description", 5000),
    }


def _number_free(number: str, item_id: int | None = None) -> None:
    taken = db.session.scalar(select(Item.id).where(Item.number == number))
    if taken is not None and taken != item_id:
        raise Conflict(f"Item number {number!r} is already used.", {"field": "number"})


def create_item(data: dict[str, Any]) -> Item:
    values = item_values(data)
    _number_free(values["number"])
    item = Item(**values)
    db.session.add(item)
    flush_unique(f"Item number {values['number']!r} is already used.", {"field": "number"})
    audit.record("item", item.id, "create", after=item_snapshot(item))
    return item


def create_items(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Create many items in one INSERT (an import); `rows` are item_values() of numbers not taken.
    Returns number → id. A number taken meanwhile by another request is a 409 for the whole set."""
    if not rows:
        return {}
    try:
        with db.session.begin_nested():
            created = db.session.execute(insert(Item).returning(Item.id, Item.number), rows).all()
    except IntegrityError:
        raise Conflict("An item number of the file was just taken by someone else; check again.") from None
    by_number = {number: ident for ident, number in created}
    audit.record_many("item", "create", [(by_number[row["number"]], row) for row in rows])
    return by_number


def update_item(item_id: int, data: dict[str, Any]) -> Item:
    item = get_item(item_id)
    before = item_snapshot(item)
    values = item_values(data, item)
    _number_free(values["number"], item.id)
    if values["item_type"] == "part" and item.boms:
        raise Conflict(f"{item.number} has a BOM, so it stays an assembly.", {"field": "item_type"})
    for key, value in values.items():
        setattr(item, key, value)
    flush_unique(f"Item number {values['number']!r} is already used.", {"field": "number"})
    audit.record("item", item.id, "update", before=before, after=item_snapshot(item))
    return item


def get_item(item_id: int) -> Item:
    return get_or_404(Item, item_id, "item")


def item_by_number(number: str) -> Item:
    item = db.session.scalar(select(Item).where(Item.number == number))
    if item is None:
        raise NotFound(f"No item {number!r}.", {"item": number})
    return item


def unknown_numbers(numbers: Iterable[str]) -> list[str]:
    """Those of `numbers` that no item has, in the order given (what another capability checks its item refs with)."""
    wanted = list(dict.fromkeys(numbers))
    known = set(db.session.scalars(select(Item.number).where(Item.number.in_(wanted)))) if wanted else set()
    return [number for number in wanted if number not in known]


def search_items(
    q: str | None = None, item_type: str | None = None, lifecycle: str | None = None, page: int = 1, per_page: int = 25
) -> Page:
    query = select(Item).order_by(Item.number)
    if q:
        query = query.where(containing(q.strip(), Item.number, Item.name))
    if item_type:
        query = query.where(Item.item_type == _choice(item_type, "item_type", ITEM_TYPES))
    if lifecycle:
        query = query.where(Item.lifecycle == _choice(lifecycle, "lifecycle", LIFECYCLES))
    return paginate(query, page, per_page)


# ---- BOM revisions ---------------------------------------------------------


def next_revision(letter: str) -> str:
    """A → B, Z → AA, AZ → BA (the usual drawing-revision sequence)."""
    digits = [ord(c) - 65 for c in letter]
    i = len(digits) - 1
    while i >= 0 and digits[i] == 25:
        digits[i] = 0
        i -= 1
    if i < 0:
        digits.insert(0, 0)
    else:
        digits[i] += 1
    return "".join(chr(d + 65) for d in digits)


def _revision_key(letter: str) -> tuple[int, str]:
    return (len(letter), letter)


def get_bom(bom_id: int) -> Bom:
    return get_or_404(Bom, bom_id, "BOM revision")


def latest_bom(item: Item) -> Bom | None:
    return max(item.boms, key=lambda b: _revision_key(b.revision), default=None)


def effective_bom(item: Item) -> Bom | None:
    """The released revision, else the newest one (a BOM still in its first draft)."""
    return next((b for b in item.boms if b.state == BomState.released), None) or latest_bom(item)


def resolve_bom(ref: str) -> Bom:
    """'ITEM' (its effective BOM) or 'ITEM@REV'."""
    number, _, revision = (ref or "").strip().partition("@")
    item = item_by_number(number)
    if revision:
        bom = next((b for b in item.boms if b.revision == revision.upper()), None)
        if bom is None:
            raise NotFound(
                f"{item.number} has no BOM revision {revision!r}.",
                {"item": item.number, "revisions": [b.revision for b in item.boms]},
            )
        return bom
    bom = effective_bom(item)
    if bom is None:
        raise NotFound(f"{item.number} has no BOM.", {"item": item.number})
    return bom


def create_bom(item_id: int) -> Bom:
    """The first BOM of an assembly, as a draft at the item's revision."""
    item = get_item(item_id)
    if item.item_type != "assembly":
        raise InvalidInput(f"{item.number} is a part; only assemblies have a BOM.", {"field": "item_type"})
    if item.boms:
        raise Conflict(f"{item.number} already has a BOM; edit it, or release it to start a new revision.")
    bom = Bom(item=item, revision=item.revision, state=BomState.draft)
    db.session.add(bom)
    flush_unique(f"{item.number} revision {item.revision} was just started by someone else; reload.")
    audit.record("bom", bom.id, "create", after={"ref": bom.ref, "state": bom.state})
    return bom


class LineCopies(Mapping[int, BomLine]):
    """Old line id → its line in the revision an edit goes to, loaded when asked for (an edit
    touches one line; a revision may have ten thousand). `ids` None: the same lines (a draft)."""

    def __init__(self, ids: dict[int, int] | None = None) -> None:
        self._ids = ids

    def __getitem__(self, old_id: int) -> BomLine:
        line = db.session.get(BomLine, self._ids[old_id] if self._ids is not None else old_id)
        if line is None:
            raise KeyError(old_id)
        return line

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids or ())

    def __len__(self) -> int:
        return len(self._ids or ())


COPIED = ("child_id", "quantity", "unit", "find_number", "refdes", "note")


def new_revision(bom: Bom) -> tuple[Bom, LineCopies]:
    """A draft copy of a released or superseded revision, at the next letter; the
    item's revision letter follows. Returns it with a map old line id → copy.
    The lines are copied in one INSERT ... SELECT, in id order, so the n-th old line
    (by id) is the n-th copy."""
    item = bom.item
    if bom.state == BomState.draft:
        raise Conflict(f"{bom.ref} is a draft: edit it as it is.", {"state": bom.state})
    draft = next((b for b in item.boms if b.state == BomState.draft), None)
    if draft is not None:
        raise Conflict(
            f"{item.number} revision {draft.revision} is already a draft: edit that one.", {"draft": draft.ref}
        )
    revision = next_revision(latest_bom(item).revision)
    copy = Bom(item=item, revision=revision, state=BomState.draft)
    db.session.add(copy)
    item.revision = revision
    flush_unique(f"{item.number} revision {revision} was just started by someone else; reload.")
    columns = [getattr(BomLine, c) for c in COPIED]
    db.session.execute(
        insert(BomLine).from_select(
            ["bom_id", *COPIED],
            select(literal(copy.id), *columns).where(BomLine.bom_id == bom.id).order_by(BomLine.id),
        )
    )
    old_ids = db.session.scalars(select(BomLine.id).where(BomLine.bom_id == bom.id).order_by(BomLine.id))
    new_ids = db.session.scalars(select(BomLine.id).where(BomLine.bom_id == copy.id).order_by(BomLine.id))
    db.session.expire(copy, ["lines"])
    audit.record("bom", copy.id, "revise", before={"ref": bom.ref}, after={"ref": copy.ref, "state": BomState.draft})
    return copy, LineCopies(dict(zip(old_ids, new_ids, strict=True)))


def _editable(bom: Bom) -> tuple[Bom, LineCopies]:
    """Edits go to a draft: a released BOM is never changed in place."""
    if bom.state == BomState.draft:
        return bom, LineCopies()
    if bom.state == BomState.superseded:
        raise Conflict(f"{bom.ref} is superseded and stays as it was; edit the current revision.", {"state": bom.state})
    return new_revision(bom)


def release_bom_revision(bom_id: int) -> Bom:
    """Make this revision the released one; the one released before becomes superseded.

    This is what applying an ECO does to its target revision.
    """
    bom = get_bom(bom_id)
    if bom.state == BomState.released:
        raise Conflict(f"{bom.ref} is already released.", {"state": bom.state})
    previous = next((b for b in bom.item.boms if b.state == BomState.released), None)
    if previous is not None:
        previous.state = BomState.superseded
        audit.record(
            "bom", previous.id, "supersede", before={"state": BomState.released}, after={"state": BomState.superseded}
        )
    before = bom.state
    bom.state, bom.released_at = BomState.released, utcnow()
    bom.item.revision = bom.revision
    db.session.flush()
    audit.record(
        "bom",
        bom.id,
        "release",
        before={"state": before},
        after={"state": BomState.released, "supersedes": previous.ref if previous else None},
    )
    return bom


# ---- lines -----------------------------------------------------------------


def line_snapshot(line: BomLine) -> dict[str, Any]:
    return {
        "child": line.child.number if line.child else line.child_id,
        "quantity": quantity_text(line.quantity),
        "unit": line.unit,
        "find_number": line.find_number,
        "refdes": line.refdes,
        "note": line.note,
    }


def parse_quantity(value: Any) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"Quantity {value!r} is not a number.", {"field": "quantity"}) from None
    if not quantity.is_finite() or quantity <= 0:
        raise InvalidInput("Quantity must be greater than 0.", {"field": "quantity"})
    if quantity > MAX_QUANTITY or quantity != quantity.quantize(Decimal("0.000001")):
        raise InvalidInput("Quantity allows at most 12 digits before and 6 after the point.", {"field": "quantity"})
    return quantity


def normalize_refdes(value: Any) -> str:
    """'R2, r1 R3' → 'R1,R2,R3'; a designator used twice is an error."""
    names = [n.upper() for n in re.split(r"[\s,;]+", str(value or "").strip()) if n]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Reference designator(s) listed twice: {', '.join(duplicates)}.", {"field": "refdes"})
    text = ",".join(sorted(names, key=natural_key))
    if len(text) > 1000:
        raise InvalidInput("Reference designators are longer than 1000 characters.", {"field": "refdes"})
    return text


def _find_number(value: Any) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidInput(f"Find number {value!r} is not a whole number.", {"field": "find_number"}) from None
    if not 0 <= number <= 999999:
        raise InvalidInput("Find number must be between 0 and 999999.", {"field": "find_number"})
    return number


def line_values(
    data: dict[str, Any], current: BomLine | None = None, items: dict[str, Item] | None = None
) -> dict[str, Any]:
    """Validated column values for a line; `data` names the child by item number.
    `items` (number → Item) spares a query per row when many lines are checked."""
    base = line_snapshot(current) if current else {"unit": None, "find_number": None, "refdes": "", "note": ""}
    merged = {**base, **{k: v for k, v in data.items() if k in LINE_FIELDS}}
    number = str(merged.get("child") or "").strip()
    if not number:
        raise InvalidInput("Child item is required.", {"field": "child"})
    child = items.get(number) if items is not None else None
    if child is None:
        try:
            child = item_by_number(number)
        except NotFound:
            raise InvalidInput(f"No item {number!r}.", {"field": "child"}) from None
    if "quantity" not in merged or merged["quantity"] in (None, ""):
        raise InvalidInput("Quantity is required.", {"field": "quantity"})
    return {
        "child": child,
        "quantity": parse_quantity(merged["quantity"]),
        "unit": _text(merged, "unit", 10) or child.uom,
        "find_number": _find_number(merged.get("find_number")),
        "refdes": normalize_refdes(merged.get("refdes")),
        "note": _text(merged, "note", 500),
    }


def add_line(bom_id: int, data: dict[str, Any]) -> BomLine:
    values = line_values(data)
    bom, _ = _editable(get_bom(bom_id))
    check_no_cycle(bom.item, [values["child"]])
    line = BomLine(**values)
    bom.lines.append(line)
    db.session.flush()
    audit.record("bom_line", line.id, "create", after={"bom": bom.ref, **line_snapshot(line)})
    return line


def bom_lines(bom: Bom, per_page: int) -> Page:
    """One page of a revision's lines (the request's `?page=`), in the order `Bom.lines` keeps."""
    query = select(BomLine).where(BomLine.bom_id == bom.id).order_by(BomLine.find_number, BomLine.id)
    return paginate_request(query, per_page)


def get_line(line_id: int) -> BomLine:
    return get_or_404(BomLine, line_id, "BOM line")


def update_line(line_id: int, data: dict[str, Any]) -> BomLine:
    original = get_line(line_id)
    before = line_snapshot(original)
    values = line_values(data, original)
    bom, copies = _editable(original.bom)
    line = copies[original.id]
    if values["child"].id != original.child_id:
        check_no_cycle(bom.item, [values["child"]])
    for key, value in values.items():
        setattr(line, key, value)
    db.session.flush()
    audit.record(
        "bom_line",
        line.id,
        "update",
        before={"bom": original.bom.ref, **before},
        after={"bom": bom.ref, **line_snapshot(line)},
    )
    return line


def remove_line(line_id: int) -> Bom:
    original = get_line(line_id)
    bom, copies = _editable(original.bom)
    line = copies[original.id]
    audit.record("bom_line", line.id, "delete", before={"bom": bom.ref, **line_snapshot(line)})
    db.session.delete(line)
    db.session.flush()
    db.session.expire(bom, ["lines"])
    return bom


def replace_lines(bom_id: int, rows: list[dict[str, Any]]) -> Bom:
    """Replace every line (a CSV import); `rows` are already validated line values."""
    bom, _ = _editable(get_bom(bom_id))
    check_no_cycle(bom.item, [row["child"] for row in rows])
    before = db.session.scalar(select(func.count()).where(BomLine.bom_id == bom.id))
    db.session.execute(delete(BomLine).where(BomLine.bom_id == bom.id))
    if rows:  # one INSERT, whatever the number of lines
        fields = [f for f in LINE_FIELDS if f != "child"]
        db.session.execute(
            insert(BomLine), [{"bom_id": bom.id, "child_id": r["child"].id, **{f: r[f] for f in fields}} for r in rows]
        )
    db.session.expire(bom, ["lines"])
    audit.record("bom", bom.id, "import", before={"lines": before}, after={"ref": bom.ref, "lines": len(rows)})
    return bom
