"""Benchmark: the breakage figures of a 90-day window over 1,000,000 incidents.

The incidents span ten years over 50 products and 400 components (a fifth name no component,
so they repeat by description), as the service would store them (signature column). Timed:
what the metrics page asks for in one request (repeat rate, hotspots top 10, by-status counts,
weekly trend), 20 times after a warm-up; goal p95 < 150 ms. Prints one JSON line per database.

    BENCH_INCIDENTS=1000000 FORGELINE_TEST_DATABASES=both .venv/bin/pytest -q -s tests/perf/test_breakage_metrics.py
"""

import json
import os
import random
import statistics
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert

from app.breakages import figures, service
from app.breakages.models import Incident
from app.core.timeutil import utcnow
from app.extensions import db
from app.items.models import Item

pytestmark = pytest.mark.dialects

INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "1000000"))
SPAN_DAYS = 3650
SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "investigating", "resolved", "closed", "canceled")
DESCRIPTIONS = [f"failure mode {n}" for n in range(300)]


def _seed() -> None:
    products = [Item(number=f"P-{n:03d}", name="product", item_type="assembly") for n in range(50)]
    parts = [Item(number=f"C-{n:04d}", name="component") for n in range(400)]
    db.session.add_all(products + parts)
    db.session.commit()
    product_ids, part_ids = [p.id for p in products], [p.id for p in parts]
    rng, now = random.Random(7), utcnow()
    rows = []
    for n in range(1, INCIDENTS + 1):
        component = rng.choice(part_ids) if rng.random() < 0.8 else None
        description = rng.choice(DESCRIPTIONS)
        occurred = now - timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        rows.append(
            {
                "code": f"BRK-{n:07d}",
                "status": rng.choice(STATUSES),
                "severity": rng.choice(SEVERITIES),
                "responsibility": "unknown",
                "item_id": rng.choice(product_ids),
                "component_id": component,
                "occurred_at": occurred,
                "created_at": occurred,
                "updated_at": occurred,
                "description": description,
                "signature": service.signature(component, description),
                "reported_by": "bench",
                "helpdesk_key": uuid.uuid4().hex,
                **dict.fromkeys(("root_cause", "immediate_action", "corrective_action", "preventive_action"), ""),
                **dict.fromkeys(("verification_note", "batch_code", "production_order", "customer"), ""),
                "helpdesk_status": "not_sent",
                "helpdesk_attempts": 0,
            }
        )
    # the gaps service.relink() keeps, computed here for the whole set at once
    last: dict[tuple, float] = {}
    for row in sorted(rows, key=lambda r: (r["item_id"], r["signature"], r["occurred_at"])):
        key, at = (row["item_id"], row["signature"]), row["occurred_at"].timestamp()
        if row["status"] == "canceled":
            row["repeat_gap_seconds"] = None
            continue
        row["repeat_gap_seconds"] = at - last[key] if key in last else None
        last[key] = at
    for start in range(0, len(rows), 20000):
        db.session.execute(insert(Incident.__table__), rows[start : start + 20000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # the visibility map, so the window index is read alone
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM ANALYZE breakage_incidents"))
    else:
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def _page_figures() -> None:
    w = figures.window(90)
    figures.repeat_rate(w)
    figures.hotspots(w, 10)
    figures.counts(w)
    figures.weekly_trend(w)


@pytest.mark.timeout(3600)
def test_metrics_of_a_90_day_window_over_a_million_incidents(app):
    started = time.perf_counter()
    _seed()
    seed_seconds = time.perf_counter() - started
    _page_figures()  # warm-up
    times = []
    for _ in range(20):
        t = time.perf_counter()
        _page_figures()
        times.append((time.perf_counter() - t) * 1000)
        db.session.rollback()
    parts = {}
    w = figures.window(90)
    for name, call in (
        ("repeat_rate", lambda: figures.repeat_rate(w)),
        ("hotspots", lambda: figures.hotspots(w, 10)),
        ("counts", lambda: figures.counts(w)),
        ("trend", lambda: figures.weekly_trend(w)),
    ):
        t = time.perf_counter()
        call()
        parts[name] = round((time.perf_counter() - t) * 1000, 1)
    p95 = statistics.quantiles(times, n=20)[18]
    print(
        json.dumps(
            {
                "benchmark": "breakage_metrics",
                "database": db.engine.dialect.name,
                "incidents": INCIDENTS,
                "window_days": 90,
                "seed_seconds": round(seed_seconds, 1),
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(p95, 1),
                "parts_ms": parts,
                "goal_p95_ms": 150,
            }
        )
    )
