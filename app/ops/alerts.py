"""The overview's alerts: the summary's rates against the thresholds (thresholds.py), and what
Redis and the breaker rows say now (queue backlog, stuck jobs, missing workers, remote sites and
the helpdesk endpoint). Each alert links to the rows behind it: an endpoint and its arguments,
made a URL only where there is a request (link(): the API's answer; the page's template), so the
Prometheus scrape counts alerts without one. Codes and levels: docs/ops.md."""

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import url_for
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from app.breakages import helpdesk
from app.breakages.models import EndpointStatus
from app.core import breaker
from app.core.capability import queue_names
from app.core.timeutil import utcnow
from app.docsync import sites
from app.docsync.models import SiteStatus
from app.extensions import redis_client
from app.ops.summary import summary

CRITICAL, WARN = "critical", "warn"
LEVELS = (CRITICAL, WARN)  # the order alerts are listed in

Link = dict[str, Any]  # an alert's link_endpoint and link_args


def to(endpoint: str, **args: Any) -> Link:
    """An alert's link: `Alert(..., **to("queues.queue", name=name))`."""
    return {"link_endpoint": endpoint, "link_args": args}


@dataclass(frozen=True)
class Alert:
    code: str
    level: str
    message: str
    figure: float | None
    threshold: float | None
    link_endpoint: str  # the page of the rows behind it: url_for(link_endpoint, **link_args)
    link_args: dict[str, Any] = field(default_factory=dict)


def link(alert: dict[str, Any]) -> str:
    """An alert's link as a URL (in a request)."""
    return url_for(alert["link_endpoint"], **alert["link_args"])


@dataclass(frozen=True)
class RateCheck:
    """A summary rate against its threshold (fires strictly above)."""

    threshold: str  # the threshold's name, also the alert's code
    level: str
    section: tuple[str, str]  # where the rate is in summary(): section, figure
    says: str
    link: Callable[[int], Link]  # the page of the rows behind it, given the window


def _failures(area: str, **filters: str) -> Callable[[int], Link]:
    """The failure table of an area (issue 19 point 4) over the alert's window, with its filters."""
    return lambda days: to("ops.failures_page", area=area, window_days=days, **filters)


RATES = (
    RateCheck(
        "dead_letter_rate",
        CRITICAL,
        ("doc_sync", "dead_letter_rate"),
        "Doc-sync dead letters",
        _failures("doc-sync", dead_letter="true"),
    ),
    RateCheck(
        "workflow_failed_rate",
        WARN,
        ("workflow_runs", "failed_rate"),
        "Failed workflow action runs",
        _failures("workflow"),
    ),
    RateCheck(
        "breakage_open_rate",
        WARN,
        ("breakages", "open_rate"),
        "Unresolved incidents",
        lambda _days: to("breakages.index", status="open"),
    ),
    RateCheck(
        "helpdesk_failed_rate",
        CRITICAL,
        ("breakages", "helpdesk_failed_rate"),
        "Failed helpdesk sends",
        _failures("helpdesk"),
    ),
)


def _pct(value: float) -> str:
    return f"{value * 100:.4g} %"


def rate_alerts(figures: dict[str, Any], values: dict[str, float]) -> Iterator[Alert]:
    for check in RATES:
        section, figure = check.section
        rate = figures[section][figure]
        limit = values[check.threshold]
        if rate is not None and rate > limit:
            yield Alert(
                check.threshold,
                check.level,
                f"{check.says}: {_pct(rate)} of the last {figures['window']['days']} d, above {_pct(limit)}.",
                rate,
                limit,
                **check.link(figures["window"]["days"]),
            )
    # added by the overlay capability's figures; read so that it works with and without them
    cache = figures.get("overlay_cache") or {}
    rate, limit = cache.get("hit_rate"), values["overlay_cache_hit_rate"]
    if rate is not None and cache.get("requests", 0) >= values["overlay_cache_min_requests"] and rate < limit:
        yield Alert(
            "overlay_cache_hit_rate",
            WARN,
            f"Overlay cache hit rate {_pct(rate)} over {cache['requests']} lookups, below {_pct(limit)}.",
            rate,
            limit,
            **to("ops.index", window_days=figures["window"]["days"], _anchor="card-overlay-cache"),
        )


def _age_seconds(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return (now - (moment if moment.tzinfo else moment.replace(tzinfo=UTC))).total_seconds()


def queue_alerts(values: dict[str, float], now: datetime) -> Iterator[Alert]:
    """From Redis: the oldest job waiting in each queue, jobs running past their own timeout,
    and workers whose heartbeat is older than worker_heartbeat_seconds."""
    connection = redis_client()
    backlog = values["queue_backlog_minutes"]
    for name in queue_names():
        queue = Queue(name, connection=connection)
        oldest = next(
            iter(Job.fetch_many(queue.get_job_ids(0, 1), connection=connection)), None
        )  # the head waits longest
        age = _age_seconds(oldest.enqueued_at if oldest else None, now)
        if age is not None and age / 60 > backlog:
            yield Alert(
                "queue_backlog",
                WARN,
                f"Queue {name}: its oldest job has waited {age / 60:.1f} min ({queue.count} waiting), "
                f"above {backlog:g} min.",
                round(age / 60, 2),
                backlog,
                **to("queues.queue", name=name),
            )
        started = StartedJobRegistry(queue=queue).get_job_ids(
            cleanup=False
        )  # a cleanup would fail abandoned jobs: a write
        for job in filter(None, Job.fetch_many(started, connection=connection)):
            running = _age_seconds(job.started_at, now)
            if running is not None and job.timeout and job.timeout > 0 and running > job.timeout:
                yield Alert(
                    "job_stuck",
                    CRITICAL,
                    f"Job {job.id[:8]} ({job.description}) on {name} has run {running:.0f} s, "
                    f"past its timeout of {job.timeout} s.",
                    round(running, 1),
                    float(job.timeout),
                    **to("queues.job", job_id=job.id),
                )
    silence = values["worker_heartbeat_seconds"]
    for worker in sorted(Worker.all(connection=connection), key=lambda w: w.name):
        age = _age_seconds(worker.last_heartbeat, now)
        if age is not None and age > silence:
            yield Alert(
                "worker_missing",
                CRITICAL,
                f"Worker {worker.name} has not sent a heartbeat for {age:.0f} s, above {silence:g} s.",
                round(age, 1),
                silence,
                **to("queues.worker", name=worker.name),
            )


def endpoint_alerts() -> Iterator[Alert]:
    """Enabled remote sites and the helpdesk endpoint: a breaker open (by failures or by hand),
    else the last health probe finding it down."""
    for site in sites.all_sites():
        if not site.enabled:
            continue
        if breaker.is_open(site):
            why = breaker.why_open(site, f"Site {site.name}")
            yield Alert("site_breaker_open", CRITICAL, why, site.failures, None, **to("docsync.site", site_id=site.id))
        elif site.status == SiteStatus.down:
            yield Alert(
                "site_down",
                CRITICAL,
                f"Site {site.name} is down: {site.status_detail or 'its health probe failed'}.",
                site.failures,
                None,
                **to("ops.failures_page", area="doc-sync", site=site.name),
            )
    endpoint = helpdesk.configured()
    if endpoint is None:
        return
    page = to("breakages.helpdesk_page")
    if breaker.is_open(endpoint):
        why = breaker.why_open(endpoint, "The helpdesk")
        yield Alert("helpdesk_breaker_open", CRITICAL, why, endpoint.failures, None, **page)
    elif endpoint.status == EndpointStatus.down:
        detail = endpoint.status_detail or "its health probe failed"
        yield Alert("helpdesk_down", CRITICAL, f"The helpdesk is down: {detail}.", endpoint.failures, None, **page)


def alerts(
    window_days: int, values: dict[str, float], level: str | None = None, figures: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every alert firing now, critical first; `values` are the thresholds in force
    (thresholds.effective()), `level` keeps one level only; `figures` is the window's summary when
    the caller has it already."""
    now = utcnow()
    found = [*rate_alerts(figures or summary(window_days, now), values), *endpoint_alerts()]
    try:
        found += queue_alerts(values, now)
    except RedisError as exc:
        found.append(
            Alert("redis_unavailable", CRITICAL, f"Redis does not answer: {exc}", None, None, **to("queues.index"))
        )
    ranked = sorted(found, key=lambda a: LEVELS.index(a.level))  # stable: each level keeps the checks' order
    return [asdict(a) for a in ranked if level in (None, a.level)]
