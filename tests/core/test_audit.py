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


def test_audit_page_filters_by_entity_and_user_with_paging(signed_in):
    for i in range(60):
        audit.record(
            "widget" if i % 2 else "gadget",
            i,
            "update",
            before={"n": i},
            after={"n": i + 1},
            actor="robot" if i < 50 else "human",
        )
    db.session.commit()
    client, _ = signed_in("operator")
    first = client.get("/audit/?entity=widget&actor=robot").get_data(as_text=True)
    assert "25 in all" in first and "gadget <code>" not in first
    everything = client.get("/audit/").get_data(as_text=True)
    assert "Page 1 of 2" in everything and "Older →" in everything
    second = client.get("/audit/?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second
    assert "No audit entries match" in client.get("/audit/?actor=nobody").get_data(as_text=True)


def test_audit_page_is_for_operators_and_admins(signed_in):
    client, _ = signed_in("engineer")
    assert client.get("/audit/").status_code == 403
