"""Demo flows, seeded by `flask seed-demo` (idempotent)."""

from sqlalchemy import select

from app.extensions import db
from app.flows.models import FlowDefinition

EXAMPLE = """\
name: scrap-report
description: Scrap records from the line, filtered, weighed and totalled.
routines:
  - id: records
    type: source
    config:
      csv: |
        part,qty,reason
        P-100,4,scratch
        P-200,12,crack
        P-100,1,scratch
        P-300,30,dimension
  - id: big
    type: filter
    config: {condition: "int(qty) >= 5"}
  - id: weigh
    type: mapper
    config: {expression: "int(qty) * 0.25"}
  - id: total
    type: aggregator
  - id: report
    type: sink
connections:
  - {from: records.out, to: big.in}
  - {from: big.out, to: weigh.in}
  - {from: weigh.out, to: total.in}
  - {from: total.out, to: report.in}
"""

SLOW_CONSUMER = """\
name: slow-consumer
description: A fast source feeding a slow step through a small slot; watch its bar turn orange, then red.
routines:
  - id: readings
    type: source
    config: {items: [READINGS]}
  - id: slow
    type: delay
    config: {seconds: 0.02}
    policy: {type: batch_size, min_batch_size: 1}
    slots: {in: {max_queue_length: 40, watermark: 0.8}}
  - id: batches
    type: batcher
    config: {size: 10}
  - id: archive
    type: sink
connections:
  - {from: readings.out, to: slow.in}
  - {from: slow.out, to: batches.in}
  - {from: batches.out, to: archive.in}
""".replace("READINGS", ", ".join(str(i) for i in range(300)))

SENSOR_ROUTER = """\
name: sensor-router
description: Readings fed from outside (an entry routine), routed by value and debounced.
routines:
  - id: inlet
    type: mapper
    entry: true
    config: {expression: "float(item)"}
  - id: route
    type: router
    config:
      routes: {alarm: "item > 80", warm: "item > 50"}
  - id: alarm-debounce
    type: debouncer
    config: {seconds: 1}
  - id: alarms
    type: sink
  - id: warm
    type: sink
  - id: normal
    type: sink
    error_handler: {strategy: continue}
connections:
  - {from: inlet.out, to: route.in}
  - {from: route.alarm, to: alarm-debounce.in}
  - {from: alarm-debounce.out, to: alarms.in}
  - {from: route.warm, to: warm.in}
  - {from: route.default, to: normal.in}
"""

DEMO_FLOWS = (EXAMPLE, SLOW_CONSUMER, SENSOR_ROUTER)


def seed() -> str | None:
    from app.flows import service

    existing = set(db.session.scalars(select(FlowDefinition.name)))
    created = []
    for text in DEMO_FLOWS:
        name = text.split("\n", 1)[0].removeprefix("name: ").strip()
        if name not in existing:
            service.create_flow(text, actor="seed")
            created.append(name)
    return f"flows: {', '.join(created)}" if created else None
