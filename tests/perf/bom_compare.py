"""Benchmark: compare two 10,000-line, three-level BOMs (run by hand, not in make test).

    .venv/bin/python -m tests.perf.bom_compare [--postgres postgresql://postgres@127.0.0.1:5432]

SQLite in a temporary file by default; with --postgres, a temporary database
on that server (dropped at the end).

Prints one JSON line: wall time (best of 3) and peak memory of compare + delta preview +
CSV export, the SQL queries it ran (for 1,000 and 10,000 lines: they must not
grow with lines), and the same figures for the peer, a plain ORM walk of the
structure (lazy relationships, one query per BOM and per child), with the ratio.
Goal: under 1 s for 10,000 lines, queries flat.
"""

import argparse
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from contextlib import contextmanager
from decimal import Decimal

import psycopg
from flask_migrate import upgrade
from sqlalchemy import event, insert, select

from app import create_app
from app.extensions import db
from app.items import service
from app.items.compare import CompareResult, compare_boms, compare_lines
from app.items.delta import build_delta_preview, export_bytes
from app.items.models import Bom, BomLine, Item
from app.items.structure import FlatLine

SHAPES = {1000: (5, 10), 10000: (95, 100)}  # lines → (parts per sub, parts per sub-sub)
SUBS, SUBSUBS = 20, 4  # 20 subs under the top, 4 sub-subs under each


def build(lines: int) -> tuple[Bom, Bom]:
    """Tops L-<lines> and R-<lines>; R swaps two subs for variants and changes quantities at each level."""
    per_sub, per_subsub = SHAPES[lines]
    tag = str(lines)
    ids: dict[str, int] = {}

    def items(rows: list[tuple[str, str]]) -> None:
        db.session.execute(
            insert(Item),
            [
                {
                    "number": n,
                    "name": n,
                    "item_type": t,
                    "uom": "EA",
                    "revision": "A",
                    "lifecycle": "released",
                    "description": "",
                }
                for n, t in rows
            ],
        )
        ids.update(db.session.execute(select(Item.number, Item.id).where(Item.number.like(f"%-{tag}-%"))).all())

    def bom(number: str, children: list[tuple[str, Decimal, int]]) -> int:
        bom_id = db.session.execute(
            insert(Bom).returning(Bom.id), [{"item_id": ids[number], "revision": "A", "state": "released"}]
        ).scalar_one()
        db.session.execute(
            insert(BomLine),
            [
                {
                    "bom_id": bom_id,
                    "child_id": ids[c],
                    "quantity": q,
                    "unit": "EA",
                    "find_number": f,
                    "refdes": "",
                    "note": "",
                }
                for c, q, f in children
            ],
        )
        return bom_id

    parts = [f"P-{tag}-{i:04}" for i in range(per_subsub + per_sub + 5)]
    subs = [f"S-{tag}-{i:02}" for i in range(SUBS)] + [f"SV-{tag}-{i:02}" for i in range(2)]
    subsubs = [f"SS-{tag}-{s}-{j}" for s in range(SUBS) for j in range(SUBSUBS)]
    items([(p, "part") for p in parts] + [(a, "assembly") for a in (*subs, *subsubs, f"L-{tag}-top", f"R-{tag}-top")])
    for n, number in enumerate(subsubs):
        bom(number, [(parts[i], Decimal(1 + (i + n) % 7), 10 * (i + 1)) for i in range(per_subsub)])
    for s in range(SUBS):
        own = [(f"SS-{tag}-{s}-{j}", Decimal(1), 10 * (j + 1)) for j in range(SUBSUBS)]
        bom(f"S-{tag}-{s:02}", own + [(parts[i], Decimal(2), 100 + 10 * i) for i in range(per_sub)])
    for v in range(2):  # variants of subs 0 and 1: one more part, one quantity changed
        own = [(f"SS-{tag}-{v}-{j}", Decimal(1), 10 * (j + 1)) for j in range(SUBSUBS)]
        rest = [(parts[i], Decimal(3 if i == 0 else 2), 100 + 10 * i) for i in range(per_sub + 1)]
        bom(f"SV-{tag}-{v:02}", own + rest)
    left = bom(f"L-{tag}-top", [(f"S-{tag}-{s:02}", Decimal(1), 10 * (s + 1)) for s in range(SUBS)])
    right_subs = [f"SV-{tag}-{s:02}" if s < 2 else f"S-{tag}-{s:02}" for s in range(SUBS)]
    right = bom(f"R-{tag}-top", [(c, Decimal(2 if s == 5 else 1), 10 * (s + 1)) for s, c in enumerate(right_subs)])
    db.session.commit()
    return db.session.get(Bom, left), db.session.get(Bom, right)


def ours(left: Bom, right: Bom) -> tuple[bytes, int]:
    preview = build_delta_preview(compare_boms(left, right, "by_item", max_levels=3))
    return export_bytes(preview, "csv"), preview.summary["total"]


def orm_walk(bom: Bom, max_levels: int) -> list[FlatLine]:
    """The peer: the structure read through lazy ORM relationships."""
    out: list[FlatLine] = []

    def walk(current: Bom, path: str, level: int, factor: Decimal) -> None:
        for line in current.lines:
            child = line.child
            out.append(
                FlatLine(
                    line.id,
                    path,
                    level,
                    child.id,
                    child.number,
                    child.name,
                    line.quantity,
                    line.quantity * factor,
                    line.unit,
                    "" if line.find_number is None else str(line.find_number),
                    line.refdes,
                    line.note,
                )
            )
            sub = service.effective_bom(child) if level < max_levels else None
            if sub is not None:
                walk(sub, f"{path}/{child.number}" if path else child.number, level + 1, line.quantity * factor)

    walk(bom, "", 1, Decimal(1))
    return out


def peer(left: Bom, right: Bom) -> tuple[bytes, int]:
    diff = compare_lines(orm_walk(left, 3), orm_walk(right, 3), "by_item")
    preview = build_delta_preview(CompareResult(left.ref, right.ref, "by_item", 3, **diff))
    return export_bytes(preview, "csv"), preview.summary["total"]


def measure(run, left: Bom, right: Bom, repeat: int = 3) -> dict:
    """Best wall time of `repeat` runs (the machine is shared), each from an empty session."""
    queries = [0]

    def count(*_args) -> None:
        queries[0] += 1

    walls = []
    for _ in range(repeat):
        db.session.expire_all()
        queries[0] = 0
        event.listen(db.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        content, operations = run(left, right)
        walls.append(time.perf_counter() - started)
        event.remove(db.engine, "before_cursor_execute", count)
    wall = min(walls)
    db.session.expire_all()
    tracemalloc.start()
    run(left, right)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "wall_s": round(wall, 3),
        "peak_mb": round(peak / 2**20, 1),
        "queries": queries[0],
        "operations": operations,
        "bytes": len(content),
        "content": content,
    }


@contextmanager
def database(postgres: str | None):
    if not postgres:
        yield f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        return
    name = f"forgeline_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL, without a database name")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench")
    with database(args.postgres) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
        with app.app_context():
            upgrade()
            small, large = build(1000), build(10000)
            ours_small = measure(ours, *small)
            ours_large = measure(ours, *large)
            peer_large = measure(peer, *large)
            assert ours_large.pop("content") == peer_large.pop("content"), "ours and the peer disagree"
            ours_small.pop("content")
            print(
                json.dumps(
                    {
                        "benchmark": "bom_compare",
                        "database": db.engine.dialect.name,
                        "lines_per_side": 10000,
                        "levels": 3,
                        "mode": "by_item",
                        **ours_large,
                        "queries_at_1000_lines": ours_small["queries"],
                        "wall_s_at_1000_lines": ours_small["wall_s"],
                        "peer": "orm_lazy_walk",
                        "peer_wall_s": peer_large["wall_s"],
                        "peer_peak_mb": peer_large["peak_mb"],
                        "peer_queries": peer_large["queries"],
                        "ratio_peer_over_ours": round(peer_large["wall_s"] / ours_large["wall_s"], 1),
                        "goal_under_1s": ours_large["wall_s"] < 1.0,
                    }
                )
            )
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
