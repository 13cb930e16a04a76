import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from app.core import audit
from app.core.audit.models import AuditEntry
from app.extensions import db


def entries() -> list[AuditEntry]:
    db.session.expire_all()
    return db.session.query(AuditEntry).order_by(AuditEntry.id).all()


def test_writes_record_actor_entity_action_before_after_and_time(signed_in):
    client, csrf = signed_in("operator", "olga")
    client.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf})
    token_entry = entries()[-1]
    assert (token_entry.actor, token_entry.entity, token_entry.action) == ("olga", "api_token", "create")
    assert token_entry.after == {"name": "laptop", "user": "olga", "prefix": token_entry.after["prefix"]}
    assert token_entry.at.tzinfo is not None
    client.post(f"/account/tokens/{token_entry.entity_id}/revoke", data={"csrf_token": csrf})
    revoke = entries()[-1]
    assert (revoke.action, revoke.before, revoke.after) == ("revoke", {"revoked": False}, {"revoked": True})


def test_rolled_back_write_leaves_no_audit_row(app):
    audit.record("thing", 1, "create", after={"x": 1})
    db.session.rollback()
    assert entries() == []


def _many(count: int, **fields) -> None:
    for i in range(count):
        audit.record(
            fields.get("entity") or ("widget" if i % 2 else "gadget"),
            i,
            fields.get("action", "update"),
            before={"n": i},
            after={"n": i + 1},
            actor=fields.get("actor") or ("robot" if i < 50 else "human"),
        )
    db.session.commit()


def test_audit_page_filters_are_kept_in_the_url_and_in_the_pager(signed_in):
    _many(120)
    client, _ = signed_in("operator")
    html = client.get("/audit/?entity=widget&actor=robot").get_data(as_text=True)
    assert html.count('<tr id="audit-') == 25 and "gadget" not in html.split("<tbody>")[1]
    assert 'name="entity" value="widget"' in html and 'name="actor" value="robot"' in html
    assert "Older" not in html  # 25 rows: one page
    everything = client.get("/audit/").get_data(as_text=True)
    assert everything.count('<tr id="audit-') == 50
    older = re.search(r'href="(/audit/\?before=\d+)">Older', everything).group(1)
    widgets = client.get("/audit/?entity=widget").get_data(as_text=True)
    assert re.search(r'href="/audit/\?before=\d+&amp;entity=widget">Older', widgets)
    assert "No audit entries match" in client.get("/audit/?actor=nobody").get_data(as_text=True)
    assert older


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="audit-(\d+)"', html)]


@pytest.mark.dialects  # row-value comparisons of the keyset
def test_keyset_pages_walk_older_and_back_newer_without_gaps(signed_in):
    _many(120, actor="robot")
    client, _ = signed_in("operator")
    first = client.get("/audit/").get_data(as_text=True)
    seen, html = _ids(first), first
    while match := re.search(r'href="/audit/\?before=(\d+)">Older', html):
        html = client.get(f"/audit/?before={match.group(1)}").get_data(as_text=True)
        seen += _ids(html)
    assert (
        seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 121
    )  # and the signed-in user's creation
    assert "Newer" in html and "Older" not in html  # the oldest page
    newer = re.search(r'href="/audit/\?after=(\d+)">', html).group(1)
    back = _ids(client.get(f"/audit/?after={newer}").get_data(as_text=True))
    assert back == seen[50:100]
    assert _ids(client.get("/audit/?before=99999999999999999999").get_data(as_text=True)) == seen[:50]


def test_every_filter_narrows_the_log(signed_in, app):
    audit.record("eco", 3, "move", before={"stage": "draft"}, after={"stage": "review"}, actor="ann")
    audit.record("eco", 4, "move", before={"stage": "draft"}, after={"stage": "review"}, actor="ann")
    audit.record("eco", 3, "apply", before={"stage": "review"}, after={"stage": "done"}, actor="bob")
    old = audit.record("item", 3, "create", after={"number": "P-1"}, actor="ann")
    db.session.flush()
    old.at = datetime(2026, 1, 15, 12, tzinfo=UTC)
    db.session.commit()
    client, _ = signed_in("operator")

    def actions(query: str) -> list[tuple[str, str, str]]:
        html = client.get(f"/audit/?{query}").get_data(as_text=True)
        rows = html.split('<tr id="audit-')[1:]
        return [re.search(r'class="record">(\w+) (\d+)</a>.*?<td>(\w+)</td>', row, re.S).groups() for row in rows]

    assert actions("entity=eco&entity_id=3") == [("eco", "3", "apply"), ("eco", "3", "move")]
    assert actions("actor=ann&action=move") == [("eco", "4", "move"), ("eco", "3", "move")]
    assert actions("since=2026-01-01&until=2026-01-31") == [("item", "3", "create")]
    assert actions("until=2026-01-14") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("until=2026-02-30", "until"), ("since=2026-03-02&until=2026-03-01", "until")],
)
def test_a_bad_date_is_a_400_that_names_the_field(signed_in, query, field):
    audit.record("eco", 1, "create", after={"number": "ECO-1"})
    db.session.commit()
    client, _ = signed_in("operator")
    response = client.get(f"/audit/?{query}&actor=x")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'name="{field}" value="' in html and 'aria-invalid="true"' in html and 'id="form-error"' in html
    assert 'name="actor" value="x"' in html and '<tr id="audit-' not in html


@pytest.mark.dialects  # bulk INSERT of JSON before/after
def test_changes_are_shown_field_by_field_and_records_link_to_their_page(signed_in):
    entry = audit.record(
        "eco",
        7,
        "update",
        before={"title": "Old", "stage": "draft", "owner": "ann", "same": 1},
        after={"title": "New", "stage": "draft", "same": 1, "priority": "high"},
    )
    created = audit.record("nothing_declared", 1, "create", after={"x": [1, 2]})
    db.session.commit()
    client, _ = signed_in("operator")
    html = client.get("/audit/").get_data(as_text=True)
    row = html.split(f'id="audit-{entry.id}"')[1].split("</tr>")[0]
    assert '<a href="/ecos/7" class="record">eco 7</a>' in row
    assert re.search(r'field">title</code>\s*<code class="old">Old</code> → <code class="new">New</code>', row)
    assert re.search(
        r'field">owner</code>\s*<span class="badge op-remove">removed</span> <code class="old">ann</code>', row
    )
    assert re.search(r'field">priority</code>\s*<span class="badge op-add">added</span>', row)
    assert "stage" not in row and "same" not in row  # unchanged fields are left out
    other = html.split(f'id="audit-{created.id}"')[1].split("</tr>")[0]
    assert 'class="record"' not in other and "<code>1</code>" in other and "[1, 2]" in other


def test_field_changes():
    changes = audit.service.field_changes({"a": 1, "b": {"x": 1}, "c": 3}, {"a": 1, "b": {"x": 2}, "d": None})
    assert [(c.field, c.change, c.old, c.new) for c in changes] == [
        ("b", "changed", {"x": 1}, {"x": 2}),
        ("c", "removed", 3, None),
        ("d", "added", None, None),
    ]
    assert [c.change for c in audit.service.field_changes(None, {"n": 1})] == ["added"]
    assert [c.change for c in audit.service.field_changes({"n": 1}, None)] == ["removed"]
    assert audit.service.field_changes({"n": 1}, {"n": 1}) == []


def test_an_entry_of_a_record_the_user_may_not_see_is_neither_shown_nor_linked(signed_in, make_user):
    audit.record("optimization", 999, "create", after={"name": "secret"}, actor="owner")
    db.session.commit()
    client, _ = signed_in("operator")
    html = client.get("/audit/").get_data(as_text=True)
    assert "withheld" in html and "secret" not in html and "/optimizations/999" not in html


def test_audit_page_is_for_operators_and_admins(signed_in):
    client, _ = signed_in("engineer")
    assert client.get("/audit/").status_code == 403


def _plan(query) -> str:
    """The database's plan for `query`, as text. PostgreSQL is told to avoid table scans, bitmap
    scans and sorts, which it prefers on a table this small: it then takes an index that gives
    the rows in order, if there is one (that it takes the right one is what is tested)."""
    compiled = query.compile(dialect=db.engine.dialect)
    params = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", params).all()
    else:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.dialects
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "ix_audit_log_at_id"),
        ({"entity": "kind3"}, "ix_audit_log_entity_at"),
        ({"entity": "kind3", "entity_id": "7"}, "ix_audit_log_record"),
        ({"actor": "user3"}, "ix_audit_log_actor_at"),
        ({"action": "action3"}, "ix_audit_log_action_at"),
    ],
)
def test_each_filter_of_a_page_walks_its_index_without_sorting(app, filters, index):
    for i in range(400):
        audit.record(f"kind{i % 20}", i % 50, f"action{i % 5}", after={"n": i}, actor=f"user{i % 10}")
    db.session.commit()
    db.session.execute(text("ANALYZE audit_log" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    query = (
        audit.service.AuditFilter(**filters)
        .where(select(AuditEntry))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(51)
    )
    plan = _plan(query)
    db.session.rollback()
    assert index in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
