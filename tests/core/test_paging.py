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


@pytest.mark.dialects  # LIKE escaping and case folding are the database's
def test_search_boxes_take_wildcards_and_backslashes_literally(app):
    from app.items.models import Item
    from app.items.service import search_items

    names = ["50% off", "50 pieces", "a_b joint", "axb joint", "back\\slash", "Plain"]
    db.session.add_all(Item(number=f"LIT-{n}", name=name) for n, name in enumerate(names))
    db.session.commit()

    def found(text: str) -> list[str]:
        return [item.name for item in search_items(q=text).items]

    assert found("50%") == ["50% off"]
    assert found("a_b") == ["a_b joint"]
    assert found("\\") == ["back\\slash"]
    assert found("PLAIN") == ["Plain"] and found("lit-") == names
    assert found("%") == ["50% off"] and found("_") == ["a_b joint"]
