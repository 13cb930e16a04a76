"""CSV and Markdown of the incident list (its filters, every page) and of the figures."""

from collections.abc import Iterator
from typing import Any

from app.breakages import service
from app.core.textrows import to_csv, to_markdown
from app.extensions import db

MAX_ROWS = 100_000
LIST_COLUMNS = (
    "code",
    "status",
    "severity",
    "responsibility",
    "product",
    "component",
    "batch_code",
    "production_order",
    "customer",
    "occurred_at",
    "description",
    "helpdesk_status",
    "ticket_id",
)


def _row(incident) -> list[str]:
    values = {
        "product": incident.item.number,
        "component": incident.component.number if incident.component else "",
        "occurred_at": incident.occurred_at.isoformat(),
        "ticket_id": incident.ticket_id or "",
    }
    return [str(values[c]) if c in values else str(getattr(incident, c) or "") for c in LIST_COLUMNS]


def incident_rows(filters: service.Filters) -> Iterator[list[str]]:
    for incident in db.session.scalars(service.filtered(filters).limit(MAX_ROWS)):
        yield _row(incident)


def metrics_rows(figures: dict[str, Any]) -> list[list[str]]:
    """The figures as (section, key, value...) rows: one shape for CSV and Markdown."""
    w, repeat, mttr = figures["window"], figures["repeat"], figures["mttr"]
    rows = [
        ["window", "days", str(w["days"])],
        ["window", "start", w["start"].isoformat()],
        ["window", "end", w["end"].isoformat()],
        ["repeat", "incidents", str(repeat["incidents"])],
        ["repeat", "repeats", str(repeat["repeats"])],
        ["repeat", "rate", str(repeat["rate"])],
        ["mttr", "resolved", str(mttr["resolved"])],
        ["mttr", "hours", "" if mttr["hours"] is None else str(mttr["hours"])],
    ]
    for group, values in figures["counts"].items():
        rows += [[f"count_by_{group}", key, str(n)] for key, n in values.items()]
    for h in figures["hotspots"]:
        rows.append(["hotspot", h["number"], str(h["count"]), str(h["share"]), str(h["score"])])
    for p in figures["pareto"]:
        rows.append(["pareto", p["number"], str(p["count"]), str(p["cumulative_share"])])
    rows += [["week", t["week"], str(t["incidents"]), str(t["severe"])] for t in figures["trend"]]
    return rows


METRICS_HEADER = ["section", "key", "value", "share_or_cumulative", "score"]


def render(kind: str, export_format: str, rows) -> tuple[str, str, str]:
    """(body, mimetype, filename) of an export."""
    header = list(LIST_COLUMNS) if kind == "incidents" else METRICS_HEADER
    if export_format == "md":
        return to_markdown(header, rows), "text/markdown; charset=utf-8", f"breakage-{kind}.md"
    return to_csv(header, rows), "text/csv; charset=utf-8", f"breakage-{kind}.csv"
