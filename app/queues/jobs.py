"""A demo job, so operators (and the browser test) can watch a job move live."""

import time

from app.core.jobs import progress


class DemoFailure(RuntimeError):
    pass


def demo_job(seconds: int, fail: bool = False) -> dict:
    steps = max(1, seconds * 2)
    for step in range(steps):
        time.sleep(seconds / steps)
        progress((step + 1) / steps, f"step {step + 1} of {steps}")
    if fail:
        raise DemoFailure("the demo job was asked to fail")
    return {"slept": seconds}
