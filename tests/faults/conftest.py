"""Helpers of the fault suite: the work horse of a real `flask worker` subprocess, killed
with SIGKILL alone or with its worker, and a big optimization whose chunks run long enough
to be killed in the middle; a TCP forwarder that cuts a worker off its database."""

import os
import signal
import socket
import subprocess
import threading
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.core.jobs.models import JobRecord
from app.extensions import db
from app.flows.models import FlowRun
from app.optimization.models import Optimization, OptimizationTask
from tests.conftest import free_port, wait_for
from tests.optimization.factory import submitted

# each of the 3 chunks runs about a second or more: 3,750 points of 0.25 ms or more (the compiled kernel
# takes 4-5 ns a bar). RSI: its 15 series of 60,000 bars (7 MB) serve all the points
BARS = 60_000
SPACE = {
    "period": {"start": 5, "stop": 19, "step": 1},
    "lower": {"start": 10, "stop": 39, "step": 1},
    "upper": {"start": 52, "stop": 100, "step": 2},
}
POINTS = 11_250  # grid points of SPACE (all lower < upper)
CHUNK_POINTS = 3_750  # the tests' OPTIMIZATION_CHUNK_POINTS


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


def history(entity: str, entity_id) -> list[str]:
    """The job history statuses of one domain row, oldest first."""
    db.session.expire_all()
    rows = db.session.scalars(
        select(JobRecord.status)
        .where(JobRecord.entity == entity, JobRecord.entity_id == str(entity_id))
        .order_by(JobRecord.enqueued_at)
    )
    return list(rows)


SLOW_FLOW = """\
name: slow-steps
description: Three items through a step that takes a minute each.
routines:
  - id: items
    type: source
    config: {items: [1, 2, 3]}
  - id: slow
    type: delay
    config: {seconds: 60}
  - id: out
    type: sink
connections:
  - {from: items.out, to: slow.in}
  - {from: slow.out, to: out.in}
"""


def slow_flow_run() -> int:
    """A flow run whose items take a minute each, started (committed): a job that stays busy."""
    from app.flows import service as flows

    run = flows.start_run(flows.create_flow(SLOW_FLOW, actor="tester").id)
    db.session.commit()
    return run.id


def flow_run(run_id: int) -> FlowRun:
    db.session.expire_all()
    return db.session.get(FlowRun, run_id)


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
        row = submitted(make_user("opt-owner", "engineer"), BARS, SPACE, strategy="rsi_reversion")
        assert row.total == POINTS
        return row.id

    return submit


class Forwarder:
    """A TCP forwarder 127.0.0.1:<port> → upstream, in threads: `cut()` closes every connection
    and refuses new ones (the database unreachable), `restore()` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self.listener = self.listener, None
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of its thread
        listener.close()
        with self.lock:
            sockets, self.open = self.open, set()
        for each in sockets:
            with suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.open |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for each in (source, target):
            with suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def db_forwarder(app):
    """A forwarder to the test's PostgreSQL; `url` is the test's database URL through it."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    forwarder = Forwarder((url.host, url.port or 5432))
    forwarder.url = url.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
    yield forwarder
    if forwarder.listener is not None:
        forwarder.cut()
