"""Benchmark: push 1,000 documents of 100 KB between two real instances.

Prints one JSON line: documents/s and MB/s of the first push, the time of a
second, no-op push (goal: under 5 % of the first), and the named peer, a
plain upload of the same files through the documents API of the target
(one POST per file, no sync bookkeeping), with the ratio sync / plain.

    .venv/bin/pytest -q -s tests/perf/test_docsync_push.py
"""

import json
import os
import time

import pytest

from tests.docsync.twosites import start, two_sites, wait_done

DOCUMENTS = int(os.environ.get("BENCH_DOCUMENTS", "1000"))
SIZE = 100 * 1024


@pytest.mark.timeout(1800)
def test_push_1000_documents_of_100_kb(tmp_path):
    files = {f"B-{n:05d}": b"%PDF-1.7 " + os.urandom(SIZE - 9) for n in range(DOCUMENTS)}
    megabytes = DOCUMENTS * SIZE / 1e6
    with two_sites(tmp_path) as (a, b):
        a.seed(files)
        started = time.perf_counter()
        first = wait_done(a, start(a, "push", "bench-1")["id"], timeout=1800)
        first_seconds = time.perf_counter() - started
        assert first["status"] == "finished" and first["sent"] == DOCUMENTS, first["error"]

        started = time.perf_counter()
        second = wait_done(a, start(a, "push", "bench-2")["id"], timeout=600)
        noop_seconds = time.perf_counter() - started
        assert second["sent"] == 0

        # the peer: the same bytes uploaded plainly to the target's documents API
        started = time.perf_counter()
        for number, data in files.items():
            doc = b.api.ok("POST", "/api/v1/documents", {"number": f"PLAIN-{number}", "title": "plain"})
            status, answer = b.api.call("POST", f"/api/v1/documents/{doc['id']}/versions", raw=data)
            assert status == 201, answer
        plain_seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "benchmark": "docsync_push",
                "documents": DOCUMENTS,
                "document_bytes": SIZE,
                "push_seconds": round(first_seconds, 2),
                "documents_per_s": round(DOCUMENTS / first_seconds, 1),
                "mb_per_s": round(megabytes / first_seconds, 2),
                "noop_push_seconds": round(noop_seconds, 3),
                "noop_ratio": round(noop_seconds / first_seconds, 4),
                "peer": "plain API upload (POST document + POST version per file)",
                "peer_seconds": round(plain_seconds, 2),
                "peer_documents_per_s": round(DOCUMENTS / plain_seconds, 1),
                "ratio_push_over_peer": round(first_seconds / plain_seconds, 2),
            }
        )
    )
