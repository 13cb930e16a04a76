import threading
import time

import pytest

from app.engine import Slot, SlotClosed, SlotQueueFull


def fill(slot, n):
    for i in range(n):
        slot.enqueue(i, "test", timeout=0)


def test_defaults_and_threshold():
    slot = Slot("in")
    assert slot.max_queue_length == 1000 and slot.watermark == 0.8
    assert slot.get_queue_status()["watermark_threshold"] == 800
    assert Slot("in", 10, 0.75).watermark_threshold == 7  # int(10 x 0.75)


@pytest.mark.parametrize(
    "count, level", [(0, "low"), (5, "low"), (6, "medium"), (7, "medium"), (8, "high"), (9, "high"), (10, "critical")]
)
def test_pressure_levels(count, level):
    slot = Slot("in", 10, 0.8)
    fill(slot, count)
    status = slot.get_queue_status()
    assert status["pressure_level"] == level
    assert status["usage_percentage"] == pytest.approx(count / 10)
    assert status["unconsumed_count"] == count
    assert status["is_full"] is (count == 10)
    assert status["is_near_full"] is (count >= 8)


def test_consumed_items_free_room_and_keep_counts():
    slot = Slot("in", 4)
    fill(slot, 4)
    assert slot.take(3) == [0, 1, 2]
    status = slot.get_queue_status()
    assert (status["unconsumed_count"], status["total_count"]) == (1, 4)
    assert slot.take() == [3]
    assert slot.take() == []


def test_data_points_carry_times():
    slot = Slot("in")
    slot.enqueue("x", "source", emitted_at=100.0)
    point = slot.peek()[0]
    assert (point.data, point.emitted_from, point.emitted_at) == ("x", "source", 100.0)
    assert point.enqueued_at >= 100.0 and point.consumed_at is None


def test_full_slot_raises_naming_the_slot_after_the_timeout():
    slot = Slot("in", 2, routine_id="mapper")
    fill(slot, 2)
    started = time.monotonic()
    with pytest.raises(SlotQueueFull, match="'mapper.in' is full"):
        slot.enqueue("late", "source", timeout=0.1)
    assert time.monotonic() - started >= 0.09
    assert slot.backpressure_waits == 1
    assert slot.get_queue_status()["unconsumed_count"] == 2


def test_emitter_waits_for_room_and_loses_nothing():
    slot = Slot("in", 2)
    fill(slot, 2)
    done = threading.Event()

    def emit():
        slot.enqueue("late", "source", timeout=5)
        done.set()

    threading.Thread(target=emit).start()
    assert not done.wait(0.1)  # blocked: no room
    assert slot.take(1) == [0]
    assert done.wait(2)
    assert slot.take() == [1, "late"]


def test_close_wakes_waiting_emitters():
    slot = Slot("in", 1)
    fill(slot, 1)
    errors = []

    def emit():
        try:
            slot.enqueue("late", "source", timeout=5)
        except SlotClosed as exc:
            errors.append(exc)

    thread = threading.Thread(target=emit)
    thread.start()
    time.sleep(0.05)
    slot.close()
    thread.join(2)
    assert len(errors) == 1


def test_rejects_bad_bounds():
    with pytest.raises(ValueError):
        Slot("in", 0)
    with pytest.raises(ValueError):
        Slot("in", 10, 1.5)
