"""paging.distinct_values: a filter's drop-down read by a loose index scan (recursive CTE)."""

import pytest
from sqlalchemy import insert

from app.core.jobs.models import JobRecord
from app.core.paging import distinct_values
from app.core.timeutil import utcnow
from app.extensions import db


@pytest.mark.dialects
def test_distinct_values_match_distinct_on_both_databases(app):
    assert distinct_values(JobRecord.kind) == []  # an empty table: no value, not [None]
    now = utcnow()
    rows = [
        {"id": f"j{n}", "queue": ("sync", "exports", "default")[n % 3], "kind": f"kind-{n % 7}", "enqueued_at": now}
        for n in range(300)
    ]
    rows.append({"id": "rare", "queue": "exports", "kind": "a-rare-one", "enqueued_at": now})
    db.session.execute(insert(JobRecord), rows)
    db.session.commit()
    assert distinct_values(JobRecord.kind) == ["a-rare-one", *(f"kind-{n}" for n in range(7))]
    for queue in ("sync", "exports", "default"):
        expected = sorted({r["kind"] for r in rows if r["queue"] == queue})
        assert distinct_values(JobRecord.kind, JobRecord.queue == queue) == expected
    assert distinct_values(JobRecord.kind, JobRecord.queue == "nowhere") == []
