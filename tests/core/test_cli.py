"""`flask seed-demo`, which `make run` calls on every start."""

import pytest

from app.core.auth.models import User
from app.extensions import db


@pytest.mark.dialects  # the demo seed's bulk INSERTs of every capability
def test_seed_demo_prints_the_admin_password_once_and_can_run_again(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    password = first.output.split("password '")[1].split("'")[0]
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and password not in again.output and "already present" in again.output
    admins = db.session.query(User).filter_by(username="admin").all()
    assert len(admins) == 1 and admins[0].role == "admin"


def test_users_update_changes_role_and_active_flag_audits_it_and_tells_the_live_channel(app, make_user):
    import json

    from app.core import live
    from app.core.audit.models import AuditEntry

    user = make_user("uma", "operator")
    pubsub = app.extensions["redis"].pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(live.channel())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "update", "uma", "--role", "viewer", "--inactive"])
    assert result.exit_code == 0 and "uma: viewer, inactive" in result.output, result.output
    db.session.expire_all()
    assert (user.role, user.active) == ("viewer", False)
    entry = db.session.query(AuditEntry).filter_by(entity="user", action="update").one()
    assert entry.before["role"] == "operator" and entry.after == {"username": "uma", "role": "viewer", "active": False}
    # (get_message answers None for the subscribe confirmation it skips, so read a few times)
    events = [json.loads(m["data"]) for _ in range(6) if (m := pubsub.get_message(timeout=0.3))]
    assert [(e["topic"], e["type"]) for e in events] == [(f"user:{user.id}", "user_changed")]
    bad = runner.invoke(args=["users", "update", "uma", "--role", "boss"])
    assert bad.exit_code != 0 and "Unknown role" in bad.output
