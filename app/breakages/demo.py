"""Demo incidents on the items demo: repeats of one capacitor on the controller board (so the
metrics page shows a hotspot and a repeat rate), a resolved one ready for its ECO, a closed one,
and a few spread over the last weeks for the trend."""

from datetime import timedelta

from sqlalchemy import select

from app.breakages import service
from app.breakages.models import Incident
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.extensions import db
from app.items import service as items

# (days ago, component, severity, responsibility, description, moves)
INCIDENTS = [
    (70, "C-10U", "high", "supplier", "Board browns out under load; C1 bulged", ()),
    (52, "C-10U", "high", "supplier", "Brown-out at power-up, capacitor C1 swollen", ()),
    (40, "FAN-70", "medium", "manufacturing", "Fan rattles after 200 h", ("investigating",)),
    (31, "C-10U", "critical", "supplier", "Controller dead on arrival, C2 short", ("investigating", "resolved")),
    (20, "SCREW-M3", "low", "logistics", "Loose screw in the box", ("investigating", "resolved", "closed")),
    (12, "C-10U", "high", "supplier", "Random resets, C1 ESR out of spec", ()),
    (5, None, "medium", "unknown", "Display flickers in cold rooms", ()),
    (2, "R-10K", "low", "design", "Pull-up too weak for long cables", ()),
]
EIGHT_D = {
    "root_cause": "Capacitor lot with high ESR from the second source",
    "corrective_action": "Low-ESR 10 µF parts, incoming inspection of the lot",
    "immediate_action": "Quarantined the lot",
}


def seed() -> str | None:
    if db.session.scalar(select(Incident.id).limit(1)) is not None:
        return None
    try:
        product = items.item_by_number("PCA-200")
    except DomainError:  # no items demo, no breakages demo
        return None
    bom = items.effective_bom(product)
    now = utcnow()
    for days, component, severity, responsibility, description, moves in INCIDENTS:
        part = items.item_by_number(component).id if component else None
        incident = service.create_incident(
            {
                "item_id": product.id,
                "bom_id": bom.id if bom is not None and part in {line.child_id for line in bom.lines} else None,
                "component_id": part,
                "severity": severity,
                "responsibility": responsibility,
                "description": description,
                "occurred_at": now - timedelta(days=days),
                "batch_code": f"LOT-{2400 + days}",
                "customer": "Acme Field Service",
                **(EIGHT_D if "resolved" in moves else {}),
            }
        )
        for to_status in moves:
            service.move(
                incident.id,
                to_status,
                "demo",
                verification_note="No recurrence in 30 days" if to_status == "closed" else "",
            )
    return f"breakages: {len(INCIDENTS)} incidents on PCA-200 (C-10U repeats); see /breakages/ and /breakages/metrics"
