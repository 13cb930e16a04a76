"""Demo plans on the items demo: a weekly template for PCA-200 with an active version and a
draft one to preview, a monthly plan for PANEL-350, and actuals from every source (some in
other units), a few through the MES inbox."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.consumption import inbox, service, variance
from app.consumption.models import ConsumptionPlan
from app.core.timeutil import utcnow
from app.extensions import db
from app.items import service as items


def seed() -> str | None:
    if db.session.scalar(select(ConsumptionPlan.id).limit(1)) is not None:
        return None
    try:
        pca = items.item_by_number("PCA-200")
        panel = items.item_by_number("PANEL-350")
    except Exception:  # noqa: BLE001 - no items demo, no consumption demo
        return None
    now = utcnow()
    monday = variance.floor(now, "week")
    week = {"item_id": pca.id, "period_unit": "day", "period_start": monday, "period_end": monday + timedelta(days=7)}
    active = service.create_plan({**week, "planned_quantity": "700", "unit": "ea", "template_key": "weekly-PCA-200"})
    service.activate_plan(active.id)
    service.create_plan(
        {
            **week,
            "planned_quantity": "840",
            "unit": "ea",
            "template_key": "weekly-PCA-200",
            "note": "+20 % for the trade fair",
        }
    )
    month_start = variance.floor(now, "month")
    sheet = service.create_plan(
        {
            "item_id": panel.id,
            "period_unit": "week",
            "period_start": month_start,
            "period_end": variance.step(month_start, "month"),
            "planned_quantity": "1.2",
            "unit": "t",
        }
    )
    service.activate_plan(sheet.id)
    sources = ("workorder", "scrap", "rework", "manual")
    for day in range(max(1, (now - monday).days + 1)):
        at = monday + timedelta(days=day, hours=10)
        service.create_record(
            {"plan_id": active.id, "quantity": "96", "unit": "ea", "recorded_at": at, "source_type": sources[day % 4]}
        )
        service.create_record(
            {
                "plan_id": active.id,
                "quantity": "1",
                "unit": "dozen",
                "recorded_at": at + timedelta(hours=3),
                "source_type": "scrap",
            }
        )
    for day in range(0, max(1, (now - month_start).days + 1), 3):
        at = month_start + timedelta(days=day, hours=8)
        service.create_record(
            {
                "plan_id": sheet.id,
                "quantity": str(Decimal(110 + day)),
                "unit": "kg",
                "recorded_at": at,
                "source_type": "workorder",
            }
        )
    inbox.ingest(
        [
            {
                "event_id": f"demo-mes-{n}",
                "plan_id": active.id,
                "quantity": "4",
                "unit": "pcs",
                "recorded_at": (now - timedelta(minutes=n)).isoformat(),
            }
            for n in range(1, 6)
        ],
        actor="demo",
    )
    return (
        "consumption: template weekly-PCA-200 (v1 active, v2 draft to preview), a monthly PANEL-350 plan in t, "
        "actuals and 5 MES events; see /consumption/"
    )
