"""Benchmark: the audit page over a million audit rows, on SQLite and PostgreSQL.

Fills `audit_log` with AUDIT_ROWS rows (20 kinds, 5,000 ids each, 50 users, 5 actions, one
row a second) in SQL, then times the audit page (the whole request, as a browser gets it) for
each filter and for a deep page, and the offset paging the page had before (COUNT + OFFSET)
for comparison. Prints one JSON line per database.

    FORGELINE_TEST_DATABASES=both .venv/bin/pytest -q -s tests/perf/test_audit_paging.py
"""

import json
import os
import time

import pytest
from sqlalchemy import func, select, text

from app.core.audit.models import AuditEntry
from app.core.paging import paginate
from app.extensions import db

ROWS = int(os.environ.get("AUDIT_ROWS", "1000000"))

FILL = {
    "sqlite": """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
        INSERT INTO audit_log (id, at, actor, entity, entity_id, action, before, after)
        SELECT i, datetime('2025-01-01', '+' || i || ' seconds') || '.000000', 'user' || (i % 50), 'kind' || (i % 20),
               CAST(i % 5000 AS TEXT), 'action' || (i % 5), json_object('n', i), json_object('n', i + 1)
        FROM n""",
    "postgresql": """
        INSERT INTO audit_log (id, at, actor, entity, entity_id, action, before, after)
        SELECT i, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second', 'user' || (i % 50),
               'kind' || (i % 20), (i % 5000)::text, 'action' || (i % 5),
               json_build_object('n', i), json_build_object('n', i + 1)
        FROM generate_series(1, :rows) AS i""",
}

QUERIES = {
    "newest": "",
    "kind": "entity=kind7",
    "record": "entity=kind7&entity_id=1007",
    "who": "actor=user13",
    "action": "action=action3",
    "who_and_action": "actor=user13&action=action3",
    "recent_day": "since=2025-01-12&until=2025-01-12",
    "old_day": "since=2025-01-02&until=2025-01-02",
    "deep_page": "before=1000",
    "deep_page_of_a_kind": "entity=kind7&before=1000",
}


@pytest.mark.dialects
@pytest.mark.timeout(1800)
def test_audit_page_over_a_million_rows(app, signed_in, database_url):
    dialect = db.engine.dialect.name
    started = time.perf_counter()
    db.session.execute(text(FILL[dialect]), {"rows": ROWS})
    if dialect == "postgresql":
        db.session.execute(text("SELECT setval('audit_log_id_seq', :rows)"), {"rows": ROWS})
    db.session.commit()
    db.session.execute(text("ANALYZE audit_log" if dialect == "postgresql" else "ANALYZE"))
    db.session.commit()
    fill_seconds = time.perf_counter() - started
    client, _ = signed_in("operator")
    client.get("/audit/")  # warm the caches once

    timings = {}
    for name, query in QUERIES.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(f"/audit/?{query}")
            best = min(best, time.perf_counter() - started)
            assert response.status_code == 200
        timings[name] = round(best * 1000, 1)
        assert response.get_data(as_text=True).count('<tr id="audit-') > 0, name

    # the paging this page replaced: a COUNT of every matching row, then OFFSET
    started = time.perf_counter()
    paginate(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), 10_000, 50)
    offset_ms = round((time.perf_counter() - started) * 1000, 1)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= ROWS
    print(
        json.dumps(
            {
                "benchmark": "audit_paging",
                "database": dialect,
                "rows": ROWS,
                "fill_seconds": round(fill_seconds, 1),
                "page_ms_best_of_3": timings,
                "old_offset_page_10000_ms": offset_ms,
            }
        )
    )
    assert max(timings.values()) < 1000
