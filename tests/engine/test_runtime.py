import threading
import time

import pytest

from app.engine import BatchSize, ErrorHandler, Flow, Routine, RunStatus, Runtime, TimeInterval
from tests.engine.helpers import Collector, Doubler, Gate, ListSource, pipeline


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_pipeline_delivers_every_item_in_order():
    flow, sink = pipeline(list(range(5000)), Doubler("double"))
    runtime = Runtime(flow)
    assert runtime.run(timeout=10) is RunStatus.COMPLETED
    assert sink.received == [i * 2 for i in range(5000)]
    stats = runtime.routine_status()
    assert stats["source"]["executions"] == 1
    assert stats["sink"]["items_in"] == 5000
    assert stats["double"]["errors"] == 0 and stats["double"]["avg_duration"] is not None


def test_two_routines_running_at_once_both_show_active_and_clear_when_done():
    flow = Flow("parallel")
    flow.add(ListSource("source", {"items": [1]}))
    gates = [flow.add(Gate("left")), flow.add(Gate("right"))]
    for gate in gates:
        flow.connect("source", "out", gate.id, "in")
    events = []
    runtime = Runtime(flow, on_event=lambda t, d: events.append((t, d)))
    runtime.start()
    for gate in gates:
        assert gate.entered.wait(5)
    wait_until(lambda: runtime.active_routines() == {"left", "right"})  # the source may still be ending
    assert runtime.routine_status()["left"]["status"] == "running"
    gates[0].release.set()
    wait_until(lambda: runtime.active_routines() == {"right"})
    gates[1].release.set()
    assert runtime.wait_idle(5)
    assert runtime.active_routines() == set()
    assert runtime.status is RunStatus.IDLE
    assert runtime.finish() is RunStatus.COMPLETED
    types = [t for t, _ in events]
    assert types[0] == "job_started" and types[-1] == "job_completed"
    assert types.count("routine_started") == 3 and types.count("routine_completed") == 3
    assert ("routine_status_change", {"routine": "left", "old": "idle", "new": "running"}) in events


class Flaky(Routine):
    def setup(self):
        self.add_slot("in")
        self.add_event("out")
        self.calls = 0

    def logic(self, inputs):
        self.calls += 1
        if self.calls <= self.config["failures"]:
            raise ValueError(f"failure {self.calls}")
        for item in inputs["in"]:
            self.emit("out", item)


def run_flaky(failures, handler, items=(1, 2, 3)):
    flaky = Flaky("flaky", {"failures": failures}, error_handler=handler)
    flow, sink = pipeline(list(items), flaky)
    runtime = Runtime(flow)
    runtime.start()
    assert runtime.wait_idle(5)
    return runtime, runtime.finish(), flaky, sink


def test_stop_fails_the_run_with_the_error():
    runtime, status, _, _sink = run_flaky(1, ErrorHandler("stop"))
    assert status is RunStatus.FAILED
    assert "routine 'flaky' failed: ValueError: failure 1" in runtime.error
    assert runtime.routine_status()["flaky"]["status"] == "failed"


def test_retry_retries_with_backoff_then_succeeds():
    started = time.monotonic()
    runtime, status, _flaky, sink = run_flaky(2, ErrorHandler("retry", max_retries=3, retry_delay=0.05, backoff=2))
    assert status is RunStatus.COMPLETED
    assert time.monotonic() - started >= 0.05 + 0.1  # waited delay, then delay x backoff
    assert sink.received == [1, 2, 3]  # the same input was retried
    stats = runtime.routine_status()["flaky"]
    assert (stats["retries"], stats["errors"]) == (2, 2)


def test_retry_gives_up_after_max_retries():
    runtime, status, flaky, _ = run_flaky(5, ErrorHandler("retry", max_retries=2))
    assert status is RunStatus.FAILED and flaky.calls == 3
    assert "after 2 retries" in runtime.error


def test_continue_counts_the_error_and_goes_on():
    flaky = Flaky("flaky", {"failures": 1}, policy=BatchSize(1), error_handler=ErrorHandler("continue"))
    flow, sink = pipeline([1, 2, 3], flaky)
    runtime = Runtime(flow)
    assert runtime.run(5) is RunStatus.COMPLETED
    assert sink.received == [2, 3]
    assert runtime.routine_status()["flaky"]["errors"] == 1


def test_skip_takes_the_routine_out_and_discards_its_input():
    flaky = Flaky("flaky", {"failures": 1}, policy=BatchSize(1), error_handler=ErrorHandler("skip"))
    flow, sink = pipeline([1, 2, 3], flaky)
    runtime = Runtime(flow)
    assert runtime.run(5) is RunStatus.COMPLETED
    stats = runtime.routine_status()["flaky"]
    assert stats["status"] == "skipped" and stats["discarded"] == 2
    assert sink.received == []


def test_full_slot_fails_the_run_naming_the_slot():
    gate = Gate("slow")
    gate.slots["in"] = type(gate.slots["in"])("in", 2, routine_id="slow")
    flow, _ = pipeline(list(range(10)), sink=gate)
    runtime = Runtime(flow, backpressure_timeout=0.2)
    runtime.start()
    assert runtime.wait_status({RunStatus.FAILED}, 5)
    assert "'slow.in' is full" in runtime.error
    gate.release.set()
    assert runtime.backpressure_waits() >= 1


def test_backpressure_slows_the_emitter_and_loses_nothing():
    class Slow(Collector):
        def logic(self, inputs):
            time.sleep(0.001)
            super().logic(inputs)

    sink = Slow("sink", {"max_queue_length": 5}, policy=BatchSize(1))
    flow, _ = pipeline(list(range(200)), sink=sink)
    runtime = Runtime(flow, backpressure_timeout=5)
    assert runtime.run(10) is RunStatus.COMPLETED
    assert sink.received == list(range(200))
    assert runtime.backpressure_waits() > 0


def test_time_interval_rechecks_without_new_data():
    sink = Collector("sink", policy=TimeInterval(0.1))
    flow = Flow("t")
    flow.add(sink, entry=True)
    runtime = Runtime(flow).start()
    runtime.feed("sink", "in", [1])
    runtime.feed("sink", "in", [2])
    assert runtime.wait_idle(5)
    assert sink.received == [1, 2]  # the second item came within the interval: picked up by the timer
    assert runtime.finish() is RunStatus.COMPLETED


def test_idle_run_takes_more_input_then_completes():
    flow = Flow("feed")
    flow.add(Doubler("entry"), entry=True)
    sink = flow.add(Collector("sink"))
    flow.connect("entry", "out", "sink", "in")
    runtime = Runtime(flow).start()
    assert runtime.wait_idle(5) and runtime.status is RunStatus.IDLE
    runtime.feed("entry", "in", [1, 2])
    assert runtime.wait_idle(5)
    assert sink.received == [2, 4]
    with pytest.raises(KeyError):
        runtime.feed("entry", "nope", [1])
    assert runtime.finish() is RunStatus.COMPLETED


def test_pause_holds_data_and_resume_processes_it():
    flow = Flow("pause")
    sink = flow.add(Collector("sink"), entry=True)
    runtime = Runtime(flow).start()
    runtime.pause()
    runtime.feed("sink", "in", [1, 2])
    assert runtime.status is RunStatus.PAUSED
    assert runtime.queue_status()["sink"]["in"]["unconsumed_count"] == 2
    runtime.resume()
    assert runtime.wait_idle(5)
    assert sink.received == [1, 2]
    runtime.finish()


def test_cancel_stops_a_blocked_run():
    gate = Gate("gate")
    flow, _ = pipeline([1], sink=gate)
    runtime = Runtime(flow).start()
    assert gate.entered.wait(5)
    runtime.cancel()
    assert runtime.status is RunStatus.CANCELED and runtime.ended_at is not None
    gate.release.set()
    runtime.resume()  # no effect on an ended run
    assert runtime.status is RunStatus.CANCELED


def test_trace_records_each_execution_and_monitoring_off_skips_it():
    flow, _ = pipeline([1, 2], Doubler("double"))
    runtime = Runtime(flow)
    runtime.run(5)
    trace = list(runtime.trace)
    assert [e["seq"] for e in trace] == sorted(e["seq"] for e in trace)
    assert {e["routine"] for e in trace} == {"source", "double", "sink"}
    assert all(e["status"] == "ok" and e["duration"] >= 0 for e in trace)
    flow, _ = pipeline([1, 2], Doubler("double"))
    quiet = Runtime(flow, monitor=False, on_event=lambda *a: pytest.fail("hook called"))
    quiet.run(5)
    assert not quiet.trace and quiet.routine_status()["sink"]["executions"] >= 1


def test_concurrent_counts_are_exact():
    """Many sources feeding one sink through several threads: no count lost."""
    flow = Flow("fan-in")
    sink = flow.add(Collector("sink"))
    for n in range(8):
        flow.add(ListSource(f"s{n}", {"items": list(range(n * 1000, (n + 1) * 1000))}))
        flow.connect(f"s{n}", "out", "sink", "in")
    runtime = Runtime(flow)
    assert runtime.run(10) is RunStatus.COMPLETED
    assert sorted(sink.received) == list(range(8000))
    assert runtime.routine_status()["sink"]["items_in"] == 8000
    assert threading.active_count() < 50
