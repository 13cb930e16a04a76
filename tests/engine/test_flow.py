import pytest

from app.engine import Flow, FlowInvalid, Routine
from tests.engine.helpers import Collector, Doubler, ListSource


def fields(exc):
    return {(e["field"], e["message"].split(" (")[0]) for e in exc.value.errors}


def test_a_sound_flow_validates_and_wires_events_to_slots():
    flow = Flow("f")
    source = flow.add(ListSource("source", {"items": []}))
    flow.add(Collector("sink"))
    flow.connect("source", "out", "sink", "in")
    assert flow.validate() is flow
    assert [s.qualified_name for s in source.events["out"].targets] == ["sink.in"]


def test_unknown_routine_slot_and_event_are_named():
    flow = Flow("f")
    flow.add(ListSource("source", {"items": []}))
    flow.add(Collector("sink"))
    flow.connect("source", "oops", "sink", "in", field="connections[0]")
    flow.connect("source", "out", "sink", "nope", field="connections[1]")
    flow.connect("ghost", "out", "sink", "in", field="connections[2]")
    with pytest.raises(FlowInvalid) as exc:
        flow.validate()
    assert fields(exc) == {
        ("connections[0]", "routine 'source' has no event 'oops'"),
        ("connections[1]", "routine 'sink' has no slot 'nope'"),
        ("connections[2]", "unknown routine 'ghost'"),
        ("routines.sink", "unreachable: no source or entry routine leads to it"),
    }


def test_duplicate_ids_and_unreachable_routines_are_reported():
    flow = Flow("f")
    flow.add(ListSource("a", {"items": []}))
    flow.add(Collector("a"), field="routines[1]")
    flow.add(Doubler("island"))
    with pytest.raises(FlowInvalid) as exc:
        flow.validate()
    assert fields(exc) == {
        ("routines[1]", "duplicate routine id 'a'"),
        ("routines.island", "unreachable: no source or entry routine leads to it"),
    }


def test_entry_routines_count_as_reachable():
    flow = Flow("f")
    flow.add(Doubler("entry"), entry=True)
    flow.add(Collector("sink"))
    flow.connect("entry", "out", "sink", "in")
    flow.validate()


def test_empty_flow_is_invalid():
    with pytest.raises(FlowInvalid, match="at least one routine"):
        Flow("f").validate()


def test_routine_info_lists_policy_slots_and_events():
    routine = Routine("r")
    routine.add_slot("in", 50, 0.5)
    routine.add_event("out")
    info = routine.info()
    assert info["policy"]["type"] == "immediate"
    assert info["slots"] == [{"name": "in", "max_queue_length": 50, "watermark": 0.5}]
    assert info["error_handler"] == {"strategy": "stop"}
