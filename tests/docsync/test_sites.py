"""Remote sites: URL checks, the encrypted token that is never shown, the health
probe against a real HTTP site, and the circuit breaker."""

import pytest
from flask import current_app

from app.core.audit.models import AuditEntry
from app.core.errors import InvalidInput
from app.docsync import sites
from app.docsync.models import RemoteSite
from app.extensions import db
from tests.conftest import free_port
from tests.httprecorder import recording

API = "/api/v1/doc-sync/sites"
TOKEN = "fl_plant-b-secret-token-value"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://b.example",
        "http://",
        "https://user:pw@b.example",
        "javascript:alert(1)",
        "http://b.example/?x=1",
        "http://b.example#top",
        "http://b.example:99999",
        "b.example",
    ],
)
def test_base_urls_are_validated(app, url):
    with pytest.raises(InvalidInput):
        sites.check_base_url(url)


def test_base_url_is_normalised_and_limited_to_the_allow_list(app):
    assert sites.check_base_url(" HTTPS://B.Example:8443/forgeline/ ") == "https://b.example:8443/forgeline"
    current_app.config["DOCSYNC_ALLOWED_HOSTS"] = ["b.example"]
    assert sites.check_base_url("http://b.example") == "http://b.example"
    with pytest.raises(InvalidInput) as refused:
        sites.check_base_url("http://c.example")
    assert refused.value.details["allowed"] == ["b.example"]


def test_token_is_encrypted_and_never_returned_or_shown(app, client, bearer, signed_in):
    operator = bearer("operator")
    created = client.post(
        API, json={"name": "plant-b", "base_url": "http://127.0.0.1:9", "token": TOKEN}, headers=operator
    )
    assert created.status_code == 201 and created.json["has_token"] is True
    site_id = created.json["id"]
    stored = db.session.get(RemoteSite, site_id).token_encrypted
    assert TOKEN not in stored and sites.client(db.session.get(RemoteSite, site_id)).token == TOKEN
    rotated = client.put(f"{API}/{site_id}/token", json={"token": TOKEN + "-2"}, headers=operator)
    assert rotated.status_code == 200
    db.session.expire_all()
    assert sites.client(db.session.get(RemoteSite, site_id)).token == TOKEN + "-2"

    browser, _ = signed_in("operator", "op-browser")
    seen = [
        client.get(API, headers=operator).get_data(as_text=True),
        client.get(f"{API}/{site_id}", headers=operator).get_data(as_text=True),
        browser.get(f"/doc-sync/sites/{site_id}").get_data(as_text=True),
        browser.get("/doc-sync/sites").get_data(as_text=True),
        str([(e.before, e.after) for e in db.session.query(AuditEntry)]),
    ]
    for text in seen:
        assert TOKEN not in text and "token_encrypted" not in text
    actions = [e.action for e in db.session.query(AuditEntry).filter_by(entity="remote_site")]
    assert actions == ["create", "rotate_token"]


def test_site_api_roles_and_bad_input(app, client, bearer):
    assert client.get(API, headers=bearer("engineer")).status_code == 403
    operator = bearer("operator")
    bad = client.post(API, json={"name": "x", "base_url": "http://u:p@b.example"}, headers=operator)
    assert bad.status_code == 422 and bad.json["error"]["details"]["field"] == "base_url"
    short = client.post(API, json={"name": "x", "base_url": "http://b.example", "token": "short"}, headers=operator)
    assert short.status_code == 422
    assert db.session.query(RemoteSite).count() == 0
    client.post(API, json={"name": "b", "base_url": "http://b.example"}, headers=operator)
    assert client.post(API, json={"name": "b", "base_url": "http://b.example"}, headers=operator).status_code == 409


def test_health_probe_records_status_latency_and_a_refused_token(app, client, bearer, remote):
    operator = bearer("operator")
    site_id = client.post(
        API, json={"name": "plant-b", "base_url": remote.url, "token": remote.token}, headers=operator
    ).json["id"]
    up = client.post(f"{API}/{site_id}/health", headers=operator).json
    assert up["status"] == "up" and up["latency_ms"] > 0 and up["checked_at"]

    client.put(f"{API}/{site_id}/token", json={"token": "fl_wrong-token-value"}, headers=operator)
    refused = client.post(f"{API}/{site_id}/health", headers=operator).json
    assert refused["status"] == "unauthorized" and "401" in refused["status_detail"]
    assert refused["breaker"]["failures"] == 0  # the site answers; only the token is wrong


@pytest.mark.config(DOCSYNC_BREAKER_THRESHOLD=2, DOCSYNC_HEALTH_TIMEOUT=1)
def test_breaker_opens_after_failures_and_a_good_probe_closes_it(app, client, bearer, signed_in, remote):
    operator = bearer("operator")
    site_id = client.post(
        API,
        json={"name": "dead", "base_url": f"http://127.0.0.1:{free_port()}", "token": remote.token},
        headers=operator,
    ).json["id"]
    first = client.post(f"{API}/{site_id}/health", headers=operator).json
    assert first["status"] == "down" and first["breaker"] == {"open": False, "failures": 1, "open_until": None}
    second = client.post(f"{API}/{site_id}/health", headers=operator).json
    assert second["breaker"]["open"] is True and second["breaker"]["failures"] == 2

    browser, _ = signed_in("operator", "op-browser")  # signs `client` in: it now carries a session cookie
    assert "open</span> until" in browser.get(f"/doc-sync/sites/{site_id}").get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'remote_site_up{site="dead"} 0.0' in metrics

    api = app.test_client()  # a token client sends no session cookie (with one, it would need a CSRF token)
    moved = api.patch(f"{API}/{site_id}", json={"base_url": remote.url}, headers=operator).json
    assert moved["has_token"] is False and moved["status"] == "no_token"  # a new URL needs its token again
    api.put(f"{API}/{site_id}/token", json={"token": remote.token}, headers=operator)
    closed = api.post(f"{API}/{site_id}/health", headers=operator).json
    assert closed["status"] == "up" and closed["breaker"] == {"open": False, "failures": 0, "open_until": None}
    assert 'remote_site_up{site="dead"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_site_pages_add_a_site_and_check_its_health(app, signed_in, remote):
    browser, csrf = signed_in("operator")
    assert "No remote sites yet" in browser.get("/doc-sync/sites").get_data(as_text=True)
    added = browser.post(
        "/doc-sync/sites", data={"name": "plant-b", "base_url": remote.url, "token": remote.token, "csrf_token": csrf}
    )
    assert added.status_code == 302
    page = browser.post(added.location + "/health", data={"csrf_token": csrf}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "plant-b is up" in text and remote.token not in text
    wrong = browser.post(
        added.location + "/token", data={"token": "fl_not-the-token", "csrf_token": csrf}, follow_redirects=True
    )
    assert "Token saved" in wrong.get_data(as_text=True)
    text = browser.post(added.location + "/health", data={"csrf_token": csrf}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "plant-b is unauthorized" in text and "401 from" in text


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://10.0.0.5", "http://[::1]:8080", "http://0.0.0.0"])
def test_base_url_refuses_link_local_loopback_and_private_addresses(app, client, bearer, url):
    with pytest.raises(InvalidInput) as refused:
        sites.check_base_url(url)
    assert refused.value.details["field"] == "base_url" and "OUTBOUND_ALLOWED_HOSTS" in refused.value.message
    answer = client.post(API, json={"name": "meta", "base_url": url, "token": TOKEN}, headers=bearer("operator"))
    assert answer.status_code == 422 and answer.json["error"]["details"]["field"] == "base_url"


@pytest.mark.config(OUTBOUND_ALLOWED_HOSTS=[])
def test_loopback_is_refused_by_default_and_allowed_by_docsync_allowed_hosts(app, client, bearer):
    with pytest.raises(InvalidInput):
        sites.check_base_url("http://127.0.0.1:8000")
    with recording() as server:
        # a name passes when saved (DNS is not asked then); every call resolves and checks it
        site = sites.create("by-name", f"http://localhost:{server.port}", TOKEN)
        db.session.commit()
        probed = client.post(f"{API}/{site.id}/health", headers=bearer("operator")).json
        assert probed["status"] == "refused" and "loopback" in probed["status_detail"]
        assert probed["breaker"]["failures"] == 0 and server.seen == []  # nothing sent, no token leaked

        current_app.config["DOCSYNC_ALLOWED_HOSTS"] = ["127.0.0.1", "localhost"]
        assert sites.check_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
        assert sites.probe(sites.get(site.id)).status == "up"
    assert server.authorizations() == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]


def test_changing_the_base_url_drops_the_token(app, client, bearer):
    operator = bearer("operator")
    with recording() as old, recording() as new:
        site_id = client.post(
            API, json={"name": "plant-b", "base_url": old.url, "token": TOKEN}, headers=operator
        ).json["id"]
        assert client.post(f"{API}/{site_id}/health", headers=operator).json["status"] == "up"
        assert set(old.authorizations()) == {f"Bearer {TOKEN}"}
        same = client.patch(f"{API}/{site_id}", json={"base_url": old.url + "/"}, headers=operator).json
        assert same["has_token"] is True  # the same URL, normalised: nothing changes

        moved = client.patch(f"{API}/{site_id}", json={"base_url": new.url}, headers=operator).json
        assert moved["base_url"] == new.url and moved["has_token"] is False and moved["token_set_at"] is None
        assert moved["status"] == "no_token" and "set a token" in moved["status_detail"]
        entry = db.session.query(AuditEntry).filter_by(entity="remote_site", action="update").all()[-1]
        assert entry.before["has_token"] is True and entry.after == {**entry.after, "has_token": False}
        assert entry.after["token_dropped"] is True and entry.after["base_url"] == new.url

        probed = client.post(f"{API}/{site_id}/health", headers=operator).json
        assert probed["status"] == "no_token" and "set a token" in probed["status_detail"]
        assert [(s.path, s.headers.get("Authorization")) for s in new.seen] == [("/health", None)]
        job = client.post(
            "/api/v1/doc-sync/jobs",
            json={"site_id": site_id, "direction": "push", "idempotency_key": "k"},
            headers=operator,
        )
        assert job.status_code == 409 and job.json["error"]["code"] == "no_token"

        client.put(f"{API}/{site_id}/token", json={"token": TOKEN + "-new"}, headers=operator)
        assert client.post(f"{API}/{site_id}/health", headers=operator).json["status"] == "up"
        assert new.authorizations()[1:] == [f"Bearer {TOKEN}-new"] * 2  # /health and the token check
        assert TOKEN not in str(new.authorizations()[:1]) and len(old.seen) == 2  # the old one heard no more


def test_site_page_changes_the_url_and_says_the_token_was_dropped(app, signed_in):
    browser, csrf = signed_in("operator")
    site = sites.create("plant-b", "http://127.0.0.1:9", TOKEN)
    db.session.commit()
    page = browser.post(
        f"/doc-sync/sites/{site.id}/url",
        data={"base_url": "http://127.0.0.1:10", "csrf_token": csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "the token was dropped" in page and "Set the API token" in page and "no_token" in page
    db.session.expire_all()
    assert sites.get(site.id).base_url == "http://127.0.0.1:10" and not sites.get(site.id).has_token
    refused = browser.post(
        f"/doc-sync/sites/{site.id}/url",
        data={"base_url": "http://169.254.169.254", "csrf_token": csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "link-local" in refused
    db.session.expire_all()
    assert sites.get(site.id).base_url == "http://127.0.0.1:10"


def test_a_site_that_redirects_elsewhere_is_refused_and_its_token_stays_home(app, client, bearer):
    operator = bearer("operator")
    with recording() as elsewhere, recording(redirect_to=elsewhere.url) as site:
        site_id = client.post(API, json={"name": "moved", "base_url": site.url, "token": TOKEN}, headers=operator).json[
            "id"
        ]
        probed = client.post(f"{API}/{site_id}/health", headers=operator).json
        assert elsewhere.seen == []
    assert probed["status"] == "refused" and "do not follow redirects" in probed["status_detail"]
    assert elsewhere.url in probed["status_detail"] and probed["breaker"]["failures"] == 0
