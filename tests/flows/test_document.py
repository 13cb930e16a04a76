"""Flow documents: built-in types run as documented; every problem names its field and line."""

import json

import pytest
import yaml

from app.engine import RunStatus, Runtime
from app.engine.builtins import ROUTINE_TYPES, register_class
from app.flows.demo import DEMO_FLOWS, EXAMPLE, SENSOR_ROUTER
from app.flows.document import DocumentInvalid, build


def problems(text):
    with pytest.raises(DocumentInvalid) as exc:
        build(text)
    return {(e["field"], e["line"]): e["message"] for e in exc.value.errors}


def run(text, timeout=10):
    flow = build(text)
    runtime = Runtime(flow)
    assert runtime.run(timeout) is RunStatus.COMPLETED, runtime.error
    return flow, runtime


def test_the_example_runs_filter_mapper_aggregator_and_sink():
    flow, runtime = run(EXAMPLE)
    assert flow.routines["report"].last[-1] == {"count": 2, "sum": 10.5, "min": 3.0, "max": 7.5, "avg": 5.25}
    stats = runtime.routine_status()
    assert stats["big"]["items_in"] == 4 and stats["weigh"]["items_in"] == 2


def test_json_documents_are_read_as_well():
    flow, _ = run(json.dumps(yaml.safe_load(EXAMPLE)))
    assert flow.name == "scrap-report"


def test_every_demo_flow_is_sound():
    assert [build(text).name for text in DEMO_FLOWS] == ["scrap-report", "slow-consumer", "sensor-router"]


def test_router_debouncer_and_entry_routines():
    flow = build(SENSOR_ROUTER)
    runtime = Runtime(flow).start()
    runtime.feed("inlet", "in", ["10", "60", "90", "95"])
    assert runtime.wait_idle(10)
    runtime.finish()
    assert flow.routines["normal"].last == (10.0,)
    assert flow.routines["warm"].last == (60.0,)
    # both alarms came within the debounce interval: the latest always goes out, 90 only if it came alone
    assert flow.routines["alarms"].last in ((95.0,), (90.0, 95.0))


def test_batcher_policy_and_slot_limits_come_from_the_document():
    text = """
name: batches
routines:
  - {id: numbers, type: source, config: {items: [1, 2, 3, 4, 5]}}
  - {id: pack, type: batcher, config: {size: 2}, slots: {in: {max_queue_length: 50, watermark: 0.5}}}
  - {id: out, type: sink}
connections:
  - {from: numbers.out, to: pack.in}
  - {from: pack.out, to: out.in}
"""
    flow, runtime = run(text)
    assert flow.routines["out"].last == ([1, 2], [3, 4])
    assert flow.routines["pack"].policy.info()["type"] == "batch_size"
    assert runtime.queue_status()["pack"]["in"]["unconsumed_count"] == 1  # waits for a full batch
    assert runtime.queue_status()["pack"]["in"]["watermark_threshold"] == 25


def test_csv_source_gives_rows_as_dicts():
    flow, _ = run("""
name: csv
routines:
  - {id: rows, type: source, config: {csv: "a,b\\n1,2\\n3,4"}}
  - {id: out, type: sink}
connections: [{from: rows.out, to: out.in}]
""")
    assert flow.routines["out"].last == ({"a": "1", "b": "2"}, {"a": "3", "b": "4"})


def test_problems_name_field_and_line():
    text = """name: bad
routines:
  - id: a
    type: source
    config: {items: 3}
  - id: b
    type: mapperx
  - id: c
    type: mapper
    config: {expression: "1 +"}
  - {id: d, type: sink, slots: {nope: {}}}
  - {id: e, type: sink, policy: {type: batch_size}}
  - {id: f, type: filter, config: {}}
connections:
  - {from: a.out, to: d.in}
  - {from: a, to: d.in}
"""
    found = problems(text)
    assert found.keys() == {("connections[1].from", 16)}  # shape problems come first, alone
    assert "routine.event" in found[("connections[1].from", 16)]
    found = problems(text.replace("{from: a, to: d.in}", "{from: a.out, to: d.zz}"))
    assert set(found) == {
        ("routines[0].config.items", 5),
        ("routines[1].type", 7),
        ("routines[2].config.expression", 10),
        ("routines[3].slots.nope", 11),
        ("routines[4].policy.min_batch_size", 12),
        ("routines[5].config.condition", 13),
    }
    assert "unknown routine type 'mapperx'" in found[("routines[1].type", 7)]


def test_connection_and_reachability_problems():
    found = problems("""name: wires
routines:
  - {id: a, type: source, config: {items: [1]}}
  - {id: d, type: sink}
  - {id: lonely, type: sink}
  - {id: d, type: sink}
connections:
  - {from: a.out, to: d.in}
  - {from: a.out, to: d.zz}
  - {from: q.out, to: d.in}
""")
    assert found == {
        ("routines[3].id", 6): "duplicate routine id 'd'",
        ("connections[1]", 9): "routine 'd' has no slot 'zz' (it has: in)",
        ("connections[2]", 10): "unknown routine 'q'",
        ("routines[2]", 5): "unreachable: no source or entry routine leads to it",
    }


@pytest.mark.parametrize(
    "text, field",
    [
        ("[1, 2]", "(document)"),
        ("name: x\nroutines: [\n", "(document)"),
        ("name: 1x\nroutines: []", "name"),
        ("name: x\nroutines: []\nextra: 1", "extra"),
    ],
)
def test_malformed_documents(text, field):
    assert field in {f for f, _ in problems(text)}


def test_python_classes_registered_by_import_path():
    register_class("tests.engine.helpers:Doubler")
    try:
        flow, _ = run("""
name: custom
routines:
  - {id: numbers, type: source, config: {items: [1, 2]}}
  - {id: double, type: "tests.engine.helpers:Doubler"}
  - {id: out, type: sink}
connections: [{from: numbers.out, to: double.in}, {from: double.out, to: out.in}]
""")
        assert flow.routines["out"].last == (2, 4)
        with pytest.raises(TypeError):
            register_class("os:path")
    finally:
        ROUTINE_TYPES.pop("tests.engine.helpers:Doubler")


def test_expressions_cannot_reach_python_internals():
    flow = build("""
name: sneaky
routines:
  - {id: numbers, type: source, config: {items: [1]}}
  - {id: m, type: mapper, config: {expression: "item.__class__.__mro__"}}
  - {id: out, type: sink}
connections: [{from: numbers.out, to: m.in}, {from: m.out, to: out.in}]
""")
    runtime = Runtime(flow)
    assert runtime.run(5) is RunStatus.FAILED
    assert "ExpressionError" in runtime.error
