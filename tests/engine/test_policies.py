import time

import pytest

from app.engine import AllSlotsReady, BatchSize, CustomPolicy, Immediate, Slot, TimeInterval


def slots(**counts):
    result = {}
    for name, count in counts.items():
        result[name] = Slot(name)
        for i in range(count):
            result[name].enqueue(f"{name}{i}", "test")
    return result


def test_immediate_takes_everything_new_from_every_slot():
    s = slots(a=3, b=0)
    assert Immediate().decide(s) == {"a": ["a0", "a1", "a2"], "b": []}
    assert Immediate().decide(s) is None


def test_batch_size_waits_for_n_in_every_slot_and_takes_n_from_each():
    policy = BatchSize(2)
    s = slots(a=3, b=1)
    assert policy.decide(s) is None
    s["b"].enqueue("b1", "test")
    assert policy.decide(s) == {"a": ["a0", "a1"], "b": ["b0", "b1"]}
    assert len(s["a"]) == 1 and len(s["b"]) == 0
    with pytest.raises(ValueError):
        BatchSize(0)


def test_all_slots_ready_takes_one_from_each():
    s = slots(a=2, b=0)
    assert AllSlotsReady().decide(s) is None
    s["b"].enqueue("b0", "test")
    assert AllSlotsReady().decide(s) == {"a": ["a0"], "b": ["b0"]}
    assert len(s["a"]) == 1


def test_time_interval_fires_at_most_once_per_interval_and_says_when_to_look_again():
    policy = TimeInterval(0.2)
    s = slots(a=2)
    assert policy.decide(s) == {"a": ["a0", "a1"]}
    s["a"].enqueue("late", "test")
    assert policy.decide(s) is None
    assert 0 < policy.recheck_after(s) <= 0.2
    time.sleep(0.21)
    assert policy.decide(s) == {"a": ["late"]}
    assert policy.recheck_after(s) is None  # nothing waiting


def test_custom_policy_wraps_a_function():
    def latest_only(slots):
        """Runs on the newest item, dropping older ones."""
        items = slots["a"].take()
        return {"a": items[-1:]} if items else None

    policy = CustomPolicy(latest_only)
    assert policy.decide(slots(a=3)) == {"a": ["a2"]}
    assert policy.info() == {
        "type": "custom",
        "config": {"function": "test_custom_policy_wraps_a_function.<locals>.latest_only"},
        "description": "Runs on the newest item, dropping older ones.",
    }


@pytest.mark.parametrize(
    "policy, type_, config",
    [
        (Immediate(), "immediate", {}),
        (BatchSize(5), "batch_size", {"min_batch_size": 5}),
        (TimeInterval(1.5), "time_interval", {"min_interval_seconds": 1.5}),
        (AllSlotsReady(), "all_slots_ready", {}),
    ],
)
def test_policies_describe_themselves(policy, type_, config):
    info = policy.info()
    assert (info["type"], info["config"]) == (type_, config)
    assert len(info["description"]) > 20
