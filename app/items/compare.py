"""Compare two BOMs, single or multi-level, in the compare modes PLM users know.

Each mode says which fields make a line's key. Lines with the same key on both
sides are paired (the n-th with the n-th when a key repeats) and their fields
compared; the rest are added or removed. `by_item` and `summarized` first merge
the lines of one key: quantities summed per unit, find numbers, designators and
notes gathered.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from app.core.errors import InvalidInput
from app.core.validation import not_one_of
from app.items.metrics import BOM_COMPARE_SECONDS
from app.items.models import Bom
from app.items.structure import FlatLine, explode, natural_key, quantity_text

MODES = {
    "by_item": ("child", "unit"),
    "by_position": ("child", "find_number"),
    "by_reference": ("child", "refdes"),
    "by_find_refdes": ("child", "find_number", "refdes"),
    "num_qty": ("child", "find_number", "quantity"),
    "summarized": ("child", "unit"),
}
MERGED_MODES = ("by_item", "summarized")
# the fields compared, with their column headings (the side-by-side table shows every one)
FIELD_LABELS = {"quantity": "Qty", "unit": "Unit", "find_number": "Find", "refdes": "Ref. des.", "note": "Note"}
FIELDS = tuple(FIELD_LABELS)
SEVERITY = {"quantity": "major", "unit": "major", "find_number": "minor", "refdes": "minor", "note": "minor"}
MAX_LEVELS = 20
STATUSES = ("added", "removed", "changed", "unchanged")


@dataclass(slots=True)
class Change:
    field: str
    before: str
    after: str
    severity: str


@dataclass(slots=True)
class LineDiff:
    status: str  # added / removed / changed / unchanged
    key: str
    path: str
    level: int
    child: str
    child_name: str
    left: dict[str, str] | None
    right: dict[str, str] | None
    changes: list[Change] = field(default_factory=list)

    @property
    def severity(self) -> str | None:
        if not self.changes:
            return None
        return "major" if any(c.severity == "major" for c in self.changes) else "minor"


@dataclass
class CompareResult:
    left: str  # ITEM@REV
    right: str
    mode: str
    max_levels: int
    lines: list[LineDiff]
    summary: dict[str, int]

    def to_dict(self) -> dict:
        data = asdict(self)
        for line, out in zip(self.lines, data["lines"], strict=True):
            out["severity"] = line.severity
        return data


def _joined(values, sep: str = ",") -> str:
    parts = sorted({p for v in values for p in v.split(sep) if p}, key=natural_key)
    return sep.join(parts)


class _Row:
    """A line as compared: its place, its quantity, and its field values as text."""

    __slots__ = ("child", "child_name", "level", "path", "quantity", "text")

    def __init__(self, line: FlatLine, path: str, quantity: Decimal, find_number: str, refdes: str, note: str) -> None:
        self.path, self.level, self.child, self.child_name = path, line.level, line.child_number, line.child_name
        self.quantity = quantity
        self.text = {
            "quantity": quantity_text(quantity),
            "unit": line.unit,
            "find_number": find_number,
            "refdes": refdes,
            "note": note,
        }

    def key_parts(self, mode: str) -> tuple[str, ...]:
        return tuple(self.child if name == "child" else f"{name}={self.text[name] or '-'}" for name in MODES[mode])


def _rows(lines: list[FlatLine], mode: str) -> list[_Row]:
    if mode not in MERGED_MODES:
        return [_Row(line, line.path, line.quantity, line.find_number, line.refdes, line.note) for line in lines]
    summarized = mode == "summarized"
    groups: dict[tuple, FlatLine | list[FlatLine]] = {}  # a list only where a key repeats
    for line in lines:
        key = ("" if summarized else line.path, line.child_number, line.unit)
        seen = groups.get(key)
        if seen is None:
            groups[key] = line
        elif isinstance(seen, list):
            seen.append(line)
        else:
            groups[key] = [seen, line]
    rows = []
    for (path, _, _), group in groups.items():
        if isinstance(group, FlatLine):
            rows.append(
                _Row(
                    group,
                    path,
                    group.extended if summarized else group.quantity,
                    group.find_number,
                    group.refdes,
                    group.note,
                )
            )
            continue
        total = sum((g.extended if summarized else g.quantity for g in group), Decimal(0))
        row = _Row(
            group[0],
            path,
            total,
            _joined(g.find_number for g in group),
            _joined(g.refdes for g in group),
            "; ".join(sorted({g.note for g in group if g.note})),
        )
        row.level = min(g.level for g in group)
        rows.append(row)
    return rows


def _keyed(rows: list[_Row], mode: str) -> dict[tuple, _Row]:
    """(path, key parts, occurrence) → row; repeated keys pair up in find-number order."""
    out: dict[tuple, _Row] = {}
    seen: dict[tuple, int] = {}
    for row in rows:
        base = (row.path, row.key_parts(mode))
        seen[base] = seen.get(base, 0) + 1
        out[(*base, seen[base])] = row
    return out


def _key_text(parts: tuple[str, ...], occurrence: int) -> str:
    text = " ".join(parts)
    return text if occurrence == 1 else f"{text} #{occurrence}"


def _order(key: tuple, row: _Row) -> tuple:
    path, parts, occurrence = key
    first_find = row.text["find_number"].split(",")[0]
    return (natural_key(path), int(first_find) if first_find else 10**9, natural_key(row.child), parts, occurrence)


def _changes(left: _Row, right: _Row) -> list[Change]:
    before, after = left.text, right.text
    changes = []
    for name in FIELDS:
        same = left.quantity == right.quantity if name == "quantity" else before[name] == after[name]
        if not same:
            changes.append(Change(name, before[name], after[name], SEVERITY[name]))
    return changes


def check_mode(mode: str, max_levels: int) -> None:
    if mode not in MODES:
        raise not_one_of("mode", "Compare mode", mode, MODES)
    if not 1 <= max_levels <= MAX_LEVELS:
        raise InvalidInput(f"max_levels must be between 1 and {MAX_LEVELS}.", {"field": "max_levels"})


def compare_boms(
    left: Bom,
    right: Bom,
    mode: str = "by_item",
    max_levels: int = 1,
    on_progress: Callable[[float, str], None] | None = None,
) -> CompareResult:
    check_mode(mode, max_levels)
    report = on_progress or (lambda fraction, message: None)
    with BOM_COMPARE_SECONDS.labels(mode).time():
        report(0.1, f"reading {left.ref}")
        left_lines = explode(left, max_levels)
        report(0.35, f"reading {right.ref}")
        right_lines = explode(right, max_levels)
        report(0.6, "comparing")
        diff = compare_lines(left_lines, right_lines, mode)
    return CompareResult(left=left.ref, right=right.ref, mode=mode, max_levels=max_levels, **diff)


def compare_lines(left_lines: list[FlatLine], right_lines: list[FlatLine], mode: str) -> dict:
    """The line diffs and summary of two explosions."""
    before, after = _keyed(_rows(left_lines, mode), mode), _keyed(_rows(right_lines, mode), mode)
    diffs = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: _order(k, before.get(k) or after[k])):
        old, new = before.get(key), after.get(key)
        row = old or new
        if old is None:
            status, changes = "added", []
        elif new is None:
            status, changes = "removed", []
        else:
            changes = _changes(old, new)
            status = "changed" if changes else "unchanged"
        diffs.append(
            LineDiff(
                status,
                _key_text(key[1], key[2]),
                row.path,
                row.level,
                row.child,
                row.child_name,
                old.text if old else None,
                new.text if new else None,
                changes,
            )
        )
    summary = {status: 0 for status in STATUSES}
    summary.update(changed_major=0, changed_minor=0, left_lines=len(left_lines), right_lines=len(right_lines))
    for diff in diffs:
        summary[diff.status] += 1
        if diff.status == "changed":
            summary[f"changed_{diff.severity}"] += 1
    return {"lines": diffs, "summary": summary}
