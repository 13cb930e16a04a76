"""Breakage metrics for Prometheus (docs/metrics.md): the counter of incidents recorded, and
scrape-time gauges read from the database. Every label is an enum (severity, status): bounded."""

from prometheus_client import Counter
from sqlalchemy import func, select

from app.breakages.models import UNRESOLVED, HelpdeskStatus, Incident, Severity
from app.core.metrics import scrape_gauge
from app.extensions import db

INCIDENTS = Counter("breakage_incidents", "Breakage incidents recorded, by severity", ["severity"])


@scrape_gauge("breakage_open_incidents", "Breakage incidents not yet resolved (open or investigating)", ("severity",))
def open_incidents():
    counts = dict(
        db.session.execute(
            select(Incident.severity, func.count()).where(Incident.status.in_(UNRESOLVED)).group_by(Incident.severity)
        ).all()
    )
    return [(severity.value, float(counts.get(severity, 0))) for severity in Severity]


@scrape_gauge("breakage_helpdesk_sends", "Breakage incidents by helpdesk hand-over status", ("status",))
def helpdesk_sends():
    counts = dict(
        db.session.execute(select(Incident.helpdesk_status, func.count()).group_by(Incident.helpdesk_status)).all()
    )
    return [(status.value, float(counts.get(status, 0))) for status in HelpdeskStatus]
