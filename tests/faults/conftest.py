"""Helpers of the fault suite: the work horse of a real `flask worker` subprocess, killed
with SIGKILL alone or with its worker, and a big optimization whose chunks run long enough
to be killed in the middle."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from app.extensions import db
from app.optimization import datasets, service
from app.optimization.models import Optimization, OptimizationTask
from tests.conftest import wait_for

BARS = 20_000  # about 1 ms a grid point: each of the 3 chunks (1,006 points) runs a second or more
SPACE = {"n1": {"start": 5, "stop": 60, "step": 1}, "n2": {"start": 10, "stop": 300, "step": 5}}
POINTS = 3018  # grid points of SPACE (n1 < n2)


def _stat(pid: int) -> list[str] | None:
    """state, parent pid, process group, ... of /proc/<pid>/stat (after the command name)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def horse(worker: subprocess.Popen) -> int | None:
    """The work horse running the worker's job: the child that leads a process group of its own
    (RQ calls os.setpgrp() in the horse; the scheduler child stays in the worker's group)."""
    for pid in children(worker.pid):
        fields = _stat(pid)
        if fields and int(fields[2]) == pid and fields[0] != "Z":
            return pid
    return None


def kill_horse(worker: subprocess.Popen) -> int:
    pid = wait_for(lambda: horse(worker), timeout=10, interval=0.05)
    os.kill(pid, signal.SIGKILL)
    return pid


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its children (horse, scheduler) at once, as when a host dies."""
    pids = children(worker.pid)
    worker.kill()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(10)


def optimization(optimization_id: int) -> Optimization:
    db.session.expire_all()
    return db.session.get(Optimization, optimization_id)


def task_count(optimization_id: int) -> tuple[int, int]:
    """(task rows, distinct grid points) of an optimization."""
    seqs = [t.seq for t in db.session.query(OptimizationTask).filter_by(optimization_id=optimization_id)]
    return len(seqs), len(set(seqs))


def mid_chunk(optimization_id: int) -> bool:
    """Some points of the first chunk are saved, not all of them."""
    row = optimization(optimization_id)
    return 0 < row.done < POINTS // row.chunks_total


@pytest.fixture
def big_optimization(app, make_user):
    """Submit an optimization of POINTS grid points over BARS bars (committed); returns its id.
    Chunk size: the test's OPTIMIZATION_CHUNK_POINTS."""

    def submit() -> int:
        dataset = service.create_dataset("big", datasets.to_csv(datasets.demo_series(BARS)), "tester")
        spec = {
            "strategy": "sma_cross",
            "dataset": dataset.id,
            "paramSpace": SPACE,
            "earlyStopPolicy": {"mode": "max", "metric": "return_pct"},
            "topN": 3,
            "cash": 10_000,
            "commission": 0.0,
        }
        row = service.submit(make_user("opt-owner", "engineer"), spec)
        db.session.commit()
        assert row.total == POINTS
        return row.id

    return submit
