"""The ECO pages through the test client: list and filters, the detail page and
its live panel, htmx moves that flash what blocks them, due activities, rule
forms, the runs browser; roles."""

import json
import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from app.core.timeutil import utcnow
from app.eco import transitions
from app.eco.models import Eco, WorkflowRule
from app.extensions import db
from tests.eco import factory

HTMX = {"HX-Request": "true", "HX-Target": "flashes"}


def post(client, path, csrf, headers=None, **data):
    return client.post(path, data={"csrf_token": csrf, **data}, headers=headers or {})


@pytest.mark.dialects  # ILIKE search
def test_list_filters_and_empty_states(signed_in):
    client, _ = signed_in("viewer")
    assert "No ECOs yet" in client.get("/ecos/").get_data(as_text=True)
    eco = factory.eco(priority="urgent")
    page = client.get("/ecos/?stage=draft&priority=urgent").get_data(as_text=True)
    assert f'data-eco="{eco.number}"' in page and 'id="new-eco"' not in page
    assert "No ECO matches" in client.get("/ecos/?stage=review").get_data(as_text=True)
    assert f'data-eco="{eco.number}"' in client.get("/ecos/?q=resistors").get_data(as_text=True)


def test_detail_shows_stage_bar_activities_blockers_events_runs_and_the_bom_delta(signed_in):
    client, csrf = signed_in("engineer")
    eco = factory.eco()
    factory.activity(eco, "Update drawing", "draft")
    factory.rule("Tell", "emit_event", "after")
    page = client.get(f"/ecos/{eco.id}").get_data(as_text=True)
    assert 'id="stage-bar"' in page and 'data-move="review"' in page and f'data-live-topic="eco:{eco.id}"' in page
    assert "data-blocker=" in page and "Update drawing" in page
    assert 'data-op="add"' in page and 'data-op="update"' in page  # the items delta preview partial
    assert "No rule has run" in page

    blocked = post(client, f"/ecos/{eco.id}/move", csrf, HTMX, to_stage="review")
    assert blocked.status_code == 200 and "1 blocking activity is open" in blocked.get_data(as_text=True)
    activity_id = db.session.scalar(select(Eco).where(Eco.id == eco.id)).activities[0].id
    done = post(client, f"/ecos/activities/{activity_id}/transition", csrf, HTMX, to_status="completed")
    assert "is completed" in done.get_data(as_text=True)
    moved = post(client, f"/ecos/{eco.id}/move", csrf, HTMX, to_stage="review")
    assert "moved from draft to review" in moved.get_data(as_text=True)
    panel = client.get(f"/ecos/{eco.id}/panel").get_data(as_text=True)
    assert 'id="eco-stage">review<' in panel and 'data-code="OK"' in panel and 'data-kind="stage"' in panel


def test_viewers_see_no_buttons_and_cannot_post(signed_in):
    client, csrf = signed_in("viewer")
    eco = factory.eco()
    page = client.get(f"/ecos/{eco.id}").get_data(as_text=True)
    assert "data-move=" not in page and 'id="activity-form"' not in page
    assert post(client, f"/ecos/{eco.id}/move", csrf, to_stage="review").status_code == 403
    assert client.get("/ecos/new").status_code == 403
    db.session.expire_all()
    assert db.session.get(Eco, eco.id).stage == "draft"


def test_new_eco_form_opens_an_eco_and_keeps_input_on_error(signed_in):
    client, csrf = signed_in("engineer")
    released, draft = factory.product()
    db.session.commit()
    bad = post(client, "/ecos/new", csrf, title="Fix it", item_id=str(released.item_id), target_bom_id=str(released.id))
    assert bad.status_code == 422 and "draft revision" in bad.get_data(as_text=True)
    assert 'value="Fix it"' in bad.get_data(as_text=True)
    made = post(
        client,
        "/ecos/new",
        csrf,
        title="Fix it",
        item_id=str(released.item_id),
        target_bom_id=str(draft.id),
        priority="high",
        eco_type="standard",
    )
    assert made.status_code == 302
    assert db.session.scalar(select(Eco.title)) == "Fix it"


def test_add_activity_form_with_unticked_blocking_and_a_due_time(signed_in):
    client, csrf = signed_in("engineer")
    eco = factory.eco()
    response = post(
        client,
        f"/ecos/{eco.id}/activities",
        csrf,
        HTMX,
        name="Tell purchasing",
        stage="review",
        due_at="2030-05-01T09:30",
    )
    assert "added to stage review" in response.get_data(as_text=True)
    db.session.expire_all()
    activity = db.session.get(Eco, eco.id).activities[0]
    assert (activity.blocking, activity.due_at.isoformat()) == (False, "2030-05-01T09:30:00+00:00")


def test_due_page_lists_overdue_and_due_soon(signed_in):
    client, _ = signed_in("viewer")
    assert "Nothing is overdue" in client.get("/ecos/activities/due").get_data(as_text=True)
    eco = factory.eco()
    factory.activity(eco, "Late one", due_at=utcnow() - timedelta(hours=3))
    factory.activity(eco, "Soon one", due_at=utcnow() + timedelta(hours=3))
    page = client.get("/ecos/activities/due?within_hours=12").get_data(as_text=True)
    overdue, soon = page.split('id="overdue-table"')[1].split('id="due-soon-table"')
    assert "Late one" in overdue and "Soon one" in soon
    assert client.get("/ecos/activities/due?within_hours=nan").status_code == 200


def input_value(html: str, name: str) -> str:
    """The value of <input name=...> as a browser reads it (attribute quoting and entities)."""
    found: list[str] = []

    class Inputs(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if tag == "input" and attributes.get("name") == name:
                found.append(attributes.get("value") or "")

    Inputs().feed(html)
    return found[0]


def test_rule_forms_create_edit_and_disable(signed_in):
    client, csrf = signed_in("admin")
    assert "No rules" in client.get("/ecos/rules").get_data(as_text=True)
    assert 'id="rule-form"' in client.get("/ecos/rules/new").get_data(as_text=True)
    form = {
        "name": "Escalate",
        "phase": "before",
        "from_stage": "any",
        "to_stage": "review",
        "action": "set_eco_priority",
        "params": '{"priority": "high"}',
        "priorities": "normal",
        "fail_strategy": "retry",
        "max_retries": "2",
        "priority": "5",
        "timeout_seconds": "2",
        "enabled": "1",
    }
    bad = post(client, "/ecos/rules/new", csrf, **{**form, "params": "{nope"})
    assert bad.status_code == 422 and "JSON object" in bad.get_data(as_text=True)
    bad = post(client, "/ecos/rules/new", csrf, **{**form, "params": '{"priority": "asap"}'})
    assert bad.status_code == 422 and "Params: Priority must be" in bad.get_data(as_text=True)
    assert post(client, "/ecos/rules/new", csrf, **form).status_code == 302
    rule = db.session.scalars(select(WorkflowRule)).one()
    assert (rule.to_stage, rule.match["priorities"], rule.max_retries, rule.enabled) == ("review", ["normal"], 2, True)
    edit_page = client.get(f"/ecos/rules/{rule.id}/edit").get_data(as_text=True)
    assert 'value="Escalate"' in edit_page
    assert json.loads(input_value(edit_page, "params")) == rule.params  # what a browser sends back on Save
    edited = post(client, f"/ecos/rules/{rule.id}/edit", csrf, **{**form, "fail_strategy": "warn", "name": "Raise"})
    assert edited.status_code == 302
    post(client, f"/ecos/rules/{rule.id}/enabled", csrf, enabled="0")
    db.session.expire_all()
    rule = db.session.get(WorkflowRule, rule.id)
    assert (rule.name, rule.fail_strategy, rule.max_retries, rule.enabled) == ("Raise", "warn", 0, False)
    assert 'data-rule="Raise"' in client.get("/ecos/rules").get_data(as_text=True)


def test_rule_pages_are_for_admins(signed_in):
    client, csrf = signed_in("engineer")
    assert client.get("/ecos/rules").status_code == 200
    assert client.get("/ecos/rules/new").status_code == 403
    assert post(client, "/ecos/rules/new", csrf, name="x").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(WorkflowRule)) == 0


def test_runs_browser_filters(signed_in):
    client, _ = signed_in("viewer")
    assert "No rule has run yet" in client.get("/ecos/runs").get_data(as_text=True)
    eco = factory.eco(priority="urgent")
    factory.rule("Lower", action="set_eco_priority", params={"priority": "low", "never_lower": True})
    factory.rule("Tell", "emit_event")
    transitions.move(eco.id, "review")
    db.session.commit()  # as the view or the API endpoint does
    page = client.get("/ecos/runs?status=warning").get_data(as_text=True)
    assert 'data-code="WARN"' in page and 'data-code="OK"' not in page and eco.number in page
    assert 'data-code="OK"' in client.get("/ecos/runs?result_code=OK").get_data(as_text=True)
    assert "No run matches" in client.get("/ecos/runs?result_code=BLOCK").get_data(as_text=True)
    assert client.get("/ecos/runs?status=bogus&rule_id=x").status_code == 200


def test_demo_seeds_once_and_its_pages_open(signed_in):
    from app.eco import demo
    from app.items import demo as items_demo

    client, _ = signed_in("admin")
    items_demo.seed()
    assert "fast-track" in demo.seed()
    db.session.commit()
    assert demo.seed() is None
    main = db.session.scalars(select(Eco).order_by(Eco.id)).first()
    assert (main.stage, main.target_bom.ref) == ("review", "PCA-200@B")
    page = client.get(f"/ecos/{main.id}").get_data(as_text=True)
    assert "Design review" in page and "data-blocker=" in page
    due = client.get("/ecos/activities/due").get_data(as_text=True)
    assert "Order samples" in due.split('id="overdue-table"')[1] and "Design review" in due
    assert client.get("/ecos/rules").get_data(as_text=True).count("data-rule=") == 3


def _form_token(html: str) -> str:
    return html.split('name="form_token" value="')[1].split('"')[0]


def test_a_double_submit_of_the_new_eco_form_opens_one_eco(signed_in):
    client, csrf = signed_in("engineer")
    released, draft = factory.product()
    db.session.commit()
    token = _form_token(client.get("/ecos/new").get_data(as_text=True))
    fields = {"title": "Fix it", "item_id": str(released.item_id), "target_bom_id": str(draft.id)}
    first = post(client, "/ecos/new", csrf, form_token=token, **fields)
    second = post(client, "/ecos/new", csrf, form_token=token, **fields)
    assert db.session.scalar(select(func.count()).select_from(Eco)) == 1
    eco_id = db.session.scalar(select(Eco.id))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/ecos/{eco_id}"  # to what the first made
    assert "already sent" in client.get(f"/ecos/{eco_id}").get_data(as_text=True)
    other = _form_token(client.get("/ecos/new").get_data(as_text=True))
    assert other != token
    assert post(client, "/ecos/new", csrf, form_token=other, **fields).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Eco)) == 2  # a fresh form is a new ECO


def test_a_refused_submit_keeps_its_token_usable(signed_in):
    client, csrf = signed_in("engineer")
    released, draft = factory.product()
    db.session.commit()
    token = _form_token(client.get("/ecos/new").get_data(as_text=True))
    bad = post(client, "/ecos/new", csrf, form_token=token, title="Fix it", item_id=str(released.item_id),
               target_bom_id=str(released.id))  # fmt: skip
    assert bad.status_code == 422
    fixed = post(client, "/ecos/new", csrf, form_token=token, title="Fix it", item_id=str(released.item_id),
                 target_bom_id=str(draft.id))  # fmt: skip
    assert fixed.status_code == 302 and db.session.scalar(select(func.count()).select_from(Eco)) == 1


def test_the_in_place_activity_form_gets_a_fresh_token_with_each_answer(signed_in):
    client, csrf = signed_in("engineer")
    eco = factory.eco()
    page = client.get(f"/ecos/{eco.id}").get_data(as_text=True)
    token = page.split('name="form_token" value="')[1].split('"')[0]
    assert f'value="{token}" id="activity-form-token"' in page
    headers = {**HTMX, "HX-Trigger": "activity-form"}
    first = post(client, f"/ecos/{eco.id}/activities", csrf, headers, form_token=token, name="A", stage="review")
    again = post(client, f"/ecos/{eco.id}/activities", csrf, headers, form_token=token, name="A", stage="review")
    assert "already sent" in again.get_data(as_text=True)
    renewed = first.get_data(as_text=True).split('name="form_token" value="')[1].split('"')[0]
    assert renewed != token and 'id="activity-form-token" hx-swap-oob="true"' in first.get_data(as_text=True)
    post(client, f"/ecos/{eco.id}/activities", csrf, headers, form_token=renewed, name="B", stage="review")
    assert sorted(a.name for a in db.session.get(Eco, eco.id).activities) == ["A", "B"]


def test_a_closed_eco_page_offers_no_activity_buttons_and_its_forms_are_refused(signed_in):
    client, csrf = signed_in("engineer")
    open_eco = factory.eco()
    factory.activity(open_eco, "Review")
    open_page = client.get(f"/ecos/{open_eco.id}").get_data(as_text=True)
    assert 'data-to="completed"' in open_page and "Add an activity" in open_page  # what an open ECO offers
    for stage in ("done", "canceled"):
        eco = factory.closed_eco(stage, number=f"PCA-{stage}")
        page = client.get(f"/ecos/{eco.id}").get_data(as_text=True)
        assert f'id="eco-stage">{stage}<' in page
        assert "data-to=" not in page and 'id="activity-form"' not in page and "Add an activity" not in page
        activity_id = eco.activities[0].id
        added = post(client, f"/ecos/{eco.id}/activities", csrf, HTMX, name="Late", stage="draft")
        moved = post(client, f"/ecos/activities/{activity_id}/transition", csrf, HTMX, to_status="completed")
        for answer, refused in ((added, "it takes no new activities"), (moved, "its activities no longer change")):
            assert f"{eco.number} is {stage}; {refused}" in answer.get_data(as_text=True)
        db.session.expire_all()
        assert [a.status for a in db.session.get(Eco, eco.id).activities] == ["pending", "pending"]


def _field_errors(html: str) -> dict[str, str]:
    found = re.findall(r'<span class="field-error" data-error-for="([^"]+)">([^<]*)</span>', html)
    return {field: unescape(message) for field, message in found}


def test_eco_form_errors_name_the_field_beside_it(signed_in):
    client, csrf = signed_in("engineer")
    released, _ = factory.product()
    db.session.commit()
    missing = post(client, "/ecos/new", csrf, title="Fix it")
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "item_id: Field required" not in html and "Invalid form" not in html
    assert _field_errors(html) == {"item_id": "Product is required."}
    assert 'id="form-error">Product is required.</div>' in html
    too_long = post(client, "/ecos/new", csrf, title="x" * 201, item_id="abc")
    assert _field_errors(too_long.get_data(as_text=True)) == {
        "title": "Title must be at most 200 characters.",
        "item_id": "Product must be a whole number from 1 to 2,147,483,647.",
    }
    wrong_bom = post(client, "/ecos/new", csrf, title="Fix it", item_id=released.item_id, target_bom_id=released.id)
    assert "target_bom_id" in _field_errors(wrong_bom.get_data(as_text=True))
    assert db.session.scalar(select(func.count(Eco.id))) == 0


def test_activity_form_errors_name_the_field(signed_in):
    client, csrf = signed_in("engineer")
    eco = factory.eco()
    answer = post(client, f"/ecos/{eco.id}/activities", csrf, HTMX, name="", stage="review", due_at="tomorrow")
    text = unescape(answer.get_data(as_text=True))
    assert "2 fields need a change: Name is required. Due must be a date and time (ISO 8601" in text
