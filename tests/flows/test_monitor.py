"""The monitor coalesces: a busy run sends a bounded number of events per tick."""

from app.engine import Runtime
from app.flows.monitor import RunMonitor
from tests.engine.helpers import Collector, Doubler, pipeline


class Recorder:
    def __init__(self):
        self.batches, self.snapshots = [], []

    def publish(self, events):
        self.batches.append(events)

    def save(self, snapshot):
        self.snapshots.append(snapshot)


def test_a_busy_run_is_reported_in_few_coalesced_events():
    recorder = Recorder()
    monitor = RunMonitor(recorder.publish, recorder.save, interval=3600)  # one flush: at close
    sink = Collector("sink", {"max_queue_length": 50})
    flow, _ = pipeline(list(range(20_000)), Doubler("double"), sink=sink)
    runtime = Runtime(flow, on_event=monitor.hook)
    monitor.attach(runtime)
    runtime.run(30)
    monitor.close()
    assert runtime.routine_status()["sink"]["executions"] > 10
    [events] = recorder.batches
    types = [t for t, _ in events]
    assert types[0] == "job_started" and types[-1] == "job_completed"
    # one of each routine event per routine, one update per slot that changed
    assert types.count("routine_completed") == 3
    assert types.count("slot_queue_update") == 2
    assert len(events) < 20
    final = recorder.snapshots[-1]
    assert final["status"] == "completed"
    assert final["routines"]["sink"]["items_in"] == 20_000
    assert final["queues"]["sink"]["in"]["pressure_level"] == "low"


def test_unchanged_slots_send_no_update():
    recorder = Recorder()
    monitor = RunMonitor(recorder.publish, recorder.save, interval=3600)
    flow, _ = pipeline([1], Doubler("double"))
    runtime = Runtime(flow, on_event=monitor.hook)
    monitor.attach(runtime)
    runtime.run(5)
    monitor.flush()
    monitor.close()
    # the last flush sent only job_completed, held for close(); nothing else had changed
    assert len(recorder.batches) == 2 and [t for t, _ in recorder.batches[1]] == ["job_completed"]
    assert len(recorder.snapshots) == 2  # the first flush and the final one


def test_fifty_busy_routines_stay_within_a_bounded_number_of_events_per_tick():
    from app.engine import Flow
    from tests.engine.helpers import ListSource

    recorder = Recorder()
    monitor = RunMonitor(recorder.publish, recorder.save, interval=0.05)
    flow = Flow("wide")
    flow.add(ListSource("source", {"items": list(range(2000))}))
    for n in range(49):
        flow.add(Doubler(f"d{n}"))
        flow.connect("source", "out", f"d{n}", "in")
    runtime = Runtime(flow, on_event=monitor.hook)
    monitor.attach(runtime)
    runtime.run(60)
    monitor.close()
    # per tick at most: 3 routine events per routine, 1 update per slot, 1 trace batch, the job events
    assert max(len(batch) for batch in recorder.batches) <= 50 * 3 + 49 + 1 + 6
    assert runtime.routine_status()["d48"]["items_in"] == 2000
