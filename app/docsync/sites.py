"""Remote sites: URL checks, the encrypted token, the health probe and the
circuit breaker that stops a job from hammering a site that does not answer."""

from flask import current_app
from sqlalchemy import select

from app.core import audit, breaker, metrics, outbound, secrets
from app.core.errors import Conflict, InvalidInput
from app.core.records import get_or_404
from app.core.timeutil import utcnow
from app.docsync.models import RemoteSite, SiteStatus
from app.docsync.remote import Refused, RemoteClient, Unauthorized, Unreachable
from app.extensions import db

MIN_TOKEN_LENGTH = 8


def rules() -> outbound.Policy:
    """The outbound rules for remote sites: hosts on DOCSYNC_ALLOWED_HOSTS are named explicitly, so
    they may be private or loopback too."""
    return outbound.policy(current_app.config["DOCSYNC_ALLOWED_HOSTS"])


def check_base_url(url: str) -> str:
    """http(s), a host, no credentials, query or fragment; the host on DOCSYNC_ALLOWED_HOSTS when it is set."""
    return outbound.check_base_url(url, current_app.config["DOCSYNC_ALLOWED_HOSTS"], rules(), "DOCSYNC_ALLOWED_HOSTS")


def _snapshot(site: RemoteSite) -> dict:
    return {"name": site.name, "base_url": site.base_url, "enabled": site.enabled, "has_token": site.has_token}


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("A site name of 1 to 80 characters is required.", {"field": "name"})
    return name


def _set_token_value(site: RemoteSite, token: str) -> None:
    token = (token or "").strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise InvalidInput(f"A token has at least {MIN_TOKEN_LENGTH} characters.", {"field": "token"})
    site.token_encrypted = secrets.encrypt(token)
    site.token_set_at = utcnow()


def create(name: str, base_url: str, token: str | None = None, enabled: bool = True) -> RemoteSite:
    name = _check_name(name)
    if db.session.scalar(select(RemoteSite).where(RemoteSite.name == name)):
        raise Conflict(f"A site named {name!r} exists already.", {"field": "name"})
    site = RemoteSite(name=name, base_url=check_base_url(base_url), enabled=enabled, created_at=utcnow())
    if token:
        _set_token_value(site, token)
    db.session.add(site)
    db.session.flush()
    audit.record("remote_site", site.id, "create", after=_snapshot(site))
    return site


NO_TOKEN = "no token set: the site answers; set a token before syncing"
TOKEN_DROPPED = "base URL changed: the token was dropped; set a token for the new URL"


def update(site: RemoteSite, base_url: str | None = None, enabled: bool | None = None) -> RemoteSite:
    """A changed base URL drops the token: it was given for the old host, and is never sent to another."""
    before = _snapshot(site)
    if base_url is not None and (url := check_base_url(base_url)) != site.base_url:
        site.base_url = url
        if site.has_token:
            site.token_encrypted, site.token_set_at = None, None
            site.status, site.status_detail = SiteStatus.no_token, TOKEN_DROPPED
    if enabled is not None:
        site.enabled = enabled
    after = _snapshot(site)
    if before["has_token"] and not after["has_token"]:
        after["token_dropped"] = True
    audit.record("remote_site", site.id, "update", before=before, after=after)
    return site


def set_token(site: RemoteSite, token: str) -> RemoteSite:
    """Set or rotate the token; the audit says that it changed, never what it is."""
    rotated = site.has_token
    _set_token_value(site, token)
    site.status, site.status_detail = SiteStatus.unknown, "token changed; check health"
    audit.record(
        "remote_site",
        site.id,
        "rotate_token" if rotated else "set_token",
        after={"token_set_at": site.token_set_at.isoformat()},
    )
    return site


def get(site_id: int) -> RemoteSite:
    return get_or_404(RemoteSite, site_id, "remote site")


def all_sites() -> list[RemoteSite]:
    return list(db.session.scalars(select(RemoteSite).order_by(RemoteSite.name)))


@metrics.scrape_gauge("remote_site_up", "1 when the remote site's last health probe found it up", ("site",))
def sites_up() -> list[tuple[str, float]]:
    return [(site.name, 1.0 if site.status == SiteStatus.up else 0.0) for site in all_sites()]  # one per site: bounded


def client(site: RemoteSite) -> RemoteClient:
    config = current_app.config
    token = secrets.decrypt(site.token_encrypted) if site.token_encrypted else None
    return RemoteClient(
        site.base_url,
        token,
        timeout=config["DOCSYNC_HTTP_TIMEOUT"],
        retry_delays=tuple(config["DOCSYNC_RETRY_DELAYS"]),
        rules=rules(),
    )


def require_token(site: RemoteSite) -> None:
    """A site is used (sync, preview) only with a token."""
    if not site.has_token:
        raise Conflict(
            f"Site {site.name} has no token; set one first.", {"site": site.name, "field": "token"}, code="no_token"
        )


def breaker_open(site: RemoteSite) -> bool:
    return breaker.is_open(site)


def check_breaker(site: RemoteSite) -> None:
    breaker.check(site, f"Site {site.name}", {"site": site.name})


def switch_breaker(site_id: int, open_: bool, reason: str = "") -> RemoteSite:
    """An admin opens (and holds) or closes the site's breaker by hand (an ops switch)."""
    site = get(site_id)
    return breaker.switch(site, "remote_site", f"Site {site.name}", open_, reason)


def record_failure(site: RemoteSite, detail: str) -> None:
    """A call to the site failed (after its retries): count it; enough in a row open the breaker."""
    site.status, site.status_detail, site.checked_at = SiteStatus.down, detail[:300], utcnow()
    config = current_app.config
    breaker.failed(site, config["DOCSYNC_BREAKER_THRESHOLD"], config["DOCSYNC_BREAKER_COOLDOWN"])


def record_success(site: RemoteSite) -> None:
    breaker.succeeded(site)


def probe(site: RemoteSite) -> RemoteSite:
    """GET the site's /health with a short timeout, then try the token; record status and latency.

    A probe is also the half-open step of the breaker: a site that answers closes it.
    """
    remote = client(site)
    timeout = current_app.config["DOCSYNC_HEALTH_TIMEOUT"]
    before = {"status": site.status}
    try:
        status, seconds = remote.health(timeout)
        site.latency_ms = round(seconds * 1000, 1)
        if status != 200:
            raise Unreachable(f"/health answered {status}", status)
        if not site.has_token:  # it answers; nothing to try the sync routes with
            site.status, site.status_detail = SiteStatus.no_token, NO_TOKEN
        else:
            remote.check_token(timeout)
            site.status, site.status_detail = SiteStatus.up, None
        record_success(site)
    except Unauthorized as exc:
        record_success(site)  # it answers; the token is the problem
        site.status, site.status_detail = SiteStatus.unauthorized, str(exc)[:300]
    except Refused as exc:  # nothing was sent to a refused host: not a failure of the site
        site.status, site.status_detail, site.latency_ms = SiteStatus.refused, str(exc)[:300], None
    except Unreachable as exc:
        record_failure(site, str(exc))
    site.checked_at = utcnow()
    audit.record(
        "remote_site",
        site.id,
        "health",
        before=before,
        after={"status": site.status, "latency_ms": site.latency_ms, "detail": site.status_detail},
    )
    return site
