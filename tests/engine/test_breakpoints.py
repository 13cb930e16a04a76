import pytest

from app.engine import Flow, RunStatus, Runtime
from app.engine.breakpoints import Breakpoint
from app.engine.expressions import ExpressionError
from tests.engine.helpers import Collector, Doubler, pipeline


def entry_pipeline():
    flow = Flow("bp")
    flow.add(Doubler("double"), entry=True)
    sink = flow.add(Collector("sink"))
    flow.connect("double", "out", "sink", "in")
    return flow, sink


def test_routine_breakpoint_with_condition_holds_the_activation_until_resume():
    flow, sink = entry_pipeline()
    events = []
    runtime = Runtime(flow, on_event=lambda t, d: events.append((t, d))).start()
    runtime.add_breakpoint(Breakpoint("b1", "routine", "sink", "item > 10"))
    runtime.feed("double", "in", [1])
    assert runtime.wait_idle(5) and sink.received == [2]  # condition false: no stop
    runtime.feed("double", "in", [7])
    assert runtime.wait_status({RunStatus.PAUSED}, 5)
    assert runtime.held["id"] == "b1" and runtime.held["data"] == [14]
    assert sink.received == [2]  # held, not run
    assert ("breakpoint_hit", runtime.held) in events
    runtime.remove_breakpoint("b1")
    runtime.resume()
    assert runtime.wait_idle(5) and sink.received == [2, 14]
    assert runtime.state()["held"] is None and runtime.state()["breakpoints"] == []
    runtime.finish()


def test_slot_breakpoint_keeps_the_item_in_the_slot():
    flow, sink = entry_pipeline()
    runtime = Runtime(flow).start()
    runtime.add_breakpoint(Breakpoint("b2", "slot", "sink.in"))
    runtime.feed("double", "in", [5])
    assert runtime.wait_status({RunStatus.PAUSED}, 5)
    runtime.wait_idle(5)
    assert runtime.held["data"] == [10] and runtime.queue_status()["sink"]["in"]["unconsumed_count"] == 1
    runtime.remove_breakpoint("b2")
    runtime.resume()
    assert runtime.wait_idle(5) and sink.received == [10]
    runtime.finish()


def test_connection_breakpoint_and_stepping_one_activation_at_a_time():
    flow, sink = pipeline([1, 2, 3], Doubler("double"))
    flow.routines["sink"].policy = type(flow.routines["sink"].policy)()
    runtime = Runtime(flow)
    runtime.add_breakpoint(Breakpoint("b3", "connection", "source.out->double.in", "item == 1"))
    runtime.start()
    assert runtime.wait_status({RunStatus.PAUSED}, 5)
    assert runtime.held["target"] == "source.out->double.in" and runtime.held["data"] == [1]
    runtime.wait_idle(5)
    before = runtime.routine_status()
    runtime.step()
    assert runtime.wait_idle(5) and runtime.status is RunStatus.PAUSED
    after = runtime.routine_status()
    assert sum(a["executions"] for a in after.values()) - sum(b["executions"] for b in before.values()) == 1
    assert runtime.state()["stepping"] is True
    runtime.resume()
    assert runtime.wait_idle(5) and sorted(sink.received) == [2, 4, 6]
    assert runtime.finish() is RunStatus.COMPLETED


def test_breakpoints_refuse_bad_kinds_and_conditions():
    with pytest.raises(ValueError):
        Breakpoint("x", "event", "a")
    with pytest.raises(ExpressionError):
        Breakpoint("x", "routine", "a", "item >")
    assert not Breakpoint("x", "routine", "a", "item['missing'] > 1").matches([{"other": 1}])
