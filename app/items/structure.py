"""The product structure as a graph: loop detection on writes, and the
multi-level explosion that views and compare read.

The explosion reads one level per pair of queries (the BOMs of that level's
children, then their lines), so the query count grows with depth, never with
the number of lines.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import select

from app.core.errors import InvalidInput
from app.extensions import db
from app.items.models import Bom, BomLine, BomState, Item

IN_CHUNK = 2000  # ids per IN (...) list, well under SQLite's and PostgreSQL's limits


@dataclass(slots=True)
class FlatLine:
    """One BOM line in an explosion: `path` names the assemblies above it (not the
    root), `extended` is its quantity rolled up through every parent."""

    line_id: int
    path: str
    level: int
    child_id: int
    child_number: str
    child_name: str
    quantity: Decimal
    extended: Decimal
    unit: str
    find_number: str
    refdes: str
    note: str


@lru_cache(maxsize=65536)  # paths and item numbers repeat across thousands of lines
def natural_key(text: str) -> tuple:
    """R2 before R10."""
    return tuple((0, int(p), "") if p.isdecimal() else (1, 0, p) for p in re.split(r"(\d+)", text) if p)


@lru_cache(maxsize=4096)  # a BOM uses few distinct quantities
def quantity_text(value: Decimal) -> str:
    """2.500000 → '2.5', 10 → '10' (never '1E+1')."""
    return format(Decimal(value).normalize(), "f")


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start : start + IN_CHUNK]


def check_no_cycle(parent: Item, children: list[Item]) -> None:
    """Raise when putting `children` under `parent` would make an item its own
    ancestor; the message names the loop, e.g. ASM-1 → SUB-2 → ASM-1."""
    edges: dict[int, set[int]] = {}
    rows = db.session.execute(
        select(Bom.item_id, BomLine.child_id)
        .join(BomLine, BomLine.bom_id == Bom.id)
        .where(Bom.state != BomState.superseded)
    )
    for parent_id, child_id in rows:
        edges.setdefault(parent_id, set()).add(child_id)
    for child in children:
        path = _path_to(child.id, parent.id, edges)
        if path is not None:
            numbers = dict(db.session.execute(select(Item.id, Item.number).where(Item.id.in_(path))).all())
            loop = [parent.number] + [numbers[i] for i in path]
            raise InvalidInput(
                f"{child.number} cannot go under {parent.number}: that makes a loop {' → '.join(loop)}.",
                {"field": "child", "loop": loop},
            )


def _path_to(start: int, goal: int, edges: dict[int, set[int]]) -> list[int] | None:
    """Item ids from start down to goal, or None (iterative DFS)."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        for child in sorted(edges.get(node, ())):
            stack.append((child, path + [child]))
    return None


def _effective_boms(item_ids: list[int]) -> dict[int, int]:
    """item id → id of its effective BOM (released, else the newest revision)."""
    chosen: dict[int, tuple[tuple, int]] = {}
    for chunk in _chunks(item_ids):
        for item_id, bom_id, revision, state in db.session.execute(
            select(Bom.item_id, Bom.id, Bom.revision, Bom.state).where(Bom.item_id.in_(chunk))
        ):
            rank = (state == BomState.released, len(revision), revision)
            if item_id not in chosen or rank > chosen[item_id][0]:
                chosen[item_id] = (rank, bom_id)
    return {item_id: bom_id for item_id, (_, bom_id) in chosen.items()}


def _lines_of(bom_ids: list[int]) -> dict[int, list[tuple]]:
    lines: dict[int, list[tuple]] = {bom_id: [] for bom_id in bom_ids}
    for chunk in _chunks(bom_ids):
        rows = db.session.connection().execute(  # Core rows: no ORM row processing for thousands of lines
            select(
                BomLine.bom_id,
                BomLine.id,
                BomLine.child_id,
                Item.number,
                Item.name,
                BomLine.quantity,
                BomLine.unit,
                BomLine.find_number,
                BomLine.refdes,
                BomLine.note,
            )
            .join(Item, Item.id == BomLine.child_id)
            .where(BomLine.bom_id.in_(chunk))
            .order_by(BomLine.bom_id, BomLine.find_number, BomLine.id)
        )
        for row in rows:
            lines[row[0]].append(row[1:])
    return lines


def explode(bom: Bom, max_levels: int = 1) -> list[FlatLine]:
    """The lines of `bom` and, down to `max_levels`, of its children's effective
    BOMs, depth first in find-number order."""
    levels: list[dict[int, list[tuple]]] = [_lines_of([bom.id])]
    boms_by_item: dict[int, int] = {}
    for _ in range(1, max_levels):
        children = sorted({row[1] for lines in levels[-1].values() for row in lines} - set(boms_by_item))
        found = _effective_boms(children)
        if not found:
            break
        boms_by_item.update(found)
        levels.append(_lines_of(sorted(set(found.values()))))
    lines_by_bom = {bom_id: rows for level in levels for bom_id, rows in level.items()}

    out: list[FlatLine] = []

    def walk(bom_id: int, path: str, level: int, factor: Decimal, ancestors: frozenset[int]) -> None:
        for line_id, child_id, number, name, quantity, unit, find, refdes, note in lines_by_bom[bom_id]:
            sub_bom = boms_by_item.get(child_id) if level < max_levels else None
            out.append(
                FlatLine(
                    line_id,
                    path,
                    level,
                    child_id,
                    number,
                    name,
                    quantity,
                    quantity * factor,
                    unit,
                    "" if find is None else str(find),
                    refdes or "",
                    note or "",
                )
            )
            if sub_bom is not None and child_id not in ancestors and sub_bom in lines_by_bom:
                walk(
                    sub_bom,
                    f"{path}/{number}" if path else number,
                    level + 1,
                    quantity * factor,
                    ancestors | {child_id},
                )

    walk(bom.id, "", 1, Decimal(1), frozenset({bom.item_id}))
    return out


def children_with_boms(item_ids: list[int]) -> set[int]:
    return set(_effective_boms(item_ids))
